"""OAI-PMH harvesting (issue 13, part 5): ``docket oai serve`` over real HTTP, on SQLite and
PostgreSQL.

Two requests are published (QA closed by a data manager by hand, as in test_publish), the second
at least a second after the first so that a ``from`` at second granularity separates them. The
endpoint runs in a thread on a free loopback port (its log goes to a file); it is harvested with
urllib (GET and POST) and with pyoai's client, as a catalogue would. Here the responses are read
for what a harvester relies on; tests/test_oai_xsd.py validates every kind of response against the
official OAI-PMH 2.0 and oai_dc schemas (tests/data/oai-xsd/) and the records against ../shared/xsd.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import create_engine, text

import docket
from docket.instance import Instance
from docket.oai import Repository
from docket.oai.server import Listing, make_server
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, PG_SKIP, PG_URL
from tests.people import as_role
from tests.test_publish import HAS_XSD, XSD_DIR, ready, weather

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
DATACITE = "{http://datacite.org/schema/kernel-4}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
TITLE_2 = {"en": "Alpine weather stations, hourly air temperature, second network",
           "fr": "Stations météo alpines, température horaire de l'air, second réseau"}


@dataclass
class Harvest:
    root: Path
    url: str
    app: Any
    ids: list[str]  # the two published requests, in publication order
    log: Path

    def get(self, **params: str) -> etree._Element:
        with urllib.request.urlopen(f"{self.url}?{urllib.parse.urlencode(params)}", timeout=10) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/xml")
            return etree.fromstring(answer.read())

    def post(self, **params: str) -> etree._Element:
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return etree.fromstring(answer.read())

    def oai_id(self, index: int) -> str:
        return f"oai:data.example.org:{self.ids[index]}.1"


def config(page_size: int = 100) -> str:
    """docket.toml's publication, DataCite and OAI settings for a published test instance
    (``page_size`` 1 makes every list a chain of resumption tokens)."""
    lines = ["", "[publication]", 'publisher = "Ocean Data Centre"']
    if HAS_XSD:
        lines.append(f'xsd_dir = "{XSD_DIR.as_posix()}"')
    # DOIs are minted (the DataCite export needs one); the registry is a closed port, so each DOI
    # waits in the job queue (the API's publish does not run the queue) and nothing leaves loopback
    lines += ["", "[datacite]", 'endpoint = "http://127.0.0.1:9/"', 'prefix = "10.5072"', "timeout = 1"]
    lines += ["", "[oai]", 'admin_email = "oai-admin@example.org"', 'repository_name = "Ocean Data Centre OAI"',
              f"page_size = {page_size}"]
    return "\n".join(lines) + "\n"


@contextmanager
def published_instance(store: str, tmp_path_factory: pytest.TempPathFactory, name: str, settings: str,
                       second_doc: dict[str, Any]) -> Iterator[tuple[Path, list[str]]]:
    """An instance on ``store`` (``sqlite`` or ``postgresql``, whose schema is dropped after) with
    ``settings`` appended to its docket.toml and two published requests, a second apart (from/until
    compare at second granularity): the CTD example, then ``second_doc``. Yields (folder, ids)."""
    kwargs: dict[str, Any] = {"project": "ocean", "base_uri": "https://data.example.org/ocean/",
                              "languages": ["en", "fr"], "local_roots": ["inbox", str(EXAMPLES)]}
    schema = None
    if store == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        schema = f"docket_test_{uuid.uuid4().hex[:12]}"
        kwargs.update(store_url=PG_URL, store_schema=schema)
    root = tmp_path_factory.mktemp(f"{name}-{store}") / "inst"
    docket.init(root, **kwargs).close()
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write(settings)
    ids = []
    with docket.open(root) as d:
        first = ready(d)
        d.publish(first)
        ids.append(first)
        time.sleep(1.1)  # a second apart: distinct datestamps
        second = d.submit(second_doc)["id"]
        as_role(d, "reviewer", "Eva Novak").review(second, "approved")
        assert d.transfer(second)["outcome"] == "done"
        d.set_step(second, "qa", "closed", "done")
        d.publish(second)
        ids.append(second)
    try:
        yield root, ids
    finally:
        if schema is not None:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()


@contextmanager
def oai_endpoint(root: Path) -> Iterator[tuple[Any, Repository]]:
    """The instance's OAI-PMH endpoint, as ``docket oai serve`` runs it, in a thread on a free
    loopback port: (the HTTP server, its repository)."""
    repository = Repository(Instance.find(root))
    httpd = make_server(repository, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd, repository
    finally:
        httpd.shutdown()
        httpd.server_close()
        repository.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def harvest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harvest]:
    second_doc = weather()
    second_doc["metadata"]["project_descriptive"]["title"] = TITLE_2
    with published_instance(request.param, tmp_path_factory, "oai", config(), second_doc) as (root, ids):
        log_file = root.parent / "oai.log"
        handler = logging.FileHandler(log_file, encoding="utf-8")
        logger = logging.getLogger("docket.oai")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            with oai_endpoint(root) as (httpd, _repository):
                yield Harvest(root, httpd.oai_app.base_url, httpd.oai_app, ids, log_file)
        finally:
            logger.removeHandler(handler)
            handler.close()


def error_code(tree: etree._Element) -> str | None:
    error = tree.find(f"{OAI}error")
    return None if error is None else error.get("code")


def well_formed_response(tree: etree._Element, verb: str | None) -> None:
    """What every OAI-PMH response carries: responseDate, request with the base URL."""
    assert tree.tag == f"{OAI}OAI-PMH"
    assert [c.tag for c in tree[:2]] == [f"{OAI}responseDate", f"{OAI}request"]
    assert tree[0].text.endswith("Z") and len(tree[0].text) == 20
    assert tree[1].text.endswith("/oai")
    if verb is not None:
        assert tree[1].get("verb") == verb


def headers(tree: etree._Element, verb: str) -> list[tuple[str, str]]:
    return [(h.findtext(f"{OAI}identifier"), h.findtext(f"{OAI}datestamp"))
            for h in tree.iter(f"{OAI}header") if h.getparent().tag in (f"{OAI}{verb}", f"{OAI}record")]


# --------------------------------------------------------------------------- the verbs


def test_identify(harvest: Harvest) -> None:
    tree = harvest.get(verb="Identify")
    well_formed_response(tree, "Identify")
    ident = tree.find(f"{OAI}Identify")
    values = {c.tag.removeprefix(OAI): c.text for c in ident}
    with docket.open(harvest.root) as d:
        first_published = d.publications(harvest.ids[0])[0]["published_date"]
    assert list(values) == ["repositoryName", "baseURL", "protocolVersion", "adminEmail", "earliestDatestamp",
                            "deletedRecord", "granularity", "description"]  # the schema's sequence
    assert values["repositoryName"] == "Ocean Data Centre OAI"
    assert values["baseURL"] == harvest.url and values["protocolVersion"] == "2.0"
    assert values["adminEmail"] == "oai-admin@example.org"
    assert values["deletedRecord"] == "no" and values["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    first_stamp = datetime.fromisoformat(first_published).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert values["earliestDatestamp"] == first_stamp
    scheme = "{http://www.openarchives.org/OAI/2.0/oai-identifier}"
    description = ident.find(f"{OAI}description/{scheme}oai-identifier")
    assert [(c.tag.removeprefix(scheme), c.text) for c in description] == [
        ("scheme", "oai"), ("repositoryIdentifier", "data.example.org"), ("delimiter", ":"),
        ("sampleIdentifier", "oai:data.example.org:ocean-0007.2")]


def test_list_metadata_formats(harvest: Harvest) -> None:
    tree = harvest.get(verb="ListMetadataFormats")
    well_formed_response(tree, "ListMetadataFormats")
    formats = {f.findtext(f"{OAI}metadataPrefix"): (f.findtext(f"{OAI}schema"), f.findtext(f"{OAI}metadataNamespace"))
               for f in tree.iter(f"{OAI}metadataFormat")}
    assert formats == {
        "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/"),
        "datacite": ("http://schema.datacite.org/meta/kernel-4.5/metadata.xsd", "http://datacite.org/schema/kernel-4"),
        "iso19139": ("http://www.isotc211.org/2005/gmd/gmd.xsd", "http://www.isotc211.org/2005/gmd"),
        "eml": ("https://eml.ecoinformatics.org/eml-2.2.0/eml.xsd", "https://eml.ecoinformatics.org/eml-2.2.0"),
    }
    one = harvest.get(verb="ListMetadataFormats", identifier=harvest.oai_id(0))
    assert [f.findtext(f"{OAI}metadataPrefix") for f in one.iter(f"{OAI}metadataFormat")] == \
        ["oai_dc", "datacite", "iso19139", "eml"]
    assert error_code(harvest.get(verb="ListMetadataFormats", identifier="oai:data.example.org:nope.1")) == \
        "idDoesNotExist"


def test_list_records_oai_dc_has_both_records_in_each_language(harvest: Harvest) -> None:
    tree = harvest.post(verb="ListRecords", metadataPrefix="oai_dc")  # POST, as some harvesters do
    well_formed_response(tree, "ListRecords")
    records = tree.findall(f"{OAI}ListRecords/{OAI}record")
    assert [r.findtext(f"{OAI}header/{OAI}identifier") for r in records] == [harvest.oai_id(0), harvest.oai_id(1)]
    assert tree.find(f"{OAI}ListRecords/{OAI}resumptionToken") is None  # one complete response
    with docket.open(harvest.root) as d:
        docs = [d.get(i) for i in harvest.ids]
        pubs = [d.publications(i)[0] for i in harvest.ids]
    for record, doc, pub in zip(records, docs, pubs, strict=True):
        dc = record.find(f"{OAI}metadata/{OAI_DC}dc")
        assert dc is not None and len(record.find(f"{OAI}metadata")) == 1
        assert all(child.tag.startswith(DC) for child in dc)
        titles = {t.get(XML_LANG): t.text for t in dc.findall(f"{DC}title")}
        given = doc["metadata"]["project_descriptive"]["title"]
        assert titles == (given if isinstance(given, dict) else {"en": given})
        assert dc.findtext(f"{DC}type") == "Dataset"
        assert dc.findtext(f"{DC}date") == pub["published_date"][:10]
        assert [i.text for i in dc.findall(f"{DC}identifier")] == \
            [f"https://doi.org/{pub['identifier']}", f"https://data.example.org/ocean/{doc['id']}.1"]
        assert [s.text for s in dc.findall(f"{DC}subject")] == doc["metadata"]["project_descriptive"]["keywords"]
        assert dc.findall(f"{DC}creator") and dc.findall(f"{DC}description")
        assert dc.findtext(f"{DC}rights").startswith("https://")
        assert dc.findtext(f"{DC}publisher") == "Ocean Data Centre"
    second_titles = {t.get(XML_LANG): t.text for t in records[1].iter(f"{DC}title")}
    assert second_titles == TITLE_2  # both languages, each with its xml:lang


def test_incremental_harvest_from_after_the_first_publication(harvest: Harvest) -> None:
    with docket.open(harvest.root) as d:
        first = d.publications(harvest.ids[0])[0]["published_date"]
        second = d.publications(harvest.ids[1])[0]["published_date"]
    def stamp(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    after_first = (datetime.fromisoformat(stamp(first)) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after_first <= stamp(second)
    tree = harvest.get(verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": after_first})
    assert [i for i, _ in headers(tree, "ListIdentifiers")] == [harvest.oai_id(1)]
    tree = harvest.get(verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": stamp(first)})
    assert len(headers(tree, "ListIdentifiers")) == 2  # from and until are inclusive
    tree = harvest.get(verb="ListRecords", metadataPrefix="datacite", until=stamp(first))
    assert [i for i, _ in headers(tree, "ListRecords")] == [harvest.oai_id(0)]
    day = stamp(first)[:10]
    tree = harvest.get(verb="ListIdentifiers", metadataPrefix="eml", **{"from": day, "until": stamp(second)[:10]})
    assert len(headers(tree, "ListIdentifiers")) == 2  # day granularity, until the end of that day
    assert error_code(harvest.get(verb="ListRecords", metadataPrefix="oai_dc", **{"from": "2999-01-01"})) == \
        "noRecordsMatch"


def test_get_record_datacite_is_the_published_file_and_valid(harvest: Harvest) -> None:
    tree = harvest.get(verb="GetRecord", identifier=harvest.oai_id(1), metadataPrefix="datacite")
    well_formed_response(tree, "GetRecord")
    assert tree[1].get("identifier") == harvest.oai_id(1) and tree[1].get("metadataPrefix") == "datacite"
    resource = tree.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{DATACITE}resource")
    assert resource is not None
    published = (harvest.root / "published" / harvest.ids[1] / "1" / f"{harvest.ids[1]}.1.datacite.xml").read_bytes()
    parser = etree.XMLParser(remove_blank_text=True)
    # the same document, byte for byte once canonicalised (exclusive: the envelope's namespaces aside)
    assert etree.tostring(resource, method="c14n", exclusive=True) == \
        etree.tostring(etree.fromstring(published, parser), method="c14n", exclusive=True)
    if not HAS_XSD:
        pytest.skip(f"the DataCite 4.5 XSD is not at {XSD_DIR} (../shared/xsd)")
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / "datacite-4.5" / "metadata.xsd")))
    standalone = etree.fromstring(etree.tostring(resource))
    assert schema.validate(standalone), schema.error_log.last_error


def test_get_record_iso_and_eml(harvest: Harvest) -> None:
    iso = harvest.get(verb="GetRecord", identifier=harvest.oai_id(0), metadataPrefix="iso19139")
    assert iso.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{{http://www.isotc211.org/2005/gmd}}MD_Metadata") is not None
    eml = harvest.get(verb="GetRecord", identifier=harvest.oai_id(0), metadataPrefix="eml")
    assert eml.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{{https://eml.ecoinformatics.org/eml-2.2.0}}eml") is not None


def test_paging_with_resumption_tokens(harvest: Harvest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harvest.app, "page_size", 1)
    tree = harvest.get(verb="ListRecords", metadataPrefix="oai_dc")
    assert [i for i, _ in headers(tree, "ListRecords")] == [harvest.oai_id(0)]
    token = tree.find(f"{OAI}ListRecords/{OAI}resumptionToken")
    assert token.get("completeListSize") == "2" and token.get("cursor") == "0" and token.get("expirationDate")
    assert token.text
    tree = harvest.get(verb="ListRecords", resumptionToken=token.text)
    assert tree[1].attrib == {"verb": "ListRecords", "resumptionToken": token.text}
    assert [i for i, _ in headers(tree, "ListRecords")] == [harvest.oai_id(1)]
    last = tree.find(f"{OAI}ListRecords/{OAI}resumptionToken")
    assert last.text is None and last.get("cursor") == "1" and last.get("completeListSize") == "2"
    # ListIdentifiers pages the same way; its token is not one for ListRecords
    ids = harvest.get(verb="ListIdentifiers", metadataPrefix="oai_dc")
    id_token = ids.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken").text
    assert error_code(harvest.get(verb="ListRecords", resumptionToken=id_token)) == "badResumptionToken"
    assert [i for i, _ in headers(harvest.get(verb="ListIdentifiers", resumptionToken=id_token),
                                  "ListIdentifiers")] == [harvest.oai_id(1)]


def test_bad_and_expired_resumption_tokens(harvest: Harvest) -> None:
    tokens = harvest.app.tokens
    good, _ = tokens.issue(Listing("ListRecords", "oai_dc", None, None, ("2000-01-01T00:00:00Z", 0), 0))
    assert len(headers(harvest.get(verb="ListRecords", resumptionToken=good), "ListRecords")) == 2
    expired, _ = tokens.issue(Listing("ListRecords", "oai_dc", None, None, None, 0), expires=time.time() - 5)
    body, mac = good.split(".")
    altered = ("A" if body[0] != "A" else "B") + body[1:] + "." + mac
    from docket.oai.server import Tokens

    foreign, _ = Tokens(3600).issue(Listing("ListRecords", "oai_dc", None, None, None, 0))
    for token in (expired, altered, foreign, "x" * 50, "not a token", good + "A"):
        tree = harvest.get(verb="ListRecords", resumptionToken=token)
        assert error_code(tree) == "badResumptionToken", token
    assert "expired" in harvest.get(verb="ListRecords", resumptionToken=expired).findtext(f"{OAI}error")


def test_concurrent_harvesters(harvest: Harvest) -> None:
    """The server answers several harvesters at once (a thread per request, one store)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> list[str]:
        tree = harvest.get(verb="ListRecords", metadataPrefix=["oai_dc", "datacite", "iso19139", "eml"][n % 4])
        return [i for i, _ in headers(tree, "ListRecords")]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(16))) == [[harvest.oai_id(0), harvest.oai_id(1)]] * 16


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("params", "code"), [
    ({}, "badVerb"),
    ({"verb": "Frobnicate"}, "badVerb"),
    ({"verb": "identify"}, "badVerb"),
    ({"verb": "Identify", "extra": "1"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-02-30"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01", "until": "2026-01-02T00:00:00Z"},
     "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-02", "until": "2026-01-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "abc"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "ocean"}, "noSetHierarchy"),
    ({"verb": "ListSets"}, "noSetHierarchy"),
    ({"verb": "ListRecords", "resumptionToken": "abc"}, "badResumptionToken"),
    ({"verb": "GetRecord", "identifier": "oai:data.example.org:zzz-0001.1", "metadataPrefix": "oai_dc"},
     "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "oai:other.example.org:ocean-0001.1", "metadataPrefix": "oai_dc"},
     "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "oai:data.example.org:../../etc/passwd.1", "metadataPrefix": "oai_dc"},
     "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "oai:data.example.org:ocean-0001.1"}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "x" * 700, "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "a\x00b", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListMetadataFormats", "identifier": "oai:data.example.org:nope.1"}, "idDoesNotExist"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2999-01-01T00:00:00Z"}, "noRecordsMatch"),
])
def test_every_error_code(harvest: Harvest, params: dict[str, str], code: str) -> None:
    for answer in (harvest.get(**params), harvest.post(**params)):
        well_formed_response(answer, None)
        assert error_code(answer) == code, etree.tostring(answer)
        assert [c.tag for c in answer] == [f"{OAI}responseDate", f"{OAI}request", f"{OAI}error"]
        if code in ("badVerb", "badArgument"):
            assert answer[1].attrib == {}  # arguments are not echoed when they are bad


