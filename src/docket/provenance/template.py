"""PROV-Template expansion: a template (a PROV document with variables) plus bindings gives PROV.

docket records each workflow step by expanding a template from ``prov_templates/`` with the values
of that step, following the PROV-Template note (Moreau, Batlajery, Huynh, Michaelides, Packer,
"PROV-TEMPLATE: A Template System for PROV Documents"). A data centre changes what is recorded
by editing a template; the bindings are kept beside the expanded bundle so that any PROV-Template
tool (ProvToolbox's ``provconvert -bindings``) can reproduce the expansion.

The public API is small:

* :class:`Bindings` -- the bindings in the note's JSON form (``var``, ``vargen``, ``context``,
  and ProvToolbox's ``linked`` and ``@documentation``); :meth:`Bindings.load` also reads bindings
  written as PROV (see :mod:`docket.provenance.bindings`, which converts between the forms);
* :func:`load_template` -- read a template file (PROV-JSON, PROV-XML, PROV-N, Turtle/TriG);
* :func:`expand` -- expand a template, returning an :class:`Expansion`: the expanded document
  (one bundle) and the *complete* bindings, including the identifiers generated for unbound
  ``vargen:`` variables, so that expanding again with them gives the same document;
* :data:`VAR`, :data:`VARGEN`, :data:`TMPL` -- the note's namespaces.

Expansion rules (the note's, with docket's choices where the note leaves room):

* A *group variable* is a variable in a node position: the identifier of an entity, activity or
  agent, or an argument of a relation (entity, activity, agent, plan, ...). Each statement is
  instantiated once per combination of the values of its group variables (Cartesian product),
  except that variables linked with ``tmpl:linked`` (or by the bindings' ``linked`` map, as in
  ProvToolbox) form one group and change value in lockstep; a variable linked to itself is
  refused, a cycle of links is one group.
  Combinations are enumerated in the note's index order (the first group varies fastest).
* A *statement-level variable* is a variable in an attribute value or in a relation identifier.
  It is bound to one entry per instantiation of its statement (the note's list of lists); an
  entry may be a list, giving the attribute several values.
* An unbound ``var:`` variable drops the attribute it is the value of, or the optional argument
  (plan, activity of a derivation, ...) it stands for; in a statement's identifier or main
  arguments it drops the statement (the note calls this an error; docket drops the statement, as
  ProvToolbox does for nodes, so that one template covers optional parts; ``strict=True`` makes
  it an error). Every drop is reported in :attr:`Expansion.notes`.
* An unbound ``vargen:`` variable gets fresh identifiers (``uuid:<uuid4>`` in ``urn:uuid:`` by
  default), as many as its group needs; they are returned in :attr:`Expansion.bindings`.
* ``tmpl:label`` and ``tmpl:value`` become ``prov:label`` and ``prov:value``; ``tmpl:time``,
  ``tmpl:startTime`` and ``tmpl:endTime`` set the time of a generation, usage, invalidation,
  start or end, and the start and end of an activity; ``tmpl:linked`` is not copied.
* The template's bundle identifier may be a variable bound to exactly one identifier; the result
  is a document holding one bundle with that identifier.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from prov.constants import (
    PROV,
    PROV_ATTR_BUNDLE,
    PROV_ATTR_ENDTIME,
    PROV_ATTR_STARTTIME,
    PROV_ATTR_TIME,
    PROV_ATTRIBUTE_QNAMES,
    PROV_LABEL,
    PROV_QUALIFIEDNAME,
    PROV_VALUE,
    XSD,
    XSD_ANYURI,
    XSD_QNAME,
    XSD_STRING,
)
from prov.identifier import Identifier, Namespace, QualifiedName
from prov.model import Literal, ProvBundle, ProvDocument, ProvElement, ProvException, ProvRecord
from prov.model.records import parse_xsd_datetime

from docket.documents import parse_json
from docket.errors import BadInput, NotFound

__all__ = [
    "TMPL",
    "UUID",
    "VAR",
    "VARGEN",
    "Bindings",
    "Expansion",
    "expand",
    "load_template",
    "template_variables",
]

#: Template variables, replaced by their values.
VAR = Namespace("var", "http://openprovenance.org/var#")
#: Template variables that get fresh identifiers when unbound ("gensym" variables).
VARGEN = Namespace("vargen", "http://openprovenance.org/vargen#")
#: The note's attributes: tmpl:linked, tmpl:label, tmpl:time, tmpl:startTime...
TMPL = Namespace("tmpl", "http://openprovenance.org/tmpl#")
#: Where generated identifiers go unless told otherwise (ProvToolbox's choice too).
UUID = Namespace("uuid", "urn:uuid:")

_LINKED = TMPL["linked"]
_ORDER = TMPL["order"]
#: tmpl: attributes that become another attribute of the expanded statement.
_RENAMED = {TMPL["label"]: PROV_LABEL, TMPL["value"]: PROV_VALUE}
#: tmpl: attributes that set a time of the expanded statement.
_TIMES = {
    TMPL["time"]: PROV_ATTR_TIME,
    TMPL["startTime"]: PROV_ATTR_STARTTIME,
    TMPL["endTime"]: PROV_ATTR_ENDTIME,
}
_VARIABLE_NS = {VAR.uri: "var", VARGEN.uri: "vargen"}
#: At most this many values in one set of bindings (whatever their form), and instantiations
#: of one template statement (the Cartesian product of its groups' sizes): a bindings file of a
#: few kilobytes could otherwise ask for billions of statements. Not a ``[limits]`` key, since
#: ``docket template expand`` and the recorder expand without an instance's configuration.
MAX_BINDING_VALUES = 100_000
#: The keys of the bindings JSON: ProvToolbox's ``Bindings`` (v3) has ``linked`` (extra
#: ``tmpl:linked`` pairs) and may carry ``@documentation``; ``@context`` is an alias of ``context``.
_BINDINGS_KEYS = {"var", "vargen", "context", "@context", "template", "linked", "@documentation"}
_TEMPLATE_FORMATS = {
    ".json": "json",
    ".xml": "xml",
    ".provn": "provn",
    ".ttl": "ttl",
    ".trig": "trig",
    ".jsonld": "jsonld",
}


def _is_variable(value: Any) -> bool:
    return isinstance(value, QualifiedName) and value.namespace.uri in _VARIABLE_NS


def _is_vargen(value: QualifiedName) -> bool:
    return value.namespace.uri == VARGEN.uri


def _show(variable: QualifiedName) -> str:
    return f"{_VARIABLE_NS[variable.namespace.uri]}:{variable.localpart}"


# --------------------------------------------------------------------------------------------
# Bindings
# --------------------------------------------------------------------------------------------


def _literal_json(value: Any, context: dict[str, str], where: str) -> Any:
    """One value in the bindings' JSON form; Python and prov values are converted."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, QualifiedName):
        prefix = value.namespace.prefix
        known = context.setdefault(prefix, value.namespace.uri)
        if known != value.namespace.uri:
            raise BadInput(
                f"{where}: prefix {prefix!r} is {value.namespace.uri} here but "
                f"{known} in the bindings' context"
            )
        return {"@id": f"{prefix}:{value.localpart}"}
    if isinstance(value, dt.datetime):
        return {"@value": value.isoformat(), "@type": "xsd:dateTime"}
    if isinstance(value, Literal):
        if value.langtag:
            return {"@value": value.value, "@language": value.langtag}
        if value.datatype is None:
            return value.value
        datatype = value.datatype
        if datatype.namespace.uri not in (XSD.uri, PROV.uri):
            _literal_json(datatype, context, where)  # declares its prefix
        return {"@value": value.value, "@type": f"{datatype.namespace.prefix}:{datatype.localpart}"}
    if isinstance(value, Identifier):
        return {"@value": value.uri, "@type": "xsd:anyURI"}
    if isinstance(value, Mapping):
        return _check_value_object(value, where)
    raise BadInput(
        f"{where}: {value!r} is not a binding value (give a string, number, boolean, "
        '{"@id": "prefix:name"} or {"@value": ..., "@type": "xsd:..."})'
    )


