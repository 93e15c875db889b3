"""Every PROV export of a request is valid by the official schemas, and old stores are upgraded.

Each example request goes through the whole workflow (submit, a rejection with a comment, a
revision, approval with a comment, transfer, QA) by people with e-mails and ORCID iDs; then each
export format is checked by the W3C's own artefacts, which ship with the installed ``prov``
package (found through ``importlib.resources``, never a path of this machine):

* PROV-XML against ``prov.xsd`` (and its includes), with lxml;
* PROV-JSON against the PROV-JSON submission's JSON Schema, PROV-JSONLD against its schema;
* PROV-N parsed back by prov's PROV-N parser into the document the JSON holds;
* Turtle and TriG loaded by rdflib: the same triples as the JSON converted to PROV-O.

docket 0.1 wrote identifiers such as ``docket:ocean-0001/request/1/bundle`` and
``orcid:0000-0002-...``, which ``prov.xsd`` refuses (``xs:QName``); the second half of the file
takes bundles written by that version (``tests/data/old_prov_bundles.json``), puts them in a store
at migration 0002, upgrades it and checks the same formats, and that the kept bindings still
expand the template of the time (``tests/data/prov_templates_0.1/``) into the migrated bundle.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree
from prov.model import ProvDocument
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import isomorphic
from sqlalchemy import select

import docket
from docket.api import Docket
from docket.provenance import identifiers as ids
from docket.provenance.export import serialize
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, example_requests
from tests.people import as_role

BASE = "https://data.example.org/ocean/"
DATA = Path(__file__).resolve().parent / "data"
FORMATS = ("json", "provn", "xml", "ttl", "trig", "jsonld")
REVIEWER = ("Dr. Eva Novak", "eva.novak@datacentre.example.org", "0000-0002-9079-593X")
OPERATOR = ("Jan Kowalski", "jan@datacentre.example.org", "https://orcid.org/0000-0001-5109-3700")


def reviewer(d: Docket) -> Docket:
    name, email, orcid = REVIEWER
    return as_role(d, "reviewer", name, email=email, orcid=orcid)


def operator(d: Docket) -> Docket:
    name, email, orcid = OPERATOR
    return as_role(d, "data-manager", name, email=email, orcid=orcid)


# ----------------------------------------------------------------------------- the official schemas


def schema_file(name: str) -> Path:
    """A schema vendored in the installed prov package (prov/tests/schemas/)."""
    folder = importlib.resources.files("prov") / "tests" / "schemas"
    path = Path(str(folder / name))
    if not path.is_file():
        pytest.skip(f"the installed prov package does not ship {name}")
    return path


@cache
def xml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_file("prov.xsd"))))


@cache
def json_validator(name: str) -> Any:
    schema = json.loads(schema_file(name).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def xml_errors(data: bytes) -> list[str]:
    schema = xml_schema()
    schema.validate(etree.fromstring(data))
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def json_errors(data: bytes, schema: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in json_validator(schema).iter_errors(json.loads(data))]


def as_dataset(data: bytes, fmt: str) -> Dataset:
    ds = Dataset()
    ds.parse(data=data, format=fmt)
    return ds


def triples(ds: Dataset) -> Graph:
    """All triples of a dataset as one graph (Turtle has no named graphs to compare with)."""
    g = Graph()
    for s, p, o, _ in ds.quads((None, None, None, None)):
        g.add((s, p, o))
    return g


def identifiers_in(json_doc: dict[str, Any]) -> Iterator[str]:
    """Every identifier of a PROV-JSON document: bundles, records and the records they name."""
    def walk(container: dict[str, Any]) -> Iterator[str]:
        for kind, records in container.items():
            if kind in ("prefix", "bundle") or not isinstance(records, dict):
                continue
            for ident, attributes in records.items():
                if not ident.startswith("_:"):
                    yield ident
                for attrs in attributes if isinstance(attributes, list) else [attributes]:
                    for name, value in attrs.items():
                        if name.startswith("prov:") and isinstance(value, str) and name not in (
                                "prov:label", "prov:location", "prov:value", "prov:startTime",
                                "prov:endTime", "prov:time"):
                            yield value
    yield from walk(json_doc)
    for bundle_id, bundle in (json_doc.get("bundle") or {}).items():
        yield bundle_id
        yield from walk(bundle)


# ------------------------------------------------------------------------- the workflow, once


def run_workflow(d: Docket, path: Path) -> str:
    """Submit, reject with a comment, revise, approve with a comment, transfer and run QA."""
    request_id = d.submit(path)["id"]
    reviewer(d).review(request_id, "rejected", comment="Please add the keyword 'survey'.")
    doc = d.get(request_id)
    edited = {k: doc[k] for k in ("project", "provider", "metadata", "files")}
    edited["metadata"]["project_descriptive"]["keywords"].append("survey")
    provider = d.as_link(d.new_link(request_id)["link"])  # the provider named in the request, by her link
    provider.revise(request_id, edited)
    provider.review(request_id, "submitted")
    reviewer(d).review(request_id, "approved", comment="Complete and consistent.")
    assert operator(d).transfer(request_id)["outcome"] == "done"
    operator(d).qa(request_id)
    return request_id


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An instance holding every example request after the whole workflow, and its exports by
    ``docket prov ID --format F`` (the command line, as a data manager gets them)."""
    folder = tmp_path_factory.mktemp("validity") / "inst"
    docket.init(folder, project="ocean", base_uri=BASE, local_roots=["inbox", str(EXAMPLES)]).close()
    with docket.open(folder) as d:
        request_ids = {path.stem: run_workflow(d, path) for path in example_requests()}
        people = {u["name"]: u for u in d.users()}
    exports: dict[tuple[str, str], bytes] = {}
    for request_id in request_ids.values():
        for fmt in FORMATS:
            result = docket_cli("prov", request_id, "--format", fmt, instance=folder)
            assert result.code == 0, result.err
            exports[request_id, fmt] = result.out.encode("utf-8")
    return {"instance": folder, "ids": request_ids, "exports": exports, "people": people}


