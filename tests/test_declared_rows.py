"""congruence.rows: the record count a request declares for a table (``rows``; EML's
``numberOfRecords``) against the data rows QA counted, header lines not included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docket
from docket.checks import check_request
from docket.checks.report import Report
from tests.clirun import docket_cli
from tests.people import as_role
from tests.test_import_metadata import place_eml, sqlite_instance  # noqa: F401  (a fixture)

CSV = "site,temp_c\nWS1,4.5\nWS2,5.0\nWS3,5.5\nWS1,6.0\nWS2,6.5\nWS3,7.0\n"  # header + 6 data rows


def _record(**entry: Any) -> dict[str, Any]:
    return {"id": "req-rows", "files": [{"name": "obs.csv", "media_type": "text/csv", **entry}],
            "metadata": {}}


def _rows_results(report: Report) -> list[Any]:
    return [r for r in report.checks if r.id == "congruence.rows"]


def _check(tmp_path: Path, record: dict[str, Any], measured: dict[str, Any] | None = None) -> list[Any]:
    data = tmp_path / "obs.csv"
    data.write_text(CSV, encoding="utf-8")
    return _rows_results(check_request(record, files={"obs.csv": data}, measured=measured))


def test_declared_count_equal_to_the_data_rows_is_valid(tmp_path):
    (result,) = _check(tmp_path, _record(rows=6))
    assert (result.status, result.file, result.count) == ("valid", "obs.csv", 0)
    assert result.found == "6 rows, as declared"


def test_wrong_declared_count_is_an_error_with_a_suggestion(tmp_path):
    (result,) = _check(tmp_path, _record(rows=5))
    assert (result.status, result.severity, result.file, result.count) == ("error", "error", "obs.csv", 1)
    assert result.found == "declared 5 rows, found 6"
    assert [(loc["file"], loc["value"], loc["note"]) for loc in result.locations] == [("obs.csv", 6, "declared 5")]
    assert result.suggestion and "declared record count" in result.suggestion
    # the header is not a record: declaring it as one is wrong too
    (counted_header,) = _check(tmp_path, _record(rows=7))
    assert counted_header.status == "error" and counted_header.found == "declared 7 rows, found 6"


def test_a_row_count_passed_in_as_measured_is_not_trusted(tmp_path):
    """Only the scan counts rows; a stale ``measured["rows"]`` (from a caller) must not win."""
    (result,) = _check(tmp_path, _record(rows=5), measured={"obs.csv": {"rows": 5}})
    assert result.status == "error" and result.found == "declared 5 rows, found 6"


def test_no_declared_count_or_no_table_is_not_checked(tmp_path):
    (none,) = _check(tmp_path, _record())
    assert none.status == "not-checked" and none.file is None
    assert none.found == "no received table declares its record count"
    notes = tmp_path / "notes.txt"
    notes.write_text("methods: grab samples\n", encoding="utf-8")
    record = {"id": "r", "metadata": {}, "files": [{"name": "notes.txt", "media_type": "text/plain", "rows": 3},
                                                  {"name": "gone.csv", "media_type": "text/csv", "rows": 3}]}
    results = _rows_results(check_request(record, files={"notes.txt": notes}))
    assert sorted((r.file, r.status) for r in results) == [("gone.csv", "not-checked"), ("notes.txt", "not-checked")]


def test_severity_settings_apply(tmp_path):
    data = tmp_path / "obs.csv"
    data.write_text(CSV, encoding="utf-8")
    warn = _rows_results(check_request(_record(rows=5), files={"obs.csv": data},
                                       severities={"congruence.rows": "warn"}))
    assert [r.status for r in warn] == ["warn"]
    off = _rows_results(check_request(_record(rows=5), files={"obs.csv": data},
                                      severities={"congruence.rows": "off"}))
    assert [r.status for r in off] == ["not-checked"]


def test_imported_eml_whose_number_of_records_is_wrong_fails_qa_on_rows_alone(sqlite_instance):  # noqa: F811
    """import-metadata -> approve -> transfer -> `docket qa`: the EML says 4 records, the file
    (unchanged, so size and MD5 still agree) has 5 after its header line."""
    instance_dir = sqlite_instance
    package = place_eml(instance_dir)
    eml = package / "eml.xml"
    text = eml.read_text(encoding="utf-8")
    assert text.count("<numberOfRecords>5</numberOfRecords>") == 1
    eml.write_text(text.replace("<numberOfRecords>5</numberOfRecords>", "<numberOfRecords>4</numberOfRecords>"),
                   encoding="utf-8")
    result = docket_cli("import-metadata", eml, "--json", instance=instance_dir)
    assert result.code == 0, result.err + result.out
    request_id = result.json()["files"][0]["id"]
    with docket.open(instance_dir) as d:
        d.review(request_id, "submitted")
        as_role(d, "reviewer", "Eva").review(request_id, "approved")
        assert d.transfer(request_id)["outcome"] == "done"
    qa = docket_cli("qa", request_id, "--json", instance=instance_dir)
    assert qa.code == 1, qa.err
    report = json.loads(Path(qa.json()["report"]).read_text(encoding="utf-8"))
    got = {c["id"]: c for c in report["checks"] if c.get("file") in (None, "stream_chemistry_2021.csv")}
    assert got["congruence.size"]["status"] == "valid" and got["congruence.md5"]["status"] == "valid"
    rows = got["congruence.rows"]
    assert (rows["status"], rows["file"], rows["found"]) == ("error", "stream_chemistry_2021.csv",
                                                             "declared 4 rows, found 5")
    assert rows["suggestion"]
    assert {f["name"]: f["rows"] for f in report["files"]} == {"stream_chemistry_2021.csv": 5}