def _from_prov_json_value(value: Mapping, where: str) -> Any:
    """A PROV-JSON typed value (``{"$": ..., "type": ...}``, the older bindings' spelling)."""
    extra = set(value) - {"$", "type", "lang"}
    if extra:
        raise BadInput(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))} in {dict(value)!r}")
    raw, datatype = value["$"], value.get("type")
    if datatype in ("xsd:QName", "prov:QUALIFIED_NAME", "prov:QualifiedName"):
        if not isinstance(raw, str) or ":" not in raw:
            raise BadInput(f'{where}: an identifier is "prefix:name", got {raw!r}')
        return {"@id": raw}
    if "lang" in value:
        return {"@value": raw, "@language": value["lang"]}
    if datatype is None or (datatype == "xsd:string" and isinstance(raw, str)):
        return raw  # a string is a plain JSON string, as ProvToolbox writes it
    return {"@value": raw, "@type": datatype}


def _check_value_object(value: Mapping, where: str) -> Any:
    if "$" in value:
        value = _from_prov_json_value(value, where)
        if not isinstance(value, Mapping):
            return value
    keys = set(value)
    if "@id" in keys:
        if keys != {"@id"} or not isinstance(value["@id"], str) or ":" not in value["@id"]:
            raise BadInput(
                f'{where}: an identifier is {{"@id": "prefix:name"}}, got {dict(value)!r}'
            )
        return dict(value)
    if "@value" not in keys:
        raise BadInput(
            f"{where}: {dict(value)!r} has neither @id (an identifier) nor @value (a literal)"
        )
    extra = keys - {"@value", "@type", "@language"}
    if extra:
        raise BadInput(f"{where}: unknown key(s) {', '.join(sorted(extra))} in {dict(value)!r}")
    if "@type" in keys and "@language" in keys:
        raise BadInput(f"{where}: a literal has @type or @language, not both")
    if not isinstance(value["@value"], str | int | float | bool):
        raise BadInput(
            f"{where}: @value must be a string, number or boolean, got {value['@value']!r}"
        )
    for key in ("@type", "@language"):
        if key in keys and not isinstance(value[key], str):
            raise BadInput(f"{where}: {key} must be a string, got {value[key]!r}")
    if "@type" in keys and ":" not in value["@type"]:
        raise BadInput(
            f"{where}: @type must be a prefixed name such as xsd:int, got {value['@type']!r}"
        )
    return dict(value)


