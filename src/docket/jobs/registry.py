"""Job kinds: what the worker does with a job, looked up by the job's ``kind``.

A kind is a :class:`JobKind` (a handler and a one-line description of a payload). The kinds
docket ships (``notify`` now; ``doi`` with publication) are named here by import path and loaded
when a job of that kind first runs, so the worker never imports what it does not use; a plug-in
adds its own with :func:`register`. A handler returns the job's result (JSON) or raises
:class:`Transient` (try again later) or :class:`Permanent` (failed at once, with the reason).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The kinds docket ships, as "module:attribute" of their :class:`JobKind`.
BUILTIN: dict[str, str] = {
    "notify": "docket.notify.handler:KIND",
    "doi": "docket.steps.doi:KIND",
}
_KINDS: dict[str, JobKind] = {}


class JobError(Exception):
    """A handler's failure; ``message`` is stored as the job's ``last_error`` (so: no secrets)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Transient(JobError):
    """The job may succeed later (server down, timeout, 4xx): it is retried with backoff.

    ``unavailable`` says the service itself cannot be reached, so the worker leaves the other jobs
    of this kind queued for this run instead of waiting on a dead server once per job.
    """

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class Permanent(JobError):
    """Trying again cannot help (recipient refused with 5xx, bad template): failed at once."""


@dataclass
class JobContext:
    """What a handler gets besides its payload: the instance, the job, the time, and a timeout."""

    docket: Any  # docket.api.Docket: .store, .config, .instance
    job_id: int
    kind: str
    key: str | None
    request_id: str | None
    attempts: int  # including this one
    now: datetime
    timeout: float | None  # network timeout for this run (None: the kind's own setting)
    shared: dict[str, Any] = field(default_factory=dict)  # per-run state of the kind (connections...)


@dataclass(frozen=True)
class JobKind:
    """One kind of job: how to run it, and how to name a payload in ``docket jobs``."""

    name: str
    handle: Callable[[JobContext, dict[str, Any]], dict[str, Any]]
    describe: Callable[[dict[str, Any]], str] = lambda payload: ""
    close: Callable[[dict[str, Any]], None] = lambda shared: None  # end of a run: release shared


def register(kind: JobKind) -> None:
    """Add (or replace) a kind; jobs of that kind run through it from now on."""
    _KINDS[kind.name] = kind


def get(name: str) -> JobKind | None:
    """The kind called ``name``, loading a built-in one on first use; None if there is none."""
    if name not in _KINDS and name in BUILTIN:
        module, _, attribute = BUILTIN[name].partition(":")
        register(getattr(importlib.import_module(module), attribute))
    return _KINDS.get(name)


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(_KINDS))
