"""``docket import-metadata`` on records harvested from the world, not written by docket's authors.

The records in ``examples/metadata/harvested`` (provenance in its README) are kept unchanged: the EDI
data package edi.680.6 (EML 2.2.0, six dataTables, MD5s, sizes, textFormats), DataCite examples of
kernels 4.5, 3 and 2.2 from ``datacite/schema``, the HNAP (Canadian ISO 19139 profile) template
GeoNetwork ships, a Greek INSPIRE ISO 19139 record from pycsw's test data, and the
PT_LocaleContainer example of the ISO 19139 schema set. Each test reads
the record itself with lxml and compares what the draft holds with what the record says, and checks
that every piece of text in the record either reached the draft or is listed as unmapped -- so a
field the importer drops silently fails here. Records that lack what a complete request needs (no
licence, no abstract) are a data centre's legacy holdings all the same: they import as incomplete
drafts, the report lists per record exactly what is still to complete (derived here from the record),
and ``docket review ID submitted`` refuses such a draft naming those very fields. Records that are not
records (a PT_LocaleContainer) or hold a wrong value are still refused, exit 2, store empty.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import docket
from tests.clirun import docket_cli
from tests.people import key_file

HARVESTED = Path(__file__).resolve().parent.parent / "examples" / "metadata" / "harvested"
EDI = HARVESTED / "eml-edi.680.6-andrews-climdb-odm.xml"
DC45 = HARVESTED / "datacite-kernel-4.5-national-gallery-dataset.xml"
HNAP = HARVESTED / "iso19139-hnap-nonspatial-english-template.xml"
NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
      "gml": "http://www.opengis.net/gml/3.2", "dc": "http://datacite.org/schema/kernel-4"}
#: the prefixes the import report writes in its XPaths
PREFIX = {"https://eml.ecoinformatics.org/eml-2.2.0": "eml", NS["gmd"]: "gmd", NS["gco"]: "gco",
          NS["gml"]: "gml", "http://www.isotc211.org/2005/gmx": "gmx", "http://www.w3.org/1999/xlink": "xlink"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def norm(value: str | None) -> str:
    return " ".join((value or "").split())


def txt(el: Any) -> str:
    return norm("".join(el.itertext())) if el is not None else ""


def parse(path: Path) -> Any:
    return etree.parse(str(path), etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True)).getroot()


def xpath_of(el: Any) -> str:
    """The element's XPath as the import report writes it (prefix:name, [n] among same-named siblings)."""
    parts = []
    while el is not None:
        qn = etree.QName(el)
        name = f"{PREFIX[qn.namespace]}:{qn.localname}" if qn.namespace in PREFIX else qn.localname
        parent = el.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == el.tag]
            if len(same) > 1:
                name += f"[{same.index(el) + 1}]"
        parts.append(name)
        el = parent
    return "/" + "/".join(reversed(parts))


