"""``docket check FILE [--schema TABLESCHEMA.json] [--dialect DIALECT.json] [--json]``: the data checks on one file.

Like ``frictionless validate``, it needs no instance and no request, so a provider can check a
file before submitting it. FILE may also be a Data Package (``datapackage.json``) or a Data
Resource descriptor: a ``.json`` FILE whose content is one is checked as a package, every
resource with its own schema and dialect, foreign keys across resources included. Exit 0 when the report has no errors, 1 when it has, 2 for bad usage
(no such file, a schema that is not JSON or not a Table Schema, an unknown severity).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a CSV file (optionally against a Table Schema) or a Data Package and print "
             "the quality report",
        description=(
            "Run docket's data checks on FILE: encoding, CSV structure, header, and, with "
            "--schema, every value against its declared type and constraints. FILE may be a "
            "Data Package (datapackage.json) or Data Resource descriptor: every resource is "
            "checked with its schema and dialect, foreign keys across resources included. Exit 1 "
            "when the report has errors."
        ),
    )
    parser.add_argument("file", metavar="FILE",
                        help="the CSV file to check, or a datapackage.json / resource descriptor")
    parser.add_argument("--schema", metavar="TABLESCHEMA.json",
                        help="a Frictionless Table Schema (JSON) declaring the columns")
    parser.add_argument("--dialect", metavar="DIALECT.json",
                        help="a Frictionless Table Dialect (JSON) saying how the CSV is written: "
                             "delimiter, quoteChar, header, headerRows, commentChar...")
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


class _NoPandas:
    """A meta-path finder that answers "no such module" for pandas, while it is installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def pyarrow_without_pandas() -> None:
    """Have pyarrow settle, once, that this process converts values without pandas.

    The first time pyarrow converts a Python value (a number given to a compute function, a NumPy
    array of row positions), both its Cython layer and its C++ converter look for pandas and import
    it if it is installed: some 0.2 s, nearly half of checking a small file, for a library the
    checks never use (they give pyarrow NumPy arrays, Python numbers and strings, never a pandas
    object, and pandas only changes how pandas' own objects convert). So pandas is hidden while
    pyarrow makes that first conversion here; pyarrow remembers that it has no pandas and the
    checks run exactly as before. pandas itself stays importable, and pyarrow's explicit pandas
    functions (``to_pandas``, ``from_pandas``) import it when called. Only for a process the
    command owns (``args.own_process``): a Python that called ``main`` may use pandas with pyarrow.
    """
    if "pandas" in sys.modules:  # already loaded: pyarrow uses it at no cost
        return
    import pyarrow as pa

    hide = _NoPandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.scalar(0)
    finally:
        sys.meta_path.remove(hide)


def _refuse_table_options(args: argparse.Namespace, kind: str, path: Path) -> None:
    """A descriptor carries each resource's schema, dialect and encoding: the options that give
    them for one CSV file would be silently ignored, so they are refused, naming where they go."""
    what = "Data Package" if kind == "package" else "Data Resource"
    for option, key in (("schema", "schema"), ("dialect", "dialect"), ("encoding", "encoding")):
        if getattr(args, option):
            raise BadInput(f"--{option} does not apply to {path.name}, a {what} descriptor: "
                           f"declare each resource's {key!r} in the descriptor instead")


def handle(args: argparse.Namespace) -> int:
    if getattr(args, "own_process", False):
        pyarrow_without_pandas()
    from docket.checks._run import (
        check_file,  # dispatches on what the bytes are: table, NetCDF, text
    )
    from docket.checks.package import check_package, descriptor_at

    kwargs = {}
    if args.sample is not None:
        if args.sample < 1:
            raise BadInput("--sample must be at least 1")
        kwargs["sample_size"] = args.sample
    path = Path(args.file)
    kind = descriptor_at(path)
    if kind is not None:
        _refuse_table_options(args, kind, path)
        report = check_package(path, severities=_severities(args.severity), **kwargs)
    else:
        report = check_file(
            path, args.schema, severities=_severities(args.severity),
            encoding=args.encoding, dialect=args.dialect, **kwargs,
        )
    if args.output:
        try:
            report.write(args.output)
        except OSError as exc:
            raise BadInput(f"--output {args.output}: cannot write ({exc.strerror})") from None
    emit(args, report.to_dict(), report.text())
    return 1 if report.has_errors else 0
