"""Export a request's PROV document in every format docket offers, by name.

One model (:class:`prov.model.ProvDocument`), many serializers, chosen by name: the shape of the
``prov`` package itself. A format is a :class:`Serializer` subclass in a registry, so a data
centre (or a later feature) adds a format with :func:`register` instead of editing a dispatch.

Formats, and what survives a round trip through each:

========  ==========================================  =============================================
name      what                                        read back
========  ==========================================  =============================================
json      PROV-JSON, docket's native form             yes, bundles and all
provn     PROV-N text                                 yes (prov parses PROV-N), bundles and all
xml       PROV-XML                                    yes, bundles and all
ttl       PROV-O as Turtle                            yes, but Turtle has no named graphs: the
                                                      bundles' records come back merged into one
                                                      document (use ``trig`` to keep bundles)
trig      PROV-O as TriG (one named graph a bundle)   yes, bundles and all
jsonld    PROV-JSONLD                                 yes, bundles and all
dot       Graphviz DOT text of the PROV graph         no (a picture)
svg       SVG picture, drawn without system Graphviz  no (a picture)
html      a timeline page for people, the SVG inside  no (a page; see :mod:`docket.provenance.html`)
========  ==========================================  =============================================

The SVG is drawn by the ``graphviz-pure`` executable (a Rust port of ``dot`` shipped as a PyPI
wheel, so a provider's laptop or CI needs no system Graphviz); a system ``dot`` is the fallback.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import sys
import sysconfig
from abc import ABC, abstractmethod
from collections.abc import KeysView
from html import unescape
from pathlib import Path
from typing import Any, ClassVar

from prov.model import ProvDocument

from docket.errors import BadInput, DocketError, NotFound

__all__ = [
    "FORMATS",
    "RenderFailed",
    "Serializer",
    "deserialize",
    "find_renderer",
    "get",
    "register",
    "serialize",
]


class RenderFailed(DocketError):
    """The Graphviz renderer could not draw the picture (missing, crashed or timed out).

    Exit code 2 like :class:`~docket.errors.StoreUnavailable`: the environment, not the
    document, is at fault, and nothing was changed.
    """

    exit_code = 2


class Serializer(ABC):
    """One export format: turns a document into bytes and, where possible, bytes back into one.

    Subclasses set the class attributes so that the CLI can name files and answer HTTP requests
    without a table of its own.
    """

    #: Human name used in messages, e.g. "PROV-JSON".
    title: ClassVar[str] = ""
    #: File extension without the dot.
    extension: ClassVar[str] = ""
    #: IANA media type of the output.
    media_type: ClassVar[str] = "application/octet-stream"
    #: Whether :meth:`deserialize` can read this format back.
    readable: ClassVar[bool] = False
    #: Whether :meth:`serialize` takes the request's context from the API (``request_id``, the
    #: instance's ``languages``), as the HTML timeline does.
    contextual: ClassVar[bool] = False

    @abstractmethod
    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        """Return ``document`` in this format."""

    def deserialize(self, data: bytes, **options: Any) -> ProvDocument:
        """Read ``data`` back into a document; export-only formats refuse with :class:`BadInput`."""
        readable = ", ".join(name for name, cls in _REGISTRY.items() if cls.readable)
        raise BadInput(
            f"format {self.title or type(self).__name__!r} is export-only and cannot be read "
            f"back; readable formats: {readable}"
        )


class _ProvSerializer(Serializer):
    """A format that prov's own registry implements; only the prov name and options differ."""

    prov_format: ClassVar[str]
    write_options: ClassVar[dict[str, Any]] = {}
    read_options: ClassVar[dict[str, Any]] = {}
    readable = True

    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        buf = io.BytesIO()
        document.serialize(buf, format=self.prov_format, **{**self.write_options, **options})
        return buf.getvalue()

    def deserialize(self, data: bytes, **options: Any) -> ProvDocument:
        return ProvDocument.deserialize(
            io.BytesIO(data), format=self.prov_format, **{**self.read_options, **options}
        )


