"""What command handlers share: opening the instance, and who is acting.

The API (SQLAlchemy, Alembic, ...) is imported when a handler opens the instance or names an
actor, never when the parser is built (:mod:`docket.cli` starts without it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from docket.api import Actor, Docket


def open_docket(args: argparse.Namespace) -> Docket:
    from docket.api import Docket

    return Docket.open(args.instance)


def add_actor_flags(parser: Any, default_role: str) -> None:
    parser.add_argument("--as", dest="actor", metavar="WHO", help="who is acting (default: $DOCKET_USER)")
    parser.add_argument("--role", default=default_role, help=f"the actor's role (default: {default_role})")
    parser.add_argument("--email", help="the actor's e-mail, for the PROV agent")
    parser.add_argument("--orcid", help="the actor's ORCID iD, for the PROV agent")


def actor_from(args: argparse.Namespace) -> Actor:
    from docket.api import Actor, default_actor

    return Actor(args.actor or default_actor(), args.role, args.email, args.orcid)
