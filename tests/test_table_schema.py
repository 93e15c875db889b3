"""Table Schema to the letter: exact comparisons of values, and malformed schemas refused.

Every case runs ``docket check`` as a user would, on a small CSV file written here.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from tests.clirun import docket_cli


def run(tmp_path, csv_text: str, schema: dict, *extra: str):
    data = tmp_path / "data.csv"
    data.write_text(csv_text, encoding="utf-8")
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    return docket_cli("check", data, "--schema", schema_path, "--json", *extra)


def checks(result) -> dict:
    return {c["id"]: c for c in result.json()["checks"]}


def repeated_rows(result, check_id: str) -> list[int]:
    return [loc["row"] for loc in checks(result)[check_id]["locations"]]


# -- datetimes compare as instants --------------------------------------------------------------


def _datetime_schema(values: list[str], kind: str = "datetime") -> tuple[str, dict]:
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(values, 1))
    schema = {"fields": [{"name": "id", "type": "integer"},
                         {"name": "t", "type": kind, "constraints": {"unique": True}}],
              "primaryKey": ["t"]}
    return "id,t\n" + rows, schema


@pytest.mark.parametrize(("values", "repeats"), [
    # the same wall-clock time in two zones is two instants
    (["2020-01-01T15:00:00Z", "2020-01-01T15:00:00+03:00"], []),
    # fractions of a second count
    (["2020-01-01T15:00:00.1Z", "2020-01-01T15:00:00.2Z"], []),
    # ... down to the last digit, below the microsecond too
    (["2020-01-01T15:00:00.0000001Z", "2020-01-01T15:00:00.0000002Z"], []),
    # the same instant written in two zones is one instant
    (["2020-01-01T15:00:00+03:00", "2020-01-01T12:00:00Z"], [2]),
    (["2020-01-01T12:00:00-0130", "2020-01-01T13:30:00Z"], [2]),
    # trailing zeros of a fraction change nothing
    (["2020-01-01T15:00:00.1Z", "2020-01-01T15:00:00.100Z", "2020-01-01T15:00:00.1000000Z"], [2, 3]),
    # a time without a zone is local time: not the same as any zoned instant
    (["2020-01-01T12:00:00", "2020-01-01T12:00:00Z"], []),
    (["2020-01-01T12:00:00", "2020-01-01T12:00:00"], [2]),
    # crossing midnight with the offset
    (["2020-01-02T01:00:00+03:00", "2020-01-01T22:00:00Z"], [2]),
])
def test_datetime_unique_and_primary_key_compare_instants(tmp_path, values, repeats):
    text, schema = _datetime_schema(values)
    result = run(tmp_path, text, schema)
    assert result.code == (1 if repeats else 0), result.out
    assert checks(result)["table.type"]["status"] == "valid"
    assert repeated_rows(result, "table.unique") == repeats
    assert repeated_rows(result, "table.primary-key") == repeats


@pytest.mark.parametrize(("values", "repeats"), [
    (["15:00:00+03:00", "12:00:00Z"], [2]),
    (["15:00:00Z", "15:00:00+03:00"], []),
    (["15:00:00.1Z", "15:00:00.2Z"], []),
    (["15:00:00", "15:00:00Z"], []),
])
def test_time_with_offsets_compares_instants(tmp_path, values, repeats):
    text, schema = _datetime_schema(values, "time")
    result = run(tmp_path, text, schema)
    assert checks(result)["table.type"]["status"] == "valid"
    assert repeated_rows(result, "table.unique") == repeats


def test_datetime_bounds_use_the_instant(tmp_path):
    schema = {"fields": [{"name": "t", "type": "datetime",
                          "constraints": {"maximum": "2020-01-01T12:00:00Z"}}]}
    text = "t\n2020-01-01T14:00:00+03:00\n2020-01-01T12:00:00.5Z\n2020-01-01T12:00:00Z\n"
    result = run(tmp_path, text, schema)
    assert [loc["row"] for loc in checks(result)["table.maximum"]["locations"]] == [2]


def test_impossible_offset_is_not_a_datetime(tmp_path):
    schema = {"fields": [{"name": "t", "type": "datetime"}]}
    result = run(tmp_path, "t\n2020-01-01T12:00:00+25:00\n2020-01-01T12:00:00+03:60\n", schema)
    assert checks(result)["table.type"]["count"] == 2


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "enum"), [
    ("number", ["0"]), ("number", [0]), ("number", [0.0]), ("integer", ["0"]), ("integer", [0]),
])
def test_negative_zero_is_zero_for_enum(tmp_path, kind, enum):
    schema = {"fields": [{"name": "x", "type": kind, "constraints": {"enum": enum}}]}
    result = run(tmp_path, "x\n-0\n0\n+0\n", schema)
    assert checks(result)["table.enum"]["status"] == "valid", checks(result)["table.enum"]


def test_negative_zero_repeats_zero_in_unique(tmp_path):
    schema = {"fields": [{"name": "x", "type": "number", "constraints": {"unique": True}}]}
    result = run(tmp_path, "x\n0\n-0\n", schema)
    assert repeated_rows(result, "table.unique") == [2]


@pytest.mark.parametrize("constraint", [{"minimum": 0}, {"maximum": 10}, {"exclusiveMinimum": 0},
                                        {"exclusiveMaximum": 10}, {"minimum": 0, "maximum": 10}])
def test_nan_is_outside_every_bound(tmp_path, constraint):
    schema = {"fields": [{"name": "x", "type": "number", "constraints": constraint}]}
    result = run(tmp_path, "x\n5\nNaN\n", schema)
    failed = [c for c in ("table.minimum", "table.maximum")
              if checks(result)[c]["status"] == "error"]
    assert failed, result.out
    for check_id in failed:
        assert [loc["row"] for loc in checks(result)[check_id]["locations"]] == [2]


def test_nan_declared_missing_passes_bounds(tmp_path):
    schema = {"fields": [{"name": "x", "type": "number", "constraints": {"minimum": 0, "maximum": 10}}],
              "missingValues": ["", "NaN"]}
    result = run(tmp_path, "x\n5\nNaN\n", schema)
    assert result.code == 0, result.out
    assert checks(result)["table.minimum"]["status"] == "valid"
    assert checks(result)["table.maximum"]["status"] == "valid"


# -- invalid schemas are refused, with the JSON path -------------------------------------------


def _field(**kw) -> dict:
    return {"name": "a", "type": "integer", **kw}


@pytest.mark.parametrize(("schema", "path"), [
    ({"fields": [_field(constraints={"unique": "no"})]}, "$.fields[0].constraints.unique"),
    ({"fields": [_field(constraints={"required": "no"})]}, "$.fields[0].constraints.required"),
    ({"fields": [_field()], "missingValues": "x"}, "$.missingValues"),
    ({"fields": [_field()], "missingValues": [1]}, "$.missingValues[0]"),
    ({"fields": []}, "$.fields"),
    ({"fields": [_field(type="integr")]}, "$.fields[0].type"),
    ({"fields": [_field(constraints={"minimum": "low"})]}, "$.fields[0].constraints.minimum"),
    ({"fields": [_field(type="date", constraints={"minimum": "yesterday"})]},
     "$.fields[0].constraints.minimum"),
    ({"fields": [_field(type="datetime", constraints={"maximum": "2020-01-01"})]},
     "$.fields[0].constraints.maximum"),
    ({"fields": [_field(type="string", constraints={"minimum": "a"})]},
     "$.fields[0].constraints.minimum"),
    ({"fields": [_field(constraints={"enum": ["1", "two"]})]}, "$.fields[0].constraints.enum"),
    ({"fields": [_field(constraints={"enum": "1"})]}, "$.fields[0].constraints.enum"),
    ({"fields": [_field(constraints={"minLength": -1})]}, "$.fields[0].constraints.minLength"),
    ({"fields": [_field(), _field()]}, "$.fields[1].name"),
    ({"fields": [_field()], "primaryKey": ["zz"]}, "$.primaryKey"),
    ({"fields": [_field()], "primaryKey": 3}, "$.primaryKey"),
    # malformed foreign keys
    ({"fields": [_field()], "foreignKeys": {"fields": "a"}}, "$.foreignKeys"),
    ({"fields": [_field()], "foreignKeys": []}, "$.foreignKeys"),
    ({"fields": [_field()], "foreignKeys": [{"fields": "a"}]}, "$.foreignKeys[0]"),
    ({"fields": [_field()], "foreignKeys": [{"fields": "a", "reference": "other"}]},
     "$.foreignKeys[0]"),
    ({"fields": [_field()], "foreignKeys": [{"fields": "a", "reference": {"resource": "o"}}]},
     "$.foreignKeys[0]"),
    ({"fields": [_field()], "foreignKeys": [{"fields": "zz", "reference": {"resource": "o",
                                                                           "fields": "id"}}]},
     "$.foreignKeys[0].fields"),
    ({"fields": [_field(), {"name": "b"}],
      "foreignKeys": [{"fields": ["a", "b"], "reference": {"resource": "o", "fields": ["id"]}}]},
     "$.foreignKeys[0].reference.fields"),
    ({"fields": [_field()],
      "foreignKeys": [{"fields": "a", "reference": {"resource": "", "fields": "nope"}}]},
     "$.foreignKeys[0].reference.fields"),
])
def test_invalid_schema_is_refused_with_its_path(tmp_path, schema, path):
    result = run(tmp_path, "a\n1\n", schema)
    assert result.code == 2, (result.code, result.out, result.err)
    out = result.json()
    assert "checks" not in out and out["error"] == "BadInput"  # refused: no report at all
    wheres = [p["where"] for p in out["problems"]]
    assert any(w == path or w.startswith((path + ".", path + "[")) for w in wheres), wheres
    assert path in out["message"] or any(w in out["message"] for w in wheres)


def test_invalid_schema_refused_before_the_data_are_read(tmp_path):
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps({"fields": [_field(constraints={"unique": "no"})]}))
    # a file that does not parse as CSV at all: the schema is still what is reported
    data = tmp_path / "data.csv"
    data.write_bytes(b'a\n"never closed\n\xff\xfe')
    result = docket_cli("check", data, "--schema", schema_path)
    assert result.code == 2 and "$.fields[0].constraints.unique" in result.err


def test_v2_schema_uses_the_v2_profile(tmp_path):
    v2 = "https://datapackage.org/profiles/2.0/tableschema.json"
    schema = {"$schema": v2, "fields": [_field()],
              "missingValues": [{"value": "-", "label": "not measured"}],
              "uniqueKeys": [["a"]]}
    result = run(tmp_path, "a\n1\n-\n", schema)
    assert result.code == 0, (result.out, result.err)
    assert checks(result)["table.type"]["status"] == "valid"  # "-" is a declared missing value
    # the v1 profile has no labelled missing values: without $schema, refused
    schema.pop("$schema")
    result = run(tmp_path, "a\n1\n-\n", schema)
    assert result.code == 2 and "$.missingValues" in result.out
    # v2 rules: uniqueKeys must name declared fields
    result = run(tmp_path, "a\n1\n", {"$schema": v2, "fields": [_field()], "uniqueKeys": [["zz"]]})
    assert result.code == 2 and "$.uniqueKeys[0]" in result.out


# -- what is allowed but surely meant otherwise --------------------------------------------------


def test_field_level_required_warns_and_is_honoured(tmp_path):
    schema = {"fields": [_field(required=True)]}
    result = run(tmp_path, "a,b\n1,x\n,y\n", {"fields": [*schema["fields"], {"name": "b"}]})
    report = result.json()
    assert checks(result)["table.required"]["status"] == "error"
    assert [loc["row"] for loc in checks(result)["table.required"]["locations"]] == [2]
    note = next(n for n in report["notes"] if "$.fields[0].required" in n)
    assert '"constraints": {"required": true}' in note and "checks it" in note


def test_a_key_to_another_resource_of_a_lone_table_is_said_not_checked(tmp_path):
    """Without a package there is no resource "other" to look in: not checked, with the reason
    (keys to the same table and across a package are checked: tests/test_foreign_keys.py)."""
    schema = {"fields": [_field()],
              "foreignKeys": [{"fields": "a", "reference": {"resource": "other", "fields": "id"}}]}
    result = run(tmp_path, "a\n1\n", schema)
    fk = checks(result)["table.foreign-key"]
    assert fk["status"] == "not-checked" and "not check foreign keys" in fk["found"]


def test_profiles_ship_inside_the_package():
    base = resources.files("docket.checks").joinpath("profiles")
    for version in ("1.0", "2.0"):
        profile = json.loads(base.joinpath(version, "tableschema.json").read_text(encoding="utf-8"))
        assert profile["title"] == "Table Schema"


_AGREEMENT_CASES = [
    {"fields": [_field()]},
    {"fields": [_field(), {"name": "b", "type": "number", "constraints": {"minimum": 1.5}}],
     "primaryKey": ["a", "b"], "missingValues": ["", "NA"],
     "foreignKeys": [{"fields": ["a"], "reference": {"resource": "r", "fields": ["id"]}}]},
    {"fields": [{"name": "b", "type": "boolean", "trueValues": ["y"]}], "primaryKey": "b"},
    {"fields": [_field(constraints={"minimum": 1.0})]},
    {"fields": [_field(constraints={"minimum": True})]},
    {"fields": [_field(constraints={"enum": [1, 1]})]},
    {"fields": [{"name": "d", "type": "date", "format": "%d/%m/%Y"}]},
    {"fields": [{"name": "g", "type": "geopoint", "format": "nope"}]},
    {"fields": ["a"]},
    {"fields": [{"type": "string"}]},
    {"fields": [_field()], "primaryKey": ["a", "a"]},
]


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_profile_validator_agrees_with_jsonschema(version):
    """docket validates the profile with ``jsonschema_rs`` (``docket check`` must not load the
    ``jsonschema`` stack); on every case here it agrees with ``jsonschema`` on the official
    profile, and ``profile_problems`` reports a problem exactly when the profile is violated."""
    import jsonschema

    from docket.checks import schema as mod

    validator = jsonschema.Draft7Validator(mod._profile(version))
    cases = _AGREEMENT_CASES + [
        case[0] for case in test_invalid_schema_is_refused_with_its_path.pytestmark[0].args[1]]
    for case in cases:
        if version == "2.0":
            case = {**case, "$schema": "https://datapackage.org/profiles/2.0/tableschema.json"}
        ours = {_where(p) for p in mod.profile_problems(case)}
        rs = list(mod._validator(version).iter_errors(case))
        theirs = list(validator.iter_errors(case))
        assert bool(rs) == bool(theirs), (case, [e.message for e in rs], [e.message for e in theirs])
        assert {tuple(e.instance_path) for e in rs} == {tuple(e.absolute_path) for e in theirs}, case
        assert bool(ours) == bool(theirs), (case, ours, [e.message for e in theirs])


def _where(problem) -> str:
    return problem.where
