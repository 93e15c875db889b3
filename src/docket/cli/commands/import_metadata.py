"""``docket import-metadata``: existing EML, ISO 19139 and DataCite records as draft requests."""

from __future__ import annotations

import argparse

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-metadata",
        help="import existing EML 2.x, ISO 19139 (HNAP too) and DataCite (kernel 2-4) records as drafts",
        description="Each record becomes a draft request; what could not be mapped is listed per record by "
                    "XPath. A record lacking what a complete request needs (a licence, an abstract, keywords, "
                    "a contact with an e-mail address, a data file) becomes an incomplete draft: the report "
                    "lists per record what is still 'to complete' before `docket review ID submitted` accepts "
                    "it. XML is read with defusedxml: DTDs and entities are refused, nothing is fetched. "
                    "Every file is checked before any is stored. Exit 0: all imported (incomplete drafts "
                    "included); 2: a file was refused -- not XML docket reads, or a value of the wrong type "
                    "or format -- and nothing was stored.",
    )
    p.add_argument("paths", nargs="*", metavar="FILE|FOLDER", help="an XML record, or a folder of them")
    p.add_argument("--max-bytes", type=int, metavar="N",
                   help="refuse records larger than N bytes (default: [limits] max_request_bytes)")
    p.add_argument("--contact", metavar="'NAME <EMAIL>'",
                   help="who answers for records naming nobody with an e-mail address, as DataCite records "
                        "never do (default: your account, if it has an address)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.metadata_import.importer import candidates, parse_contact

    candidates(args.paths)  # usage errors (exit 2) before the instance is opened
    contact = parse_contact(args.contact) if args.contact else None
    from docket.metadata_import.importer import import_metadata

    with open_docket(args) as d:
        report = import_metadata(d, args.paths, max_bytes=args.max_bytes, contact=contact)
        deliver(d)
    emit(args, report.as_dict(), report.text())
    return report.exit_code
