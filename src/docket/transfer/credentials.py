"""Credentials for transfers: never stored, supplied by the data centre at transfer time.

A provider may paste ``https://user:secret@data.example.org/x.nc`` into a request. The request
document is stored, shown, exported and recorded in PROV, so a password in it would be
everywhere; :func:`strip_passwords` takes it out before the document is stored (keeping the user
name, which says *who* to log in as) and says which field it was in. The password then comes
from the data centre: ``[transfer] credentials`` maps a host to the name of an environment
variable holding ``user:password`` (secrets come from the environment, never from files), and
:func:`authorization_for` builds the Basic header for that host, and only for that host.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from docket.transfer.errors import TransferFailed

#: A URL's ``scheme://user:password@`` anywhere in a string (a location, or a link pasted into
#: free text): the password runs to the last ``@`` before the path, as urlsplit reads it.
_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/?#@\[\]]*):(?P<password>[^\s/?#]*)@"
    r"(?P<host>\[[^\]\s/]*\]|[^\s:/?#\[\]]*)"
)


def _without_password(text: str) -> tuple[str, list[str]] | None:
    """``text`` with every URL password removed, and the hosts they were for; None if none."""
    if "://" not in text or "@" not in text:
        return None
    hosts: list[str] = []

    def drop(match: re.Match[str]) -> str:
        hosts.append(match["host"] or "its host")
        user = f"{match['user']}@" if match["user"] else ""
        return f"{match['scheme']}{user}{match['host']}"

    cleaned = _USERINFO.sub(drop, text)
    return (cleaned, hosts) if hosts else None


def _path_text(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def strip_passwords(doc: Any) -> tuple[Any, list[dict[str, str]]]:
    """A copy of ``doc`` with every password in a URL's user info removed, and one warning each.

    Every string of the document is looked at (a file's ``location`` is the usual place, but a
    password pasted into a link of the metadata must not be stored either). Each warning is
    ``{"field": "files[0].location", "message": ...}``; the message names the host, so the data
    centre knows which ``[transfer] credentials`` entry to configure, and never the password.
    """
    warnings: list[dict[str, str]] = []

    def walk(value: Any, path: list[str | int]) -> Any:
        if isinstance(value, str):
            found = _without_password(value)
            if found is None:
                return value
            cleaned, hosts = found
            where = _path_text(path)
            warnings.append({
                "field": where,
                "message": (
                    f"{where}: the password in the URL was not stored; the data centre must "
                    f"configure [transfer] credentials for {', '.join(dict.fromkeys(hosts))} "
                    "for the transfer to log in"
                ),
            })
            return cleaned
        if isinstance(value, dict):
            return {k: walk(v, [*path, k]) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, [*path, i]) for i, v in enumerate(value)]
        return value

    cleaned = walk(doc, [])
    return (cleaned, warnings) if warnings else (doc, warnings)


def _split_key(key: str) -> tuple[str, str]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    key = key.strip().lower()
    if key.startswith("["):
        host, _, rest = key[1:].partition("]")
        return host, rest.removeprefix(":")
    if key.count(":") == 1:
        host, _, port = key.partition(":")
        return host.rstrip("."), port
    return key.rstrip("."), ""


def _lookup(credentials: Mapping[str, str], host: str, port: int | None) -> str | None:
    """The variable configured for ``host`` (and ``port``, when the key names one)."""
    host = host.lower().rstrip(".").strip("[]")
    for key, variable in credentials.items():
        name, key_port = _split_key(key)
        if name == host and (not key_port or (port is not None and key_port == str(port))):
            return variable
    return None


def authorization_for(
    location: str,
    host: str,
    port: int | None,
    credentials: Mapping[str, str] | None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The ``Authorization`` value for ``host`` from ``[transfer] credentials``, or None.

    ``credentials`` maps ``host`` (or ``host:port``) to an environment variable name; the
    variable holds ``user:password``. A configured but unset variable is a failed transfer
    naming the variable (not a silent anonymous request that would fail with a puzzling 401).
    """
    if not credentials:
        return None
    variable = _lookup(credentials, host, port)
    if variable is None:
        return None
    value = (os.environ if environ is None else environ).get(variable)
    if not value:
        raise TransferFailed(
            location,
            f"[transfer] credentials for {host} come from the environment variable {variable}, "
            "which is not set",
        )
    if ":" not in value:
        raise TransferFailed(
            location, f"the environment variable {variable} must hold user:password"
        )
    return basic(*value.split(":", 1))


def basic(user: str, password: str) -> str:
    """A Basic ``Authorization`` value (RFC 7617, UTF-8)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def from_userinfo(username: str | None, password: str | None) -> str | None:
    """Basic auth from a URL's user info (percent-decoded); a user alone has an empty password."""
    if username is None:
        return None
    return basic(unquote(username), unquote(password or ""))
