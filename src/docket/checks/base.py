"""What a check is and what it produces.

A check has an id, a name, a description and a default severity (DESIGN.md, "Quality checks and
reports"). Running it yields a :class:`CheckResult`: what was expected, what was found, a status
(``valid``, ``info``, ``warn``, ``error`` or ``not-checked``), an exact count of failures (overall
and per column) and a *capped* sample of where they are. The sample is always the first failures
in file order (by data row, then column position), so a run that reads the file in small chunks
reports exactly what a run in one chunk reports.

Row numbers in locations are 1-based numbers of data records: the first record after the header
is row 1 and the header itself is row 0. A record that spans several physical lines (a quoted
line break) is still one row.

Two kinds of checks exist:

* :class:`TableCheck` sees a CSV file as a stream of chunks (``start``, ``chunk``, ``finish``)
  and must work column-at-a-time on Arrow arrays, never cell by cell;
* :class:`RecordCheck` sees a request record (and measured file facts) and runs once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from docket.checks._scan import Chunk, TableContext

#: Statuses a result may have; the first three of the failing ones are also severities.
STATUSES = ("valid", "info", "warn", "error", "not-checked")
#: Severities a check may be given (``off`` skips the check: its result is ``not-checked``).
SEVERITIES = ("info", "warn", "error", "off")
#: Longest value (characters) copied into a location; longer values are cut and marked.
MAX_VALUE_CHARS = 200
#: Default number of locations kept per check result.
DEFAULT_SAMPLE_SIZE = 50


def clip(value: Any) -> Any:
    """A value fit for a location: strings longer than :data:`MAX_VALUE_CHARS` are cut."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + f"… ({len(value)} characters)"
    return value


