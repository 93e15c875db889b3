"""DataCite XML (kernel 2, 3 and 4) into a request document.

Why the kernel check: each kernel is a namespace of its own (``http://datacite.org/schema/kernel-4``)
and later kernels moved things (kernel 3 writes a geoLocationBox as one "S W N E" string, kernel
4 as four elements; kernel 2 has no geoLocations). A kernel docket does not know may have moved
more, so it is refused rather than half read. DataCite names no e-mail addresses, so the importing
account answers for the draft (see :func:`docket.metadata_import.build`); creators, who have no
address either, are listed as unmapped rather than invented. The DOI's resolver URL stands as the
draft's file entry until the data manager names the data files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docket.metadata_import import (
    Mapped,
    RecordRefused,
    Tracker,
    build,
    clean_date,
    kid,
    kids,
    language,
    multilingual,
    ns,
    text,
)

KERNELS = ("2.0", "2.1", "2.2", "3", "4")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _disagree(identifier: str | None, uri: str | None) -> bool:
    """Whether a Creative Commons ``rightsIdentifier`` and ``rightsURI`` name different licences.

    Real records do (DataCite's own 4.5 dataset example: ``CC-BY-4.0`` beside a ``by-nc/4.0`` URI
    and a "Non Commercial" label); the identifier is taken, and the element is then listed as
    unmapped so a reviewer sees the conflict rather than one side of it vanishing.
    """
    ident = re.fullmatch(r"CC-([A-Z-]+)-(\d(?:\.\d)*)", identifier or "", re.IGNORECASE)
    link = re.search(r"creativecommons\.org/licenses/([a-z-]+)/(\d(?:\.\d)*)", uri or "", re.IGNORECASE)
    return bool(ident and link) and (ident.group(1).lower(), ident.group(2)) != (link.group(1).lower(), link.group(2))


def map_record(root: Any, path: Path, fallback: dict[str, str] | None = None) -> Mapped:
    """The request document of a DataCite ``resource`` (see the module's docstring)."""
    kernel = ns(root).rpartition("kernel-")[2]
    if kernel not in KERNELS:
        raise RecordRefused(f"{path}: DataCite kernel {kernel!r} is not one docket reads "
                            f"(known: kernel {', '.join(KERNELS)})")
    t = Tracker(root)
    lang = language(text(kid(root, "language")))
    if lang:
        t.use(kid(root, "language"))
    titles: dict[str, str] = {}
    for el in kids(kid(root, "titles"), "title"):
        if el.get("titleType"):
            continue  # subtitles and alternative titles stay listed as unmapped
        titles.setdefault(language(el.get(XML_LANG)) or lang, text(el) or "")
        t.use(el)
    abstracts: dict[str, str] = {}
    for el in kids(kid(root, "descriptions"), "description"):
        if el.get("descriptionType") == "Abstract":
            abstracts.setdefault(language(el.get(XML_LANG)) or lang, text(el) or "")
            t.use(el)
    keywords = []
    for el in kids(kid(root, "subjects"), "subject"):
        if text(el):
            keywords.append(text(el) or "")
            t.use(el)
    publisher = text(kid(root, "publisher"))
    t.use(kid(root, "publisher"))
    licence = None
    for el in kids(kid(root, "rightsList"), "rights"):
        value = el.get("rightsIdentifier") or el.get("rightsURI") or text(el)
        if value and len(value) <= 200 and licence is None:
            licence = value
            if not _disagree(el.get("rightsIdentifier"), el.get("rightsURI")):
                t.use(el)  # else the element stays listed: the record contradicts itself
    if licence is None and kid(root, "rights") is not None:  # kernel 2: one <rights>
        licence = text(kid(root, "rights"))
        t.use(kid(root, "rights"))
    temporal = None
    for el in kids(kid(root, "dates"), "date"):
        start, _, end = (text(el) or "").partition("/")
        if el.get("dateType") == "Collected" and clean_date(start) and clean_date(end) and temporal is None:
            temporal = {"start": clean_date(start), "end": clean_date(end)}
            t.use(el)
    spatial = None
    for geo in kids(kid(root, "geoLocations"), "geoLocation"):
        box = kid(geo, "geoLocationBox")
        if box is None or spatial is not None:
            continue
        try:
            if len(box):  # kernel 4
                spatial = {k: float(text(kid(box, f"{k}BoundLongitude" if k in ("west", "east")
                                                  else f"{k}BoundLatitude")) or "x")
                           for k in ("west", "east", "south", "north")}
            else:  # kernel 3: "south west north east"
                s, w, n, e = (float(v) for v in (text(box) or "").split())
                spatial = {"west": w, "east": e, "south": s, "north": n}
        except ValueError:
            continue
        t.use(box)
        place = text(kid(geo, "geoLocationPlace"))
        if place:
            spatial["place"] = place
            t.use(kid(geo, "geoLocationPlace"))
    ident = kid(root, "identifier")
    files = []
    doi = text(ident)
    if doi and (ident.get("identifierType") or "").upper() == "DOI":
        files.append({"name": re.sub(r"[^A-Za-z0-9._-]", "_", doi)[:255], "location": f"https://doi.org/{doi}",
                      "description": "the DOI's landing page, standing in until the data files are named"})
        t.use(ident)
    doc = build(path, title=multilingual(titles), abstract=multilingual(abstracts), keywords=keywords,
                people=[], contact=None, licence=licence, files=files, publisher=publisher,
                temporal=temporal, spatial=spatial, fallback=fallback)
    return Mapped(doc, t.unmapped())
