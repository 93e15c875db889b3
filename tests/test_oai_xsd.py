"""OAI-PMH responses against the official schemas (issue 13, part 5: harvesting).

tests/test_oai.py checks the endpoint's behaviour element by element; this module checks that what
it serves is *valid*: every verb and every error response, fetched over real HTTP from a real
endpoint (``make_server``, what ``docket oai serve`` runs) over an instance with two published
requests, is validated as a whole document against

* the OAI-PMH 2.0 schema (``OAI-PMH.xsd``) and, inside ``<metadata>``, ``oai_dc.xsd`` with the
  ``simpledc20021212.xsd`` it imports (copies in tests/data/oai-xsd, see its README), and
* for the ``datacite``, ``iso19139`` and ``eml`` records, the official sets in ../shared/xsd.

``<metadata>`` is ``processContents="strict"`` in OAI-PMH.xsd, so one schema per format (the
envelope plus that format's set) validates the envelope *and* the record in one pass: a record
whose root is not declared by its format's schema is an error, not skipped. The page size is 1 so
that every list is paged by resumption tokens. The validator is proven live by broken copies of
good responses that it must reject. Schemas load from local files only: a resolver refuses any
URL that is not a file under the schema folders, and every file loaded is recorded and checked.
"""

from __future__ import annotations

import copy
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import event

import docket
from docket.instance import Instance
from docket.oai import Repository
from tests.test_oai import config, oai_endpoint, published_instance
from tests.test_publish import HAS_XSD, XML_SETS, XSD_DIR, weather

OAI_XSD = Path(__file__).resolve().parent / "data" / "oai-xsd"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI = f"{{{OAI_NS}}}"
XS_NS = "http://www.w3.org/2001/XMLSchema"
#: the namespace each format's record root is in (its schema is imported for that namespace)
NAMESPACES = {"oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
              "datacite": "http://datacite.org/schema/kernel-4",
              "eml": "https://eml.ecoinformatics.org/eml-2.2.0"}
needs_xsd = pytest.mark.skipif(not HAS_XSD, reason=f"the official XSD sets are not at {XSD_DIR} (../shared/xsd)")


# --------------------------------------------------------------------------- offline schemas


class LocalOnly(etree.Resolver):
    """Resolves every schema import to a local file under the allowed folders, records it, and
    refuses anything else (an http URL would mean a fetch)."""

    def __init__(self, roots: list[Path]) -> None:
        super().__init__()
        self.roots = [r.resolve() for r in roots]
        self.loaded: list[str] = []

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)) if url.startswith("file:") else Path(url)
        if not (url.startswith("file:") or path.is_absolute()) or not any(path.resolve().is_relative_to(r)
                                                                           for r in self.roots):
            raise AssertionError(f"a schema import tried to leave the local folders: {url}")
        self.loaded.append(str(path))
        return self.resolve_filename(str(path), context)


def imports_of(top: Path) -> list[tuple[str, Path]]:
    """(namespace, file) to import for the schema ``top``; a no-namespace wrapper (ISO's all.xsd)
    gives its own imports, rebased to absolute paths."""
    tree = etree.parse(str(top))
    target = tree.getroot().get("targetNamespace")
    if target:
        return [(target, top)]
    return [(i.get("namespace"), (top.parent / i.get("schemaLocation")).resolve())
            for i in tree.getroot().iter(f"{{{XS_NS}}}import")]


def build_schema(imports: list[tuple[str, Path]]) -> tuple[etree.XMLSchema, LocalOnly]:
    """One XMLSchema importing each (namespace, file): built through a parser whose only resolver
    is :class:`LocalOnly` and which may not use the network."""
    resolver = LocalOnly([OAI_XSD, XSD_DIR])
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(resolver)
    body = "".join(f'<xs:import namespace="{ns}" schemaLocation="{path.resolve().as_uri()}"/>'
                   for ns, path in imports)
    wrapper = etree.fromstring(f'<xs:schema xmlns:xs="{XS_NS}">{body}</xs:schema>', parser,
                               base_url=(OAI_XSD / "wrapper.xsd").as_uri())
    return etree.XMLSchema(wrapper), resolver