EXAMPLES_BY_NAME = [p.stem for p in example_requests()]


def export(workflow: dict[str, Any], example: str, fmt: str) -> bytes:
    return workflow["exports"][workflow["ids"][example], fmt]


@pytest.mark.parametrize("example", EXAMPLES_BY_NAME)
def test_prov_xml_is_valid_against_prov_xsd(workflow: dict[str, Any], example: str) -> None:
    """docket 0.1 failed here: ``docket:ocean-0001/request/1/bundle`` is no ``xs:QName``."""
    errors = xml_errors(export(workflow, example, "xml"))
    assert not errors, "\n".join(errors[:10])


@pytest.mark.parametrize("example", EXAMPLES_BY_NAME)
def test_prov_json_and_jsonld_are_valid_against_their_schemas(workflow: dict[str, Any], example: str) -> None:
    errors = json_errors(export(workflow, example, "json"), "prov-json.schema.json")
    assert not errors, "\n".join(errors[:10])
    errors = json_errors(export(workflow, example, "jsonld"), "prov-jsonld.schema.json")
    assert not errors, "\n".join(errors[:10])


@pytest.mark.parametrize("example", EXAMPLES_BY_NAME)
def test_every_identifier_is_a_qname_and_no_address_is_one(workflow: dict[str, Any], example: str) -> None:
    """All identifiers (not only those the XML happens to hold) are QNames of declared prefixes;
    people are opaque nodes with their ORCID IRI as an ``xsd:anyURI`` attribute."""
    data = json.loads(export(workflow, example, "json"))
    found = set(identifiers_in(data))
    bad = sorted(i for i in found if not ids.is_qname(i))
    assert not bad, bad[:10]
    assert not [i for i in found if "@" in i or "%40" in i or i.startswith("orcid:")]
    text = export(workflow, example, "provn").decode()
    assert '"https://orcid.org/0000-0002-9079-593X" %% xsd:anyURI' in text  # the reviewer's ORCID
    assert '"https://orcid.org/0000-0001-5109-3700" %% xsd:anyURI' in text  # the operator's
    # the same person is one node: the reviewer of the rejection and of the approval, named by
    # her account's opaque person id, with her e-mail address an attribute
    person = workflow["people"][REVIEWER[0]]["person_id"]
    assert person.startswith("person_") and "eva" not in person
    agents = [line for line in text.splitlines() if line.strip().startswith(f"agent({ids.QName(person)},")]
    assert len(agents) == 2 and all(REVIEWER[1] in line for line in agents), agents


