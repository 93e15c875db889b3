"""Validating a Table Schema before any data are read: the official profile, then the spec's prose.

A schema is checked against the official Table Schema profile (JSON Schema, shipped in
``profiles/``): version 1.0, or 2.0 when the descriptor's ``$schema`` names the 2.0 profile. The
profiles express the shape of a descriptor but not the rules the specification states in prose,
which are checked here too: a primary key, unique key or foreign key naming a field the schema
does not declare, a foreign key whose two field lists differ in length, a field name declared
twice, and constraints whose value is not of the field's type (``minimum: "a"`` on an integer).

Every violation is a :class:`~docket.errors.Problem` whose ``where`` is the JSON path of the
offending value (``$.fields[2].constraints.unique``). What the spec allows but is almost surely a
mistake (``"required": true`` on the field itself instead of in its ``constraints``) is returned
as a warning saying what was meant.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from docket.errors import Problem

PROFILE_V2 = "https://datapackage.org/profiles/2.0/tableschema.json"
#: Field keys that, on the field itself, are almost surely a misplaced constraint.
_MISPLACED_CONSTRAINTS = ("required", "unique", "enum", "minimum", "maximum", "pattern",
                          "minLength", "maxLength", "exclusiveMinimum", "exclusiveMaximum")


def profile_version(schema: dict[str, Any]) -> str:
    """``"2.0"`` when the descriptor declares the 2.0 profile, else ``"1.0"``."""
    declared = schema.get("$schema")
    if isinstance(declared, str) and "/2.0/" in declared:
        return "2.0"
    return "1.0"


@cache
def _profile(version: str, name: str = "tableschema") -> dict[str, Any]:
    text = resources.files("docket.checks").joinpath("profiles", version, f"{name}.json")
    return json.loads(text.read_text(encoding="utf-8"))


@cache
def _validator(version: str, name: str = "tableschema"):
    """The compiled validator of the profile (``jsonschema_rs``: ``docket check`` must not load
    the slow ``jsonschema`` stack, ``tests/test_startup.py``)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(_profile(version, name))


def _kind(error) -> str:
    return type(error.kind).__name__


def _is_branching(error) -> bool:
    return _kind(error) in ("OneOfNotValid", "AnyOf") and bool(getattr(error.kind, "context", None))


def _path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _field_branch(error, version: str):
    """For a field that matched no branch of the profile's ``oneOf``, the errors of the branch
    for its own type (the string branch when it has none), so the path names the real culprit."""
    if not isinstance(error.instance, dict):
        return None
    kind = error.instance.get("type", "string")
    node: Any = _profile(version)
    for part in error.schema_path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if not isinstance(node, list):
        return None
    for index, branch in enumerate(node):
        enum = ((branch.get("properties", {}) if isinstance(branch, dict) else {})
                .get("type") or {}).get("enum") or []
        if kind in enum and index < len(error.kind.context):
            return error.kind.context[index]
    return None


def _best_branch(error) -> list:
    """The errors of the branch that got furthest: deepest path, then fewest errors."""
    branches = [errs for errs in error.kind.context if errs]
    if not branches:
        return [error]
    return max(branches, key=lambda errs: (max(len(e.instance_path) for e in errs), -len(errs)))


def _deepest(error, version: str) -> list:
    """The leaf errors under ``error`` (a oneOf/anyOf explains itself through its branches)."""
    if not _is_branching(error):
        return [error]
    parts = list(error.instance_path)
    if _kind(error) == "OneOfNotValid" and len(parts) == 2 and parts[0] == "fields":
        branch = _field_branch(error, version)
        if branch:
            return [leaf for e in branch for leaf in _deepest(e, version)]
        if isinstance(error.instance, dict) and "type" in error.instance:
            return [error]  # an unknown type: the error is the field's type itself
    return [leaf for e in _best_branch(error) for leaf in _deepest(e, version)]


def _unknown_type(error) -> bool:
    return (_kind(error) == "OneOfNotValid" and isinstance(error.instance, dict)
            and "type" in error.instance and len(error.instance_path) == 2)


