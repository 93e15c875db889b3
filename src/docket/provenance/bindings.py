"""PROV-Template bindings in every form ProvToolbox reads, and conversions between them.

Forms read (:func:`parse_bindings`, :func:`load_bindings`), told apart by their content, the
file's extension only breaking a tie:

``json``
    The bindings JSON (ProvToolbox's v3 ``Bindings``): ``var``, ``vargen``, ``context`` (or
    ``@context``), and optionally ``linked`` (null or a map of variable to variable, grouping
    them as ``tmpl:linked`` does), ``template`` and ``@documentation``. Values may also be
    written the older PROV-JSON way, ``{"$": "12", "type": "xsd:int"}``.
``provjson``, ``provn``, ``ttl``, ``xml``
    Bindings written as PROV (ProvToolbox's v1/v2 form): one entity per variable, named by the
    variable (``var:author``), whose attributes give its values. ``tmpl:value_i`` is the i-th
    value of a node variable (an identifier); ``tmpl:2dvalue_i_j`` is the j-th value of the i-th
    entry of an attribute variable; ``tmpl:binding_i`` (ProvToolbox's second PROV form) is a
    value of the i-th entry. When both ``value_i`` and ``2dvalue_i_0`` are given (ProvToolbox
    writes both for a node variable) they must agree.

:func:`bindings_document` writes bindings as PROV the way ProvToolbox does (``tmpl:value_i``
for variables bound to identifiers only, and ``tmpl:2dvalue_i_j`` for every variable), and
:func:`dump_bindings` serialises either form. Everything wrong with the input is a
:class:`~docket.errors.BadInput` naming the file, the variable and the attribute at fault.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prov.identifier import Identifier, Namespace, QualifiedName
from prov.model import ProvDocument, ProvEntity

from docket import limits
from docket.documents import parse_json
from docket.errors import BadInput, NotFound
from docket.provenance import template
from docket.provenance.template import (
    _BINDINGS_KEYS,
    TMPL,
    UUID,
    VAR,
    VARGEN,
    Bindings,
    _Values,
)

__all__ = [
    "FORMS",
    "WRITABLE",
    "bindings_document",
    "detect_form",
    "dump_bindings",
    "from_document",
    "load_bindings",
    "parse_bindings",
]

#: The forms read, by name: the bindings JSON, and PROV in PROV-JSON, PROV-N, Turtle, PROV-XML.
FORMS = ("json", "provjson", "provn", "ttl", "xml")
#: The forms written by :func:`dump_bindings`.
WRITABLE = ("json", "provjson", "provn", "ttl", "xml")
_EXTENSIONS = {".json": "json", ".provn": "provn", ".ttl": "ttl", ".xml": "xml"}
_TITLES = {
    "json": "bindings JSON",
    "provjson": "PROV-JSON",
    "provn": "PROV-N",
    "ttl": "Turtle",
    "xml": "PROV-XML",
}
#: The export format that reads or writes each PROV form.
_EXPORT = {"provjson": "json", "provn": "provn", "ttl": "ttl", "xml": "xml"}
#: Top-level keys of a PROV-JSON document.
_PROV_JSON_KEYS = {
    "prefix",
    "bundle",
    "entity",
    "activity",
    "agent",
    "wasGeneratedBy",
    "used",
    "wasInformedBy",
    "wasStartedBy",
    "wasEndedBy",
    "wasInvalidatedBy",
    "wasDerivedFrom",
    "wasAttributedTo",
    "wasAssociatedWith",
    "actedOnBehalfOf",
    "wasInfluencedBy",
    "specializationOf",
    "alternateOf",
    "hadMember",
    "mentionOf",
}
#: How a message about unreadable bindings starts; a file's name replaces "the bindings are".
_UNREADABLE = "the bindings are "
_INDEXED = re.compile(r"(value|2dvalue|binding)_(\d+)(?:_(\d+))?")
# Leading blanks and comments (PROV-N's // and /* */, Turtle's #) before the first token.
_LEADING = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/|#[^\n]*)*", re.DOTALL)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def detect_form(text: str, hint: str | None = None) -> str:
    """The form of bindings ``text``: one of :data:`FORMS`, from the content first.

    ``hint`` (a form name, e.g. from the file extension) decides only when the content does
    not: a Turtle file that starts with a triple rather than ``@prefix`` says nothing by itself.
    """
    start = text[_LEADING.match(text).end() :]
    head = start[:200]
    if head.startswith(("{", "[")):
        return "json"  # told apart from PROV-JSON once parsed (see parse_bindings)
    if re.match(r"document\b", head):
        return "provn"
    if head.startswith("<?xml") or re.match(r"<([\w.-]+:)?document\b", head):
        return "xml"
    if re.match(r"(@prefix|@base|prefix|base)\b", head, re.IGNORECASE):
        return "ttl"
    if hint in FORMS and hint != "json":
        return hint
    raise BadInput(
        "cannot tell the form of the bindings: expected the bindings JSON, PROV-JSON, PROV-N "
        "(document ... endDocument), Turtle (@prefix ...) or PROV-XML"
    )


def parse_bindings(data: bytes | str, *, hint: str | None = None) -> Bindings:
    """Bindings from the bytes of any form in :data:`FORMS` (see the module docstring)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{_UNREADABLE}not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")
    form = detect_form(text, hint)
    if form == "json":
        try:  # docket's bounded reader: deep nesting or NaN is a refusal, not a crash
            parsed = parse_json(text, "bindings")
        except BadInput as exc:
            raise BadInput(f"{_UNREADABLE}not JSON docket accepts ({exc.message})") from None
        if isinstance(parsed, Mapping):
            prov_keys = set(parsed) & _PROV_JSON_KEYS
            bindings_keys = set(parsed) & _BINDINGS_KEYS
            if prov_keys and bindings_keys:
                raise BadInput(
                    "the bindings mix the bindings JSON (" + ", ".join(sorted(bindings_keys))
                    + ") and PROV-JSON (" + ", ".join(sorted(prov_keys)) + "); use one form"
                )
            if prov_keys:
                return from_document(_read_prov(text.encode("utf-8"), "provjson"))
        return Bindings.from_json(parsed)
    return from_document(_read_prov(text.encode("utf-8"), form))


