"""What the provider's page shows, read from a quality report: summaries, failing checks, places.

The page template only lays out what this module decides: which checks count as problems (and in
which order), what each file's summary line says, how a location reads (row 0 is the header; an
empty value is not the same as no value). Keeping the decisions here, in plain Python over the
report's JSON, lets them be read and tested without any HTML, and keeps the template free of logic.

Input is the report as JSON (``report_version`` 1.x, :mod:`docket.checks.report`): members added
by a later minor version are ignored, none is required beyond what 1.0 requires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: How problems are ordered on the page: what blocks publication first.
PROBLEM_ORDER = {"error": 0, "warn": 1, "info": 2}


@dataclass(frozen=True)
class Place:
    """One location of a failing check, as the page shows it (``None``: nothing to show)."""

    file: str | None
    row: int | None
    line: int | None  # a physical line of the file, when the place is not a data row
    column: str | None
    value: Any
    note: str | None

    @property
    def value_kind(self) -> str:
        """``none`` (the report has no value), ``empty`` (an empty string), or ``text``."""
        if self.value is None:
            return "none"
        return "empty" if self.value == "" else "text"

    @property
    def value_text(self) -> str:
        """The value as text: strings as they are, anything else as JSON."""
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Problem:
    """A check that did not pass (error, warning or note), with its places."""

    id: str
    name: str
    description: str
    status: str
    file: str | None
    expected: str
    found: str
    count: int
    counts: dict[str, int]
    suggestion: str | None
    places: list[Place]

    @property
    def anchor(self) -> str:
        """A fragment id for links from elsewhere on the page (ids and file names are safe once
        escaped, but an id must not contain spaces)."""
        return "check-" + "-".join((self.id + " " + (self.file or "")).split())

    @property
    def unlisted(self) -> int:
        """How many occurrences the report counted but did not list."""
        return max(self.count - len(self.places), 0)


@dataclass
class FileLine:
    """One line of the summary table: a file (or the request's metadata, ``name`` None)."""

    name: str | None
    rows: int | None = None
    checked: bool = True
    reason: str | None = None
    passed: int = 0
    warnings: int = 0
    errors: int = 0
    notes: int = 0
    not_checked: int = 0

    @property
    def verdict(self) -> str:
        """The status word of the line: ``error``, ``warn``, ``not-checked`` or ``valid``."""
        if self.errors:
            return "error"
        if self.warnings:
            return "warn"
        if not self.checked:
            return "not-checked"
        return "valid"


@dataclass
class Page:
    """Everything the page shows, in the order it shows it."""

    subject: str
    valid: bool
    created: str
    version: str
    generator: str
    lines: list[FileLine]
    total: FileLine
    problems: list[Problem]
    skipped: list[Problem]
    notes: list[str]
    request: dict[str, Any] = field(default_factory=dict)


def _place(loc: Mapping[str, Any]) -> Place:
    column = loc.get("column")
    if column is None and loc.get("position") is not None:
        column = f"#{loc['position']}"
    if column is None and loc.get("path"):
        column = str(loc["path"])
    return Place(file=loc.get("file"), row=loc.get("row"), line=loc.get("line"), column=column,
                 value=loc.get("value"), note=loc.get("note"))


def _problem(check: Mapping[str, Any]) -> Problem:
    return Problem(
        id=str(check["id"]), name=str(check.get("name") or check["id"]),
        description=str(check.get("description") or ""), status=str(check["status"]),
        file=check.get("file"), expected=str(check.get("expected") or ""),
        found=str(check.get("found") or ""), count=int(check.get("count") or 0),
        counts={str(k): int(v) for k, v in (check.get("counts") or {}).items()},
        suggestion=check.get("suggestion"),
        places=[_place(loc) for loc in check.get("locations") or []],
    )


def _summary_lines(report: Mapping[str, Any]) -> list[FileLine]:
    """One line per file the report names (its own order), then the request's metadata checks."""
    lines: dict[str | None, FileLine] = {}
    for f in report.get("files") or []:
        lines[f["name"]] = FileLine(name=f["name"], rows=f.get("rows"), checked=bool(f.get("checked", True)),
                                    reason=f.get("reason"))
    for check in report.get("checks") or []:
        name = check.get("file")
        line = lines.setdefault(name, FileLine(name=name))
        status, count = check["status"], int(check.get("count") or 0)
        if status == "valid":
            line.passed += 1
        elif status == "error":
            line.errors += count
        elif status == "warn":
            line.warnings += count
        elif status == "info":
            line.notes += count
        else:
            line.not_checked += 1
    # the request's own checks (metadata) last: a provider looks for their files first
    if None in lines:
        lines[None] = lines.pop(None)
    return list(lines.values())


def build_page(report: Mapping[str, Any], request: Mapping[str, Any] | None = None) -> Page:
    """The page of ``report`` (a quality report's JSON), for the request it checked if given."""
    lines = _summary_lines(report)
    total = FileLine(name=None, rows=sum(line.rows or 0 for line in lines),
                     checked=any(line.checked for line in lines),
                     passed=sum(line.passed for line in lines),
                     warnings=sum(line.warnings for line in lines),
                     errors=sum(line.errors for line in lines), notes=sum(line.notes for line in lines),
                     not_checked=sum(line.not_checked for line in lines))
    checks = [_problem(c) for c in report.get("checks") or []]
    problems = sorted((p for p in checks if p.status in PROBLEM_ORDER),
                      key=lambda p: PROBLEM_ORDER[p.status])  # stable: the report's own order within
    subject_info = report.get("subject") or {}
    subject = _subject(subject_info, report)
    generator = report.get("generator") or {}
    return Page(
        subject=subject, valid=bool(report.get("valid")), created=str(report.get("created") or ""),
        version=str(report.get("report_version") or ""),
        generator=" ".join(str(generator[k]) for k in ("name", "version") if generator.get(k)),
        lines=lines, total=total, problems=problems,
        skipped=[p for p in checks if p.status == "not-checked"],
        notes=[str(n) for n in report.get("notes") or []],
        request=dict(request or {}),
    )


def _subject(subject: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """What the report is about, in a few words: ``ocean-0007.2``, or the file name."""
    if subject.get("id"):
        revision = subject.get("revision")
        return f"{subject['id']}.{revision}" if revision not in (None, "") else str(subject["id"])
    if subject.get("name"):
        return str(subject["name"])
    names = [str(f.get("name")) for f in report.get("files") or [] if f.get("name")]
    return ", ".join(names) or "docket"
