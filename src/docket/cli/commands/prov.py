"""``docket prov ID --format F``: a request's PROV document in any supported format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docket.cli.context import open_docket
from docket.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prov", help="export a request's PROV (json, provn, xml, ttl, dot, svg, html)")
    p.add_argument("id")
    p.add_argument("--format", "-f", default="json",
                   help="json (native), provn, xml, ttl, trig, jsonld, dot, svg, or html (a timeline "
                        "page for people, the graph inside)")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.add_argument("--bindings", action="store_true",
                   help="print each bundle's template and PROV-Template bindings instead (JSON)")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        if args.bindings:
            rows = d.prov_bundles(args.id)
            data = json.dumps([{k: r[k] for k in ("bundle_id", "template", "template_digest", "bindings")}
                               for r in rows], indent=2).encode()
        else:
            data = d.export_prov(args.id, args.format)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise BadInput(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    return 0