@pytest.mark.parametrize("example", EXAMPLES_BY_NAME)
def test_prov_n_parses_back_into_the_same_document(workflow: dict[str, Any], example: str) -> None:
    """prov (3.2 and later) parses PROV-N: what docket writes reads back as the same document."""
    from_json = ProvDocument.deserialize(content=export(workflow, example, "json").decode(), format="json")
    from_provn = ProvDocument.deserialize(content=export(workflow, example, "provn").decode(), format="provn")
    assert from_provn == from_json
    assert {str(b.identifier) for b in from_provn.bundles} == {str(b.identifier) for b in from_json.bundles}


@pytest.mark.parametrize("example", EXAMPLES_BY_NAME)
def test_turtle_and_trig_hold_the_statements_of_the_json(workflow: dict[str, Any], example: str) -> None:
    from_json = ProvDocument.deserialize(content=export(workflow, example, "json").decode(), format="json")
    expected = as_dataset(serialize(from_json, "trig"), "trig")
    trig = as_dataset(export(workflow, example, "trig"), "trig")
    ttl = as_dataset(export(workflow, example, "ttl"), "turtle")
    assert isomorphic(triples(trig), triples(expected))
    assert isomorphic(triples(ttl), triples(expected))
    # one named graph per bundle, named by the bundle's IRI
    graphs = {str(g.identifier) for g in trig.graphs() if len(g)} - {str(trig.default_graph.identifier)}
    assert graphs == {str(b.identifier.uri) for b in from_json.bundles}
    # and every identifier of the JSON is a node of the graph, by the same IRI
    nodes = {str(s) for s in triples(ttl).subjects() if isinstance(s, URIRef)}
    prefixes = {**json.loads(export(workflow, example, "json")).get("prefix", {})}
    for bundle in json.loads(export(workflow, example, "json"))["bundle"].values():
        prefixes.update(bundle.get("prefix", {}))
    for ident in identifiers_in(json.loads(export(workflow, example, "json"))):
        prefix, _, local = ident.partition(":")
        assert prefixes[prefix] + local in nodes, ident


def test_identifiers_expand_to_the_documented_iris(workflow: dict[str, Any]) -> None:
    """The IRIs docs/prov-templates.md promises: the request's hierarchy below the base URI."""
    request_id = workflow["ids"]["ctd-multilingual"]
    d = docket.open(workflow["instance"])
    try:
        doc = d.prov(request_id)
        uris = {str(r.identifier.uri) for b in doc.bundles for r in b.get_records() if r.identifier}
        uris |= {str(b.identifier.uri) for b in doc.bundles}
    finally:
        d.close()
    for path in ("{r}.1", "{r}.2", "{r}/request/1/activity", "{r}/request/2/bundle", "{r}/review/1/decision",
                 "{r}/transfer/1/activity", "{r}/qa/1/report", "{r}/qa/1/parameters",
                 "{r}/transfer/1/file/ctd_bay_of_biscay_2024.csv",
                 "{r}/transfer/1/source/ctd_bay_of_biscay_2024.csv", "schema/1.0/request"):
        assert BASE + path.format(r=request_id) in uris, path
    assert not [u for u in uris if u.startswith("https://orcid.org/")]


# ----------------------------------------------------------------------------- the scheme itself


def test_scheme_examples_and_stability() -> None:
    """The documented forms; changing any of them changes every stored and exported IRI."""
    assert ids.revision_id("ocean-0007", 2) == "docket:ocean-0007.2"
    assert ids.step_id("ocean-0007", "qa", 2) == "ocean-0007_qa_2:activity"
    assert ids.bundle_id("ocean-0007", "qa", 2) == "ocean-0007_qa_2:bundle"
    assert ids.bundle_id("ocean-0007", "qa", 2).uri(BASE) == BASE + "ocean-0007/qa/2/bundle"
    assert ids.stored_file_id("ocean-0007", 1, "a.csv") == "ocean-0007_transfer_1_file:a.csv"
    assert ids.revision_id("ocean-0007", 2).child("sha256").uri(BASE) == BASE + "ocean-0007.2/sha256"
    assert ids.software_id("docket", "0.2.0") == "software:docket-0.2.0"
    assert ids.schema_id("1.0").uri(BASE) == BASE + "schema/1.0/request"
    assert ids.person_id("Eva@Example.org ") == ids.person_id("eva@example.org") == \
        "docket:person_" + __import__("hashlib").sha256(b"eva@example.org").hexdigest()[:16]
    assert ids.person_id("x@y.org", "https://orcid.org/0000-0002-1825-0097") == ids.person_id(orcid="0000-0002-1825-0097")
    assert ids.orcid_uri("0000-0002-1825-0097") == "https://orcid.org/0000-0002-1825-0097"


