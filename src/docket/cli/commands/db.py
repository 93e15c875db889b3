"""``docket db current|upgrade``: the store's schema version, and bringing it up to date.

Opening an instance upgrades an old store by itself; a data centre that prefers to migrate on
purpose (a PostgreSQL store shared by many clients, say) runs ``docket db upgrade`` first.
"""

from __future__ import annotations

import argparse

from docket.cli.output import add_json_flag, emit


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("db", help="the store's schema version (current) and migrations (upgrade)")
    dsub = group.add_subparsers(dest="db_command", metavar="SUBCOMMAND")
    for name, help_text, func in (("current", "show the store's migration and the newest one", current),
                                  ("upgrade", "apply the migrations the store lacks", upgrade)):
        p = dsub.add_parser(name, help=help_text)
        add_json_flag(p)
        p.set_defaults(func=func)
    group.set_defaults(func=lambda args: group.print_help() or 2)


def _open(args: argparse.Namespace):
    from docket.api import Docket

    return Docket.open(args.instance, migrate=False)


def current(args: argparse.Namespace) -> int:
    d = _open(args)
    try:
        now, head = d.store.current(), d.store.head()
        url = d.store.engine.url.render_as_string(hide_password=True)
    finally:
        d.close()
    state = "up to date" if now == head else f"behind: run 'docket db upgrade' to go from {now or 'empty'} to {head}"
    emit(args, {"store": url, "current": now, "head": head, "up_to_date": now == head},
         f"{url}: migration {now or '(none)'}, newest {head}: {state}")
    return 0


def upgrade(args: argparse.Namespace) -> int:
    d = _open(args)
    try:
        before, after = d.upgrade_store()
    finally:
        d.close()
    emit(args, {"from": before, "to": after},
         f"store upgraded from {before or '(empty)'} to {after}" if before != after else f"store already at {after}")
    return 0
