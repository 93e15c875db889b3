"""How docket writes values of the terms it reuses: locations, media types and checksums.

The vocabulary itself (docket's own classes and properties, and the mapping of docket 0.1's
``https://docket.invalid/ns#`` terms) is ``vocabulary/vocabulary.ttl``, packaged with docket
(:func:`docket.resources.vocabulary_path`). Everything else comes from PROV-O, Dublin Core terms,
DCAT, SPDX and schema.org; these helpers make the values those vocabularies expect.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlsplit

from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id, Uri

IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


def location_iri(location: str | os.PathLike[str]) -> Uri:
    """A ``prov:location`` as an IRI: a URL as given, a path as its ``file:`` URI.

    A relative path is made absolute against the working folder first (a ``file:`` URI has no
    relative form). Passwords are the caller's to have removed (transfer keeps the user name).
    """
    text = os.fspath(location)
    if isinstance(location, str) and _has_scheme(text):
        return Uri(text)
    return Uri(Path(text).absolute().as_uri())


def source_iri(source: str, resolved: str) -> Uri:
    """Where a transfer found a file, as an IRI: the URL as the provider gave it, the ``file:``
    URI of an absolute path as given, else (a relative or ``~`` path, which the transfer resolved
    against its own folder) of the path it really opened."""
    if _has_scheme(source):
        return Uri(source)
    given = Path(source).expanduser()
    return location_iri(given if given.is_absolute() else Path(resolved))


def _has_scheme(text: str) -> bool:
    scheme = urlsplit(text).scheme
    # "C:\\data" has a one-letter "scheme": a Windows drive, not a URL
    return len(scheme) > 1 and text[len(scheme):].startswith(":")


def media_type_iri(media_type: str) -> Uri:
    """The IANA IRI of a media type (``text/csv`` -> ``.../media-types/text/csv``), as DCAT's
    ``dcat:mediaType`` expects; parameters (``; charset=...``) are left out."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return Uri(IANA_MEDIA_TYPES + quote(bare, safe="/+.-"))


def checksum_id(entity: str, algorithm: str) -> Id:
    """The ``spdx:Checksum`` entity of ``entity`` (an identifier of
    :mod:`docket.provenance.identifiers`) for ``algorithm``: a part of it, ``<entity IRI>/md5``."""
    return Id(ids.child(entity, algorithm))


def checksum_hex(digest: str) -> str:
    """The hex alone (``spdx:checksumValue``) of ``sha256:<hex>`` or ``<hex>``."""
    return digest.rpartition(":")[2].lower()
