"""``docket publish`` (issue 13, parts 2 and 3): exports, identifiers, versions, DOIs through the
retry queue, PROV; refusals; ``--dry-run``; on SQLite and PostgreSQL.

DataCite is a local HTTP server (:class:`FakeDataCite`) speaking the subset of its REST API that
docket uses: ``GET /dois/{doi}``, ``POST /dois`` (a draft), ``PUT /dois/{doi}`` with
``event: publish`` (findable), basic auth checked, and switches for an outage (503) and a 422
with a JSON:API ``errors`` body. One request per backend runs the real QA notebook (a few
seconds, once per module); the others have their QA step closed by a data manager by hand, which
is what the publication rules read.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from lxml import etree
from sqlalchemy import create_engine, func, select, text

import docket
from docket.api import Docket, resolve_locations
from docket.errors import BadInput, Refused
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, PG_SKIP, PG_URL
from tests.people import as_role

XSD_DIR = Path(__file__).resolve().parents[2] / "shared" / "xsd"
HAS_XSD = (XSD_DIR / "datacite-4.5" / "metadata.xsd").is_file()
needs_xsd = pytest.mark.skipif(not HAS_XSD, reason=f"the official XSD sets are not at {XSD_DIR} (../shared/xsd)")
XML_SETS = {"iso19139": "iso19139/all.xsd", "datacite": "datacite-4.5/metadata.xsd", "eml": "eml-2.2.0/eml.xsd"}
DC = "{http://datacite.org/schema/kernel-4}"
PREFIX = "10.5072"
USER, PASSWORD = "DOCKET.TEST", "s3cret-datacite"
ENV = {"DOCKET_DATACITE_USER": USER, "DOCKET_DATACITE_PASSWORD": PASSWORD}
FORMATS = ["iso19139", "datacite", "eml", "schemaorg", "dcat"]


# --------------------------------------------------------------------------- a DataCite to talk to


class FakeDataCite:
    """The DOIs it holds, every call it got, and how it answers (``ok``, ``down``, ``422``)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.dois: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def posts(self, doi: str) -> int:
        return sum(1 for method, what in self.calls if method == "POST" and what == doi)


def handler_for(registry: FakeDataCite) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

        def _doi(self) -> str:
            return unquote(self.path.removeprefix("/dois/")).lower()

        def _common(self, method: str, doi: str) -> bool:
            with registry.lock:
                registry.calls.append((method, doi))
            if self.headers.get("Authorization") != expected:
                self._answer(401, {"errors": [{"status": "401", "title": "Bad credentials."}]})
                return False
            if registry.mode == "down":
                self._answer(503, {"errors": [{"status": "503", "title": "Service unavailable"}]})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            doi = self._doi()
            if not self._common("GET", doi):
                return
            held = registry.dois.get(doi)
            if held is None:
                self._answer(404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]})
            else:
                self._answer(200, {"data": {"id": doi, "type": "dois", "attributes": {"doi": doi, **held}}})

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            attributes = body["data"]["attributes"]
            doi = str(attributes.get("doi", "")).lower()
            if not self._common("POST", doi):
                return
            if registry.mode == "422":
                self._answer(422, {"errors": [{"source": "xml", "title": "Rights uri is not a valid URI"},
                                              {"source": "url", "title": "URL is not allowed by repository domain settings."}]})
                return
            assert body["data"]["type"] == "dois" and doi.startswith(PREFIX + "/")
            xml = base64.b64decode(attributes["xml"])
            identifier = etree.fromstring(xml).find(f"{DC}identifier")
            assert identifier is not None and identifier.text.lower() == doi, "the XML names another DOI"
            if doi in registry.dois:
                self._answer(422, {"errors": [{"source": "doi", "title": "This DOI has already been taken"}]})
                return
            registry.dois[doi] = {"state": "draft", "url": attributes["url"], "xml": xml}
            self._answer(201, {"data": {"id": doi, "type": "dois", "attributes": {"doi": doi, "state": "draft"}}})

        def do_PUT(self) -> None:  # noqa: N802
            doi = self._doi()
            body = self._body()
            if not self._common("PUT", doi):
                return
            held = registry.dois.get(doi)
            if held is None:
                self._answer(404, {"errors": [{"status": "404", "title": "not found"}]})
                return
            attributes = body["data"]["attributes"]
            if attributes.get("event") == "publish":
                held["state"] = "findable"
            held["url"] = attributes.get("url", held["url"])
            self._answer(200, {"data": {"id": doi, "type": "dois", "attributes": {"doi": doi, "state": held["state"]}}})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def datacite() -> Iterator[tuple[FakeDataCite, str]]:
    registry = FakeDataCite()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(registry))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield registry, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def registry(datacite: tuple[FakeDataCite, str]) -> Iterator[FakeDataCite]:
    """The server, answering normally again after each test."""
    yield datacite[0]
    datacite[0].mode = "ok"