@pytest.mark.parametrize("name", ["2024.csv", "_a.csv", "__a", "a b.csv", "données é.csv", "a%40b", "x4142",
                                  "_x4142", "A ", ".hidden", "-", "data.", "a/b", "名前.csv"])
def test_any_file_name_gives_a_valid_distinct_identifier(name: str) -> None:
    others = ["2024.csv", "_a.csv", "__a", "a b.csv", "données é.csv", "a%40b", "x4142", "_x4142", "A ",
              ".hidden", "-", "data.", "a/b", "名前.csv", "a.csv", "_2024.csv", "A"]
    node = ids.stored_file_id("ocean-0001", 1, name)
    assert ids.is_qname(node)  # an xs:QName, ASCII
    assert ids.decode_segment(node.local) == name
    assert ids.is_qname(node.child("sha256")) and node.child("sha256").uri(BASE) == node.uri(BASE) + "/sha256"
    assert [o for o in others if o != name and ids.stored_file_id("ocean-0001", 1, o) == node] == []
    assert re.fullmatch(r"[A-Za-z0-9._/-]+", node.uri(BASE)[len(BASE):])


def test_a_file_name_that_is_no_ncname_is_valid_in_every_format() -> None:
    doc = ProvDocument()
    qname = ids.stored_file_id("ocean-0001", 1, "2024 casts é.csv")
    checksum = qname.child("sha256")
    for q in (qname, checksum):
        doc.add_namespace(q.prefix, q.namespace(BASE))
    doc.entity(qname, {"prov:location": "file:///x"})
    doc.entity(checksum)
    assert not xml_errors(serialize(doc, "xml"))
    again = ProvDocument.deserialize(content=serialize(doc, "provn").decode(), format="provn")
    assert again == doc


def test_two_paths_whose_prefix_names_meet_get_two_prefixes() -> None:
    """``data.`` and ``data._`` make the same prefix name (one cannot end in ``.``): the bindings
    declare a second prefix rather than send both to one namespace."""
    from docket.provenance.recorder import Id, bindings_json

    a, b = (ids.stored_file_id("ocean-0001", 1, name).child("sha256") for name in ("data.", "data._"))
    assert a.prefix == b.prefix and a.uri(BASE) != b.uri(BASE)
    doc = bindings_json({"x": [Id(a), Id(b), Id(a)]}, BASE)
    expanded = set()
    for value in doc["var"]["x"]:
        prefix, _, local = value["@id"].partition(":")
        expanded.add(doc["context"][prefix] + local)
    assert expanded == {a.uri(BASE), b.uri(BASE)}


def test_identifiers_survive_pickling_for_dask_workers() -> None:
    import pickle

    node = ids.stored_file_id("ocean-0001", 1, "a b.csv").child("md5")
    again = pickle.loads(pickle.dumps(node))
    assert again == node and again.prefix == node.prefix and again.uri(BASE) == node.uri(BASE)


# ------------------------------------------------------------------------ bundles of docket 0.1


def old_instances() -> list[dict[str, Any]]:
    return json.loads((DATA / "old_prov_bundles.json").read_text(encoding="utf-8"))["instances"]


def store_at_0002_with_old_bundles(folder: Path, old: dict[str, Any], **store: str) -> None:
    """An instance whose store is at migration 0002 and holds bundles as docket 0.1 wrote them
    (``store``: ``store_url`` and ``store_schema`` for PostgreSQL)."""
    from alembic import command

    from docket.store import alembic_config

    project = next(iter(old["requests"])).rsplit("-", 1)[0]
    docket.init(folder, project=project, base_uri=old["base_uri"], **store).close()
    d = Docket.open(folder, migrate=False)
    try:
        with d.store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
            at = datetime(2026, 11, 30, tzinfo=UTC)
            for request_id, rows in old["requests"].items():
                revision = max(r["n"] for r in rows if r["step"] == "request")
                conn.execute(tables.requests.insert(), {
                    "id": request_id, "project": project, "number": int(request_id.rsplit("-", 1)[1]),
                    "revision": revision, "review_state": "approved", "title": "t", "provider": "p",
                    "steps": {}, "version": 1, "created_date": at, "last_modified_date": at})
                conn.execute(tables.prov_bundles.insert(), [
                    {**{k: r[k] for k in ("step", "n", "bundle_id", "template", "template_digest",
                                          "bundle", "bindings")},
                     "request_id": request_id, "created_date": at} for r in rows])
    finally:
        d.close()


