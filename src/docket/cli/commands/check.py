"""``docket check FILE [--schema TABLESCHEMA.json] [--json]``: the data checks on one file.

Like ``frictionless validate``, it needs no instance and no request, so a provider can check a
file before submitting it. Exit 0 when the report has no errors, 1 when it has, 2 for bad usage
(no such file, a schema that is not JSON or not a Table Schema, an unknown severity).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a CSV file (optionally against a Table Schema) and print the quality report",
        description=(
            "Run docket's data checks on FILE: encoding, CSV structure, header, and, with "
            "--schema, every value against its declared type and constraints. Exit 1 when the "
            "report has errors."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the CSV file to check")
    parser.add_argument("--schema", metavar="TABLESCHEMA.json",
                        help="a Frictionless Table Schema (JSON) declaring the columns")
    parser.add_argument("--encoding", metavar="NAME",
                        help="the encoding the file is declared to have (default UTF-8)")
    parser.add_argument("--severity", metavar="CHECK=LEVEL", action="append", default=[],
                        help="override a check's severity (info, warn, error, off); repeatable")
    parser.add_argument("--sample", metavar="N", type=int, default=None,
                        help="locations kept per check (default 50)")
    parser.add_argument("--output", metavar="REPORT.json",
                        help="also write the report JSON to this file")
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def _severities(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        check_id, sep, level = pair.partition("=")
        if not sep or not check_id or not level:
            raise BadInput(f"--severity {pair!r}: expected CHECK=LEVEL, e.g. table.bom=off")
        out[check_id.strip()] = level.strip()
    return out


def handle(args: argparse.Namespace) -> int:
    from docket.checks import check_table

    kwargs = {}
    if args.sample is not None:
        if args.sample < 1:
            raise BadInput("--sample must be at least 1")
        kwargs["sample_size"] = args.sample
    report = check_table(
        Path(args.file), args.schema, severities=_severities(args.severity),
        encoding=args.encoding, **kwargs,
    )
    if args.output:
        try:
            report.write(args.output)
        except OSError as exc:
            raise BadInput(f"--output {args.output}: cannot write ({exc.strerror})") from None
    emit(args, report.to_dict(), report.text())
    return 1 if report.has_errors else 0