@pytest.fixture(autouse=True)
def _datacite_login(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


# --------------------------------------------------------------------------- instances


def config_text(endpoint: str | None, formats: list[str] | None = None, smtp: bool = False) -> str:
    lines = ["", "[publication]", 'publisher = "Ocean Data Centre"']
    if HAS_XSD:
        lines.append(f'xsd_dir = "{XSD_DIR.as_posix()}"')
    if formats is not None:
        lines.append(f"formats = {json.dumps(formats)}")
    lines += ["", "[jobs]", "backoff_base = 0", "max_attempts = 5"]  # retries due at once: no sleeping
    if smtp:  # mails are queued; the server (a closed port) makes them wait in the queue
        lines += ["", "[smtp]", 'host = "127.0.0.1"', "port = 9", 'from = "docket@example.org"', "timeout = 1"]
    if endpoint:
        lines += ["", "[datacite]", f'endpoint = "{endpoint}"', f'prefix = "{PREFIX}"', "timeout = 5"]
    return "\n".join(lines) + "\n"


class Setup:
    """One instance (per backend) for the whole module, and a way to swap its publishing settings."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root
        self.endpoint = endpoint
        self.base = (root / "docket.toml").read_text(encoding="utf-8")
        self.configure(endpoint)

    def configure(self, endpoint: str | None, formats: list[str] | None = None, smtp: bool = False) -> None:
        (self.root / "docket.toml").write_text(self.base + config_text(endpoint, formats, smtp), encoding="utf-8")

    def open(self) -> Docket:
        return docket.open(self.root)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          datacite: tuple[FakeDataCite, str]) -> Iterator[Setup]:
    kwargs: dict[str, Any] = {"project": "ocean", "base_uri": "https://data.example.org/ocean/",
                              "local_roots": ["inbox", str(EXAMPLES)]}
    schema = None
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        schema = f"docket_test_{uuid.uuid4().hex[:12]}"
        kwargs.update(store_url=PG_URL, store_schema=schema)
    root = tmp_path_factory.mktemp(f"publish-{request.param}") / "inst"
    docket.init(root, **kwargs).close()
    registry = datacite[0]  # request ids start again in each instance, and so do their DOIs
    registry.dois.clear()
    registry.calls.clear()
    yield Setup(root, datacite[1])
    if schema is not None:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def conf(setup: Setup) -> Iterator[Setup]:
    """The module's instance, its settings back to DataCite after the test."""
    yield setup
    setup.configure(setup.endpoint)


def weather(title: str | None = None) -> dict[str, Any]:
    """The weather example request, its files' relative locations made absolute as a file's are."""
    path = EXAMPLES / "requests" / "weather-table-schema.json"
    doc = resolve_locations(json.loads(path.read_text(encoding="utf-8")), path.parent)
    if title:
        doc["metadata"]["project_descriptive"]["title"] = title
    return doc


def approved(d: Docket, doc: dict[str, Any] | None = None) -> str:
    request_id = d.submit(doc or weather())["id"]
    as_role(d, "reviewer", "Eva Novak").review(request_id, "approved")
    return request_id


def ready(d: Docket, qa: str = "done") -> str:
    """Approved and transferred, with QA closed ``qa`` by a data manager (the step's state is what
    publishing reads; the real notebook runs once, in ``clean``)."""
    request_id = approved(d)
    assert d.transfer(request_id)["outcome"] == "done"
    d.set_step(request_id, "qa", "closed", qa, comment=None if qa == "done" else f"qa {qa} (by hand)")
    return request_id


@pytest.fixture(scope="module")
def clean(setup: Setup) -> str:
    """A request that went the whole way for real: approved, transferred, QA notebook clean (the
    notebook runs on SQLite only: a kernel costs seconds, and what publishing reads of its
    outcome, the step's state, is the same on both stores; test_qa runs it on both)."""
    with setup.open() as d:
        if d.store.dialect != "sqlite":
            return ready(d)
        request_id = approved(d)
        assert d.transfer(request_id)["outcome"] == "done"
        result = d.qa(request_id)
        assert result["outcome"] == "done", result["comment"]
    return request_id


def snapshot(root: Path, d: Docket) -> tuple[dict[str, int], dict[str, tuple[int, str]]]:
    """Rows of every table, and every file of the instance (but the SQLite store) with its digest."""
    with d.store.connect() as conn:
        rows = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables}
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("docket.sqlite"):
            data = path.read_bytes()
            files[str(path.relative_to(root))] = (len(data), hashlib.sha256(data).hexdigest())
    return rows, files