class ProvJSON(_ProvSerializer):
    """PROV-JSON (W3C member submission): docket stores documents in this form."""

    title = "PROV-JSON"
    extension = "json"
    media_type = "application/json"
    prov_format = "json"
    write_options = {"indent": 2}


class ProvN(_ProvSerializer):
    """PROV-N, the human-readable notation of the W3C PROV recommendation."""

    title = "PROV-N"
    extension = "provn"
    media_type = "text/provenance-notation"
    prov_format = "provn"


class ProvXML(_ProvSerializer):
    """PROV-XML (W3C note)."""

    title = "PROV-XML"
    extension = "xml"
    media_type = "application/xml"
    prov_format = "xml"

    def deserialize(self, data: bytes, **options: Any) -> ProvDocument:
        # A PROV-XML file may come from a provider's email: refuse entity declarations and
        # external references (billion laughs, XXE) before prov's lxml parser sees the bytes.
        import defusedxml.ElementTree as safe_et
        from defusedxml import DefusedXmlException

        try:
            safe_et.fromstring(data)
        except DefusedXmlException as exc:
            raise BadInput(f"PROV-XML refused: {exc}") from None
        return super().deserialize(data, **options)


@functools.cache
def _fixed_rdf_serializer() -> type:
    """prov's PROV-O serializer with two decoding defects of prov 3.2.x worked around.

    1. An activity with a qualified association (agent + plan) and a plain
       ``prov:wasAssociatedWith`` to another agent (docket's submission: the provider with the
       plan, the docket software without) decodes to ONE association: prov folds the plain
       triple onto the qualified node even when that node names a different agent, so the
       provider's association is lost. Here the plain triple becomes its own record whenever
       every candidate node carries an influencer and none of them is the triple's object.
    2. rdflib binds ~25 well-known prefixes (brick, csvw, schema...) to every new graph, and
       prov copies them all into the document; only the file's own prefixes are kept here.

    And one encoding choice: an IRI value that is not a qualified name (an ``xsd:anyURI`` in
    PROV-JSON, such as a ``file:`` URI in ``prov:location``) is written as an IRI, not as a
    string typed ``xsd:anyURI``: PROV-O's ``prov:atLocation`` is an object property, and RDF
    tools follow IRIs, not strings. Read back, an IRI outside every declared namespace is such a
    value again (prov would mint a namespace for it and make it a qualified name).
    """
    from prov.serializers import provrdf
    from rdflib import Dataset, URIRef
    from rdflib.namespace import NamespaceManager

    influencers = getattr(provrdf, "_QUALIFIED_RELATION_INFLUENCER", {})

    class _FixedProvRDFSerializer(provrdf.ProvRDFSerializer):
        def _decode_relation_triple(self, graph, bundle, state, subj, pred, obj, relation_mapper):
            name = relation_mapper[pred]
            influencer = influencers.get(name)
            if influencer is not None:
                qualifier = URIRef(provrdf.pm.PROV["qualified" + name[0].upper() + name[1:]].uri)
                nodes = list(graph.objects(URIRef(subj), qualifier))
                if (
                    nodes
                    and all((node, influencer, None) in graph for node in nodes)
                    and not any((node, influencer, obj) in graph for node in nodes)
                ):
                    getattr(bundle, name)(subj, str(obj))
                    return
            super()._decode_relation_triple(graph, bundle, state, subj, pred, obj, relation_mapper)

        def encode_rdf_representation(self, value):
            if isinstance(value, provrdf.pm.Identifier) and not isinstance(value, provrdf.pm.QualifiedName):
                return URIRef(value.uri)
            return super().encode_rdf_representation(value)

        def decode_rdf_representation(self, literal, graph):
            if isinstance(literal, URIRef) and self.valid_identifier(literal) is None:
                return provrdf.pm.Identifier(str(literal))
            return super().decode_rdf_representation(literal, graph)

        def deserialize(self, stream, rdf_format="trig", **kwargs):
            container = Dataset(default_union=True)
            # Every Graph over the store binds rdflib's defaults into it on first use: the
            # default graph while parsing, each named graph while prov decodes. Give the first
            # a manager that binds nothing, and freeze the store's prefixes once parsed.
            manager = NamespaceManager(container, bind_namespaces="none")
            container.namespace_manager = manager
            default_graph = getattr(container, "_default_context", None)
            if default_graph is not None:
                default_graph.namespace_manager = manager
            container.parse(stream, format=rdf_format)
            container.store.bind = lambda *args, **kwargs: None
            self.document = ProvDocument()
            self.decode_document(container, self.document, **kwargs)
            return self.document

    return _FixedProvRDFSerializer


