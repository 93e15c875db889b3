"""``docket qa``: run the QA notebook on one request, several, or every one waiting for it.

One id runs here, in this process; several ids or ``--pending`` run as a batch on Dask (a local
cluster of ``--workers`` processes, or an existing scheduler with ``--scheduler``).

Exit 0 when every run is done (no errors); 1 when a run completed and its report has errors
(``rejected``: the data need fixing) or a request of a batch could not be run (refused, unknown);
5 when a run could not complete (``failed``: the notebook raised, its kernel died, no report, a
stored file missing), which wins over 1 in a batch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput

# what ``docket qa`` exits with for each outcome of a run (README, "Exit codes")
OUTCOME_EXIT = {"done": 0, "rejected": 1, "failed": 5}
OUTCOME_TEXT = {"done": "done (no errors)", "rejected": "rejected: the data have errors",
                "failed": "failed: the run could not complete"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "qa", help="run the quality checks (the QA notebook) on transferred requests",
        description="Execute the QA notebook with papermill on each request: its report goes to "
                    "runs/<id>/ and into the request's provenance. Exit 0: no errors; 1: the "
                    "report has errors (qa closed/rejected) or a request could not be run; 5: a "
                    "run could not complete (qa closed/failed: the notebook raised, the kernel "
                    "died, no report, a stored file missing).",
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
    interactive = not args.json and sys.stderr.isatty()
    with open_docket(args) as d:
        actor = d.staff_actor("qa")  # a batch's workers record this person, who was checked here
        if args.pending:
            from docket.steps.qa import pending

            ids = pending(d)
        else:
            ids = list(args.ids)
        if len(ids) == 1 and not args.pending:
            result = d.qa(ids[0], checks=args.checks, progress=interactive)
            deliver(d)
            emit(args, {k: v for k, v in result.items() if k != "text"}, single_text(result))
            return OUTCOME_EXIT[result["outcome"]]
        root = d.instance.root
    if not ids:
        emit(args, {"total": 0, "runs": []}, "nothing is waiting for QA")
        return 0
    from docket.steps.batch import run_batch

    summary = run_batch(root, ids, workers=args.workers, scheduler=args.scheduler,
                        progress=interactive, checks=args.checks, actor=actor)
    emit(args, summary, batch_text(summary))
    return batch_exit(summary)


def batch_exit(summary: dict[str, Any]) -> int:
    """5 when a run could not complete, else 1 when one has errors or did not run, else 0."""
    if summary["failed"]:
        return OUTCOME_EXIT["failed"]
    return 0 if summary["done"] == summary["total"] else 1


def single_text(result: dict[str, Any]) -> str:
    lines = [f"{result['id']}.{result['revision']}: qa #{result['n']} {OUTCOME_TEXT[result['outcome']]}"
             + (f": {result['reason']}" if result["reason"] else "")]
    if result["text"]:
        lines.append(result["text"])
    if result["executed"]:
        lines.append(f"executed notebook: {result['executed']}")
    if result["report"]:
        lines.append(f"report: {result['report']}")
    if result.get("report_html"):
        lines.append(f"report for the provider: {result['report_html']}")
    return "\n".join(lines)


def batch_text(summary: dict[str, Any]) -> str:
    lines = []
    for r in summary["runs"]:
        if r["outcome"] == "not-run":
            lines.append(f"  NOT RUN  {r['id']}: {r['message']}")
        else:
            state = {"done": "DONE", "rejected": "REJECTED", "failed": "FAILED"}[r["outcome"]]
            lines.append(f"  {state:<8} {r['id']}.{r['revision']} qa #{r['n']}: {r['reason'] or r['comment']}")
    lines.append(
        f"{summary['total']} runs in {summary['seconds']} s ({summary['scheduler']}): "
        f"{summary['done']} done, {summary['rejected']} rejected (the data have errors), "
        f"{summary['failed']} failed (could not complete), {summary['not_run']} not run"
    )
    return "\n".join(lines)
