"""The errors of the transfer layer.

A failed transfer is a step that ran and failed for a reason the user can act on (the server
dropped the connection, sent fewer bytes than it promised, answered 404...), so it is a
:class:`~docket.errors.ProblemsFound` (exit 1), carrying the reason separately so the core can
record it in the step and the PROV bundle without parsing the message.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from docket.errors import ProblemsFound


def redact(location: str) -> str:
    """``location`` without a password in its user info, fit for messages, logs and PROV."""
    try:
        parts = urlsplit(location)
    except ValueError:
        return location
    if parts.password is None:
        return location
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class TransferFailed(ProblemsFound):
    """A file could not be fetched, or arrived incomplete or different; nothing was left behind."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = redact(location)
        self.reason = reason
        super().__init__(f"transfer of {self.location} failed: {reason}")


class SizeLimitExceeded(TransferFailed):
    """The file is larger than the configured limit; the transfer stopped as soon as it was passed."""

    def __init__(self, location: str, limit: int, seen: int) -> None:
        self.limit = limit
        self.seen = seen
        super().__init__(
            location, f"larger than the size limit of {limit} bytes (stopped after {seen} bytes)"
        )


class ChecksumMismatch(TransferFailed):
    """The bytes arrived, but their size or a checksum differs from what was declared."""
