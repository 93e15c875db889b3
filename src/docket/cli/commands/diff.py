"""``docket diff REF [REF2] [--json]``: what changed in a request's content between two revisions."""

from __future__ import annotations

import argparse

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diff",
        help="field-level changes between two revisions (ID: the current one against the one before)",
        description=(
            "Compare the content of two revisions: one line per added, removed, changed or moved "
            "value, with its JSON path. 'docket diff ID' compares the current revision with the one "
            "before, 'docket diff ID.3' revision 3 with 2, 'docket diff ID.1 ID.3' any two (of one "
            "request or of two). Files and Table Schema fields are matched by name. Left out: id, "
            "revision, review state, steps, measured files and the created/modified audit fields "
            "(docket history says who made each revision and when). --json prints "
            '{"from", "to", "changes": [{"op", "path", "old", "new"}]}.'
        ),
    )
    p.add_argument("ref", metavar="ID[.REV]", help="the older revision (or, alone, the newer one)")
    p.add_argument("ref2", metavar="ID.REV", nargs="?", help="the newer revision")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.diff import as_result, diff_records, render

    with open_docket(args) as d:
        old, new = d.revision_pair(args.ref, args.ref2)
    changes = diff_records(old, new)
    # the text also names the matched files and fields, which the JSON paths give by place
    emit(args, as_result(old, new, changes), render(old, new, changes))
    return 0
