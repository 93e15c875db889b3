"""The worker: runs due jobs one at a time, each through the handler of its kind.

Each job is claimed in a short transaction of its own (see :mod:`docket.jobs.queue`), run with
no transaction open (a mail server may take seconds; the store must not wait on it), and settled
in another: ``done`` with its result, ``queued`` again with a later ``next_try`` (exponential
backoff, ``[jobs]`` settings) when it may succeed later, or ``failed`` when it cannot or has used
its attempts. When a handler says its service cannot be reached, the other jobs of that kind are
left queued for this run instead of each waiting on the same dead server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from docket.errors import DocketError
from docket.jobs import queue, registry
from docket.jobs.registry import JobContext, Permanent, Transient
from docket.jobs.settings import JobSettings, job_settings

log = logging.getLogger("docket.jobs")


def run(docket: Any, *, now: datetime | None = None, limit: int | None = None,
        timeout: float | None = None) -> dict[str, Any]:
    """Run the jobs due at ``now`` (default: the clock), at most ``limit`` of them.

    Returns ``{"claimed", "done", "retried", "failed", "jobs": [...]}``: each job tried, with its
    new status, attempts, next try and error. A job is tried at most once per run. ``timeout``
    bounds each network operation (None: the kind's own setting, e.g. ``[smtp] timeout``).
    """
    settings = job_settings(docket.config)
    seen: set[int] = set()
    down: set[str] = set()
    shared: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {"claimed": 0, "done": 0, "retried": 0, "failed": 0, "jobs": []}
    def clock() -> datetime:
        return _utc(now) if now is not None else datetime.now(UTC)

    try:
        while limit is None or len(seen) < limit:
            at = clock()
            with docket.store.transaction() as conn:
                row = queue.claim_next(conn, at, skip_ids=seen, skip_kinds=down)
            if row is None:
                break
            seen.add(row.id)
            summary["claimed"] += 1
            entry = _run_one(docket, row, settings, clock, timeout, shared.setdefault(row.kind, {}), down)
            summary[{"done": "done", "queued": "retried", "failed": "failed"}[entry["status"]]] += 1
            summary["jobs"].append(entry)
    finally:
        for name, state in shared.items():
            kind = registry.get(name)
            if kind is not None and state:
                try:
                    kind.close(state)
                except Exception:  # noqa: BLE001 - closing a connection must not hide the summary
                    log.warning("closing the %s connections failed", name)
    return summary


def run_soon(docket: Any) -> dict[str, Any] | None:
    """Run what is due now, briefly, after a command changed something; never raises.

    The command's own change is committed already: a mail server that is down (or a broken
    ``[smtp]`` setting) must not turn its success into an error. Jobs that do not go out now stay
    queued for ``docket jobs run``. Network timeouts are ``[jobs] soon_timeout`` (default 5 s) and
    at most ``[jobs] soon_limit`` jobs are tried. Returns the run's summary, or None if it could
    not run at all.
    """
    try:
        settings = job_settings(docket.config)
        return run(docket, limit=settings.soon_limit, timeout=settings.soon_timeout)
    except DocketError as exc:
        log.warning("jobs were not run now (%s); 'docket jobs run' will send them", exc.message)
    except Exception as exc:  # noqa: BLE001 - the user's command succeeded; say so, keep going
        log.warning("jobs were not run now (%s); 'docket jobs run' will send them", type(exc).__name__)
    return None


def _run_one(docket: Any, row: Any, settings: JobSettings, clock: Callable[[], datetime], timeout: float | None,
             shared: dict[str, Any], down: set[str]) -> dict[str, Any]:
    kind = registry.get(row.kind)
    error: str
    retry = False
    result: dict[str, Any] | None = None
    if kind is None:
        error = f"no handler for job kind {row.kind!r} (known: {', '.join(registry.names())})"
    else:
        context = JobContext(docket=docket, job_id=row.id, kind=row.kind, key=row.key, request_id=row.request_id,
                             attempts=row.attempts, now=clock(), timeout=timeout, shared=shared)
        try:
            result = kind.handle(context, dict(row.payload or {}))
        except Transient as exc:
            error, retry = exc.message, True
            if exc.unavailable:
                down.add(row.kind)
        except Permanent as exc:
            error = exc.message
        except DocketError as exc:  # a broken setting: fixable, so tried again later
            error, retry = exc.message, True
            down.add(row.kind)
        except Exception as exc:  # noqa: BLE001 - a bug in a handler fails its job, not the worker
            log.exception("job %s (%s) raised", row.id, row.kind)
            error, retry = f"internal error in the {row.kind} handler ({type(exc).__name__})", True
    finished = clock()
    next_try: datetime | None = None
    with docket.store.transaction() as conn:
        if result is not None:
            queue.finish(conn, row.id, result, finished)
            status = "done"
        elif retry and row.attempts < settings.max_attempts:
            next_try = finished + timedelta(seconds=settings.delay(row.attempts))
            queue.reschedule(conn, row.id, error, next_try, finished)
            status = "queued"
        else:
            if retry:
                error = f"{error} (gave up after {row.attempts} attempts)"
            queue.fail(conn, row.id, error, finished)
            status = "failed"
    describe = kind.describe if kind is not None else None
    return {"id": row.id, "kind": row.kind, "status": status, "attempts": row.attempts,
            "next_try": next_try.isoformat() if next_try else None,
            "error": None if status == "done" else error,
            "what": describe(dict(row.payload or {})) if describe else ""}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
