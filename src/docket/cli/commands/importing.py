"""``docket import``: filled offline forms from files, folders and e-mail (.eml, mbox, Maildir)."""

from __future__ import annotations

import argparse

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import filled offline forms (JSON files, folders, .eml, mbox, Maildir); each form once",
        description="Each form is checked (digest, schema) and stored on its own, one input at a time: "
                    "a refused form is reported with its reason and the others are still imported. "
                    "Mail that could carry a form but does not show one (a broken MIME structure, a "
                    "subject naming a form) is refused, not skipped. Exit 0: every form imported or "
                    "already imported; 1: something was refused or altered; 2: bad usage.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="JSON file, folder, .eml file, mbox file or Maildir")
    p.add_argument("--max-bytes", type=int, metavar="N",
                   help="refuse files, messages and attachments larger than N bytes "
                        "(default: [limits] max_upload_bytes)")
    p.add_argument("--lang", default="en", metavar="LANG",
                   help="the language of the problems listed (en, fr, de; default en): the words the "
                        "provider's page and notebook use")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.messages import supported
    from docket.offline.sources import check_paths

    language = supported(args.lang)
    check_paths(args.paths)  # usage errors (exit 2) before the instance is even opened
    from docket.offline.importer import import_paths  # the API and the store: loaded only now

    with open_docket(args) as d:
        report = import_paths(d, args.paths, max_bytes=args.max_bytes)
        deliver(d)
    emit(args, report.as_dict(language), report.text(language))
    return report.exit_code
