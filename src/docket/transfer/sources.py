"""Where files come from: a registry of transfer sources keyed by URL scheme.

A source turns a location (a URL or a local path) into an open byte stream plus what the other
side declared about it (length, content type). It does not hash, write or decide: that is
:func:`docket.transfer.fetch.fetch`'s job, so a new source (sftp, s3, iRODS...) only has to
open a stream and report truncation: ``register("s3", S3Source())``.

The sources themselves live in their own modules: :mod:`docket.transfer.local` (paths and
``file://``) and :mod:`docket.transfer.http` (``http://``, ``https://``); importing
:mod:`docket.transfer` registers both.
"""

from __future__ import annotations

import contextlib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from docket import __version__
from docket.errors import BadInput, NotFound
from docket.transfer.errors import redact
from docket.transfer.hashing import Readable

MAX_REDIRECTS = 5


@dataclass
class SourceContext:
    """Settings a source may need; one object so new settings do not change every signature."""

    timeout: float = 60.0
    #: Seconds one file's whole transfer may take (``[transfer] deadline``); None = no deadline.
    deadline: float | None = None
    #: Local paths must lie inside one of these folders, reached without following a symbolic
    #: link below the folder; None = anywhere.
    local_roots: list[Path] | None = None
    #: Whether a confined local file may have more than one hard link (``[transfer]
    #: allow_hardlinks``): a hard link in the inbox can name a file from anywhere on its disk.
    allow_hardlinks: bool = False
    #: Folder relative local paths are resolved against; None = the current folder.
    base_dir: Path | None = None
    ssl_context: ssl.SSLContext | None = None
    max_redirects: int = MAX_REDIRECTS
    user_agent: str = f"docket/{__version__}"
    #: Proxies by scheme ({"http": "http://proxy:3128", "https": ...}); None reads the usual
    #: environment (http_proxy, https_proxy, no_proxy), as curl and urllib do.
    proxies: dict[str, str] | None = None
    #: Hosts, addresses and CIDR networks that may be fetched although not public
    #: (``[transfer] allow``); empty = public addresses only (:mod:`docket.transfer.addresses`).
    allow: list[str] = field(default_factory=list)
    #: Host (or host:port) -> name of the environment variable holding ``user:password``
    #: (``[transfer] credentials``); sent as Basic auth to that host only.
    credentials: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Opened:
    """An open stream and what its source declared about it."""

    reader: Readable
    #: Bytes the source promised (Content-Length, file size); None when it did not say.
    length: int | None
    #: The Content-Type header without parameters, if any.
    content_type: str | None
    #: Where the bytes really came from (after redirects, as an absolute path or URL).
    resolved: str


class Source(ABC):
    """Opens locations of one or more URL schemes.

    ``open`` is a context manager yielding :class:`Opened`; it raises
    :class:`~docket.transfer.errors.TransferFailed` when the location cannot be reached, and the
    reader raises it when the stream breaks. A reader that knows the promised length must raise
    on a short or long body itself when it can tell better than a byte count (HTTP can).
    """

    @abstractmethod
    def open(self, location: str, ctx: SourceContext) -> contextlib.AbstractContextManager[Opened]:
        """Open ``location`` for reading."""


_REGISTRY: dict[str, Source] = {}


def register(scheme: str, source: Source | type[Source]) -> None:
    """Make ``source`` (an instance, or a class with a no-argument constructor) serve ``scheme``."""
    if isinstance(source, type):
        source = source()
    if not isinstance(source, Source):
        raise TypeError(
            f"a transfer source must subclass docket.transfer.sources.Source: {source!r}"
        )
    _REGISTRY[scheme.lower()] = source


def get(scheme: str) -> Source:
    """The source registered for ``scheme``; NotFound naming it and the known schemes otherwise."""
    try:
        return _REGISTRY[scheme.lower()]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(
            f"no transfer source for the URL scheme {scheme!r} (known: {known})"
        ) from None


def unregister(scheme: str) -> None:
    """Forget the source of ``scheme`` (tests, or a data centre disabling a scheme)."""
    _REGISTRY.pop(scheme.lower(), None)


def schemes() -> list[str]:
    return sorted(_REGISTRY)


def scheme_of(location: str) -> str:
    """The scheme that serves ``location``: its URL scheme, or ``file`` for a plain path.

    A single letter before a colon is a Windows drive, not a scheme; an unregistered prefix
    without ``://`` (``notes:v2.csv``) is taken as a file name rather than refused.
    """
    if not isinstance(location, str) or not location.strip():
        raise BadInput(f"transfer location {location!r} is empty")
    if "\x00" in location:
        raise BadInput(f"transfer location {location!r} contains a NUL character")
    try:
        scheme = urlsplit(location).scheme.lower()
    except ValueError as exc:
        raise BadInput(
            f"transfer location {redact(location)!r} is not a valid URL: {exc}"
        ) from None
    if len(scheme) <= 1:
        return "file"
    if scheme in _REGISTRY or "://" in location:
        return scheme
    return "file"