@dataclass
class Validators:
    """One schema per metadata format (envelope + format); ``oai_dc``'s also serves the verbs
    without records and every error."""

    schemas: dict[str, etree.XMLSchema] = field(default_factory=dict)
    loaded: dict[str, list[str]] = field(default_factory=dict)

    def errors(self, prefix: str, document: bytes | etree._Element) -> list[str]:
        tree = document if isinstance(document, etree._Element) else etree.fromstring(
            document, etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False))
        schema = self.schemas[prefix]
        if schema.validate(etree.ElementTree(tree)):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]

    def check(self, prefix: str, document: bytes | etree._Element) -> None:
        problems = self.errors(prefix, document)
        assert not problems, f"not valid against OAI-PMH.xsd + {prefix}:\n" + "\n".join(problems[:10])


@pytest.fixture(scope="module")
def validators() -> Validators:
    envelope = [(OAI_NS, OAI_XSD / "OAI-PMH.xsd")]
    sets: dict[str, list[tuple[str, Path]]] = {"oai_dc": [(NAMESPACES["oai_dc"], OAI_XSD / "oai_dc.xsd")]}
    if HAS_XSD:
        sets.update({fmt: imports_of(XSD_DIR / rel) for fmt, rel in XML_SETS.items()})
    found = Validators()
    for prefix, imports in sets.items():
        found.schemas[prefix], resolver = build_schema(envelope + imports)
        found.loaded[prefix] = resolver.loaded
    return found


# --------------------------------------------------------------------------- the endpoint


@dataclass
class Endpoint:
    root: Path
    url: str
    ids: list[str]
    repository: Repository

    def fetch(self, query: str) -> bytes:
        """The raw response to ``query`` (already URL-encoded), over HTTP GET."""
        with urllib.request.urlopen(f"{self.url}?{query}", timeout=10) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/xml")
            return answer.read()

    def get(self, **params: str) -> bytes:
        return self.fetch(urllib.parse.urlencode(params))

    def oai_id(self, index: int) -> str:
        return f"oai:data.example.org:{self.ids[index]}.1"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with (published_instance(request.param, tmp_path_factory, "oai-xsd", config(page_size=1), weather()) as (root, ids),
          oai_endpoint(root) as (httpd, repository)):
        yield Endpoint(root, httpd.oai_app.base_url, ids, repository)


def parsed(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False))


def error_codes(data: bytes) -> list[str]:
    return [e.get("code") for e in parsed(data).iter(f"{OAI}error")]


def prefixes(endpoint: Endpoint) -> list[str]:
    tree = parsed(endpoint.get(verb="ListMetadataFormats", identifier=endpoint.oai_id(0)))
    return [f.findtext(f"{OAI}metadataPrefix") for f in tree.iter(f"{OAI}metadataFormat")]


# --------------------------------------------------------------------------- the schemas themselves


def test_schemas_load_from_local_files_only(validators: Validators) -> None:
    """Every file the schemas pulled in is a local file under tests/data/oai-xsd or ../shared/xsd
    (the resolver refuses anything else), and the OAI ones are the ones in tests/data/oai-xsd."""
    oai_files = {Path(p).name for p in validators.loaded["oai_dc"]}
    assert {"OAI-PMH.xsd", "oai_dc.xsd", "simpledc20021212.xsd", "xml.xsd"} <= oai_files
    for files in validators.loaded.values():
        assert files and all(Path(p).is_file() for p in files)
    if HAS_XSD:
        assert set(validators.schemas) == {"oai_dc", "datacite", "iso19139", "eml"}