def load_bindings(path: str | os.PathLike, *, form: str | None = None) -> Bindings:
    """Bindings from a file; ``form`` forces one of :data:`FORMS`, else the content decides."""
    path = Path(path)
    most = limits.get(None, "max_request_bytes")
    try:
        with path.open("rb") as f:
            data = f.read(most + 1)
    except FileNotFoundError:
        raise NotFound(f"bindings file {path} does not exist") from None
    except OSError as exc:
        raise BadInput(f"cannot read bindings file {path}: {exc.strerror or exc}") from None
    if len(data) > most:
        raise BadInput(f"bindings file {path} is larger than {most} bytes (the limit max_request_bytes)")
    if form is not None and form not in FORMS:
        raise BadInput(f"unknown bindings form {form!r}; use one of {', '.join(FORMS)}")
    try:
        if form is not None and form != "json":
            return from_document(_read_prov(data, form))
        return parse_bindings(data, hint=form or _EXTENSIONS.get(path.suffix.lower()))
    except BadInput as exc:
        message = exc.message
        if message.startswith(_UNREADABLE):  # "bindings file x.provn is not ..."
            raise BadInput(f"bindings file {path} is {message[len(_UNREADABLE):]}") from None
        raise BadInput(f"bindings file {path}: {message}") from None


