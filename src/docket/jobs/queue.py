"""The ``jobs`` table as a queue: enqueue once per key, claim atomically, settle each try.

Every function takes the caller's connection, so queuing a job belongs to the transaction of
the change that caused it (a transition that rolls back queues nothing), and claiming a job is
one short write transaction of its own. Claiming takes the oldest due ``queued`` job and makes
it ``running`` in the same transaction: on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` (two workers
never get the same row and neither waits for the other), on SQLite inside ``BEGIN IMMEDIATE``
(write transactions are serialized, so the second worker sees the job already running). A job
is therefore handed to one worker once: what it does is never done twice by docket.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from docket.errors import NotFound, Refused
from docket.store import tables

STATUSES = ("queued", "running", "done", "failed")
MAX_ERROR = 2000  # characters of an error kept in last_error


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite returns naive ones, stored as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enqueue(conn: Connection, kind: str, *, key: str, payload: dict[str, Any], at: datetime,
            request_id: str | None = None) -> int | None:
    """Queue a job due now; its id, or None when a job with this ``key`` exists already.

    ``INSERT ... ON CONFLICT (key) DO NOTHING`` on both stores: queuing the same thing twice
    (a retried command, two processes at once) stores one job and never fails the caller.
    """
    j = tables.jobs
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    at = utc(at)
    statement = insert(j).values(
        kind=kind, request_id=request_id, status="queued", attempts=0, next_try=at, last_error=None,
        payload=payload, result=None, created_date=at, updated_date=at, key=key,
    ).on_conflict_do_nothing(index_elements=[j.c.key]).returning(j.c.id)
    return conn.execute(statement).scalar_one_or_none()


def claim_next(conn: Connection, now: datetime, *, skip_ids: Collection[int] = (),
               skip_kinds: Collection[str] = ()) -> Any | None:
    """The oldest due queued job, now ``running`` with one more attempt; None if none is due."""
    j = tables.jobs
    query = (select(j).where(j.c.status == "queued", or_(j.c.next_try.is_(None), j.c.next_try <= utc(now)))
             .order_by(j.c.next_try, j.c.id).limit(1))
    if skip_ids:
        query = query.where(j.c.id.notin_(list(skip_ids)))
    if skip_kinds:
        query = query.where(j.c.kind.notin_(list(skip_kinds)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    if row is None:
        return None
    claimed = conn.execute(update(j).where(j.c.id == row.id, j.c.status == "queued")
                           .values(status="running", attempts=j.c.attempts + 1, updated_date=utc(now)))
    if claimed.rowcount != 1:  # cannot happen under the lock; never run a job twice if it did
        return None
    return conn.execute(select(j).where(j.c.id == row.id)).first()


def _error(message: str) -> str:
    return message if len(message) <= MAX_ERROR else message[:MAX_ERROR - 1] + "…"


def finish(conn: Connection, job_id: int, result: dict[str, Any], now: datetime) -> None:
    j = tables.jobs
    conn.execute(update(j).where(j.c.id == job_id).values(
        status="done", result=result, last_error=None, next_try=None, updated_date=utc(now)))


def reschedule(conn: Connection, job_id: int, error: str, next_try: datetime, now: datetime) -> None:
    j = tables.jobs
    conn.execute(update(j).where(j.c.id == job_id).values(
        status="queued", last_error=_error(error), next_try=utc(next_try), updated_date=utc(now)))


def fail(conn: Connection, job_id: int, error: str, now: datetime) -> None:
    j = tables.jobs
    conn.execute(update(j).where(j.c.id == job_id).values(
        status="failed", last_error=_error(error), next_try=None, updated_date=utc(now)))


def listing(conn: Connection, *, status: str | None = None, request_id: str | None = None,
            limit: int | None = None) -> list[Any]:
    """Jobs, newest first, optionally of one status or one request."""
    j = tables.jobs
    query = select(j).order_by(j.c.id.desc())
    if status is not None:
        query = query.where(j.c.status == status)
    if request_id is not None:
        query = query.where(j.c.request_id == request_id)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query))


def get(conn: Connection, job_id: int) -> Any:
    j = tables.jobs
    row = conn.execute(select(j).where(j.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"no job {job_id} in this instance (docket jobs lists them)")
    return row


def retry(conn: Connection, job_id: int, now: datetime, *, force: bool = False) -> Any:
    """Queue a failed (or, with ``force``, a stuck running) job again, due now, attempts reset.

    A done job is refused: its work happened. A running job is refused unless forced, since its
    worker may still be sending it; forcing is for a worker that died mid-job.
    """
    row = get(conn, job_id)
    if row.status == "done":
        raise Refused(f"job {job_id} is done; it is not run again", rule="job-not-done")
    if row.status == "running" and not force:
        raise Refused(f"job {job_id} is running (since {utc(row.updated_date):%Y-%m-%d %H:%M:%S} UTC); "
                      "if its worker died, retry it with --force (its work may then be done twice)",
                      rule="job-not-running")
    j = tables.jobs
    conn.execute(update(j).where(j.c.id == job_id).values(
        status="queued", attempts=0, next_try=utc(now), updated_date=utc(now)))
    return get(conn, job_id)


def as_dict(row: Any, describe: Callable[[dict[str, Any]], str] | None = None) -> dict[str, Any]:
    """A job as ``docket jobs --json`` shows it (the payload holds no secret: see docket.notify)."""
    payload = row.payload or {}
    return {
        "id": row.id, "kind": row.kind, "request_id": row.request_id, "status": row.status,
        "attempts": row.attempts, "next_try": _iso(row.next_try), "last_error": row.last_error,
        "what": describe(payload) if describe else "", "key": row.key, "payload": payload,
        "result": row.result, "created": _iso(row.created_date), "updated": _iso(row.updated_date),
    }


def _iso(value: datetime | None) -> str | None:
    value = utc(value)
    return value.isoformat() if value else None
