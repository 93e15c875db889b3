"""docket's transfer layer: move a file's bytes into an instance, measured and verified.

``fetch(location, dest_dir, name, ...)`` streams an http(s) URL, a file:// URL or a local path
into ``dest_dir/name``, computing size, md5 and sha256 in the same read, and makes the file
visible only when it is complete and verified. Sources are a registry keyed by URL scheme
(:mod:`docket.transfer.sources`); recording the result (resource registry, PROV) is the core's
job, not this package's.
"""

from __future__ import annotations

from docket.transfer.errors import ChecksumMismatch, SizeLimitExceeded, TransferFailed
from docket.transfer.fetch import (
    LEFTOVER_PREFIX,
    PARTIAL_PREFIX,
    FetchedFile,
    fetch,
    media_type_of,
    remove_partials,
)
from docket.transfer.hashing import Digests, digest_file, digest_stream
from docket.transfer.names import check_name
from docket.transfer.sources import Source, SourceContext, get, register

# The built-in sources register themselves on import.
from docket.transfer import http as _http  # noqa: E402,F401  isort: skip
from docket.transfer import local as _local  # noqa: E402,F401  isort: skip

__all__ = [
    "LEFTOVER_PREFIX",
    "PARTIAL_PREFIX",
    "ChecksumMismatch",
    "Digests",
    "FetchedFile",
    "SizeLimitExceeded",
    "Source",
    "SourceContext",
    "TransferFailed",
    "check_name",
    "digest_file",
    "digest_stream",
    "fetch",
    "get",
    "media_type_of",
    "register",
    "remove_partials",
]
