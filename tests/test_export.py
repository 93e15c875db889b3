"""PROV export formats: every readable format gives back the records it was given, bundles too.

The document is shaped like a real request's provenance: a submission bundle (the provider,
identified by ORCID, with the submission plan; the docket software agent with its version; the
form file with its checksum) and a transfer bundle that uses the request made by the first.
"""

from __future__ import annotations

import collections
import datetime as dt
import stat
import sys
import sysconfig
import textwrap
from pathlib import Path

import defusedxml.ElementTree as safe_et
import pytest
import rdflib
from prov.identifier import QualifiedName
from prov.model import PROV, XSD, XSD_LONG, Literal, ProvDocument

from docket.errors import BadInput, NotFound
from docket.provenance import export

BASE = "https://data.example.org/docket/"
T0 = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)
READABLE = ["json", "provn", "xml", "trig", "jsonld"]


def request_document() -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("docket", BASE)
    doc.add_namespace("orcid", "https://orcid.org/")
    t1, t2 = T0 + dt.timedelta(minutes=3), T0 + dt.timedelta(minutes=4)

    sub = doc.bundle("docket:ocean-0007/bundle/submission/1")
    submission = sub.activity(
        "docket:ocean-0007/submission/1", T0, t1, {"prov:label": "submission"}
    )
    provider = sub.agent(
        "orcid:0000-0002-1825-0097",
        {"prov:type": PROV["Person"], "prov:label": "Josiah Carberry"},
    )
    software = sub.agent(
        "docket:software/docket",
        {"prov:type": PROV["SoftwareAgent"], "docket:version": "0.1.0"},
    )
    plan = sub.entity(
        "docket:plan/submission", {"prov:type": PROV["Plan"], "prov:label": "submission plan"}
    )
    form = sub.entity(
        "docket:ocean-0007/file/form.json",
        {
            "prov:label": "form.json",
            "docket:sha256": "ab" * 32,
            "docket:size": 1234,
            "docket:mediaType": "application/json",
            "docket:receivedAt": T0,
        },
    )
    request = sub.entity(
        "docket:ocean-0007/request/1",
        {"prov:label": Literal("Ocean CTD casts 2023", langtag="en"), "docket:revision": 1},
    )
    sub.used(submission, form, T0)
    sub.wasGeneratedBy(request, submission, t1)
    sub.wasDerivedFrom(request, form)
    sub.wasAssociatedWith(submission, provider, plan)
    sub.wasAssociatedWith(submission, software)
    sub.wasAttributedTo(request, provider)

    tr = doc.bundle("docket:ocean-0007/bundle/transfer/1")
    transfer = tr.activity("docket:ocean-0007/transfer/1", t1, t2, {"prov:label": "transfer"})
    data = tr.entity(
        "docket:ocean-0007/file/ctd.csv",
        {
            "prov:label": "ctd.csv",
            "docket:sha256": "cd" * 32,
            "docket:size": Literal(98_765_432_100, XSD_LONG),
            "docket:rows": 1500,
            "docket:completeness": 0.98,
            "docket:utf8": True,
            "docket:transferTime": Literal("PT40S", XSD["duration"]),
        },
    )
    tr.used(transfer, "docket:ocean-0007/request/1", t1)
    tr.wasGeneratedBy(data, transfer, t2)
    tr.wasAssociatedWith(transfer, "docket:software/docket")
    tr.wasDerivedFrom(data, "docket:ocean-0007/request/1")

    # The document itself says what its bundles are, as docket's store does.
    doc.entity("docket:ocean-0007/bundle/submission/1", {"prov:type": PROV["Bundle"]})
    doc.entity("docket:ocean-0007/bundle/transfer/1", {"prov:type": PROV["Bundle"]})
    return doc


def counts(bundle) -> collections.Counter:
    return collections.Counter(type(r).__name__ for r in bundle.get_records())


def by_bundle(doc: ProvDocument) -> dict[str, collections.Counter]:
    return {str(b.identifier.uri): counts(b) for b in doc.bundles}


@pytest.fixture(scope="module")
def doc() -> ProvDocument:
    return request_document()


def test_formats_are_registered_by_name():
    assert {"json", "provn", "xml", "ttl", "trig", "jsonld", "dot", "svg"} <= set(export.FORMATS)
    assert export.get("json").readable and not export.get("svg").readable


