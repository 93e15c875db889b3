"""One neutral view of a stored request, shared by every exporter.

Each standard wants the same facts (titles per language, people, licence, coverage, the Table
Schema, each file's size and checksums) in its own shape; reading them out of the record once,
with docket's choices made here, keeps the five exporters consistent. The choices:

* the landing page (and the identifier when no DOI exists) is the instance's persistent URL:
  base URI + ``<id>.<revision>``;
* the primary language is the first of the instance's languages that a text carries, else the
  text's first; a plain string is in the instance's first language;
* creators are the record's authors, else the provider (every standard needs at least one);
* the publisher is the record's, else ``[publication] publisher`` of docket.toml (exporters
  that need one refuse naming both when neither is set);
* the publication date is the date this revision was last modified (its content is fixed then);
* a file's size, checksums, media type and row count are what docket measured on transfer/QA
  when it did, else what the provider declared (``measured`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docket import structural
from docket.exporters.settings import ExportSettings

#: Words that begin a family name (Le Goff, van Dijk, da Silva, ...).
_PARTICLES = frozenset({"al", "bin", "da", "das", "de", "del", "della", "den", "der", "des", "di",
                        "do", "dos", "du", "el", "ibn", "la", "le", "mac", "st", "st.", "ten",
                        "ter", "van", "von", "zu"})

Text = dict[str, str]  # {language: text}, primary language first


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    orcid: str | None = None
    organisation: str | None = None
    role: str | None = None

    @property
    def orcid_uri(self) -> str | None:
        if not self.orcid:
            return None
        return self.orcid if self.orcid.startswith("http") else f"https://orcid.org/{self.orcid}"

    @property
    def given_family(self) -> tuple[str | None, str]:
        """(given, family), for standards that split names (DataCite, EML).

        The form holds one name, so this guesses as little as it can: the family name starts at
        the first particle after the first word ("Yann Le Goff", "Ludwig van Beethoven"), else
        it is the last word; one word is a family name alone.
        """
        parts = self.name.split()
        if len(parts) < 2:
            return None, self.name
        cut = next((i for i, w in enumerate(parts) if i and w.lower() in _PARTICLES), len(parts) - 1)
        return " ".join(parts[:cut]), " ".join(parts[cut:])


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    media_type: str | None = None
    encoding: str | None = None
    rows: int | None = None
    description: str | None = None
    measured: bool = False
    #: The Table Dialect declared for the file (its entry's, else its package resource's).
    dialect: dict[str, Any] | None = None

    @property
    def tabular(self) -> bool:
        return (self.media_type in ("text/csv", "text/tab-separated-values")
                or self.name.lower().endswith((".csv", ".tsv")))


@dataclass(frozen=True)
class Dataset:
    id: str
    revision: int
    url: str
    language: str
    title: Text
    abstract: Text
    keywords: list[str]
    creators: list[Person]
    contact: Person
    publisher: str | None
    licence: str
    published: str  # YYYY-MM-DD
    modified: str
    access_rights: str | None = None
    embargo_until: str | None = None
    citation: str | None = None
    project_name: str | None = None
    funder: str | None = None
    grant_id: str | None = None
    related: list[str] = field(default_factory=list)
    methods: Text = field(default_factory=dict)
    temporal: tuple[str, str] | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    place: str | None = None
    table_schema: dict[str, Any] | None = None
    files: list[FileInfo] = field(default_factory=list)
    instruments: list[dict[str, Any]] = field(default_factory=list)
    doi: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}.{self.revision}"

    @property
    def year(self) -> str:
        return self.published[:4]

    @property
    def languages(self) -> list[str]:
        """Every language some catalogue text is given in, primary first."""
        out = [self.language]
        for text in (self.title, self.abstract, self.methods):
            out += [lang for lang in text if lang not in out]
        return out

    @property
    def licence_url(self) -> str:
        if self.licence.startswith(("http://", "https://")):
            return self.licence
        return f"https://spdx.org/licenses/{self.licence}.html"

    @property
    def spdx_id(self) -> str | None:
        return None if self.licence.startswith(("http://", "https://")) else self.licence


def _text(value: Any, languages: list[str]) -> Text:
    """A catalogue text as ``{lang: text}``, primary language first (see the module notes)."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {languages[0] if languages else "en": value}
    first = next((lang for lang in languages if lang in value), next(iter(value)))
    return {first: value[first], **{k: v for k, v in value.items() if k != first}}