def test_a_schema_import_from_the_web_is_refused() -> None:
    """The loader cannot fetch: an import naming the official http address (not a local file)
    fails to build instead of downloading."""
    with pytest.raises(etree.XMLSchemaParseError, match="OAI-PMH.xsd"):
        build_schema([(OAI_NS, Path("/nonexistent/OAI-PMH.xsd"))])  # not there: an error, no fetch
    resolver = LocalOnly([OAI_XSD])
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(resolver)
    wrapper = etree.fromstring(f'<xs:schema xmlns:xs="{XS_NS}"><xs:import namespace="{OAI_NS}" '
                               'schemaLocation="http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"/></xs:schema>',
                               parser, base_url=(OAI_XSD / "wrapper.xsd").as_uri())
    with pytest.raises(etree.XMLSchemaParseError, match="http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"):
        etree.XMLSchema(wrapper)
    assert resolver.loaded == []


# --------------------------------------------------------------------------- every verb


def test_identify_is_valid(endpoint: Endpoint, validators: Validators) -> None:
    data = endpoint.get(verb="Identify")
    validators.check("oai_dc", data)
    assert parsed(data).find(f"{OAI}Identify") is not None


def test_list_metadata_formats_is_valid(endpoint: Endpoint, validators: Validators) -> None:
    for data in (endpoint.get(verb="ListMetadataFormats"),
                 endpoint.get(verb="ListMetadataFormats", identifier=endpoint.oai_id(1))):
        validators.check("oai_dc", data)
        assert parsed(data).find(f"{OAI}ListMetadataFormats/{OAI}metadataFormat") is not None
    if HAS_XSD:
        assert prefixes(endpoint) == ["oai_dc", "datacite", "iso19139", "eml"]


def test_list_sets_is_the_valid_no_set_hierarchy_error(endpoint: Endpoint, validators: Validators) -> None:
    """docket has no sets: ListSets answers noSetHierarchy (so does a list asked for a set)."""
    for data in (endpoint.get(verb="ListSets"),
                 endpoint.get(verb="ListIdentifiers", metadataPrefix="oai_dc", set="ocean")):
        validators.check("oai_dc", data)
        assert error_codes(data) == ["noSetHierarchy"]


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
def test_every_page_of_every_format_is_valid(endpoint: Endpoint, validators: Validators, verb: str) -> None:
    """Each format harvested to its end through resumption tokens (page size 1): every page valid,
    the records the two publications, the last page an empty token."""
    for prefix in prefixes(endpoint):
        schema = prefix if verb == "ListRecords" else "oai_dc"
        data = endpoint.get(verb=verb, metadataPrefix=prefix)
        seen, pages = [], 0
        while True:
            validators.check(schema, data)
            tree = parsed(data)
            holder = tree.find(f"{OAI}{verb}")
            assert holder is not None, error_codes(data)
            seen += [h.findtext(f"{OAI}identifier") for h in holder.iter(f"{OAI}header")]
            if verb == "ListRecords":
                roots = [m[0] for m in holder.iter(f"{OAI}metadata")]
                assert roots and all(etree.QName(r).namespace == (NAMESPACES.get(prefix)
                                                                   or "http://www.isotc211.org/2005/gmd")
                                     for r in roots)
            pages += 1
            token = holder.find(f"{OAI}resumptionToken")
            assert token is not None and token.get("completeListSize") == "2"
            if not token.text:
                break
            assert pages < 5
            data = endpoint.get(verb=verb, resumptionToken=token.text)
        assert pages == 2 and seen == [endpoint.oai_id(0), endpoint.oai_id(1)], (prefix, seen)


def test_get_record_in_every_format_is_valid(endpoint: Endpoint, validators: Validators) -> None:
    formats = prefixes(endpoint)
    for prefix in formats:
        data = endpoint.get(verb="GetRecord", identifier=endpoint.oai_id(1), metadataPrefix=prefix)
        validators.check(prefix, data)
        assert parsed(data).find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata") is not None


