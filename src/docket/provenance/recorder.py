"""Turning a workflow step into PROV: pick the step's template, bind it, expand it.

Templates are looked up by name in the instance's ``prov_templates/`` first and then in docket's
packaged ones, so a data centre changes what is recorded by editing a template. The bindings that
produced a bundle are returned with it and stored beside it, so any PROV-Template tool can
reproduce the expansion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prov.model import ProvDocument
from prov.serializers.provjson import encode_json_document

from docket.canonical import file_digest
from docket.errors import InstanceError
from docket.provenance import identifiers as ids
from docket.provenance.compiled import compiled_for
from docket.provenance.template import Bindings, expand, load_template
from docket.resources import data_dir

Value = str | int | float | bool | datetime


@dataclass(frozen=True)
class Id:
    """A binding that is an identifier (a qualified name), not a literal.

    ``qname`` is normally made by :mod:`docket.provenance.identifiers` (an ``ids.QName``, whose
    prefix the bindings' context then declares); a plain ``prefix:name`` string must use a
    prefix of :func:`~docket.provenance.identifiers.context`.
    """

    qname: str


@dataclass(frozen=True)
class Uri:
    """A binding that is an IRI written out in full (an ``xsd:anyURI``, an IRI in PROV-O): a
    ``file:`` URI or URL for ``prov:location``, an IANA media type for ``dcat:mediaType``."""

    uri: str


@dataclass
class ExpandedBundle:
    bundle_id: str
    template: str
    template_digest: str
    bundle: dict  # PROV-JSON of a document holding the one bundle
    bindings: dict  # PROV-Template bindings JSON


def _literal(value: Value) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"@value": "true" if value else "false", "@type": "xsd:boolean"}
    if isinstance(value, int):
        return {"@value": str(value), "@type": "xsd:long"}
    if isinstance(value, float):
        return {"@value": repr(value), "@type": "xsd:double"}
    if isinstance(value, datetime):
        return {"@value": value.isoformat(), "@type": "xsd:dateTime"}
    if isinstance(value, Uri):
        return {"@value": value.uri, "@type": "xsd:anyURI"}
    return {"@value": str(value), "@type": "xsd:string"}


def bindings_json(values: dict[str, Any], base_uri: str) -> dict[str, Any]:
    """PROV-Template bindings (JSON format) from plain values: ``Id`` for nodes, else literals.

    A list binds a variable to several values (one entry per instantiation); an entry that is
    itself a list gives an attribute several values in that instantiation. ``None`` leaves it
    unbound, which drops the statements (or attributes) that use it, as the template note says.
    """
    # Each identifier of docket's scheme (an ids.QName) lives in a namespace of its own path, e.g.
    # ocean-0007_qa_2 -> <base>ocean-0007/qa/2/: declared here, so no step has to know prefixes.
    context = ids.context(base_uri)
    prefix_of: dict[str, str] = {}  # namespace -> the prefix declared for it

    def node(qname: str) -> str:
        if not isinstance(qname, ids.QName):
            return qname
        namespace = qname.namespace(base_uri)
        if namespace not in prefix_of:
            prefix, k = qname.prefix, 1
            while context.get(prefix, namespace) != namespace:  # two paths, one prefix name
                k += 1
                prefix = f"{qname.prefix}{k}"
            context[prefix], prefix_of[namespace] = namespace, prefix
        return f"{prefix_of[namespace]}:{qname.local}"

    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(item) for item in v]
        if isinstance(v, Id):
            return {"@id": node(v.qname)}
        return _literal(v)

    var: dict[str, list] = {}
    for name, value in values.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if not items:
            continue
        var[name] = [one(v) for v in items]
    return {"var": var, "context": context}


class Recorder:
    """Expands the step templates of one instance."""

    def __init__(self, base_uri: str, override_dir: Path | None = None, compiled: bool = True) -> None:
        self.base_uri = base_uri
        #: Expand with the template compiled once (docket.provenance.compiled), which writes the
        #: same bundle as the prov model path; False always uses the model (tests compare both).
        self.compiled = compiled
        self.dirs = [d for d in (override_dir, data_dir("prov_templates")) if d and d.is_dir()]
        self._cache: dict[str, tuple[ProvDocument, str]] = {}

    def template(self, name: str) -> tuple[ProvDocument, str]:
        if name not in self._cache:
            for folder in self.dirs:
                path = folder / f"{name}.json"
                if path.is_file():
                    break
            else:
                raise InstanceError(f"no PROV template {name!r} in {', '.join(map(str, self.dirs))}")
            try:
                self._cache[name] = (load_template(path), file_digest(path.read_bytes()))
            except Exception as exc:  # a broken edited template must not become a traceback
                raise InstanceError(f"PROV template {path} cannot be read: {exc}") from exc
        return self._cache[name]

    def expand(self, name: str, request_id: str, step: str, n: int, values: dict[str, Any]) -> ExpandedBundle:
        template, digest = self.template(name)
        bundle = ids.bundle_id(request_id, step, n)
        doc = bindings_json({"bundle": Id(bundle), **values}, self.base_uri)
        fast = compiled_for(template, digest) if self.compiled else None
        result = fast.expand(doc) if fast is not None else None
        if result is None:  # the prov model: what the compiled form leaves to it, and every error
            expansion = expand(template, Bindings.from_json(doc))
            result = (encode_json_document(expansion.document), expansion.bindings.to_json())
        return ExpandedBundle(
            bundle_id=bundle,
            template=name,
            template_digest=digest,
            bundle=result[0],
            bindings=result[1],
        )
