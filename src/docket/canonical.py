"""Canonical JSON and its digest: how docket tells two documents are the same content.

Sorted keys, no insignificant white space, UTF-8 (the shape of RFC 8785 for the documents docket
handles: strings, integers, decimals written by Python's json). Used for revision digests,
idempotent imports and the digest an offline form carries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from docket.errors import BadInput


def canonical_json(document: Any) -> bytes:
    """The canonical bytes of ``document``; NaN and Infinity raise ``ValueError`` (they are not
    JSON, and a digest over them would name a document no store can hold)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def stored_json(value: Any) -> str:
    """How the store writes a JSON column: strict JSON only (``allow_nan=False``).

    SQLite keeps whatever text it is given, so ``NaN`` written there would later come back out of
    ``docket show --json`` as something no JSON reader accepts, while PostgreSQL refuses it: with
    one strict serializer for both, a value that is not JSON fails the same way on both stores:
    a :class:`BadInput` (the store unwraps it from SQLAlchemy's ``StatementError`` on SQLite).
    """
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise BadInput(f"a value to be stored is not JSON ({exc}); nothing was changed") from None


def digest(document: Any) -> str:
    """The sha256 of the canonical JSON of ``document``, as hex."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
