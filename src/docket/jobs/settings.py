"""The ``[jobs]`` table of ``docket.toml``: how often and how long the worker retries.

A job whose handler fails for a reason that may pass (a mail server down, a timeout, a 4xx reply)
is tried again after ``backoff_base * 2**(attempts-1)`` seconds, never more than ``backoff_cap``,
until ``max_attempts``; then it is ``failed`` and waits for ``docket jobs retry``. Tests set the
times to milliseconds instead of sleeping for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docket.errors import InstanceError

_WHERE = "docket.toml [jobs]"


@dataclass(frozen=True)
class JobSettings:
    """How the worker schedules retries, and how much the in-process run after a command may do."""

    backoff_base: float = 30.0  # seconds before the second try
    backoff_cap: float = 3600.0  # the longest wait between two tries
    max_attempts: int = 10  # then the job is failed
    soon_timeout: float = 5.0  # network timeout of the run after each command (the user waits)
    soon_limit: int = 20  # how many jobs that run may take on

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try (exponential, capped)."""
        return min(self.backoff_cap, self.backoff_base * 2 ** max(0, min(attempts - 1, 60)))


def _seconds(table: dict[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise InstanceError(f"{_WHERE}: {key} must be a number of seconds (0 or more), not {value!r}")
    return float(value)


def _count(table: dict[str, Any], key: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InstanceError(f"{_WHERE}: {key} must be a whole number of at least 1, not {value!r}")
    return value


def job_settings(config: Any) -> JobSettings:
    """The ``[jobs]`` settings of an instance, each bad value named (exit 2)."""
    table = getattr(config, "extra", {}).get("jobs", {})
    if not isinstance(table, dict):
        raise InstanceError(f"{_WHERE} must be a table, like [jobs] backoff_base = 30")
    known = {"backoff_base", "backoff_cap", "max_attempts", "soon_timeout", "soon_limit"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InstanceError(f"{_WHERE}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    settings = JobSettings(
        backoff_base=_seconds(table, "backoff_base", JobSettings.backoff_base),
        backoff_cap=_seconds(table, "backoff_cap", JobSettings.backoff_cap),
        max_attempts=_count(table, "max_attempts", JobSettings.max_attempts),
        soon_timeout=_seconds(table, "soon_timeout", JobSettings.soon_timeout),
        soon_limit=_count(table, "soon_limit", JobSettings.soon_limit),
    )
    if settings.soon_timeout == 0:
        raise InstanceError(f"{_WHERE}: soon_timeout must be more than 0 seconds")
    return settings
