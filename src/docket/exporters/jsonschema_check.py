"""Validation of JSON exports against a JSON Schema docket ships, compiled once per process.

schema.org has no official JSON Schema; docket's (``schemaorg.schema.json``) holds the properties
dataset search engines require and the ones docket promises. An invalid export is refused naming
the JSON path and the rule (the schema keyword and what it asked for). As for records
(:mod:`docket.validation`), the compiled jsonschema-rs answers yes or no, and the pure-Python
jsonschema is asked only when the answer is no, for its messages.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from docket.errors import BadInput, Problem

_HERE = Path(__file__).resolve().parent
_lock = threading.Lock()


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


@cache
def _fast(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(_schema(name))


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(_schema(name))
    return Draft202012Validator(_schema(name))


def check(fmt: str, document: Any, schema_name: str) -> None:
    """Raise BadInput listing every error of ``document`` against ``schema_name``."""
    with _lock:
        fast = _fast(schema_name)
    if fast.is_valid(document):
        return
    with _lock:
        validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    problems = [Problem("$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path),
                        f"{e.message} (rule {e.validator}: {json.dumps(e.validator_value)[:120]})")
                for e in errors]
    raise BadInput(f"the {fmt} export is not valid against {schema_name}: {problems[0]}", problems)