def strings(value: Any) -> list[str]:
    """Every string and number in a draft, normalised."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [norm(str(value))]


def silently_dropped(root: Any, draft: dict, unmapped: list[str], implicit: set[str]) -> list[str]:
    """Paths of record text that is neither in the draft nor under a listed unmapped path.

    ``implicit`` names elements (by local name or XPath) whose value is carried by the draft's shape rather than as text
    (e.g. ``attributeOrientation`` column: a Table Schema is column-oriented), each asserted on
    elsewhere in the test."""
    held = strings(draft)
    numbers = set()
    for s in held:
        with contextlib.suppress(ValueError):
            numbers.add(float(s))
    lost = []
    for el in root.iter():
        if not isinstance(el.tag, str) or not norm(el.text):
            continue
        path = xpath_of(el)
        if any(path == u or path.startswith(u + "/") or u == path + "/text()" for u in unmapped):
            continue
        if etree.QName(el).localname in implicit or path in implicit:
            continue
        value = norm(el.text)
        try:
            if float(value) in numbers:
                continue
        except ValueError:
            pass
        if not any(value in s for s in held):
            lost.append(f"{path} = {value!r}")
    return lost


def stored_ids(instance: Path) -> list[str]:
    with docket.open(instance) as d:
        return [r["id"] for r in d.list()]


def get(instance: Path, request_id: str) -> dict:
    with docket.open(instance) as d:
        return d.get(request_id)


def import_one(instance: Path, path: Path, *extra: str | Path) -> tuple[int, dict]:
    result = docket_cli(*extra, "import-metadata", path, "--json", instance=instance)
    return result.code, result.json()


# ------------------------------------------------------------------ EML: EDI package edi.680.6


def test_edi_package_with_six_tables_imports_every_table_and_lists_the_rest(instance_dir):
    folder = instance_dir / "inbox" / "edi.680.6"  # EDI's layout: the CSVs beside the EML, no URLs
    folder.mkdir(parents=True)
    record = folder / EDI.name
    shutil.copyfile(EDI, record)
    code, report = import_one(instance_dir, record)
    assert code == 0, report
    (entry,) = report["files"]
    assert entry["status"] == "imported" and entry["standard"] == "eml"
    draft = get(instance_dir, entry["id"])
    assert draft["review_state"] == "draft"
    meta = draft["metadata"]
    root = parse(EDI)
    ds = root.find("dataset")

    desc = meta["project_descriptive"]
    assert desc["title"] == txt(ds.find("title"))  # no xml:lang in the record: one string
    assert desc["abstract"] == txt(ds.find("abstract"))
    assert desc["keywords"] == [txt(k) for k in ds.iterfind("keywordSet/keyword")]
    with_email = [c for c in ds.iterfind("creator") if c.find("electronicMailAddress") is not None]
    assert [a["email"] for a in desc["authors"]] == [txt(c.find("electronicMailAddress")) for c in with_email]
    assert [a["name"] for a in desc["authors"]] == [
        " ".join(txt(g) for g in c.iterfind("individualName/givenName")) + " " + txt(c.find("individualName/surName"))
        for c in with_email]

    admin = meta["dataset_administrative"]
    first_contact = ds.find("contact")
    assert admin["contact"]["email"] == txt(first_contact.find("electronicMailAddress"))
    assert admin["contact"]["organisation"] == txt(first_contact.find("organizationName"))
    # the rights statement is 900 characters (a request's licence holds 200); the one licence URL
    # it names is the licence, and the statement itself is listed as unmapped
    rights = txt(ds.find("intellectualRights"))
    assert len(rights) > 200
    assert re.fullmatch(r"https://creativecommons\.org/\S+", admin["licence"]) and admin["licence"] in rights
    assert "/eml:eml/dataset/intellectualRights" in entry["unmapped"]

    ctx = meta["experiment_contextual"]
    box = ds.find("coverage/geographicCoverage/boundingCoordinates")
    assert ctx["spatial_coverage"] == {
        **{k: float(txt(box.find(f"{k}BoundingCoordinate"))) for k in ("west", "east", "south", "north")},
        "place": txt(ds.find("coverage/geographicCoverage/geographicDescription"))}
    dates = ds.find("coverage/temporalCoverage/rangeOfDates")
    assert ctx["temporal_coverage"] == {"start": txt(dates.find("beginDate/calendarDate")),
                                        "end": txt(dates.find("endDate/calendarDate"))}

    tables = ds.findall("dataTable")
    assert len(tables) == 6 and len(draft["files"]) == 6
    line_ends = {"\\r\\n": "\r\n", "\\n": "\n"}  # as EDI writes them: backslash escapes
    for table, file_entry in zip(tables, draft["files"], strict=True):
        phys = table.find("physical")
        assert file_entry["name"] == txt(phys.find("objectName"))
        assert Path(file_entry["location"]) == (folder / txt(phys.find("objectName"))).resolve()
        assert file_entry["size"] == int(txt(phys.find("size")))
        assert file_entry["md5"] == txt(phys.find("authentication[@method='MD5']"))
        assert file_entry["rows"] == int(txt(table.find("numberOfRecords")))
        assert file_entry["description"] == txt(table.find("entityDescription"))
        fmt = phys.find("dataFormat/textFormat")
        assert file_entry["dialect"] == {"lineTerminator": line_ends[txt(fmt.find("recordDelimiter"))],
                                         "delimiter": txt(fmt.find("simpleDelimited/fieldDelimiter"))}
        assert txt(fmt.find("numHeaderLines")) == "1" and txt(fmt.find("attributeOrientation")) == "column"
        assert file_entry["media_type"] == "text/csv"
        # entityName ("Variables") is not the file's name and has no place in a file entry: listed
        assert f"/eml:eml/dataset/dataTable[{tables.index(table) + 1}]/entityName" in entry["unmapped"]
    assert {t.find("physical/dataFormat/textFormat/recordDelimiter").text for t in tables} == {"\\r\\n", "\\n"}

    # several tables: a Data Package, one resource (and Table Schema) per table
    resources = meta["dataset_structural"]["resources"]
    assert [r["path"] for r in resources] == [txt(t.find("physical/objectName")) for t in tables]
    for table, resource in zip(tables, resources, strict=True):
        attrs = table.findall("attributeList/attribute")
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == [txt(a.find("attributeName")) for a in attrs]
        assert [f["description"] for f in fields] == [txt(a.find("attributeDefinition")) for a in attrs]
        for attr, f in zip(attrs, fields, strict=True):
            unit = attr.find("measurementScale/*/unit/standardUnit")
            if unit is not None:
                assert f["unit"] == txt(unit)
            for bound in ("minimum", "maximum"):
                b = attr.find(f"measurementScale/*/numericDomain/bounds/{bound}")
                if b is not None:
                    assert f["constraints"][bound] == float(txt(b))
            fmt_string = attr.find("measurementScale/dateTime/formatString")
            if fmt_string is not None:
                assert txt(fmt_string) == "YYYY-MM-DD hh:mm:ss"
                assert (f["type"], f["format"]) == ("datetime", "%Y-%m-%d %H:%M:%S")
            elif txt(attr.find("storageType")) == "float":
                assert f["type"] in ("number", "integer")
            else:
                assert f["type"] == "string"

    # parties that could not become the request's (no e-mail, or a second contact) are listed
    for path in ("/eml:eml/dataset/creator[1]", "/eml:eml/dataset/contact[2]", "/eml:eml/dataset/pubDate",
                 "/eml:eml/dataset/methods", *(f"/eml:eml/dataset/associatedParty[{i}]" for i in range(1, 6))):
        assert path in entry["unmapped"]
    # carried by the draft's shape or converted (asserted above): recordDelimiter "\\r\\n" is the
    # dialect's "\r\n", formatString the field's format; access rules are the publisher's; a
    # textDomain definition makes a string field
    implicit = {"attributeOrientation", "numHeaderLines", "storageType", "numberType", "definition",
                "principal", "permission", "recordDelimiter", "formatString"}
    assert silently_dropped(root, draft, entry["unmapped"], implicit) == []


# ------------------------------------------------------------------ DataCite kernel 4.5


def test_datacite_45_dataset_example_maps_and_lists(instance_dir):
    manager = key_file(instance_dir, "data-manager", "Maria Data", email="maria.data@odc.example.org")
    code, report = import_one(instance_dir, DC45, "--key-file", manager)
    assert code == 0, report
    (entry,) = report["files"]
    draft = get(instance_dir, entry["id"])
    root = parse(DC45)
    x = lambda p: root.xpath(p, namespaces=NS)  # noqa: E731
    title = x("dc:titles/dc:title")[0]
    desc = draft["metadata"]["project_descriptive"]
    assert desc["title"] == {title.get(XML_LANG): txt(title)}
    abstract = x("dc:descriptions/dc:description[@descriptionType='Abstract']")[0]
    assert desc["abstract"] == {abstract.get(XML_LANG): txt(abstract)}
    assert desc["keywords"] == [txt(s) for s in x("dc:subjects/dc:subject")]
    admin = draft["metadata"]["dataset_administrative"]
    rights = x("dc:rightsList/dc:rights")[0]
    assert admin["licence"] == rights.get("rightsIdentifier")
    # this record's rights disagree with themselves: identifier CC-BY-4.0, URI and text by-nc. The
    # SPDX identifier is taken, and the element is listed so a reviewer sees the rest
    assert rights.get("rightsURI") == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert "/resource/rightsList" in entry["unmapped"]
    assert admin["publisher"] == txt(x("dc:publisher")[0])
    ident = x("dc:identifier")[0]
    assert ident.get("identifierType") == "DOI"
    assert draft["files"][0]["location"] == "https://doi.org/" + txt(ident)
    # DataCite names no e-mail: the importing data manager answers for the draft
    assert draft["provider"] == {"name": "Maria Data", "email": "maria.data@odc.example.org"}
    # "2010/2020" is a range of years, no dates: not guessed into days, listed; so are a point
    # location (a request's spatial coverage is a box), creators and contributors without e-mail
    assert txt(x("dc:dates/dc:date[@dateType='Collected']")[0]) == "2010/2020"
    assert "experiment_contextual" not in draft["metadata"]
    for path in ("/resource/dates", "/resource/geoLocations", "/resource/creators", "/resource/contributors",
                 "/resource/relatedIdentifiers", "/resource/fundingReferences", "/resource/version"):
        assert path in entry["unmapped"]
    assert silently_dropped(root, draft, entry["unmapped"], set()) == []


# ------------------------------------------------------------------ records that lack what a request needs


ABSTRACT = "$.metadata.project_descriptive.abstract"
KEYWORDS = "$.metadata.project_descriptive.keywords"
LICENCE = "$.metadata.dataset_administrative.licence"
CONTACT = "$.metadata.dataset_administrative.contact"
PROVIDER = "$.provider"
FILES = "$.files"


def to_complete(entry: dict) -> list[str]:
    return [p["where"] for p in entry["to_complete"]]


def submit_is_refused_naming(instance: Path, request_id: str, fields: list[str], *extra: str | Path) -> None:
    """``docket review ID submitted`` on the imported draft: exit 3, rule complete-to-submit, every
    field named, and the draft stays a draft."""
    result = docket_cli(*extra, "review", request_id, "submitted", instance=instance)
    assert result.code == 3, result.out + result.err
    assert "rule complete-to-submit" in result.err
    named = result.err.split("to fill or fix: ", 1)[1].split(")", 1)[0]
    assert named.split(", ") == fields
    assert get(instance, request_id)["review_state"] == "draft"


@pytest.mark.parametrize("name", ["datacite-kernel-3-purr-celt-dataset.xml", "datacite-kernel-3-box-collected.xml",
                                  "datacite-kernel-2.2-sample-dataset.xml"])
def test_datacite_records_without_licence_import_as_drafts_listing_what_they_lack(instance_dir, name):
    path = HARVESTED / name
    root = parse(path)
    kernel = etree.QName(root).namespace
    q = {"k": kernel}
    lacks = []
    if not root.xpath("k:descriptions/k:description[@descriptionType='Abstract']", namespaces=q):
        lacks.append(ABSTRACT)
    if not root.xpath("k:subjects/k:subject", namespaces=q):
        lacks.append(KEYWORDS)
    if not root.xpath("k:rightsList/k:rights|k:rights", namespaces=q):
        lacks.append(LICENCE)
    assert LICENCE in lacks  # none of these examples states its rights
    manager = key_file(instance_dir, "data-manager", "Maria Data", email="maria.data@odc.example.org")
    code, report = import_one(instance_dir, path, "--key-file", manager)
    assert code == 0, report
    assert (report["imported"], report["incomplete"], report["refused"]) == (1, 1, 0)
    (entry,) = report["files"]
    assert entry["status"] == "imported" and entry["standard"] == "datacite"
    assert sorted(to_complete(entry)) == sorted(lacks)  # the manager's address answers for contact and provider
    assert all(p["message"] == "is required" for p in entry["to_complete"])
    draft = get(instance_dir, entry["id"])
    assert draft["review_state"] == "draft"
    assert "licence" not in draft["metadata"]["dataset_administrative"]  # nothing invented to fill the gap
    title = root.xpath("k:titles/k:title", namespaces=q)[0]
    assert pick_text(draft["metadata"]["project_descriptive"]["title"]) == txt(title)
    assert draft["provider"] == {"name": "Maria Data", "email": "maria.data@odc.example.org"}
    # converted, not copied: a Collected date range is the temporal coverage, a geoLocationBox
    # ("south west north east") the spatial one
    implicit = set()
    for date in root.xpath("k:dates/k:date[@dateType='Collected']", namespaces=q):
        start, end = txt(date).split("/")
        assert draft["metadata"]["experiment_contextual"]["temporal_coverage"] == {"start": start, "end": end}
        implicit.add(xpath_of(date))
    for box in root.xpath("k:geoLocations/k:geoLocation/k:geoLocationBox", namespaces=q):
        south, west, north, east = (float(v) for v in txt(box).split())
        spatial = draft["metadata"]["experiment_contextual"]["spatial_coverage"]
        assert {k: spatial[k] for k in ("west", "east", "south", "north")} == {
            "west": west, "east": east, "south": south, "north": north}
        implicit.add(xpath_of(box))
    assert silently_dropped(root, draft, entry["unmapped"], implicit) == []
    # the plain report says the same, record by record
    plain = docket_cli("--key-file", manager, "import-metadata", path, instance=instance_dir)
    assert plain.code == 0
    assert [line.split("to complete: ", 1)[1].split(":")[0] for line in plain.out.splitlines()
            if line.strip().startswith("to complete:")] == sorted(lacks)
    assert "(incomplete draft)" in plain.out and "1 imported (1 incomplete" in plain.out
    submit_is_refused_naming(instance_dir, entry["id"], sorted(lacks), "--key-file", manager)


def pick_text(value: Any) -> str:
    """A title as one string, whether the record named its language or not."""
    return value if isinstance(value, str) else next(iter(value.values()))


def test_lter_rights_statement_without_a_licence_url_imports_lacking_the_licence(instance_dir):
    """EDI's 900-character rights statement with its one licence URL taken out (as many LTER
    statements are written): too long to be a licence, naming none -- the draft lacks its licence
    and the statement is listed as unmapped, not cut to 200 characters."""
    folder = instance_dir / "inbox" / "edi.680.6"
    folder.mkdir(parents=True)
    record = folder / EDI.name
    url = "https://creativecommons.org/publicdomain/zero/1.0/"
    original = EDI.read_text(encoding="utf-8")
    assert original.count(url) == 1
    record.write_text(original.replace(f"(see: {url})", "(see the EDI website)"), encoding="utf-8")
    code, report = import_one(instance_dir, record)
    assert code == 0, report
    (entry,) = report["files"]
    assert to_complete(entry) == [LICENCE]
    assert "/eml:eml/dataset/intellectualRights" in entry["unmapped"]
    draft = get(instance_dir, entry["id"])
    assert "licence" not in draft["metadata"]["dataset_administrative"] and len(draft["files"]) == 6
    submit_is_refused_naming(instance_dir, entry["id"], [LICENCE])


def test_a_record_holding_a_wrong_value_is_still_refused(instance_dir):
    """Lacking is not being wrong: a bounding box west of -180 is refused (exit 2), nothing stored,
    and a good record beside it is not imported either."""
    folder = instance_dir / "inbox" / "edi.680.6"
    folder.mkdir(parents=True)
    record = folder / EDI.name
    text = EDI.read_text(encoding="utf-8")
    record.write_text(text.replace("<westBoundingCoordinate>-122.2<", "<westBoundingCoordinate>-522.2<", 1),
                      encoding="utf-8")
    result = docket_cli("import-metadata", record, DC45, "--json", instance=instance_dir)
    assert result.code == 2, result.out + result.err
    refused, other = result.json()["files"]
    assert refused["status"] == "refused" and "spatial_coverage.west" in refused["message"]
    assert other["status"] == "not-imported"
    assert stored_ids(instance_dir) == []


def test_hnap_template_imports_as_an_incomplete_draft_and_once_filled_as_a_complete_one(instance_dir, tmp_path):
    root = parse(HNAP)
    x = lambda el, p: el.xpath(p, namespaces=NS)  # noqa: E731
    ident = x(root, "gmd:identificationInfo/gmd:MD_DataIdentification")[0]
    # what the template leaves empty, read from the template itself
    assert txt(x(ident, "gmd:abstract")[0]) == "" and txt(x(ident, ".//gmd:keyword")[0]) == ""
    assert txt(x(root, "gmd:contact//gmd:electronicMailAddress")[0]) == ""
    online = "gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions//gmd:onLine/gmd:CI_OnlineResource"
    assert not [r for r in x(root, online) if txt(x(r, "gmd:linkage/gmd:URL")[0] if x(r, "gmd:linkage/gmd:URL") else None)]
    code, report = import_one(instance_dir, HNAP)  # nobody with an e-mail runs this import
    assert code == 0, report
    (entry,) = report["files"]
    # no e-mail anywhere: neither a contact nor a provider; no online resource: no file
    lacks = [FILES, CONTACT, ABSTRACT, KEYWORDS, PROVIDER]
    assert to_complete(entry) == lacks
    draft = get(instance_dir, entry["id"])
    assert draft["review_state"] == "draft" and "provider" not in draft and "files" not in draft
    title = x(ident, "gmd:citation/gmd:CI_Citation/gmd:title")[0]
    assert draft["metadata"]["project_descriptive"]["title"]["en"] == txt(x(title, "gco:CharacterString")[0])
    submit_is_refused_naming(instance_dir, entry["id"], lacks)

    # the template filled in where GeoNetwork's editor asks (abstract, keyword, the contact's
    # e-mail, a resource), both languages; everything else as shipped
    filled = {"abstract": ("Bottom trawl survey catches, 2019.", "Captures du relevé au chalut de fond, 2019."),
              "keyword": ("Fisheries", "Pêches")}
    for prop, (en, fr) in filled.items():
        el = x(ident, f".//gmd:{prop}")[0]
        x(el, "gco:CharacterString")[0].text = en
        x(el, "gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString")[0].text = fr
    mail = x(root, "gmd:contact/gmd:CI_ResponsibleParty//gmd:electronicMailAddress/gco:CharacterString")[0]
    mail.text = "info@dfo-mpo.example.ca"
    options = x(root, "gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions/gmd:MD_DigitalTransferOptions")[0]
    url = etree.SubElement(etree.SubElement(etree.SubElement(etree.SubElement(
        options, f"{{{NS['gmd']}}}onLine"), f"{{{NS['gmd']}}}CI_OnlineResource"), f"{{{NS['gmd']}}}linkage"),
        f"{{{NS['gmd']}}}URL")
    url.text = "https://data.example.ca/dfo/trawl-2019.csv"
    record = tmp_path / "hnap-filled.xml"
    record.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    code, report = import_one(instance_dir, record)
    assert code == 0, report
    (entry,) = report["files"]
    assert entry["to_complete"] == [] and report["incomplete"] == 0
    draft = get(instance_dir, entry["id"])
    locale = x(root, "gmd:locale/gmd:PT_Locale")[0]
    assert locale.get("id") == "fra" and txt(x(root, "gmd:language/gco:CharacterString")[0]) == "eng; CAN"
    title = x(ident, "gmd:citation/gmd:CI_Citation/gmd:title")[0]
    desc = draft["metadata"]["project_descriptive"]
    assert desc["title"] == {"en": txt(x(title, "gco:CharacterString")[0]),
                             "fr": txt(x(title, ".//gmd:LocalisedCharacterString")[0])}
    assert desc["abstract"] == dict(zip(("en", "fr"), filled["abstract"], strict=True))
    assert desc["keywords"] == list(filled["keyword"])
    admin = draft["metadata"]["dataset_administrative"]
    # HNAP's role code list value is a register id (RI_414) and the text "pointOfContact; contact":
    # the record's own point of contact is the request's contact (before the fix it was not
    # recognised and the draft went to whoever ran the import)
    party = x(root, "gmd:contact/gmd:CI_ResponsibleParty")[0]
    assert x(party, "gmd:role/gmd:CI_RoleCode")[0].get("codeListValue") == "RI_414"
    assert admin["contact"] == {"name": txt(x(party, "gmd:organisationName/gco:CharacterString")[0]),
                                "email": "info@dfo-mpo.example.ca", "role": "contact"}
    limitation = x(ident, "gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:useLimitation")[0]
    assert admin["licence"] == txt(x(limitation, "gco:CharacterString")[0])
    assert draft["files"] == [{"name": "trawl-2019.csv", "location": url.text}]
    assert f"{xpath_of(limitation)}/gmd:PT_FreeText" in entry["unmapped"]  # the French licence text
    # the languages are the texts' keys ("eng; CAN" is "en", the PT_Locale "fr"); the role code's
    # text is the contact's role
    implicit = {"LanguageCode", "Country", "MD_CharacterSetCode", "/gmd:MD_Metadata/gmd:language/gco:CharacterString",
                xpath_of(x(party, "gmd:role/gmd:CI_RoleCode")[0])}
    assert silently_dropped(root, draft, entry["unmapped"], implicit) == []


def test_inspire_record_with_old_gml_namespace_maps_and_lists(instance_dir):
    """A Greek INSPIRE orthoimagery record (pycsw's APISO test data): ISO 19139 2006 schema, GML in
    the pre-3.2 namespace, bounding box and time period in two separate extents."""
    path = HARVESTED / "iso19139-inspire-ypaat-ortho-T_ortho_RAS_1998_284404.xml"
    code, report = import_one(instance_dir, path)
    assert code == 0, report
    (entry,) = report["files"]
    draft = get(instance_dir, entry["id"])
    root = parse(path)
    x = lambda p: root.xpath(p, namespaces={**NS, "gml": "http://www.opengis.net/gml"})  # noqa: E731
    ident = "gmd:identificationInfo/gmd:MD_DataIdentification/"
    assert x("gmd:language/gmd:LanguageCode/@codeListValue") == ["eng"]
    desc = draft["metadata"]["project_descriptive"]
    assert desc["title"] == {"en": txt(x(ident + "gmd:citation/gmd:CI_Citation/gmd:title")[0])}
    assert desc["abstract"] == {"en": txt(x(ident + "gmd:abstract")[0])}
    assert desc["keywords"] == [txt(k) for k in x(ident + "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword")]
    admin = draft["metadata"]["dataset_administrative"]
    contact = x("gmd:contact/gmd:CI_ResponsibleParty")[0]
    assert admin["contact"] == {"name": txt(contact.find(f"{{{NS['gmd']}}}organisationName")),
                                "email": txt(contact.xpath(".//gmd:electronicMailAddress", namespaces=NS)[0]),
                                "role": "contact"}
    # the first constraint is the licence; the second (otherConstraints "no limitations") is listed
    assert admin["licence"] == txt(x(ident + "gmd:resourceConstraints/gmd:MD_Constraints/gmd:useLimitation")[0])
    assert "/gmd:MD_Metadata/gmd:identificationInfo/gmd:MD_DataIdentification/gmd:resourceConstraints[2]" \
        in entry["unmapped"]
    ctx = draft["metadata"]["experiment_contextual"]
    box = x(ident + "gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox")[0]
    assert ctx["spatial_coverage"] == {k: float(txt(box.xpath(f"gmd:{k}BoundLongitude|gmd:{k}BoundLatitude",
                                                              namespaces=NS)[0]))
                                       for k in ("west", "east", "south", "north")}
    assert ctx["temporal_coverage"] == {"start": txt(x("//gml:beginPosition")[0]), "end": txt(x("//gml:endPosition")[0])}
    assert draft["files"] == [{"name": "www.ypaat.gr", "location": txt(x("//gmd:linkage/gmd:URL")[0])}]
    # the record language "eng" is the texts' key; role codes are the contact's and provider's roles
    assert silently_dropped(root, draft, entry["unmapped"], {"LanguageCode", "CI_RoleCode"}) == []


def test_a_pt_locale_container_from_the_iso_schema_set_is_no_record(instance_dir):
    path = HARVESTED / "iso19139-pt-locale-container-fr-fr.xml"
    code, report = import_one(instance_dir, path)
    assert code == 2
    assert "root element {http://www.isotc211.org/2005/gmd}PT_LocaleContainer" in report["files"][0]["message"]
    assert stored_ids(instance_dir) == []


def test_every_harvested_record_is_in_the_readme_with_its_commit():
    readme = (HARVESTED / "README.md").read_text(encoding="utf-8")
    for path in HARVESTED.glob("*.xml"):
        assert path.name in readme
        assert path.stat().st_size < 200_000
    assert len(re.findall(r"\b[0-9a-f]{40}\b", readme)) >= 5