def upgrade_and_readmit_the_admin(folder: Path) -> None:
    """``docket db upgrade`` of a store taken back to 0002, before accounts existed: the upgrade
    makes the admin ``docket init`` would have made and writes its key file again, so the OS user
    who owns the instance keeps acting as its admin."""
    result = docket_cli("db", "upgrade", "--json", instance=folder)
    assert result.code == 0, result.err
    assert docket_cli("user", "list", instance=folder).code == 0


def test_an_instance_upgraded_from_before_accounts_can_be_used(tmp_path: Path) -> None:
    """An instance made before accounts (no keys/ folder, no accounts) is upgraded; its data manager,
    the OS user who owns it, must still be able to use it (an admin made, as ``docket init`` does)."""
    import shutil

    folder = tmp_path / "inst"
    store_at_0002_with_old_bundles(folder, old_instances()[0])
    shutil.rmtree(folder / "keys")  # docket before accounts wrote none
    assert docket_cli("db", "upgrade", instance=folder).code == 0
    listed = docket_cli("list", instance=folder)
    assert listed.code == 0, listed.err
    assert oct((folder / "keys" / "admin.key").stat().st_mode & 0o777) == "0o600"


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for i, old in enumerate(old_instances()):
        folder = tmp_path_factory.mktemp(f"old{i}") / "inst"
        store_at_0002_with_old_bundles(folder, old)
        with Docket.open(folder, migrate=False) as d:
            assert d.store.current() == "0002"
        upgrade_and_readmit_the_admin(folder)
        out.append((folder, old))
    return out


def test_old_bundles_fail_the_schema_before_the_upgrade() -> None:
    """The fixture is what docket 0.1 wrote: its XML is invalid, so the tests below mean something."""
    old = old_instances()[0]
    rows = next(iter(old["requests"].values()))
    doc = ProvDocument()
    for row in rows:
        part = ProvDocument.deserialize(content=json.dumps(row["bundle"]), format="json")
        for b in part.bundles:
            doc.add_bundle(b)
    assert any("xs:QName" in e for e in xml_errors(serialize(doc, "xml")))


def test_upgrade_renames_every_stored_identifier_and_audits_it(upgraded) -> None:
    for folder, old in upgraded:
        with docket.open(folder) as d:
            with d.store.connect() as conn:
                audit = conn.execute(select(tables.audit_log).where(
                    tables.audit_log.c.action == "migrate:prov-identifiers")).all()
            assert len(audit) == 1
            detail = audit[0].detail if isinstance(audit[0].detail, dict) else json.loads(audit[0].detail)
            assert detail["bundles"] == sum(len(rows) for rows in old["requests"].values())
            for request_id, rows in old["requests"].items():
                stored = d.prov_bundles(request_id)
                assert [r["bundle_id"] for r in stored] == [ids.bundle_id(request_id, r["step"], r["n"]) for r in rows]
                for row in stored:
                    found = set(identifiers_in(row["bundle"]))
                    assert all(ids.is_qname(i) for i in found), sorted(i for i in found if not ids.is_qname(i))
                    bound = [v["@id"] for vs in row["bindings"]["var"].values() for v in vs
                             if isinstance(v, dict) and "@id" in v]
                    assert all(ids.is_qname(i) for i in bound), bound
                    assert set(row["bindings"]["context"]) >= {i.partition(":")[0] for i in bound}


