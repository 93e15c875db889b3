"""Who receives a notification: the audiences of ``[notify]`` turned into addresses.

``provider`` is the request's provider (the only audience whose mail carries the secret link);
``reviewers``, ``data-managers`` and ``admins`` are the active, unexpired accounts of those roles
that have an e-mail address; a literal address in the setting is taken as it is (as staff: no
link). Each address is told once per event, whatever audiences it belongs to, and the provider's
entry wins, so a provider who is also staff still gets their link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, or_, select

from docket.notify.settings import GROUPS, is_address
from docket.store import tables


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str | None
    audience: str  # "provider" (mail with the link) or "staff"


def resolve(conn: Connection, audiences: tuple[str, ...], *, provider_email: str | None,
            provider_name: str | None, at: datetime) -> list[Recipient]:
    """The recipients of one event, in a stable order, one per address (case-insensitive)."""
    found: dict[str, Recipient] = {}

    def add(recipient: Recipient) -> None:
        key = recipient.address.lower()
        if key not in found or recipient.audience == "provider":
            found[key] = recipient

    if "provider" in audiences and is_address(provider_email):
        add(Recipient(provider_email, provider_name, "provider"))  # type: ignore[arg-type]
    roles = sorted({role for audience in audiences for role in GROUPS.get(audience, ())})
    if roles:
        a = tables.accounts
        rows = conn.execute(select(a.c.name, a.c.email).where(
            a.c.role.in_(roles), a.c.status == "active", a.c.email.is_not(None),
            or_(a.c.expires.is_(None), a.c.expires > at.astimezone(UTC))).order_by(a.c.id))
        for row in rows:
            if is_address(row.email) and row.email.lower() not in found:
                add(Recipient(row.email, row.name, "staff"))
    for item in audiences:
        if item not in GROUPS and is_address(item) and item.lower() not in found:
            add(Recipient(item, None, "staff"))
    return list(found.values())
