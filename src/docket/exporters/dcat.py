"""DCAT 3 (W3C Data Catalog Vocabulary) as RDF through rdflib, Turtle by default.

The dataset is the instance's persistent URL; titles and descriptions are literals tagged with
their language; each file is a ``dcat:Distribution`` with its byte size, IANA media type and
SPDX checksums (SHA-256 and MD5, as DCAT-AP does), reached through the landing page (docket does
not publish the provider's own file locations). The graph is validated with pyshacl against
``dcat.shapes.ttl`` (DCAT-AP's mandatory properties plus what docket always writes); without
pyshacl the export says it was not validated.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from docket.errors import BadInput, Problem
from docket.exporters.neutral import Dataset, Person
from docket.exporters.registry import Exporter, register
from docket.exporters.settings import ExportSettings

SHAPES = Path(__file__).resolve().parent / "dcat.shapes.ttl"
_shapes: Any = None
_lock = threading.Lock()


def to_graph(d: Dataset) -> Any:
    from rdflib import BNode, Graph, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

    VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
    SPDX = Namespace("http://spdx.org/rdf/terms#")
    LOCN = Namespace("http://www.w3.org/ns/locn#")
    GSP = Namespace("http://www.opengis.net/ont/geosparql#")
    g = Graph(bind_namespaces="core")
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("vcard", VCARD),
                       ("spdx", SPDX), ("locn", LOCN), ("gsp", GSP)):
        g.bind(prefix, ns)
    ds = URIRef(d.url)
    g.add((ds, RDF.type, DCAT.Dataset))
    for lang, text in d.title.items():
        g.add((ds, DCTERMS.title, Literal(text, lang=lang)))
    for lang, text in d.abstract.items():
        g.add((ds, DCTERMS.description, Literal(text, lang=lang)))
    g.add((ds, DCTERMS.identifier, Literal(d.ref)))
    if d.doi:
        g.add((ds, DCTERMS.identifier, Literal(f"https://doi.org/{d.doi}")))
    g.add((ds, DCAT.landingPage, URIRef(d.url)))
    g.add((ds, URIRef(str(DCAT) + "version"), Literal(str(d.revision))))  # DCAT 3; not in rdflib's closed DCAT
    g.add((ds, DCTERMS.issued, Literal(d.published, datatype=XSD.date)))
    g.add((ds, DCTERMS.modified, Literal(d.modified, datatype=XSD.date)))
    for lang in d.languages:
        g.add((ds, DCTERMS.language, Literal(lang, datatype=DCTERMS.RFC5646)))
    for k in d.keywords:
        g.add((ds, DCAT.keyword, Literal(k)))
    g.add((ds, DCTERMS.license, URIRef(d.licence_url)))
    if d.access_rights:
        g.add((ds, DCTERMS.accessRights, Literal(d.access_rights)))

    def agent(p: Person) -> Any:
        node = URIRef(p.orcid_uri) if p.orcid_uri else BNode()
        g.add((node, RDF.type, FOAF.Person))
        g.add((node, RDF.type, FOAF.Agent))
        g.add((node, FOAF.name, Literal(p.name)))
        if p.email:
            g.add((node, FOAF.mbox, URIRef(f"mailto:{p.email}")))
        return node

    for p in d.creators:
        g.add((ds, DCTERMS.creator, agent(p)))
    contact = BNode()
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Literal(d.contact.name)))
    if d.contact.email:
        g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{d.contact.email}")))
    g.add((ds, DCAT.contactPoint, contact))
    if d.publisher:
        pub = BNode()
        g.add((pub, RDF.type, FOAF.Organization))
        g.add((pub, RDF.type, FOAF.Agent))
        g.add((pub, FOAF.name, Literal(d.publisher)))
        g.add((ds, DCTERMS.publisher, pub))
    if d.temporal:
        period = BNode()
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        g.add((period, DCAT.startDate, Literal(d.temporal[0], datatype=XSD.date)))
        g.add((period, DCAT.endDate, Literal(d.temporal[1], datatype=XSD.date)))
        g.add((ds, DCTERMS.temporal, period))
    if d.bbox or d.place:
        loc = BNode()
        g.add((loc, RDF.type, DCTERMS.Location))
        if d.place:
            g.add((loc, LOCN.geographicName, Literal(d.place)))
        if d.bbox:
            w, s, e, n = d.bbox
            wkt = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
            g.add((loc, DCAT.bbox, Literal(wkt, datatype=GSP.wktLiteral)))
        g.add((ds, DCTERMS.spatial, loc))
    for n, f in enumerate(d.files, start=1):
        dist = URIRef(f"{d.url}#file-{n}")
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(f.name)))
        g.add((dist, DCAT.accessURL, URIRef(d.url)))
        g.add((dist, DCTERMS.license, URIRef(d.licence_url)))
        if f.size is not None:
            g.add((dist, DCAT.byteSize, Literal(f.size, datatype=XSD.nonNegativeInteger)))
        if f.media_type:
            g.add((dist, DCAT.mediaType, URIRef(f"https://www.iana.org/assignments/media-types/{f.media_type}")))
        for algorithm, value in (("sha256", f.sha256), ("md5", f.md5)):
            if value:
                ck = BNode()
                g.add((ck, RDF.type, SPDX.Checksum))
                g.add((ck, SPDX.algorithm, SPDX[f"checksumAlgorithm_{algorithm}"]))
                g.add((ck, SPDX.checksumValue, Literal(value, datatype=XSD.hexBinary)))
                g.add((dist, SPDX.checksum, ck))
        g.add((ds, DCAT.distribution, dist))
    return g


def _shapes_graph() -> Any:
    global _shapes
    with _lock:
        if _shapes is None:
            from rdflib import Graph

            _shapes = Graph().parse(SHAPES, format="turtle")
    return _shapes


def check_graph(graph: Any) -> str | None:
    """Validate ``graph`` against docket's DCAT shapes; BadInput names each focus node, path and rule."""
    try:
        import pyshacl
    except ImportError:
        return "not validated: pyshacl is not installed (the dcat export's SHACL shapes need it)"
    from rdflib import Namespace

    SH = Namespace("http://www.w3.org/ns/shacl#")
    # inplace: the graph is the caller's own parse of the document, not worth a copy
    conforms, report, _ = pyshacl.validate(graph, shacl_graph=_shapes_graph(), inference="none",
                                           advanced=False, meta_shacl=False, inplace=True)
    if conforms:
        return None
    problems = []
    for result in report.subjects(SH.resultSeverity, SH.Violation):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        rule = report.value(result, SH.sourceConstraintComponent)
        message = report.value(result, SH.resultMessage)
        problems.append(Problem(f"{focus} {graph.namespace_manager.normalizeUri(path) if path else ''}".strip(),
                                f"{message} (rule {str(rule).rsplit('#', 1)[-1]})"))
    problems.sort(key=str)
    raise BadInput(f"the dcat export does not conform to {SHAPES.name}: {problems[0]}", problems)


@register
class DCATExporter(Exporter):
    name = "dcat"
    media_type = "text/turtle"
    extension = ".ttl"
    description = "W3C DCAT 3, RDF (Turtle)"

    def __init__(self) -> None:
        self._built: tuple[bytes, Any] | None = None

    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        graph = to_graph(dataset)
        data = graph.serialize(format="turtle", encoding="utf-8")
        self._built = (data, graph)
        return data

    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        """Check the document; the graph this exporter just serialised into these very bytes
        is checked as it is (rdflib's Turtle round-trip is lossless), any other is parsed."""
        from rdflib import Graph

        if self._built is not None and self._built[0] is document:
            graph, self._built = self._built[1], None
        else:
            graph = Graph().parse(data=document, format="turtle")
        return check_graph(graph)
