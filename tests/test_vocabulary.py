"""docket's vocabulary: every term its PROV writes is defined, state sits on the node that made it,
and generations, usages and activities carry the real times and IRI locations.

The full workflow (submission, rejection, revision, approval, transfer, a papermill QA run,
publication and archiving) runs once for the module; the tests read what it recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rdflib
from prov.constants import (
    PROV_ATTRIBUTES,
    PROV_LABEL,
    PROV_LOCATION,
    PROV_ROLE,
    PROV_TYPE,
    PROV_VALUE,
)
from prov.identifier import Identifier, QualifiedName
from prov.model import (
    ProvActivity,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)
from rdflib import namespace as ns

import docket
import docket.api as docket_api
from docket.provenance import identifiers as ids
from docket.provenance.export import deserialize
from docket.provenance.recorder import Id, Uri
from docket.provenance.terms import (
    checksum_hex,
    checksum_id,
    location_iri,
    media_type_iri,
    source_iri,
)
from docket.resources import data_dir, vocabulary_path
from tests.people import as_role

ROOT = Path(__file__).resolve().parents[1]

BASE = "https://data.example.org/ocean/"
DKT = rdflib.Namespace(ids.VOCAB_URI)
OLD = rdflib.Namespace(ids.OLD_VOCAB_URI)
SPDX = "http://spdx.org/rdf/terms#"

# SPDX 2.3 (spdx.org/rdf/terms): the checksum terms docket may write.
SPDX_TERMS = {"Checksum", "checksum", "checksumValue", "algorithm", "checksumAlgorithm_md5",
              "checksumAlgorithm_sha1", "checksumAlgorithm_sha256", "checksumAlgorithm_sha512"}
# PROV-DM names of PROV-N/PROV-JSON (PROV-O spells some differently: atLocation, atTime...).
PROV_DM = {str(q.uri) for q in PROV_ATTRIBUTES | {PROV_TYPE, PROV_LABEL, PROV_VALUE, PROV_LOCATION, PROV_ROLE}}

# Every term docket 0.1 wrote under https://docket.invalid/ns# (its templates and bundle notes).
OLD_TERMS = {
    "IngestRequest", "JsonSchema", "RemoteFile", "StoredFile", "ReviewDecision", "Parameters",
    "ExecutedNotebook", "QualityReport", "MetadataRecord", "PublishedDataset", "ArchivePackage",
    "Submission", "Review", "Transfer", "QaRun", "Publication", "Archiving",
    "revision", "title", "digest", "reviewState", "version", "name", "email", "fromState", "toState",
    "comment", "size", "md5", "sha256", "mediaType", "outcome", "reason", "errors", "warnings",
    "checksRun", "status", "format", "identifier", "fixity", "template", "templateDigest", "step",
}


@pytest.fixture(scope="module")
def vocabulary() -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(vocabulary_path(), format="turtle")
    return graph


def defined(graph: rdflib.Graph) -> set[str]:
    # roles (dkt:reviewer...) are individuals of prov:Role, named as values of prov:hadRole
    kinds = {ns.OWL.Class, ns.RDFS.Class, ns.OWL.DatatypeProperty, ns.OWL.ObjectProperty, ns.RDF.Property,
             ns.PROV.Role}
    return {str(s) for s, _, o in graph.triples((None, ns.RDF.type, None))
            if o in kinds and str(s).startswith(str(DKT))}


def _names(namespace: Any) -> set[str]:
    return {str(namespace[name]) for name in namespace.__annotations__}


KNOWN = (_names(ns.PROV) | PROV_DM | _names(ns.XSD) | _names(ns.RDF) | _names(ns.RDFS) | _names(ns.OWL)
         | _names(ns.DCTERMS) | _names(ns.DCAT) | _names(ns.SDO) | _names(ns.FOAF)
         | {SPDX + t for t in SPDX_TERMS})


def unknown_terms(terms: set[str], graph: rdflib.Graph) -> set[str]:
    return {t for t in terms if t not in KNOWN and t not in defined(graph)}


# --------------------------------------------------------------------------- the vocabulary file


def test_vocabulary_is_packaged_and_every_term_has_a_label_and_a_comment(vocabulary) -> None:
    assert vocabulary_path().is_file()
    force = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"][
        "wheel"]["force-include"]
    assert force.get("vocabulary") == "docket/_data/vocabulary"
    URIRef = rdflib.URIRef
    assert URIRef(ids.VOCAB_URI.rstrip("#")) in set(vocabulary.subjects(ns.RDF.type, ns.OWL.Ontology))
    terms = defined(vocabulary)
    assert len(terms) > 20
    for term in terms | {str(s) for s in vocabulary.subjects() if str(s).startswith(str(OLD))}:
        labels = list(vocabulary.objects(URIRef(term), ns.RDFS.label))
        comments = list(vocabulary.objects(URIRef(term), ns.RDFS.comment))
        assert labels and comments, f"{term} needs rdfs:label and rdfs:comment"
    assert "docket.invalid" not in ids.VOCAB_URI


def test_every_term_of_every_packaged_template_is_known(vocabulary) -> None:
    templates = sorted(data_dir("prov_templates").glob("*.json"))
    assert {t.stem for t in templates} >= {"submission", "review", "transfer", "qa-run", "publication",
                                           "archiving"}
    for path in templates:
        doc = json.loads(path.read_text())
        assert doc["prefix"]["dkt"] == ids.VOCAB_URI, path.name
        terms = set(_template_terms(doc))
        assert terms, path.name
        assert not unknown_terms(terms, vocabulary), f"{path.name}: {sorted(unknown_terms(terms, vocabulary))}"
        assert not any(t.startswith(str(OLD)) for t in terms), path.name


def _template_terms(doc: dict) -> Iterator[str]:
    """Attribute keys, prov:type values and other QName values of a template, as IRIs."""
    skip = {"var", "vargen", "tmpl"}
    for bundle in doc["bundle"].values():
        prefixes = {"prov": str(ns.PROV), "xsd": str(ns.XSD), **doc["prefix"], **bundle.get("prefix", {})}

        def iri(qname: str, prefixes: dict[str, str] = prefixes) -> str | None:
            prefix, _, local = qname.partition(":")
            return None if prefix in skip or prefix == "_" else prefixes[prefix] + local

        for kind, records in bundle.items():
            if kind == "prefix":
                continue
            for record in records.values():
                for key, value in record.items():
                    if (term := iri(key)) is not None:
                        yield term
                    for v in value if isinstance(value, list) else [value]:
                        if isinstance(v, dict) and v.get("type") == "xsd:QName" and (term := iri(v["$"])):
                            yield term


# --------------------------------------------------------------------------- the full workflow


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One request through every step; the first file is given as a bare path (not a URI)."""
    monkeypatch = pytest.MonkeyPatch()
    request_fixture = _flow(tmp_path_factory, monkeypatch)
    try:
        yield from request_fixture
    finally:
        monkeypatch.undo()


