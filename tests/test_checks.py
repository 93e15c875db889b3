"""Quality checks and report: seeded errors in examples/data are found and located exactly.

The expectations come from the table in examples/data/README.md, so the documentation and the
tests cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from docket.checks import (
    CheckResult,
    Report,
    TableCheck,
    check_request,
    check_table,
    get,
    register,
    validate_report,
)
from docket.checks.registry import all_checks
from docket.cli import main as cli_main
from docket.errors import BadInput, InvalidDocument, NotFound

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
OBS_SCHEMA = DATA / "observations.schema.json"


def schema_for(name: str) -> Path:
    return DATA / ("survey.schema.json" if name == "survey.csv" else "observations.schema.json")


def seeded() -> dict[str, list[tuple[str, int | None, str | None, str | None]]]:
    """file -> [(check, row, column, value)] from the README table ('' row = no location)."""
    out: dict[str, list] = {}
    text = (DATA / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| file") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name, check, row, column, value = (cells + [""] * 5)[:5]
        entries = out.setdefault(name, [])
        if check == "(none)":
            continue
        entries.append((
            check,
            int(row) if row else None,
            None if column == "-" else column,
            None if value == "-" else value,
        ))
    return out


SEEDED = seeded()
CSV_FILES = sorted(p.name for p in DATA.glob("*.csv"))


def test_readme_covers_every_example_file():
    assert set(SEEDED) == set(CSV_FILES)


@pytest.mark.parametrize("name", CSV_FILES)
def test_every_seeded_error_is_found_and_located(name):
    report = check_table(DATA / name, schema_for(name))
    expected = SEEDED[name]
    failing = {c.id for c in report.checks if c.status in ("error", "warn", "info")}
    assert failing == {e[0] for e in expected}, report.text()
    for check, row, column, value in expected:
        result = report.get(check)
        assert result is not None and result.status in ("error", "warn", "info")
        if row is None:
            continue
        hits = [
            loc for loc in result.locations
            if loc["row"] == row and (column is None or loc["column"] == column)
            and (value is None or loc["value"] == value)
        ]
        if column is None:
            hits = [loc for loc in hits if loc["column"] is None or check == "table.header"]
        assert hits, f"{name}: {check} at row {row} column {column!r} value {value!r} not in " \
                     f"{result.locations}"
    # every located failure is one the README lists (nothing extra)
    for c in report.checks:
        if c.status in ("error", "warn") and c.locations and c.id != "table.header":
            assert c.count == sum(1 for e in expected if e[0] == c.id) or c.id == "table.encoding"
    assert report.has_errors == any(c.status == "error" for c in report.checks)
    report.validate()


def test_clean_file_is_valid_and_says_so():
    report = check_table(DATA / "clean.csv", OBS_SCHEMA)
    assert not report.has_errors
    assert {c.status for c in report.checks} <= {"valid", "not-checked"}
    assert report.summary["rows"] == 10
    data = json.loads(report.to_json())
    assert data["report_version"] == "1.0" and data["valid"] is True
    assert report.get("table.unique").status == "not-checked"  # nothing declares unique


def test_bad_dates_are_strict_about_the_calendar_and_the_format():
    report = check_table(DATA / "bad_dates.csv", OBS_SCHEMA)
    values = {loc["value"] for loc in report.get("table.type").locations}
    assert values == {"2021-02-30", "2021/03/05", "07-03-2021", "2021-04-31T06:00:00Z"}


def test_encoding_declared_latin1_is_valid():
    report = check_table(DATA / "latin1.csv", OBS_SCHEMA, encoding="latin-1")
    assert report.get("table.encoding").status == "valid"
    assert not report.has_errors


@pytest.mark.parametrize("name", CSV_FILES)
def test_tiny_chunks_and_spilled_hashes_give_the_same_report(name):
    whole = check_table(DATA / name, schema_for(name)).to_dict()
    chunked = check_table(DATA / name, schema_for(name), block_size=100, spill_rows=2).to_dict()
    for d in (whole, chunked):
        d.pop("created")
    assert chunked == whole


def test_chunking_keeps_row_numbers_with_quoted_newlines_and_ragged_rows(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(
        'id,text,n\n1,"two\nlines",5\n2,x,6,extra\n3,"a,b",x\n4,y\n5,"more\nlines\nhere",9\n'
        "6,z,bad\n1,dup,7\n"
    )
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "text"},
                         {"name": "n", "type": "integer"}], "primaryKey": "id"}
    for block in (32, 64, 1 << 20):
        report = check_table(path, schema, block_size=block, spill_rows=1)
        assert [loc["row"] for loc in report.get("table.column-count").locations] == [2, 4]
        assert [(loc["row"], loc["value"]) for loc in report.get("table.type").locations] == [
            (3, "x"), (6, "bad")]
        assert [(loc["row"], loc["note"]) for loc in report.get("table.primary-key").locations] \
            == [(7, "same as row 1")]


def test_sample_is_capped_but_counts_are_exact(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("n\n" + "x\n" * 500 + "1\n")
    report = check_table(path, {"fields": [{"name": "n", "type": "integer"}]}, sample_size=7)
    result = report.get("table.type")
    assert result.count == 500 and len(result.locations) == 7
    assert result.locations_truncated and [loc["row"] for loc in result.locations] == list(range(1, 8))
    assert result.counts == {"n": 500}


def test_an_unclosed_quote_is_named_with_its_line(tmp_path):
    path = tmp_path / "unclosed.csv"
    rows = [f'{i},"note {i}"' for i in range(1, 9)]
    rows[4] = '5,"note 5 is never closed'  # line 6 of the file (the header is line 1)
    path.write_text("id,note\n" + "\n".join(rows) + "\n")
    report = check_table(path, block_size=1 << 20)
    result = report.get("table.parsable")
    assert result.status == "error", report.text()
    assert "line 6" in result.found and "never closed" in result.found
    assert result.locations[0]["row"] == 5
    report.validate()
    balanced = tmp_path / "balanced.csv"
    balanced.write_text('id,note\n1,"she said ""hi"""\n2,"two\nlines"\n')
    assert check_table(balanced).get("table.parsable").status == "valid"


