"""``docket template ...``: try PROV templates outside the workflow.

``docket template expand TEMPLATE BINDINGS`` prints what a template records for given bindings,
so a data centre can edit a template in ``prov_templates/`` and see the result before any request
uses it; ``docket template vars TEMPLATE`` lists the variables bindings are to give;
``docket template bindings FILE --to FORM`` converts bindings between the forms ProvToolbox reads
(the bindings JSON, and PROV in PROV-N, Turtle, PROV-JSON or PROV-XML).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("template", help="expand and inspect PROV templates")
    tsub = group.add_subparsers(dest="template_command", metavar="SUBCOMMAND")

    p = tsub.add_parser(
        "expand",
        help="expand a PROV template with PROV-Template bindings",
        description="Expand TEMPLATE (PROV-JSON, or .xml/.provn/.trig/.ttl) with BINDINGS "
        "(the PROV-Template bindings JSON: var, vargen, context, linked; or bindings written as "
        "PROV with tmpl:value_i / tmpl:2dvalue_i_j in PROV-JSON, PROV-N, Turtle or PROV-XML, "
        "told apart by content) and print the document.",
    )
    p.add_argument("template", metavar="TEMPLATE", help="the template file")
    p.add_argument("bindings", metavar="BINDINGS", help="the bindings file (any form)")
    p.add_argument(
        "--format", "-f", default="json", help="json (default), provn, xml, ttl, trig, dot or svg"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the document to FILE")
    p.add_argument(
        "--bindings-out",
        metavar="FILE",
        help="write the complete bindings (with generated vargen identifiers) to FILE",
    )
    p.add_argument(
        "--vargen-namespace",
        metavar="PREFIX=URI",
        help="namespace of identifiers generated for unbound vargen: variables "
        "(default uuid=urn:uuid:)",
    )
    p.add_argument(
        "--order", action="store_true", help="add tmpl:order (the note's instantiation index)"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail on an unbound var: that would drop a statement, instead of dropping it",
    )
    add_json_flag(p)
    p.set_defaults(func=run_expand)

    b = tsub.add_parser(
        "bindings",
        help="convert PROV-Template bindings between forms",
        description="Read FILE (the bindings JSON, or bindings written as PROV in PROV-JSON, "
        "PROV-N, Turtle or PROV-XML, told apart by content) and print it in another form.",
    )
    b.add_argument("file", metavar="FILE", help="the bindings file")
    b.add_argument(
        "--to",
        default="json",
        help="json (default: the bindings JSON), provn, ttl, provjson or xml (bindings as PROV)",
    )
    b.add_argument(
        "--from",
        dest="source_form",
        metavar="FORM",
        help="read FILE as this form (json, provjson, provn, ttl, xml) instead of guessing",
    )
    b.add_argument("--output", "-o", metavar="FILE", help="write the converted bindings to FILE")
    b.set_defaults(func=run_bindings)

    v = tsub.add_parser("vars", help="list the variables of a PROV template")
    v.add_argument("template", metavar="TEMPLATE", help="the template file")
    add_json_flag(v)
    v.set_defaults(func=run_vars)

    group.set_defaults(func=lambda args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


def run_expand(args: argparse.Namespace) -> int:
    from docket.provenance.export import serialize
    from docket.provenance.template import Bindings, expand, load_template

    template = load_template(args.template)
    bindings = Bindings.load(args.bindings)
    try:
        expansion = expand(
            template,
            bindings,
            vargen_namespace=args.vargen_namespace,
            add_order=args.order,
            strict=args.strict,
        )
    except BadInput as exc:  # say which file a "bindings: var:x ..." problem is in
        if not exc.message.startswith("bindings"):
            raise
        raise BadInput(f"{args.bindings}: {exc.message}") from None
    data = serialize(expansion.document, args.format)
    if args.bindings_out:
        _write(args.bindings_out, (expansion.bindings.dumps() + "\n").encode("utf-8"))
    if args.output:
        _write(args.output, data)
    if args.json:
        summary: dict = {"format": args.format}
        if args.output:
            summary["output"] = args.output
        elif args.format == "json":
            summary["document"] = json.loads(data)
        else:
            summary["document"] = data.decode("utf-8")
        summary["bindings"] = expansion.bindings.to_json()
        summary["notes"] = list(expansion.notes)
        emit(args, summary)
        return 0
    for note in expansion.notes:
        print(f"docket: note: {note}", file=sys.stderr)
    if not args.output:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    return 0


def run_bindings(args: argparse.Namespace) -> int:
    from docket.provenance.bindings import WRITABLE, dump_bindings, load_bindings

    if args.to not in WRITABLE:  # before reading, so a typo costs nothing
        raise BadInput(f"unknown bindings form {args.to!r} for --to; use one of {', '.join(WRITABLE)}")
    data, notes = dump_bindings(load_bindings(args.file, form=args.source_form), args.to)
    for note in notes:
        print(f"docket: note: {note}", file=sys.stderr)
    if args.output:
        _write(args.output, data)
    else:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    return 0


def run_vars(args: argparse.Namespace) -> int:
    from docket.provenance.template import load_template, template_variables

    variables = template_variables(load_template(args.template))
    lines = []
    for name, info in variables.items():
        line = f"{name:30} {info['kind']}"
        if info.get("linked"):
            line += f" (linked with {', '.join(info['linked'])})"
        lines.append(line)
    emit(args, variables, "\n".join(lines))
    return 0