def _normalise_variables(section: str, variables: Any, context: dict[str, str]) -> dict[str, list]:
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise BadInput(
            f"bindings: {section!r} must be an object of variable: [values], got {type(variables).__name__}"
        )
    out: dict[str, list] = {}
    budget = MAX_BINDING_VALUES
    for name, values in variables.items():
        if not isinstance(name, str) or not name:
            raise BadInput(f"bindings: {section!r} has a variable with no name")
        local = name.removeprefix(f"{section}:")
        where = f"bindings: {section}:{local}"
        items = values if isinstance(values, list | tuple) else [values]
        entries: list = []
        for i, item in enumerate(items):
            budget -= len(item) if isinstance(item, list | tuple) else 1
            if budget < 0:
                raise BadInput(
                    f"{where}: the bindings hold more than {MAX_BINDING_VALUES} values "
                    "(docket's limit MAX_BINDING_VALUES)"
                )
            if isinstance(item, list | tuple):
                entries.append(
                    [_literal_json(v, context, f"{where}[{i}][{j}]") for j, v in enumerate(item)]
                )
            else:
                entries.append(_literal_json(item, context, f"{where}[{i}]"))
        out[local] = entries
    return out


def _normalise_linked(linked: Any) -> dict[str, str]:
    """ProvToolbox's ``linked`` map: variable -> variable, each pair as ``tmpl:linked`` links."""
    if linked is None:
        return {}
    if not isinstance(linked, Mapping):
        raise BadInput(
            'bindings: "linked" must be null or an object of "var:x": "var:y" (linked variables), '
            f"got {type(linked).__name__}"
        )
    out: dict[str, str] = {}
    for a, b in linked.items():
        for name in (a, b):
            if not isinstance(name, str) or not name.strip():
                raise BadInput(f'bindings: "linked" links variables by name, got {name!r}')
            _linked_variable(name)  # checks the spelling
        out[a] = b
    return out


def _linked_variable(name: str) -> QualifiedName:
    """``var:x``, ``vargen:x``, a full variable URI, or a bare ``x`` (meaning ``var:x``)."""
    for ns in (VAR, VARGEN):
        if name.startswith(ns.uri):
            local = name[len(ns.uri) :]
            break
        if name.startswith(f"{ns.prefix}:"):
            local = name[len(ns.prefix) + 1 :]
            break
    else:
        if ":" in name:
            raise BadInput(
                f'bindings: "linked" names {name!r}, which is not a template variable '
                "(var:name or vargen:name)"
            )
        ns, local = VAR, name
    if not local:
        raise BadInput(f'bindings: "linked" names {name!r}, a variable with no name')
    return ns[local]


