"""A PROV-Template compiled once into a fast expansion that writes the same PROV-JSON.

:func:`docket.provenance.template.expand` builds each expanded statement as a ``prov`` record
and the recorder then serialises the document: correct, but most of a submit's time went there
(namespace bookkeeping, record objects, coercion, the serialiser's prefix maps). A template is
fixed, so its statements, the positions of its variables and everything about its constants can
be worked out once; what is left per expansion is substituting the bound values into PROV-JSON.

:func:`compiled_for` compiles a template (cached by the template's digest) and
:meth:`CompiledTemplate.expand` takes bindings in the note's JSON form and returns the PROV-JSON
document and the complete bindings that the ``prov`` model path returns for them, value for
value and key for key. It follows the model's rules, not its own: the same grouping and
instantiation order (the template module's analysis is reused), the same coercion of literals
(an ``xsd:int`` collapses to a number, an ``xsd:long`` below 2**31 stays a typed literal, an
``xsd:dateTime`` is rewritten in ISO form...), the same de-duplication of equal values and of
equal anonymous relations, the same prefixes declared in the same order.

Anything outside what it was written for returns ``None`` so that the caller uses the model:
bindings not in the normal JSON form (a single value instead of a list, ``$`` values, ``linked``,
``@context``), prefixes that ``prov`` would rename (a prefix bound to two namespaces, a namespace
under two prefixes, the default prefixes redefined), a value that does not convert, and every
error (the model then raises the error with its message). ``tests/test_compiled_templates.py``
proves, for every packaged template and generated bindings, that the two paths give the same
document and bindings, and that every packaged template compiles.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prov.constants import (
    PROV,
    PROV_ATTRIBUTE_LITERALS,
    PROV_ATTRIBUTE_QNAMES,
    PROV_ATTRIBUTES,
    PROV_N_MAP,
    XSD,
)
from prov.identifier import Identifier, QualifiedName
from prov.model import Literal, ProvDocument, ProvElement, canonical_xsd_datatype
from prov.model.records import parse_boolean, parse_xsd_datetime

from docket.errors import BadInput
from docket.provenance import template as tpl

__all__ = ["CompiledTemplate", "NotCompilable", "compile_template", "compiled_for"]

_XSD = XSD.uri
_PROV = PROV.uri
#: Namespaces every prov bundle knows without declaring them.
_DEFAULTS = {"prov": _PROV, "xsd": _XSD, "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
#: Prefixes the PROV-JSON writer treats specially (the default namespace).
_SPECIAL_PREFIXES = {"", "default"}
_QNAME_TYPES = {_XSD + "QName", _PROV + "QUALIFIED_NAME"}
_XSD_STRING = _XSD + "string"
_XSD_ANYURI = _XSD + "anyURI"
_XSD_DOUBLE = _XSD + "double"
_XSD_BOOLEAN = _XSD + "boolean"
_XSD_DATETIME = _XSD + "dateTime"
_XSD_DECIMAL = _XSD + "decimal"
_INT_TYPES = {_XSD + "long", _XSD + "int", _XSD + "integer"}
_I18N = _PROV + "InternationalizedString"
#: prov's test of a BCP 47 language tag; another tag warns but is written the same way.
_LANGTAG = re.compile(r"[a-zA-Z]+(-[a-zA-Z0-9]+)*")
_MAX_VALUES: int = getattr(tpl, "MAX_BINDING_VALUES", 1 << 62)
_BINDINGS_KEYS = {"var", "vargen", "context", "template"}


class NotCompilable(Exception):
    """The template uses something the compiler does not handle; expand it with the model."""


class _Unsupported(Exception):
    """These bindings need the model path (an error, or a case the compiled path leaves to it)."""


# --------------------------------------------------------------------------------------------
# Values: what the model stores for a value, and how its PROV-JSON writer writes it
# --------------------------------------------------------------------------------------------
#
# A value is a tuple (json, key, prefix, uri): ``json`` is its PROV-JSON, ``key`` stands for
# prov's equality of stored values (type and value: a qualified name by its full IRI, a literal
# by prov's Literal equality), ``prefix``/``uri`` the namespace the bundle declares when it is
# a qualified name (else None). A qualified name in a formal position is written as text; its
# text is ``json["$"]``.


def _qname_value(text: str, prefix: str, ns_uri: str, local: str) -> tuple:
    return ({"$": text, "type": "xsd:QName"}, ("Q", ns_uri + local), prefix, ns_uri)


def _datetime_text(value: dt.datetime) -> str:
    """prov's xsd:dateTime text: ISO 8601, a zone that is not whole minutes moved to UTC."""
    offset = value.utcoffset()
    if offset is not None and (offset.total_seconds() % 60 or offset.microseconds):
        value = value.astimezone(dt.UTC)
    return value.isoformat()


