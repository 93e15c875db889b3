"""``docket import-metadata`` (issue 13, part 7 and its "Bad input"): legacy EML, ISO 19139 (HNAP,
bilingual) and DataCite records become draft requests; what does not map is listed by XPath; bad
XML is refused with exit 2, nothing stored and no network touched.

The example records in ``examples/metadata`` are validated against the official XSDs in
../shared/xsd when that folder is there, so the importer is tested on inputs real tools accept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docket
from docket.api import Docket
from docket.errors import BadInput
from tests.clirun import docket_cli
from tests.people import as_role, key_file

ROOT = Path(__file__).resolve().parent.parent
META = ROOT / "examples" / "metadata"
EML_DIR = META / "eml-stream-chemistry"
XSD_DIR = ROOT.parent / "shared" / "xsd"
XSDS = {"eml-stream-chemistry/eml.xml": "eml-2.2.0/eml.xsd",
        "iso19139-hnap-bilingual.xml": "iso19139/all.xsd",
        "datacite-kernel4.xml": "datacite-4.5/metadata.xsd"}


def stored(instance: Path) -> list[dict]:
    with docket.open(instance) as d:
        return d.list()


def place_eml(instance: Path, folder: str = "hbr") -> Path:
    """The EML package (EML beside its data file, the EMLassemblyline layout) in the inbox."""
    target = instance / "inbox" / folder
    shutil.copytree(EML_DIR, target)
    return target


def get(instance: Path, request_id: str) -> dict:
    with docket.open(instance) as d:
        return d.get(request_id)


@pytest.mark.parametrize("name", sorted(XSDS))
def test_example_records_are_valid_against_their_official_xsd(name):
    xsd = XSD_DIR / XSDS[name]
    if not xsd.is_file():
        pytest.skip(f"the official XSDs are not at {XSD_DIR}")
    from lxml import etree

    from docket.exporters.xsd import compiled

    schema = compiled(xsd)
    assert schema.validate(etree.parse(str(META / name))), schema.error_log


def test_eml_package_imports_as_a_draft_with_table_schema_and_file_entry(instance_dir):
    package = place_eml(instance_dir)
    result = docket_cli("import-metadata", package, "--json", instance=instance_dir)
    assert result.code == 0, result.err + result.out
    report = result.json()
    assert report["imported"] == 1 and report["refused"] == 0 and report["incomplete"] == 0
    (entry,) = report["files"]
    assert entry["status"] == "imported" and entry["standard"] == "eml" and entry["to_complete"] == []
    assert entry["unmapped"] == [
        "/eml:eml/dataset/alternateIdentifier",
        "/eml:eml/dataset/creator[2]",  # Tom Berg: no e-mail, so no request contact
        "/eml:eml/dataset/pubDate",
        "/eml:eml/dataset/intellectualRights",  # the licence came from <licensed>
        "/eml:eml/dataset/maintenance",
        "/eml:eml/dataset/dataTable/entityName",  # differs from the objectName; a file entry has no place for it
        # a Table Schema enum has codes, not their definitions, and no explanation of a missing code
        *(f"/eml:eml/dataset/dataTable/attributeList/attribute[1]/measurementScale/nominal/nonNumericDomain/"
          f"enumeratedDomain/codeDefinition[{i}]/definition" for i in (1, 2, 3)),
        "/eml:eml/dataset/dataTable/attributeList/attribute[4]/missingValueCode/codeExplanation",
        *(f"/eml:eml/dataset/dataTable/attributeList/attribute[5]/measurementScale/ordinal/nonNumericDomain/"
          f"enumeratedDomain/codeDefinition[{i}]/definition" for i in (1, 2, 3)),
    ]
    record = get(instance_dir, entry["id"])
    assert record["review_state"] == "draft"
    meta = record["metadata"]
    desc = meta["project_descriptive"]
    assert desc["title"] == {"en": "Stream water chemistry of three headwater catchments, spring 2021"}
    assert desc["abstract"]["en"].startswith("Grab samples of stream water")
    assert desc["keywords"] == ["stream chemistry", "nitrate", "headwater catchments"]
    assert desc["authors"] == [{"name": "Ana Lopes", "email": "ana.lopes@hbws.example.org",
                                "orcid": "0000-0002-1825-0097", "organisation": "Hubbard Brook Watershed Study",
                                "role": "creator"}]
    assert record["provider"] == {"name": "Ana Lopes", "email": "ana.lopes@hbws.example.org"}
    admin = meta["dataset_administrative"]
    assert admin["licence"] == "CC-BY-4.0" and admin["publisher"] == "Environmental Data Initiative"
    assert admin["contact"]["email"] == "ana.lopes@hbws.example.org" and admin["contact"]["role"] == "contact"
    ctx = meta["experiment_contextual"]
    assert ctx["temporal_coverage"] == {"start": "2021-05-01", "end": "2021-06-30"}
    assert ctx["spatial_coverage"] == {"west": -71.8, "east": -71.7, "south": 43.91, "north": 43.96,
                                       "place": "Hubbard Brook Experimental Forest, New Hampshire"}
    structural = meta["dataset_structural"]
    assert structural["missingValues"] == ["-9999"]
    fields = {f["name"]: f for f in structural["fields"]}
    assert list(fields) == ["site", "sample_date", "temp_c", "nitrate_mgl", "flow_class"]
    assert fields["site"]["type"] == "string" and fields["site"]["constraints"]["enum"] == ["WS1", "WS2", "WS3"]
    assert (fields["sample_date"]["type"], fields["sample_date"]["format"]) == ("date", "%Y-%m-%d")
    assert fields["temp_c"]["type"] == "number" and fields["temp_c"]["unit"] == "celsius"
    assert fields["temp_c"]["constraints"] == {"minimum": -5.0, "maximum": 35.0}
    assert fields["temp_c"]["title"] == "Water temperature"
    assert fields["nitrate_mgl"]["unit"] == "milligramsPerLiter"
    assert fields["flow_class"]["constraints"]["enum"] == ["low", "medium", "high"]
    (file_entry,) = record["files"]
    assert file_entry["name"] == "stream_chemistry_2021.csv"
    assert Path(file_entry["location"]) == (package / "stream_chemistry_2021.csv").resolve()
    assert (file_entry["size"], file_entry["md5"], file_entry["rows"]) == (198, "34f4d7e8154d818673739c5bfd40a562", 5)
    assert file_entry["media_type"] == "text/csv" and file_entry["encoding"] == "utf-8"
    # the textFormat is the file's Table Dialect: QA reads the file by it and compares it
    assert file_entry["dialect"] == {"lineTerminator": "\n", "delimiter": ","}


def test_hnap_bilingual_and_datacite_4_and_3(instance_dir):
    folder = instance_dir
    files = [META / "iso19139-hnap-bilingual.xml", META / "datacite-kernel4.xml", META / "datacite-kernel3.xml"]
    manager = key_file(folder, "data-manager", "Maria Data", email="maria.data@odc.example.org")
    result = docket_cli("--key-file", manager, "import-metadata", *files, "--json", instance=folder)
    assert result.code == 0, result.err + result.out
    by_name = {Path(f["source"]).name: f for f in result.json()["files"]}
    assert {f["status"] for f in by_name.values()} == {"imported"}

    iso = get(folder, by_name["iso19139-hnap-bilingual.xml"]["id"])
    desc = iso["metadata"]["project_descriptive"]
    assert desc["title"] == {"en": "Bottom temperature survey of the Scotian Shelf, 2019",
                             "fr": "Relevé de la température de fond du plateau néo-écossais, 2019"}
    assert set(desc["abstract"]) == {"en", "fr"} and desc["abstract"]["fr"].startswith("Température de l'eau")
    assert desc["keywords"] == ["Oceanography", "Océanographie", "Water temperature", "Température de l'eau"]
    assert [a["name"] for a in desc["authors"]] == ["Luc Gagnon"]
    admin = iso["metadata"]["dataset_administrative"]
    assert admin["contact"]["email"] == "marie.tremblay@dfo-mpo.example.ca"
    assert admin["licence"].startswith("Open Government Licence - Canada")
    assert admin["publisher"] == "Government of Canada; Fisheries and Oceans Canada"
    ctx = iso["metadata"]["experiment_contextual"]
    assert ctx["temporal_coverage"] == {"start": "2019-07-02", "end": "2019-07-31"}
    assert ctx["spatial_coverage"] == {"west": -67.5, "east": -57.0, "south": 41.5, "north": 47.0}
    assert iso["files"] == [{"name": "scotian-shelf-bottom-temperature-2019.csv",
                             "location": "https://data.example.ca/dfo/scotian-shelf-bottom-temperature-2019.csv"}]
    unmapped = by_name["iso19139-hnap-bilingual.xml"]["unmapped"]
    assert "/gmd:MD_Metadata/gmd:fileIdentifier" in unmapped
    assert "/gmd:MD_Metadata/gmd:identificationInfo/gmd:MD_DataIdentification/gmd:topicCategory" in unmapped
    assert not any("title" in u or "abstract" in u or "keyword" in u for u in unmapped)
    ident = "/gmd:MD_Metadata/gmd:identificationInfo/gmd:MD_DataIdentification"
    # a licence is one string, a contact's organisation too: their French versions are listed, not lost
    assert f"{ident}/gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:otherConstraints/gmd:PT_FreeText" in unmapped
    assert "/gmd:MD_Metadata/gmd:contact/gmd:CI_ResponsibleParty/gmd:organisationName/gmd:PT_FreeText" in unmapped
    assert ("/gmd:MD_Metadata/gmd:contact/gmd:CI_ResponsibleParty/gmd:contactInfo/gmd:CI_Contact/gmd:address/"
            "gmd:CI_Address/gmd:city") in unmapped
    assert not any("PT_Locale" in u or "gmd:locale" in u or "EX_Extent" in u or "gmd:linkage" in u for u in unmapped)

    dc4 = get(folder, by_name["datacite-kernel4.xml"]["id"])
    assert dc4["review_state"] == "draft"
    # DataCite names no e-mail address: the importing data manager answers for the draft
    assert dc4["provider"] == {"name": "Maria Data", "email": "maria.data@odc.example.org"}
    assert dc4["metadata"]["project_descriptive"]["title"] == {"en": "Soil moisture profiles at a savanna flux tower, 2018-2019"}
    assert dc4["metadata"]["dataset_administrative"]["licence"] == "CC-BY-4.0"
    assert dc4["metadata"]["experiment_contextual"]["temporal_coverage"] == {"start": "2018-10-01", "end": "2019-09-30"}
    assert dc4["metadata"]["experiment_contextual"]["spatial_coverage"]["place"] == "Ibadan savanna flux site"
    assert dc4["files"][0]["location"] == "https://doi.org/10.5072/ZENODO.4410213"
    assert by_name["datacite-kernel4.xml"]["unmapped"] == [
        "/resource/creators", "/resource/titles/title[2]", "/resource/publicationYear", "/resource/resourceType",
        "/resource/dates/date[2]", "/resource/descriptions/description[2]"]

    dc3 = get(folder, by_name["datacite-kernel3.xml"]["id"])
    ctx3 = dc3["metadata"]["experiment_contextual"]
    assert ctx3["spatial_coverage"] == {"west": 22.0, "east": 25.5, "south": 65.0, "north": 65.8,
                                        "place": "Bothnian Bay"}  # kernel 3: "S W N E" in one string
    assert dc3["metadata"]["project_descriptive"]["title"].startswith("Sea ice thickness")
    assert dc3["metadata"]["dataset_administrative"]["licence"] == "https://creativecommons.org/licenses/by/3.0/"


def test_submit_state_accepts_only_submitted_or_draft(dk: Docket):
    doc = json.loads((ROOT / "examples" / "requests" / "weather-table-schema.json").read_text(encoding="utf-8"))
    with pytest.raises(BadInput, match="'submitted' or 'draft'"):
        dk.submit(doc, state="approved")
    assert dk.list() == []
    provider = as_role(dk, "provider")
    draft = provider.submit(doc, state="draft")
    assert provider.get(draft["id"])["review_state"] == "draft"


# --------------------------------------------------------------------------- bad input

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<eml:eml xmlns:eml="https://eml.ecoinformatics.org/eml-2.2.0" packageId="x" system="y"><dataset><title>&lol4;</title></dataset></eml:eml>
"""
QUADRATIC = ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]>\n'
             '<resource xmlns="http://datacite.org/schema/kernel-4"><titles><title>' + "&a;" * 2000
             + "</title></titles></resource>\n")
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd"><!ENTITY remote SYSTEM "http://198.51.100.7/x">]>
<resource xmlns="http://datacite.org/schema/kernel-4"><titles><title>&secret;&remote;</title></titles></resource>
"""
DTD_FETCH = """<?xml version="1.0"?>
<!DOCTYPE resource SYSTEM "http://198.51.100.7/datacite.dtd">
<resource xmlns="http://datacite.org/schema/kernel-4"><titles><title>t</title></titles></resource>
"""
WRONG_NS = """<?xml version="1.0"?>
<eml:eml xmlns:eml="https://example.org/not-eml" packageId="x" system="y"><dataset><title>t</title></dataset></eml:eml>
"""
UNKNOWN_KERNEL = (META / "datacite-kernel4.xml").read_text(encoding="utf-8").replace("kernel-4", "kernel-9")
TRUNCATED = (META / "datacite-kernel4.xml").read_text(encoding="utf-8")[:700]
FRAGMENT = """<?xml version="1.0"?>
<dataTable xmlns="https://eml.ecoinformatics.org/dataTable-2.2.0"><entityName>t</entityName></dataTable>
"""
#: a record lacking parts imports as an incomplete draft; one holding nothing at all is no holding
EMPTY = """<?xml version="1.0"?>
<eml:eml xmlns:eml="https://eml.ecoinformatics.org/eml-2.2.0" packageId="x" system="y"><dataset/></eml:eml>
"""
BAD = {
    "billion-laughs.xml": (BILLION_LAUGHS, "DTD or entities"),
    "quadratic.xml": (QUADRATIC, "DTD or entities"),
    "external-entity.xml": (EXTERNAL, "DTD or entities"),
    "dtd-fetch.xml": (DTD_FETCH, "DTD or entities"),
    "wrong-namespace.xml": (WRONG_NS, "unknown namespace"),
    "unknown-kernel.xml": (UNKNOWN_KERNEL, "kernel '9' is not one docket reads"),
    "truncated.xml": (TRUNCATED, "not well-formed XML"),
    "fragment.xml": (FRAGMENT, "a fragment, not a full record"),
    "empty-record.xml": (EMPTY, "holds nothing a request can be made of"),
}


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Path:
    """An instance on SQLite only: for cases whose store side the both-backend tests cover."""
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    return folder


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_refused_with_exit_2_naming_the_file_and_nothing_stored(sqlite_instance, name):
    instance_dir = sqlite_instance
    content, reason = BAD[name]
    bad = instance_dir / "inbox" / name
    bad.write_text(content, encoding="utf-8")
    good = META / "iso19139-hnap-bilingual.xml"  # a good record beside it is not stored either: exit 2 changes nothing
    result = docket_cli("import-metadata", good, bad, "--json", instance=instance_dir)
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.out + result.err
    files = {Path(f["source"]).name: f for f in result.json()["files"]}
    assert files[name]["status"] == "refused"
    assert reason in files[name]["message"] and str(bad) in files[name]["message"]
    assert files["iso19139-hnap-bilingual.xml"]["status"] == "not-imported"
    assert stored(instance_dir) == []


def test_every_bad_input_at_once_stores_nothing_on_either_backend(instance_dir):
    paths = [META / "iso19139-hnap-bilingual.xml"]
    for name, (content, _) in sorted(BAD.items()):
        (instance_dir / "inbox" / name).write_text(content, encoding="utf-8")
        paths.append(instance_dir / "inbox" / name)
    result = docket_cli("import-metadata", instance_dir / "inbox", *paths[:1], instance=instance_dir)
    assert result.code == 2, result.out + result.err
    assert result.out.count("refused ") == len(BAD) and f"0 imported, {len(BAD)} refused" in result.out
    assert stored(instance_dir) == []


def test_too_large_and_data_outside_the_inbox_are_refused(instance_dir, tmp_path):
    result = docket_cli("import-metadata", META / "datacite-kernel4.xml", "--max-bytes", "100", "--json",
                        instance=instance_dir)
    assert result.code == 2 and "larger than 100 bytes" in result.json()["files"][0]["message"]
    outside = tmp_path / "elsewhere"
    shutil.copytree(EML_DIR, outside)  # the EML names a data file beside it, outside the inbox
    result = docket_cli("import-metadata", outside / "eml.xml", "--json", instance=instance_dir)
    assert result.code == 2
    message = result.json()["files"][0]["message"]
    assert "outside the instance's inbox" in message and str((outside / "stream_chemistry_2021.csv").resolve()) in message
    missing = docket_cli("import-metadata", tmp_path / "nope.xml", instance=instance_dir)
    assert missing.code == 2 and "does not exist" in missing.err
    assert stored(instance_dir) == []


_OFFLINE = """
import json, sys
attempts = []
def guard(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        attempts.append(f"{event} {args!r}")
        raise OSError("the network is out of bounds for this test")
sys.addaudithook(guard)
from docket.cli import main
code = main(["--instance", sys.argv[1], "import-metadata", *sys.argv[2:], "--json"])
print(json.dumps({"code": code, "attempts": attempts}))
"""


def test_no_network_is_attempted(tmp_path):
    folder = tmp_path / "inst"
    docket.init(folder, project="legacy").close()
    paths = []
    for name in ("external-entity.xml", "dtd-fetch.xml", "billion-laughs.xml"):
        (folder / "inbox" / name).write_text(BAD[name][0], encoding="utf-8")
        paths.append(str(folder / "inbox" / name))
    proc = subprocess.run([sys.executable, "-c", _OFFLINE, str(folder), *paths], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"code": 2, "attempts": []}, proc.stderr


# --------------------------------------------------------------------------- on to transfer and QA


def test_imported_eml_package_whose_data_differ_shows_in_qa(sqlite_instance):
    """SQLite only: the import's store side runs on both backends above; QA is the same code."""
    instance_dir = sqlite_instance
    package = place_eml(instance_dir)
    data = package / "stream_chemistry_2021.csv"
    data.write_text(data.read_text(encoding="utf-8") + "WS3,2021-06-21,13.0,0.31,low\n", encoding="utf-8")
    result = docket_cli("import-metadata", package / "eml.xml", "--json", instance=instance_dir)
    assert result.code == 0, result.err + result.out
    request_id = result.json()["files"][0]["id"]
    with docket.open(instance_dir) as d:
        d.review(request_id, "submitted")  # the data manager who imported it submits the draft
        as_role(d, "reviewer", "Eva").review(request_id, "approved")
        assert d.transfer(request_id)["outcome"] == "done"
    qa = docket_cli("qa", request_id, "--json", instance=instance_dir)
    assert qa.code == 1, qa.err  # the data differ from what the EML declared
    report = json.loads(Path(qa.json()["report"]).read_text(encoding="utf-8"))
    got = {c["id"]: c for c in report["checks"] if c.get("file") in (None, "stream_chemistry_2021.csv")}
    size = data.stat().st_size
    assert got["congruence.size"]["status"] == "error"
    assert [(loc["file"], loc["value"], loc["note"]) for loc in got["congruence.size"]["locations"]] == [
        ("stream_chemistry_2021.csv", size, "declared 198")]
    assert got["congruence.md5"]["status"] == "error"
    assert got["congruence.md5"]["locations"][0]["note"] == "declared 34f4d7e8154d818673739c5bfd40a562"
    measured = {f["name"]: f for f in report["files"]}["stream_chemistry_2021.csv"]
    assert measured["rows"] == 6  # measured; the EML declared 5 (numberOfRecords) and the draft keeps 5
    assert measured["header"] == ["site", "sample_date", "temp_c", "nitrate_mgl", "flow_class"]
    with docket.open(instance_dir) as d:
        assert {f["name"]: f.get("rows") for f in d.get(request_id)["files"]} == {"stream_chemistry_2021.csv": 5}


def test_help_and_usage_errors_load_nothing_heavy(tmp_path):
    """The command's parser and its usage errors come before the API, lxml or defusedxml."""
    from tests.test_startup import HEAVY, loaded_by_main

    for argv in (["import-metadata", "--help"], ["import-metadata", str(tmp_path / "missing.xml")]):
        result, modules = loaded_by_main(argv)
        assert result["code"] in (0, 2), result
        assert not modules & (HEAVY | {"defusedxml"}), (argv, modules & (HEAVY | {"defusedxml"}))
    assert "does not exist" in result["err"]


def test_eml_2_1_and_datacite_kernel_2_are_read_too(sqlite_instance, tmp_path):
    package = place_eml(sqlite_instance)
    eml = package / "eml.xml"
    eml.write_text(eml.read_text(encoding="utf-8").replace("https://eml.ecoinformatics.org/eml-2.2.0",
                                                           "eml://ecoinformatics.org/eml-2.1.1"), encoding="utf-8")
    kernel2 = sqlite_instance / "inbox" / "kernel2.xml"
    kernel2.write_text((META / "datacite-kernel3.xml").read_text(encoding="utf-8").replace("kernel-3", "kernel-2.2"),
                       encoding="utf-8")
    manager = key_file(sqlite_instance, "data-manager", "Maria Data", email="maria.data@odc.example.org")
    result = docket_cli("--key-file", manager, "import-metadata", eml, kernel2, "--json", instance=sqlite_instance)
    assert result.code == 0, result.out + result.err
    assert [(f["standard"], f["status"]) for f in result.json()["files"]] == [("eml", "imported"), ("datacite", "imported")]
    assert [r["review_state"] for r in stored(sqlite_instance)] == ["draft", "draft"]


def test_contact_option_answers_for_a_datacite_record(sqlite_instance):
    # the instance's admin has no e-mail address, nor does the record: an incomplete draft, whose
    # report says it still needs a contact and a provider
    plain = docket_cli("import-metadata", META / "datacite-kernel4.xml", instance=sqlite_instance)
    assert plain.code == 0, plain.out + plain.err
    assert "(incomplete draft)" in plain.out and plain.out.count(str(META / "datacite-kernel4.xml")) == 1
    assert [line.strip() for line in plain.out.splitlines() if "to complete:" in line] == [
        "to complete: $.metadata.dataset_administrative.contact: is required",
        "to complete: $.provider: is required"]
    bad = docket_cli("import-metadata", META / "datacite-kernel4.xml", "--contact", "nobody", instance=sqlite_instance)
    assert bad.code == 2 and "--contact" in bad.err
    result = docket_cli("import-metadata", META / "datacite-kernel4.xml", "--contact", "Ida Curator <ida@odc.example.org>",
                        "--json", instance=sqlite_instance)
    assert result.code == 0, result.out + result.err
    record = get(sqlite_instance, result.json()["files"][0]["id"])
    assert record["provider"] == {"name": "Ida Curator", "email": "ida@odc.example.org"}
    assert record["metadata"]["dataset_administrative"]["contact"] == record["provider"]