@dataclass
class Bindings:
    """Variables and their values, in the PROV-Template bindings JSON form.

    ``var`` and ``vargen`` map a variable's local name (``"file"`` binds ``var:file``) to a list
    of values: one value per value of a node variable, one entry per instantiation of the
    statement for an attribute variable (an entry may itself be a list of values). A value is an
    identifier ``{"@id": "prefix:name"}``, a typed literal ``{"@value": "12", "@type":
    "xsd:long"}``, a language string ``{"@value": "...", "@language": "en"}`` or a plain JSON
    string, number or boolean. ``context`` maps the prefixes used to namespace URIs.

    Python values are accepted too and stored in JSON form: prov ``QualifiedName`` (its prefix
    goes into ``context``), ``datetime``, prov ``Literal``; a single value stands for a list of
    one. The stored form is what :meth:`to_json` returns, so what docket keeps beside a bundle is
    exactly what another PROV-Template tool reads.
    """

    var: dict[str, list] = field(default_factory=dict)
    vargen: dict[str, list] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    #: The template these bindings are for (a name or URL), carried along untouched.
    template: str | None = None
    #: Extra linked variables (ProvToolbox's ``linked``): each ``"var:x": "var:y"`` pair groups
    #: the two variables exactly as ``tmpl:linked`` in the template does.
    linked: dict[str, str] = field(default_factory=dict)
    #: ProvToolbox's ``@documentation``, carried along untouched (a string or JSON object).
    documentation: Any = None

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = {}
        if not isinstance(self.context, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.context.items()
        ):
            raise BadInput('bindings: "context" must be an object of prefix: "namespace URI"')
        self.context = dict(self.context)
        self.var = _normalise_variables("var", self.var, self.context)
        self.vargen = _normalise_variables("vargen", self.vargen, self.context)
        if self.template is not None and not isinstance(self.template, str):
            raise BadInput('bindings: "template" must be a string')
        self.linked = _normalise_linked(self.linked)
        if self.documentation is not None and not isinstance(self.documentation, str | Mapping):
            raise BadInput('bindings: "@documentation" must be a string or an object')

    @classmethod
    def from_json(cls, data: Mapping | str | bytes) -> Bindings:
        """Bindings from their JSON form: a parsed object, or JSON text."""
        if isinstance(data, str | bytes):
            try:  # docket's bounded reader: deep nesting or NaN is a refusal, not a crash
                data = parse_json(data, "bindings")
            except BadInput as exc:
                raise BadInput(f"bindings are not JSON docket accepts ({exc.message})") from None
        if not isinstance(data, Mapping):
            raise BadInput(
                f"bindings must be a JSON object with var, vargen and context, got {type(data).__name__}"
            )
        unknown = set(data) - _BINDINGS_KEYS
        if unknown:
            raise BadInput(
                f"bindings: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                "expected var, vargen, context (and optionally linked, template, @documentation)"
            )
        context = data.get("context")
        alias = data.get("@context")
        if context is not None and alias is not None and context != alias:
            raise BadInput('bindings: "context" and "@context" are both given and differ; give one')
        return cls(
            var=data.get("var"),
            vargen=data.get("vargen"),
            context=context if context is not None else alias,
            template=data.get("template"),
            linked=data.get("linked"),
            documentation=data.get("@documentation"),
        )

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping) -> Bindings:
        """Bindings from a file (a path) or an already parsed JSON object.

        A file may hold any form ProvToolbox reads: the bindings JSON (v3, with ``linked``), or
        bindings written as PROV (``tmpl:value_i`` / ``tmpl:2dvalue_i_j`` on entities named
        ``var:...``) in PROV-JSON, PROV-N, Turtle or PROV-XML; see
        :mod:`docket.provenance.bindings`.
        """
        if isinstance(source, Mapping):
            return cls.from_json(source)
        from docket.provenance.bindings import load_bindings

        return load_bindings(source)

    def to_json(self) -> dict[str, Any]:
        """The bindings JSON object (a deep copy), as ProvToolbox reads it."""
        # The values are plain JSON already; a JSON round trip copies them several times
        # faster than copy.deepcopy, and this runs on every recorded step.
        out: dict[str, Any] = {
            "var": json.loads(json.dumps(self.var)),
            "vargen": json.loads(json.dumps(self.vargen)),
            "context": dict(self.context),
        }
        if self.template is not None:
            out["template"] = self.template
        if self.linked:
            out["linked"] = dict(self.linked)
        if self.documentation is not None:
            out["@documentation"] = json.loads(json.dumps(self.documentation))
        return out

    def dumps(self, indent: int | None = 2) -> str:
        """The bindings as JSON text."""
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)

    def save(self, path: str | os.PathLike) -> None:
        """Write the bindings to ``path`` as JSON."""
        Path(path).write_text(self.dumps() + "\n", encoding="utf-8")

    def _entries(self, variable: QualifiedName) -> list | None:
        section = self.vargen if _is_vargen(variable) else self.var
        return section.get(variable.localpart)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def load_template(path: str | os.PathLike) -> ProvDocument:
    """Read a template file; the format follows the extension (.json is PROV-JSON).

    Also read: .xml (PROV-XML), .provn (PROV-N), .trig (PROV-O TriG, bundles kept), .ttl
    (PROV-O Turtle: Turtle has no bundles, so such a template expands to a document without one)
    and .jsonld. The template's shape is checked by :func:`expand`.
    """
    from docket.provenance import export

    path = Path(path)
    fmt = _TEMPLATE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(
            f"template {path}: unknown extension {path.suffix!r}; "
            f"use one of {', '.join(_TEMPLATE_FORMATS)}"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"template file {path} does not exist") from None
    except OSError as exc:
        raise BadInput(f"cannot read template {path}: {exc.strerror or exc}") from None
    try:
        return export.deserialize(data, fmt)
    except BadInput as exc:
        raise BadInput(f"template {path}: {exc.message}") from None
    except Exception as exc:  # prov's readers raise anything from ValueError to lxml errors
        raise BadInput(f"template {path} is not valid {fmt.upper()}: {exc}") from None


def _template_bundle(template: ProvDocument) -> ProvBundle:
    bundles = list(template.bundles)
    if len(bundles) > 1:
        raise BadInput(f"a PROV template holds one bundle; this one holds {len(bundles)}")
    if bundles and template.get_records():
        raise BadInput("a PROV template holds one bundle and no statements outside it")
    return bundles[0] if bundles else template


def _primary_positions(record: ProvRecord) -> set[QualifiedName]:
    """The arguments without which a relation says nothing: an unbound var: there drops it."""
    qnames = [attr for attr in record.FORMAL_ATTRIBUTES if attr in PROV_ATTRIBUTE_QNAMES]
    primary = set(qnames[:2])
    if PROV_ATTR_BUNDLE in qnames:  # mentionOf(specific, general, bundle): all mandatory
        primary.add(PROV_ATTR_BUNDLE)
    return primary


@dataclass
class _Statement:
    record: ProvRecord
    node_vars: list[QualifiedName]  # group variables, in order of appearance
    id_var: QualifiedName | None  # a relation's identifier, a statement-level variable
    attr_vars: list[QualifiedName]  # statement-level variables in attribute values

    @cached_property
    def text(self) -> str:
        """The template statement in PROV-N, for messages."""
        return self.record.get_provn()