def _message(error) -> str:
    if _unknown_type(error):
        return f"unknown field type {error.instance['type']!r}"
    return error.message


def profile_problems(schema: dict[str, Any]) -> list[Problem]:
    """Violations of the official Table Schema profile, each with its JSON path."""
    version = profile_version(schema)
    problems = []
    seen = set()
    for error in _validator(version).iter_errors(schema):
        for leaf in _deepest(error, version):
            where = _path(leaf.instance_path)
            if (_kind(leaf).startswith("OneOf") and isinstance(leaf.instance, dict)
                    and "type" in leaf.instance):
                where += ".type"
            key = (where, _message(leaf))
            if key not in seen:
                seen.add(key)
                problems.append(Problem(where, f"{key[1]} (Table Schema {version} profile)"))
    return problems


#: Profiles of the descriptors that hold tables, with the words a problem uses for them.
PACKAGE_PROFILES = {"datapackage": "Data Package", "dataresource": "Data Resource"}


def descriptor_version(descriptor: dict[str, Any]) -> str:
    """``"2.0"`` when a package or resource declares a 2.0 profile (``$schema``), else ``"1.0"``
    (version 1 names its profile in ``profile``, by name or URL, or not at all)."""
    return profile_version(descriptor)


def descriptor_problems(descriptor: dict[str, Any], name: str) -> list[Problem]:
    """Violations of the official Data Package (``name="datapackage"``) or Data Resource
    (``"dataresource"``) profile, each with its JSON path; the profile embeds the Table Schema
    profile, so an inline schema's problems are named under ``$.resources[i].schema``."""
    version = descriptor_version(descriptor)
    words = PACKAGE_PROFILES[name]
    problems, seen = [], set()
    for error in _validator(version, name).iter_errors(descriptor):
        for leaf in _deepest(error, version):
            if _dialect_default(leaf) or _in_schema(leaf, name):
                continue
            key = (_path(leaf.instance_path), leaf.message)
            if key not in seen:
                seen.add(key)
                problems.append(Problem(key[0], f"{key[1]} ({words} {version} profile)"))
    return problems


def _in_schema(error, name: str) -> bool:
    """Whether the error lies inside a resource's inline Table Schema: the package profile's copy
    of the Table Schema profile explains a field through the wrong ``oneOf`` branch ("'integr' is
    not one of 'string'"), so the schema is left to :func:`profile_problems`, which names the
    field's own type, through ``load_table_schema``."""
    parts = list(error.instance_path)
    at = 2 if name == "datapackage" else 0
    return len(parts) > at + 1 and parts[at] == "schema" and (at == 0 or parts[0] == "resources")


def _dialect_default(error) -> bool:
    """The 1.0 package and resource profiles require ``delimiter`` and ``doubleQuote`` in a
    dialect, although the CSV Dialect spec 1.0 makes every property optional with a default (","
    and true), as the 2.0 profiles do; docket follows the spec, as frictionless does."""
    parts = list(error.instance_path)
    return (_kind(error) == "Required" and bool(parts) and parts[-1] == "dialect"
            and any(f'"{key}"' in error.message for key in ("delimiter", "doubleQuote")))


def reference_problems(schema: dict[str, Any], schemas: dict[str, dict[str, Any] | None]
                       ) -> list[Problem]:
    """Foreign keys in a package: each names a resource of the package (``schemas``: every
    resource's name and schema, None when it has none) and fields that resource declares."""
    problems: list[Problem] = []
    fks = schema.get("foreignKeys")
    for k, fk in enumerate(fks if isinstance(fks, list) else []):
        ref = fk.get("reference") if isinstance(fk, dict) else None
        if not isinstance(ref, dict):
            continue
        resource = ref.get("resource") or ""
        if not isinstance(resource, str) or resource == "":
            continue
        if resource not in schemas:
            known = ", ".join(repr(n) for n in schemas) or "none"
            problems.append(Problem(f"$.foreignKeys[{k}].reference.resource",
                                    f"names {resource!r}, which is not a resource of this package "
                                    f"(resources: {known})"))
            continue
        target = schemas[resource]
        if target is None:
            continue  # no schema: its header is read at check time
        declared = [f.get("name") for f in target.get("fields") or [] if isinstance(f, dict)]
        for name in _names(ref.get("fields")) or []:
            if name not in declared:
                problems.append(Problem(f"$.foreignKeys[{k}].reference.fields",
                                        f"names {name!r}, which is not a field of resource "
                                        f"{resource!r}"))
    return problems