def independently_valid(fmt: str, data: bytes) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / XML_SETS[fmt])))
    assert schema.validate(etree.fromstring(data)), f"{fmt}: {schema.error_log.last_error}"


def bundle_of(d: Docket, request_id: str, n: int) -> dict[str, Any]:
    prov = json.loads(d.export_prov(request_id, "json"))
    return prov["bundle"][f"{request_id}_publication_{n}:bundle"]


def literal(value: Any) -> Any:
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value["$"] if isinstance(value, dict) else value


# --------------------------------------------------------------------------- the whole path


def test_dry_run_says_what_would_happen_and_changes_nothing(conf: Setup, clean: str, registry: FakeDataCite) -> None:
    with conf.open() as d:
        before = snapshot(conf.root, d)
        result = docket_cli("publish", clean, "--dry-run", "--json", instance=conf.root, env=ENV)
        assert result.code == 0, result.err
        body = result.json()
        assert snapshot(conf.root, d) == before
        assert d.publications(clean) == []
    doi = f"{PREFIX}/{clean}.1"
    assert body["dry_run"] is True and body["identifier"] == doi and body["identifier_type"] == "DOI"
    assert body["version"] == 1 and body["doi_job"] == "would be queued"
    assert [e["format"] for e in body["exports"]] == FORMATS
    folder = conf.root / "published" / clean / "1"
    assert {e["path"] for e in body["exports"]} == {
        str(folder / f"{clean}.1.{fmt}.{ext}") for fmt, ext in
        zip(FORMATS, ["xml", "xml", "xml", "jsonld", "ttl"], strict=True)}
    assert not folder.exists()
    assert registry.calls == [] or all(what != doi for _, what in registry.calls)
    text_out = docket_cli("publish", clean, "--dry-run", instance=conf.root, env=ENV)
    assert text_out.code == 0 and "would publish as version 1" in text_out.out and doi in text_out.out