def test_hostile_requests(harvest: Harvest) -> None:
    def raw(query: str) -> etree._Element:
        with urllib.request.urlopen(f"{harvest.url}?{query}", timeout=10) as answer:
            return etree.fromstring(answer.read())

    assert error_code(raw("verb=Identify&verb=Identify")) == "badVerb"
    assert error_code(raw("verb=GetRecord&metadataPrefix=oai_dc&metadataPrefix=eml&identifier=x")) == "badArgument"
    assert error_code(raw("verb=Identify&" + "a" * 5000)) == "badArgument"
    assert error_code(raw("verb=GetRecord&metadataPrefix=oai_dc&identifier=%ff%fe")) == "badArgument"
    assert error_code(raw("verb=Identify&&&")) == "badArgument"
    assert error_code(raw("&".join(f"k{i}=v" for i in range(30)) + "&verb=Identify")) == "badArgument"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(harvest.url.removesuffix("/oai") + "/etc/passwd", timeout=10)
    assert info.value.code == 404
    big = urllib.request.Request(harvest.url, data=b"verb=Identify&x=" + b"a" * 10_000, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(big, timeout=10) as answer:
        assert error_code(etree.fromstring(answer.read())) == "badArgument"
    json_post = urllib.request.Request(harvest.url, data=b'{"verb": "Identify"}', method="POST",
                                       headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(json_post, timeout=10) as answer:
        assert error_code(etree.fromstring(answer.read())) == "badArgument"
    assert "Traceback" not in harvest.log.read_text(encoding="utf-8")


def test_a_file_changed_after_publication_is_not_served(harvest: Harvest, monkeypatch: pytest.MonkeyPatch) -> None:
    path = harvest.root / "published" / harvest.ids[0] / "1" / f"{harvest.ids[0]}.1.eml.xml"
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b"</eml:eml>", b"<!-- changed --></eml:eml>"))
        tree = harvest.get(verb="GetRecord", identifier=harvest.oai_id(0), metadataPrefix="eml")
        assert error_code(tree) == "cannotDisseminateFormat"
        # a page is filled past the record it cannot serve, and still one entry per page
        monkeypatch.setattr(harvest.app, "page_size", 1)
        tree = harvest.get(verb="ListRecords", metadataPrefix="eml")
        assert [i for i, _ in headers(tree, "ListRecords")] == [harvest.oai_id(1)]
        assert tree.find(f"{OAI}ListRecords/{OAI}resumptionToken") is None
    finally:
        path.write_bytes(original)
    assert "differs from what was published" in harvest.log.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- as a catalogue harvests


