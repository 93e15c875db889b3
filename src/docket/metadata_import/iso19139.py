"""ISO 19139 (``gmd:MD_Metadata``), including bilingual HNAP records, into a request document.

Why the locale table: HNAP (the Government of Canada profile) writes each text once in the record's
language (``gco:CharacterString``) and again per other language in ``gmd:PT_FreeText`` /
``gmd:LocalisedCharacterString`` whose ``locale`` points at a ``gmd:PT_Locale`` id; the ids are
free (``#fra``, ``#locale-fr``), so the languages come from the ``PT_Locale`` declarations, never
from the id's spelling alone. Mapped: title and abstract per language, keywords (every language),
people by ``CI_RoleCode`` (author/originator: authors; pointOfContact: contact; custodian, owner,
resourceProvider: provider; publisher/distributor: publisher), bounding box, time period,
licence (``otherConstraints``, else ``useLimitation``) and the online resources as files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docket.metadata_import import (
    Mapped,
    Tracker,
    build,
    clean_date,
    language,
    multilingual,
    person,
    text,
)

NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
      "gml": "http://www.opengis.net/gml/3.2", "gml311": "http://www.opengis.net/gml",
      "gmx": "http://www.isotc211.org/2005/gmx"}


def _x(el: Any, path: str) -> list[Any]:
    return el.xpath(path, namespaces=NS) if el is not None else []


def _one(el: Any, path: str) -> Any:
    found = _x(el, path)
    return found[0] if found else None


def _texts(el: Any, main: str, locales: dict[str, str], t: Tracker) -> dict[str, str]:
    """A character-string property as ``{language: text}`` (main text plus PT_FreeText)."""
    out: dict[str, str] = {}
    if el is None:
        return out
    base = _one(el, "gco:CharacterString|gmx:Anchor")
    if text(base):
        out[main] = text(base) or ""
    for lcs in _x(el, "gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString"):
        loc = (lcs.get("locale") or "").lstrip("#")
        lang = locales.get(loc) or language(loc)
        if lang and text(lcs):
            out.setdefault(lang, text(lcs) or "")
    t.use(el)
    return out


def _party_parts(el: Any) -> list[Any]:
    """The parts of a CI_ResponsibleParty a request contact holds (name, organisation in the
    record's language, e-mail, role); the rest (address, phone, translations) stays listed."""
    return [_one(el, "gmd:individualName"), _one(el, "gmd:organisationName/gco:CharacterString"),
            _one(el, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/gmd:electronicMailAddress"),
            _one(el, "gmd:role")]


#: CI_RoleCode values and the request role each becomes.
_KINDS = {"author": "creator", "originator": "creator", "principalInvestigator": "creator",
          "pointOfContact": "contact", "custodian": "provider", "owner": "provider",
          "resourceProvider": "provider", "publisher": "publisher", "distributor": "publisher"}


def _party(el: Any, main: str, locales: dict[str, str], t: Tracker) -> tuple[str, dict[str, str] | None]:
    role = _one(el, "gmd:role/gmd:CI_RoleCode")
    code = (role.get("codeListValue") if role is not None else None) or text(role) or ""
    if code not in _KINDS and text(role):
        # HNAP/NAP code lists give register ids (RI_414) as the value and "pointOfContact; contact"
        # (the ISO name, then the French one) as the text: the ISO name is the role
        code = (text(role) or "").split(";")[0].strip()
    name = text(_one(el, "gmd:individualName/gco:CharacterString"))
    org = {main: text(_one(el, "gmd:organisationName/gco:CharacterString")) or ""}
    email = text(_one(el, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/"
                          "gmd:electronicMailAddress/gco:CharacterString"))
    kind = _KINDS.get(code, "")
    p = person(name, email, organisation=org.get(main) or None, role=kind or code or None)
    return kind, p


def map_record(root: Any, path: Path, fallback: dict[str, str] | None = None) -> Mapped:
    """The request document of a ``gmd:MD_Metadata`` record (see the module's docstring)."""
    t = Tracker(root)
    lang_el = _one(root, "gmd:language")
    main = language(text(_one(lang_el, "gco:CharacterString")) or
                    (_one(lang_el, "gmd:LanguageCode").get("codeListValue") if _one(lang_el, "gmd:LanguageCode") is not None else ""))
    t.use(lang_el)
    locales: dict[str, str] = {}
    for loc in _x(root, "gmd:locale/gmd:PT_Locale"):
        code = _one(loc, "gmd:languageCode/gmd:LanguageCode")
        lang = language((code.get("codeListValue") if code is not None else None) or text(code))
        if loc.get("id") and lang:
            locales[loc.get("id")] = lang
            t.use(loc.getparent())
    ident = _one(root, "gmd:identificationInfo/gmd:MD_DataIdentification")
    cit = _one(ident, "gmd:citation/gmd:CI_Citation")
    title = _texts(_one(cit, "gmd:title"), main, locales, t)
    abstract = _texts(_one(ident, "gmd:abstract"), main, locales, t)
    keywords: list[str] = []
    for kw in _x(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword"):
        keywords.extend(_texts(kw, main, locales, t).values())
    people: list[dict[str, str]] = []
    contact = provider = None
    publisher = None
    parties = [*_x(root, "gmd:contact/gmd:CI_ResponsibleParty"),
               *_x(cit, "gmd:citedResponsibleParty/gmd:CI_ResponsibleParty"),
               *_x(ident, "gmd:pointOfContact/gmd:CI_ResponsibleParty")]
    for party in parties:
        kind, p = _party(party, main, locales, t)
        if p is None:
            continue
        if kind == "publisher" and publisher is None:
            publisher = p.get("organisation") or p["name"]
            t.use(*_party_parts(party))
        elif p.get("email") and kind == "creator":
            people.append(p)
            t.use(*_party_parts(party))
        elif p.get("email") and kind == "contact" and contact is None:
            contact = p
            t.use(*_party_parts(party))
        elif p.get("email") and kind == "provider" and provider is None:
            provider = p
            t.use(*_party_parts(party))
    licence = None
    for constraint in _x(ident, "gmd:resourceConstraints/*"):
        for prop in _x(constraint, "gmd:otherConstraints|gmd:useLimitation"):
            base = _one(prop, "gco:CharacterString|gmx:Anchor")
            chosen = text(base)  # a licence is one string: its translations stay listed as unmapped
            if chosen and len(chosen) <= 200 and licence is None:
                licence = chosen
                t.use(base)
    box = _one(ident, "gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox")
    spatial = None
    if box is not None:
        try:
            spatial = {k: float(text(_one(box, f"gmd:{k}BoundLongitude/gco:Decimal|gmd:{k}BoundLatitude/gco:Decimal"))
                                or "x")
                       for k in ("west", "east", "south", "north")}
            t.use(box)
        except ValueError:
            spatial = None
    temporal = None
    period = _one(ident, "gmd:extent/gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/"
                         "gml:TimePeriod|gmd:extent/gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/"
                         "gmd:extent/gml311:TimePeriod")
    if period is not None:
        start = clean_date(text(_one(period, "gml:beginPosition|gml311:beginPosition")))
        end = clean_date(text(_one(period, "gml:endPosition|gml311:endPosition")))
        if start and end:
            temporal = {"start": start, "end": end}
            t.use(period)
    files = []
    for res in _x(root, "gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions/"
                        "gmd:MD_DigitalTransferOptions/gmd:onLine/gmd:CI_OnlineResource"):
        url = text(_one(res, "gmd:linkage/gmd:URL"))
        if not url:
            continue
        name = text(_one(res, "gmd:name/gco:CharacterString")) or url.rstrip("/").rpartition("/")[2] or "resource"
        files.append({"name": name.replace("/", "_")[:255], "location": url})
        t.use(_one(res, "gmd:linkage"), _one(res, "gmd:name"))
    doc = build(path, title=multilingual(title), abstract=multilingual(abstract), keywords=keywords,
                people=people, contact=contact, licence=licence, files=files, publisher=publisher,
                temporal=temporal, spatial=spatial, provider=provider, fallback=fallback)
    return Mapped(doc, t.unmapped())