class _ProvO(Serializer):
    """PROV-O through rdflib; subclasses pick the RDF syntax."""

    rdf_format: ClassVar[str]
    readable = True

    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        buf = io.BytesIO()
        _fixed_rdf_serializer()(document).serialize(buf, rdf_format=self.rdf_format, **options)
        return buf.getvalue()

    def deserialize(self, data: bytes, **options: Any) -> ProvDocument:
        return _fixed_rdf_serializer()().deserialize(
            io.BytesIO(data), rdf_format=self.rdf_format, **options
        )


class ProvOTurtle(_ProvO):
    """PROV-O in Turtle: the RDF most tools read. Bundles are merged (Turtle has no graphs)."""

    title = "PROV-O Turtle"
    extension = "ttl"
    media_type = "text/turtle"
    rdf_format = "turtle"


class ProvOTriG(_ProvO):
    """PROV-O in TriG: Turtle plus one named graph per bundle, so bundles survive."""

    title = "PROV-O TriG"
    extension = "trig"
    media_type = "application/trig"
    rdf_format = "trig"


class ProvJSONLD(_ProvSerializer):
    """PROV-JSONLD; the context is referenced by URL, and prov reads it from its own copy."""

    title = "PROV-JSONLD"
    extension = "jsonld"
    media_type = "application/ld+json"
    prov_format = "jsonld"
    write_options = {"indent": 2}


#: Options of :func:`prov.dot.prov_to_dot` chosen for a readable picture of a request: labels
#: (the provider's name rather than an ORCID), attribute notes on elements (checksums, versions,
#: times), the plan of an association drawn, and no notes on relations (their times repeat the
#: activities' and crowd the picture). Each can be overridden per call.
DOT_OPTIONS: dict[str, Any] = {
    "use_labels": True,
    "show_nary": True,
    "show_element_attributes": True,
    "show_relation_attributes": False,
    "direction": "BT",
}

# prov_to_dot(use_labels=True) prints "identifier / identifier" for an element without a
# prov:label; such a node gets its identifier once.
_TWICE_LABEL = re.compile(r'^<(.*)<br /><font color="#333333" point-size="10">(.*)</font>>$', re.S)


def _dot_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_nodes(graph: Any):
    yield from graph.get_nodes()
    for sub in graph.get_subgraphs():
        yield from _dot_nodes(sub)


class Dot(Serializer):
    """Graphviz DOT text of the PROV graph, bundles drawn as labelled clusters."""

    title = "Graphviz DOT"
    extension = "dot"
    media_type = "text/vnd.graphviz"

    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        return self.dot_text(document, **options).encode("utf-8")

    @staticmethod
    def dot_text(document: ProvDocument, **options: Any) -> str:
        from prov.dot import prov_to_dot

        graph = prov_to_dot(document, **{**DOT_OPTIONS, **options})
        for node in _dot_nodes(graph):
            match = _TWICE_LABEL.match(node.get_label() or "")
            if match and match.group(1) == match.group(2):
                node.set_label(_dot_quoted(unescape(match.group(1))))
        return graph.to_string()


def find_renderer() -> Path:
    """The Graphviz executable that draws SVG: the venv's graphviz-pure, PATH's, then ``dot``.

    The venv's scripts folder comes first because a console script installed by the wheel is not
    on PATH when docket runs as ``.venv/bin/python -m docket`` or from a notebook kernel.
    """
    exe = ".exe" if sys.platform == "win32" else ""
    candidates = [Path(sysconfig.get_path("scripts")) / f"graphviz-pure{exe}"]
    candidates += [Path(p) for p in (shutil.which("graphviz-pure"), shutil.which("dot")) if p]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RenderFailed(
        "cannot draw SVG: no Graphviz renderer found (looked for graphviz-pure in "
        f"{sysconfig.get_path('scripts')} and on PATH, then for dot on PATH); "
        "install the graphviz-pure wheel (pip install graphviz-pure)"
    )