@pytest.mark.parametrize("fmt", READABLE)
def test_round_trip_keeps_every_record_and_bundle(doc, fmt):
    data = export.serialize(doc, fmt)
    assert isinstance(data, bytes) and data

    back = export.deserialize(data, fmt)

    assert back == doc
    assert by_bundle(back) == by_bundle(doc)
    assert counts(back) == counts(doc)
    assert counts(doc)["ProvAssociation"] == 0  # records live in the bundles, not at top level


@pytest.mark.parametrize("fmt", READABLE + ["ttl"])
def test_round_trip_keeps_typed_values_times_and_namespaces(doc, fmt):
    back = export.deserialize(export.serialize(doc, fmt), fmt)
    records = {str(r.identifier): r for r in back.flattened().get_records() if r.identifier}

    ctd = records["docket:ocean-0007/file/ctd.csv"]
    values = {str(k): v for k, v in ctd.attributes}
    assert values["docket:rows"] == 1500
    assert values["docket:completeness"] == pytest.approx(0.98)
    assert values["docket:utf8"] is True
    assert values["docket:size"] == 98_765_432_100  # prov reads xsd:long as int
    assert values["docket:transferTime"] == Literal("PT40S", XSD["duration"])
    form = {str(k): v for k, v in records["docket:ocean-0007/file/form.json"].attributes}
    assert form["docket:receivedAt"] == T0
    submission = records["docket:ocean-0007/submission/1"]
    assert (submission.get_startTime(), submission.get_endTime()) == (
        T0,
        T0 + dt.timedelta(minutes=3),
    )
    # The prefixes a reader sees are the document's own (not rdflib's two dozen defaults).
    prefixes = {ns.prefix for b in [back, *back.bundles] for ns in b.namespaces}
    assert {"docket", "orcid"} <= prefixes
    assert not prefixes & {"brick", "schema", "foaf", "sosa"}


def test_rdf_keeps_both_associations_of_the_submission(doc):
    """The provider (with the plan) and the software agent both stay associated.

    prov 3.2.3 alone folds the plain wasAssociatedWith onto the qualified one on decode.
    """
    for fmt in ("ttl", "trig"):
        back = export.deserialize(export.serialize(doc, fmt), fmt)
        agents = {
            (str(a.get_attribute("prov:agent").pop()), str(a.get_attribute("prov:plan") or "-"))
            for a in back.flattened().get_records()
            if type(a).__name__ == "ProvAssociation"
            and "submission" in str(a.get_attribute("prov:activity"))
        }
        assert agents == {
            ("orcid:0000-0002-1825-0097", "{<QualifiedName: docket:plan/submission>}"),
            ("docket:software/docket", "-"),
        }, fmt


def test_turtle_is_prov_o_with_bundles_merged(doc):
    data = export.serialize(doc, "ttl")
    graph = rdflib.Graph().parse(data=data, format="turtle")
    prov_ns = rdflib.Namespace("http://www.w3.org/ns/prov#")
    provider = rdflib.URIRef("https://orcid.org/0000-0002-1825-0097")
    assert (provider, rdflib.RDF.type, prov_ns.Person) in graph
    assert (rdflib.URIRef(BASE + "ocean-0007/transfer/1"), rdflib.RDF.type, prov_ns.Activity) in (
        graph
    )

    back = export.deserialize(data, "ttl")
    assert not list(back.bundles)
    assert back == doc.flattened()


def test_provn_is_readable_text(doc):
    text = export.serialize(doc, "provn").decode("utf-8")
    assert text.startswith("document")
    assert "bundle docket:ocean-0007/bundle/transfer/1" in text
    assert (
        "wasAssociatedWith(docket:ocean-0007/submission/1, orcid:0000-0002-1825-0097, docket:plan/submission)"
        in text
    )


def test_dot_draws_each_bundle_as_a_labelled_cluster(doc):
    text = export.serialize(doc, "dot").decode("utf-8")
    assert text.startswith("digraph")
    assert text.count("subgraph cluster_") == 2
    assert 'label="docket:ocean-0007/bundle/submission/1"' in text
    assert 'label="docket:ocean-0007/bundle/transfer/1"' in text
    assert "Josiah Carberry" in text  # labels, not only ORCIDs
    # An element without a label shows its identifier once, not twice.
    assert 'label="docket:ocean-0007/transfer/1"' not in text  # it has a label
    assert "<docket:software/docket<br />" not in text
    assert 'label="docket:software/docket"' in text