def test_incremental_harvest_by_date_is_valid(endpoint: Endpoint, validators: Validators) -> None:
    with docket.open(endpoint.root) as d:
        second = d.publications(endpoint.ids[1])[0]["published_date"]
    since = datetime.fromisoformat(second).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = endpoint.get(verb="ListRecords", metadataPrefix="oai_dc", **{"from": since})
    validators.check("oai_dc", data)
    assert [h.text for h in parsed(data).iter(f"{OAI}identifier")] == [endpoint.oai_id(1)]
    day = endpoint.get(verb="ListIdentifiers", metadataPrefix="oai_dc", until=since[:10])
    validators.check("oai_dc", day)


# --------------------------------------------------------------------------- every error


ERRORS: list[tuple[str, str, str]] = [
    ("no verb", "metadataPrefix=oai_dc", "badVerb"),
    ("unknown verb", "verb=Harvest", "badVerb"),
    ("repeated verb", "verb=Identify&verb=Identify", "badVerb"),
    ("missing argument", "verb=ListRecords", "badArgument"),
    ("unknown argument", "verb=Identify&colour=blue", "badArgument"),
    ("bad date", "verb=ListRecords&metadataPrefix=oai_dc&from=yesterday", "badArgument"),
    ("mixed granularity", "verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2030-01-01T00:00:00Z",
     "badArgument"),
    ("token and more", "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=abc", "badArgument"),
    ("forged token", "verb=ListRecords&resumptionToken=eyJ2IjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     "badResumptionToken"),
    ("garbage token", "verb=ListIdentifiers&resumptionToken=not%20a%20token", "badResumptionToken"),
    ("unknown format", "verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
    ("ill-formed format", "verb=ListRecords&metadataPrefix=marc%2021", "badArgument"),
    ("unknown id", "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai%3Adata.example.org%3Anope.1",
     "idDoesNotExist"),
    ("foreign id", "verb=GetRecord&metadataPrefix=oai_dc&identifier=http%3A%2F%2Fexample.org%2Fx%20y",
     "idDoesNotExist"),
    ("no such id for formats", "verb=ListMetadataFormats&identifier=oai%3Adata.example.org%3Anope.1",
     "idDoesNotExist"),
    ("nothing in range", "verb=ListRecords&metadataPrefix=oai_dc&from=2999-01-01", "noRecordsMatch"),
    ("nothing before", "verb=ListIdentifiers&metadataPrefix=oai_dc&until=1999-12-31T23:59:59Z", "noRecordsMatch"),
    ("ill-formed set", "verb=ListIdentifiers&metadataPrefix=oai_dc&set=no%20such%20set", "badArgument"),
]


@pytest.mark.parametrize(("case", "query", "code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_responses_are_valid(endpoint: Endpoint, validators: Validators, case: str, query: str,
                                   code: str) -> None:
    data = endpoint.fetch(query)
    assert error_codes(data) == [code], (case, data[:600])
    validators.check("oai_dc", data)
    request = parsed(data).find(f"{OAI}request")
    if code in ("badVerb", "badArgument"):  # the spec: the base URL only, no attributes
        assert dict(request.attrib) == {}


def test_a_token_used_with_another_verb_is_a_valid_error(endpoint: Endpoint, validators: Validators) -> None:
    first = parsed(endpoint.get(verb="ListIdentifiers", metadataPrefix="oai_dc"))
    token = first.findtext(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
    assert token
    data = endpoint.get(verb="ListRecords", resumptionToken=token)
    assert error_codes(data) == ["badResumptionToken"]
    validators.check("oai_dc", data)


# --------------------------------------------------------------------------- the validator is live


def broken_copies(tree: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Copies of a valid GetRecord oai_dc response, each with one schema violation."""
    dc = "{http://purl.org/dc/elements/1.1/}"
    cases = {
        "a DC element misspelt": lambda t: setattr(t.find(f".//{dc}title"), "tag", f"{dc}titel"),
        "no responseDate": lambda t: t.remove(t.find(f"{OAI}responseDate")),
        "a datestamp that is not a date": lambda t: setattr(t.find(f".//{OAI}datestamp"), "text", "yesterday"),
        "an unknown error code": lambda t: t.replace(t.find(f"{OAI}GetRecord"), etree.Element(
            f"{OAI}error", code="tooLazy")),
        "a child inside a DC element": lambda t: etree.SubElement(t.find(f".//{dc}title"), f"{dc}b"),
        "a record root no schema declares": lambda t: setattr(
            t.find(f".//{OAI}metadata")[0], "tag", "{http://www.openarchives.org/OAI/2.0/oai_dc/}dublin"),
    }
    for name, spoil in cases.items():
        broken = copy.deepcopy(tree)
        spoil(broken)
        yield name, broken


def test_broken_copies_are_rejected(endpoint: Endpoint, validators: Validators) -> None:
    good = parsed(endpoint.get(verb="GetRecord", identifier=endpoint.oai_id(0), metadataPrefix="oai_dc"))
    assert validators.errors("oai_dc", good) == []
    for name, broken in broken_copies(good):
        assert validators.errors("oai_dc", broken), f"the validator accepted {name}"


@needs_xsd
@pytest.mark.parametrize(("prefix", "spoil"), [
    ("datacite", "{http://datacite.org/schema/kernel-4}titles"),
    ("eml", "dataset"),
    ("iso19139", "{http://www.isotc211.org/2005/gmd}identificationInfo"),
])
def test_a_broken_payload_is_rejected(endpoint: Endpoint, validators: Validators, prefix: str, spoil: str) -> None:
    """The embedded records are validated strictly: dropping a required element fails."""
    good = parsed(endpoint.get(verb="GetRecord", identifier=endpoint.oai_id(0), metadataPrefix=prefix))
    assert validators.errors(prefix, good) == []
    broken = copy.deepcopy(good)
    record = broken.find(f".//{OAI}metadata")[0]
    record.remove(record.find(spoil))
    assert validators.errors(prefix, broken), f"the validator accepted a {prefix} record without {spoil}"


def test_an_admin_email_the_schema_refuses_is_refused_at_startup(tmp_path: Path) -> None:
    """Identify's adminEmail must match OAI-PMH.xsd's emailType (a dot in the domain): an address
    that would make Identify invalid is a settings error (exit 2 from the CLI), not a bad response."""
    from docket.errors import BadInput
    from docket.oai import oai_settings

    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write('\n[oai]\nadmin_email = "root@localhost"\n')
    with pytest.raises(BadInput, match="admin_email = 'root@localhost'"):
        oai_settings(Instance.find(root))


@pytest.mark.parametrize("prefix", ["oai_dc", "eml"])
def test_lists_are_paged_in_sql(endpoint: Endpoint, validators: Validators, prefix: str) -> None:
    """Each page is one keyset query with LIMIT page_size + 1 (never a read of every published
    row): the statements the endpoint's store runs while a list is harvested page by page."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "publications" in statement:
            statements.append((" ".join(statement.split()), parameters))

    engine = endpoint.repository.store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = endpoint.get(verb="ListIdentifiers", metadataPrefix=prefix)
        token = parsed(first).findtext(f"{OAI}ListIdentifiers/{OAI}resumptionToken")
        second = endpoint.get(verb="ListIdentifiers", resumptionToken=token)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    for data in (first, second):
        validators.check("oai_dc", data)
    assert [h.text for d in (first, second) for h in parsed(d).iter(f"{OAI}identifier")] == \
        [endpoint.oai_id(0), endpoint.oai_id(1)]
    pages = [(s, p) for s, p in statements if "ORDER BY" in s]
    assert len(pages) == 2, statements  # one query per page
    for statement, parameters in pages:
        assert "LIMIT" in statement, statement
        values = parameters.values() if isinstance(parameters, dict) else parameters
        assert 2 in list(values), (statement, parameters)  # page_size 1, plus one to see if there is more
    # the second page resumes after the first page's key, in SQL
    assert "publications.id >" in pages[1][0]
    counts = [s for s, _ in statements if "count(" in s.lower()]
    assert len(counts) == 1  # completeListSize: counted on the first page, carried in the token
