"""The QA check on units: ``metadata.units`` (family ``metadata``, a warning by default).

Every ``unit`` the request's Table Schema declares (``dataset_structural.fields``, or each
resource's schema of a Data Package) is read by UDUNITS-2 (:mod:`docket.vocabularies.units`);
a unit it does not know is a finding naming the column and the value. It is a warning, not an
error, since community units (``psu``, ``NTU``) are real; an instance may raise or silence it with
``[severities] "metadata.units" = "error" | "off"``. Registered with docket's own checks
(:data:`docket.checks.registry._BUILTIN_MODULES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from docket.checks.base import CheckResult, RecordCheck, RecordContext, clip
from docket.checks.registry import register
from docket.vocabularies.units import check as check_unit

STRUCTURAL = "metadata.dataset_structural"


def declared_units(record: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(dotted path, column name, unit)`` of every column that declares a unit."""
    structural = (record.get("metadata") or {}).get("dataset_structural")
    if not isinstance(structural, dict):
        return
    tables: list[tuple[str, Any]] = [(STRUCTURAL, structural)]
    resources = structural.get("resources")
    if isinstance(resources, list):
        tables += [(f"{STRUCTURAL}.resources[{i}].schema", r.get("schema"))
                   for i, r in enumerate(resources) if isinstance(r, dict)]
    for base, schema in tables:
        fields = schema.get("fields") if isinstance(schema, dict) else None
        if not isinstance(fields, list):
            continue
        for j, column in enumerate(fields):
            if isinstance(column, dict) and column.get("unit") not in (None, ""):
                yield f"{base}.fields[{j}].unit", str(column.get("name", "")), column["unit"]


@register
class Units(RecordCheck):
    id = "metadata.units"
    name = "Units"
    description = "Every unit a column declares is a UDUNITS-2 unit, as the CF conventions read them."
    family = "metadata"
    default_severity = "warn"
    expected = "units UDUNITS-2 reads (e.g. m s-1, degC, umol kg-1), or no unit"
    suggestion = ("Write the unit as UDUNITS-2 spells it (m s-1, degC, umol kg-1); a community unit "
                  "such as psu may stay if the data's users know it.")

    def run(self, context: RecordContext) -> list[CheckResult]:
        findings = self.findings(None)
        seen = 0
        for path, column, unit in declared_units(context.record):
            seen += 1
            verdict = check_unit(unit) if isinstance(unit, str) else None
            if verdict is None or not verdict.ok:
                note = verdict.message if verdict is not None else f"{unit!r} is not a text"
                findings.add([None], column or None, [clip(unit)], extra={"path": path, "note": note})
        if not seen:
            return [self.result(findings, found="no column declares a unit")]
        bad = "; ".join(f"{loc['column']}: {loc['value']!r}" for loc in findings.locations())
        found = f"{seen} units declared, all known" if not findings.count else \
            f"{findings.count} of {seen} units unknown to UDUNITS-2 ({bad})"
        return [self.result(findings, found=found)]
