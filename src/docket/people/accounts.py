"""Staff and provider accounts, their API keys, and signing in with a key.

An account holds a person's role (``provider``, ``reviewer``, ``data-manager``, ``admin``): the
only place a role comes from. Its PROV identifier is random (``person_<hex>``), never derived from
the e-mail address, so exports and pictures reveal nothing about the person beyond the attributes
a data centre chooses to publish.

Signing in costs one argon2 verification, found or not (see :mod:`docket.people.secrets`), and
every failure is counted per source: after :data:`FREE_FAILURES` wrong keys or links from one
source, each further try waits longer (up to :data:`MAX_DELAY` seconds), so guessing from one
place is slowed to a crawl while a person who mistyped once notices nothing.
"""

from __future__ import annotations

import re
import secrets as _random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from docket.documents import check_text
from docket.errors import BadInput, NotFound, Refused
from docket.people import secrets
from docket.store import tables

ROLES = ("provider", "reviewer", "data-manager", "admin")
STAFF = ("reviewer", "data-manager", "admin")
FREE_FAILURES = 5
MAX_DELAY = 10.0
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
REFUSED_KEY = "this API key is not valid (wrong, expired, revoked, or its account is disabled)"


@dataclass(frozen=True)
class Account:
    """A signed-in person: who they are and the role the store gives them."""

    id: int
    name: str
    email: str | None
    orcid: str | None
    role: str
    person_id: str
    status: str = "active"
    expires: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(row.id, row.name, row.email, row.orcid, row.role, row.person_id, row.status,
                   _aware(row.expires))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "orcid": self.orcid, "role": self.role,
                "person_id": self.person_id, "status": self.status,
                "expires": self.expires.isoformat() if self.expires else None}


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def parse_expiry(value: str | datetime | None, now: datetime) -> datetime | None:
    """``--expires 2027-06-30`` (end of that day, UTC) or a datetime; None for no expiry."""
    if value is None or isinstance(value, datetime):
        return _aware(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"--expires {value!r}: expected a date like 2027-06-30") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
        if len(value) == 10:  # a date: valid through that whole day
            when = when.replace(hour=23, minute=59, second=59)
    if when <= now:
        raise BadInput(f"--expires {value}: that is in the past")
    return when


def _check_fields(name: str, email: str | None, orcid: str | None) -> None:
    check_text(name, "the account name")
    if not _NAME.match(name) or name != name.strip():
        raise BadInput(f"account name {name!r}: 1 to 200 characters, no control characters or outer spaces")
    if email is not None:
        check_text(email, "the e-mail address")
        if not _EMAIL.match(email):
            raise BadInput(f"--email {email!r} is not an e-mail address")
    if orcid is not None:
        from docket.provenance.identifiers import orcid_of

        if orcid_of(orcid) is None:
            raise BadInput(f"--orcid {orcid!r} is not an ORCID iD (0000-0002-1825-0097)")


def add(conn: Connection, name: str, role: str, *, email: str | None, orcid: str | None = None,
        expires: datetime | None, created_by: str, at: datetime) -> tuple[Account, str]:
    """A new account and its first API key: ``(account, key)``; the key is shown only now."""
    check_role(role)
    _check_fields(name, email, orcid)
    a = tables.accounts
    if conn.execute(select(a.c.id).where(a.c.name == name)).first() is not None:
        raise BadInput(f"an account named {name!r} exists already (docket user list)")
    person_id = f"person_{_random.token_hex(8)}"
    account_id = conn.execute(a.insert().returning(a.c.id), {
        "name": name, "email": email, "orcid": orcid, "role": role, "person_id": person_id,
        "status": "active", "expires": expires, "created_by": created_by, "created_date": at,
    }).scalar_one()
    account = Account(account_id, name, email, orcid, role, person_id, "active", expires)
    return account, new_key(conn, account, expires=expires, at=at)


def new_key(conn: Connection, account: Account, *, expires: datetime | None, at: datetime) -> str:
    key, prefix = secrets.new_secret("key")
    conn.execute(tables.api_keys.insert(), {
        "account_id": account.id, "prefix": prefix, "hash": secrets.hash_secret(key),
        "expires": expires, "created_date": at,
    })
    return key


