"""Commands on ingest records: submit, revise, review, list, show, history."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput, DocketError
from docket.workflow import REVIEW_STATES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a request (JSON file); prints its new id")
    p.add_argument("file", help="the request as JSON")
    p.add_argument("--draft", action="store_true",
                   help="store it as a draft, which may still lack fields; submit it later with "
                        "`docket review ID submitted`")
    p.add_argument("--lang", default="en", metavar="LANG",
                   help="the language of the problems listed when the request is refused (en, fr, de)")
    add_json_flag(p)
    p.set_defaults(func=submit)

    p = sub.add_parser("revise", help="store a new revision of a request (back to draft)")
    p.add_argument("id")
    p.add_argument("file", help="the edited request as JSON")
    p.add_argument("--expect-revision", type=int, help="refuse (exit 4) unless the request is at this revision")
    p.add_argument("--minor", action="store_true",
                   help="a declared minor edit (data managers): an approved record stays approved")
    add_json_flag(p)
    p.set_defaults(func=revise)

    p = sub.add_parser("review", help="approve, reject or request changes; submit, withdraw or retire",
                       description="Move a request's review state as your account's role allows. "
                                   "ID.N decides on revision N only: if the provider has revised it "
                                   "since, or someone decided first, nothing changes (exit 4).")
    p.add_argument("id", help="ID, or ID.N to decide on revision N only")
    p.add_argument("state", choices=[s for s in REVIEW_STATES if s != "draft"] + ["draft", "request-changes"])
    p.add_argument("--comment", "-m", help="what the provider should change (needed to reject or request changes)")
    p.add_argument("--field", action="append", metavar="JSONPATH",
                   help="attach the comment to this field, e.g. $.metadata.project_descriptive.abstract (repeatable)")
    p.add_argument("--expect-revision", type=int)
    p.add_argument("--accept-licence", action="store_true",
                   help="with approved: accept the request's licence although it is not on the SPDX list "
                        "(recorded with the approval; without it such an approval is refused, exit 3)")
    add_json_flag(p)
    p.set_defaults(func=review)

    p = sub.add_parser("list", help="list requests, with their transfer and QA status",
                       description="List requests, newest first. --status alone keeps a review state "
                                   f"({', '.join(REVIEW_STATES)}); with --step it keeps the requests whose "
                                   "step is in that status (open, in-progress, closed...) or closed with "
                                   "that outcome (done, rejected, failed...): docket list --step qa "
                                   "--status rejected.")
    p.add_argument("--status", metavar="STATE",
                   help="a review state; with --step, that step's status or outcome")
    p.add_argument("--step", metavar="STEP", help="filter on this step (request, review, transfer, qa, "
                                                  "publication, archive) instead of the review state")
    p.add_argument("--limit", type=int)
    add_json_flag(p)
    p.set_defaults(func=list_)

    p = sub.add_parser("show", help="show a request (ID or ID.REVISION)")
    p.add_argument("id")
    add_json_flag(p)
    p.set_defaults(func=show)

    p = sub.add_parser("history", help="every revision and transition of a request: who, when, from, to, comment")
    p.add_argument("id")
    add_json_flag(p)
    p.set_defaults(func=history)


def submit(args: argparse.Namespace) -> int:
    from docket.messages import supported, translated

    language = supported(getattr(args, "lang", "en"))
    with open_docket(args) as d:
        try:
            result = d.submit(args.file, state="draft" if args.draft else "submitted")
        except DocketError as exc:  # the problems in the words of the page and the notebook
            exc.problems = translated(exc.problems, language)
            raise
        if args.draft:
            _note_missing(args, d, result["id"])
        deliver(d)
    text = result["id"]
    if result.get("link_url"):  # submitted without an account: the provider's only way back in
        text += f"\nyour link (keep it; it is shown only now): {result['link_url']}"
    emit(args, result, text)
    _warn(args, result)
    return 0


def revise(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.revise(args.id, args.file, expected_revision=args.expect_revision, minor=args.minor)
        _note_missing(args, d, f"{result['id']}.{result['revision']}")
        deliver(d)
    emit(args, result, f"{result['id']}.{result['revision']}")
    _warn(args, result)
    return 0


def _note_missing(args: argparse.Namespace, d: Any, ref: str) -> None:
    """On stderr, what a stored draft still lacks before it can be submitted for review."""
    from docket.drafts import missing_in_record

    if getattr(args, "json", False):
        return
    lacking = missing_in_record(d.schemas, d.get(ref))
    if lacking:
        print(f"docket: note: {ref} is an incomplete draft; before `docket review {ref.split('.')[0]} submitted`, "
              f"fill: {', '.join(p.where for p in lacking)}", file=sys.stderr)


def _warn(args: argparse.Namespace, result: dict) -> None:
    """Warnings of a stored request (a password left out) on stderr; --json has them inline."""
    if not getattr(args, "json", False):
        for warning in result.get("warnings", ()):
            print(f"docket: warning: {warning['message']}", file=sys.stderr)


def review(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.review(args.id, args.state, comment=args.comment, fields=args.field,
                          expected_revision=args.expect_revision, accept_licence=args.accept_licence)
        deliver(d)
    emit(args, result, f"{result['id']}: {result['review_state']}")
    return 0


def list_(args: argparse.Namespace) -> int:
    from docket.workflow import step_filter

    if args.step is None and args.status is not None and args.status not in REVIEW_STATES:
        raise BadInput(f"unknown review state {args.status!r}; states are {', '.join(REVIEW_STATES)} "
                       "(or give --step STEP to filter on a step's status)")
    if args.step is not None:
        step_filter(args.step, args.status)  # unknown names refused before the store is opened
    with open_docket(args) as d:
        if args.step is None:
            rows = d.list(status=args.status, limit=args.limit)
        else:
            rows = d.list(limit=args.limit, step=args.step, step_status=args.status)
    for r in rows:  # each request's transfer and QA state, as the table shows them
        r["transfer"] = step_text(r["steps"], "transfer")
        r["qa"] = step_text(r["steps"], "qa")
    lines = [f"{'ID':<16} {'REV':>3}  {'STATE':<10} {'TRANSFER':<16} {'QA':<16} TITLE"]
    for r in rows:
        lines.append(f"{r['id']:<16} {r['revision']:>3}  {r['review_state']:<10} {r['transfer']:<16} "
                     f"{r['qa']:<16} {(r['title'] or _NOT_YET)[:60]}")
    emit(args, rows, "\n".join(lines) if rows else "no requests")
    return 0


def step_text(steps: dict, step: str) -> str:
    """``status`` or ``closed/outcome`` of one step (``open`` when the request never reached it)."""
    state = (steps or {}).get(step) or {}
    return state.get("status", "open") + (f"/{state['outcome']}" if state.get("outcome") else "")


def show(args: argparse.Namespace) -> int:
    from docket.drafts import missing_in_record, provider_of, title_of

    with open_docket(args) as d:
        doc = d.get(args.id)
        langs = d.config.languages
        comments = d.comments(args.id)
        lacking = missing_in_record(d.schemas, doc) if doc["review_state"] == "draft" else []
    # A draft may still lack any of these (docket.drafts): shown as "(not given yet)".
    md = doc.get("metadata") or {}
    provider = provider_of(doc)
    licence = (md.get("dataset_administrative") or {}).get("licence")
    lines = [
        f"{doc['id']}.{doc['revision']}  [{doc['review_state']}]",
        f"title:    {title_of(doc, langs) or _NOT_YET}",
        f"provider: {provider.get('name') or _NOT_YET} <{provider.get('email', '')}>",
        f"licence:  {licence or _NOT_YET}",
        "steps:    " + ", ".join(
            f"{s}={v['status']}" + (f"/{v['outcome']}" if v.get("outcome") else "") for s, v in doc["steps"].items()
        ),
        "files:",
        *(_file_line(f, doc.get("measured", {}).get(f.get("name"))) for f in doc.get("files", [])),
        f"schema:   {doc['schema']['id']} (version {doc['schema']['version']})",
        f"created:  {doc['created_date']} by {doc['created_by']}",
        f"modified: {doc['last_modified_date']} by {doc['last_modified_by']}",
        *([f"incomplete draft: to fill before it can be submitted: {', '.join(p.where for p in lacking)}"]
          if lacking else []),
        *comment_lines(comments),
    ]
    emit(args, {**doc, "comments": comments}, "\n".join(lines))
    return 0


def history(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        rows = d.history(args.id)
    lines = []
    for h in rows:
        what = f"{h['kind']}" + (f" {h['step']}" if h["step"] else "")
        change = f"{h['from'] or '-'} -> {h['to']}" + (f" ({h['outcome']})" if h["outcome"] else "")
        note = f"  \"{h['comment']}\"" if h["comment"] else ""
        if h.get("minor"):
            note += "  (minor edit)"
        lines.append(f"{h['at']}  rev {h['revision']}  {what:<16} {change:<32} {h['actor']} [{h['role'] or '?'}]{note}")
    emit(args, rows, "\n".join(lines))
    return 0


_NOT_YET = "(not given yet)"


def _file_line(declared: dict, measured: dict | None) -> str:
    line = f"  - {declared.get('name') or _NOT_YET}  {declared.get('location') or _NOT_YET}"
    if "size" in declared:
        line += f"  (declared {declared['size']} bytes)"
    if measured:
        if measured["status"] == "stored":
            line += f"\n      stored {measured.get('size')} bytes, sha256 {measured.get('sha256')}"
            if measured.get("rows") is not None:
                line += f", {measured['rows']} rows, {measured.get('encoding')}"
        else:
            line += f"\n      {measured['status']}: {measured.get('detail', '')}"
    return line


def comment_lines(comments: list[dict]) -> list[str]:
    """The conversation as a thread: each comment, its field, and its replies indented."""
    if not comments:
        return []
    children: dict = {}
    for c in comments:
        children.setdefault(c["parent"], []).append(c)
    lines = ["comments:"]

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            field = f" on {c['field']}" if c["field"] else ""
            lines.append(f"{'  ' * (depth + 1)}#{c['id']} {c['author']} [{c['role']}] rev {c['revision']}{field}, "
                         f"{c['at']}:")
            lines.extend(f"{'  ' * (depth + 2)}{text}" for text in c["text"].splitlines() or [""])
            walk(c["id"], depth + 1)

    walk(None, 0)
    return lines