def test_an_approved_qa_clean_request_publishes_with_a_findable_doi(conf: Setup, clean: str,
                                                                   registry: FakeDataCite) -> None:
    result = docket_cli("publish", clean, "--json", instance=conf.root, env=ENV)
    assert result.code == 0, result.err
    body = result.json()
    doi = f"{PREFIX}/{clean}.1"
    assert body["identifier"] == doi and body["version"] == 1
    # the DOI went out in the command's own run of the queue: draft, then findable, one POST
    assert body["status"] == "findable"
    assert registry.dois[doi]["state"] == "findable" and registry.posts(doi) == 1
    assert registry.dois[doi]["url"] == f"https://data.example.org/ocean/{clean}.1"
    with conf.open() as d:
        [row] = d.publications(clean)
        assert (row["version"], row["revision"], row["identifier"], row["identifier_type"], row["status"]) == \
            (1, 1, doi, "DOI", "findable")
        assert [e["format"] for e in row["exports"]] == FORMATS
        for entry in row["exports"]:
            data = (conf.root / entry["location"]).read_bytes()
            assert entry["sha256"] == "sha256:" + hashlib.sha256(data).hexdigest()
            if HAS_XSD and entry["format"] in XML_SETS:
                independently_valid(entry["format"], data)
        datacite_xml = (conf.root / row["exports"][1]["location"]).read_bytes()
        assert registry.dois[doi]["xml"] == datacite_xml  # DataCite got the export as published
        tree = etree.fromstring(datacite_xml)
        assert tree.find(f"{DC}identifier").text.lower() == doi
        assert tree.find(f"{DC}relatedIdentifiers/{DC}relatedIdentifier[@relationType='IsNewVersionOf']") is None
        doc = d.get(clean)
        assert doc["steps"]["publication"]["status"] == "closed" and doc["steps"]["publication"]["outcome"] == "done"
        assert [h["to"] for h in d.history(clean) if h["step"] == "publication"] == ["closed"]
        assert any(a["action"] == "publish" and a["detail"]["identifier"] == doi for a in d.audit(clean))
        assert any(a["action"] == "doi:findable" for a in d.audit(clean))
        # PROV: the activity, the published entity with the DOI, each export derived from the revision
        bundle = bundle_of(d, clean, 1)
        published = bundle["entity"][f"{clean}.1:published"]
        assert literal(published["dcterms:identifier"]) == doi
        assert literal(published["prov:type"]) == "dkt:PublishedDataset"
        exports = {k: v for k, v in bundle["entity"].items() if literal(v["prov:type"]) == "dkt:MetadataRecord"}
        assert len(exports) == 5
        derived = [r for r in bundle["wasDerivedFrom"].values() for r in (r if isinstance(r, list) else [r])]
        assert {r["prov:generatedEntity"] for r in derived if r["prov:usedEntity"] == f"docket:{clean}.1"} == \
            set(exports) | {f"{clean}.1:published"}
        sums = {literal(bundle["entity"][literal(v["spdx:checksum"])]["spdx:checksumValue"]) for v in exports.values()}
        assert sums == {e["sha256"].removeprefix("sha256:") for e in row["exports"]}
        assert literal(next(iter(bundle["activity"].values()))["prov:type"]) == "dkt:Publication"
        jobs = [j for j in docket_cli("jobs", "--json", instance=conf.root).json() if j["kind"] == "doi"
                and j["request_id"] == clean]
        assert [(j["status"], j["payload"]["doi"]) for j in jobs] == [("done", doi)]
        assert PASSWORD not in json.dumps(jobs)
    again = docket_cli("publish", clean, instance=conf.root, env=ENV)
    assert again.code == 3 and "publish-once" in again.err


def test_a_new_revision_publishes_as_the_next_version(conf: Setup, clean: str, registry: FakeDataCite) -> None:
    with conf.open() as d:
        if not d.publications(clean):
            d.publish(clean)
        [first] = d.publications(clean)
        old_files = {e["location"]: (conf.root / e["location"]).read_bytes() for e in first["exports"]}
        old_times = {loc: (conf.root / loc).stat().st_mtime_ns for loc in old_files}
        doc = weather("Alpine weather stations, hourly air temperature, corrected second release")
        d.revise(clean, doc, minor=True)  # a data manager's minor edit: stays approved
        result = d.publish(clean)
        assert (result["version"], result["revision"]) == (2, 2)
        doi2 = f"{PREFIX}/{clean}.2"
        assert result["identifier"] == doi2 and result["previous"]["identifier"] == first["identifier"]
        from docket.jobs import run

        run(d)
        rows = d.publications(clean)
        assert [(r["version"], r["revision"], r["status"]) for r in rows] == [(1, 1, "findable"), (2, 2, "findable")]
        assert rows[0] == first  # the earlier version's row is untouched
        for location, data in old_files.items():
            assert (conf.root / location).read_bytes() == data
            assert (conf.root / location).stat().st_mtime_ns == old_times[location]
        xml = (conf.root / "published" / clean / "2" / f"{clean}.2.datacite.xml").read_bytes()
        related = etree.fromstring(xml).findall(f"{DC}relatedIdentifiers/{DC}relatedIdentifier")
        assert [(r.get("relationType"), r.get("relatedIdentifierType"), r.text) for r in related
                if r.get("relationType") == "IsNewVersionOf"] == [("IsNewVersionOf", "DOI", first["identifier"])]
        if HAS_XSD:
            independently_valid("datacite", xml)
        assert registry.dois[doi2]["state"] == "findable" and registry.posts(doi2) == 1
        if importlib.util.find_spec("docket.search") is not None:  # indexed in the publication's transaction
            from docket.search import search

            hits = [h for h in search(d, "corrected second release") if h["id"] == clean]
            assert [h["revision"] for h in hits] == [2]
        bundle = bundle_of(d, clean, 2)
        revision_of = [r for r in bundle["wasDerivedFrom"].values()
                       if literal(r.get("prov:type")) == "prov:Revision"]
        assert [(r["prov:generatedEntity"], r["prov:usedEntity"]) for r in revision_of] == \
            [(f"{clean}.2:published", f"{clean}.1:published")]