def _read_prov(data: bytes, form: str) -> ProvDocument:
    from docket.provenance import export

    if form == "provjson":
        try:  # bounded before prov's reader sees it
            parse_json(data.decode("utf-8", errors="replace"), "bindings")
        except BadInput as exc:
            raise BadInput(f"{_UNREADABLE}not JSON docket accepts ({exc.message})") from None
    graph = _turtle_graph(data) if form == "ttl" else None
    try:
        document = export.deserialize(data, _EXPORT[form])
    except BadInput as exc:
        message = exc.message.removeprefix(f"cannot read {export.get(_EXPORT[form]).title} data: ")
        raise BadInput(f"{_UNREADABLE}not readable as {_TITLES[form]}: {message}") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input, said in one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise BadInput(
            f"{_UNREADABLE}not readable as {_TITLES[form]}: {type(exc).__name__}: {first}"
        ) from None
    if graph is not None:
        _check_typed(graph, document)
    return document


def _turtle_graph(data: bytes) -> Any:
    """The Turtle parsed by rdflib, whose syntax errors say where in one line."""
    from rdflib import Graph
    from rdflib.plugins.parsers.notation3 import BadSyntax

    graph = Graph(bind_namespaces="none")
    try:
        graph.parse(data=data, format="turtle")
    except BadSyntax as exc:
        line = getattr(exc, "lines", 0) + 1
        why = getattr(exc, "_why", None) or str(exc).splitlines()[0]
        raise BadInput(f"{_UNREADABLE}not readable as Turtle: line {line}: {why}") from None
    except Exception as exc:  # noqa: BLE001 - rdflib raises several kinds; each is bad input
        first = (str(exc).strip().splitlines() or [""])[0]
        raise BadInput(
            f"{_UNREADABLE}not readable as Turtle: {type(exc).__name__}: {first}"
        ) from None
    return graph


def _check_typed(graph: Any, document: ProvDocument) -> None:
    """prov reads only the subjects typed prov:Entity; refuse a variable it would skip."""
    from rdflib import URIRef

    read = {record.identifier.uri for record in document.get_records()}
    for subject, predicate in graph.subject_predicates():
        if (
            isinstance(subject, URIRef)
            and str(predicate).startswith(TMPL.uri)
            and str(subject) not in read
        ):
            raise BadInput(
                f"<{subject}> has tmpl: values but is not a prov:Entity, so PROV readers "
                "skip it; add 'a prov:Entity' to it"
            )


def _variable(identifier: Any) -> tuple[str, str] | None:
    """("var" | "vargen", local name) of a variable identifier, else None."""
    if isinstance(identifier, QualifiedName):
        for section, ns in (("var", VAR), ("vargen", VARGEN)):
            if identifier.namespace.uri == ns.uri:
                return section, identifier.localpart
    return None


