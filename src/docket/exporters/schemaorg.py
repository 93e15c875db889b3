"""schema.org ``Dataset`` as JSON-LD, the form dataset search engines read from a landing page.

Multilingual texts are lists of JSON-LD value objects (``{"@value": ..., "@language": ...}``),
which any JSON-LD processor reads as language-tagged strings; a text in one language stays a
plain string. Each file is a ``DataDownload`` with its media type, size and SHA-256 as docket
measured them; the Table Schema's fields are ``variableMeasured`` with their units. The result is
validated against ``schemaorg.schema.json`` (see :mod:`docket.exporters.jsonschema_check`).
"""

from __future__ import annotations

import json
from typing import Any

from docket.exporters import jsonschema_check
from docket.exporters.neutral import Dataset, Person, Text
from docket.exporters.registry import Exporter, register
from docket.exporters.settings import ExportSettings
from docket.structural import all_fields

SCHEMA = "schemaorg.schema.json"


def _text(text: Text) -> Any:
    if len(text) == 1:
        return next(iter(text.values()))
    return [{"@value": value, "@language": lang} for lang, value in text.items()]


def _person(p: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Person", "name": p.name}
    if p.orcid_uri:
        out["@id"] = p.orcid_uri
        out["identifier"] = p.orcid_uri
    if p.email:
        out["email"] = p.email
    if p.organisation:
        out["affiliation"] = {"@type": "Organization", "name": p.organisation}
    return out


def to_jsonld(d: Dataset) -> dict[str, Any]:
    identifiers = [d.url] + ([f"https://doi.org/{d.doi}"] if d.doi else [])
    doc: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": d.url,
        "name": _text(d.title),
        "description": _text(d.abstract),
        "url": d.url,
        "identifier": identifiers,
        "version": str(d.revision),
        "inLanguage": d.languages if len(d.languages) > 1 else d.language,
        "keywords": d.keywords,
        "license": d.licence_url,
        "isAccessibleForFree": d.access_rights in (None, "open"),
        "datePublished": d.published,
        "dateModified": d.modified,
        "creator": [_person(p) for p in d.creators],
        "contactPoint": {"@type": "ContactPoint", "name": d.contact.name,
                         **({"email": d.contact.email} if d.contact.email else {}),
                         "contactType": "data contact"},
    }
    if d.publisher:
        doc["publisher"] = {"@type": "Organization", "name": d.publisher}
    if d.temporal:
        doc["temporalCoverage"] = f"{d.temporal[0]}/{d.temporal[1]}"
    if d.bbox or d.place:
        place: dict[str, Any] = {"@type": "Place"}
        if d.place:
            place["name"] = d.place
        if d.bbox:
            w, s, e, n = d.bbox
            place["geo"] = {"@type": "GeoShape", "box": f"{s} {w} {n} {e}"}
        doc["spatialCoverage"] = place
    if d.methods:
        doc["measurementTechnique"] = _text(d.methods)
    if d.funder:
        doc["funder"] = {"@type": "Organization", "name": d.funder}
    if d.embargo_until:
        doc["conditionsOfAccess"] = f"embargoed until {d.embargo_until}"
    if d.files:
        doc["distribution"] = [
            {"@type": "DataDownload", "name": f.name,
             **({"encodingFormat": f.media_type} if f.media_type else {}),
             **({"contentSize": f"{f.size} B"} if f.size is not None else {}),
             **({"sha256": f.sha256} if f.sha256 else {})}
            for f in d.files]
    columns = all_fields(d.table_schema)  # a Table Schema's fields, or every resource's
    if columns:
        doc["variableMeasured"] = [
            {"@type": "PropertyValue", "name": f["name"],
             **({"description": f.get("description") or f["title"]} if f.get("description") or f.get("title") else {}),
             **({"unitText": f["unit"]} if f.get("unit") else {})}
            for f in columns]
    return doc


@register
class SchemaOrgExporter(Exporter):
    name = "schemaorg"
    media_type = "application/ld+json"
    extension = ".jsonld"
    description = "schema.org Dataset, JSON-LD"

    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        return json.dumps(to_jsonld(dataset), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"

    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        jsonschema_check.check(self.name, json.loads(document), SCHEMA)
        return None
