"""``docket publish ID [--dry-run]``: publish an approved, QA-clean request as its next version.

Exit 0: published (or, with ``--dry-run``, publishable); 2: an export cannot be produced or a
setting is wrong (nothing was changed); 3: refused (not approved, QA with errors or not run,
already published, not a data manager).
"""

from __future__ import annotations

import argparse

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "publish", help="publish an approved, QA-clean request: exports, identifier (DOI or URL), version",
        description="Write every configured metadata export (validated) to published/<id>/<rev>/, give the "
                    "revision its identifier (a DOI registered with DataCite by a job when [datacite] is "
                    "configured, else the instance's own persistent URL) and record it. A later revision "
                    "publishes as a new version. Refused (exit 3) unless the request is approved and its "
                    "transfer and latest QA are closed/done.",
    )
    p.add_argument("id", metavar="ID", help="the request (its current revision is published)")
    p.add_argument("--dry-run", action="store_true",
                   help="check and build everything, say what would be written, change nothing")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.publish(args.id, dry_run=args.dry_run)
        if not args.dry_run:
            deliver(d)  # the mails, and the DOI registration if DataCite answers now
            now = next((p for p in d.publications(result["id"]) if p["revision"] == result["revision"]), None)
            if now is not None:
                result["status"] = now["status"]
    emit(args, result, text(result))
    return 0


def text(result: dict) -> str:
    """What a person reads: what was (or would be) published, under which identifier, where."""
    would = result["dry_run"]
    head = (f"{result['ref']}: would publish as version {result['version']}" if would
            else f"{result['ref']}: published as version {result['version']}")
    lines = [head, f"  identifier  {result['identifier']} ({result['identifier_type']}, {result['status']})",
             f"  {result['note']}"]
    if result.get("previous"):
        prev = result["previous"]
        lines.append(f"  new version of {prev['identifier']} (version {prev['version']})")
    for export in result["exports"]:
        check = "valid" if export["validated"] else "NOT VALIDATED"
        lines.append(f"  {'would write' if would else 'wrote'}  {export['format']:<9} {export['path']}  ({check})")
    lines += [f"  warning: {w}" for w in result["warnings"]]
    if result["identifier_type"] == "DOI" and not would and result["status"] != "findable":
        lines.append(f"  the DOI waits for DataCite: job {result.get('doi_job')} (docket jobs; docket jobs run)")
    return "\n".join(lines)