@dataclass
class _Analysis:
    statements: list[_Statement]
    group_of: dict[QualifiedName, int]
    groups: list[list[QualifiedName]]
    statement_level: set[QualifiedName]
    bundle_var: QualifiedName | None


def _analyse(
    container: ProvBundle, extra_links: Iterable[tuple[QualifiedName, QualifiedName]] = ()
) -> _Analysis:
    """Classify the template's variables; ``extra_links`` are the bindings' ``linked`` pairs."""
    statements: list[_Statement] = []
    node_vars: dict[QualifiedName, None] = {}
    statement_level: dict[QualifiedName, str] = {}
    links: list[tuple[QualifiedName, QualifiedName]] = []
    for record in container.get_records():
        nodes: list[QualifiedName] = []
        id_var = None
        if isinstance(record, ProvElement):
            if _is_variable(record.identifier):
                nodes.append(record.identifier)
        elif _is_variable(record.identifier):
            id_var = record.identifier
            statement_level.setdefault(id_var, record.get_provn())
        for attr, value in record.formal_attributes:
            if attr in PROV_ATTRIBUTE_QNAMES and _is_variable(value) and value not in nodes:
                nodes.append(value)
        attr_vars: list[QualifiedName] = []
        for name, value in record.extra_attributes:
            if _is_variable(name):
                raise BadInput(
                    f"template statement {record.get_provn()}: a variable as an attribute "
                    f"name ({_show(name)}) is not supported"
                )
            if name == _LINKED:
                if not (_is_variable(record.identifier) and _is_variable(value)):
                    raise BadInput(
                        f"template statement {record.get_provn()}: tmpl:linked links two "
                        "variables: the statement's identifier and the attribute's value"
                    )
                if value == record.identifier:
                    raise BadInput(
                        f"template statement {record.get_provn()}: tmpl:linked links "
                        f"{_show(value)} to itself; name the other variable"
                    )
                links.append((record.identifier, value))
                continue
            if _is_variable(value):
                attr_vars.append(value)
                statement_level.setdefault(value, record.get_provn())
        for variable in nodes:
            node_vars.setdefault(variable, None)
        statements.append(_Statement(record, nodes, id_var, attr_vars))
    for a, b in extra_links:
        if a == b:
            raise BadInput(f'bindings: "linked" links {_show(a)} to itself; name the other variable')
        for v in (a, b):
            if v in statement_level:
                raise BadInput(
                    f'bindings: "linked" links {_show(v)}, which the template uses as an '
                    f"attribute value or a relation identifier (in {statement_level[v]}); only "
                    "variables standing for nodes can be linked"
                )
        links.append((a, b))
    for a, b in links:
        node_vars.setdefault(a, None)
        node_vars.setdefault(b, None)
    both = [v for v in node_vars if v in statement_level]
    if both:
        v = both[0]
        raise BadInput(
            f"template variable {_show(v)} stands for a node and also for an attribute value or "
            f"a relation identifier (in {statement_level[v]}); the PROV-Template note forbids "
            "this: use two variables"
        )
    bundle_var = container.identifier if _is_variable(container.identifier) else None
    if bundle_var is not None and bundle_var in statement_level:
        raise BadInput(
            f"the bundle variable {_show(bundle_var)} may not also be an attribute value "
            "or a relation identifier"
        )
    groups, group_of = _group(sorted(node_vars, key=lambda q: q.uri), links)
    return _Analysis(statements, group_of, groups, set(statement_level), bundle_var)


def _group(
    variables: list[QualifiedName], links: list[tuple[QualifiedName, QualifiedName]]
) -> tuple[list[list[QualifiedName]], dict[QualifiedName, int]]:
    """The note's grouping: sorted by URI, linked variables (transitively) share a group."""
    parent = {v: v for v in variables}

    def root(v: QualifiedName) -> QualifiedName:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
    groups: list[list[QualifiedName]] = []
    by_root: dict[QualifiedName, int] = {}
    group_of: dict[QualifiedName, int] = {}
    for v in variables:  # already sorted: group numbers follow the first member's URI
        r = root(v)
        if r not in by_root:
            by_root[r] = len(groups)
            groups.append([])
        groups[by_root[r]].append(v)
        group_of[v] = by_root[r]
    return groups, group_of


def template_variables(template: ProvDocument) -> dict[str, dict[str, Any]]:
    """The variables a template uses, so that bindings can be written for it.

    Maps ``var:name`` / ``vargen:name`` to ``{"kind": "node" | "attribute" | "bundle",
    "group": n, "linked": [...]}`` (``group`` and ``linked`` for node variables only).
    """
    analysis = _analyse(_template_bundle(template))
    out: dict[str, dict[str, Any]] = {}
    if analysis.bundle_var is not None:
        out[_show(analysis.bundle_var)] = {"kind": "bundle"}
    for variable, g in analysis.group_of.items():
        entry = out.setdefault(_show(variable), {})
        entry.setdefault("kind", "node")
        entry["group"] = g
        entry["linked"] = [_show(v) for v in analysis.groups[g] if v != variable]
    for variable in sorted(analysis.statement_level, key=lambda q: q.uri):
        out[_show(variable)] = {"kind": "attribute"}
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expansion:
    """What :func:`expand` returns.

    ``bindings`` are complete: the input bindings plus the identifiers generated for unbound
    ``vargen:`` variables (under ``vargen``, their namespace in ``context``). Expanding the same
    template with them reproduces ``document``. ``notes`` says, one line each, which template
    statements were dropped for unbound variables and which bound variables the template does not
    use: the usual signs of a typo in a template or in bindings.
    """

    document: ProvDocument
    bindings: Bindings
    notes: tuple[str, ...] = ()

    @property
    def bundle(self) -> ProvBundle | None:
        """The expanded bundle (None for a template without one, e.g. read from Turtle)."""
        bundles = list(self.document.bundles)
        return bundles[0] if bundles else None


