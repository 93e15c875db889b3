"""The quality report: a stable, documented, versioned JSON document (docs/quality-report.md).

``{"report_version": "1.0", "generator": ..., "created": ..., "subject": ..., "valid": ...,
"summary": {...}, "files": [...], "checks": [...]}``, one entry in ``checks`` per check and
subject (the record, or one file). The JSON Schema is ``report.schema.json`` beside this module;
:func:`validate_report` checks any report (ours or one read back from disk) against it.

Versioning: a change that only adds optional members bumps the minor version (1.1); renaming,
removing or changing the meaning of a member bumps the major version. Readers should accept any
``1.x`` report.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from docket.checks.base import STATUSES, CheckResult
from docket.errors import InvalidDocument, Problem

REPORT_VERSION = "1.0"


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report format."""
    text = resources.files("docket.checks").joinpath("report.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_report(data: dict[str, Any]) -> None:
    """Raise :class:`InvalidDocument` listing every way ``data`` departs from the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema())
    problems = [
        Problem("/" + "/".join(str(p) for p in err.absolute_path), err.message)
        for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise InvalidDocument(f"the quality report does not match report {REPORT_VERSION}", problems)


class Report:
    """Results of one run of checks, with the files they looked at."""

    def __init__(
        self,
        checks: list[CheckResult],
        files: list[dict[str, Any]] | None = None,
        *,
        subject: dict[str, Any] | None = None,
        created: str | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.checks = list(checks)
        self.files = list(files or [])
        self.subject = subject or {}
        self.created = created or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.notes = list(notes or [])

    # -- questions ----------------------------------------------------------------------------

    @property
    def has_errors(self) -> bool:
        """True when any check ended with status ``error`` (errors block publication)."""
        return any(c.status == "error" for c in self.checks)

    @property
    def valid(self) -> bool:
        return not self.has_errors

    def by_status(self, status: str) -> list[CheckResult]:
        return [c for c in self.checks if c.status == status]

    def get(self, check_id: str, file: str | None = None) -> CheckResult | None:
        """The result of ``check_id`` (for ``file`` when given), or None."""
        for c in self.checks:
            if c.id == check_id and (file is None or c.file == file):
                return c
        return None

    @property
    def summary(self) -> dict[str, Any]:
        counts = {s: 0 for s in STATUSES}
        for c in self.checks:
            counts[c.status] += 1
        return {
            "checks": len(self.checks),
            **counts,
            "errors": sum(c.count for c in self.checks if c.status == "error"),
            "warnings": sum(c.count for c in self.checks if c.status == "warn"),
            "has_errors": self.has_errors,
            "rows": sum(int(f.get("rows") or 0) for f in self.files),
        }

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        from docket import __version__

        return {
            "report_version": REPORT_VERSION,
            "generator": {"name": "docket", "version": __version__},
            "created": self.created,
            "subject": self.subject,
            "valid": self.valid,
            "summary": self.summary,
            "files": self.files,
            "checks": [c.as_dict() for c in self.checks],
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    def validate(self) -> None:
        validate_report(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        validate_report(data)
        return cls(
            [CheckResult.from_dict(c) for c in data["checks"]],
            data.get("files", []),
            subject=data.get("subject"),
            created=data.get("created"),
            notes=data.get("notes"),
        )

    @classmethod
    def load(cls, path: str | Path) -> Report:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidDocument(f"{path}: not a readable JSON report ({exc})") from None
        return cls.from_dict(data)

    # -- for people -----------------------------------------------------------------------------

    def text(self, max_locations: int = 5) -> str:
        """A readable summary: verdict, then every check that did not pass, with examples."""
        s = self.summary
        title = self.subject.get("name") or self.subject.get("id") or ", ".join(
            f.get("name", "") for f in self.files)
        verdict = "INVALID" if self.has_errors else "VALID"
        lines = [
            f"# {title}: {verdict} ({s['error']} checks with errors, {s['warn']} with warnings, "
            f"{s['valid']} passed, {s['not-checked']} not checked)"
        ]
        for f in self.files:
            if f.get("resource") is not None:  # a package: one line per resource, with its verdict
                lines.append(_resource_line(f))
            elif f.get("checked") and f.get("kind", "table") == "table":
                lines.append(
                    f"  {f['name']}: {f.get('rows', 0)} rows, {f.get('columns', 0)} columns, "
                    f"{f.get('encoding')}, delimiter {f.get('delimiter')!r}"
                )
            elif f.get("checked"):  # NetCDF, text, other files: what they are, not rows and columns
                variables = f" {len(f['variables'])} variables," if f.get("variables") else ""
                encoding = f" {f['encoding']}" if f.get("encoding") else ""
                lines.append(f"  {f['name']}: {f.get('media_type') or f.get('kind')},{variables}{encoding}".rstrip(","))
        order = {"error": 0, "warn": 1, "info": 2}
        failing = sorted((c for c in self.checks if c.status in order), key=lambda c: order[c.status])
        for c in failing:
            where = f" [{c.file}]" if c.file and len(self.files) > 1 else ""
            lines.append(f"{c.status:<5} {c.id}{where}: {c.found}")
            for loc in c.locations[:max_locations]:
                lines.append("        " + _describe_location(loc))
            if c.locations and c.count > min(len(c.locations), max_locations):
                lines.append(f"        ... {c.count - min(len(c.locations), max_locations)} more")
            if c.suggestion:
                lines.append(f"        -> {c.suggestion}")
        skipped = [c for c in self.checks if c.status == "not-checked"]
        if skipped:
            several = len(self.files) > 1
            lines.append("not checked: " + "; ".join(
                f"{c.id}{f' [{c.file}]' if several and c.file else ''} ({c.found})" for c in skipped))
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def _resource_line(f: dict[str, Any]) -> str:
    """A resource's section heading in a package report: name, path, verdict, shape."""
    head = f"  resource {f['resource']!r} ({f.get('path') or 'inline data'})"
    if not f.get("checked"):
        return f"{head}: not checked ({f.get('reason')})"
    verdict = "VALID" if f.get("valid", True) else "INVALID"
    return (f"{head}: {verdict}, {f.get('rows', 0)} rows, {f.get('columns', 0)} columns, "
            f"{f.get('encoding')}, delimiter {f.get('delimiter')!r}")


def _describe_location(loc: dict[str, Any]) -> str:
    parts = []
    if loc.get("file") and loc.get("row") is None and loc.get("path") is None:
        parts.append(str(loc["file"]))
    if loc.get("row") is not None:
        parts.append("header" if loc["row"] == 0 else f"row {loc['row']}")
    if loc.get("line") is not None:
        parts.append(f"line {loc['line']}")
    if loc.get("column") is not None:
        parts.append(f"column {loc['column']!r}")
    elif loc.get("position") is not None:
        parts.append(f"column {loc['position']}")
    if loc.get("path"):
        parts.append(str(loc["path"]))
    text = ", ".join(parts)
    if loc.get("value") is not None:
        text += f": {loc['value']!r}"
    if loc.get("note"):
        text += f" ({loc['note']})"
    return text


def build_report(
    results: list[CheckResult],
    files: list[dict[str, Any]] | None = None,
    *,
    subject: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> Report:
    """A :class:`Report` from check results, ordered by family, file, then registry order."""
    family_order = {"congruence": 0, "metadata": 1, "table": 2}
    ordered = sorted(
        enumerate(results),
        key=lambda item: (family_order.get(item[1].family, 3), item[1].file or "", item[0]),
    )
    return Report([r for _, r in ordered], files, subject=subject, notes=notes)