def _flow(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("vocabulary") / "inst"
    docket.init(folder, project="ocean", base_uri=BASE, local_roots=["inbox", str(ROOT / "examples")]).close()
    request = json.loads((ROOT / "examples" / "requests" / "weather-table-schema.json").read_text())
    for entry in request["files"]:
        entry["location"] = str((ROOT / "examples" / "requests" / entry["location"]).resolve())
    validated: list[dt.datetime] = []
    with docket.open(folder) as d:
        validate = d.schemas.validate

        def timed(name: str, *args: Any, **kw: Any) -> Any:  # when validation really began
            if name == "request":
                validated.append(dt.datetime.now(dt.UTC))
            return validate(name, *args, **kw)

        d.schemas.validate = timed
        # A revision is stored as a draft: checked for what it holds (docket.drafts), not for
        # what it lacks; that check, too, is validation inside the submission.
        draft_check = docket_api.validate_draft

        def timed_draft(schemas: Any, document: Any, what: str = "request") -> None:
            validated.append(dt.datetime.now(dt.UTC))
            draft_check(schemas, document, what)

        monkeypatch.setattr(docket_api, "validate_draft", timed_draft)
        reviewer = as_role(d, "reviewer", "Eva Novak", email="eva@example.org")
        manager = as_role(d, "data-manager", "Dana Data", email="dana@example.org")
        dana = manager.caller.account
        rid = d.submit(request)["id"]
        reviewer.review(rid, "rejected", comment="Please add the methods")
        doc = d.get(rid)
        d.revise(rid, {k: doc[k] for k in ("project", "provider", "metadata", "files")})
        d.as_link(d.new_link(rid)["link"]).review(rid, "submitted")  # the provider, by her link
        reviewer.review(rid, "approved", comment="Thank you")
        assert d.transfer(rid)["outcome"] == "done"
        assert d.qa(rid)["outcome"] == "done"
        manager.set_step(rid, "publication", "closed", "done", prov_values={
            "publisher": Id(ids.QName(dana.person_id)), "publisherName": dana.name,
            "publisherEmail": dana.email, "pid": "10.5072/ocean-0001",
            "metadataRecord": Id(ids.step_node(rid, "publication", 1, "metadata")),
            "metadataLocation": location_iri(folder / "published" / "datacite.xml"),
            "metadataStandard": Uri("http://datacite.org/schema/kernel-4"),
            "published": Id(ids.step_node(rid, "publication", 1, "dataset"))})
        files = [f for f in d.files(rid) if f["status"] == "stored"]
        package = ids.step_node(rid, "archive", 1, "package")
        manager.set_step(rid, "archive", "closed", "done", prov_values=lambda n: {
            "stored": [Id(ids.stored_file_id(rid, 1, f["name"])) for f in files],
            "usedTime": [dt.datetime.now(dt.UTC)] * len(files),  # read while the step runs
            "package": Id(package), "archiveLocation": Uri("https://archive.example.org/p/1"),
            "packageChecksum": checksum_id(package, "sha256"),
            "packageChecksumRef": checksum_id(package, "sha256"),
            "packageSha256": "ab" * 32, "fixity": "verified"})
        yield {"d": d, "id": rid, "prov": d.prov(rid), "trig": d.export_prov(rid, "trig"),
               "validated": validated, "files": files, "request": request}


def records(doc: ProvDocument) -> Iterator[Any]:
    yield from doc.get_records()
    for bundle in doc.bundles:
        yield from bundle.get_records()


def test_every_term_a_full_workflow_writes_is_known(flow, vocabulary) -> None:
    doc: ProvDocument = flow["prov"]
    assert {r["step"] for r in flow["d"].prov_bundles(flow["id"])} == {
        "request", "review", "transfer", "qa", "publication", "archive"}
    instance = (BASE, ids.ORCID_URI)
    terms: set[str] = set()
    for record in records(doc):
        for key, value in record.attributes:
            terms.add(str(key.uri))
            if isinstance(value, QualifiedName) and not value.uri.startswith(instance):
                terms.add(str(value.uri))  # prov:type values, spdx:algorithm values
    assert {str(DKT.ReviewDecision), SPDX + "checksum", str(ns.DCAT.byteSize)} <= terms
    assert not unknown_terms(terms, vocabulary), sorted(unknown_terms(terms, vocabulary))
    assert not any(t.startswith(str(OLD)) for t in terms)


def test_every_predicate_and_class_of_the_rdf_export_is_known(flow, vocabulary) -> None:
    """What RDF tools see (PROV-O): every predicate, and every class a node is typed with."""
    graph = rdflib.Dataset()
    graph.parse(data=flow["trig"], format="trig")
    predicates = {str(p) for _, p, _, _ in graph.quads()}
    classes = {str(o) for _, p, o, _ in graph.quads() if p == ns.RDF.type}
    assert str(ns.PROV.atLocation) in predicates and str(ns.PROV.atTime) in predicates
    assert not unknown_terms(predicates | classes, vocabulary), sorted(unknown_terms(predicates | classes, vocabulary))
    # locations are IRIs in RDF, never strings
    locations = [o for _, p, o, _ in graph.quads() if p == ns.PROV.atLocation]
    assert locations and all(isinstance(o, rdflib.URIRef) for o in locations)


def test_old_namespace_terms_map_to_terms_that_exist(vocabulary) -> None:
    mapping = {ns.OWL.equivalentClass, ns.OWL.equivalentProperty, ns.RDFS.subPropertyOf, ns.RDFS.seeAlso}
    for local in sorted(OLD_TERMS):
        term = OLD[local]
        assert (term, ns.OWL.deprecated, rdflib.Literal(True)) in vocabulary, local
        targets = [str(o) for p in mapping for o in vocabulary.objects(term, p)]
        assert targets, f"old:{local} maps to nothing"
        assert not unknown_terms(set(targets), vocabulary), (local, targets)
    assert vocabulary.value(OLD.reviewState, ns.RDFS.seeAlso) == DKT.toState
    assert vocabulary.value(OLD.sha256, ns.RDFS.seeAlso) == rdflib.URIRef(SPDX + "checksum")


# --------------------------------------------------------------------------- state on the right node


def by_type(doc: ProvDocument, kind: type, prov_type: str | None = None) -> list[Any]:
    out = [r for r in records(doc) if isinstance(r, kind)]
    if prov_type:
        out = [r for r in out if any(str(t.uri) == prov_type for t in r.get_attribute("prov:type"))]
    return out


def attrs(record: Any) -> dict[str, Any]:
    return {str(k.uri): v for k, v in record.attributes}


def values(record: Any, term: Any) -> list[Any]:
    return [v for k, v in record.attributes if str(k.uri) == str(term)]


def number(value: Any) -> int:
    """An integer attribute (prov keeps some xsd:long values as typed literals)."""
    return int(getattr(value, "value", value))


def one(record: Any, term: Any) -> Any:
    found = values(record, term)
    assert len(found) == 1, (record.identifier, term, found)
    return found[0]


def test_review_state_is_on_decisions_and_activities_never_on_the_revision(flow) -> None:
    doc = flow["prov"]
    states = {str(DKT.toState), str(DKT.fromState), str(OLD.reviewState), str(DKT.stepStatus), str(DKT.outcome)}
    for revision in by_type(doc, ProvEntity, str(DKT.IngestRequest)):
        assert not states & set(attrs(revision)), revision  # holds for its whole life: no state
    decisions = {(str(one(r, DKT.fromState)), str(one(r, DKT.toState))): r
                 for r in by_type(doc, ProvEntity, str(DKT.ReviewDecision))}
    assert set(decisions) == {("submitted", "rejected"), ("draft", "submitted"), ("submitted", "approved")}
    assert one(decisions["submitted", "rejected"], ns.RDFS.comment) == "Please add the methods"
    # each decision is generated by its review and derived from the revision it judged
    generated = {_when(g, "prov:entity"): _when(g, "prov:activity") for g in by_type(doc, ProvGeneration)}
    reviews = sorted(by_type(doc, ProvActivity, str(DKT.Review)), key=lambda a: a.get_startTime())
    for decision in decisions.values():
        assert generated[str(decision.identifier.uri)] in {str(r.identifier.uri) for r in reviews}
    submissions = sorted(by_type(doc, ProvActivity, str(DKT.Submission)), key=lambda a: a.get_startTime())
    assert [str(one(s, DKT.toState)) for s in submissions] == ["submitted", "draft"]
    assert str(one(submissions[1], DKT.fromState)) == "rejected"
    rejected, resubmitted, approved = (attrs(r) for r in reviews)
    assert (rejected[str(DKT.stepStatus)], str(DKT.outcome) in rejected) == ("action-required", False)
    assert (approved[str(DKT.stepStatus)], approved[str(DKT.outcome)]) == ("closed", "accepted")
    # the new revision reopened the review step; its resubmission does not move it again
    assert str(DKT.stepStatus) not in resubmitted
    for kind, outcome in ((DKT.Transfer, "done"), (DKT.QaRun, "done"), (DKT.Publication, "done"),
                          (DKT.Archiving, "done")):
        (activity,) = by_type(doc, ProvActivity, str(kind))
        assert (one(activity, DKT.stepStatus), one(activity, DKT.outcome)) == ("closed", outcome)
    (report,) = by_type(doc, ProvEntity, str(DKT.QualityReport))
    assert one(report, DKT.verdict) == "valid"


def test_checksums_are_spdx_checksum_entities(flow) -> None:
    doc = flow["prov"]
    checksums = {str(c.identifier.uri): c for c in by_type(doc, ProvEntity, SPDX + "Checksum")}
    stored = by_type(doc, ProvEntity, str(DKT.StoredFile))
    measured = {f["name"]: f for f in flow["files"]}
    with_sums = [s for s in stored if values(s, SPDX + "checksum")]
    assert len(with_sums) == len(measured)
    for entity in with_sums:
        name = Path(one(entity, PROV_LOCATION.uri).uri).name
        algorithms = {}
        for ref in values(entity, SPDX + "checksum"):
            checksum = checksums[str(ref.uri)]
            algorithm = str(one(checksum, rdflib.URIRef(SPDX + "algorithm")).uri)
            algorithms[algorithm.rsplit("_", 1)[1]] = one(checksum, rdflib.URIRef(SPDX + "checksumValue"))
        assert algorithms == {"md5": measured[name]["md5"], "sha256": checksum_hex(measured[name]["sha256"])}
        assert str(one(entity, ns.DCAT.mediaType).uri) == "https://www.iana.org/assignments/media-types/text/csv"
        assert number(one(entity, ns.DCAT.byteSize)) == measured[name]["size"]
    (revision,) = [r for r in by_type(doc, ProvEntity, str(DKT.IngestRequest)) if values(r, SPDX + "checksum")
                   and number(one(r, DKT.revision)) == 1]
    digest = checksums[str(one(revision, rdflib.URIRef(SPDX + "checksum")).uri)]
    assert len(one(digest, rdflib.URIRef(SPDX + "checksumValue"))) == 64


# --------------------------------------------------------------------------- times and locations


def _when(relation: Any, what: str) -> str:
    return str(relation.get_attribute(what).pop().uri)


def test_generations_and_usages_have_times_within_their_activity(flow) -> None:
    doc = flow["prov"]
    activities = {str(a.identifier.uri): a for a in by_type(doc, ProvActivity)}
    relations = by_type(doc, ProvGeneration) + by_type(doc, ProvUsage)
    assert len(relations) > 20
    for relation in relations:
        time = relation.get_attribute("prov:time")
        assert time, f"{relation} has no time"
        activity = activities[_when(relation, "prov:activity")]
        start, end = activity.get_startTime(), activity.get_endTime()
        assert start <= next(iter(time)) <= end, (str(relation), start, end)
    for activity in activities.values():
        assert activity.get_startTime() < activity.get_endTime(), activity  # not start == end


def test_submission_starts_before_validation_and_ends_at_the_commit(flow) -> None:
    doc = flow["prov"]
    submissions = sorted(by_type(doc, ProvActivity, str(DKT.Submission)), key=lambda a: a.get_startTime())
    assert len(flow["validated"]) == len(submissions) == 2
    for activity, validated in zip(submissions, flow["validated"], strict=True):
        assert activity.get_startTime() < validated < activity.get_endTime()
        uses = [u for u in by_type(doc, ProvUsage) if _when(u, "prov:activity") == str(activity.identifier.uri)]
        (schema_use,) = uses
        assert activity.get_startTime() < next(iter(schema_use.get_attribute("prov:time"))) <= validated
    # the revision is committed after its submission ended, and the history says when
    history = [h for h in flow["d"].history(flow["id"]) if h["kind"] == "review"]
    first = dt.datetime.fromisoformat(history[0]["at"])
    assert submissions[0].get_startTime() < first < submissions[0].get_endTime()


def test_transfer_times_are_per_file_and_qa_starts_with_papermill(flow) -> None:
    doc = flow["prov"]
    (transfer,) = by_type(doc, ProvActivity, str(DKT.Transfer))
    uses = {_when(u, "prov:entity"): next(iter(u.get_attribute("prov:time")))
            for u in by_type(doc, ProvUsage) if _when(u, "prov:activity") == str(transfer.identifier.uri)}
    made = {_when(g, "prov:entity"): next(iter(g.get_attribute("prov:time")))
            for g in by_type(doc, ProvGeneration) if _when(g, "prov:activity") == str(transfer.identifier.uri)}
    assert len(made) == len(flow["files"])
    derived = {_when(r, "prov:generatedEntity"): _when(r, "prov:usedEntity")
               for r in by_type(doc, ProvDerivation)}
    for file, stored in made.items():
        source = derived[file]
        assert transfer.get_startTime() <= uses[source] < stored <= transfer.get_endTime()
    (qa,) = by_type(doc, ProvActivity, str(DKT.QaRun))
    generated = [next(iter(g.get_attribute("prov:time"))) for g in by_type(doc, ProvGeneration)
                 if _when(g, "prov:activity") == str(qa.identifier.uri)]
    assert len(generated) == 2
    # papermill ran between the start and the generation of its outputs: seconds, not microseconds
    assert min(generated) - qa.get_startTime() > dt.timedelta(seconds=0.5)


def test_locations_are_iris(flow) -> None:
    doc = flow["prov"]
    located = [r for r in records(doc) if r.get_attribute("prov:location")]
    assert len(located) >= 7  # source, stored file, plan, executed notebook, report, metadata, package
    for record in located:
        (value,) = record.get_attribute("prov:location")
        assert isinstance(value, Identifier) and not isinstance(value, QualifiedName), (record, value)
        assert value.uri.startswith(("file:///", "https://")), value
    stored = {next(iter(r.get_attribute("prov:location"))).uri
              for r in by_type(doc, ProvEntity, str(DKT.StoredFile)) if r.get_attribute("prov:location")}
    assert stored == {Path(f["location"]).as_uri() for f in flow["files"]}
    sources = by_type(doc, ProvEntity, str(DKT.SourceFile))
    given = {Path(e["location"]).as_uri() for e in flow["request"]["files"]}
    assert {next(iter(s.get_attribute("prov:location"))).uri for s in sources} == given


def test_location_and_media_type_iris() -> None:
    assert location_iri("https://alice@data.example.org/a b.csv").uri == "https://alice@data.example.org/a b.csv"
    assert location_iri("file:///inbox/a.csv").uri == "file:///inbox/a.csv"
    assert location_iri(Path("/inbox/a b.csv")).uri == "file:///inbox/a%20b.csv"
    assert location_iri("/inbox/ü.csv").uri == "file:///inbox/%C3%BC.csv"
    assert location_iri("relative.csv").uri == (Path.cwd() / "relative.csv").as_uri()
    assert media_type_iri("text/csv; charset=utf-8").uri == "https://www.iana.org/assignments/media-types/text/csv"
    assert checksum_hex("sha256:ABCD") == "abcd"
    assert source_iri("https://alice@data.example.org/x.csv", "https://cdn.example.org/x.csv").uri == \
        "https://alice@data.example.org/x.csv"  # as given, not where a redirect went
    assert source_iri("/inbox/x.csv", "/srv/real/inbox/x.csv").uri == "file:///inbox/x.csv"
    assert source_iri("x.csv", "/srv/inbox/x.csv").uri == "file:///srv/inbox/x.csv"


def test_an_old_bundle_keeps_its_iris_beside_new_ones(flow) -> None:
    """A 0.1 bundle (old namespace under the same dkt prefix) still reads, with its own IRIs."""
    from docket.provenance.document import assemble

    rows = flow["d"].prov_bundles(flow["id"])
    old = json.loads(json.dumps(rows[0]["bundle"]).replace(ids.VOCAB_URI, ids.OLD_VOCAB_URI))
    doc = assemble([{**rows[0], "bundle": old}, *rows[1:]], BASE)
    back = deserialize(doc.serialize(format="json").encode(), "json")
    types = {str(t.uri) for r in records(back) for t in r.get_attribute("prov:type")}
    assert str(OLD.IngestRequest) in types and str(DKT.IngestRequest) in types