@pytest.mark.parametrize(
    ("content", "check", "fragment"),
    [
        (b"", "table.empty", "empty"),
        (b"a,b\n", "table.empty", "no data rows"),
        (b"\n\n", "table.empty", "no header"),
        (b"a,b\n1," + b"x" * (3 << 20) + b"\n2,y\n", "table.field-size", "longer"),
        (b"a,\n1,2\n", "table.blank-header", "without a name"),
        (b"a,a\n1,2\n", "table.duplicate-header", "repeated"),
        (b"a,b\n1,2\n\n3,4\n", "table.blank-row", "1 blank rows"),
        (b"a,b\n1,2\n3\n4,5,6\n", "table.column-count", "2 rows"),
        (b"a,b\r\n1,2\n", "table.line-endings", "mixed"),
        (b"a,b\n\xff\xfe,2\n", "table.encoding", "not valid utf-8"),
    ],
)
def test_broken_files_become_report_entries(tmp_path, content, check, fragment):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    report = check_table(path, block_size=1 << 20)
    result = report.get(check)
    assert result.status in ("error", "warn", "info"), report.text()
    assert fragment in result.found
    report.validate()


def test_a_row_longer_than_the_largest_block_is_reported_not_raised(tmp_path, monkeypatch):
    from docket.checks import _scan

    monkeypatch.setattr(_scan, "MAX_BLOCK_SIZE", 1 << 16)
    path = tmp_path / "huge.csv"
    path.write_text("a,b\n1,2\n3," + "y" * (1 << 18) + "\n5,6\n")
    report = check_table(path, block_size=1 << 12)
    assert report.get("table.parsable").status == "error"
    assert "longer than" in report.get("table.parsable").found
    report.validate()


