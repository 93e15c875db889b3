"""Foreign keys between the files of one request (issue 11).

A request is checked as a Data Package: one resource per declared table, with its schema, so a
``foreignKeys`` entry of one file that points to another file of the request is checked like a
key between the resources of a datapackage.json, not reported "not checked". The files are the
soil example's: every ``site_id`` of soil_samples.csv is a ``site_id`` of soil_sites.csv; the
broken copy changes one sample's site to one that does not exist.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.checks import check_request
from tests.clirun import docket_cli
from tests.test_qa import REQUESTS, ROOT, init, ready

FILES = ROOT / "examples" / "files"
#: the row (data rows from 1) and sample changed in the broken copy
BROKEN_ROW, BROKEN_SAMPLE = 20, "S007-30"

SITES = {"fields": [{"name": "site_id", "type": "string"}, {"name": "latitude", "type": "number"},
                    {"name": "longitude", "type": "number"}, {"name": "elevation_m", "type": "integer"},
                    {"name": "land_use", "type": "string"}],
         "primaryKey": "site_id"}
SAMPLES = {"fields": [{"name": "sample_id", "type": "string"}, {"name": "site_id", "type": "string"},
                      {"name": "depth_cm", "type": "integer"}, {"name": "ph", "type": "number"},
                      {"name": "organic_carbon_pct", "type": "number"},
                      {"name": "sampled_on", "type": "date"}],
           "primaryKey": "sample_id",
           "foreignKeys": [{"fields": "site_id", "reference": {"resource": "sites", "fields": "site_id"}}]}


def broken_samples(folder: Path) -> Path:
    """soil_samples.csv with sample S007-30 moved to a site that does not exist (S999)."""
    text = (FILES / "soil_samples.csv").read_text(encoding="utf-8")
    line = f"{BROKEN_SAMPLE},S007,"
    assert text.count(line) == 1  # the example still has the sample this test breaks
    assert text.splitlines().index(next(x for x in text.splitlines() if x.startswith(line))) == BROKEN_ROW
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "soil_samples.csv"
    path.write_text(text.replace(line, f"{BROKEN_SAMPLE},S999,"), encoding="utf-8")
    return path


def package_record(samples_schema: dict[str, Any] = SAMPLES) -> dict[str, Any]:
    """The soil request with dataset_structural as a Data Package: one resource per table."""
    record = json.loads((REQUESTS / "soil-several-files.json").read_text(encoding="utf-8"))
    record["id"] = "soil-1"
    record["metadata"]["dataset_structural"] = {"resources": [
        {"name": "sites", "path": "soil_sites.csv", "schema": SITES},
        {"name": "samples", "path": "data/soil_samples.csv", "schema": samples_schema},
    ]}
    return record


def files(samples: Path = FILES / "soil_samples.csv") -> dict[str, Path]:
    return {"soil_sites.csv": FILES / "soil_sites.csv", "soil_samples.csv": samples,
            "soil_methods.txt": FILES / "soil_methods.txt"}


# --------------------------------------------------------------------------- check_request


@pytest.mark.parametrize("spill_rows", [200_000, 1])
def test_a_key_to_another_file_of_the_request_is_checked(spill_rows):
    fk = check_request(package_record(), files(), spill_rows=spill_rows).get("table.foreign-key",
                                                                             "soil_samples.csv")
    assert fk.status == "valid" and fk.count == 0, fk.found
    assert "not found" not in fk.found


@pytest.mark.parametrize("spill_rows", [200_000, 1])
def test_a_broken_key_between_files_is_an_error_where_it_is(tmp_path, spill_rows):
    report = check_request(package_record(), files(broken_samples(tmp_path)), spill_rows=spill_rows)
    fk = report.get("table.foreign-key", "soil_samples.csv")
    assert fk.status == "error" and fk.count == 1
    assert [(loc["row"], loc["column"], loc["value"]) for loc in fk.locations] == [(BROKEN_ROW, "site_id", "S999")]
    assert "'sites'" in fk.locations[0]["note"]
    assert report.get("table.foreign-key", "soil_sites.csv").status == "not-checked"  # it declares none


def test_a_file_is_also_known_by_its_name_and_stem(tmp_path):
    for resource in ("soil_sites.csv", "soil_sites"):
        schema = copy.deepcopy(SAMPLES)
        schema["foreignKeys"][0]["reference"]["resource"] = resource
        fk = check_request(package_record(schema), files(broken_samples(tmp_path))).get(
            "table.foreign-key", "soil_samples.csv")
        assert (fk.status, fk.count) == ("error", 1), (resource, fk.found)


def test_a_key_to_no_table_of_the_request_says_so(tmp_path):
    schema = copy.deepcopy(SAMPLES)
    schema["foreignKeys"][0]["reference"]["resource"] = "soil_methods.txt"  # text, not a table
    fk = check_request(package_record(schema), files()).get("table.foreign-key", "soil_samples.csv")
    assert fk.status == "not-checked"
    assert "'soil_methods.txt' is not a table of the request" in fk.found
    received = files()
    del received["soil_sites.csv"]  # declared but never received
    fk = check_request(package_record(), received).get("table.foreign-key", "soil_samples.csv")
    assert fk.status == "not-checked" and "'sites'" in fk.found


# --------------------------------------------------------------------------- docket qa


def soil_request(samples: Path) -> dict[str, Any]:
    """The soil request as a provider can submit it today: dataset_structural is one Table Schema
    for every file, whose foreign key names the sites file by its stem."""
    doc = json.loads((REQUESTS / "soil-several-files.json").read_text(encoding="utf-8"))
    doc["metadata"]["dataset_structural"] = {
        "fields": [{"name": "site_id", "type": "string"}],
        "foreignKeys": [{"fields": "site_id", "reference": {"resource": "soil_sites", "fields": "site_id"}}],
    }
    for f in doc["files"]:
        f["location"] = str(samples if f["name"] == "soil_samples.csv" else FILES / f["name"])
        if f["name"] == "soil_samples.csv" and samples != FILES / "soil_samples.csv":
            for key in ("size", "md5", "sha256"):
                f.pop(key, None)
    return doc


def test_docket_qa_reports_a_broken_key_between_files(tmp_path):
    folder = tmp_path / "inst"
    init(folder)
    with docket.open(folder) as d:
        good = ready(d, soil_request(FILES / "soil_samples.csv"))
        bad = ready(d, soil_request(broken_samples(folder / "inbox")))
    # only the foreign keys, so the verdict is theirs (the shared schema names one column)
    result = docket_cli("qa", good, "--checks", "table.foreign-key", "--json", instance=folder, timeout=180)
    assert result.code == 0, (result.out, result.err)
    assert result.json()["outcome"] == "done"
    result = docket_cli("qa", bad, "--checks", "table.foreign-key", "--json", instance=folder, timeout=180)
    assert result.code == 1, (result.out, result.err)
    out = result.json()
    assert out["outcome"] == "rejected" and out["errors"] == 1
    assert [(f["id"], f["file"], f["count"]) for f in out["failing"]] == \
        [("table.foreign-key", "soil_samples.csv", 1)]
    report = json.loads(Path(out["report"]).read_text(encoding="utf-8"))
    fk = next(c for c in report["checks"]
              if c["id"] == "table.foreign-key" and c["file"] == "soil_samples.csv")
    assert [(loc["row"], loc["value"]) for loc in fk["locations"]] == [(BROKEN_ROW, "S999")]