def from_document(document: ProvDocument) -> Bindings:
    """Bindings from a PROV document written in ProvToolbox's PROV form (module docstring)."""
    if document.has_bundles():
        raise BadInput(
            "bindings written as PROV hold one entity per variable and no bundle; this document "
            "has a bundle (is it a template?)"
        )
    most = template.MAX_BINDING_VALUES
    seen = 0
    # section -> name -> {"value": {i: v}, "2d": {i: {j: v}}, "binding": {i: [v...]}}
    found: dict[str, dict[str, dict[str, dict]]] = {"var": {}, "vargen": {}}
    for record in document.get_records():
        if not isinstance(record, ProvEntity):
            raise BadInput(
                f"bindings written as PROV hold only entities, one per variable; found "
                f"{record.get_provn()} (is this a template?)"
            )
        variable = _variable(record.identifier)
        if variable is None:
            raise BadInput(
                f"entity {record.identifier} is not a template variable: bindings name each "
                f"entity var:x or vargen:x (namespaces {VAR.uri} and {VARGEN.uri})"
            )
        section, local = variable
        shown = f"{section}:{local}"
        slots = found[section].setdefault(local, {"value": {}, "2d": {}, "binding": {}})
        for name, value in record.extra_attributes:
            if name.namespace.uri != TMPL.uri:
                if name.namespace.uri == "http://www.w3.org/ns/prov#":
                    continue  # prov:type, prov:label... describe the entity, bind nothing
                raise BadInput(
                    f"{shown}: attribute {name} is not a binding; values are tmpl:value_i, "
                    f"tmpl:2dvalue_i_j or tmpl:binding_i (tmpl = {TMPL.uri})"
                )
            match = _INDEXED.fullmatch(name.localpart)
            kind = match and match.group(1)
            if not match or (kind == "2dvalue") != (match.group(3) is not None):
                raise BadInput(
                    f"{shown}: unknown attribute tmpl:{name.localpart}; values are "
                    "tmpl:value_i, tmpl:2dvalue_i_j or tmpl:binding_i"
                )
            seen += 1
            i, j = _index(match.group(2), most), _index(match.group(3) or "0", most)
            if seen > most or i >= most or j >= most:
                raise BadInput(
                    f"{shown}: tmpl:{name.localpart} goes past {most} values (docket's limit "
                    "MAX_BINDING_VALUES)"
                )
            where = f"{shown} tmpl:{name.localpart}"
            if kind == "value":
                if isinstance(value, Identifier) and not isinstance(value, QualifiedName):
                    value = _qualified(value, document)  # a full URI (Turtle, xsd:anyURI)
                if not isinstance(value, QualifiedName):
                    raise BadInput(
                        f"{where} is {_describe(value)}, but tmpl:value_i binds a node and takes "
                        "an identifier ('prefix:name'); give a literal as tmpl:2dvalue_i_0"
                    )
                if i in slots["value"]:
                    raise BadInput(f"{where} is given twice")
                slots["value"][i] = value
            elif kind == "2dvalue":
                row = slots["2d"].setdefault(i, {})
                if j in row:
                    raise BadInput(f"{where} is given twice")
                row[j] = value
            else:
                slots["binding"].setdefault(i, []).append(value)
    sections: dict[str, dict[str, list]] = {"var": {}, "vargen": {}}
    for section, variables in found.items():
        for local, slots in variables.items():
            sections[section][local] = _entries(f"{section}:{local}", slots)
    return Bindings(var=sections["var"], vargen=sections["vargen"])


def _qualified(value: Identifier, document: ProvDocument) -> QualifiedName:
    """A full URI as a qualified name, under a declared prefix if one fits, else a new one."""
    uri = value.uri
    cut = max(uri.rfind("#"), uri.rfind("/"), uri.rfind(":")) + 1
    if cut <= 0 or cut == len(uri):
        raise BadInput(f"cannot make an identifier of {uri!r}: it has no namespace part")
    namespace = uri[:cut]
    for ns in document.namespaces:
        if ns.uri == namespace:
            return ns[uri[cut:]]
    taken = {ns.prefix for ns in document.namespaces}
    prefix = next(f"ns{n}" for n in range(1, len(taken) + 2) if f"ns{n}" not in taken)
    return document.add_namespace(prefix, namespace)[uri[cut:]]


def _describe(value: Any) -> str:
    return f"the literal {value!s}" if not isinstance(value, QualifiedName) else str(value)


def _index(digits: str, most: int) -> int:
    """An index from its digits; a number too long to matter is just past the limit."""
    return int(digits) if len(digits) <= 9 else most


def _contiguous(indices: Any, shown: str, what: str) -> list[int]:
    ordered = sorted(indices)
    for expected, got in enumerate(ordered):
        if got != expected:
            raise BadInput(
                f"{shown}: {what.format(got)} is given but {what.format(expected)} is missing; "
                "indices count from 0 without gaps"
            )
    return ordered


