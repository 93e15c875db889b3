"""docket's checks against ``frictionless validate`` (v5) on the repository's examples (issue 11).

Both run on every CSV of ``examples/data`` (with its Table Schema) and on the Data Packages of
``examples/packages``; their findings are compared as sets of (check id, data row, column
number). Every error frictionless reports must be one docket reports at the same place, and
every docket finding frictionless lacks must be of a check in ``DOCKET_ONLY`` or written down in
``DIFFERENCES`` with its reason. docs/frictionless-parity.md is the readable account of the same
comparison; a test below keeps it naming every extra check and difference.

Conventions (found on these files): frictionless' ``rowNumber`` counts the header as row 1, so
docket's data row is ``rowNumber - 1`` (header errors: row 0). Columns are compared by number
(frictionless ``fieldNumber``, docket ``position``), not by name, because for header errors
frictionless names the schema's field (``site``) and docket the label in the file (``''``).
Row-level errors (a repeated or dangling key, a ragged or blank row) are compared by row alone:
frictionless gives them no column, or one per missing cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

frictionless = pytest.importorskip(
    "frictionless",
    reason="frictionless is not installed (it is in the `test` extra): nothing to compare with",
)

from docket.checks import check_table  # noqa: E402
from docket.checks.package import check_package  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
PACKAGES = ROOT / "examples" / "packages"
PARITY_DOC = ROOT / "docs" / "frictionless-parity.md"
CSV_FILES = sorted(p.name for p in DATA.glob("*.csv"))
PACKAGE_DIRS = sorted(p.parent.name for p in PACKAGES.glob("*/datapackage.json"))
#: Large enough that no check caps its locations on these files.
SAMPLE = 10**6

#: (docket check id, data row or None, 1-based column number or None)
Finding = tuple[str, int | None, int | None]

#: frictionless error type -> the docket check that reports the same failure.
ERROR_TYPES: dict[str, str] = {
    "type-error": "table.type",
    "missing-cell": "table.column-count",
    "extra-cell": "table.column-count",
    "blank-row": "table.blank-row",
    "blank-label": "table.blank-header",
    "duplicate-label": "table.duplicate-header",
    "incorrect-label": "table.header",
    "extra-label": "table.header",
    "missing-label": "table.header",
    "primary-key": "table.primary-key",
    "foreign-key": "table.foreign-key",
    "unique-error": "table.unique",
    "encoding-error": "table.encoding",
}
#: constraint named in a frictionless constraint-error's note -> docket check.
CONSTRAINTS: dict[str, str] = {
    "required": "table.required",
    "minimum": "table.minimum",
    "exclusiveMinimum": "table.minimum",
    "maximum": "table.maximum",
    "exclusiveMaximum": "table.maximum",
    "enum": "table.enum",
    "pattern": "table.pattern",
    "minLength": "table.length",
    "maxLength": "table.length",
    "unique": "table.unique",
}
#: Checks compared by row only (frictionless names no column, or every missing cell).
ROW_LEVEL = {
    "table.column-count", "table.blank-row", "table.primary-key", "table.foreign-key",
    "table.duplicate-row",
}

#: docket's extra checks: what frictionless' default validation does not look for, and why.
#: Any docket finding frictionless lacks must be of one of these (or a listed difference).
DOCKET_ONLY: dict[str, str] = {
    "table.encoding": "docket expects UTF-8 unless an encoding is declared; frictionless guesses "
    "one with chardet and reads latin1.csv without error (as Big5-HKSCS with chardet 7)",
    "table.bom": "frictionless reads a UTF-8 byte-order mark as utf-8-sig and says nothing; "
    "docket warns, as the Data Resource spec recommends UTF-8 without BOM",
    "table.line-endings": "CRLF or mixed line endings are valid CSV; docket notes them (info) "
    "for the congruence with a declared dialect",
    "table.missing-values": "an undeclared no-value code (NA, n/a) is a type error in both; "
    "docket also warns that it looks like a missing value the schema does not declare",
    "table.duplicate-row": "frictionless has it only as an opt-in check (checks.duplicate_row); "
    "docket runs it by default as a warning",
}


@dataclass(frozen=True)
class Difference:
    """A place where docket and frictionless genuinely disagree on one example, and why."""

    reason: str
    frictionless_only: frozenset[Finding] = frozenset()
    docket_only: frozenset[Finding] = frozenset()
    #: What docket reports at the place of a frictionless-only error instead.
    docket_instead: frozenset[Finding] = field(default=frozenset())


DIFFERENCES: dict[str, Difference] = {
    "type_errors.csv": Difference(
        reason="obs_id '3a' is no integer. frictionless casts the bad cell to null, then its "
        "primary-key check sees a null key ('cells composing the primary keys are all "
        "\"None\"'). The value is not missing (only missingValues make a value null), so "
        "docket reports it once, as the type error it is.",
        frictionless_only=frozenset({("table.primary-key", 3, None)}),
        docket_instead=frozenset({("table.type", 3, 1)}),
    ),
    "missing_values.csv": Difference(
        reason="obs_id is empty in row 4. Table Schema: a primary key field is 'equivalent to "
        "adding required: true'; frictionless reports the empty key twice (constraint "
        "'required' and primary-key 'all \"None\"'), docket once, as table.required.",
        frictionless_only=frozenset({("table.primary-key", 4, None)}),
        docket_instead=frozenset({("table.required", 4, 1)}),
    ),
    "bad_headers.csv": Difference(
        reason="frictionless reports at most one label error per column: a blank or repeated "
        "label is not also compared with the field's name (incorrect-label). docket also says "
        "that the schema declares 'site' (column 3) and 'humidity' (column 7) there.",
        docket_only=frozenset({("table.header", 0, 3), ("table.header", 0, 7)}),
    ),
}


def schema_for(name: str) -> Path:
    """The Table Schema of an example CSV, as tests/test_checks.py pairs them."""
    return DATA / ("survey.schema.json" if name == "survey.csv" else "observations.schema.json")


def validate_csv(name: str, checks: list[Any] | None = None, **options: Any) -> Any:
    """frictionless on an example CSV with its schema. Paths are given relative to a basepath:
    frictionless refuses an absolute path as "not safe"."""
    resource = frictionless.Resource(
        path=name, basepath=str(DATA), schema=schema_for(name).name, **options
    )
    return frictionless.validate(resource, checks=checks or [], limit_errors=SAMPLE)


def frictionless_finding(error: dict[str, Any]) -> Finding:
    """One frictionless error (its descriptor) as the docket finding it corresponds to."""
    kind, note = error["type"], error.get("note", "")
    if kind == "constraint-error":
        match = re.search(r'constraint "(\w+)"', note)
        assert match and match.group(1) in CONSTRAINTS, f"unmapped constraint: {error}"
        check = CONSTRAINTS[match.group(1)]
    elif kind == "source-error" and note == "the source is empty":
        return ("table.empty", None, None)
    else:
        assert kind in ERROR_TYPES, f"frictionless error with no docket counterpart: {error}"
        check = ERROR_TYPES[kind]
    if "rowNumber" in error:
        row: int | None = error["rowNumber"] - 1
    elif "rowNumbers" in error:  # a header error: the header is docket's row 0
        row = error["rowNumbers"][-1] - 1
    else:
        row = None
    column = None if check in ROW_LEVEL else error.get("fieldNumber")
    return (check, row, column)


def frictionless_findings(report: Any) -> dict[str, set[Finding]]:
    """Findings per task (the file's or resource's name) of a frictionless report."""
    out: dict[str, set[Finding]] = {}
    for task in report.tasks:
        found = out.setdefault(task.name, set())
        found.update(frictionless_finding(e.to_descriptor()) for e in task.errors)
    assert not report.errors, f"frictionless could not validate: {report.errors}"
    return out


def docket_findings(report: Any) -> dict[str | None, set[Finding]]:
    """Findings per file of every failing docket check (errors, warnings and info notes)."""
    out: dict[str | None, set[Finding]] = {}
    for check in report.checks:
        if check.status not in ("error", "warn", "info"):
            continue
        found = out.setdefault(check.file, set())
        if not check.locations:  # e.g. table.line-endings: a count, no place
            found.add((check.id, None, None))
            continue
        assert not check.locations_truncated, f"{check.id} capped its locations"
        for loc in check.locations:
            column = None if check.id in ROW_LEVEL else loc.get("position")
            found.add((check.id, loc["row"], column))
    return out


def compare(name: str, theirs: set[Finding], ours: set[Finding]) -> None:
    """Assert parity on one file: frictionless' errors all found, docket's extras all explained."""
    diff = DIFFERENCES.get(name, Difference(reason=""))
    missed = theirs - ours - diff.frictionless_only
    assert not missed, f"{name}: frictionless finds what docket does not: {sorted(missed, key=str)}"
    unexplained = {f for f in ours - theirs - diff.docket_only if f[0] not in DOCKET_ONLY}
    assert not unexplained, f"{name}: unexplained docket-only: {sorted(unexplained, key=str)}"
    # A written-down difference must still be one, or the docs are out of date.
    assert diff.frictionless_only <= theirs - ours, f"{name}: stale difference {diff}"
    assert diff.docket_only <= ours - theirs, f"{name}: stale difference {diff}"
    assert diff.docket_instead <= ours, f"{name}: docket no longer reports {diff.docket_instead}"


@pytest.mark.parametrize("name", CSV_FILES)
def test_example_file_same_errors(name: str) -> None:
    """Each example CSV: frictionless' errors are docket's, docket's extras are explained."""
    path, schema = DATA / name, schema_for(name)
    theirs = frictionless_findings(validate_csv(name))
    ours = docket_findings(check_table(path, schema, sample_size=SAMPLE))
    assert set(ours) <= {name}, ours
    compare(name, set().union(*theirs.values()), ours.get(name, set()))


