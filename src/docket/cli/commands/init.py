"""``docket init DIR``: create an instance folder."""

from __future__ import annotations

import argparse

from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create an instance folder (docket.toml, schemas/, files/, runs/)")
    p.add_argument("dir", help="the folder to create")
    p.add_argument("--project", default="docket", help="project slug, the prefix of request ids")
    p.add_argument("--base-uri", help="namespace of PROV identifiers (default: https://data.example.org/<project>/)")
    p.add_argument("--language", dest="languages", action="append", help="a form language (repeat; default en, fr, de)")
    p.add_argument("--store-url", help="SQLAlchemy URL of the store (default: SQLite in the folder)")
    p.add_argument("--store-schema", help="PostgreSQL schema to keep the tables in")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.api import Docket

    docket = Docket.init(
        args.dir, project=args.project, base_uri=args.base_uri, languages=args.languages,
        store_url=args.store_url, store_schema=args.store_schema,
    )
    from docket.people.keyfiles import admin_key_path

    root = docket.instance.root
    docket.close()
    key_file = admin_key_path(root)
    emit(args, {"instance": str(root), "project": docket.config.project, "admin_key_file": str(key_file)},
         f"created docket instance {root} (project {docket.config.project})\n"
         f"admin key: {key_file} (only you can read it; docket uses it when you run it here; "
         "add accounts with 'docket user add')")
    return 0
