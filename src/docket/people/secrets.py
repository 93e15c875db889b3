"""Secrets handed to people: API keys (``dk_...``) and provider links (``dl_...``).

A secret is ``<kind>_<prefix>_<body>``: the prefix (12 hex) is public and indexed, so the row is
found without scanning; the whole secret is verified against its argon2 hash. A secret shown once
is never stored, logged or echoed again; only its prefix is.

Guessing is made useless twice over: the body carries 192 random bits, and checking a wrong secret
costs the same argon2 verification whether or not its prefix exists (a dummy hash stands in for a
missing row), so timing does not tell a guesser that a prefix is real.
"""

from __future__ import annotations

import re
import secrets as _random
from functools import lru_cache

KINDS = {"key": "dk", "link": "dl"}
PREFIX_LENGTH = 12
_SHAPE = re.compile(r"^(dk|dl)_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$")


@lru_cache(maxsize=1)
def _hasher():  # -> argon2.PasswordHasher
    """argon2id with the OWASP minimum (19 MiB, 2 passes): the secrets are random, not passwords,
    so the hash guards a stolen database, and every command pays one verification."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash no secret matches, verified when a prefix is unknown (same cost as a real one)."""
    return _hasher().hash(_random.token_urlsafe(24))


def new_secret(kind: str) -> tuple[str, str]:
    """A fresh secret of ``kind`` (``key`` or ``link``): ``(secret, prefix)``."""
    prefix = _random.token_hex(PREFIX_LENGTH // 2)
    body = _random.token_urlsafe(24)  # 32 characters, 192 bits
    return f"{KINDS[kind]}_{prefix}_{body}", prefix


def hash_secret(secret: str) -> str:
    return _hasher().hash(secret)


def prefix_of(secret: str, kind: str) -> str | None:
    """The prefix of a well-formed secret of ``kind``, else None (a malformed one is not found)."""
    if not isinstance(secret, str):
        return None
    match = _SHAPE.match(secret.strip())
    if match is None or match.group(1) != KINDS[kind]:
        return None
    return match.group(2)


def verify(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash``; with None (no such prefix) the dummy hash is
    verified instead, so both answers take the same time."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored_hash or dummy_hash(), secret.strip()) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def shown(prefix: str, kind: str) -> str:
    """How a secret is named after it was shown: its kind and prefix, never the body."""
    return f"{KINDS[kind]}_{prefix}_…"
