"""Notifications: e-mail to the people configured for each transition, sent through jobs.

:func:`queue_event` is the hook the API calls inside a transition's transaction: it queues one
``notify`` job per recipient (so the mail is queued if and only if the transition commits), each
with an idempotency key, so queuing the same event again stores nothing new. The worker
(:mod:`docket.jobs`) sends them later through :mod:`docket.notify.handler`.

Events: ``submitted`` (reviewers), ``changes-requested``, ``approved``, ``rejected``,
``commented`` (the provider, with their link), ``qa-errors`` and ``published`` (the provider and data managers);
``[notify]`` in ``docket.toml`` changes who hears of what (:mod:`docket.notify.settings`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from docket.errors import BadInput
from docket.jobs.queue import enqueue
from docket.notify.recipients import resolve
from docket.notify.settings import EVENTS, notify_settings
from docket.store import tables

__all__ = ["EVENTS", "queue_event"]
KIND = "notify"
MAX_KEY = 200  # the jobs.key column


def job_key(request_id: str, revision: int, event: str, occurrence: int, address: str) -> str:
    """``notify:<request>:<revision>:<event>:<n>:<recipient>`` (a long address as its digest)."""
    key = f"notify:{request_id}:{revision}:{event}:{occurrence}:{address.lower()}"
    if len(key) <= MAX_KEY:
        return key
    return f"notify:{request_id}:{revision}:{event}:{occurrence}:sha256-{hashlib.sha256(address.lower().encode()).hexdigest()[:32]}"


def _occurrence(conn: Connection, request_id: str) -> int:
    """How many transitions and comments the request has had: each new one makes a new occurrence
    (a request resubmitted without changes is announced again, a second comment is mailed too),
    while the same event queued twice in one state is one occurrence, so one mail."""
    h, c = tables.status_history, tables.comments
    transitions = conn.execute(select(func.count()).select_from(h).where(h.c.request_id == request_id)).scalar_one()
    comments = conn.execute(select(func.count()).select_from(c).where(c.c.request_id == request_id)).scalar_one()
    return int(transitions) + int(comments)


def queue_event(conn: Connection, config: Any, event: str, *, request_id: str, revision: int, title: str,
                provider_email: str | None, provider_name: str | None, language: str | None,
                comment: str | None = None, fields: list[str] | None = None, at: datetime,
                occurrence: int | None = None, attachments: list[str] | None = None) -> int:
    """Queue the mails of ``event`` on ``request_id``.``revision`` in ``conn``'s transaction.

    Returns how many jobs were queued (0 when notifications are off, i.e. no ``[smtp] host``, or
    when this event was queued before). ``occurrence`` tells repeated events on one revision
    apart; by default it counts the request's status-history rows and comments, so call this
    after writing the transition's history (or the comment). Nothing secret goes into a job: the provider's link
    is minted when the mail is sent. A bad ``[notify]`` setting raises InstanceError (exit 2).
    ``attachments`` are files under the instance's ``runs/`` (e.g. the QA run's ``report.html``, the
    page a provider reads), named relative to the instance and read when the mail is sent.
    """
    if event not in EVENTS:
        raise BadInput(f"unknown notification event {event!r} (events: {', '.join(EVENTS)})")
    settings = notify_settings(config)
    if not settings.enabled:
        return 0
    n = occurrence if occurrence is not None else _occurrence(conn, request_id)
    queued = 0
    for recipient in resolve(conn, settings.recipients[event], provider_email=provider_email,
                             provider_name=provider_name, at=at):
        payload = {
            "event": event, "request_id": request_id, "revision": revision, "title": title,
            "provider_name": provider_name, "provider_email": provider_email, "language": language,
            "comment": comment, "fields": list(fields or []), "attachments": list(attachments or []),
            "to": recipient.address, "to_name": recipient.name, "audience": recipient.audience,
        }
        key = job_key(request_id, revision, event, n, recipient.address)
        if enqueue(conn, KIND, key=key, payload=payload, at=at, request_id=request_id) is not None:
            queued += 1
    return queued