@pytest.mark.parametrize("package", PACKAGE_DIRS)
def test_example_package_same_errors(package: str) -> None:
    """Each example Data Package, resource by resource (foreign keys across resources)."""
    descriptor = PACKAGES / package / "datapackage.json"
    theirs = frictionless_findings(frictionless.validate(str(descriptor), limit_errors=SAMPLE))
    ours = docket_findings(check_package(descriptor, sample_size=SAMPLE))
    assert set(theirs) == {"sites", "observations"}, theirs
    assert set(ours) <= set(theirs), f"docket findings outside the resources: {ours}"
    for resource, found in theirs.items():
        compare(f"{package}/{resource}", found, ours.get(resource, set()))


def test_broken_package_has_the_seeded_foreign_key_errors() -> None:
    """Guards the comparison itself: both must see the two dangling site_id values."""
    descriptor = PACKAGES / "broken-fk" / "datapackage.json"
    theirs = frictionless_findings(frictionless.validate(str(descriptor)))
    expected = {("table.foreign-key", 2, None), ("table.foreign-key", 5, None)}
    assert theirs["observations"] == expected
    assert docket_findings(check_package(descriptor))["observations"] == expected


def test_latin1_with_utf8_declared_both_report_the_encoding() -> None:
    """table.encoding is an extra only because frictionless guesses the encoding: told UTF-8
    (the encoding docket expects), frictionless stops at the same first bad byte."""
    path = DATA / "latin1.csv"
    report = validate_csv(path.name, encoding="utf-8")
    errors = [e.to_descriptor() for task in report.tasks for e in task.errors]
    assert [e["type"] for e in errors] == ["encoding-error"], errors
    assert "byte 0xe8 in position 75" in errors[0]["note"]
    first = check_table(path, schema_for(path.name)).get("table.encoding").locations[0]
    assert first["note"] == "invalid byte(s) E8 at byte offset 75"