def _entries(shown: str, slots: dict[str, dict]) -> list:
    """One variable's entries (a value, or a list of values, per index) from its attributes."""
    rows: list[list] = []
    if slots["2d"]:
        if slots["binding"]:
            raise BadInput(f"{shown}: give tmpl:2dvalue_i_j or tmpl:binding_i, not both")
        for i in _contiguous(slots["2d"], shown, "tmpl:2dvalue_{}_j"):
            row = slots["2d"][i]
            rows.append(
                [row[j] for j in _contiguous(row, shown, f"tmpl:2dvalue_{i}_" + "{}")]
            )
    elif slots["binding"]:
        for i in _contiguous(slots["binding"], shown, "tmpl:binding_{}"):
            rows.append(slots["binding"][i])
    if slots["value"]:
        values = [slots["value"][i] for i in _contiguous(slots["value"], shown, "tmpl:value_{}")]
        if not rows:
            return values
        if rows != [[v] for v in values]:
            raise BadInput(
                f"{shown}: tmpl:value_i and tmpl:2dvalue_i_0 (or tmpl:binding_i) give different "
                "values; give one of them, or the same values in both"
            )
    return [row[0] if len(row) == 1 else row for row in rows]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def bindings_document(bindings: Bindings) -> ProvDocument:
    """The bindings as a PROV document, as ProvToolbox writes them.

    Each variable becomes an entity named by it; a variable bound to identifiers only gets
    ``tmpl:value_i`` (ProvToolbox's node-variable values), and every variable gets
    ``tmpl:2dvalue_i_j``. ``linked`` has no PROV form: such bindings are refused.
    """
    if bindings.linked:
        raise BadInput(
            'bindings with "linked" have no PROV form (ProvToolbox\'s PROV bindings carry values '
            "only); keep them as JSON"
        )
    generated = UUID if bindings.context.get(UUID.prefix, UUID.uri) == UUID.uri else None
    resolver = _Values(bindings, (), generated or _spare_namespace(bindings))
    document = ProvDocument()
    document.add_namespace(TMPL)
    for prefix, uri in bindings.context.items():
        document.add_namespace(prefix, uri)
    for section, ns in (("var", VAR), ("vargen", VARGEN)):
        variables = getattr(bindings, section)
        if variables:
            document.add_namespace(ns)
        for name, entries in variables.items():
            where = f"bindings: {section}:{name}"
            rows = [
                [resolver.value(v, f"{where}[{i}][{j}]") for j, v in enumerate(entry)]
                if isinstance(entry, list)
                else [resolver.value(entry, f"{where}[{i}]")]
                for i, entry in enumerate(entries)
            ]
            attributes: list[tuple[QualifiedName, Any]] = []
            if all(len(row) == 1 and isinstance(row[0], QualifiedName) for row in rows):
                attributes += [(TMPL[f"value_{i}"], row[0]) for i, row in enumerate(rows)]
            attributes += [
                (TMPL[f"2dvalue_{i}_{j}"], v) for i, row in enumerate(rows) for j, v in enumerate(row)
            ]
            document.entity(ns[name], attributes)
    return document


def _spare_namespace(bindings: Bindings) -> Namespace:
    return Namespace(UUID.prefix, bindings.context[UUID.prefix])


def dump_bindings(bindings: Bindings, form: str) -> tuple[bytes, list[str]]:
    """The bindings written in ``form`` (one of :data:`WRITABLE`) and notes on what was left out.

    The PROV forms carry the values only: ``template`` and ``@documentation`` are left out (a
    note says so) and ``linked`` is refused.
    """
    if form == "json":
        return (bindings.dumps() + "\n").encode("utf-8"), []
    if form not in WRITABLE:
        raise BadInput(f"unknown bindings form {form!r}; use one of {', '.join(WRITABLE)}")
    from docket.provenance import export

    data = export.serialize(bindings_document(bindings), _EXPORT[form])
    notes = []
    if bindings.template is not None:
        notes.append(f"the {_TITLES[form]} form has no place for \"template\"; it was left out")
    if bindings.documentation is not None:
        notes.append(f"the {_TITLES[form]} form has no place for \"@documentation\"; it was left out")
    return data, notes
