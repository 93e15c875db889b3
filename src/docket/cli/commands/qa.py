"""``docket qa``: run the QA notebook on one request, several, or every one waiting for it.

One id runs here, in this process; several ids or ``--pending`` run as a batch on Dask (a local
cluster of ``--workers`` processes, or an existing scheduler with ``--scheduler``). Exit 1 when
any report has errors or any run failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from docket.cli.context import actor_from, add_actor_flags, open_docket
from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "qa", help="run the quality checks (the QA notebook) on transferred requests",
        description="Execute the QA notebook with papermill on each request: its report goes to "
                    "runs/<id>/ and into the request's provenance. Exit 1 when a report has "
                    "errors or a run failed.",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="request ids (several run as a batch)")
    p.add_argument("--pending", action="store_true",
                   help="every approved request whose transfer is done and whose qa is open")
    p.add_argument("--checks", metavar="A,B", type=_check_list,
                   help="only these checks: ids (table.type) or families (metadata); default all")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local Dask cluster of a batch (default 2)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run a batch on this Dask scheduler (e.g. tcp://head:8786) instead")
    add_actor_flags(p, "system")
    add_json_flag(p)
    p.set_defaults(func=run)


def _check_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one check")
    return names


def run(args: argparse.Namespace) -> int:
    if args.pending and args.ids:
        raise BadInput("docket qa: give request ids or --pending, not both")
    if not args.pending and not args.ids:
        raise BadInput("docket qa: give one or more request ids, or --pending")
    actor = actor_from(args)
    interactive = not args.json and sys.stderr.isatty()
    with open_docket(args) as d:
        if args.pending:
            from docket.steps.qa import pending

            ids = pending(d)
        else:
            ids = list(args.ids)
        if len(ids) == 1 and not args.pending:
            result = d.qa(ids[0], checks=args.checks, actor=actor, progress=interactive)
            emit(args, {k: v for k, v in result.items() if k != "text"}, single_text(result))
            return 1 if result["outcome"] != "done" else 0
        root = d.instance.root
    if not ids:
        emit(args, {"total": 0, "runs": []}, "nothing is waiting for QA")
        return 0
    from docket.steps.batch import run_batch

    summary = run_batch(root, ids, workers=args.workers, scheduler=args.scheduler,
                        progress=interactive, checks=args.checks, actor=actor)
    emit(args, summary, batch_text(summary))
    return 0 if summary["done"] == summary["total"] else 1


def single_text(result: dict[str, Any]) -> str:
    lines = [f"{result['id']}.{result['revision']}: qa #{result['n']} {result['outcome']}"
             + (f" - {result['reason']}" if result["reason"] else "")]
    if result["text"]:
        lines.append(result["text"])
    if result["executed"]:
        lines.append(f"executed notebook: {result['executed']}")
    if result["report"]:
        lines.append(f"report: {result['report']}")
    return "\n".join(lines)


def batch_text(summary: dict[str, Any]) -> str:
    lines = []
    for r in summary["runs"]:
        if r["outcome"] == "not-run":
            lines.append(f"  NOT RUN  {r['id']}: {r['message']}")
        elif r.get("reason"):
            lines.append(f"  FAILED   {r['id']}.{r['revision']} qa #{r['n']}: {r['reason']}")
        else:
            state = "ERRORS " if r["outcome"] == "failed" else "done   "
            lines.append(f"  {state}  {r['id']}.{r['revision']} qa #{r['n']}: {r['comment']}")
    lines.append(
        f"{summary['total']} runs in {summary['seconds']} s ({summary['scheduler']}): "
        f"{summary['done']} done, {summary['failed']} failed, {summary['not_run']} not run"
    )
    return "\n".join(lines)
