"""The bounds docket puts on what strangers send it, and where each is read from.

Every limit is a ``[limits]`` key of ``docket.toml`` with the default below; one table, so the
README, ``docket init`` and every reader agree on the names and the defaults. Limits are checked
while input streams (a byte count, a nesting depth, a part count), never after it has been read.
"""

from __future__ import annotations

from typing import Any

from docket.errors import InstanceError

DEFAULTS: dict[str, int] = {
    # one offline form file, e-mail message (an mbox is read one message at a time) or decoded
    # attachment
    "max_upload_bytes": 1 << 30,
    # one offline form's JSON (a file or a decoded attachment): a request document plus the
    # form's schema; parsing takes several times the size in memory, hence a bound of its own
    "max_form_bytes": 32 << 20,
    # one transferred file
    "max_transfer_bytes": 50 << 30,
    # one request document (submit, revise, the form page)
    "max_request_bytes": 16 << 20,
    # nesting of a JSON document (objects and arrays)
    "max_json_depth": 64,
    # digits of one JSON integer (Python refuses more than 4,300 itself, with an internal error)
    "max_json_int_digits": 300,
    # MIME parts in one e-mail message, and how deeply they nest
    "max_mime_parts": 1000,
    "max_mime_depth": 16,
}


def get(limits: dict[str, Any] | None, name: str) -> int:
    """The limit ``name`` from an instance's ``[limits]`` table, else its default.

    A value that is not a positive whole number is an :class:`InstanceError` naming the key, so
    a typo in ``docket.toml`` does not silently turn a limit off.
    """
    if name not in DEFAULTS:
        raise KeyError(f"unknown limit {name!r}")
    value = (limits or {}).get(name, DEFAULTS[name])
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InstanceError(f"[limits] {name} in docket.toml must be a positive whole number, not {value!r}")
    return value
