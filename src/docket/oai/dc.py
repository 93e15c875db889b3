"""``oai_dc``: Dublin Core of a published version, from the same neutral view the exporters use.

Built from :func:`docket.exporters.neutral.from_record` so that the title, people, licence and
dates a harvester sees in Dublin Core are the ones of the DataCite, ISO and EML files. Element
order follows the OAI DC schema's sequence of DC elements (any order is allowed there; this one
reads naturally). Multilingual texts give one element per language with ``xml:lang``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from docket.exporters.neutral import from_record
from docket.exporters.settings import ExportSettings

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"


def export_settings(config: Any) -> ExportSettings:
    """What the neutral view needs: base URI, languages, the ``[publication] publisher``."""
    publisher = ((config.extra or {}).get("publication") or {}).get("publisher")
    return ExportSettings(base_uri=config.base_uri, languages=list(config.languages or ["en"]),
                          publisher=publisher if isinstance(publisher, str) else None)


def oai_dc(record: dict[str, Any], published: dict[str, Any], settings: ExportSettings) -> etree._Element:
    """``<oai_dc:dc>`` of ``record`` (a stored revision) published as ``published``
    (``identifier``, ``identifier_type``, ``date``: the publications row)."""
    doi = published["identifier"] if published["identifier_type"] == "DOI" else None
    d = from_record({**record, **({"publication": {"doi": doi}} if doi else {})}, settings)
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)

    def add(name: str, text: str | None, lang: str | None = None) -> None:
        if text is None or not str(text).strip():
            return
        element = etree.SubElement(root, f"{{{DC_NS}}}{name}")
        element.text = str(text)
        if lang:
            element.set(XML_LANG, lang)

    for lang, text in d.title.items():
        add("title", text, lang)
    for person in d.creators:
        add("creator", person.name)
    for keyword in d.keywords:
        add("subject", keyword)
    for lang, text in d.abstract.items():
        add("description", text, lang)
    add("publisher", d.publisher)
    add("date", published["date"][:10])
    add("type", "Dataset")
    for media in dict.fromkeys(f.media_type for f in d.files if f.media_type):
        add("format", media)
    if doi:
        add("identifier", f"https://doi.org/{doi}")
    add("identifier", d.url)
    for lang in d.languages:
        add("language", lang)
    for related in d.related:
        add("relation", related)
    if d.place:
        add("coverage", d.place)
    if d.temporal:
        add("coverage", f"{d.temporal[0]}/{d.temporal[1]}")
    if d.licence:
        add("rights", d.licence_url)
    return root
