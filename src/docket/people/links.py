"""Secret links: how a provider without an account reaches their own request.

Each link opens one request: its status, the reviewer's comments, the QA summary, answering
comments and revising it. The link's secret is a :mod:`docket.people.secrets` secret (``dl_...``),
stored hashed, expiring (``[people] link_days``, default 180) and revocable; the ids of requests
are sequential and reveal nothing without it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select, update

from docket.errors import Refused
from docket.people import secrets
from docket.people.accounts import _aware
from docket.store import tables

DEFAULT_LINK_DAYS = 180
REFUSED_LINK = "this link is not valid (wrong, expired or revoked); ask the data centre for a new one"


def link_days(config: Any) -> int:
    people = config.extra.get("people", {}) if hasattr(config, "extra") else {}
    days = people.get("link_days", DEFAULT_LINK_DAYS) if isinstance(people, dict) else DEFAULT_LINK_DAYS
    return days if isinstance(days, int) and not isinstance(days, bool) and days > 0 else DEFAULT_LINK_DAYS


def mint(conn: Connection, request_id: str, *, at: datetime, days: int = DEFAULT_LINK_DAYS) -> str:
    """A new link secret for ``request_id``; returned once, stored only as a hash."""
    secret, prefix = secrets.new_secret("link")
    conn.execute(tables.request_links.insert(), {
        "request_id": request_id, "prefix": prefix, "hash": secrets.hash_secret(secret),
        "expires": at + timedelta(days=days), "created_date": at,
    })
    return secret


def resolve(conn: Connection, secret: str, *, at: datetime) -> str:
    """The request a link opens, or Refused (exit 3): one message and one cost for every failure."""
    prefix = secrets.prefix_of(secret, "link")
    t = tables.request_links
    row = conn.execute(select(t).where(t.c.prefix == prefix)).first() if prefix else None
    valid = secrets.verify(row.hash if row is not None else None, secret)
    if valid and row is not None and row.revoked_date is None and (row.expires is None or _aware(row.expires) > at):
        return row.request_id
    raise Refused(REFUSED_LINK, rule="valid-link")


def revoke(conn: Connection, request_id: str, *, at: datetime) -> int:
    """Revoke every live link of a request (e.g. one was forwarded by mistake); returns how many."""
    t = tables.request_links
    return conn.execute(update(t).where(t.c.request_id == request_id, t.c.revoked_date.is_(None))
                        .values(revoked_date=at)).rowcount


def url(config: Any, secret: str) -> str:
    """The page a link opens: ``[serve] public_url`` (default the local ``docket serve``) with
    the secret as the ``link`` parameter."""
    serve = config.extra.get("serve", {}) if hasattr(config, "extra") else {}
    base = serve.get("public_url") if isinstance(serve, dict) else None
    base = base if isinstance(base, str) and base else "http://127.0.0.1:8866/"
    return f"{base}{'&' if '?' in base else '?'}link={quote(secret, safe='')}"