def _person(data: dict[str, Any] | None) -> Person | None:
    if not data or not data.get("name"):
        return None
    return Person(data["name"], data.get("email"), data.get("orcid"), data.get("organisation"),
                  data.get("role"))


def _doi(record: dict[str, Any], settings: ExportSettings) -> str | None:
    """The record's DOI if publication gave it one, else the one docket would mint for it."""
    for holder in (record, record.get("publication") or {}):
        doi = holder.get("doi") if isinstance(holder, dict) else None
        if isinstance(doi, str) and doi:
            return doi.removeprefix("https://doi.org/")
    if settings.doi_prefix:
        return f"{settings.doi_prefix}/{record['id']}.{record['revision']}".lower()
    return None


def from_record(record: dict[str, Any], settings: ExportSettings) -> Dataset:
    """The neutral view of one stored revision (a document from ``Docket.get``)."""
    meta = record.get("metadata") or {}
    desc = meta.get("project_descriptive") or {}
    admin = meta.get("dataset_administrative") or {}
    context = meta.get("experiment_contextual") or {}
    langs = settings.languages or ["en"]
    title = _text(desc.get("title"), langs)
    primary = next(iter(title), langs[0])
    authors = [p for p in (_person(a) for a in desc.get("authors") or []) if p]
    provider = _person(record.get("provider"))
    contact = _person(admin.get("contact")) or provider
    creators = authors or ([provider] if provider else [])
    measured = record.get("measured") or {}
    files = []
    for f in record.get("files") or []:
        m = measured.get(f["name"]) or {}
        took = m.get("status") not in (None, "declared", "failed") and any(
            k in m for k in ("size", "md5", "sha256"))
        src = {**f, **{k: v for k, v in m.items() if v is not None}} if took else f
        files.append(FileInfo(f["name"], src.get("size"), src.get("md5"), src.get("sha256"),
                              src.get("media_type"), src.get("encoding"), src.get("rows"),
                              f.get("description"), measured=took,
                              dialect=structural.dialect_for(meta.get("dataset_structural"), f)))
    temporal = context.get("temporal_coverage")
    spatial = context.get("spatial_coverage")
    modified = str(record.get("last_modified_date") or record.get("created_date") or "")[:10]
    instruments = (meta.get("instrument_technical") or {}).get("instruments") or []
    return Dataset(
        id=record["id"], revision=int(record["revision"]),
        url=f"{settings.base_uri}{record['id']}.{record['revision']}",
        language=primary, title=title, abstract=_text(desc.get("abstract"), [primary, *langs]),
        keywords=list(desc.get("keywords") or []), creators=creators,
        contact=contact,  # type: ignore[arg-type]  # a stored record always has a provider
        publisher=admin.get("publisher") or settings.publisher,
        licence=admin.get("licence", ""), published=modified, modified=modified,
        access_rights=admin.get("access_rights"), embargo_until=admin.get("embargo_until"),
        citation=admin.get("citation"), project_name=desc.get("project_name"),
        funder=desc.get("funder"), grant_id=desc.get("grant_id"),
        related=list(desc.get("related_identifiers") or []),
        methods=_text(context.get("methods"), [primary, *langs]),
        temporal=(temporal["start"], temporal["end"]) if temporal else None,
        bbox=(spatial["west"], spatial["south"], spatial["east"], spatial["north"]) if spatial else None,
        place=(spatial or {}).get("place"),
        table_schema=meta.get("dataset_structural"), files=files, instruments=list(instruments),
        doi=_doi(record, settings),
    )