def _vargen_namespace(value: Namespace | str | None) -> Namespace:
    if value is None:
        return UUID
    if isinstance(value, Namespace):
        return value
    prefix, sep, uri = str(value).partition("=")
    if not sep:
        prefix, uri = "gen", str(value)
    if not prefix or not uri:
        raise BadInput(f"vargen namespace {value!r}: give PREFIX=URI or a URI")
    return UUID if uri == UUID.uri and prefix == UUID.prefix else Namespace(prefix, uri)


class _Values:
    """Resolves binding entries to prov values and generates what ``vargen:`` needs."""

    def __init__(
        self, bindings: Bindings, namespaces: Iterable[Namespace], generated_ns: Namespace
    ) -> None:
        self.bindings = bindings
        self.prefixes: dict[str, Namespace] = {XSD.prefix: XSD, PROV.prefix: PROV}
        for ns in namespaces:
            self.prefixes.setdefault(ns.prefix, ns)
        for prefix, uri in bindings.context.items():
            self.prefixes[prefix] = Namespace(prefix, uri)
        self.generated_ns = generated_ns
        known = bindings.context.get(generated_ns.prefix)
        if known is not None and known != generated_ns.uri:
            raise BadInput(
                f"the namespace for generated identifiers is {generated_ns.prefix}: "
                f"{generated_ns.uri}, but the bindings' context gives {generated_ns.prefix}: {known}"
            )
        self._generated: dict[str, list[QualifiedName]] = {}

    def qname(self, text: str, where: str) -> QualifiedName:
        prefix, _, local = text.partition(":")
        ns = self.prefixes.get(prefix)
        if ns is None:
            raise BadInput(
                f"{where}: prefix {prefix!r} of {text!r} is not declared; add it to the "
                "bindings' context"
            )
        return ns[local]

    def value(self, entry: Any, where: str) -> Any:
        """A prov attribute value from one binding value (JSON form)."""
        if not isinstance(entry, Mapping):
            return entry
        if "@id" in entry:
            return self.qname(entry["@id"], where)
        raw = entry["@value"]
        if "@language" in entry:
            return Literal(raw, langtag=entry["@language"])
        if "@type" not in entry:
            return raw
        datatype = self.qname(entry["@type"], where)
        if datatype in (XSD_QNAME, PROV_QUALIFIEDNAME):
            return self.qname(str(raw), where)
        if datatype == XSD_STRING:
            return str(raw)
        if datatype == XSD_ANYURI:
            return Identifier(str(raw))
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        return Literal(raw, datatype)

    def node(self, entry: Any, where: str) -> QualifiedName:
        value = self.value(entry, where) if not isinstance(entry, list) else None
        if not isinstance(value, QualifiedName):
            raise BadInput(
                f'{where}: {entry!r} is not an identifier; a node is bound to {{"@id": "prefix:name"}}'
            )
        return value

    def nodes(self, variable: QualifiedName) -> list[QualifiedName] | None:
        entries = self.bindings._entries(variable)
        if entries is None:
            return None
        return [self.node(e, f"bindings: {_show(variable)}[{i}]") for i, e in enumerate(entries)]

    def new_id(self) -> QualifiedName:
        return self.generated_ns[str(uuid.uuid4())]

    def remember(self, variable: QualifiedName, values: list[QualifiedName]) -> None:
        self._generated[variable.localpart] = values

    def generated_at(self, variable: QualifiedName, count: int) -> QualifiedName:
        """The identifier generated for a statement-level vargen: in instantiation ``count``."""
        values = self._generated.setdefault(variable.localpart, [])
        while len(values) <= count:
            values.append(self.new_id())
        return values[count]

    @property
    def generated(self) -> dict[str, list]:
        """The generated values in the bindings' JSON form."""
        prefix = self.generated_ns.prefix
        return {
            name: [{"@id": f"{prefix}:{v.localpart}"} for v in values]
            for name, values in self._generated.items()
        }

    def statement_entry(self, variable: QualifiedName, count: int, statement: str) -> list | None:
        """The values of a statement-level variable in instantiation ``count``; None if unbound."""
        entries = self.bindings._entries(variable)
        if not entries:
            return None
        if count >= len(entries):
            raise BadInput(
                f"bindings: {_show(variable)} has {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} "
                f"but {statement} needs one per instantiation (at least {count + 1}); bind it to a "
                "list with one entry (a value or a list of values) per instantiation"
            )
        entry = entries[count]
        where = f"bindings: {_show(variable)}[{count}]"
        if isinstance(entry, list):
            return [self.value(e, f"{where}[{j}]") for j, e in enumerate(entry)]
        return [self.value(entry, where)]


