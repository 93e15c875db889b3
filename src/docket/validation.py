"""JSON Schema resolution and validation of docket's documents.

Every document docket stores is checked here first, so the CLI, the importer and the forms can
never disagree: they all call :class:`SchemaSet`. Schemas are found by file name: one in the
instance's ``schemas/`` folder overrides the packaged one of the same name, and the id and version
that were really used are reported with every validation so they can be stored with the record.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from docket.documents import json_path
from docket.errors import InstanceError, InvalidDocument, Problem
from docket.messages import portable
from docket.messages import problem as catalogued
from docket.resources import schema_dir

SUFFIX = ".schema.json"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")

format_checker = FormatChecker()


# The e-mail and ORCID checks live in docket.messages.portable, which the offline notebook
# carries too: a provider's own Jupyter accepts exactly the addresses docket accepts.
is_email = format_checker.checks("email")(portable.is_email)
is_orcid = format_checker.checks("orcid")(portable.is_orcid)
orcid_checksum_ok = portable.orcid_checksum_ok


def problem_from_error(error: ValidationError) -> Problem:
    """A jsonschema error as a Problem whose path names the offending field itself, with the
    message id and values of :mod:`docket.messages` (so every place words it the same)."""
    path, message_id, values = portable.describe(error)
    return catalogued(json_path(path), message_id, **values)


# Rules JSON Schema cannot say (an end after its start); each yields Problems for a document.
# SchemaSet runs them only on a document that passed its schema, so a rule may rely on the types
# the schema promises; the form page also runs them on partly filled data, so each rule must
# still look before it leaps (``portable.dig``, ``isinstance``) rather than fail on a wrong type.
Rule = Callable[[dict], Iterator[Problem]]
RULES: dict[str, list[Rule]] = {}


def rule(schema_name: str) -> Callable[[Rule], Rule]:
    """Register a cross-field rule for documents of ``schema_name`` (the whole document)."""

    def deco(fn: Rule) -> Rule:
        RULES.setdefault(schema_name, []).append(fn)
        return fn

    return deco


@rule("request")
def _coverage_in_order(doc: dict) -> Iterator[Problem]:
    # The rule itself is portable (the offline notebook runs the very same code).
    for path, message_id, values in portable.coverage_problems(doc):
        yield catalogued(json_path(path), message_id, **values)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@rule("request")
def _file_names_unique(doc: dict) -> Iterator[Problem]:
    for path, message_id, values in portable.file_name_problems(doc):
        yield catalogued(json_path(path), message_id, **values)


@rule("request")
def _tables_to_their_standards(doc: dict) -> Iterator[Problem]:
    """A Data Package in dataset_structural and the files' dialects, held to the official
    Frictionless profiles (docket.checks.package.request_problems). The checks are imported only
    when a request has either, so other requests validate without loading them."""
    files = doc.get("files") if isinstance(doc.get("files"), list) else []
    if isinstance(portable.dig(doc, "metadata", "dataset_structural", "resources"), list) or any(
            isinstance(f, dict) and "dialect" in f for f in files):
        from docket.checks.package import request_problems

        yield from request_problems(doc)


def cross_field_problems(schema_name: str, document: dict) -> list[Problem]:
    """What the cross-field rules of ``schema_name`` find in ``document``."""
    return [problem for check in RULES.get(schema_name, []) for problem in check(document)]


@dataclass(frozen=True)
class SchemaInfo:
    """Which schema was used: its name, ``$id``, version and where it came from."""

    name: str
    id: str
    version: str
    source: str  # "packaged" or "instance"

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "source": self.source}


class SchemaSet:
    """The packaged schemas with an instance's overrides laid over them."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._schemas: dict[str, dict] = {}
        self._info: dict[str, SchemaInfo] = {}
        self._aliases: dict[str, str] = {}
        packaged_ids: dict[str, str] = {}
        for path in sorted(schema_dir().glob(f"*{SUFFIX}")):
            name = path.name[: -len(SUFFIX)]
            schema = json.loads(path.read_text(encoding="utf-8"))
            packaged_ids[name] = schema["$id"]
            self._add(name, schema, "packaged")
        if override_dir and override_dir.is_dir():
            for path in sorted(override_dir.glob(f"*{SUFFIX}")):
                name = path.name[: -len(SUFFIX)]
                try:
                    schema = json.loads(path.read_text(encoding="utf-8"))
                    Draft202012Validator.check_schema(schema)
                except (OSError, ValueError) as exc:
                    raise InstanceError(f"schema override {path.name} is not valid JSON: {exc}") from exc
                except Exception as exc:  # jsonschema.SchemaError: a broken override
                    raise InstanceError(f"schema override {path.name} is not a valid JSON Schema: {exc}") from exc
                schema.setdefault("$id", packaged_ids.get(name, f"urn:docket:instance-schema:{name}"))
                self._add(name, schema, "instance", packaged_ids.get(name))
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}
        self._provenance: dict[str, dict] = {}

    def _add(self, name: str, schema: dict, source: str, also_as: str | None = None) -> None:
        self._schemas[name] = schema
        self._info[name] = SchemaInfo(name, schema["$id"], str(schema.get("version", "")), source)
        if also_as and also_as != schema["$id"]:
            # Other schemas refer to the packaged URI; point it at the override.
            self._aliases[also_as] = name

    @cached_property
    def registry(self) -> Registry:
        resources = [(s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in self._schemas.values()]
        resources += [
            (uri, Resource.from_contents(self._schemas[name], default_specification=DRAFT202012))
            for uri, name in self._aliases.items()
        ]
        return Registry().with_resources(resources)

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, name: str) -> dict:
        return self._schemas[name]

    def info(self, name: str) -> SchemaInfo:
        return self._info[name]

    def validator(self, name: str) -> Draft202012Validator:
        """A cached validator for ``name``, or for a part of it written ``name#/$defs/x``."""
        if name not in self._validators:
            base, _, pointer = name.partition("#")
            schema = self._schemas[base]
            if pointer:
                schema = {"$ref": f"{schema['$id']}#{pointer}"}
            self._validators[name] = Draft202012Validator(schema, registry=self.registry, format_checker=format_checker)
        return self._validators[name]

    def fast_validator(self, name: str) -> Any:
        """A compiled (Rust) validator of the same schemas, to say yes or no quickly.

        jsonschema-rs answers "valid?" a hundred times faster than jsonschema, which matters on
        every write; the error messages and paths still come from jsonschema, so they are the
        same everywhere (form, importer, CLI).
        """
        if name not in self._fast:
            base, _, pointer = name.partition("#")
            schema = self._schemas[base]
            if pointer:
                schema = {"$schema": schema["$schema"], "$ref": f"{schema['$id']}#{pointer}"}
            registry = jsonschema_rs.Registry(
                [(s["$id"], s) for s in self._schemas.values()]
                + [(uri, self._schemas[n]) for uri, n in self._aliases.items()]
            )
            self._fast[name] = jsonschema_rs.validator_for(
                schema, registry=registry, validate_formats=True,
                formats={"email": is_email, "orcid": is_orcid},
            )
        return self._fast[name]

    def problems(self, name: str, document: Any) -> list[Problem]:
        """Every error in ``document`` against schema ``name``, each with its JSON path."""
        found: list[Problem] = []
        if not self.fast_validator(name).is_valid(document):
            found = [problem_from_error(e) for e in self.validator(name).iter_errors(document)]
            if not found:  # the two engines disagree: trust the stricter one, say where
                found = [Problem(json_path(e.instance_path), e.message)
                         for e in self.fast_validator(name).iter_errors(document)]
        elif "#" not in name and isinstance(document, dict):
            # Cross-field rules only on a document the schema accepted: a rule may then trust its
            # types. A document with schema errors gets those first; its rule errors, if any,
            # once they are fixed.
            found = cross_field_problems(name, document)
        unique = list(dict.fromkeys(found))
        return sorted(unique, key=lambda p: p.where)

    def validate(self, name: str, document: Any, what: str = "document") -> SchemaInfo:
        """Raise :class:`InvalidDocument` listing every error, or return the schema used."""
        problems = self.problems(name, document)
        if problems:
            count = f"{len(problems)} error{'s' if len(problems) > 1 else ''}"
            raise InvalidDocument(f"{what} is not a valid {name.partition('#')[0]} ({count})", problems)
        return self.info(name.partition("#")[0])

    def provenance(self, name: str) -> dict:
        """The id and version of ``name`` and of every schema it may use, for storing."""
        if name not in self._provenance:  # fixed for the life of this set: compute once
            self._provenance[name] = self._describe(name)
        return copy.deepcopy(self._provenance[name])

    def _describe(self, name: str) -> dict:
        top = self.info(name)
        return {
            "id": top.id,
            "version": top.version,
            "parts": {n: self.info(n).as_dict() for n in self.names() if n != name},
        }


def record_only_fields(schemas: SchemaSet | None = None) -> frozenset[str]:
    """The fields docket adds to a request when it stores it (the record envelope), plus the
    workflow steps: what an editor of a record hands back but may not change."""
    record = (schemas or SchemaSet()).schema("record")
    return frozenset(record["$defs"]["envelope"]["properties"]) | {"steps"}
