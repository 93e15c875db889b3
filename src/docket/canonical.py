"""Canonical JSON and its digest: how docket tells two documents are the same content.

Sorted keys, no insignificant white space, UTF-8 (the shape of RFC 8785 for the documents docket
handles: strings, integers, decimals written by Python's json). Used for revision digests,
idempotent imports and the digest an offline form carries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(document: Any) -> str:
    """The sha256 of the canonical JSON of ``document``, as hex."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
