"""Metadata exports (issue 13, part 1): every format, on every example request, valid against the
official schema sets, with the languages, people, coverage, Table Schema and measured file facts
that the record holds; broken documents refused naming the element and the rule; no XSD set is
said plainly.

The XSD sets are ``shared/xsd`` beside the repository (``[publication] xsd_dir``); the XML
exports are also re-validated here against the sets the test loads itself, and broken documents
must be refused, so a validator that let everything through would not pass these tests.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import rdflib
from lxml import etree

import docket
from docket.errors import BadInput, NotFound
from docket.exporters import (
    Export,
    Exporter,
    ExportNotValidated,
    ExportSettings,
    export,
    export_record,
    get,
    names,
    register,
    render,
    unregister,
)
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, example_requests

XSD_DIR = Path(__file__).resolve().parents[2] / "shared" / "xsd"
needs_xsd = pytest.mark.skipif(not (XSD_DIR / "eml-2.2.0" / "eml.xsd").is_file(),
                               reason=f"the official XSD sets are not at {XSD_DIR} (../shared/xsd)")
FORMATS = ["iso19139", "datacite", "eml", "schemaorg", "dcat"]
#: DCAT is checked with SHACL through pyshacl (a dependency docket declares); without it the
#: export must say it was not validated, and the SHACL refusals cannot be tested.
HAS_PYSHACL = importlib.util.find_spec("pyshacl") is not None
XML_SETS = {"iso19139": "iso19139/all.xsd", "datacite": "datacite-4.5/metadata.xsd",
            "eml": "eml-2.2.0/eml.xsd"}
NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
      "dc": "http://datacite.org/schema/kernel-4", "eml": "https://eml.ecoinformatics.org/eml-2.2.0"}
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PUBLICATION = f"""
[publication]
xsd_dir = "{XSD_DIR.as_posix()}"
publisher = "Ocean Data Centre"

