"""Data Packages through ``docket check datapackage.json`` (and a Data Resource descriptor).

From the Data Package spec: a package lists resources, each with a ``path`` relative to the
descriptor, a Table Schema (inline or a path) and a dialect; foreign keys may refer to other
resources by name; the descriptor must satisfy the official profile. docket's own promises: a
resource path never leaves the package's folder (no URL, no absolute path, no ``..``, no link out),
a wrong descriptor is refused (exit 2) naming its JSON path before any data are read, and the
report has one section per resource.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docket.checks import check_request
from tests.clirun import docket_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "packages"

SITES_SCHEMA = {"fields": [{"name": "id", "type": "string"}, {"name": "name", "type": "string"}],
                "primaryKey": "id"}
OBS_SCHEMA = {
    "fields": [{"name": "n", "type": "integer"}, {"name": "site", "type": "string"},
               {"name": "value", "type": "number"}],
    "foreignKeys": [{"fields": "site", "reference": {"resource": "sites", "fields": "id"}}],
}


def _package(tmp_path: Path, resources: list[dict], files: dict[str, str], **extra) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    descriptor = tmp_path / "datapackage.json"
    descriptor.write_text(json.dumps({"name": "pkg", "resources": resources, **extra}))
    return descriptor


def _two_tables(tmp_path: Path, obs: str = "n,site,value\n1,A,1.5\n2,B,2\n", **extra) -> Path:
    return _package(tmp_path, [
        {"name": "sites", "path": "sites.csv", "schema": SITES_SCHEMA},
        {"name": "obs", "path": "data/obs.csv", "schema": OBS_SCHEMA},
    ], {"sites.csv": "id,name\nA,Alpha\nB,Beta\n", "data/obs.csv": obs}, **extra)


def _checks(report: dict, resource: str) -> dict[str, dict]:
    return {c["id"]: c for c in report["checks"] if c["file"] == resource}


def test_example_package_is_valid(tmp_path):
    shutil.copytree(EXAMPLES / "stations", tmp_path / "stations")
    r = docket_cli("check", tmp_path / "stations" / "datapackage.json", "--json")
    assert r.code == 0, r.out + r.err
    report = r.json()
    assert report["subject"]["kind"] == "package"
    assert [f["resource"] for f in report["files"]] == ["sites", "observations"]
    assert all(f["checked"] and f["valid"] for f in report["files"])
    assert _checks(report, "observations")["table.foreign-key"]["status"] == "valid"


def test_example_package_with_a_broken_foreign_key(tmp_path):
    shutil.copytree(EXAMPLES / "broken-fk", tmp_path / "broken")
    r = docket_cli("check", tmp_path / "broken" / "datapackage.json", "--json")
    assert r.code == 1, r.out + r.err
    report = r.json()
    fk = _checks(report, "observations")["table.foreign-key"]
    assert fk["status"] == "error" and fk["count"] == 2
    assert [(loc["row"], loc["value"]) for loc in fk["locations"]] == [(2, "ST0009"), (5, "st0003")]
    assert all("resource 'sites'" in loc["note"] for loc in fk["locations"])
    sections = {f["resource"]: f for f in report["files"]}
    assert sections["sites"]["valid"] is True and sections["observations"]["valid"] is False
    assert sections["observations"]["summary"]["error"] == 1
    text = docket_cli("check", tmp_path / "broken" / "datapackage.json").out
    assert "resource 'observations' (observations.csv): INVALID" in text
    assert "row 2, column 'site_id': 'ST0009'" in text


def test_keys_across_resources_and_schema_dialect_by_path(tmp_path):
    (tmp_path / "obs.schema.json").write_text(json.dumps(OBS_SCHEMA))
    (tmp_path / "semicolon.json").write_text(json.dumps({"delimiter": ";"}))
    descriptor = _package(tmp_path, [
        {"name": "sites", "path": "sites.csv", "schema": SITES_SCHEMA},
        {"name": "obs", "path": "obs.csv", "schema": "obs.schema.json", "dialect": "semicolon.json"},
    ], {"sites.csv": "id,name\nA,Alpha\nB,Beta\n", "obs.csv": "n;site;value\n1;A;1\n2;C;2\n3;;3\n"})
    report = docket_cli("check", descriptor, "--json").json()
    fk = _checks(report, "obs")["table.foreign-key"]
    assert fk["count"] == 1 and fk["locations"][0]["row"] == 2
    assert _checks(report, "obs")["table.column-count"]["status"] == "valid"


def test_a_dialect_needs_only_what_differs_from_the_defaults(tmp_path):
    # The 1.0 profile requires delimiter and doubleQuote; the CSV Dialect spec gives defaults.
    descriptor = _package(tmp_path, [{"name": "sites", "path": "sites.csv", "schema": SITES_SCHEMA,
                                      "dialect": {"delimiter": ";"}}],
                          {"sites.csv": "id;name\nA;Alpha\n"})
    r = docket_cli("check", descriptor, "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["files"][0]["delimiter"] == ";"


def test_multi_field_key_to_a_resource_without_schema(tmp_path):
    # No schema on the referenced side: its columns by header name, compared as text.
    schema = {"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "integer"}],
              "foreignKeys": [{"fields": ["a", "b"],
                               "reference": {"resource": "pairs", "fields": ["x", "y"]}}]}
    descriptor = _package(tmp_path, [
        {"name": "pairs", "path": "pairs.csv"},
        {"name": "t", "path": "t.csv", "schema": schema},
    ], {"pairs.csv": "x,y\np,1\nq,2\n", "t.csv": "a,b\np,1\nq,1\nq,2\n"})
    fk = _checks(docket_cli("check", descriptor, "--json").json(), "t")["table.foreign-key"]
    assert fk["count"] == 1
    assert (fk["locations"][0]["row"], fk["locations"][0]["value"]) == (2, "q, 1")


def test_large_referenced_key_set_spills_and_agrees(tmp_path):
    from docket.checks.package import check_package

    sites = "id,name\n" + "".join(f"S{i},n\n" for i in range(400))
    obs = "n,site,value\n" + "".join(f"{i},S{i * 3},1\n" for i in range(1, 300))
    descriptor = _package(tmp_path, [
        {"name": "sites", "path": "sites.csv", "schema": SITES_SCHEMA},
        {"name": "obs", "path": "obs.csv", "schema": OBS_SCHEMA},
    ], {"sites.csv": sites, "obs.csv": obs})
    memory = check_package(descriptor, sample_size=1000).get("table.foreign-key", "obs")
    spilled = check_package(descriptor, sample_size=1000, spill_rows=7).get("table.foreign-key", "obs")
    assert memory.count == len([i for i in range(1, 300) if i * 3 >= 400])
    assert (spilled.count, spilled.locations) == (memory.count, memory.locations)


def test_a_resource_descriptor_is_checked_alone(tmp_path):
    (tmp_path / "tree.csv").write_text("id|parent\n1|\n2|1\n3|9\n")
    desc = tmp_path / "tree.resource.json"
    desc.write_text(json.dumps({
        "name": "tree", "path": "tree.csv", "dialect": {"delimiter": "|"},
        "schema": {"fields": [{"name": "id", "type": "integer"},
                              {"name": "parent", "type": "integer"}],
                   "foreignKeys": [{"fields": "parent",
                                    "reference": {"resource": "", "fields": "id"}}]}}))
    r = docket_cli("check", desc, "--json")
    assert r.code == 1, r.out + r.err
    report = r.json()
    assert report["subject"]["kind"] == "resource"
    fk = _checks(report, "tree")["table.foreign-key"]
    assert fk["count"] == 1 and fk["locations"][0]["value"] == "9"


@pytest.mark.parametrize("path,words", [
    ("../outside.csv", "leaves the package's folder"),
    ("data/../../outside.csv", "leaves the package's folder"),
    ("/etc/passwd", "absolute path"),
    ("https://example.org/data.csv", "is a URL"),
    ("file:///etc/passwd", "is a URL"),
    ("~/data.csv", "absolute path"),
])
def test_resource_paths_stay_inside_the_folder(tmp_path, path, words):
    (tmp_path / "outside.csv").write_text("id\n1\n")
    folder = tmp_path / "pkg"
    folder.mkdir()
    descriptor = _package(folder, [{"name": "evil", "path": path}], {})
    r = docket_cli("check", descriptor)
    assert r.code == 2, r.out + r.err
    assert "resource 'evil'" in r.err and words in r.err
    assert "Traceback" not in r.err


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.csv").write_text("id\n1\n")
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "data.csv").symlink_to(tmp_path / "secret.csv")
    r = docket_cli("check", _package(folder, [{"name": "linked", "path": "data.csv"}], {}))
    assert r.code == 2 and "resource 'linked'" in r.err and "outside" in r.err


def test_a_schema_path_may_not_leave_the_folder(tmp_path):
    (tmp_path / "schema.json").write_text(json.dumps(SITES_SCHEMA))
    folder = tmp_path / "pkg"
    folder.mkdir()
    descriptor = _package(folder, [{"name": "sites", "path": "s.csv", "schema": "../schema.json"}],
                          {"s.csv": "id,name\nA,a\n"})
    r = docket_cli("check", descriptor)
    assert r.code == 2 and "resource 'sites'" in r.err and "schema" in r.err


def test_foreign_key_to_an_unknown_resource_is_refused(tmp_path):
    descriptor = _package(tmp_path, [{"name": "obs", "path": "obs.csv", "schema": OBS_SCHEMA}],
                          {"obs.csv": "n,site,value\n1,A,1\n"})
    r = docket_cli("check", descriptor)
    assert r.code == 2, r.out + r.err
    assert "$.resources[0].schema.foreignKeys[0].reference.resource" in r.err
    assert "'sites'" in r.err


def test_foreign_key_to_an_undeclared_field_is_refused(tmp_path):
    schema = {**OBS_SCHEMA, "foreignKeys": [
        {"fields": "site", "reference": {"resource": "sites", "fields": "code"}}]}
    descriptor = _package(tmp_path, [
        {"name": "sites", "path": "sites.csv", "schema": SITES_SCHEMA},
        {"name": "obs", "path": "obs.csv", "schema": schema},
    ], {"sites.csv": "id,name\nA,a\n", "obs.csv": "n,site,value\n1,A,1\n"})
    r = docket_cli("check", descriptor)
    assert r.code == 2
    assert "$.resources[1].schema.foreignKeys[0].reference.fields" in r.err
    assert "'code'" in r.err


@pytest.mark.parametrize("descriptor,where", [
    ({"name": "pkg", "resources": []}, "$.resources"),
    ({"name": "pkg", "resources": [{"path": "a.csv"}]}, "$.resources[0]"),
    ({"name": "pkg", "resources": [{"name": "a", "path": "a.csv", "schema": {"fields": "id"}}]},
     "$.resources[0].schema.fields"),
    ({"name": "pkg", "resources": [{"name": "a", "path": "a.csv"}, {"name": "a", "path": "a.csv"}]},
     "$.resources[1].name"),
])
def test_an_invalid_descriptor_is_refused_with_its_path(tmp_path, descriptor, where):
    (tmp_path / "a.csv").write_text("id\n1\n")
    path = tmp_path / "datapackage.json"
    path.write_text(json.dumps(descriptor))
    r = docket_cli("check", path)
    assert r.code == 2, r.out + r.err
    assert where in r.err


def test_profile_version_follows_the_descriptor(tmp_path):
    # Version 1 names are lower case; version 2 lifted that rule.
    resources = [{"name": "Sites", "path": "sites.csv", "schema": SITES_SCHEMA}]
    files = {"sites.csv": "id,name\nA,a\n"}
    v1 = _package(tmp_path / "v1", resources, files)
    assert docket_cli("check", v1).code == 2
    v2 = _package(tmp_path / "v2", resources, files,
                  **{"$schema": "https://datapackage.org/profiles/2.0/datapackage.json"})
    r = docket_cli("check", v2, "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["subject"]["profile"] == "2.0"


def test_missing_file_and_unchecked_resources_are_listed(tmp_path):
    descriptor = _package(tmp_path, [
        {"name": "gone", "path": "gone.csv", "schema": SITES_SCHEMA},
        {"name": "inline", "data": [{"id": "A"}]},
        {"name": "notes", "path": "notes.pdf", "format": "pdf"},
    ], {"notes.pdf": "%PDF-1.4"})
    r = docket_cli("check", descriptor, "--json")
    assert r.code == 1, r.out + r.err
    report = r.json()
    sections = {f["resource"]: f for f in report["files"]}
    assert sections["gone"]["checked"] is False and sections["gone"]["reason"] == "no such file"
    assert "inline data" in sections["inline"]["reason"]
    assert "not a tabular resource" in sections["notes"]["reason"]
    assert _checks(report, "gone")["package.resource-file"]["status"] == "error"


def test_schema_option_given_a_descriptor_explains(tmp_path):
    descriptor = _two_tables(tmp_path)
    r = docket_cli("check", tmp_path / "sites.csv", "--schema", descriptor)
    assert r.code == 2
    assert "Data Package descriptor" in r.err and "docket check" in r.err
    resource = tmp_path / "res.json"
    resource.write_text(json.dumps({"name": "sites", "path": "sites.csv"}))
    r = docket_cli("check", tmp_path / "sites.csv", "--schema", resource)
    assert r.code == 2 and "Data Resource descriptor" in r.err


def test_table_options_do_not_apply_to_a_package(tmp_path):
    descriptor = _two_tables(tmp_path)
    (tmp_path / "s.json").write_text(json.dumps(SITES_SCHEMA))
    r = docket_cli("check", descriptor, "--schema", tmp_path / "s.json")
    assert r.code == 2 and "--schema does not apply" in r.err


def test_a_table_schema_given_as_the_file_is_named(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SITES_SCHEMA))
    r = docket_cli("check", path)
    assert r.code == 2 and "is a Table Schema" in r.err


def test_request_structural_package_picks_the_resource_by_path(tmp_path):
    data = tmp_path / "obs.csv"
    data.write_text("n,site,value\n1,A,x\n")
    record = {"id": "r-1", "files": [{"name": "obs.csv", "media_type": "text/csv"}],
              "metadata": {"dataset_structural": {"resources": [
                  {"name": "sites", "path": "tables/sites.csv", "schema": SITES_SCHEMA},
                  {"name": "observations", "path": "tables/obs.csv",
                   "schema": {"fields": OBS_SCHEMA["fields"]}}]}}}
    report = check_request(record, {"obs.csv": data})
    bad = report.get("table.type", "obs.csv")
    assert bad is not None and bad.count == 1 and bad.locations[0]["column"] == "value"


def test_a_lone_resource_cannot_resolve_keys_to_other_resources(tmp_path):
    (tmp_path / "obs.csv").write_text("n,site,value\n1,A,1\n")
    desc = tmp_path / "obs.json"
    desc.write_text(json.dumps({"name": "obs", "path": "obs.csv", "schema": OBS_SCHEMA}))
    r = docket_cli("check", desc, "--json")
    assert r.code == 0, r.out + r.err
    fk = _checks(r.json(), "obs")["table.foreign-key"]
    assert fk["status"] == "not-checked" and "'sites'" in fk["found"]


def test_an_inline_schema_is_explained_as_a_table_schema(tmp_path):
    descriptor = _package(tmp_path, [{"name": "a", "path": "a.csv", "schema": {
        "fields": [{"name": "id", "type": "integr"}]}}], {"a.csv": "id\n1\n"})
    r = docket_cli("check", descriptor)
    assert r.code == 2
    assert "$.resources[0].schema.fields[0].type: unknown field type 'integr'" in r.err


@pytest.mark.parametrize("spill_rows", [200_000, 1])
def test_integer_keys_compare_as_integers_across_resources(tmp_path, spill_rows):
    from docket.checks.package import check_package

    ints = {"fields": [{"name": "id", "type": "integer"}]}
    refs = {"fields": [{"name": "ref", "type": "integer"}],
            "foreignKeys": [{"fields": "ref", "reference": {"resource": "ids", "fields": "id"}}]}
    descriptor = _package(tmp_path, [
        {"name": "ids", "path": "ids.csv", "schema": ints},
        {"name": "refs", "path": "refs.csv", "schema": refs},
    ], {"ids.csv": "id\n1\n002\n", "refs.csv": "ref\n01\n2\n3\n"})
    fk = check_package(descriptor, spill_rows=spill_rows).get("table.foreign-key", "refs")
    assert fk.count == 1 and (fk.locations[0]["row"], fk.locations[0]["value"]) == (3, "3")