# --------------------------------------------------------------------------- refusals


def test_a_request_that_is_not_approved_is_refused(conf: Setup) -> None:
    with conf.open() as d:
        request_id = d.submit(weather())["id"]
        before = snapshot(conf.root, d)[1]
    result = docket_cli("publish", request_id, instance=conf.root, env=ENV)
    assert result.code == 3 and "publish-needs-approval" in result.err and "submitted" in result.err
    with conf.open() as d:
        assert snapshot(conf.root, d)[1] == before and d.publications(request_id) == []
        assert [a["detail"]["rule"] for a in d.audit(request_id) if a["action"] == "refused:publish"] == \
            ["publish-needs-approval"]


@pytest.mark.parametrize("outcome, words", [("rejected", "found errors in the data"),
                                            ("failed", "could not complete")])
def test_qa_with_errors_or_that_failed_blocks_publication(conf: Setup, outcome: str, words: str) -> None:
    with conf.open() as d:
        request_id = ready(d, qa=outcome)
    result = docket_cli("publish", request_id, "--json", instance=conf.root, env=ENV)
    assert result.code == 3, result.out
    body = result.json()
    assert "publish-needs-clean-qa" in body["message"] and words in body["message"]
    assert not (conf.root / "published" / request_id).exists()
    with conf.open() as d:
        assert d.publications(request_id) == []
        assert d.get(request_id)["steps"]["publication"] == {"status": "open"}


def test_only_a_data_manager_publishes(conf: Setup) -> None:
    with conf.open() as d:
        request_id = ready(d)
        with pytest.raises(Refused) as refused:
            as_role(d, "reviewer", "Eva Novak").publish(request_id)
        assert refused.value.rule == "staff-only"
        assert d.publications(request_id) == []


# --------------------------------------------------------------------------- DOIs


def test_a_doi_waits_in_the_queue_while_datacite_is_down(conf: Setup, registry: FakeDataCite) -> None:
    with conf.open() as d:
        request_id = ready(d)
    doi = f"{PREFIX}/{request_id}.1"
    registry.mode = "down"
    result = docket_cli("publish", request_id, "--json", instance=conf.root, env=ENV)
    assert result.code == 0, result.err  # published: the DOI waits, the publication does not
    assert result.json()["status"] == "pending"
    [job] = [j for j in docket_cli("jobs", "--json", instance=conf.root).json() if j["request_id"] == request_id
             and j["kind"] == "doi"]
    assert job["status"] == "queued" and job["attempts"] == 1 and "503" in job["last_error"]
    assert registry.posts(doi) == 0 and doi not in registry.dois
    with conf.open() as d:
        assert d.publications(request_id)[0]["status"] == "pending"
    down = docket_cli("jobs", "run", "--json", instance=conf.root, env=ENV)  # still down: retried later
    assert down.code == 1 and any(j["status"] == "queued" for j in down.json()["jobs"])
    registry.mode = "ok"
    back = docket_cli("jobs", "run", "--json", instance=conf.root, env=ENV)
    assert back.code == 0, back.out
    assert [j["status"] for j in back.json()["jobs"] if "DOI" in j["what"] and request_id in j["what"]] == ["done"]
    assert registry.dois[doi]["state"] == "findable"
    assert registry.posts(doi) == 1  # exactly one draft, however many tries
    with conf.open() as d:
        assert d.publications(request_id)[0]["status"] == "findable"