def test_duplicate_row_matches_frictionless_opt_in_check() -> None:
    """docket's default duplicate-row warning is frictionless' opt-in duplicate_row check."""
    path = DATA / "duplicate_rows.csv"
    report = validate_csv(path.name, checks=[frictionless.checks.duplicate_row()])
    rows = {e.to_descriptor()["rowNumber"] - 1 for task in report.tasks for e in task.errors
            if e.type == "duplicate-row"}
    located = check_table(path, schema_for(path.name)).get("table.duplicate-row").locations
    assert rows == {loc["row"] for loc in located} == {7}


def test_every_extra_and_difference_is_used_and_documented() -> None:
    """The lists above must not rot: each extra check occurs on some example, and the docs
    name every extra check and every file with a difference."""
    used = set()
    for name in CSV_FILES:
        for found in docket_findings(check_table(DATA / name, schema_for(name))).values():
            used |= {f[0] for f in found}
    assert set(DOCKET_ONLY) <= used, set(DOCKET_ONLY) - used
    assert set(DIFFERENCES) <= set(CSV_FILES)
    doc = PARITY_DOC.read_text(encoding="utf-8")
    for item in [*DOCKET_ONLY, *DIFFERENCES]:
        assert f"`{item}`" in doc, f"{item} is not explained in {PARITY_DOC.name}"