def test_schema_problems_are_reported_and_do_not_stop_other_checks(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b,c\n1,2,3\n")
    # What docket cannot check in a valid schema is reported; an invalid schema is refused
    # (tests/test_table_schema.py).
    schema = {"fields": [{"name": "a", "type": "integer", "constraints": {"minimum": 0}},
                         {"name": "b", "type": "geopoint"},
                         {"name": "c", "type": "string", "constraints": {"pattern": "(?<=x)y"}}],
              "primaryKey": ["a"]}
    report = check_table(path, schema)
    found = report.get("table.schema").found
    assert "geopoint" in found and "pattern" in found
    assert report.get("table.type").status == "valid"
    with pytest.raises(BadInput, match=r"\$\.primaryKey"):
        check_table(path, {**schema, "primaryKey": ["zz"]})


def test_severities_override_per_run():
    report = check_table(DATA / "bom_crlf.csv", OBS_SCHEMA, severities={"table.bom": "error"})
    assert report.has_errors and report.get("table.bom").status == "error"
    report = check_table(DATA / "bom_crlf.csv", OBS_SCHEMA, severities={"table.bom": "off"})
    assert report.get("table.bom").status == "not-checked"
    with pytest.raises(BadInput, match="table.nope"):
        check_table(DATA / "clean.csv", severities={"table.nope": "warn"})
    with pytest.raises(BadInput, match="loud"):
        check_table(DATA / "clean.csv", severities={"table.bom": "loud"})


def test_registry_accepts_third_party_checks_and_names_unknown_ids():
    @register
    class NoZeros(TableCheck):
        id = "example.no-zeros"
        name = "No zeros"
        description = "No cell is the single character 0 (a test plug-in)."
        default_severity = "warn"

        def chunk(self, table, chunk):
            import numpy as np
            import pyarrow.compute as pc

            for col, arr in enumerate(chunk.columns):
                idx = np.flatnonzero(pc.equal(arr, "0").to_numpy(zero_copy_only=False))
                self._findings.add(chunk.rows[idx], table.column_label(col), None, position=col)

    try:
        assert get("example.no-zeros") is NoZeros
        report = check_table(DATA / "clean.csv", OBS_SCHEMA)
        assert report.get("example.no-zeros").status == "valid"
    finally:
        from docket.checks import registry

        registry._checks.pop("example.no-zeros")
    with pytest.raises(NotFound, match="table.type"):
        get("no.such-check")
    assert {c.id for c in all_checks("metadata")} >= {"metadata.title", "metadata.abstract"}


def test_report_schema_rejects_a_broken_report():
    data = check_table(DATA / "type_errors.csv", OBS_SCHEMA).to_dict()
    validate_report(data)
    bad = copy.deepcopy(data)
    bad["checks"][0]["status"] = "fine"
    del bad["summary"]
    with pytest.raises(InvalidDocument) as err:
        validate_report(bad)
    assert {p.where for p in err.value.problems} >= {"/", "/checks/0/status"}
    again = Report.from_dict(data)
    assert again.has_errors and isinstance(again.checks[0], CheckResult)


# -- request records ------------------------------------------------------------------------------

LONG_ABSTRACT = (
    "Hourly weather observations from five stations around Lake Geneva collected during March "
    "2021 with calibrated sensors for temperature humidity and rain, quality flagged by hand."
)


def record(**changes):
    rec = {
        "id": "REQ-1",
        "metadata": {
            "project_descriptive": {
                "title": {"en": "Weather observations around Lake Geneva 2021",
                          "fr": "Observations météo Léman"},
                "abstract": LONG_ABSTRACT,
                "keywords": ["weather", "lake", " "],
            },
            "dataset_administrative": {
                "licence": "CC-BY-4.0",
                "contact": {"name": "A. Provider", "email": "a.provider@example.org",
                            "orcid": "0000-0002-1825-0097"},
            },
            "dataset_structural": json.loads(OBS_SCHEMA.read_text()),
            "experiment_contextual": {
                "temporal_coverage": {"start": "2021-03-01", "end": "2021-03-10"},
                "spatial_coverage": {"west": 5.9, "east": 7.1, "south": 46.1, "north": 46.6},
            },
        },
        "files": [
            {"name": "obs.csv", "location": "https://example.org/obs.csv", "size": 1,
             "md5": "0" * 32, "media_type": "text/csv"},
            {"name": "gone.csv", "location": "https://example.org/gone.csv"},
            {"name": "readme.txt", "location": "https://example.org/readme.txt"},
        ],
    }
    rec.update(changes)
    return rec


def test_check_request_covers_metadata_congruence_and_tables(tmp_path):
    import hashlib

    data = (DATA / "type_errors.csv").read_bytes()
    (tmp_path / "obs.csv").write_bytes(data)
    (tmp_path / "readme.txt").write_text("hello")
    files = {"obs.csv": tmp_path / "obs.csv", "readme.txt": tmp_path / "readme.txt"}
    rec = record()
    rec["files"][0]["sha256"] = hashlib.sha256(data).hexdigest()
    report = check_request(rec, files, {"obs.csv": {"size": len(data)}})
    by = {(c.id, c.file): c for c in report.checks}
    title = by[("metadata.title", None)]
    assert title.status == "error" and title.locations[0]["path"].endswith("title.fr")
    assert by[("metadata.abstract", None)].status == "valid"
    assert by[("metadata.keywords", None)].locations[0]["path"].endswith("keywords[2]")
    assert by[("metadata.contact", None)].status == "valid"
    assert by[("metadata.temporal-coverage", None)].status == "valid"
    assert by[("file.reachable", None)].locations[0]["file"] == "gone.csv"
    size = by[("congruence.size", None)]
    assert size.status == "error" and size.locations[0]["value"] == len(data)
    md5 = by[("congruence.md5", None)]
    assert md5.status == "error" and md5.locations[0]["value"] == hashlib.md5(data).hexdigest()
    assert by[("congruence.sha256", None)].status == "valid"
    assert by[("table.type", "obs.csv")].count == 4
    assert report.has_errors
    report.validate()
    names = {f["name"]: f["checked"] for f in report.to_dict()["files"]}
    assert names == {"obs.csv": True, "gone.csv": False, "readme.txt": True}
    assert by[("text.encoding", "readme.txt")].status == "valid"  # a text file gets the text checks


def test_check_request_names_every_missing_metadata_element():
    rec = {"metadata": {"project_descriptive": {"title": "Short title"},
                        "experiment_contextual": {
                            "temporal_coverage": {"start": "2021-05-01", "end": "2021-01-01"},
                            "spatial_coverage": {"west": 200, "east": 7, "south": 50, "north": 40}}},
           "files": []}
    report = check_request(rec, {})
    for check_id in ("metadata.title", "metadata.abstract", "metadata.keywords",
                     "metadata.contact", "metadata.licence", "metadata.temporal-coverage",
                     "metadata.spatial-coverage"):
        assert report.get(check_id).status == "error", check_id
    assert "start is after end" in report.get("metadata.temporal-coverage").found
    spatial = report.get("metadata.spatial-coverage").found
    assert "west outside" in spatial and "south is north of north" in spatial
    assert report.get("file.reachable").status == "not-checked"
    report.validate()


# -- the command line -----------------------------------------------------------------------------


def test_cli_exit_codes_and_json(capsys, tmp_path):
    assert cli_main(["check", str(DATA / "clean.csv"), "--schema", str(OBS_SCHEMA)]) == 0
    assert "VALID" in capsys.readouterr().out
    assert cli_main(["check", str(DATA / "ragged.csv"), "--schema", str(OBS_SCHEMA)]) == 1
    out = capsys.readouterr().out
    assert "table.column-count" in out and "row 3" in out
    assert cli_main(["check", str(DATA / "type_errors.csv"), "--schema", str(OBS_SCHEMA),
                     "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    validate_report(data)
    assert data["valid"] is False
    assert cli_main(["check", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "schema.json"
    bad.write_text("{not json")
    assert cli_main(["check", str(DATA / "clean.csv"), "--schema", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert cli_main(["check", str(DATA / "clean.csv"), "--severity", "table.bom"]) == 2
    assert cli_main(["check", str(DATA / "bom_crlf.csv"), "--severity", "table.bom=error"]) == 1
    capsys.readouterr()


def test_cli_runs_as_a_program_without_traceback(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'\xef\xbb\xbfa,,a\r\n1,"open\r\n2,3\n')
    proc = subprocess.run([sys.executable, "-m", "docket.cli", "check", str(broken)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "table.blank-header" in proc.stdout
