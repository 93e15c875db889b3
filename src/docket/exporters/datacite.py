"""DataCite Metadata Schema 4.5 XML, written by the ``datacite`` package's schema45 writer.

DataCite requires an identifier (a DOI), creators, titles, a publisher, a publication year and a
resource type. The DOI is the record's own when publication gave it one, else the one docket
would mint (``[datacite] prefix`` + ``<id>.<revision>``); with neither, the export is refused
naming ``[datacite] prefix``, since a DataCite record without a DOI is not valid. The publisher
is the record's ``dataset_administrative.publisher``, else ``[publication] publisher``; the
year is that of the revision (see :mod:`docket.exporters.neutral`). Titles and descriptions
carry ``xml:lang``; titles beyond the primary language are ``TranslatedTitle``.
"""

from __future__ import annotations

from typing import Any

from docket.errors import BadInput
from docket.exporters import xsd
from docket.exporters.neutral import Dataset, Person
from docket.exporters.registry import Exporter, register
from docket.exporters.settings import ExportSettings


def _name(p: Person, contributor_type: str | None = None) -> dict[str, Any]:
    given, family = p.given_family
    out: dict[str, Any] = {"name": f"{family}, {given}" if given else family, "nameType": "Personal",
                           "familyName": family}
    if given:
        out["givenName"] = given
    if p.orcid_uri:
        out["nameIdentifiers"] = [{"nameIdentifier": p.orcid_uri, "nameIdentifierScheme": "ORCID",
                                   "schemeUri": "https://orcid.org"}]
    if p.organisation:
        out["affiliation"] = [{"name": p.organisation}]
    if contributor_type:
        out["contributorType"] = contributor_type
    return out


def to_json(d: Dataset) -> dict[str, Any]:
    """The DataCite 4.5 JSON (the datacite package's input) for one dataset."""
    if not d.doi:
        raise BadInput(f"{d.ref}: a DataCite export needs a DOI: set [datacite] prefix in docket.toml "
                       "(or publish the record first)")
    if not d.publisher:
        raise BadInput(f"{d.ref}: a DataCite export needs a publisher: the record has no "
                       "metadata.dataset_administrative.publisher and docket.toml no [publication] publisher")
    titles = [{"title": text, "lang": lang, **({"titleType": "TranslatedTitle"} if i else {})}
              for i, (lang, text) in enumerate(d.title.items())]
    descriptions = [{"description": text, "descriptionType": "Abstract", "lang": lang}
                    for lang, text in d.abstract.items()]
    descriptions += [{"description": text, "descriptionType": "Methods", "lang": lang}
                     for lang, text in d.methods.items()]
    rights: dict[str, Any] = {"rights": d.licence, "rightsUri": d.licence_url}
    if d.spdx_id:
        rights.update(rightsIdentifier=d.spdx_id, rightsIdentifierScheme="SPDX",
                      schemeUri="https://spdx.org/licenses/")
    dates = [{"date": d.modified, "dateType": "Updated"}]
    if d.temporal:
        dates.append({"date": f"{d.temporal[0]}/{d.temporal[1]}", "dateType": "Collected"})
    if d.embargo_until:
        dates.append({"date": d.embargo_until, "dateType": "Available"})
    data: dict[str, Any] = {
        "doi": d.doi,
        "creators": [_name(p) for p in d.creators],
        "titles": titles,
        "publisher": {"name": d.publisher},
        "publicationYear": d.year,
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
        "subjects": [{"subject": k} for k in d.keywords],
        "contributors": [_name(d.contact, "ContactPerson")],
        "dates": dates,
        "language": d.language,
        "alternateIdentifiers": [{"alternateIdentifier": d.url, "alternateIdentifierType": "URL"}],
        "relatedIdentifiers": [
            {"relatedIdentifier": r, "relatedIdentifierType": "URL" if r.startswith("http") else "DOI",
             "relationType": "References"}
            for r in d.related if r.startswith(("http", "10."))],
        "sizes": [f"{f.size} bytes" for f in d.files if f.size is not None],
        "formats": sorted({f.media_type for f in d.files if f.media_type}),
        "version": str(d.revision),
        "rightsList": [rights],
        "descriptions": descriptions,
    }
    if d.bbox or d.place:
        geo: dict[str, Any] = {}
        if d.place:
            geo["geoLocationPlace"] = d.place
        if d.bbox:
            w, s, e, n = d.bbox
            geo["geoLocationBox"] = {"westBoundLongitude": w, "eastBoundLongitude": e,
                                     "southBoundLatitude": s, "northBoundLatitude": n}
        data["geoLocations"] = [geo]
    if d.funder:
        data["fundingReferences"] = [{"funderName": d.funder,
                                      **({"awardNumber": d.grant_id} if d.grant_id else {})}]
    return {k: v for k, v in data.items() if v not in ([], None, "")}


@register
class DataCiteExporter(Exporter):
    name = "datacite"
    media_type = "application/vnd.datacite.datacite+xml"
    extension = ".xml"
    description = "DataCite Metadata Schema 4.5 XML"

    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        from datacite import schema45
        from lxml import etree

        tree = schema45.dump_etree(to_json(dataset))
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        return xsd.check(self.name, document, settings)