def by_name(conn: Connection, name: str) -> Account:
    row = conn.execute(select(tables.accounts).where(tables.accounts.c.name == name)).first()
    if row is None:
        raise NotFound(f"no account named {name!r} (docket user list)")
    return Account.from_row(row)


def set_status(conn: Connection, name: str, status: str) -> Account:
    account = by_name(conn, name)
    conn.execute(update(tables.accounts).where(tables.accounts.c.id == account.id).values(status=status))
    return by_name(conn, name)


def revoke_key(conn: Connection, prefix: str, at: datetime) -> dict[str, Any]:
    """Revoke the key with this prefix (as ``docket user list`` shows it); at once and for good."""
    prefix = prefix.removeprefix("dk_").split("_", 1)[0].rstrip("…")
    k = tables.api_keys
    row = conn.execute(select(k, tables.accounts.c.name).join(tables.accounts)
                       .where(k.c.prefix == prefix)).first()
    if row is None:
        raise NotFound(f"no API key with prefix {prefix!r} (docket user list shows them)")
    if row.revoked_date is None:
        conn.execute(update(k).where(k.c.id == row.id).values(revoked_date=at))
    return {"key": secrets.shown(prefix, "key"), "account": row.name, "revoked": True}


def listing(conn: Connection) -> list[dict[str, Any]]:
    """Every account with its keys, shown by prefix only."""
    a, k = tables.accounts, tables.api_keys
    keys: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(select(k).order_by(k.c.id)).all():
        keys.setdefault(r.account_id, []).append({
            "key": secrets.shown(r.prefix, "key"), "created": _iso(r.created_date),
            "expires": _iso(r.expires), "revoked": _iso(r.revoked_date), "last_used": _iso(r.last_used_date)})
    return [{**Account.from_row(r).as_dict(), "keys": keys.get(r.id, [])}
            for r in conn.execute(select(a).order_by(a.c.id)).all()]


def _iso(value: datetime | None) -> str | None:
    value = _aware(value)
    return value.isoformat() if value else None


def authenticate(conn: Connection, key: str, *, source: str, at: datetime) -> Account:
    """The account a key belongs to, or Refused (exit 3) with one message for every failure:
    unknown, malformed, expired, revoked and disabled all read the same and cost the same."""
    prefix = secrets.prefix_of(key, "key")
    k, a = tables.api_keys, tables.accounts
    row = None
    if prefix is not None:
        row = conn.execute(select(k.c.id.label("key_id"), k.c.hash, k.c.expires.label("key_expires"),
                                  k.c.revoked_date, a).join(a).where(k.c.prefix == prefix)).first()
    valid = secrets.verify(row.hash if row is not None else None, key)
    if valid and row is not None:
        expired = any(e is not None and _aware(e) <= at for e in (row.key_expires, row.expires))
        if row.revoked_date is None and not expired and row.status == "active":
            conn.execute(update(k).where(k.c.id == row.key_id).values(last_used_date=at))
            clear_failures(conn, source)
            return Account.from_row(row)
    raise Refused(REFUSED_KEY, rule="valid-key")


def failure_delay(conn: Connection, source: str) -> float:
    """How long a try from ``source`` waits first, given its recent failures."""
    row = conn.execute(select(tables.auth_failures).where(tables.auth_failures.c.source == source)).first()
    if row is None or row.failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, 0.25 * 2 ** (row.failures - FREE_FAILURES))


def note_failure(conn: Connection, source: str, at: datetime) -> None:
    f = tables.auth_failures
    done = conn.execute(update(f).where(f.c.source == source)
                        .values(failures=f.c.failures + 1, last_date=at)).rowcount
    if not done:
        conn.execute(f.insert(), {"source": source[:300], "failures": 1, "last_date": at})


def clear_failures(conn: Connection, source: str) -> None:
    conn.execute(tables.auth_failures.delete().where(tables.auth_failures.c.source == source))


def slow_down(delay: float) -> None:
    if delay > 0:
        time.sleep(delay)