def test_a_422_fails_the_job_with_datacites_message(conf: Setup, registry: FakeDataCite) -> None:
    with conf.open() as d:
        request_id = ready(d)
    registry.mode = "422"
    result = docket_cli("publish", request_id, instance=conf.root, env=ENV)
    assert result.code == 0, result.err
    failed = docket_cli("jobs", "--failed", instance=conf.root)
    assert failed.code == 0
    assert f"{PREFIX}/{request_id}.1" in failed.out and "422" in failed.out
    assert "Rights uri is not a valid URI" in failed.out and "repository domain settings" in failed.out
    registry.mode = "ok"
    docket_cli("jobs", "run", instance=conf.root, env=ENV)  # a failed job is not retried by itself
    with conf.open() as d:
        assert d.publications(request_id)[0]["status"] == "pending"
    assert registry.posts(f"{PREFIX}/{request_id}.1") == 1


# --------------------------------------------------------------------------- without DataCite


def test_without_datacite_the_identifier_is_the_instances_own_url(conf: Setup) -> None:
    conf.configure(None)
    with conf.open() as d:
        request_id = ready(d)
    refused = docket_cli("publish", request_id, instance=conf.root)
    assert refused.code == 2, refused.err  # DataCite needs a DOI: named, with the way out
    assert "datacite" in refused.err and "formats" in refused.err
    assert not (conf.root / "published" / request_id).exists()
    conf.configure(None, formats=["iso19139", "eml", "schemaorg", "dcat"], smtp=True)
    result = docket_cli("publish", request_id, instance=conf.root)
    assert result.code == 0, result.err
    url = f"https://data.example.org/ocean/{request_id}.1"
    assert f"identifier  {url} (URL, findable)" in result.out
    assert "own persistent URL" in result.out
    with conf.open() as d:
        [row] = d.publications(request_id)
        assert (row["identifier"], row["identifier_type"], row["status"]) == (url, "URL", "findable")
        assert sorted(p.name for p in (conf.root / "published" / request_id / "1").iterdir()) == sorted(
            f"{request_id}.1.{f}" for f in ("iso19139.xml", "eml.xml", "schemaorg.jsonld", "dcat.ttl"))
        assert literal(bundle_of(d, request_id, 1)["entity"][f"{request_id}.1:published"]["dcterms:identifier"]) == url
        with d.store.connect() as conn:
            jobs = conn.execute(select(tables.jobs.c.kind, tables.jobs.c.payload).where(
                tables.jobs.c.request_id == request_id)).all()
        assert not [kind for kind, _ in jobs if kind == "doi"]
        published = [payload for kind, payload in jobs if kind == "notify" and payload["event"] == "published"]
        assert published and all(url in payload["comment"] for payload in published)


def test_a_prefix_without_an_endpoint_is_named(conf: Setup) -> None:
    conf.configure(None)
    with (conf.root / "docket.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[datacite]\nprefix = "{PREFIX}"\n')
    with conf.open() as d:
        request_id = ready(d)
        with pytest.raises(BadInput, match="endpoint is not set"):
            d.publish(request_id, dry_run=True)


def test_the_doi_is_derived_from_the_request_and_revision() -> None:
    from docket.steps.doi import DataCiteSettings, errors_of

    settings = DataCiteSettings("https://api.test.datacite.org", "10.5072")
    assert settings.doi("Ocean-0007", 2) == settings.doi("ocean-0007", 2) == "10.5072/ocean-0007.2"
    assert errors_of({"errors": [{"source": "url", "title": "can't be blank"}, {"title": "bad xml"}]}) == \
        "url: can't be blank; bad xml"
    assert errors_of({"data": {}}) == "" and errors_of(None) == ""


def test_the_doi_job_kind_is_known_to_a_fresh_worker() -> None:
    """`docket jobs run` in a new process must find the doi handler without a publish before it."""
    import subprocess
    import sys

    code = ("import docket.api\nfrom docket.jobs import registry\n"
            "kind = registry.get('doi')\nassert kind is not None and kind.name == 'doi'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