def _double_text(value: float) -> str:
    """prov's xsd:double text: INF and -INF for the infinities, else float's repr."""
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return float.__repr__(value)


def _plain(value: Any) -> tuple:
    """A plain JSON value as the model keeps it (a string, boolean or number)."""
    kind = type(value)
    if kind is str:
        return (value, ("s", value), None, None)
    if kind is bool:
        return (value, ("b", value), None, None)
    if kind is int:
        return ({"$": str(value), "type": str(canonical_xsd_datatype(value))}, ("i", value), None, None)
    if kind is float and math.isfinite(value):
        return ({"$": _double_text(value), "type": "xsd:double"}, ("f", value), None, None)
    raise _Unsupported


def _datetime_value(value: dt.datetime) -> tuple:
    return ({"$": _datetime_text(value), "type": "xsd:dateTime"}, ("d", value), None, None)


def _typed(text: str, type_text: str, type_uri: str) -> tuple:
    """A literal ``text`` of datatype ``type_uri`` after prov's coercion (``_auto_literal_conversion``)."""
    if type_uri == _XSD_DOUBLE:
        try:
            number = float(text)
        except (ValueError, OverflowError):
            number = None
        if number is not None:
            if math.isnan(number):
                raise _Unsupported  # NaN is not equal to itself: prov's de-duplication differs
            return ({"$": _double_text(number), "type": "xsd:double"}, ("f", number), None, None)
    elif type_uri in _INT_TYPES:
        try:
            integer = int(text)
        except (ValueError, OverflowError):
            integer = None
        if integer is not None and canonical_xsd_datatype(integer).uri == type_uri:
            return _plain(integer)  # prov collapses it to a number only when that is lossless
    elif type_uri == _XSD_BOOLEAN:
        flag = parse_boolean(text)
        if flag is not None:
            return (flag, ("b", flag), None, None)
    elif type_uri == _XSD_DATETIME:
        moment = parse_xsd_datetime(text)
        if moment is not None:
            return _datetime_value(moment)
    elif type_uri == _XSD_DECIMAL:
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            number = None
        if number is not None:
            if number.is_nan():
                raise _Unsupported
            return ({"$": text, "type": type_text}, ("L", number, type_uri, None), None, None)
    # Any other datatype, or a text outside the datatype's lexical space: a Literal, as given.
    return ({"$": text, "type": type_text}, ("L", text, type_uri, None), None, None)


def _language(raw: Any, tag: str) -> tuple:
    if not tag:
        raise _Unsupported  # prov writes an empty tag as the type "None"; leave it to the model
    text = str(raw)
    return ({"$": text, "lang": tag}, ("L", text, _I18N, tag.casefold()), None, None)