def _names(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def prose_problems(schema: dict[str, Any]) -> list[Problem]:
    """The rules the Table Schema spec states in prose and no profile expresses."""
    fields = schema.get("fields") or []
    declared = [f.get("name") for f in fields if isinstance(f, dict)]
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, desc in enumerate(fields):
        name = desc.get("name") if isinstance(desc, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append(Problem(f"$.fields[{i}].name",
                                        f"field name {name!r} is already declared at fields[{seen[name]}]"))
            else:
                seen[name] = i
    pk = _names(schema.get("primaryKey"))
    for name in pk or []:
        if name not in declared:
            problems.append(Problem("$.primaryKey", f"names {name!r}, which is not a declared field"))
    for k, key in enumerate(schema.get("uniqueKeys") or [] if isinstance(schema.get("uniqueKeys"), list) else []):
        for name in _names(key) or []:
            if name not in declared:
                problems.append(Problem(f"$.uniqueKeys[{k}]", f"names {name!r}, which is not a declared field"))
    fks = schema.get("foreignKeys")
    for k, fk in enumerate(fks if isinstance(fks, list) else []):
        if not isinstance(fk, dict):
            continue
        local = _names(fk.get("fields"))
        ref = fk.get("reference") if isinstance(fk.get("reference"), dict) else {}
        remote = _names(ref.get("fields"))
        for name in local or []:
            if name not in declared:
                problems.append(Problem(f"$.foreignKeys[{k}].fields",
                                        f"names {name!r}, which is not a declared field"))
        if local is not None and remote is not None and len(local) != len(remote):
            problems.append(Problem(
                f"$.foreignKeys[{k}].reference.fields",
                f"names {len(remote)} field(s) but $.foreignKeys[{k}].fields names {len(local)}; "
                "the two lists must have the same length"))
        if local is not None and remote is not None and (
                isinstance(fk.get("fields"), str) != isinstance(ref.get("fields"), str)):
            problems.append(Problem(f"$.foreignKeys[{k}].reference.fields",
                                    "must be a text when fields is a text, a list when it is a list"))
        resource = ref.get("resource", "")
        if isinstance(resource, str) and resource == "" and remote is not None:
            for name in remote:
                if name not in declared:
                    problems.append(Problem(
                        f"$.foreignKeys[{k}].reference.fields",
                        f"names {name!r}, which is not a field of this table (the reference is to "
                        "the same resource)"))
    return problems


def constraint_problems(schema: dict[str, Any], field_specs: list) -> list[Problem]:
    """Constraint values that are not of their field's type: the field problems the parser found
    (``FieldSpec.problems`` with their key), as refusals with a JSON path."""
    problems = []
    for i, spec in enumerate(field_specs):
        for key, message in getattr(spec, "constraint_errors", []):
            problems.append(Problem(f"$.fields[{i}].constraints.{key}", message))
    return problems


def warnings(schema: dict[str, Any]) -> list[str]:
    """What the spec allows but is almost surely a mistake, in words saying what was meant."""
    out = []
    for i, desc in enumerate(schema.get("fields") or []):
        if not isinstance(desc, dict):
            continue
        for key in _MISPLACED_CONSTRAINTS:
            if key in desc:
                honoured = key == "required" and desc[key] is True and \
                    "required" not in (desc.get("constraints") or {})
                out.append(
                    f"$.fields[{i}].{key}: {key!r} on the field itself is not a Table Schema "
                    f"property; it belongs in the field's constraints (\"constraints\": "
                    f"{{\"{key}\": {json.dumps(desc[key])}}})"
                    + ("; docket checks it as that constraint" if honoured
                       else "; docket ignores it"))
    return out
