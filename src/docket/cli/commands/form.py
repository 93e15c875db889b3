"""``docket form list`` and ``docket form export``: the forms a provider can fill offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from docket.cli.output import add_json_flag, emit
from docket.errors import InstanceError
from docket.offline.export import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("form", help="list forms, export a blank form to fill offline")
    forms = p.add_subparsers(dest="form_command", metavar="ACTION")

    e = forms.add_parser("export", help="write a blank form as JSON (any editor) or a notebook (Jupyter)")
    e.add_argument("name", help="the form, e.g. ingest-request (see 'docket form list')")
    e.add_argument("--format", choices=FORMATS, default="json", help="json (default) or ipynb")
    e.add_argument("--lang", help="language of labels and instructions (default: the instance's first)")
    e.add_argument("--output", "-o", help="file to write ('-' for standard output; default NAME.json or NAME.ipynb)")
    e.add_argument("--request", help="for a form that changes a request (file-resubmission): its id")
    e.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    add_json_flag(e)
    e.set_defaults(func=export)

    ls = forms.add_parser("list", help="the forms this instance offers")
    add_json_flag(ls)
    ls.set_defaults(func=list_)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _instance(args: argparse.Namespace) -> Any:
    """The instance if there is one (its forms and schemas override docket's), else None."""
    from docket.instance import Instance

    try:
        return Instance.find(args.instance)
    except InstanceError:
        return None


def _languages(instance: Any) -> list[str]:
    return list(instance.config.languages) if instance is not None else ["en"]


def export(args: argparse.Namespace) -> int:
    from docket.forms.definition import load_form
    from docket.offline.export import export_form, write_export

    instance = _instance(args)
    form = load_form(args.name, instance)
    language = args.lang or next((lang for lang in _languages(instance) if lang in form.languages), form.languages[0])
    output = args.output or f"{form.name}.{args.format}"
    filled_name = f"{Path(output).stem}.filled.json" if output != "-" else None
    text = export_form(form, args.format, language, request=args.request, filled_name=filled_name)
    if output == "-":
        sys.stdout.write(text)
        return 0
    path = write_export(text, Path(output), force=args.force)
    info = {"form": form.name, "version": form.version, "language": language, "format": args.format,
            "path": str(path), "source": form.source}
    emit(args, info, f"wrote {path} (form {form.name} {form.version}, {language})")
    return 0


def list_(args: argparse.Namespace) -> int:
    from docket.forms.definition import list_forms, load_form, localize

    instance = _instance(args)
    language = _languages(instance)[0]
    rows = []
    for name in list_forms(instance):
        form = load_form(name, instance)
        rows.append({"name": form.name, "version": form.version, "title": localize(form.title, language),
                     "mode": form.mode, "languages": form.languages, "source": form.source})
    text = "\n".join(f"{r['name']:<22} {r['version']:<6} {r['title']}" for r in rows) or "no forms"
    emit(args, rows, text)
    return 0