def _constant(value: Any) -> tuple:
    """A template's constant (already a prov value) as the model stores it again."""
    if isinstance(value, QualifiedName):
        ns = value.namespace
        return _qname_value(str(value), ns.prefix, ns.uri, value.localpart)
    if isinstance(value, Literal):
        if value.langtag is not None:
            return _language(value.value, value.langtag)
        if value.datatype is None:
            return _plain(value.value)
        type_uri = value.datatype.uri
        if type_uri in _QNAME_TYPES:
            raise NotCompilable("a qualified name written as a literal")
        if type_uri == _XSD_STRING:
            return _plain(value.value)
        if type_uri == _XSD_ANYURI:
            return _constant(Identifier(value.value))
        return _typed(value.value, str(value.datatype), type_uri)
    if isinstance(value, Identifier):
        return ({"$": value.uri, "type": "xsd:anyURI"}, ("U", value.uri), None, None)
    if isinstance(value, dt.datetime):
        return _datetime_value(value)
    if type(value) in (str, bool, int, float):
        return _plain(value)
    raise NotCompilable(f"a constant {value!r} of type {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# The compiled template
# --------------------------------------------------------------------------------------------


class _Var:
    """A variable: its section (``var``/``vargen``), local name and, for a node, group position."""

    __slots__ = ("key", "name", "position", "section", "vargen")

    def __init__(self, section: str, name: str, position: int = -1) -> None:
        self.section = section
        self.name = name
        self.position = position
        self.vargen = section == "vargen"
        self.key = (section, name)  # how the expansion looks its values up


@dataclass
class _Statement:
    label: str  # the PROV-JSON key: entity, used, wasGeneratedBy...
    element: bool
    usage: list[int]  # the groups of its node variables, sorted
    identifier: _Var | tuple | None  # a variable, a constant value, or None (anonymous)
    id_is_node: bool  # the identifier is a group variable (elements) or statement-level
    # formal: (attribute text, kind, payload, primary): kind "node" (a _Var), "const" (a value)
    formal: list[tuple[str, str, Any, bool]]
    # extra: (attribute text, prefix, uri, kind, payload): kind "attr"/"const" (a prov value),
    # "time"/"time-const" (the formal attribute text set by tmpl:time etc.)
    extra: list[tuple[str, str | None, str | None, str, Any]]


def _variable(q: QualifiedName, group_of: dict, usage_pos: dict | None = None) -> _Var:
    section = "vargen" if tpl._is_vargen(q) else "var"
    position = usage_pos[group_of[q]] if usage_pos is not None else -1
    return _Var(section, q.localpart, position)


def _attr_name(name: QualifiedName, names: dict[str, str]) -> tuple[str, str | None, str | None]:
    """An attribute name's text and the namespace the bundle declares for it (None: default)."""
    prefix, uri = name.namespace.prefix, name.namespace.uri
    if prefix in _SPECIAL_PREFIXES:
        raise NotCompilable(f"attribute {name} has no usable prefix")
    text = str(name)
    if names.setdefault(name.uri, text) != text:
        raise NotCompilable(f"two attribute names for {name.uri}")
    if _DEFAULTS.get(prefix) == uri:
        return text, None, None
    return text, prefix, uri


def compile_template(template: ProvDocument) -> CompiledTemplate:
    """Compile ``template``; raises :class:`NotCompilable` for what only the model path does."""
    try:
        return _compile(template)
    except _Unsupported:
        raise NotCompilable("a constant prov writes differently from its model") from None


def _compile(template: ProvDocument) -> CompiledTemplate:
    try:
        container = tpl._template_bundle(template)
        analysis = tpl._analyse(container)
    except BadInput as exc:
        raise NotCompilable(str(exc)) from None
    if container is template or container.identifier is None:
        raise NotCompilable("a template without a bundle")
    namespaces = list(container.namespaces | template.namespaces)
    names: dict[str, str] = {}  # attribute IRI -> its text
    used: list[tuple[str, str]] = []  # namespaces of constants and attribute names
    statements: list[_Statement] = []
    for st in analysis.statements:
        record = st.record
        usage = sorted({analysis.group_of[v] for v in st.node_vars})
        pos = {g: i for i, g in enumerate(usage)}
        primary = tpl._primary_positions(record)
        element = isinstance(record, ProvElement)
        identifier: Any
        if element:
            if tpl._is_variable(record.identifier):
                identifier = _variable(record.identifier, analysis.group_of, pos)
            else:
                identifier = _constant(record.identifier)
        elif st.id_var is not None:
            identifier = _variable(st.id_var, analysis.group_of)
        elif record.identifier is not None:
            identifier = _constant(record.identifier)
        else:
            identifier = None
        formal: list[tuple[str, str, Any, bool]] = []
        for attr, value in record.formal_attributes:
            if value is None:
                continue
            text, _, _ = _attr_name(attr, names)
            if attr in PROV_ATTRIBUTE_QNAMES and tpl._is_variable(value):
                var = _variable(value, analysis.group_of, pos)
                formal.append((text, "node", var, attr in primary))
            elif attr in PROV_ATTRIBUTE_QNAMES:
                if not isinstance(value, QualifiedName):
                    raise NotCompilable(f"{attr} is not a qualified name")
                formal.append((text, "const", _constant(value), False))
            elif attr in PROV_ATTRIBUTE_LITERALS and isinstance(value, dt.datetime):
                formal.append((text, "const", _datetime_value(value), False))
            else:
                raise NotCompilable(f"formal attribute {attr} = {value!r}")
        extra: list[tuple[str, str | None, str | None, str, Any]] = []
        for name, value in record.extra_attributes:
            if name == tpl._LINKED:
                continue
            if name in tpl._TIMES:
                target = tpl._TIMES[name]
                if target not in record.FORMAL_ATTRIBUTES:
                    raise NotCompilable(f"tmpl:{name.localpart} on a {record.get_type()}")
                text, _, _ = _attr_name(target, names)
                if tpl._is_variable(value):
                    extra.append((text, None, None, "time", _variable(value, analysis.group_of)))
                else:
                    try:
                        moment = tpl._as_datetime(value, str(name), "the template")
                    except BadInput as exc:
                        raise NotCompilable(str(exc)) from None
                    extra.append((text, None, None, "time-const", _datetime_value(moment)))
                continue
            out = tpl._RENAMED.get(name, name)
            if out in PROV_ATTRIBUTES:
                raise NotCompilable(f"{out} as an extra attribute")
            text, prefix, uri = _attr_name(out, names)
            if prefix is not None:
                used.append((prefix, uri))
            if tpl._is_variable(value):
                extra.append((text, prefix, uri, "attr", _variable(value, analysis.group_of)))
            else:
                extra.append((text, prefix, uri, "const", _constant(value)))
        for item in [identifier] + [f[2] for f in formal] + [e[4] for e in extra]:
            if isinstance(item, tuple) and item[2] is not None:
                used.append((item[2], item[3]))
        statements.append(
            _Statement(PROV_N_MAP[record.get_type()], element, usage, identifier, element, formal, extra)
        )
    groups = [[_variable(v, analysis.group_of) for v in members] for members in analysis.groups]
    bundle = container.identifier
    if tpl._is_variable(bundle):
        bundle_var: _Var | None = _variable(bundle, analysis.group_of)
        bundle_const = None
        in_groups = bundle in analysis.group_of
    else:
        bundle_var, bundle_const, in_groups = None, _constant(bundle), False
        used.append((bundle_const[2], bundle_const[3]))
    for prefix in [ns.prefix for ns in namespaces] + [p for p, _ in used]:
        if prefix in _SPECIAL_PREFIXES:
            raise NotCompilable(f"the template uses the prefix {prefix!r}")
    return CompiledTemplate(
        statements=statements,
        groups=groups,
        bundle_var=bundle_var,
        bundle_in_groups=in_groups,
        bundle_const=bundle_const,
        template_prefixes=[(ns.prefix, ns.uri) for ns in namespaces],
        used=used,
    )


class CompiledTemplate:
    """A template's statements with the positions of its variables, ready to fill in."""

    def __init__(
        self,
        statements: list[_Statement],
        groups: list[list[_Var]],
        bundle_var: _Var | None,
        bundle_in_groups: bool,
        bundle_const: tuple | None,
        template_prefixes: list[tuple[str, str]],
        used: list[tuple[str, str]],
    ) -> None:
        self.statements = statements
        self.groups = groups
        self.bundle_var = bundle_var
        self.bundle_in_groups = bundle_in_groups
        self.bundle_const = bundle_const
        # What _Values resolves a prefix with: xsd and prov, the template's, the bindings'.
        prefixes = {"xsd": _XSD, "prov": _PROV}
        for prefix, uri in template_prefixes:
            prefixes.setdefault(prefix, uri)
        self._base_prefixes = prefixes
        # Every namespace a written name may come from, before the bindings' context.
        known: dict[str, str] = dict(_DEFAULTS)
        for prefix, uri in [*template_prefixes, *used, (tpl.UUID.prefix, tpl.UUID.uri)]:
            if known.setdefault(prefix, uri) != uri:
                raise NotCompilable(f"prefix {prefix} names two namespaces")
        if len(set(known.values())) != len(known):
            raise NotCompilable("a namespace has two prefixes in the template")
        self._known = known
        self._known_uris = set(known.values())

    # ---------------------------------------------------------------------------- per call

    def expand(self, bindings: Mapping) -> tuple[dict, dict] | None:
        """The PROV-JSON document and the complete bindings JSON for ``bindings`` (the note's
        JSON form), exactly as the model path gives them; ``None`` where the model must do it."""
        try:
            return _Expansion(self, bindings).run()
        except _Unsupported:
            return None


class _Expansion:
    """One expansion: the state the model keeps in ``_Values`` and the bundle."""

    def __init__(self, compiled: CompiledTemplate, data: Mapping) -> None:
        if type(data) is not dict or not data.keys() <= _BINDINGS_KEYS:
            raise _Unsupported
        var, vargen, context = data.get("var"), data.get("vargen"), data.get("context")
        var = {} if var is None else var
        vargen = {} if vargen is None else vargen
        context = {} if context is None else context
        if type(var) is not dict or type(vargen) is not dict or type(context) is not dict:
            raise _Unsupported
        self.template_name = data.get("template")
        if self.template_name is not None and type(self.template_name) is not str:
            raise _Unsupported
        if _check_section(var, "var") > _MAX_VALUES or _check_section(vargen, "vargen") > _MAX_VALUES:
            raise _Unsupported
        self.compiled = compiled
        self.var, self.vargen, self.context = var, vargen, context
        # The namespaces of the bindings must not make prov rename a prefix.
        prefixes = dict(compiled._base_prefixes)
        known = compiled._known
        seen_uris: set[str] = set()
        for prefix, uri in context.items():
            if type(prefix) is not str or type(uri) is not str or not uri or uri.isspace():
                raise _Unsupported
            if prefix in _SPECIAL_PREFIXES or uri in seen_uris:
                raise _Unsupported
            seen_uris.add(uri)
            have = known.get(prefix)
            if have is None:
                if uri in compiled._known_uris:
                    raise _Unsupported
            elif have != uri:
                raise _Unsupported
            prefixes[prefix] = uri
        self.prefixes = prefixes
        self.generated: dict[str, list] = {}

    # values -----------------------------------------------------------------------------

    def qname(self, text: str) -> tuple:
        prefix, _, local = text.partition(":")
        ns_uri = self.prefixes.get(prefix)
        if ns_uri is None:
            raise _Unsupported  # the model: "prefix ... is not declared"
        return _qname_value(text if _ else prefix + ":", prefix, ns_uri, local)

    def value(self, entry: Any) -> tuple:
        """One binding value as the model stores it (``_Values.value`` then prov's coercion)."""
        if type(entry) is not dict:
            return _plain(entry)
        if "@id" in entry:
            return self.qname(entry["@id"])
        raw = entry["@value"]
        if "@language" in entry:
            return _language(raw, entry["@language"])
        type_text = entry.get("@type")
        if type_text is None:
            return _plain(raw)
        prefix, _, local = type_text.partition(":")
        ns_uri = self.prefixes.get(prefix)
        if ns_uri is None:
            raise _Unsupported
        type_uri = ns_uri + local
        if type_uri in _QNAME_TYPES:
            return self.qname(str(raw))
        if type_uri == _XSD_STRING:
            return _plain(str(raw))
        if type_uri == _XSD_ANYURI:
            text = str(raw)
            return ({"$": text, "type": "xsd:anyURI"}, ("U", text), None, None)
        if type(raw) is bool:
            raw = "true" if raw else "false"
        return _typed(str(raw), type_text, type_uri)

    def time(self, entry: Any) -> tuple:
        """A tmpl:time value: the model's ``_as_datetime`` of ``_Values.value``."""
        text: Any = entry
        if type(entry) is dict:
            if "@id" in entry:
                raise _Unsupported
            raw = entry["@value"]
            type_text = entry.get("@type")
            if "@language" in entry:
                text = str(raw)
            elif type_text is None:
                text = raw
            else:
                prefix, _, local = type_text.partition(":")
                ns_uri = self.prefixes.get(prefix)
                if ns_uri is None or ns_uri + local in _QNAME_TYPES or ns_uri + local == _XSD_ANYURI:
                    raise _Unsupported
                if ns_uri + local == _XSD_STRING or type(raw) is not bool:
                    text = str(raw)
                else:
                    text = "true" if raw else "false"
        if type(text) is not str:
            raise _Unsupported
        moment = parse_xsd_datetime(text)
        if moment is None:
            raise _Unsupported
        return _datetime_value(moment)

    def node(self, entry: Any) -> tuple:
        if type(entry) is list:
            raise _Unsupported
        value = self.value(entry)
        if value[1][0] != "Q":
            raise _Unsupported  # the model: "is not an identifier"
        return value

    def entries(self, v: _Var) -> list | None:
        return (self.vargen if v.vargen else self.var).get(v.name)

    def new_id(self) -> tuple:
        local = str(uuid.uuid4())
        return _qname_value(f"{tpl.UUID.prefix}:{local}", tpl.UUID.prefix, tpl.UUID.uri, local)

    def generated_at(self, v: _Var, count: int) -> tuple:
        values = self.generated.setdefault(v.name, [])
        while len(values) <= count:
            values.append(self.new_id())
        return values[count]

    def statement_entry(self, v: _Var, count: int) -> list | None:
        entries = self.entries(v)
        if not entries:
            return None
        if count >= len(entries):
            raise _Unsupported
        return entries[count]

    # the expansion -------------------------------------------------------------------------

    def run(self) -> tuple[dict, dict]:
        compiled = self.compiled
        if self.context.get(tpl.UUID.prefix, tpl.UUID.uri) != tpl.UUID.uri:
            raise _Unsupported
        sizes: list[int] = []
        node_of: dict[tuple[str, str], list | None] = {}
        for members in compiled.groups:
            bound: dict[tuple[str, str], list] = {}
            for v in members:
                entries = self.entries(v)
                if entries is not None:
                    bound[v.key] = [self.node(e) for e in entries]
            lengths = {len(vals) for vals in bound.values()}
            if len(lengths) > 1:
                raise _Unsupported
            size = lengths.pop() if lengths else 1
            sizes.append(size)
            for v in members:
                if v.key in bound:
                    vals = bound[v.key]
                elif v.vargen:
                    vals = [self.new_id() for _ in range(size)]
                    self.generated[v.name] = vals
                else:
                    vals = None
                node_of[v.key] = vals

        if compiled.bundle_var is not None:
            bv = compiled.bundle_var
            if compiled.bundle_in_groups:
                ids = node_of[bv.key]
            else:
                entries = self.entries(bv)
                ids = None if entries is None else [self.node(e) for e in entries]
            if ids is None and bv.vargen:
                ids = [self.new_id()]
                self.generated[bv.name] = ids
            if not ids or len(ids) != 1:
                raise _Unsupported
            bundle_id = ids[0]
        else:
            bundle_id = compiled.bundle_const

        for st in compiled.statements:
            count = 1
            for g in st.usage:
                count *= sizes[g]
            if count > _MAX_VALUES:
                raise _Unsupported

        records = _Records()
        for st in compiled.statements:
            self.statement(st, sizes, node_of, records)

        document: dict[str, Any] = {}
        prefix, uri = bundle_id[2], bundle_id[3]
        if prefix is not None and _DEFAULTS.get(prefix) != uri:
            document["prefix"] = {prefix: uri}
        document["bundle"] = {bundle_id[0]["$"]: records.container()}
        return document, self.complete_bindings()

    def statement(self, st: _Statement, sizes: list[int], node_of: dict, records: _Records) -> None:
        usage_sizes = [sizes[g] for g in st.usage]
        if all(size == 1 for size in usage_sizes):  # the usual case: one instantiation
            indices: Any = ((0,) * len(usage_sizes),)
        else:
            indices = tpl._indices(usage_sizes)
        for count, index in enumerate(indices):
            ident = st.identifier
            if isinstance(ident, _Var):
                if st.id_is_node:
                    vals = node_of[ident.key]
                    identifier = None if vals is None else vals[index[ident.position]]
                    if identifier is None:
                        continue  # dropped: its identifier is unbound
                else:
                    entry = self.statement_entry(ident, count)
                    if entry is None:
                        identifier = self.generated_at(ident, count) if ident.vargen else None
                    else:
                        vals = [self.value(e) for e in entry] if type(entry) is list else [self.value(entry)]
                        if len(vals) != 1 or vals[0][1][0] != "Q":
                            raise _Unsupported
                        identifier = vals[0]
            else:
                identifier = ident

            formal: dict[str, tuple] = {}
            skip = False
            for text, kind, payload, primary in st.formal:
                if kind == "node":
                    vals = node_of[payload.key]
                    if vals is None:
                        if primary:
                            skip = True
                            break
                        continue
                    formal[text] = vals[index[payload.position]]
                else:
                    formal[text] = payload
            if skip:
                continue

            others: list[tuple[str, str | None, str | None, tuple]] = []
            for text, prefix, uri, kind, payload in st.extra:
                if kind == "const":
                    others.append((text, prefix, uri, payload))
                elif kind == "time-const":
                    formal[text] = payload
                elif kind == "attr":
                    entry = self.statement_entry(payload, count)
                    if entry is None:
                        if not payload.vargen:
                            continue
                        values = [self.generated_at(payload, count)]
                    elif type(entry) is list:
                        values = [self.value(e) for e in entry]
                    else:
                        values = [self.value(entry)]
                    others.extend((text, prefix, uri, v) for v in values)
                else:  # time
                    entry = self.statement_entry(payload, count)
                    if entry is None:
                        if not payload.vargen:
                            continue
                        raise _Unsupported  # a generated identifier is not a time
                    if type(entry) is list:
                        if len(entry) != 1:
                            raise _Unsupported
                        entry = entry[0]
                    formal[text] = self.time(entry)
            records.add(st.label, identifier, formal, others)

    def complete_bindings(self) -> dict:
        out: dict[str, Any] = {
            "var": _copy_section(self.var),
            "vargen": _copy_section(self.vargen),
            "context": dict(self.context),
        }
        if self.template_name is not None:
            out["template"] = self.template_name
        if self.generated:
            out["vargen"].update(
                (name, [{"@id": v[0]["$"]} for v in values]) for name, values in self.generated.items()
            )
            out["context"].setdefault(tpl.UUID.prefix, tpl.UUID.uri)
        return out


class _Records:
    """The bundle being written: its records in order, its prefixes in order of first use."""

    def __init__(self) -> None:
        self.prefixes: dict[str, str] = {}
        self.by_label: dict[str, dict[str, Any]] = {}
        self.anonymous: dict[tuple, str] = {}

    def declare(self, prefix: str | None, uri: str | None) -> None:
        if prefix is not None and prefix not in self.prefixes and _DEFAULTS.get(prefix) != uri:
            self.prefixes[prefix] = uri  # type: ignore[assignment]

    def add(self, label: str, identifier: tuple | None, formal: dict, others: list) -> None:
        declare = self.declare
        if identifier is not None:
            declare(identifier[2], identifier[3])
        record: dict[str, Any] = {}
        for text, value in formal.items():
            declare(value[2], value[3])
            # a qualified name in a formal position is written as its text, a time as its text
            record[text] = value[0]["$"]
        stored: dict[str, dict] = {}
        for text, prefix, uri, value in others:
            declare(prefix, uri)
            declare(value[2], value[3])
            values = stored.get(text)
            json = value[0]
            if type(json) is dict:
                json = dict(json)  # a template's constants are shared between expansions
            if values is None:
                stored[text] = {value[1]: json}
            else:
                values.setdefault(value[1], json)
        for text, values in stored.items():
            record[text] = next(iter(values.values())) if len(values) == 1 else list(values.values())
        container = self.by_label.setdefault(label, {})
        if identifier is None:
            # prov names equal anonymous records alike (its records' equality: type, values)
            keys = [(text, value[1]) for text, value in formal.items()]
            keys.extend((text, key) for text, values in stored.items() for key in values)
            key = (label, frozenset(keys))
            name = self.anonymous.get(key)
            if name is None:
                name = self.anonymous[key] = f"_:id{len(self.anonymous) + 1}"
        else:
            name = identifier[0]["$"]
        present = container.get(name)
        if present is None:
            container[name] = record
        elif type(present) is list:
            present.append(record)
        else:
            container[name] = [present, record]

    def container(self) -> dict:
        out: dict[str, Any] = {"prefix": self.prefixes} if self.prefixes else {}
        out.update(self.by_label)
        return out


def _check_entry(value: Any) -> int:
    """1 if ``value`` is one binding value in the normal JSON form (as ``Bindings`` keeps it)."""
    kind = type(value)
    if kind is dict:
        if "@id" in value:
            ident = value["@id"]
            if len(value) != 1 or type(ident) is not str or ":" not in ident:
                raise _Unsupported
            return 1
        if "@value" not in value or not value.keys() <= {"@value", "@type", "@language"}:
            raise _Unsupported
        raw = value["@value"]
        if type(raw) not in (str, int, bool) and not (type(raw) is float and math.isfinite(raw)):
            raise _Unsupported
        type_text, tag = value.get("@type"), value.get("@language")
        if type_text is not None and (tag is not None or type(type_text) is not str or ":" not in type_text):
            raise _Unsupported
        if ("@type" in value and type_text is None) or ("@language" in value and type(tag) is not str):
            raise _Unsupported
        return 1
    if kind in (str, int, bool) or (kind is float and math.isfinite(value)):
        return 1
    raise _Unsupported


def _check_section(section: dict, name: str) -> int:
    """The number of values in a ``var``/``vargen`` section in the normal form; else unsupported."""
    total = 0
    prefix = name + ":"
    for variable, entries in section.items():
        if type(variable) is not str or not variable or variable.startswith(prefix):
            raise _Unsupported
        if type(entries) is not list:
            raise _Unsupported
        for entry in entries:
            if type(entry) is list:
                for item in entry:
                    total += _check_entry(item)
            else:
                total += _check_entry(entry)
    return total


def _copy_section(section: dict) -> dict:
    """A copy of a section in the normal form (what a JSON round trip gives, faster)."""
    return {
        name: [
            [dict(v) if type(v) is dict else v for v in e]
            if type(e) is list
            else (dict(e) if type(e) is dict else e)
            for e in entries
        ]
        for name, entries in section.items()
    }


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------

_CACHE_SIZE = 64
_cache: dict[str, CompiledTemplate | None] = {}
_lock = threading.Lock()


def compiled_for(template: ProvDocument, digest: str) -> CompiledTemplate | None:
    """The compiled form of ``template`` whose file has ``digest``; ``None`` if it does not
    compile (the caller then expands with the model). Compiled once per digest."""
    try:
        return _cache[digest]
    except KeyError:
        pass
    try:
        compiled: CompiledTemplate | None = compile_template(template)
    except NotCompilable:
        compiled = None
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[digest] = compiled
    return compiled