[datacite]
prefix = "10.5072"
"""


def configure(instance: Path, extra: str = PUBLICATION) -> None:
    with (instance / "docket.toml").open("a", encoding="utf-8") as fh:
        fh.write(extra)


@cache
def official(fmt: str) -> etree.XMLSchema:
    """The official set, compiled here on its own (not through docket's validator or its cache)."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / XML_SETS[fmt])))


def independently_valid(fmt: str, data: bytes) -> None:
    """Valid per the official set loaded by the test itself (the record's schemaLocation is ignored)."""
    schema = official(fmt)
    assert schema.validate(etree.fromstring(data)), f"{fmt}: {schema.error_log.last_error}"


def settings(**kw: Any) -> ExportSettings:
    base = {"base_uri": "https://data.example.org/ocean/", "languages": ["en", "fr", "de"],
            "xsd_dir": XSD_DIR, "publisher": "Ocean Data Centre", "doi_prefix": "10.5072"}
    return ExportSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One SQLite instance with every example submitted, and the weather request transferred and
    QA-checked (so its files carry measured size, checksums and row count)."""
    folder = tmp_path_factory.mktemp("exports") / "inst"
    d = docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                    local_roots=["inbox", str(EXAMPLES)])
    d.close()
    configure(folder)
    d = docket.open(folder)
    ids = {p.stem: d.anonymously().submit(p)["id"] for p in example_requests()}
    measured = d.anonymously().submit(EXAMPLES / "requests" / "weather-table-schema.json")["id"]
    d.review(measured, "approved")
    d.transfer(measured)
    d.qa(measured)
    yield {"folder": folder, "docket": d, "ids": ids, "measured": measured}
    d.close()


def doc(desk: dict[str, Any], stem: str) -> dict[str, Any]:
    return desk["docket"].get(desk["ids"][stem])


# -- every format, every example, through the CLI, on each store ------------------------------

@needs_xsd
def test_every_example_exports_valid_in_every_format(instance_dir: Path) -> None:
    configure(instance_dir)
    refs = []
    for path in example_requests():
        submitted = docket_cli("submit", path, "--json", instance=instance_dir)
        assert submitted.code == 0, submitted.err
        refs.append(submitted.json()["id"] + ".1")
    # one format through the command line (the others are the same call through the API)
    out = docket_cli("export", refs[0], "--format", "iso19139", "--json", instance=instance_dir).json()
    assert out["validated"] is True and out["warnings"] == [] and out["ref"] == refs[0]
    independently_valid("iso19139", out["document"].encode("utf-8"))
    d = docket.open(instance_dir)
    for ref in refs:
        for fmt in FORMATS:
            result = render(d, ref, fmt)
            if fmt == "dcat" and not HAS_PYSHACL:
                assert result.warnings == ["not validated: pyshacl is not installed (the dcat export's SHACL shapes need it)"]
            else:
                assert result.validated, (ref, fmt, result.warnings)
            assert result.ref == ref and result.format == fmt
            data = result.data
            if fmt in XML_SETS:
                independently_valid(fmt, data)
            elif fmt == "schemaorg":
                assert json.loads(data)["@type"] == "Dataset"
            else:
                graph = rdflib.Graph().parse(data=data, format="turtle")
                assert len(graph) > 20
    d.close()


# -- what each format carries ------------------------------------------------------------------

@needs_xsd
def test_multilingual_texts_keep_their_languages_in_every_format(desk: dict[str, Any]) -> None:
    record = doc(desk, "ctd-multilingual")
    title = record["metadata"]["project_descriptive"]["title"]
    abstract = record["metadata"]["project_descriptive"]["abstract"]
    s = settings()

    iso = etree.fromstring(export_record(record, "iso19139", s).data)
    locales = {e.get("id"): e.findtext("gmd:languageCode/gmd:LanguageCode", namespaces=NS)
               for e in iso.iterfind("gmd:locale/gmd:PT_Locale", NS)}
    assert locales == {"locale-fr": "fre", "locale-de": "ger"}
    assert iso.findtext("gmd:language/gmd:LanguageCode", namespaces=NS) == "eng"
    cite_title = iso.find(".//gmd:MD_DataIdentification/gmd:citation/gmd:CI_Citation/gmd:title", NS)
    assert cite_title.findtext("gco:CharacterString", namespaces=NS) == title["en"]
    local = {e.get("locale"): e.text for e in cite_title.iterfind(".//gmd:LocalisedCharacterString", NS)}
    assert local == {"#locale-fr": title["fr"], "#locale-de": title["de"]}
    iso_abstract = iso.find(".//gmd:MD_DataIdentification/gmd:abstract", NS)
    assert {e.get("locale"): e.text for e in iso_abstract.iterfind(".//gmd:LocalisedCharacterString", NS)} == {
        "#locale-fr": abstract["fr"], "#locale-de": abstract["de"]}
    lineage = iso.find(".//gmd:LI_Lineage/gmd:statement", NS)
    assert lineage.findtext("gco:CharacterString", namespaces=NS).startswith("Downcast only")
    assert len(lineage.findall(".//gmd:LocalisedCharacterString", NS)) == 2

    dc = etree.fromstring(export_record(record, "datacite", s).data)
    titles = {(e.get(LANG), e.get("titleType")): e.text for e in dc.iterfind("dc:titles/dc:title", NS)}
    assert titles == {("en", None): title["en"], ("fr", "TranslatedTitle"): title["fr"],
                      ("de", "TranslatedTitle"): title["de"]}
    abstracts = {e.get(LANG): e.text for e in dc.iterfind("dc:descriptions/dc:description", NS)
                 if e.get("descriptionType") == "Abstract"}
    assert abstracts == abstract

    eml = etree.fromstring(export_record(record, "eml", s).data)
    eml_title = eml.find("dataset/title")
    assert (eml_title.get(LANG), eml_title.text) == ("en", title["en"])
    assert {v.get(LANG): v.text for v in eml_title.iterfind("value")} == {"fr": title["fr"], "de": title["de"]}
    assert {p.get(LANG): p.text for p in eml.iterfind("dataset/abstract/para")} == abstract

    jsonld = json.loads(export_record(record, "schemaorg", s).data)
    assert {v["@language"]: v["@value"] for v in jsonld["name"]} == title
    assert {v["@language"]: v["@value"] for v in jsonld["description"]} == abstract
    assert jsonld["inLanguage"] == ["en", "fr", "de"]

    graph = rdflib.Graph().parse(data=export_record(record, "dcat", s).data, format="turtle")
    dct = rdflib.Namespace("http://purl.org/dc/terms/")
    found = {(o.language, str(o)) for o in graph.objects(None, dct.title) if o.language}
    assert found == {(lang, text) for lang, text in title.items()}


@needs_xsd
def test_eml_maps_the_table_schema_and_the_measured_file(desk: dict[str, Any]) -> None:
    d = desk["docket"]
    record = d.get(desk["measured"])
    measured = record["measured"]["alpine_weather_2022.csv"]
    assert measured["rows"] == 200  # QA counted them; EML must say so
    eml = etree.fromstring(export(d, desk["measured"], "eml"))
    table = eml.find("dataset/dataTable")
    assert table.findtext("entityName") == "alpine_weather_2022.csv"
    assert table.findtext("numberOfRecords") == "200"
    phys = table.find("physical")
    assert phys.findtext("size") == str(measured["size"]) and phys.find("size").get("unit") == "byte"
    assert {a.get("method"): a.text for a in phys.iterfind("authentication")} == {
        "MD5": measured["md5"], "SHA-256": measured["sha256"]}
    assert phys.findtext("dataFormat/textFormat/simpleDelimited/fieldDelimiter") == ","
    attrs = {a.findtext("attributeName"): a for a in table.iterfind("attributeList/attribute")}
    fields = record["metadata"]["dataset_structural"]["fields"]
    assert list(attrs) == [f["name"] for f in fields]
    temp = attrs["air_temp_c"].find("measurementScale/ratio")
    assert temp.findtext("unit/standardUnit") == "celsius"
    assert temp.findtext("numericDomain/numberType") == "real"
    assert temp.findtext("numericDomain/bounds/minimum") == "-40"
    assert attrs["rel_humidity_pct"].findtext("measurementScale/ratio/unit/standardUnit") == "percent"
    assert attrs["obs_id"].findtext("measurementScale/ratio/numericDomain/numberType") == "integer"
    station = attrs["station"].iterfind("measurementScale/nominal/nonNumericDomain/enumeratedDomain/codeDefinition/code")
    assert [c.text for c in station] == ["ALP-1", "ALP-2"]
    assert attrs["obs_date"].findtext("measurementScale/dateTime/formatString") == "YYYY-MM-DD"
    assert attrs["obs_time_utc"].findtext("measurementScale/dateTime/formatString") == "hh:mm:ss"
    gust = [c.text for c in attrs["gust"].iterfind(".//codeDefinition/code")]
    assert gust == ["true", "false"]
    # "-999" is declared missing; the empty cell is implicit and not a code EML can hold
    assert [c.text for c in attrs["precip_mm"].iterfind("missingValueCode/code")] == ["-999"]
    independently_valid("eml", etree.tostring(eml))

    # the same measured facts in the other formats
    dc = etree.fromstring(export(d, desk["measured"], "datacite"))
    assert dc.findtext("dc:sizes/dc:size", namespaces=NS) == f"{measured['size']} bytes"
    jsonld = json.loads(export(d, desk["measured"], "schemaorg"))
    assert jsonld["distribution"][0]["sha256"] == measured["sha256"]
    assert {v["name"]: v.get("unitText") for v in jsonld["variableMeasured"]}["air_temp_c"] == "degC"
    graph = rdflib.Graph().parse(data=export(d, desk["measured"], "dcat"), format="turtle")
    spdx = rdflib.Namespace("http://spdx.org/rdf/terms#")
    assert {str(v) for v in graph.objects(None, spdx.checksumValue)} == {measured["md5"], measured["sha256"]}


@needs_xsd
def test_people_licence_coverage_and_identifiers(desk: dict[str, Any]) -> None:
    record = doc(desk, "ctd-multilingual")
    s = settings()
    dc = etree.fromstring(export_record(record, "datacite", s).data)
    assert dc.findtext("dc:identifier", namespaces=NS) == f"10.5072/{record['id']}.1"
    assert dc.findtext("dc:publisher", namespaces=NS) == "Marine Observatory of Brest"  # the record's own
    assert dc.findtext("dc:publicationYear", namespaces=NS) == record["last_modified_date"][:4]
    creators = dc.findall("dc:creators/dc:creator", NS)
    assert [c.findtext("dc:familyName", namespaces=NS) for c in creators] == ["Lima", "Le Goff"]
    assert creators[0].findtext("dc:nameIdentifier", namespaces=NS) == "https://orcid.org/0000-0002-1825-0097"
    rights = dc.find("dc:rightsList/dc:rights", NS)
    assert rights.get("rightsIdentifier") == "CC-BY-4.0" and rights.get("rightsIdentifierScheme") == "SPDX"
    box = dc.find("dc:geoLocations/dc:geoLocation/dc:geoLocationBox", NS)
    assert box.findtext("dc:westBoundLongitude", namespaces=NS) == "-5.2"
    assert {e.get("dateType"): e.text for e in dc.iterfind("dc:dates/dc:date", NS)}["Collected"] == "2024-05-11/2024-05-13"

    iso = etree.fromstring(export_record(record, "iso19139", s).data)
    # pygeometa leaves out the mandatory metadata contact; docket adds it
    assert iso.findtext("gmd:contact//gmd:individualName/gco:CharacterString", namespaces=NS) == "Ana Lima"
    assert iso.find(".//{http://www.opengis.net/gml/3.2}TimePeriod") is not None  # GML 3.2, not 3.1
    citation = iso.find(".//gmd:MD_DataIdentification/gmd:citation/gmd:CI_Citation", NS)
    authors = citation.iterfind("gmd:citedResponsibleParty/gmd:CI_ResponsibleParty", NS)
    assert [(a.findtext("gmd:individualName/gco:CharacterString", namespaces=NS),
             a.find("gmd:role/gmd:CI_RoleCode", NS).get("codeListValue")) for a in authors] == [
        ("Ana Lima", "author"), ("Yann Le Goff", "author")]
    assert [c.text for c in citation.iterfind("gmd:identifier//gco:CharacterString", NS)] == [
        f"https://data.example.org/ocean/{record['id']}.1", f"https://doi.org/10.5072/{record['id']}.1"]
    assert iso.findtext(".//gmd:EX_GeographicBoundingBox/gmd:westBoundLongitude/gco:Decimal", namespaces=NS) == "-5.2"
    assert iso.findtext(".//gmd:EX_GeographicDescription//gmd:code/gco:CharacterString",
                        namespaces=NS) == "Bay of Biscay"

    soil = doc(desk, "soil-several-files")
    eml = etree.fromstring(export_record(soil, "eml", s).data)
    # no Table Schema: the CSVs are other entities, with their declared size and checksums
    assert eml.find("dataset/dataTable") is None
    entities = eml.findall("dataset/otherEntity")
    assert [e.findtext("entityName") for e in entities] == [f["name"] for f in soil["files"]]
    assert entities[2].findtext("physical/dataFormat/externallyDefinedFormat/formatName") == "text/plain"
    assert eml.findtext("dataset/project/award/awardNumber") == "LU-2023-117"
    dc = etree.fromstring(export_record(soil, "datacite", s).data)
    assert dc.findtext("dc:publisher", namespaces=NS) == "Ocean Data Centre"  # from [publication]
    assert dc.findtext("dc:fundingReferences/dc:fundingReference/dc:awardNumber", namespaces=NS) == "LU-2023-117"
    embargo = {e.get("dateType"): e.text for e in dc.iterfind("dc:dates/dc:date", NS)}
    assert embargo["Available"] == "2025-06-30"


@needs_xsd
def test_a_record_without_optional_parts_still_exports_valid(desk: dict[str, Any]) -> None:
    record = doc(desk, "weather-table-schema")
    bare = json.loads(json.dumps(record))
    for part in ("dataset_structural", "experiment_contextual", "instrument_technical"):
        bare["metadata"].pop(part)
    bare["files"] = [{k: v for k, v in f.items() if k in ("name", "location")} for f in bare["files"]]
    for fmt in FORMATS:
        result = export_record(bare, fmt, settings())
        assert result.validated or (fmt == "dcat" and not HAS_PYSHACL), (fmt, result.warnings)
        if fmt in XML_SETS:
            independently_valid(fmt, result.data)
    iso = etree.fromstring(export_record(bare, "iso19139", settings()).data)
    assert iso.find(".//gmd:extent", NS) is None and iso.find("gmd:referenceSystemInfo", NS) is None


def test_datacite_refuses_naming_what_the_standard_requires(desk: dict[str, Any]) -> None:
    record = doc(desk, "weather-table-schema")  # names no publisher
    with pytest.raises(BadInput, match=r"publisher.*\[publication\] publisher"):
        export_record(record, "datacite", settings(publisher=None))
    with pytest.raises(BadInput, match=r"needs a DOI: set \[datacite\] prefix"):
        export_record(record, "datacite", settings(doi_prefix=None))


# -- validators refuse broken documents, naming the element and the rule -----------------------

def _remove(data: bytes, xpath: str) -> bytes:
    root = etree.fromstring(data)
    for el in root.xpath(xpath, namespaces=NS):
        el.getparent().remove(el)
    return etree.tostring(root)


@needs_xsd
@pytest.mark.parametrize(("fmt", "xpath", "named"), [
    ("iso19139", "/gmd:MD_Metadata/gmd:contact", "gmd:contact"),
    ("datacite", "/dc:resource/dc:titles", "titles"),
    ("eml", "/eml:eml/dataset/contact", "contact"),
])
def test_xsd_validation_refuses_a_broken_document(desk: dict[str, Any], fmt: str, xpath: str, named: str) -> None:
    good = export_record(doc(desk, "ctd-multilingual"), fmt, settings()).data
    broken = _remove(good, xpath)
    with pytest.raises(BadInput) as caught:
        get(fmt).validate(broken, settings())
    message = caught.value.message
    assert named in message and XML_SETS[fmt] in message
    assert "not expected" in message or "Missing child element" in message  # the rule
    assert caught.value.problems and caught.value.problems[0].where.startswith("line ")


@needs_xsd
def test_pygeometa_alone_is_not_valid_and_docket_corrects_it(desk: dict[str, Any]) -> None:
    """What docket's post-processing is for: pygeometa's output fails the 2007 set as it comes."""
    from docket.exporters.iso19139 import pygeometa_xml
    from docket.exporters.neutral import from_record

    dataset = from_record(doc(desk, "ctd-multilingual"), settings())
    with pytest.raises(BadInput) as caught:
        get("iso19139").validate(pygeometa_xml(dataset).encode("utf-8"), settings())
    assert "gmd:contact" in caught.value.message  # the mandatory metadata contact is missing
    # given a contact by hand, it still fails on its GML namespace (pre-3.2)
    root = etree.fromstring(pygeometa_xml(dataset).encode("utf-8"))
    party = etree.fromstring(etree.tostring(root.find(".//gmd:pointOfContact/gmd:CI_ResponsibleParty", NS)))
    party.set("id", "by-hand")
    contact = etree.Element(f"{{{NS['gmd']}}}contact")
    contact.append(party)
    root.find("gmd:dateStamp", NS).addprevious(contact)
    with pytest.raises(BadInput) as caught:
        get("iso19139").validate(etree.tostring(root), settings())
    assert "TimePeriod" in caught.value.message and "{http://www.opengis.net/gml}" in caught.value.message
    assert get("iso19139").validate(export_record(doc(desk, "ctd-multilingual"), "iso19139",
                                                  settings()).data, settings()) is None


@needs_xsd
def test_eml_ids_must_be_unique_beyond_the_xsd(desk: dict[str, Any]) -> None:
    good = export_record(doc(desk, "soil-several-files"), "eml", settings()).data
    root = etree.fromstring(good)
    for entity in root.iterfind("dataset/otherEntity"):
        entity.set("id", "entity-1")
    with pytest.raises(BadInput, match="id 'entity-1' is used twice"):
        get("eml").validate(etree.tostring(root), settings())


def test_schemaorg_and_dcat_are_checked_against_their_shapes(desk: dict[str, Any]) -> None:
    good = export_record(doc(desk, "ctd-multilingual"), "schemaorg", settings()).data
    data = json.loads(good)
    del data["license"]
    data["description"] = "too short"
    with pytest.raises(BadInput) as caught:
        get("schemaorg").validate(json.dumps(data).encode(), settings())
    where = {p.where: p.message for p in caught.value.problems}
    assert "'license' is a required property" in where["$"] and "rule required" in where["$"]
    assert "$.description" in where and "oneOf" in where["$.description"]

    if not HAS_PYSHACL:
        pytest.skip("pyshacl is not installed: the DCAT shapes cannot be checked")
    ttl = export_record(doc(desk, "ctd-multilingual"), "dcat", settings()).data
    graph = rdflib.Graph().parse(data=ttl, format="turtle")
    dct = rdflib.Namespace("http://purl.org/dc/terms/")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    graph.remove((None, dct.title, None))
    graph.remove((None, dcat.accessURL, None))
    with pytest.raises(BadInput) as caught:
        get("dcat").validate(graph.serialize(format="turtle", encoding="utf-8"), settings())
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "dct:title" in text and "dcat:accessURL" in text and "MinCountConstraintComponent" in text


# -- the command line --------------------------------------------------------------------------

@needs_xsd
def test_cli_stdout_and_output_file_are_the_same_document(desk: dict[str, Any], tmp_path: Path) -> None:
    folder, ref = desk["folder"], desk["ids"]["ctd-multilingual"]
    shown = docket_cli("export", ref, "--format", "eml", instance=folder)
    assert shown.code == 0, shown.err
    assert shown.err == ""  # validated: nothing to warn about
    target = tmp_path / "ctd.eml.xml"
    written = docket_cli("export", f"{ref}.1", "-f", "eml", "-o", target, instance=folder)
    assert written.code == 0, written.err
    assert written.out == "" and "validated" in written.err
    assert target.read_bytes() == shown.out.encode("utf-8")
    as_json = docket_cli("export", ref, "-f", "dcat", "-o", tmp_path / "x.ttl", "--json", instance=folder).json()
    assert as_json["output"] == str(tmp_path / "x.ttl") and "document" not in as_json
    assert as_json["media_type"] == "text/turtle"


def test_cli_unknown_format_id_or_revision_is_exit_2(desk: dict[str, Any]) -> None:
    folder, ref = desk["folder"], desk["ids"]["ctd-multilingual"]
    bad = docket_cli("export", ref, "--format", "marc21", instance=folder)
    assert bad.code == 2 and "unknown export format 'marc21'" in bad.err
    assert all(name in bad.err for name in FORMATS)
    missing = docket_cli("export", ref, instance=folder)
    assert missing.code == 2 and "--format" in missing.err and "iso19139" in missing.err
    assert docket_cli("export", "ocean-9999", "-f", "eml", instance=folder).code == 2
    assert docket_cli("export", f"{ref}.7", "-f", "eml", instance=folder).code == 2
    assert "Traceback" not in bad.err + missing.err


def test_without_xsd_dir_the_export_says_it_was_not_validated(instance_dir: Path) -> None:
    path = EXAMPLES / "requests" / "ctd-multilingual.json"
    ref = docket_cli("submit", path, "--json", instance=instance_dir).json()["id"]
    result = docket_cli("export", ref, "--format", "eml", instance=instance_dir)
    assert result.code == 0
    assert "not validated: no xsd_dir set for eml" in result.err
    assert result.out.startswith("<?xml")
    as_json = docket_cli("export", ref, "--format", "iso19139", "--json", instance=instance_dir).json()
    assert as_json["validated"] is False
    assert as_json["warnings"] == ["not validated: no xsd_dir set for iso19139 (set [publication] xsd_dir in docket.toml)"]
    # schema.org is checked against docket's own JSON Schema: no XSD needed
    assert docket_cli("export", ref, "-f", "schemaorg", "--json", instance=instance_dir).json()["validated"]
    configure(instance_dir, '\n[publication]\npublisher = "Ocean Data Centre"\n\n[datacite]\nprefix = "10.5072"\n')
    with docket.open(instance_dir) as d, pytest.warns(ExportNotValidated, match="no xsd_dir set for datacite"):
        assert export(d, ref, "datacite").startswith(b"<?xml")


def test_bad_publication_settings_are_named(instance_dir: Path) -> None:
    path = EXAMPLES / "requests" / "ctd-multilingual.json"
    ref = docket_cli("submit", path, "--json", instance=instance_dir).json()["id"]
    configure(instance_dir, "\n[publication]\nxsd_dir = 7\n")
    result = docket_cli("export", ref, "-f", "eml", instance=instance_dir)
    assert result.code == 2 and "[publication]: xsd_dir must be a folder path, not 7" in result.err
    toml = (instance_dir / "docket.toml").read_text().replace("xsd_dir = 7", 'xsd_dir = "no/such/folder"')
    (instance_dir / "docket.toml").write_text(toml)
    result = docket_cli("export", ref, "-f", "eml", instance=instance_dir)
    assert result.code == 2 and "xsd_dir 'no/such/folder' is not a folder" in result.err
    empty = instance_dir / "xsd"
    empty.mkdir()
    (instance_dir / "docket.toml").write_text(toml.replace("no/such/folder", "xsd"))
    result = docket_cli("export", ref, "-f", "eml", instance=instance_dir)
    assert result.code == 2 and "has no eml-2.2.0/eml.xsd" in result.err


# -- the registry ------------------------------------------------------------------------------

def test_registry_lists_the_builtin_formats_and_takes_new_ones(desk: dict[str, Any]) -> None:
    assert set(FORMATS) <= set(names())
    with pytest.raises(NotFound, match="known: datacite, dcat, eml, iso19139, schemaorg"):
        get("marc21")
    with pytest.raises(BadInput, match="already registered"):
        register(type("Other", (Exporter,), {"name": "eml"}))

    class Plain(Exporter):
        """A plug-in format: the titles, one per line."""

        name = "test-titles"
        media_type = "text/plain"

        def build(self, dataset: Any, settings: ExportSettings) -> bytes:
            return "\n".join(dataset.title.values()).encode()

        def validate(self, document: bytes, settings: ExportSettings) -> str | None:
            return "not validated: plain text has no schema"

    register(Plain)
    try:
        result = render(desk["docket"], desk["ids"]["ctd-multilingual"], "test-titles")
        assert isinstance(result, Export) and result.warnings == ["not validated: plain text has no schema"]
        assert result.data.decode().splitlines()[1].startswith("Profils CTD")
    finally:
        unregister("test-titles")
    assert "test-titles" not in names()