def _indices(sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """Every variable value index, in the note's order: the first position varies fastest."""
    for combo in itertools.product(*(range(n) for n in reversed(sizes))):
        yield tuple(reversed(combo))


def _as_datetime(value: Any, variable: str, statement: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    text = value.value if isinstance(value, Literal) else value
    parsed = parse_xsd_datetime(text) if isinstance(text, str) else None
    if parsed is None:
        raise BadInput(
            f"{variable} in {statement} must be an xsd:dateTime such as "
            f"2024-05-01T12:00:00Z, got {text!r}"
        )
    return parsed


def expand(
    template: ProvDocument,
    bindings: Bindings | Mapping | str | os.PathLike,
    *,
    vargen_namespace: Namespace | str | None = None,
    add_order: bool = False,
    strict: bool = False,
) -> Expansion:
    """Expand ``template`` with ``bindings`` (see the module docstring for the rules).

    ``bindings`` is a :class:`Bindings`, or what :meth:`Bindings.load` takes (a path or a parsed
    JSON object).

    ``vargen_namespace`` is where identifiers for unbound ``vargen:`` variables are made: a prov
    ``Namespace``, ``"prefix=URI"`` or a URI (prefix ``gen``); default ``uuid:`` =
    ``urn:uuid:``. ``add_order`` adds the note's ``tmpl:order`` attribute (which combination of
    values made each statement). ``strict`` turns an unbound ``var:`` in a statement's identifier
    or main arguments into an error instead of dropping the statement. Raises
    :class:`~docket.errors.BadInput` naming the variable or statement at fault.
    """
    if not isinstance(bindings, Bindings):
        bindings = Bindings.load(bindings)
    container = _template_bundle(template)
    # The analysis depends on the template only; templates are loaded once and reused (the
    # recorder caches them), so keep it on the bundle rather than redo it per expansion.
    analysis = getattr(container, "_docket_analysis", None)
    if analysis is None:
        analysis = _analyse(container)
        container._docket_analysis = analysis  # type: ignore[attr-defined]
    notes: list[str] = []
    if bindings.linked:  # ProvToolbox's bindings-level tmpl:linked: regroup for these bindings
        extra = _bindings_links(bindings, analysis, notes)
        if extra:
            analysis = _analyse(container, extra)
    values = _Values(
        bindings, container.namespaces | template.namespaces, _vargen_namespace(vargen_namespace)
    )

    # Group variables: sizes, values, generated identifiers.
    sizes: list[int] = []
    node_values: dict[QualifiedName, list[QualifiedName] | None] = {}
    for members in analysis.groups:
        bound = {v: vals for v in members if (vals := values.nodes(v)) is not None}
        lengths = {len(vals) for vals in bound.values()}
        if len(lengths) > 1:
            counts = ", ".join(f"{_show(v)} has {len(vals)}" for v, vals in bound.items())
            raise BadInput(
                f"bindings: linked variables change value together and need as many values "
                f"each, but {counts}"
            )
        size = lengths.pop() if lengths else 1
        sizes.append(size)
        for v in members:
            if v in bound:
                node_values[v] = bound[v]
            elif _is_vargen(v):
                node_values[v] = [values.new_id() for _ in range(size)]
                values.remember(v, node_values[v])
            else:
                node_values[v] = None

    # The bundle.
    bundle_id = container.identifier
    if analysis.bundle_var is not None:
        bv = analysis.bundle_var
        ids = node_values[bv] if bv in node_values else values.nodes(bv)
        if ids is None and _is_vargen(bv):
            ids = [values.new_id()]
            values.remember(bv, ids)
        if not ids or len(ids) != 1:
            got = "is unbound" if ids is None else f"has {len(ids)} values"
            raise BadInput(
                f"bindings: the bundle variable {_show(bv)} needs exactly one identifier but {got}"
            )
        bundle_id = ids[0]
    document = ProvDocument()
    target: ProvBundle = document.bundle(bundle_id) if bundle_id is not None else document

    most = MAX_BINDING_VALUES
    for statement in analysis.statements:
        count = 1
        for g in {analysis.group_of[v] for v in statement.node_vars}:
            count *= sizes[g]
        if count > most:
            raise BadInput(
                f"bindings: {statement.text} would be instantiated {count} times, more than "
                f"{most} (docket's limit MAX_BINDING_VALUES)"
            )
    for statement in analysis.statements:
        _expand_statement(
            statement, analysis, sizes, node_values, values, target, notes, add_order, strict
        )

    used = {
        v.localpart for v in (*analysis.group_of, *analysis.statement_level) if not _is_vargen(v)
    }
    if analysis.bundle_var is not None and not _is_vargen(analysis.bundle_var):
        used.add(analysis.bundle_var.localpart)
    for name in sorted(set(bindings.var) - used):
        notes.append(f"bindings variable var:{name} is not used by the template")

    if not values.generated:  # nothing was generated: the bindings given are the complete ones
        return Expansion(document, bindings, tuple(notes))
    complete = bindings.to_json()
    complete["vargen"].update(values.generated)
    complete["context"].setdefault(values.generated_ns.prefix, values.generated_ns.uri)
    return Expansion(document, Bindings.from_json(complete), tuple(notes))


def _bindings_links(
    bindings: Bindings, analysis: _Analysis, notes: list[str]
) -> list[tuple[QualifiedName, QualifiedName]]:
    """The bindings' ``linked`` pairs as variables; a pair the template does not use is noted."""
    used = set(analysis.group_of) | analysis.statement_level
    out = []
    for a, b in bindings.linked.items():
        pair = (_linked_variable(a), _linked_variable(b))
        if not any(v in used for v in pair):
            notes.append(
                f"bindings: linked {_show(pair[0])} and {_show(pair[1])}: the template uses neither"
            )
            continue
        out.append(pair)
    return out


def _expand_statement(
    statement: _Statement,
    analysis: _Analysis,
    sizes: list[int],
    node_values: dict[QualifiedName, list[QualifiedName] | None],
    values: _Values,
    target: ProvBundle,
    notes: list[str],
    add_order: bool,
    strict: bool,
) -> None:
    record = statement.record
    usage = sorted({analysis.group_of[v] for v in statement.node_vars})
    position = {g: i for i, g in enumerate(usage)}
    primary = _primary_positions(record)
    noted: set[str] = set()

    def drop(variable: QualifiedName, why: str) -> None:
        if strict:
            raise BadInput(
                f"template variable {_show(variable)} is unbound, but {statement.text} needs it ({why})"
            )
        note = f"dropped {statement.text}: {_show(variable)} is unbound"
        if note not in noted:
            noted.add(note)
            notes.append(note)

    for count, index in enumerate(_indices([sizes[g] for g in usage])):

        def node(q: Any, index: tuple[int, ...] = index) -> Any:
            if not _is_variable(q):
                return q
            vals = node_values[q]
            return None if vals is None else vals[index[position[analysis.group_of[q]]]]

        # Identifier.
        if isinstance(record, ProvElement):
            identifier = node(record.identifier)
            if identifier is None:
                drop(record.identifier, "it is the identifier")
                continue
        elif statement.id_var is not None:
            identifier = _statement_id(statement, count, values)
        else:
            identifier = record.identifier

        # Formal attributes (the arguments of a relation, the times of an activity).
        formal: dict[QualifiedName, Any] = {}
        skip = False
        for attr, value in record.formal_attributes:
            if attr in PROV_ATTRIBUTE_QNAMES and _is_variable(value):
                new = node(value)
                if new is None:
                    if attr in primary:
                        drop(value, f"it is the {attr.localpart}")
                        skip = True
                        break
                    continue  # an optional argument: the note drops just the argument
                formal[attr] = new
            elif value is not None:
                formal[attr] = value
        if skip:
            continue

        # Other attributes.
        others: list[tuple[QualifiedName, Any]] = []
        for name, value in record.extra_attributes:
            if name == _LINKED:
                continue
            if _is_variable(value):
                entry = values.statement_entry(value, count, statement.text)
                if entry is None:
                    if not _is_vargen(value):
                        continue  # unbound var: drops the attribute
                    entry = [values.generated_at(value, count)]
                where = _show(value)
            else:
                entry, where = [value], f"the value of {name}"
            if name in _TIMES:
                _set_time(record, formal, _TIMES[name], entry, where, statement.text, name)
            else:
                others.extend((_RENAMED.get(name, name), v) for v in entry)
        if add_order and usage:
            others.append((_ORDER, "[" + ", ".join(map(str, index)) + "]"))
        try:
            target.new_record(record.get_type(), identifier, formal, others)
        except ProvException as exc:
            raise BadInput(f"cannot expand {statement.text}: {exc}") from None


def _statement_id(statement: _Statement, count: int, values: _Values) -> QualifiedName | None:
    variable = statement.id_var
    assert variable is not None
    entry = values.statement_entry(variable, count, statement.text)
    if entry is None:
        return values.generated_at(variable, count) if _is_vargen(variable) else None
    if len(entry) != 1 or not isinstance(entry[0], QualifiedName):
        raise BadInput(
            f"bindings: {_show(variable)}[{count}] identifies a relation and must be one "
            f'identifier {{"@id": "prefix:name"}}, got {entry!r}'
        )
    return entry[0]


def _set_time(
    record: ProvRecord,
    formal: dict[QualifiedName, Any],
    attr: QualifiedName,
    entry: list,
    where: str,
    text: str,
    name: QualifiedName,
) -> None:
    if attr not in record.FORMAL_ATTRIBUTES:
        raise BadInput(
            f"template statement {text}: tmpl:{name.localpart} does not apply to a "
            f"{record.get_type().localpart}"
        )
    if len(entry) != 1:
        raise BadInput(
            f"{where} sets tmpl:{name.localpart} of {text} and needs one value, got {len(entry)}"
        )
    formal[attr] = _as_datetime(entry[0], where, text)
