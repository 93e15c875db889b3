"""Form definitions: a form is data (``forms/<name>.json``), never code.

A definition holds a JSON Schema of the form's data, which ``$ref``s docket's packaged schemas by
their ``$id`` (so a form, the importer and the CLI validate with the very same rules), plus UI
hints the renderer and the offline export read: sections, widgets, labels and help per language.
See docs/forms.md for the format.

The form's data always uses the request document's own paths (``$.provider.email``,
``$.files[0].name``...), so a problem found in a form names the same JSON path as the same problem
found by the importer or by ``docket.submit``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from docket.errors import BadInput, InstanceError, NotFound, Problem
from docket.messages.portable import clean_value
from docket.resources import data_dir
from docket.validation import (
    RULES,
    SchemaSet,
    format_checker,
    problem_from_error,
    record_only_fields,
)

SUFFIX = ".json"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")

# Keys of a stored record that are not part of the request a provider writes.
RECORD_ONLY = record_only_fields()
HISTORY = "history"  # forms/history/<name>-<version>.json: earlier released versions of a form
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")

# Widgets a field may ask for; the renderer has one builder per name.
WIDGETS = frozenset({
    "text", "textarea", "email", "orcid", "url", "integer", "number", "bound", "date", "select",
    "checkbox", "multilingual", "tags", "group", "repeat",
})


def _is_blank(value: Any) -> bool:
    return value is None or value == {} or value == [] or (isinstance(value, str) and not value.strip())


def clean(value: Any) -> Any:
    """Drop what a provider left empty, so a blank input means "not given".

    Empty strings, ``None``, empty lists and empty objects disappear from objects (a missing
    required field then reports "is required" at its own path); blank strings disappear from
    lists of strings.
    Items of lists of objects are never dropped, so ``$.files[1]`` always names the second row a
    person sees, even while it is still empty. Strings are stripped of surrounding white space.
    (:func:`docket.messages.portable.clean_value`, which the offline notebook runs too.)
    """
    return clean_value(value)


def split_path(path: str) -> list[str]:
    """``metadata.project_descriptive`` -> ``["metadata", "project_descriptive"]``."""
    return [p for p in path.split(".") if p] if path else []


def localize(text: Any, language: str | None, fallback: str = "en") -> str:
    """A label, help text or title in ``language`` (else English, else any), or ``""``."""
    if isinstance(text, str):
        return text
    if isinstance(text, dict) and text:
        for lang in (language, fallback):
            if lang and isinstance(text.get(lang), str):
                return text[lang]
        first = next(iter(text.values()))
        return first if isinstance(first, str) else ""
    return ""


@dataclass
class Form:
    """One form definition, bound to the schemas (packaged or an instance's overrides)."""

    name: str
    version: str
    title: dict[str, str]
    schema: dict[str, Any]
    ui: dict[str, Any]
    description: dict[str, str] = field(default_factory=dict)
    mode: str = "new"  # "new": the form is the whole request; "merge": it replaces some top keys
    target: str = "request"
    source: str = "packaged"
    path: Path | None = None
    schemas: SchemaSet = field(default_factory=SchemaSet, repr=False)

    # -- the definition ------------------------------------------------------------------

    @property
    def languages(self) -> list[str]:
        """The languages the form's labels are written in."""
        return list(self.ui.get("languages") or ["en"])

    def label(self, text: Any, language: str | None) -> str:
        return localize(text, language)

    def sections(self) -> list[dict[str, Any]]:
        return list(self.ui.get("sections", []))

    def template(self, name: str) -> dict[str, Any]:
        """A reusable composite (e.g. ``contact`` = name + email + ORCID) from ``ui.templates``."""
        try:
            return self.ui["templates"][name]
        except KeyError:
            raise NotFound(f"form {self.name}: ui template {name!r} is not defined") from None

    def subfields(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """The fields inside a group or a repeatable group (inline, or from its template)."""
        if "fields" in spec:
            return list(spec["fields"])
        if "template" in spec:
            return list(self.template(spec["template"]).get("fields", []))
        return []

    def top_keys(self) -> list[str]:
        """The top-level keys of the request this form writes (for merging into a record)."""
        keys: list[str] = []
        for section in self.sections():
            for spec in section.get("fields", []):
                first = split_path(f"{section.get('path', '')}.{spec.get('key', '')}")[:1]
                if first and first[0] not in keys:
                    keys.append(first[0])
        return keys

    def iter_fields(self) -> Iterator[tuple[list[str], dict[str, Any]]]:
        """Every field spec with its full path (``["provider", "email"]``), depth first.

        Fields inside a repeatable group are given with ``"*"`` for the row index.
        """

        def walk(prefix: list[str], specs: list[dict[str, Any]]) -> Iterator[tuple[list[str], dict[str, Any]]]:
            for spec in specs:
                path = prefix + split_path(spec.get("key", ""))
                yield path, spec
                widget = spec.get("widget")
                if widget == "group":
                    yield from walk(path, self.subfields(spec))
                elif widget == "repeat":
                    yield from walk([*path, "*"], self.subfields(spec))

        for section in self.sections():
            yield from walk(split_path(section.get("path", "")), section.get("fields", []))

    # -- the schema -----------------------------------------------------------------------

    def validator(self) -> Draft202012Validator:
        if not hasattr(self, "_validator"):
            self._validator = Draft202012Validator(
                self.schema, registry=self.schemas.registry, format_checker=format_checker
            )
        return self._validator

    def schema_at(self, path: list[Any]) -> dict[str, Any]:
        """The (``$ref``-resolved) subschema that governs ``path`` of the form's data.

        ``"*"`` or an integer steps into array items. Returns ``{}`` where the schema says
        nothing (e.g. ``additionalProperties: true``). The renderer takes drop-down options,
        required marks and limits from here, so the UI never restates what the schema says.
        """
        key = tuple("*" if isinstance(p, int) else p for p in path)
        cache = self.__dict__.setdefault("_schema_cache", {})
        if key not in cache:
            cache[key] = self._schema_at(list(key))
        return cache[key]

    def _schema_at(self, path: list[str]) -> dict[str, Any]:
        resolver = self.schemas.registry.resolver(base_uri=self.schema.get("$id", ""))
        node, resolver = self._resolve(self.schema, resolver)
        for part in path:
            node, resolver = self._resolve(node, resolver)
            if part == "*" or isinstance(part, int):
                node = node.get("items", {})
            else:
                node = self._property(node, part, resolver)
        node, _ = self._resolve(node, resolver)
        return node

    def _resolve(self, node: dict[str, Any], resolver: Any) -> tuple[dict[str, Any], Any]:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            resolved = resolver.lookup(node["$ref"])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node, resolver = resolved.contents, resolved.resolver
            if extra:
                node = {**node, **extra}
            seen += 1
        return (node if isinstance(node, dict) else {}), resolver

    def _property(self, node: dict[str, Any], key: str, resolver: Any) -> dict[str, Any]:
        props = node.get("properties", {})
        if key in props:
            return props[key]
        for sub in node.get("allOf", []):
            sub, _ = self._resolve(sub, resolver)
            if key in sub.get("properties", {}):
                return sub["properties"][key]
        return {}

    def is_required(self, path: list[Any]) -> bool:
        """Whether the schema requires the last key of ``path`` in its parent object."""
        if not path or path[-1] == "*" or isinstance(path[-1], int):
            return False
        parent = self.schema_at(path[:-1])
        # dataset_structural is a Table Schema (what the form edits: its ``else``) or a package
        plain = parent.get("else") if isinstance(parent.get("else"), dict) else {}
        return path[-1] in parent.get("required", []) or path[-1] in plain.get("required", [])

    def options(self, path: list[str]) -> list[Any]:
        """The allowed values of an enumerated field, in the schema's order."""
        node = self.schema_at(path)
        if "enum" in node:
            return list(node["enum"])
        for alt in node.get("oneOf", []) + node.get("anyOf", []):
            if isinstance(alt, dict) and "enum" in alt:
                return list(alt["enum"])
        return []

    # -- data -----------------------------------------------------------------------------

    def clean(self, data: Any) -> Any:
        """:func:`clean`, except that a required object left empty stays as ``{}``.

        So an empty provider reports ``$.provider.name`` and ``$.provider.email`` as required,
        the fields a person must fill, rather than only ``$.provider``. The one cleaning
        function of the page, the importer and the offline notebook (which carries
        :mod:`docket.messages.portable` and this form's :meth:`keep_empty_paths`).
        """
        return clean_value(data, self.keep_empty_paths())

    def keep_empty_paths(self) -> frozenset[str]:
        """The starred paths (``provider``, ``files.*.x``) of the form's required objects."""
        if "_keep_empty_paths" not in self.__dict__:
            paths: set[tuple[str, ...]] = set()
            for path, _spec in self.iter_fields():
                paths.update(tuple(path[:n]) for n in range(1, len(path) + 1))
            self.__dict__["_keep_empty_paths"] = frozenset(
                ".".join(p) for p in sorted(paths) if p[-1] != "*" and self._keep_empty(list(p)))
        return self.__dict__["_keep_empty_paths"]

    def _keep_empty(self, path: list[Any]) -> bool:
        try:
            return self.is_required(path) and self.schema_at(path).get("type") == "object"
        except Exception:  # an unresolvable corner of an override schema: treat as optional
            return False

    def problems(self, data: Any) -> list[Problem]:
        """Every error in the form's data, each with the JSON path the core would give it.

        Blank inputs count as not given (see :func:`clean`); cross-field rules of the target
        schema (e.g. a coverage that ends before it starts) apply too.
        """
        doc = self.clean(data)
        found = [problem_from_error(e) for e in self.validator().iter_errors(doc)]
        if isinstance(doc, dict):
            for check in RULES.get(self.target, []):
                found.extend(check(doc))
        return sorted(dict.fromkeys(found), key=lambda p: p.where)

    def blank(self) -> dict[str, Any]:
        """An empty document of the form's shape: every field present with an empty value.

        Multilingual fields hold one empty entry per form language; a repeatable group holds as
        many empty rows as its ``rows`` hint says (default none). Feeding a blank back
        to :meth:`problems` lists what is required.
        """
        out: dict[str, Any] = {}
        for section in self.sections():
            base = split_path(section.get("path", ""))
            target = _ensure(out, base)
            for spec in section.get("fields", []):
                self._blank_into(target, base, spec)
        return out

    def blank_row(self, spec: dict[str, Any], path: list[str] | None = None) -> dict[str, Any]:
        """One empty row of a repeatable group (what "add" appends)."""
        row: dict[str, Any] = {}
        for sub in self.subfields(spec):
            self._blank_into(row, [*(path or []), "*"], sub)
        return row

    def _blank_into(self, target: dict[str, Any], base: list[str], spec: dict[str, Any]) -> None:
        keys = split_path(spec.get("key", ""))
        path = base + keys
        parent = _ensure(target, keys[:-1])
        parent[keys[-1]] = self.blank_value(spec, path)

    def blank_value(self, spec: dict[str, Any], path: list[str]) -> Any:
        widget = spec.get("widget", "text")
        if widget == "multilingual":
            return dict.fromkeys(self.languages, "")
        if widget == "group":
            group: dict[str, Any] = {}
            for sub in self.subfields(spec):
                self._blank_into(group, path, sub)
            return group
        if widget == "repeat":
            rows = int(spec.get("rows", 0))
            return [self.blank_row(spec, path) for _ in range(rows)]
        if widget == "tags":
            return []
        if widget in ("integer", "number", "select", "checkbox"):
            return None
        return ""

    def from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The part of a stored record (or request) this form shows, to edit it."""
        doc = request_part(record)
        return {k: copy.deepcopy(doc[k]) for k in self.top_keys() if k in doc}

    def to_request(self, data: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
        """The request document to hand to ``submit`` (or ``revise`` with ``existing``).

        The form's own top-level keys come from ``data`` (a key left empty is removed); every
        other key of ``existing`` (a stored record or a request) is kept, so a short form such as
        the file resubmission changes only what it shows. A ``merge`` form needs ``existing``.
        """
        doc = self.clean(data)
        if not isinstance(doc, dict):
            raise BadInput(f"form {self.name}: the data must be a JSON object, not {type(data).__name__}")
        if existing is None:
            if self.mode == "merge":
                raise BadInput(f"form {self.name} changes an existing request: give the request to merge into")
            return doc
        out = request_part(existing)
        for key in self.top_keys():
            if key in doc:
                out[key] = doc[key]
            else:
                out.pop(key, None)
        for key, value in doc.items():  # keys the form carries beyond its sections
            out.setdefault(key, value)
        return out

    def as_dict(self) -> dict[str, Any]:
        """The definition as it is stored (for export and for digests)."""
        out = {"name": self.name, "version": self.version, "title": self.title}
        if self.description:
            out["description"] = self.description
        out.update({"mode": self.mode, "target": self.target, "schema": self.schema, "ui": self.ui})
        return out


def _ensure(target: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    for key in keys:
        target = target.setdefault(key, {})
    return target


def request_part(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record without the fields docket adds (id, revision, states, audit fields)."""
    return {k: copy.deepcopy(v) for k, v in record.items() if k not in RECORD_ONLY}


# -- finding and loading ------------------------------------------------------------------------


def _instance_root(instance: Any) -> Path | None:
    """The folder of ``instance``: a Docket, an Instance, a path, or None."""
    if instance is None:
        return None
    inst = getattr(instance, "instance", instance)  # a Docket carries its Instance
    root = getattr(inst, "root", None)
    if root is not None:
        return Path(root)
    return Path(os.fspath(instance))


def _schema_set(instance: Any) -> SchemaSet:
    schemas = getattr(instance, "schemas", None)
    if isinstance(schemas, SchemaSet):
        return schemas
    root = _instance_root(instance)
    return SchemaSet(root / "schemas" if root else None)


def form_dirs(instance: Any = None) -> list[tuple[str, Path]]:
    """Where forms are looked for, first match wins: the instance's ``forms/``, then docket's."""
    dirs: list[tuple[str, Path]] = []
    root = _instance_root(instance)
    if root is not None:
        dirs.append(("instance", root / "forms"))
    with contextlib.suppress(FileNotFoundError):
        dirs.append(("packaged", data_dir("forms")))
    return dirs


def list_forms(instance: Any = None) -> list[str]:
    """The names of every form available (packaged ones and the instance's), sorted."""
    names: set[str] = set()
    for _, folder in form_dirs(instance):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob(f"*{SUFFIX}") if _NAME.match(p.stem))
    return sorted(names)


def load_form(name: str, instance: Any = None, version: str | None = None) -> Form:
    """The form ``name``; an instance's ``forms/<name>.json`` overrides the packaged one.

    ``instance`` may be a :class:`~docket.api.Docket`, an instance or its folder; its schema
    overrides then apply to the form too. ``version`` asks for an earlier released version,
    kept as ``forms/history/<name>-<version>.json`` (offline forms exported before the form
    changed are checked against the definition they were exported from). Raises
    :class:`NotFound` naming the form (and version) and the forms that exist, or
    :class:`InstanceError` naming a broken definition file.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise NotFound(f"no form {name!r}: a form name is a lower-case slug (forms: {', '.join(list_forms(instance)) or 'none'})")
    for source, folder in form_dirs(instance):
        path = folder / f"{name}{SUFFIX}"
        if path.is_file():
            form = parse_form(_read(path), source=source, path=path, schemas=_schema_set(instance))
            if version is None or version == form.version:
                return form
            if not isinstance(version, str) or not _VERSION.match(version):
                raise NotFound(f"form {name} has no version {version!r}")
            old = folder / HISTORY / f"{name}-{version}{SUFFIX}"
            if old.is_file():
                data = _read(old)
                if data.get("name") != name or data.get("version") != version:
                    raise InstanceError(f"form history file {old.name} holds {data.get('name')!r} "
                                        f"version {data.get('version')!r}")
                return parse_form(data, source=source, schemas=_schema_set(instance))
            raise NotFound(f"form {name} has no version {version} (this instance has {form.version})")
    raise NotFound(f"no form {name!r} (forms: {', '.join(list_forms(instance)) or 'none'})")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InstanceError(f"form definition {path.name} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InstanceError(f"form definition {path.name} must be a JSON object")
    return data


def parse_form(
    data: dict[str, Any],
    *,
    source: str = "packaged",
    path: Path | None = None,
    schemas: SchemaSet | None = None,
) -> Form:
    """Check a form definition and bind it to ``schemas``; every fault is named."""
    where = f"form definition {path.name if path else data.get('name', '?')}"
    problems = list(definition_problems(data))
    if problems:
        raise InstanceError(f"{where} is broken ({len(problems)} problem(s))", problems)
    if path is not None and data["name"] != path.stem:
        raise InstanceError(f"{where}: its name {data['name']!r} differs from its file name {path.stem!r}")
    title = data["title"] if isinstance(data["title"], dict) else {"en": data["title"]}
    form = Form(
        name=data["name"], version=str(data["version"]), title=title, schema=data["schema"], ui=data["ui"],
        description=data.get("description") or {}, mode=data.get("mode", "new"),
        target=data.get("target", "request"), source=source, path=path, schemas=schemas or SchemaSet(),
    )
    try:
        form.validator()
        form.schema_at([])
    except Exception as exc:  # an unresolvable $ref names the form, not a traceback
        raise InstanceError(f"{where}: its schema cannot be resolved: {exc}") from exc
    return form


def definition_problems(data: dict[str, Any]) -> Iterator[Problem]:
    """What is wrong with a form definition's own structure (not with a form's data)."""
    for key in ("name", "version", "title", "schema", "ui"):
        if key not in data:
            yield Problem(f"$.{key}", "is required")
    if data.get("mode", "new") not in ("new", "merge"):
        yield Problem("$.mode", f"{data.get('mode')!r} is not one of new, merge")
    schema = data.get("schema")
    if "schema" in data:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            yield Problem("$.schema", f"is not a valid JSON Schema: {exc.message}")
    ui = data.get("ui")
    if "ui" in data and not isinstance(ui, dict):
        yield Problem("$.ui", "must be an object")
        return
    if not isinstance(ui, dict):
        return
    templates = ui.get("templates", {})
    for i, section in enumerate(ui.get("sections", [])):
        if not isinstance(section, dict):
            yield Problem(f"$.ui.sections[{i}]", "must be an object")
            continue
        yield from _spec_problems(section.get("fields", []), f"$.ui.sections[{i}].fields", templates)
    for name, tpl in templates.items():
        yield from _spec_problems(tpl.get("fields", []), f"$.ui.templates.{name}.fields", templates)


def _spec_problems(specs: Any, where: str, templates: dict[str, Any]) -> Iterator[Problem]:
    if not isinstance(specs, list):
        yield Problem(where, "must be a list")
        return
    for i, spec in enumerate(specs):
        at = f"{where}[{i}]"
        if not isinstance(spec, dict) or not spec.get("key"):
            yield Problem(at, "a field needs a key")
            continue
        widget = spec.get("widget", "text")
        if widget not in WIDGETS:
            yield Problem(f"{at}.widget", f"{widget!r} is not one of {', '.join(sorted(WIDGETS))}")
        if widget in ("group", "repeat"):
            if "template" in spec and spec["template"] not in templates:
                yield Problem(f"{at}.template", f"no template {spec['template']!r} in ui.templates")
            elif "template" not in spec:
                yield from _spec_problems(spec.get("fields", []), f"{at}.fields", templates)
