"""A request whose ``dataset_structural`` is a whole Data Package (issue 11, part 3), through the
command line: ``submit`` (the package held to the official profiles), ``review``, ``transfer``,
``qa`` (each file checked against its own resource's schema and dialect, foreign keys across
resources), ``export`` (an EML ``dataTable`` per resource, its dialect as ``textFormat``) and
back through ``import-metadata``.

The data are the coastal-stations package of ``examples/packages`` rewritten so that only their
resources' dialects read them: ``sites.csv`` quotes with ``'`` (a name holds a comma) and
``observations.csv`` has no header row and is separated by ``;``. Read with any other dialect,
the files have ragged rows or a wrong header, so a clean QA run proves each dialect was used.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import docket
from tests.clirun import docket_cli
from tests.people import key_file

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "examples" / "packages"
WEATHER = ROOT / "examples" / "requests" / "weather-table-schema.json"
XSD_DIR = ROOT.parent / "shared" / "xsd"
EML = {"eml": "https://eml.ecoinformatics.org/eml-2.2.0"}

SITES = ("site_id,name,latitude,longitude\n"
         "ST0001,'Brest harbour, north quay',48.38,-4.49\n"
         "ST0002,Roscoff pier,48.72,-3.98\n"
         "ST0003,Concarneau,47.87,-3.92\n")
OBSERVATIONS = ("1;ST0001;2024-05-01;12.4\n2;ST0002;2024-05-01;11.9\n3;ST0001;2024-05-02;12.8\n"
                "4;ST0003;2024-05-02;13.0\n5;ST0003;2024-05-03;13.1\n")
SITES_DIALECT = {"quoteChar": "'"}
OBS_DIALECT = {"delimiter": ";", "header": False, "lineTerminator": "\n"}


def package(example: str = "stations") -> dict[str, Any]:
    """The example package with its observations schema inlined (a request has no folder to read
    a schema from) and the dialects that read the rewritten files."""
    pkg = json.loads((PACKAGES / example / "datapackage.json").read_text(encoding="utf-8"))
    obs = next(r for r in pkg["resources"] if r["name"] == "observations")
    obs["schema"] = json.loads((PACKAGES / example / obs["schema"]).read_text(encoding="utf-8"))
    return pkg


def request(folder: Path, pkg: dict[str, Any], title: str) -> dict[str, Any]:
    """The weather example's metadata with ``pkg`` as its structure and the package's two files."""
    doc = json.loads(WEATHER.read_text(encoding="utf-8"))
    doc.pop("project", None)
    doc["metadata"]["project_descriptive"]["title"] = title
    doc["metadata"]["dataset_structural"] = pkg
    doc["files"] = [{"name": n, "location": str(folder / n), "media_type": "text/csv"}
                    for n in ("sites.csv", "observations.csv")]
    return doc


@pytest.fixture(scope="module")
def inst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("packages") / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                local_roots=["inbox"]).close()
    if (XSD_DIR / "eml-2.2.0" / "eml.xsd").is_file():
        with (folder / "docket.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[publication]\nxsd_dir = "{XSD_DIR.as_posix()}"\npublisher = "Ocean Data Centre"\n')
    return folder


def place(inst: Path, name: str, files: dict[str, str]) -> Path:
    folder = inst / "inbox" / name
    folder.mkdir(parents=True)
    for file_name, text in files.items():
        (folder / file_name).write_bytes(text.encode("utf-8"))
    return folder


def submit(inst: Path, doc: dict[str, Any], name: str) -> Any:
    path = inst / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return docket_cli("submit", path, "--json", instance=inst)


def problems(result: Any) -> list[tuple[str, str]]:
    """(where, message) of each problem a refused ``submit --json`` names."""
    return [(p["where"], p["message"]) for p in result.json()["problems"]]


def through_qa(inst: Path, request_id: str) -> tuple[Any, dict[str, Any]]:
    """``review`` (by a reviewer), ``transfer`` and ``qa`` by the command line; the QA result and
    the report it wrote."""
    eva = key_file(inst, "reviewer")
    approved = docket_cli("--key-file", eva, "review", request_id, "approved", instance=inst)
    assert approved.code == 0, approved.err
    moved = docket_cli("transfer", request_id, "--json", instance=inst)
    assert moved.code == 0 and moved.json()["outcome"] == "done", moved.err + moved.out
    qa = docket_cli("qa", request_id, "--json", instance=inst)
    report = json.loads(Path(qa.json()["report"]).read_text(encoding="utf-8"))
    return qa, report


def by_check(report: dict[str, Any], file: str | None) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"] if c.get("file") == file}


@pytest.fixture(scope="module")
def clean(inst: Path) -> dict[str, Any]:
    """The clean package, submitted and run through QA once for the tests that read the result."""
    folder = place(inst, "stations", {"sites.csv": SITES, "observations.csv": OBSERVATIONS})
    pkg = package()
    for res in pkg["resources"]:
        res["dialect"] = SITES_DIALECT if res["name"] == "sites" else OBS_DIALECT
    submitted = submit(inst, request(folder, pkg, "Coastal stations as a Data Package"), "stations")
    assert submitted.code == 0, submitted.err
    request_id = submitted.json()["id"]
    qa, report = through_qa(inst, request_id)
    return {"id": request_id, "folder": folder, "qa": qa, "report": report}


def test_a_package_request_is_checked_file_by_file_with_its_resources_schema_and_dialect(clean):
    qa, report = clean["qa"], clean["report"]
    assert qa.code == 0, [c for c in report["checks"] if c["status"] == "error"]
    assert qa.json()["outcome"] == "done" and report["valid"] is True
    files = {f["name"]: f for f in report["files"]}
    # each file read by its own resource's dialect: the quoted comma, the file without a header
    assert files["sites.csv"]["header"] == ["site_id", "name", "latitude", "longitude"]
    assert (files["sites.csv"]["rows"], files["sites.csv"]["columns"]) == (3, 4)
    assert files["observations.csv"]["delimiter"] == ";" and files["observations.csv"]["rows"] == 5
    sites, obs = by_check(report, "sites.csv"), by_check(report, "observations.csv")
    for checks in (sites, obs):
        assert checks["table.header"]["status"] == "valid"
        assert checks["table.column-count"]["status"] == "valid"
        assert checks["table.schema"]["status"] == "valid"
    # each against its own schema: the site pattern and bounds are sites.csv's, the key obs_id's
    assert sites["table.pattern"]["status"] == "valid" and sites["table.minimum"]["status"] == "valid"
    assert obs["table.pattern"]["status"] == "not-checked"
    assert obs["table.primary-key"]["status"] == "valid"
    # the package's foreign key, observations.site_id -> sites.site_id, checked across the files
    fk = obs["table.foreign-key"]
    assert fk["status"] == "valid" and "found in the referenced resource" in fk["found"]
    # the declared delimiters against what arrived; the terminator is compared once, there
    delims = by_check(report, "observations.csv")["congruence.delimiters"]
    assert delims["status"] == "valid" and delims["found"] == "lines end with LF (\\n); fields separated by ';', as declared"
    assert obs["table.line-terminator"]["status"] == "not-checked"


def test_a_broken_foreign_key_across_resources_fails_qa_naming_rows_and_values(inst):
    folder = place(inst, "broken", {n: (PACKAGES / "broken-fk" / n).read_text(encoding="utf-8")
                                    for n in ("sites.csv", "observations.csv")})
    submitted = submit(inst, request(folder, package("broken-fk"), "Coastal stations, broken keys"), "broken")
    assert submitted.code == 0, submitted.err
    qa, report = through_qa(inst, submitted.json()["id"])
    assert qa.code == 1 and qa.json()["outcome"] == "rejected", qa.err
    fk = by_check(report, "observations.csv")["table.foreign-key"]
    assert fk["status"] == "error" and fk["count"] == 2
    assert sorted(loc["value"] for loc in fk["locations"]) == ["ST0009", "st0003"]
    assert {loc["row"] for loc in fk["locations"]} == {2, 5}
    assert by_check(report, "sites.csv")["table.foreign-key"]["status"] == "not-checked"
    assert not [c for c in report["checks"] if c.get("file") == "sites.csv" and c["status"] == "error"]


def _schema_as_path(pkg: dict[str, Any]) -> None:
    pkg["resources"][1]["schema"] = "observations.schema.json"


def _unknown_type(pkg: dict[str, Any]) -> None:
    pkg["resources"][0]["schema"]["fields"][2]["type"] = "numbr"


def _key_to_nowhere(pkg: dict[str, Any]) -> None:
    pkg["resources"][1]["schema"]["foreignKeys"][0]["reference"]["resource"] = "stations"


def _key_to_no_field(pkg: dict[str, Any]) -> None:
    pkg["resources"][1]["schema"]["foreignKeys"][0]["reference"]["fields"] = "station_code"


def _no_such_file(pkg: dict[str, Any]) -> None:
    pkg["resources"].append({"name": "tides", "path": "data/tides.csv"})


def _bad_dialect(pkg: dict[str, Any]) -> None:
    pkg["resources"][1]["dialect"] = {"delimiter": ";", "quoteChar": ";"}


def _bad_name(pkg: dict[str, Any]) -> None:
    pkg["resources"][0]["name"] = "Coastal Sites!"


BAD = {
    # the words of a JSON Schema type error are the message catalogue's: only the path is held
    "schema-as-path": (_schema_as_path, "$.metadata.dataset_structural.resources[1].schema", ""),
    "unknown-type": (_unknown_type, "$.metadata.dataset_structural.resources[0].schema.fields[2].type",
                     "unknown field type 'numbr'"),
    "key-to-nowhere": (_key_to_nowhere,
                       "$.metadata.dataset_structural.resources[1].schema.foreignKeys[0].reference.resource",
                       "names 'stations', which is not a resource of this package"),
    "key-to-no-field": (_key_to_no_field,
                        "$.metadata.dataset_structural.resources[1].schema.foreignKeys[0].reference.fields",
                        "names 'station_code', which is not a field of resource 'sites'"),
    "no-such-file": (_no_such_file, "$.metadata.dataset_structural.resources[2].path",
                     "'data/tides.csv' names no file of the request"),
    "bad-dialect": (_bad_dialect, "$.metadata.dataset_structural.resources[1].dialect.quoteChar",
                    "is the delimiter ';'"),
    "bad-name": (_bad_name, "$.metadata.dataset_structural.resources[0].name", "Data Package 1.0 profile"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_package_is_refused_at_submit_with_its_path_and_nothing_stored(inst, case):
    change, where, words = BAD[case]
    pkg = package()
    change(pkg)
    before = docket_cli("list", "--json", instance=inst).json()
    result = submit(inst, request(inst / "inbox" / "nowhere", pkg, f"Bad package: {case}"), f"bad-{case}")
    assert result.code == 2, result.out
    assert any(w == where and words in m for w, m in problems(result)), result.out
    assert docket_cli("list", "--json", instance=inst).json() == before


def test_a_dialect_in_both_the_file_entry_and_its_resource_is_refused(inst):
    pkg = package()
    pkg["resources"][1]["dialect"] = {"delimiter": ";"}
    doc = request(inst / "inbox" / "nowhere", pkg, "Two dialects")
    doc["files"][1]["dialect"] = {"delimiter": ","}
    result = submit(inst, doc, "two-dialects")
    assert result.code == 2
    assert ("$.files[1].dialect", "the file's resource in dataset_structural gives a dialect too; declare "
            "it in one place") in problems(result)


def test_a_table_schema_request_is_unchanged_and_a_package_with_fields_beside_is_refused(inst):
    doc = json.loads(WEATHER.read_text(encoding="utf-8"))
    doc.pop("project", None)
    doc["metadata"]["dataset_structural"]["resources"] = []
    result = submit(inst, doc, "fields-and-resources")
    assert result.code == 2  # a package (it has resources), and an empty one
    assert [p[0] for p in problems(result)] == ["$.metadata.dataset_structural.resources"]
    doc["metadata"]["dataset_structural"] = {"fields": [{"name": "a"}], "resources": package()["resources"]}
    doc["files"] = [{"name": n, "location": f"/nowhere/{n}"} for n in ("sites.csv", "observations.csv")]
    result = submit(inst, doc, "fields-beside")
    assert result.code == 2
    assert ("$.metadata.dataset_structural.fields", "a Data Package gives the columns in each resource's "
            "schema, not beside 'resources'") in problems(result)
    doc["metadata"]["dataset_structural"] = {"fields": [{"name": "a"}], "bogus": 1}
    result = submit(inst, doc, "table-schema-extra")
    assert result.code == 2
    assert problems(result) == [("$.metadata.dataset_structural.bogus", "is not a known field")]


@pytest.mark.skipif(not (XSD_DIR / "eml-2.2.0" / "eml.xsd").is_file(), reason=f"no official XSDs at {XSD_DIR}")
def test_exports_describe_each_resource_and_eml_imports_back_as_a_package(inst, clean):
    request_id = clean["id"]
    out = docket_cli("export", request_id, "--format", "eml", "--json", instance=inst)
    assert out.code == 0, out.err
    assert out.json()["validated"] is True  # against the official EML 2.2.0 XSD set
    root = etree.fromstring(out.json()["document"].encode("utf-8"))
    tables = {t.findtext("entityName"): t for t in root.iterfind(".//dataTable")}
    assert set(tables) == {"sites.csv", "observations.csv"}
    names = {n: [a.findtext("attributeName") for a in t.iterfind("attributeList/attribute")]
             for n, t in tables.items()}
    assert names == {"sites.csv": ["site_id", "name", "latitude", "longitude"],
                     "observations.csv": ["obs_id", "site_id", "day", "temperature"]}
    text = {n: t.find("physical/dataFormat/textFormat") for n, t in tables.items()}
    assert text["observations.csv"].findtext("numHeaderLines") == "0"
    assert text["observations.csv"].findtext("recordDelimiter") == "\\n"
    assert text["observations.csv"].findtext("simpleDelimited/fieldDelimiter") == ";"
    assert text["sites.csv"].findtext("numHeaderLines") == "1"
    assert text["sites.csv"].findtext("simpleDelimited/quoteCharacter") == "'"
    assert tables["observations.csv"].findtext("numberOfRecords") == "5"
    jsonld = docket_cli("export", request_id, "--format", "schemaorg", "--json", instance=inst)
    measured = [v["name"] for v in json.loads(jsonld.json()["document"])["variableMeasured"]]
    assert measured == ["site_id", "name", "latitude", "longitude", "obs_id", "day", "temperature"]

    # the EML beside its data files (the EMLassemblyline layout) imports as a package again
    folder = inst / "inbox" / "round-trip"
    shutil.copytree(clean["folder"], folder)
    (folder / "eml.xml").write_bytes(out.json()["document"].encode("utf-8"))
    imported = docket_cli("import-metadata", folder / "eml.xml", "--json", instance=inst)
    assert imported.code == 0, imported.err + imported.out
    new_id = imported.json()["files"][0]["id"]
    with docket.open(inst) as d:
        draft = d.get(new_id)
    structural = draft["metadata"]["dataset_structural"]
    assert [(r["name"], r["path"]) for r in structural["resources"]] == [
        ("sites.csv", "sites.csv"), ("observations.csv", "observations.csv")]
    assert [f["name"] for f in structural["resources"][1]["schema"]["fields"]] == [
        "obs_id", "site_id", "day", "temperature"]
    entries = {f["name"]: f for f in draft["files"]}
    assert entries["observations.csv"]["dialect"] == {"lineTerminator": "\n", "delimiter": ";", "header": False}
    assert entries["sites.csv"]["dialect"] == {"lineTerminator": "\n", "delimiter": ",", "quoteChar": "'"}
    assert entries["observations.csv"]["rows"] == 5
    # ... and passes QA read by those dialects, its declared record counts and delimiters met
    with docket.open(inst) as d:
        d.review(new_id, "submitted")
    qa, report = through_qa(inst, new_id)
    assert qa.code == 0, [c for c in report["checks"] if c["status"] == "error"]
    assert by_check(report, "observations.csv")["congruence.rows"]["status"] == "valid"
    assert by_check(report, "sites.csv")["congruence.delimiters"]["status"] == "valid"


def test_the_request_schema_keeps_the_form_s_view_of_a_table_schema():
    """The form reads column options from dataset_structural's own properties: they stay."""
    from docket.forms.definition import load_form

    form = load_form("ingest-request")
    assert "number" in form.options(["metadata", "dataset_structural", "fields", "*", "type"])
    assert form.is_required(["metadata", "dataset_structural", "fields"])  # "Columns *", as before
    pkg = copy.deepcopy(package())
    assert form.schemas.problems("request", request(Path("/x"), pkg, "t")) == []


def test_editing_a_package_request_on_the_form_keeps_its_package_and_dialects(dk) -> None:
    """The form edits a Table Schema; a package and file dialects it does not show survive an edit."""
    from docket.forms.page import RequestPage
    from tests.test_forms import CTD, set_input

    doc = json.loads(CTD.read_text(encoding="utf-8"))
    pkg = package()
    pkg["resources"][1]["dialect"] = {"delimiter": ";"}
    doc["metadata"]["dataset_structural"] = pkg
    doc["files"] = [{"name": n, "location": f"https://data.example.org/{n}"}
                    for n in ("sites.csv", "observations.csv")]
    doc["files"][0]["dialect"] = {"quoteChar": "'"}
    first = dk.submit(doc)
    page = RequestPage(dk, "ingest-request", "fr", dk.new_link(first["id"])["link"])
    assert page.view.problems == []
    set_input(page.view, "metadata.project_descriptive.title.en", "CTD casts, corrected")
    result = page.view.submit()
    assert result["revision"] == 2, page.view.problems
    new, old = dk.get(first["id"]), dk.get(first["id"], 1)
    assert new["files"] == old["files"]
    assert new["metadata"]["dataset_structural"] == old["metadata"]["dataset_structural"]
