"""Foreign keys (Table Schema ``foreignKeys``) on one table: references to the same table.

Written from the spec: ``fields`` names local fields, ``reference.resource`` ``""`` (or absent)
is this same table, ``reference.fields`` the referenced fields; each row's key must equal the
referenced fields of some row; a row whose key fields are all missing is not checked. Every case
goes through the public interfaces (``docket check`` and ``docket.checks.check_table``), and the
memory-bounded path (keys and referring rows spilled to disk) must report exactly what the
in-memory path reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docket.checks import check_table
from tests.clirun import docket_cli


def _files(tmp_path: Path, csv_text: str, schema: dict) -> tuple[Path, Path]:
    data = tmp_path / "data.csv"
    data.write_text(csv_text, encoding="utf-8")
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    return data, schema_path


def _fk(report) -> dict:
    result = report.get("table.foreign-key")
    assert result is not None
    return result.as_dict()


TREE = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "parent", "type": "integer"},
               {"name": "label", "type": "string"}],
    "primaryKey": "id",
    "foreignKeys": [{"fields": "parent", "reference": {"resource": "", "fields": "id"}}],
}


def test_self_reference_through_the_command_line(tmp_path):
    data, schema = _files(tmp_path, "id,parent,label\n1,,root\n2,1,a\n3,7,b\n4,2,c\n", TREE)
    r = docket_cli("check", data, "--schema", schema, "--json")
    assert r.code == 1, r.out + r.err
    fk = {c["id"]: c for c in r.json()["checks"]}["table.foreign-key"]
    assert fk["status"] == "error"
    assert fk["count"] == 1
    [loc] = fk["locations"]
    assert (loc["row"], loc["column"], loc["value"]) == (3, "parent", "7")
    assert "this table" in loc["note"] and "id" in loc["note"]
    assert fk["suggestion"]
    text = docket_cli("check", data, "--schema", schema)
    assert "row 3, column 'parent': '7'" in text.out


def test_a_key_may_point_to_a_later_row(tmp_path):
    # The whole table's keys are known before any row is judged.
    data, schema = _files(tmp_path, "id,parent,label\n1,3,a\n2,3,b\n3,,root\n", TREE)
    report = check_table(data, schema)
    assert _fk(report)["status"] == "valid"
    assert not report.has_errors


def test_missing_key_is_not_checked_and_mistyped_key_is_left_to_the_type_check(tmp_path):
    data, schema = _files(tmp_path, "id,parent,label\n1,,root\n2,x,a\n3,1,b\n", TREE)
    report = check_table(data, schema)
    assert _fk(report)["count"] == 0
    assert report.get("table.type").count == 1


def test_values_compare_as_typed_values(tmp_path):
    # 01 is the integer 1; "1.0" in a number field equals the integer 1.
    schema = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "ref", "type": "number"}],
        "foreignKeys": [{"fields": "ref", "reference": {"resource": "", "fields": "id"}}],
    }
    data, schema_path = _files(tmp_path, "id,ref\n01,1.0\n2,2\n3,2.5\n", schema)
    fk = _fk(check_table(data, schema_path))
    assert fk["count"] == 1
    assert fk["locations"][0]["row"] == 3 and fk["locations"][0]["value"] == "2.5"


def test_datetimes_compare_as_instants(tmp_path):
    schema = {
        "fields": [{"name": "at", "type": "datetime"}, {"name": "previous", "type": "datetime"}],
        "foreignKeys": [{"fields": "previous", "reference": {"resource": "", "fields": "at"}}],
    }
    text = ("at,previous\n2020-01-01T12:00:00Z,\n2020-01-01T16:00:00+03:00,2020-01-01T15:00:00+03:00\n"
            "2020-01-02T00:00:00Z,2020-01-01T14:00:00+01:00\n"
            "2020-01-03T00:00:00Z,2020-01-01T14:00:00Z\n")
    data, schema_path = _files(tmp_path, text, schema)
    fk = _fk(check_table(data, schema_path))
    # 15:00+03:00 is 12:00Z (row 1) and 14:00+01:00 is 13:00Z (row 2): found; 14:00Z is not.
    assert fk["count"] == 1 and fk["locations"][0]["row"] == 4


MULTI = {
    "fields": [{"name": "site", "type": "string"}, {"name": "year", "type": "integer"},
               {"name": "prev_site", "type": "string"}, {"name": "prev_year", "type": "integer"}],
    "primaryKey": ["site", "year"],
    "foreignKeys": [{"fields": ["prev_site", "prev_year"],
                     "reference": {"resource": "", "fields": ["site", "year"]}}],
}
MULTI_CSV = ("site,year,prev_site,prev_year\n"
             "A,2020,,\n"          # all missing: not checked
             "A,2021,A,2020\n"     # found
             "B,2021,A,2021\n"     # found
             "B,2022,B,2020\n"     # (B, 2020) is nobody's key
             "C,2022,C,\n"         # partly missing: checked, and (C, missing) is nobody's key
             "D,2022,A,2022\n")    # A and 2022 both exist, never together


def test_multi_field_keys(tmp_path):
    data, schema = _files(tmp_path, MULTI_CSV, MULTI)
    fk = _fk(check_table(data, schema))
    assert fk["count"] == 3
    assert [loc["row"] for loc in fk["locations"]] == [4, 5, 6]
    assert fk["locations"][0]["column"] == "prev_site,prev_year"
    assert fk["locations"][0]["value"] == "B, 2020"
    assert fk["counts"] == {"prev_site,prev_year": 3}


@pytest.mark.parametrize("csv_text,schema", [(MULTI_CSV, MULTI), (
    "id,parent,label\n" + "".join(f"{i},{i - 1 if i % 7 else i + 10_000},x\n" for i in range(1, 3000)),
    TREE)])
def test_spilled_keys_report_exactly_what_memory_reports(tmp_path, csv_text, schema):
    data, schema_path = _files(tmp_path, csv_text, schema)
    in_memory = _fk(check_table(data, schema_path, sample_size=10_000))
    spilled = _fk(check_table(data, schema_path, sample_size=10_000, spill_rows=3,
                              block_size=4096))
    assert in_memory["count"] > 0
    assert spilled["count"] == in_memory["count"]
    assert spilled["locations"] == in_memory["locations"]


def test_count_is_exact_beyond_the_sample(tmp_path):
    rows = "".join(f"{i},{i + 1000}\n" for i in range(1, 201))
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "parent", "type": "integer"}],
              "foreignKeys": [{"fields": "parent", "reference": {"resource": "", "fields": "id"}}]}
    data, schema_path = _files(tmp_path, "id,parent\n" + rows, schema)
    fk = _fk(check_table(data, schema_path, sample_size=5))
    assert fk["count"] == 200
    assert [loc["row"] for loc in fk["locations"]] == [1, 2, 3, 4, 5]
    assert fk["locations_truncated"] is True


def test_reference_to_another_resource_needs_the_package(tmp_path):
    schema = {"fields": [{"name": "site", "type": "string"}],
              "foreignKeys": [{"fields": "site", "reference": {"resource": "sites",
                                                                "fields": "id"}}]}
    data, schema_path = _files(tmp_path, "site\nA\n", schema)
    fk = _fk(check_table(data, schema_path))
    assert fk["status"] == "not-checked"
    assert "'sites'" in fk["found"] and "datapackage.json" in fk["found"]


def test_no_foreign_keys_no_finding(tmp_path):
    data, schema = _files(tmp_path, "id\n1\n", {"fields": [{"name": "id", "type": "integer"}]})
    fk = _fk(check_table(data, schema))
    assert fk["status"] == "not-checked" and fk["count"] == 0
