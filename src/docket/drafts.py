"""Drafts that are not finished yet: what a half-filled request may lack, and what it may not.

A provider saves a draft to come back to it (the form page's "Save draft", ``docket submit
--draft``, ``docket revise``). A draft is checked for everything that is *there* -- types,
formats, sizes, allowed values, unknown fields, the cross-field rules -- but not for what is
*missing* (a required field, a list that still needs its first item): those are the provider's
work in progress. Moving a draft to ``submitted`` needs the whole request schema
(:func:`check_complete`), and is refused naming every field still missing, so the review queue
only ever holds complete requests.

Readers of stored records (list, show, history, PROV, notifications) use :func:`title_of` and
:func:`provider_of`, which answer ``""`` / ``{}`` for what an incomplete draft has not got yet.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

from docket.errors import InvalidDocument, Problem, Refused
from docket.text import pick
from docket.validation import (
    SchemaSet,
    cross_field_problems,
    problem_from_error,
    record_only_fields,
)

#: JSON Schema keywords that only say something is missing (not that a value is wrong).
MISSING_KEYWORDS = frozenset({"required", "minItems", "minProperties", "dependentRequired"})
#: The rule a draft that is not complete breaks when it is submitted for review.
COMPLETE_RULE = "complete-to-submit"


def _only_missing(error: ValidationError) -> bool:
    """Whether ``error`` is only about something not given yet.

    ``oneOf``/``anyOf`` count as missing when one alternative fails only for missing parts (a
    multilingual title with no language yet), so a half-typed value is not a wrong one.
    """
    if error.validator in MISSING_KEYWORDS:
        return True
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
        return any(all(_only_missing(e) for e in errors) for errors in branches.values())
    return False


def draft_problems(schemas: SchemaSet, document: Any, name: str = "request") -> list[Problem]:
    """What is wrong in a draft: every schema error except missing parts, then the cross-field
    rules (which look before they leap, so they are safe on partial data)."""
    if not isinstance(document, dict):
        return schemas.problems(name, document)
    found: list[Problem] = []
    if not schemas.fast_validator(name).is_valid(document):
        found = [problem_from_error(e) for e in schemas.validator(name).iter_errors(document) if not _only_missing(e)]
    if not found:
        found = cross_field_problems(name, document)
    return sorted(dict.fromkeys(found), key=lambda p: p.where)


def form_draft_problems(form: Any, data: Any) -> list[Problem]:
    """:func:`draft_problems` of a form's data (a :class:`docket.forms.definition.Form`), blank
    inputs counting as not given, as the page's Save draft checks it before storing."""
    doc = form.clean(data)
    if not isinstance(doc, dict):
        return form.problems(data)
    found = [problem_from_error(e) for e in form.validator().iter_errors(doc) if not _only_missing(e)]
    if not found:
        found = cross_field_problems(form.target, doc)
    return sorted(dict.fromkeys(found), key=lambda p: p.where)


def has_content(value: Any) -> bool:
    """Whether a (cleaned) document holds any value at all: a form saved before anything was
    typed stores nothing (no request, no link for an empty page)."""
    if isinstance(value, dict):
        return any(has_content(v) for v in value.values())
    if isinstance(value, list):
        return any(has_content(v) for v in value)
    return value is not None and value != ""


def validate_draft(schemas: SchemaSet, document: Any, what: str = "request") -> None:
    """Raise :class:`InvalidDocument` (exit 2) for what a draft may not hold, whatever it lacks."""
    problems = draft_problems(schemas, document)
    if problems:
        count = f"{len(problems)} error{'s' if len(problems) > 1 else ''}"
        raise InvalidDocument(f"{what} is not a valid request draft ({count})", problems)


def missing(schemas: SchemaSet, document: Any) -> list[Problem]:
    """Everything that keeps ``document`` from being a complete request (empty when complete)."""
    return schemas.problems("request", document)


def missing_in_record(schemas: SchemaSet, record: dict[str, Any]) -> list[Problem]:
    """:func:`missing` of a stored record (``get``/``show --json``): what docket added is left out."""
    added = record_only_fields(schemas) | {"comments"}
    return missing(schemas, {k: v for k, v in record.items() if k not in added})


def check_complete(schemas: SchemaSet, document: Any, request_id: str) -> None:
    """Refuse (exit 3, rule ``complete-to-submit``) to submit an incomplete request for review,
    listing every field still missing or wrong, so the provider fixes them all in one go."""
    problems = missing(schemas, document)
    if problems:
        fields = ", ".join(p.where for p in problems)
        raise Refused(f"{request_id} cannot be submitted for review: it is not complete ({len(problems)} "
                      f"field{'s' if len(problems) > 1 else ''} to fill or fix: {fields}) (rule {COMPLETE_RULE})",
                      problems, rule=COMPLETE_RULE)


def provider_of(document: Any) -> dict[str, Any]:
    """The request's provider object, or ``{}`` when a draft has none yet."""
    provider = document.get("provider") if isinstance(document, dict) else None
    return provider if isinstance(provider, dict) else {}


def title_of(document: Any, languages: list[str]) -> str:
    """The request's title in the first of ``languages`` it has, or ``""`` (an untitled draft)."""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    descriptive = metadata.get("project_descriptive") if isinstance(metadata, dict) else None
    return pick(descriptive.get("title") if isinstance(descriptive, dict) else None, languages)


def provider_key(document: Any) -> str:
    """How the requests table names the provider: e-mail, else name, else ``""`` (not yet given)."""
    provider = provider_of(document)
    value = provider.get("email") or provider.get("name") or ""
    return value if isinstance(value, str) else ""
