"""``docket doctor [--fix]``: check an instance (store, records, PROV, files) and repair what is safe.

Exit 0 when nothing is wrong (or everything found was repaired), 1 when problems remain, 2 on bad
usage. ``--json`` prints the findings as a list. The instance is opened without migrating, so an
old store is reported (and, with ``--fix``, upgraded) rather than silently upgraded on opening.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from docket.cli.context import credentials
from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    from docket.doctor import Report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="check the instance (store, records, PROV, files); --fix repairs what is safe",
        description="Check the store, every record with its revisions, history and PROV, and the files "
                    "against the resource registry. --fix applies migrations, removes leftovers of "
                    "transfers that are not running, marks vanished files missing and moves orphan "
                    "files to files/.docket-orphans/ (nothing is deleted that a person may want); "
                    "each repair is written to the audit log. Exit 1 when problems remain.",
    )
    p.add_argument("--fix", action="store_true", help="repair what is safe to repair")
    p.add_argument("--force", action="store_true",
                   help="with --fix: also move aside orphans changed in the last hour or of a request "
                        "whose transfer is marked in progress (a leftover a live transfer holds is "
                        "never touched)")
    p.add_argument("--quick", action="store_true",
                   help="compare file sizes only (no hashing), SQLite quick_check, parse PROV without "
                        "re-expanding it")
    p.add_argument("--progress", action="store_true", help="show hashing progress (default: on a terminal)")
    p.add_argument("--log", action="store_true",
                   help="list the repairs earlier runs made (who, when, what), from the audit log")
    only = p.add_argument("--check", dest="only", metavar="A,B", type=_ids, help="only these checks")
    # The check ids come from docket.doctor (SQLAlchemy, the store): listed when the help is shown.
    only.lazy_help = _check_help
    add_json_flag(p)
    p.set_defaults(func=run)


def _check_help() -> str:
    from docket.doctor import all_checks

    return f"only these checks ({', '.join(c.id for c in all_checks())})"


def _ids(text: str) -> list[str]:
    from docket.doctor import all_checks

    wanted = [t.strip() for t in text.split(",") if t.strip()]
    known = {c.id for c in all_checks()}
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        raise BadInput(f"--check: unknown check {', '.join(unknown) or '(none given)'}; known: {', '.join(sorted(known))}")
    return wanted


def run(args: argparse.Namespace) -> int:
    from docket.api import Docket

    if args.force and not args.fix:
        raise BadInput("--force only changes what --fix does; give --fix too")
    if args.log:
        if args.fix:
            raise BadInput("--log lists earlier repairs; give it without --fix")
        return _log(args)
    progress = args.progress or (not args.json and sys.stderr.isatty())
    with Docket.open(args.instance, migrate=False, **credentials(args)) as d:
        report = d.doctor(fix=args.fix, quick=args.quick, force=args.force, progress=progress,
                          only=args.only)
    emit(args, report.as_list(), _text(report))
    return 0 if report.healthy else 1


def _log(args: argparse.Namespace) -> int:
    from docket.api import Docket
    from docket.doctor import repairs

    with Docket.open(args.instance, migrate=False) as d:
        rows = repairs(d)
    lines = [f"{r['at']}  {r['actor']} [{r['role']}]  {r['check']}  {r['request_id'] or '-'}  "
             f"{', '.join(f'{k}={v}' for k, v in r['detail'].items())}  ({r['origin']})" for r in rows]
    emit(args, rows, "\n".join(lines) or "no repairs recorded")
    return 0


def _text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(f"{f.severity.upper():<5}  {f.check:<17} {f.where}: {f.what}")
        if f.repaired:
            lines.append(f"       fixed: {f.repaired}")
        elif f.fix_error:
            lines.append(f"       NOT fixed ({f.fix_error})")
        elif f.fix:
            lines.append(f"       --fix would: {f.fix}")
    remaining = [f for f in report.findings if f.open]
    fixed = sum(1 for f in report.findings if f.repaired)
    if not remaining:
        lines.append(f"healthy{f' after {fixed} repair' + ('s' if fixed != 1 else '') if fixed else ''}")
    else:
        errors = sum(1 for f in remaining if f.severity == "error")
        fixable = sum(1 for f in remaining if f.fixable and not f.fix_error)
        summary = f"{len(remaining)} problem{'s' if len(remaining) != 1 else ''} ({errors} error{'s' if errors != 1 else ''})"
        if fixed:
            summary += f", {fixed} repaired"
        if fixable and not report.fixed:
            summary += f"; {fixable} can be repaired by 'docket doctor --fix'"
        lines.append(summary)
    return "\n".join(lines)
