"""Jobs: work that happens after the change that asked for it (mail now, DOI registration later).

A change queues a job in its own transaction (:func:`docket.jobs.queue.enqueue`, once per
idempotency key); a worker (:func:`run`, ``docket jobs run``, or :func:`run_soon` in-process
after each command) claims due jobs atomically, runs each through the handler of its kind
(:mod:`docket.jobs.registry`), and retries with backoff what may succeed later. ``docket jobs``
lists them; ``docket jobs retry ID`` queues a failed one again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from docket.jobs import queue
from docket.jobs.registry import JobContext, JobKind, Permanent, Transient, register
from docket.jobs.worker import run, run_soon

__all__ = ["JobContext", "JobKind", "Permanent", "Transient", "listing", "register", "retry", "run",
           "run_soon"]


def listing(docket: Any, *, status: str | None = None, request_id: str | None = None,
            limit: int | None = None) -> list[dict[str, Any]]:
    """The jobs of an instance, newest first, as ``docket jobs --json`` shows them (staff only:
    they name who is mailed about what)."""
    from docket.jobs import registry

    docket.staff_actor("list jobs")

    with docket.store.connect() as conn:
        rows = queue.listing(conn, status=status, request_id=request_id, limit=limit)
    out = []
    for row in rows:
        kind = registry.get(row.kind)
        out.append(queue.as_dict(row, kind.describe if kind else None))
    return out


def retry(docket: Any, job_id: int, *, now: datetime | None = None, force: bool = False) -> dict[str, Any]:
    """Queue a failed job again, due ``now``, with its attempts reset (see :func:`queue.retry`)."""
    from docket.jobs import registry

    docket.staff_actor("retry jobs")

    with docket.store.transaction() as conn:
        row = queue.retry(conn, job_id, now or datetime.now(UTC), force=force)
    kind = registry.get(row.kind)
    return queue.as_dict(row, kind.describe if kind else None)
