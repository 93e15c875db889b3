"""What the OAI endpoint serves: the ``publications`` rows, their files, their revisions.

Read-only: the endpoint opens the store and reads; it never writes. A list is read a page at a
time in SQL (:meth:`Repository.listing`): filtered by date at second granularity (what OAI
compares at) and by format, ordered and resumed by the key (publication time, row id) that the
resumption token carries, so a page costs a page's rows, and is the same whether or not something
was published since the token was issued.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Text, and_, cast, func, or_, select

from docket.errors import BadInput
from docket.instance import Instance
from docket.store import Store, tables

#: The formats served from publish's files: prefix -> (schema, namespace).
FILE_FORMATS: dict[str, tuple[str, str]] = {
    "datacite": ("http://schema.datacite.org/meta/kernel-4.5/metadata.xsd", "http://datacite.org/schema/kernel-4"),
    "iso19139": ("http://www.isotc211.org/2005/gmd/gmd.xsd", "http://www.isotc211.org/2005/gmd"),
    "eml": ("https://eml.ecoinformatics.org/eml-2.2.0/eml.xsd", "https://eml.ecoinformatics.org/eml-2.2.0"),
}
OAI_DC = ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/")
#: Every format, oai_dc first (the one every OAI repository must serve).
FORMATS: dict[str, tuple[str, str]] = {"oai_dc": OAI_DC, **FILE_FORMATS}
_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,47})\.([1-9][0-9]{0,8})")
#: OAI-PMH.xsd's emailType is ``\S+@(\S+\.)+\S+``: the domain needs a dot (``root@localhost`` would
#: make Identify invalid)
_EMAIL = re.compile(r"[^@\s<>\"']{1,64}@(?=[^@\s<>\"']{1,190}$)(?:[^@\s<>\"'.]+\.)+[^@\s<>\"'.]+")
#: ``[oai]`` settings: default, smallest, largest.
_NUMBERS = {"page_size": (100, 1, 1000), "token_seconds": (3600, 60, 7 * 24 * 3600)}
_KNOWN = {"admin_email", "repository_name", "base_url", *_NUMBERS}


@dataclass(frozen=True)
class OaiSettings:
    """``[oai]`` of docket.toml, checked; see :func:`oai_settings`."""

    repository_name: str
    admin_email: str
    host: str  # of base_uri: the namespace of the OAI identifiers
    base_url: str | None  # the public address of the endpoint (behind a proxy); None: where it listens
    page_size: int
    token_seconds: int


def oai_settings(instance: Instance) -> OaiSettings:
    """``[oai]``: ``admin_email`` (else ``[smtp] from``: Identify must name someone),
    ``repository_name`` (else ``[publication] publisher``, else the project), ``base_url``,
    ``page_size`` (records per response) and ``token_seconds`` (how long a resumption token
    lives). Every bad or unknown key is named (BadInput, exit 2)."""
    config = instance.config
    where = f"{instance.root / 'docket.toml'} [oai]"
    table = (config.extra or {}).get("oai", {})
    if not isinstance(table, dict):
        raise BadInput(f"{where} must be a table, not {table!r}")
    problems = [f"{key}: not a setting (known: {', '.join(sorted(_KNOWN))})" for key in table if key not in _KNOWN]
    email = table.get("admin_email") or (config.smtp or {}).get("from")
    if not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        problems.append(f"admin_email = {email!r}: Identify needs the address of the repository's administrator "
                        "(set [oai] admin_email, or [smtp] from)")
    publisher = ((config.extra or {}).get("publication") or {}).get("publisher")
    name = table.get("repository_name") or publisher or config.project
    if not (isinstance(name, str) and 0 < len(name) <= 200 and name.isprintable()):
        problems.append(f"repository_name = {name!r}: a printable name of at most 200 characters")
    base_url = table.get("base_url")
    if base_url is not None and not (isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
                                     and len(base_url) < 300 and not any(c in base_url for c in " \r\n\"'<>")):
        problems.append(f"base_url = {base_url!r}: the endpoint's public http(s) address")
    numbers: dict[str, int] = {}
    for key, (default, low, high) in _NUMBERS.items():
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{key} = {value!r}: a whole number from {low} to {high}")
        else:
            numbers[key] = value
    host = urlsplit(config.base_uri).hostname or ""
    if not host:
        problems.append(f"[instance] base_uri {config.base_uri!r} names no host for the OAI identifiers")
    if problems:
        raise BadInput(f"{where}: " + "; ".join(problems))
    return OaiSettings(name, email, host.lower(), base_url, numbers["page_size"], numbers["token_seconds"])


def exact(value: datetime) -> datetime:
    """A stored time in UTC, to the microsecond: the paging key (SQLite hands times back naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc(value: datetime) -> datetime:
    """A stored time in UTC, to the second (SQLite hands times back naive: they were UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


@dataclass(frozen=True)
class Item:
    """One published version: what the headers and the listing need."""

    key: int  # the publications row id: the tie-breaker of the paging key
    request_id: str
    revision: int
    datestamp: datetime
    published: datetime  # to the microsecond: with key, the paging key
    identifier: str  # DOI or URL
    identifier_type: str
    exports: tuple[dict[str, Any], ...]

    @property
    def ref(self) -> str:
        return f"{self.request_id}.{self.revision}"

    @property
    def formats(self) -> list[str]:
        """The prefixes this item can be disseminated in, oai_dc first."""
        held = {e.get("format") for e in self.exports}
        return ["oai_dc", *(f for f in FILE_FORMATS if f in held)]


class Repository:
    """The published versions of one instance, read from its store and ``published/`` folder."""

    def __init__(self, instance: Instance, settings: OaiSettings | None = None) -> None:
        self.instance = instance
        self.settings = settings or oai_settings(instance)
        self.store = Store(instance.store_url(), instance.config.store_schema)
        self.prefix = f"oai:{self.settings.host}:"

    def close(self) -> None:
        self.store.dispose()

    def oai_identifier(self, item: Item) -> str:
        return self.prefix + item.ref

    def parse_identifier(self, identifier: str) -> tuple[str, int] | None:
        """``(id, revision)`` of an OAI identifier of this repository, None for anything else."""
        if not identifier.startswith(self.prefix):
            return None
        match = _REF.fullmatch(identifier[len(self.prefix):])
        return (match[1], int(match[2])) if match else None

    def _item(self, row: Any) -> Item:
        return Item(row.id, row.request_id, row.revision, utc(row.published_date), exact(row.published_date),
                    row.identifier, row.identifier_type, tuple(row.exports or ()))

    def _matching(self, prefix: str, start: datetime | None, end: datetime | None) -> list[Any]:
        """SQL conditions for "published in [start, end] (compared at the second, as OAI does) and
        held in ``prefix``". A datestamp is the publication time cut to the second, so its second
        is >= start exactly when the time is, and <= end exactly when the time is before end + 1 s.
        A file format is matched on the stored JSON's text (``"format": "x"``, as json.dumps and
        PostgreSQL both write it, or compact); :attr:`Item.formats` re-checks every row read."""
        p = tables.publications
        where: list[Any] = []
        if start is not None:
            where.append(p.c.published_date >= start.astimezone(UTC))
        if end is not None:
            where.append(p.c.published_date < end.astimezone(UTC) + timedelta(seconds=1))
        if prefix in FILE_FORMATS:
            text = cast(p.c.exports, Text)
            where.append(or_(text.like(f'%"format": "{prefix}"%'), text.like(f'%"format":"{prefix}"%')))
        return where

    def count(self, prefix: str, start: datetime | None, end: datetime | None) -> int:
        """How many published versions a list of ``prefix`` between ``start`` and ``end`` holds."""
        p = tables.publications
        with self.store.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(p)
                                    .where(*self._matching(prefix, start, end))).scalar() or 0)

    def listing(self, prefix: str, start: datetime | None, end: datetime | None,
                after: tuple[datetime, int] | None, chunk: int) -> Iterator[Item]:
        """The published versions of a list, in the paging order (publication time, row id), from
        just after ``after``: read from the store ``chunk`` rows at a time by that key (the index
        on ``published_date``), so a page costs a page's rows, not the whole table's."""
        p = tables.publications
        where = self._matching(prefix, start, end)
        while True:
            keyset = [] if after is None else [or_(p.c.published_date > after[0],
                                                   and_(p.c.published_date == after[0], p.c.id > after[1]))]
            query = (select(p.c.id, p.c.request_id, p.c.revision, p.c.published_date, p.c.identifier,
                            p.c.identifier_type, p.c.exports)
                     .where(*where, *keyset).order_by(p.c.published_date, p.c.id).limit(chunk))
            with self.store.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                item = self._item(row)
                if prefix in item.formats:
                    yield item
            if len(rows) < chunk:
                return
            last = rows[-1]
            after = (exact(last.published_date), last.id)

    def item(self, request_id: str, revision: int) -> Item | None:
        p = tables.publications
        with self.store.connect() as conn:
            row = conn.execute(select(p).where(p.c.request_id == request_id, p.c.revision == revision)).first()
        return self._item(row) if row is not None else None

    def earliest(self) -> datetime | None:
        p = tables.publications
        with self.store.connect() as conn:
            first = conn.execute(select(func.min(p.c.published_date))).scalar()
        return utc(first) if first is not None else None

    def document(self, item: Item) -> dict[str, Any]:
        """The published revision's stored document (what oai_dc is built from)."""
        r = tables.revisions
        with self.store.connect() as conn:
            doc = conn.execute(select(r.c.document).where(r.c.request_id == item.request_id,
                                                          r.c.revision == item.revision)).scalar()
        if doc is None:  # a publication row always has its revision; a broken store is not the caller's fault
            raise LookupError(f"{item.ref} is published but its revision is missing from the store")
        return doc

    def export_file(self, item: Item, fmt: str) -> bytes | None:
        """The bytes publish wrote for ``fmt``, or None when there is none, it lies outside the
        instance's ``published/`` folder, or its digest is not the one recorded at publication."""
        entry = next((e for e in item.exports if e.get("format") == fmt), None)
        if entry is None:
            return None
        where = entry.get("location") or entry.get("path")
        if not isinstance(where, str):
            return None
        root = (self.instance.root / "published").resolve()
        path = (self.instance.root / where).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        data = Path(path).read_bytes()
        recorded = str(entry.get("sha256") or "").removeprefix("sha256:")
        if recorded != hashlib.sha256(data).hexdigest():
            return None
        return data
