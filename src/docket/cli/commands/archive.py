"""``docket archive ID``: archive a published revision as a BagIt bag with an RO-Crate;
``docket archive verify ID`` / ``docket archive verify --all``: re-check the bags' fixity.

Exit 0: archived, or every bag checked is intact; 1: a bag failed its check (every file that
changed, went missing or appeared is named); 2: bad usage or settings (nothing was changed);
3: refused (not published, archived already, not a data manager).

``verify`` is a word, not a sub-parser, because ``docket archive ID`` takes the request as its
first argument; request ids are ``<project>-<number>``, so no id is ever the word ``verify``.
"""

from __future__ import annotations

import argparse

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit, printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "archive", help="archive a published request as a BagIt bag; 'archive verify' re-checks fixity",
        usage="docket archive ID | docket archive verify (ID | --all) [--json]",
        description="docket archive ID writes the published revision of a request (data files, metadata "
                    "exports, PROV as JSON and PROV-N, the quality report, an RO-Crate describing them) as a "
                    "BagIt bag with SHA-256 and MD5 manifests to [archive] location (default <instance>/archive), "
                    "<location>/<id>.<rev>/, and records it. docket archive verify ID re-checks that request's "
                    "bags; verify --all checks every archive (for a scheduled job). Exit 1 names every file "
                    "that changed or went missing.",
    )
    p.add_argument("words", nargs="+", metavar="ID | verify [ID]",
                   help="the request to archive, or 'verify' and the request (ID or ID.REV) to check")
    p.add_argument("--all", action="store_true", help="with verify: check every archive of the instance")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.errors import BadInput

    words = list(args.words)
    if words[0] == "verify":
        target = words[1:]
        if len(target) > 1 or bool(target) == bool(args.all):
            raise BadInput("docket archive verify takes one request (ID or ID.REV) or --all")
        return verify(args, target[0] if target else None)
    if len(words) != 1 or args.all:
        raise BadInput("docket archive takes one request: docket archive ID (or docket archive verify ID | --all)")
    with open_docket(args) as d:
        result = d.archive(words[0])
    lines = [f"{result['ref']}: archived in {result['location']}",
             f"  identifier      {result['identifier']}",
             f"  Payload-Oxum    {result['bag_oxum']} (bytes.files)",
             f"  tag manifest    sha256:{result['manifest_sha256']}"]
    lines += [f"  {f['kind']:<10}  {f['path']}" for f in result["files"]]
    emit(args, result, printable("\n".join(lines)))
    return 0


def verify(args: argparse.Namespace, ref: str | None) -> int:
    from docket.steps.archive import describe

    with open_docket(args) as d:
        summary = d.verify_archive(ref)
    emit(args, summary, printable(describe(summary)))
    # 1: the check ran and found a bag that is not as it was written
    return 1 if summary["failed"] else 0
