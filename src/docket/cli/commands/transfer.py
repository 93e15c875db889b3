"""``docket transfer ID``: fetch a request's files, measured and verified, into the instance."""

from __future__ import annotations

import argparse
import sys

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transfer", help="fetch every file of an approved request (http(s), file: or path)")
    p.add_argument("id")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.transfer(args.id, progress=not args.json and sys.stderr.isatty())
    lines = [f"{result['id']}.{result['revision']}: transfer {result['outcome']}"]
    lines += [f"  stored  {f['name']}  {f['size']} bytes  sha256 {f['sha256']}" for f in result["files"]]
    lines += [f"  FAILED  {f['name']}  {f['reason']}" for f in result["failures"]]
    emit(args, result, "\n".join(lines))
    return 1 if result["failures"] else 0