def test_upgraded_documents_are_valid_in_every_format(upgraded) -> None:
    for folder, old in upgraded:
        for request_id in old["requests"]:
            out = {fmt: docket_cli("prov", request_id, "--format", fmt, instance=folder) for fmt in FORMATS}
            assert all(r.code == 0 for r in out.values()), {f: r.err for f, r in out.items() if r.code}
            assert not xml_errors(out["xml"].out.encode()), xml_errors(out["xml"].out.encode())[:5]
            assert not json_errors(out["json"].out.encode(), "prov-json.schema.json")
            assert not json_errors(out["jsonld"].out.encode(), "prov-jsonld.schema.json")
            from_json = ProvDocument.deserialize(content=out["json"].out, format="json")
            assert ProvDocument.deserialize(content=out["provn"].out, format="provn") == from_json
            expected = triples(as_dataset(serialize(from_json, "trig"), "trig"))
            assert isomorphic(triples(as_dataset(out["trig"].out.encode(), "trig")), expected)


def test_upgrade_keeps_the_orcid_and_names_people_as_new_docket_does(upgraded) -> None:
    folder, old = upgraded[1]  # a provider with '+' in the e-mail, an operator with an ORCID
    request_id = next(iter(old["requests"]))
    with docket.open(folder) as d:
        text = d.export_prov(request_id, "provn").decode()
    assert '"https://orcid.org/0000-0002-9079-593X" %% xsd:anyURI' in text
    assert f"agent({ids.person_id(orcid='0000-0002-9079-593X')}," in text
    assert f"agent({ids.person_id('Jo.Bloggs+data@example.org')}," in text
    assert f"agent({ids.person_id(name='Eva')}," in text
    assert f"{ids.stored_file_id(request_id, 1, '2024 casts é.csv')}" in text
    assert "orcid:" not in text and "%40" not in text


def test_kept_bindings_still_expand_the_template_of_the_time(upgraded) -> None:
    """Bundle and bindings were renamed together: expanding the template the row was made with
    (docket 0.1's, kept in tests/data) with the migrated bindings gives the migrated bundle, but
    for the ORCID attribute the migration added to ORCID-keyed people."""
    from docket.provenance.template import Bindings, expand, load_template

    templates = DATA / "prov_templates_0.1"
    checked = 0
    for folder, old in upgraded:
        with docket.open(folder) as d:
            for request_id in old["requests"]:
                for row in d.prov_bundles(request_id):
                    template = load_template(templates / f"{row['template']}.json")
                    again = expand(template, Bindings.from_json(row["bindings"])).document
                    stored = json.loads(json.dumps(row["bundle"]))
                    for bundle in stored["bundle"].values():
                        for agent in bundle.get("agent", {}).values():
                            agent.pop(ids.ORCID_ATTRIBUTE, None)
                    assert again == ProvDocument.deserialize(content=json.dumps(stored), format="json"), row["bundle_id"]
                    checked += 1
    assert checked == sum(len(rows) for _, old in upgraded for rows in old["requests"].values())


def test_doctor_finds_no_prov_error_after_the_upgrade(upgraded) -> None:
    for folder, _ in upgraded:
        with docket.open(folder) as d:
            report = d.doctor(only=["prov.bundles"])
        errors = [f for f in report.findings if f.severity == "error" and "history" not in f.what]
        assert not errors, [f.what for f in errors]


@pytest.mark.postgres
def test_upgrade_on_postgresql(tmp_path: Path, pg_schema: str) -> None:
    """The same migration on PostgreSQL, whose JSON columns hand back parsed values."""
    from tests.conftest import PG_URL

    old = old_instances()[0]
    folder = tmp_path / "inst"
    store_at_0002_with_old_bundles(folder, old, store_url=PG_URL, store_schema=pg_schema)
    upgrade_and_readmit_the_admin(folder)
    for request_id in old["requests"]:
        result = docket_cli("prov", request_id, "--format", "xml", instance=folder)
        assert result.code == 0 and not xml_errors(result.out.encode()), result.err
        with docket.open(folder) as d:
            assert [r["bundle_id"] for r in d.prov_bundles(request_id)] == [
                ids.bundle_id(request_id, r["step"], r["n"]) for r in old["requests"][request_id]]


def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    mig = _import_0003()
    old = old_instances()[0]
    for row in next(iter(old["requests"].values())):
        once = mig.upgrade_row(row["bundle_id"], row["bundle"], row["bindings"])
        twice = mig.upgrade_row(*once[:3])
        assert twice[:3] == once[:3] and twice[3] == 0


def _import_0003():
    import importlib.util

    from docket.store import MIGRATIONS

    spec = importlib.util.spec_from_file_location("m0003", MIGRATIONS / "versions" / "0003_prov_identifiers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
