"""What command handlers share: opening the instance as the signed-in caller.

Who is calling comes from a key (``--key-file FILE``, else ``$DOCKET_API_KEY``, else the admin key
file ``docket init`` wrote, when this OS user owns it) or a provider's link (``--link-file``);
the role always comes from the account. The API (SQLAlchemy, Alembic, ...) is imported when a
handler opens the instance, never when the parser is built (:mod:`docket.cli` starts without it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from docket.api import Docket


def add_identity_flags(parser: Any) -> None:
    """The global options that say who is calling (never a role: that is the account's)."""
    parser.add_argument("--key-file", metavar="FILE",
                        help="your API key, in a file only you can read (default: $DOCKET_API_KEY, "
                             "else the admin key 'docket init' wrote for you)")
    parser.add_argument("--link-file", metavar="FILE",
                        help="a provider's secret link to one request, in a file only you can read")


def credentials(args: argparse.Namespace) -> dict[str, Any]:
    from docket.people.keyfiles import read_key_file

    out: dict[str, Any] = {}
    if getattr(args, "key_file", None):
        out["key"] = read_key_file(args.key_file)
    if getattr(args, "link_file", None):
        link = read_key_file(args.link_file)
        if "link=" in link:  # the whole URL of the mail, pasted as it is
            from urllib.parse import parse_qs, urlsplit

            link = (parse_qs(urlsplit(link).query).get("link") or [""])[0]
        out["link"] = link
    if "key" in out and "link" in out:
        from docket.errors import BadInput

        raise BadInput("give --key-file or --link-file, not both")
    return out


def open_docket(args: argparse.Namespace, **kwargs: Any) -> Docket:
    from docket.api import Docket

    return Docket.open(args.instance, **credentials(args), **kwargs)


def deliver(d: Docket) -> None:
    """Send what the command just queued (mails), briefly and in-process; a mail server that is
    down never fails the command: the jobs wait for ``docket jobs run``."""
    from docket.jobs import run_soon

    run_soon(d)