@dataclass
class CheckResult:
    """The outcome of one check on one subject (a file, or the request record)."""

    id: str
    name: str
    description: str
    family: str
    severity: str
    status: str
    expected: str
    found: str
    file: str | None = None
    count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    locations: list[dict[str, Any]] = field(default_factory=list)
    locations_truncated: bool = False
    suggestion: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "severity": self.severity,
            "status": self.status,
            "file": self.file,
            "expected": self.expected,
            "found": self.found,
            "count": int(self.count),
            "counts": {str(k): int(v) for k, v in sorted(self.counts.items())},
            "locations": [dict(loc) for loc in self.locations],
            "locations_truncated": bool(self.locations_truncated),
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Findings:
    """Failures of one check: an exact count, counts per column and a capped, ordered sample.

    ``add`` takes failing rows of one column (as a numpy array of row numbers) and, optionally,
    their values; it keeps at most ``cap`` candidate locations per column, so memory stays
    bounded, and ``locations()`` merges them into the first ``cap`` in (row, column) order.
    """

    def __init__(self, cap: int = DEFAULT_SAMPLE_SIZE, file: str | None = None) -> None:
        self.cap = cap
        self.file = file
        self.count = 0
        self.counts: dict[str, int] = {}
        self._kept: dict[str, int] = {}
        self._sample: list[tuple[int, int, dict[str, Any]]] = []

    def add(
        self,
        rows: np.ndarray | Sequence[int],
        column: str | None = None,
        values: Iterable[Any] | None = None,
        *,
        position: int = -1,
        extra: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Record failures at ``rows`` of ``column``; ``values`` is read only for kept rows.

        ``values`` may be a callable taking the indices of the rows kept (so callers fetch only
        the few values they need), or a sequence aligned with ``rows``.
        """
        n = len(rows)
        if n == 0:
            return
        self.count += n
        key = column if column is not None else ""
        if column is not None:
            self.counts[column] = self.counts.get(column, 0) + n
        room = self.cap - self._kept.get(key, 0)
        if room <= 0:
            return
        take = min(room, n)
        self._kept[key] = self._kept.get(key, 0) + take
        idx = np.arange(take)
        if callable(values):
            vals = list(values(idx))
        elif values is None:
            vals = [None] * take
        else:
            vals = [values[int(i)] for i in idx]
        for i in range(take):
            loc: dict[str, Any] = {
                "file": self.file,
                "row": int(rows[i]) if rows[i] is not None else None,
                "column": column,
                "value": clip(vals[i]),
            }
            if position >= 0:
                loc["position"] = position + 1
            if extra is not None:
                loc.update(extra if isinstance(extra, dict) else extra[i])
            row_key = int(rows[i]) if rows[i] is not None else -1
            self._sample.append((row_key, position, loc))

    def locations(self) -> list[dict[str, Any]]:
        ordered = sorted(self._sample, key=lambda item: (item[0], item[1]))
        return [loc for _, _, loc in ordered[: self.cap]]

    @property
    def truncated(self) -> bool:
        return self.count > len(self.locations())


class Check:
    """Base of every check: identity plus how to turn findings into a :class:`CheckResult`."""

    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    family: ClassVar[str] = ""
    default_severity: ClassVar[str] = "error"
    #: What a passing subject looks like, in words (the ``expected`` of the result).
    expected: ClassVar[str] = ""
    #: What to do about failures (the ``suggestion`` of a failing result).
    suggestion: ClassVar[str | None] = None

    def __init__(self, severity: str | None = None, sample_size: int = DEFAULT_SAMPLE_SIZE) -> None:
        self.severity = severity or self.default_severity
        self.sample_size = sample_size

    # -- helpers shared by all checks -------------------------------------------------------

    def result(
        self,
        findings: Findings | None = None,
        *,
        found: str | None = None,
        status: str | None = None,
        expected: str | None = None,
        file: str | None = None,
        suggestion: str | None = None,
    ) -> CheckResult:
        """Build the result: failing findings take the check's severity as their status."""
        count = findings.count if findings else 0
        if status is None:
            status = self.severity if count else "valid"
        failing = status in ("info", "warn", "error")
        return CheckResult(
            id=self.id,
            name=self.name,
            description=self.description,
            family=self.family,
            severity=self.severity,
            status=status,
            expected=expected or self.expected,
            found=found if found is not None else ("as expected" if not count else f"{count} problems"),
            file=file if file is not None else (findings.file if findings else None),
            count=count,
            counts=dict(findings.counts) if findings else {},
            locations=findings.locations() if findings else [],
            locations_truncated=findings.truncated if findings else False,
            suggestion=(suggestion or self.suggestion) if failing else None,
        )

    def not_checked(self, why: str, file: str | None = None) -> CheckResult:
        """A result saying the check could not run, and why (never a traceback)."""
        return self.result(found=why, status="not-checked", file=file)

    def findings(self, file: str | None = None) -> Findings:
        return Findings(self.sample_size, file)


class TableCheck(Check):
    """A check on a CSV file, fed chunk by chunk by the scanner in :mod:`docket.checks._scan`.

    Subclasses keep only counts, capped samples and compact state (hashes, spilled to disk when
    large) between chunks. ``finish`` returns the result, or ``None`` when the check does not
    apply (e.g. no field declares a pattern); the scanner then records it as ``not-checked``.
    """

    family = "table"
    #: False for checks that only need the raw bytes or the header (they run on empty files).
    needs_data: ClassVar[bool] = True
    #: True for checks that compare against a declared Table Schema.
    needs_schema: ClassVar[bool] = False
    #: True when locations are named at the end without values; the scanner fills them in.
    fill_values: ClassVar[bool] = False

    def conclude(self, table: TableContext) -> CheckResult:
        """The result, or ``not-checked`` with the reason when the file or schema is lacking."""
        if self.needs_schema and not table.has_schema:
            return self.not_checked("no Table Schema was given", table.name)
        if self.needs_data and table.unreadable:
            return self.not_checked(table.unreadable, table.name)
        result = self.finish(table)
        if result is None:
            return self.not_checked("nothing in the schema asks for this check", table.name)
        if self.needs_data and table.parse_error and result.status != "not-checked":
            result.found += f" (rows after {table.parse_error_row - 1} could not be read)"
        return result

    def start(self, table: TableContext) -> None:
        self._findings = self.findings(table.name)

    def chunk(self, table: TableContext, chunk: Chunk) -> None:  # pragma: no cover - abstract
        pass

    def prepare(self, table: TableContext, chunk: Chunk) -> Iterable[Callable[[], object]]:
        """Steps that derive what :meth:`chunk` will need (parsed fields, hashes), run ahead.

        The scan reads the next chunk in a second thread and runs these steps there while the
        checks work on the current one, so both cores are busy. A step may only fill the
        chunk's caches (:meth:`Chunk.parsed`, :meth:`Chunk.memo`); it may run or not (the read
        stops preparing when the checks are waiting), so :meth:`chunk` never relies on it.
        """
        return ()

    def revisit(self, table: TableContext) -> np.ndarray | None:
        """Data rows (sorted) this check must see again before it can finish, after the scan.

        A check that can often conclude from compact state alone (duplicate rows, when a primary
        key shows no row repeats its key) names the few rows it needs in full; one more read
        hands them to :meth:`seen_again`. None (the default) or no rows: no second look.
        """
        return None

    def seen_again(self, table: TableContext, chunk: Chunk) -> None:
        """The rows :meth:`revisit` asked for that are in ``chunk`` (only those rows)."""

    def revisit_failed(self, table: TableContext, reason: str) -> None:
        """The second read failed (the file changed since the scan?): say so in the result."""

    def finish(self, table: TableContext) -> CheckResult | None:
        return self.result(self._findings, found=self.describe(self._findings, table))

    def describe(self, findings: Findings, table: TableContext) -> str:
        """The ``found`` text for a finished run; subclasses say it in their own words."""
        if not findings.count:
            return "as expected"
        cols = ", ".join(f"{c} ({n})" for c, n in sorted(findings.counts.items()))
        return f"{findings.count} values fail" + (f" in {cols}" if cols else "")


class RecordCheck(Check, ABC):
    """A check on a request record (metadata) or on declared vs measured file facts."""

    @abstractmethod
    def run(self, context: RecordContext) -> list[CheckResult]:
        """The check's results on one request record."""


@dataclass
class RecordContext:
    """What record checks read: the request record, its files on disk and their measured facts."""

    record: dict[str, Any]
    files: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, dict[str, Any]] = field(default_factory=dict)