def test_svg_is_well_formed_and_names_the_nodes(doc):
    data = export.serialize(doc, "svg")
    root = safe_et.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for label in (
        "Josiah Carberry",
        "submission",
        "transfer",
        "ctd.csv",
        "form.json",
        "docket:software/docket",
        "docket:ocean-0007/bundle/submission/1",
        "docket:ocean-0007/bundle/transfer/1",
    ):
        assert label in texts, label


def test_svg_renderer_is_the_wheel_shipped_one():
    """The venv's graphviz-pure wins, so no system Graphviz is needed."""
    shipped = Path(sysconfig.get_path("scripts")) / "graphviz-pure"
    assert shipped.is_file(), "graphviz-pure (a dependency of docket) is not installed"
    assert export.find_renderer() == shipped


def _script(path, body: str):
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_svg_renderer_failure_is_a_docket_error(doc, tmp_path):
    broken = _script(
        tmp_path / "broken-dot",
        """
        import sys
        sys.stdin.read()
        print("Error: <stdin>: syntax error in line 3", file=sys.stderr)
        sys.exit(1)
        """,
    )
    with pytest.raises(export.RenderFailed) as info:
        export.serialize(doc, "svg", renderer=str(broken))
    assert "exited with code 1" in info.value.message
    assert "syntax error in line 3" in info.value.message

    with pytest.raises(export.RenderFailed, match="could not run"):
        export.serialize(doc, "svg", renderer=str(tmp_path / "missing-dot"))


def test_unknown_format_is_not_found_with_exit_code_2(doc):
    with pytest.raises(NotFound) as info:
        export.serialize(doc, "pdf")
    assert info.value.exit_code == 2
    assert "'pdf'" in info.value.message
    for name in ("json", "provn", "xml", "ttl", "svg"):
        assert name in info.value.message
    with pytest.raises(NotFound):
        export.deserialize(b"{}", "pdf")


def test_pictures_cannot_be_read_back():
    with pytest.raises(BadInput, match="export-only"):
        export.deserialize(b"<svg/>", "svg")


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("json", b"{not json"),
        ("xml", b"<prov:document xmlns:prov='http://www.w3.org/ns/prov#'>"),
        ("provn", b"document\n  entity(\nendDocument"),
        ("ttl", b"<a> <b> ."),
    ],
)
def test_malformed_input_is_bad_input_naming_the_format(fmt, data):
    with pytest.raises(BadInput) as info:
        export.deserialize(data, fmt)
    assert export.get(fmt).title in info.value.message


def test_xml_with_entity_declarations_is_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<prov:document xmlns:prov="http://www.w3.org/ns/prov#">&b;</prov:document>"""
    with pytest.raises(BadInput, match="refused"):
        export.deserialize(bomb, "xml")


@pytest.fixture
def registry_snapshot():
    saved = dict(export._REGISTRY)
    yield
    export._REGISTRY.clear()
    export._REGISTRY.update(saved)


def test_a_new_format_is_one_register_call(doc, registry_snapshot):
    class Identifiers(export.Serializer):
        """One identifier a line: a format a data centre might add for a mailing."""

        title = "identifier list"
        extension = "txt"

        def serialize(self, document, **options):
            ids = sorted(
                str(r.identifier)
                for r in document.flattened().get_records()
                if r.identifier and r.is_element()
            )
            return "\n".join(ids).encode()

    export.register("ids", Identifiers)
    assert "ids" in export.FORMATS
    assert b"orcid:0000-0002-1825-0097" in export.serialize(doc, "ids")
    with pytest.raises(TypeError):
        export.register("bad", dict)  # type: ignore[arg-type]


def test_prov_attribute_names_are_qualified_names(doc):
    """Guard for the tests above: the document really uses the namespaces they check."""
    ids = {r.identifier for r in doc.flattened().get_records() if r.identifier}
    assert all(isinstance(i, QualifiedName) for i in ids)
    assert {i.namespace.prefix for i in ids} == {"docket", "orcid"}
