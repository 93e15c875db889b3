"""``docket export ID[.REV] --format F [-o FILE] [--json]``: a request's metadata in a standard.

The document goes to standard output (or ``-o FILE``) only once it is valid against its
standard's schema (``[publication] xsd_dir`` for the XML formats); where it could not be
validated, a warning on standard error (or in the ``--json`` result) says so and why. ``--json``
prints ``{"ref", "format", "media_type", "validated", "warnings", "output" | "document"}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit, printable
from docket.errors import BadInput

#: The built-in formats, for the help text without loading the registry (plug-ins add more).
BUILTIN = "iso19139, datacite, eml, schemaorg, dcat"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help=f"a request's metadata as {BUILTIN}, validated against the standard",
        description="Write one revision's metadata in a metadata standard, after validating it: "
                    "ISO 19139, DataCite 4.5 and EML 2.2.0 against their official XSD sets (the "
                    "folder [publication] xsd_dir in docket.toml names), schema.org JSON-LD against "
                    "docket's JSON Schema, DCAT against docket's SHACL shapes. An invalid export is "
                    "refused naming the element and the rule; one that could not be validated is "
                    "written with a warning saying why.",
    )
    p.add_argument("ref", metavar="ID[.REV]", help="the request (its current revision) or one revision")
    fmt = p.add_argument("--format", "-f", help=f"the standard: {BUILTIN}")
    fmt.lazy_help = _format_help
    p.add_argument("--output", "-o", metavar="FILE", help="write to this file instead of standard output")
    add_json_flag(p)
    p.set_defaults(func=run)


def _format_help() -> str:
    from docket.exporters import names

    return f"the standard: {', '.join(names())}"


def run(args: argparse.Namespace) -> int:
    from docket.exporters import names, render

    if not args.format:
        raise BadInput(f"choose a format with --format (known: {', '.join(names())})")
    with open_docket(args) as d:
        result = render(d, args.ref, args.format)
    out = result.as_dict()
    if args.output:
        try:
            Path(args.output).write_bytes(result.data)
        except OSError as exc:
            raise BadInput(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        out["output"] = args.output
    if args.json:
        if not args.output:
            out["document"] = result.data.decode("utf-8")
        emit(args, out)
        return 0
    for warning in result.warnings:
        print(printable(f"docket: warning: {warning}"), file=sys.stderr)
    if not args.output:
        data = result.data
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    else:
        print(printable(f"{result.ref}: {result.format} written to {args.output}"
                        + (" (validated)" if result.validated else "")), file=sys.stderr)
    return 0