class SVG(Serializer):
    """An SVG picture of the PROV graph, drawn from the DOT text by graphviz-pure."""

    title = "SVG"
    extension = "svg"
    media_type = "image/svg+xml"
    #: Seconds the renderer may take; ~1000 records render in well under this on 2 cores.
    timeout = 120.0

    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        renderer = options.pop("renderer", None)
        dot = Dot.dot_text(document, **options).encode("utf-8")
        return render_svg(dot, Path(renderer) if renderer else None, timeout=self.timeout)


def render_svg(dot: bytes, renderer: Path | None = None, *, timeout: float = 120.0) -> bytes:
    """Draw DOT text as SVG with ``renderer`` (default :func:`find_renderer`), via stdin."""
    renderer = renderer or find_renderer()
    try:
        done = subprocess.run(
            [str(renderer), "-Tsvg"], input=dot, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise RenderFailed(f"cannot draw SVG: {renderer} took more than {timeout:g} s") from None
    except OSError as exc:
        raise RenderFailed(f"cannot draw SVG: {renderer} could not run: {exc}") from None
    if done.returncode != 0 or b"<svg" not in done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderFailed(
            f"cannot draw SVG: {renderer} exited with code {done.returncode}"
            + (f": {detail[-1]}" if detail else " and printed no SVG")
        )
    return done.stdout


_REGISTRY: dict[str, type[Serializer]] = {}

#: The names of the registered formats, in registration order (a live view of the registry).
FORMATS: KeysView[str] = _REGISTRY.keys()


def register(name: str, serializer: type[Serializer]) -> None:
    """Make ``serializer`` available as format ``name`` (replacing any earlier one)."""
    if not (isinstance(serializer, type) and issubclass(serializer, Serializer)):
        raise TypeError(f"format {name!r}: {serializer!r} is not a Serializer subclass")
    _REGISTRY[name] = serializer


def get(name: str) -> type[Serializer]:
    """The serializer registered as ``name``; :class:`NotFound` lists the known formats."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotFound(
            f"unknown PROV format {name!r}; known formats: {', '.join(FORMATS)}"
        ) from None


def serialize(doc: ProvDocument, fmt: str, **options: Any) -> bytes:
    """``doc`` in format ``fmt`` as bytes; ``options`` go to the format (e.g. DOT's direction)."""
    serializer = get(fmt)()
    try:
        return serializer.serialize(doc, **options)
    except DocketError:
        raise
    except Exception as exc:  # prov and rdflib raise many types; none may reach a user raw
        raise BadInput(f"cannot write the document as {serializer.title}: {exc}") from exc


def deserialize(data: bytes, fmt: str, **options: Any) -> ProvDocument:
    """Read a document written in format ``fmt``; malformed data raises :class:`BadInput`."""
    serializer = get(fmt)()
    try:
        return serializer.deserialize(data, **options)
    except DocketError:
        raise
    except Exception as exc:  # parse errors come as JSON, lxml, rdflib, PROV-N and prov types
        message = str(exc).strip().splitlines()
        raise BadInput(
            f"cannot read {serializer.title} data: {type(exc).__name__}"
            + (f": {message[0]}" if message else "")
        ) from exc


for _name, _cls in (
    ("json", ProvJSON),
    ("provn", ProvN),
    ("xml", ProvXML),
    ("ttl", ProvOTurtle),
    ("trig", ProvOTriG),
    ("jsonld", ProvJSONLD),
    ("dot", Dot),
    ("svg", SVG),
):
    register(_name, _cls)

del _name, _cls

# The HTML timeline builds on the SVG above and registers itself as "html" when imported.
import docket.provenance.html  # noqa: E402, F401