class _Evaluator:
    """lxml's XPathEvaluator with the ``evaluate`` method lxml 5 removed (pyoai 2.5 calls it)."""

    def __init__(self, node: Any, **kwargs: Any) -> None:
        self._xpath = etree.XPathEvaluator(node, **kwargs)

    def evaluate(self, path: str) -> Any:
        return self._xpath(path)

    __call__ = evaluate


class _Etree:
    """lxml.etree as pyoai sees it: the same, but for :class:`_Evaluator`."""

    XPathEvaluator = _Evaluator

    def __getattr__(self, name: str) -> Any:
        return getattr(etree, name)


def test_pyoai_client_harvests_it(harvest: Harvest, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyoai's client, as a catalogue would use it. pyoai 2.5 calls ``XPathEvaluator.evaluate``,
    which lxml no longer has, so its two modules see lxml through :class:`_Etree` (the client's
    protocol handling is untouched)."""
    import oaipmh.client
    import oaipmh.metadata
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader

    monkeypatch.setattr(oaipmh.client, "etree", _Etree())
    monkeypatch.setattr(oaipmh.metadata, "etree", _Etree())

    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(harvest.url, registry)
    identify = client.identify()
    assert identify.repositoryName() == "Ocean Data Centre OAI" and identify.protocolVersion() == "2.0"
    assert identify.adminEmails() == ["oai-admin@example.org"]
    assert [f[0] for f in client.listMetadataFormats()] == ["oai_dc", "datacite", "iso19139", "eml"]
    monkeypatch.setattr(harvest.app, "page_size", 1)  # the client follows the resumptionToken
    records = list(client.listRecords(metadataPrefix="oai_dc"))
    assert [header.identifier() for header, _, _ in records] == [harvest.oai_id(0), harvest.oai_id(1)]
    titles = records[1][1].getField("title")
    assert sorted(titles) == sorted(TITLE_2.values())
    assert records[0][1].getField("type") == ["Dataset"]
    header, metadata, _ = client.getRecord(identifier=harvest.oai_id(1), metadataPrefix="oai_dc")
    assert header.identifier() == harvest.oai_id(1) and metadata.getField("publisher") == ["Ocean Data Centre"]


# --------------------------------------------------------------------------- settings and CLI


def test_settings_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    from docket.errors import BadInput
    from docket.oai import oai_settings

    with pytest.raises(BadInput, match="admin_email"):
        oai_settings(Instance.find(root))
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write('\n[oai]\nadmin_email = "a@example.org"\npage_size = 0\ncolour = "blue"\n')
    with pytest.raises(BadInput, match="page_size = 0.*|colour") as info:
        oai_settings(Instance.find(root))
    assert "page_size" in info.value.message and "colour" in info.value.message
    result = docket_cli("oai", "serve", "--port", "0", instance=root)
    assert result.code == 2 and "page_size" in result.err


def test_the_command_serves_an_empty_instance(tmp_path: Path) -> None:
    """``docket oai serve`` as a real process: it says where it listens and answers Identify."""
    import socket
    import subprocess
    import sys

    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write('\n[oai]\nadmin_email = "a@example.org"\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "docket.cli", "--instance", str(root), "oai", "serve",
                                 "--port", str(port), "--log", str(tmp_path / "requests.log")],
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/oai"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}?verb=Identify", timeout=2) as answer:
                    tree = etree.fromstring(answer.read())
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            pytest.fail(f"the server did not start: {log.read_text()}")
        assert tree.findtext(f"{OAI}Identify/{OAI}baseURL") == url
        assert error_code(etree.fromstring(urllib.request.urlopen(
            f"{url}?verb=ListRecords&metadataPrefix=oai_dc", timeout=2).read())) == "noRecordsMatch"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert url in log.read_text()
    assert "verb=Identify" in (tmp_path / "requests.log").read_text()
