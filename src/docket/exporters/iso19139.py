"""ISO 19115/19139 XML through pygeometa's MCF, corrected by docket to be valid ISO/TS 19139:2007.

pygeometa (0.19) renders MCF with Jinja templates. Its ISO 19139 output is not valid as it comes
(see shared/xsd/README.md): it declares the pre-3.2 GML namespace, and writes ``gmd:contact``
(mandatory) only for roles other than ``pointOfContact``/``distributor``; it also knows only one
alternate language, with a ``PT_Locale`` id that its own ``locale`` references do not match. So
docket renders the record monolingual through pygeometa's templates, then with lxml:

* moves GML to ``http://www.opengis.net/gml/3.2`` (the namespace of the 2007 set);
* adds the metadata ``gmd:contact`` (the dataset's contact, as ``pointOfContact``);
* declares a ``gmd:PT_Locale`` per further language and turns the title, abstract and lineage
  into ``PT_FreeText`` with a ``LocalisedCharacterString`` per language;
* drops what the templates leave empty (empty strings, an empty spatial representation, an
  EPSG reference system when there is no bounding box).

pygeometa's Jinja environment is built once per process (its ``render_j2_template`` builds a new
one, and pretty-prints through minidom, on every call), since export speed matters in batches.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from docket.exporters import xsd
from docket.exporters.neutral import Dataset, Person, Text
from docket.exporters.registry import Exporter, register
from docket.exporters.settings import ExportSettings

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GML_OLD = 'xmlns:gml="http://www.opengis.net/gml"'
GML_32 = 'xmlns:gml="http://www.opengis.net/gml/3.2"'
NSMAP = {"gmd": GMD, "gco": GCO, "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
CODELISTS = "http://www.isotc211.org/2005/resources/Codelist/gmxCodelists.xml"
#: ISO 639-1 -> ISO 639-2/B, the code list ``gmd:LanguageCode`` points at (loc.gov).
ISO639_2 = {
    "en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "pt": "por", "nl": "dut",
    "pl": "pol", "sv": "swe", "da": "dan", "fi": "fin", "no": "nor", "nb": "nob", "nn": "nno",
    "ru": "rus", "zh": "chi", "ja": "jpn", "ca": "cat", "eu": "baq", "gl": "glg", "el": "gre",
    "cs": "cze", "hu": "hun", "ro": "rum", "sk": "slo", "sl": "slv", "hr": "hrv", "et": "est",
    "lv": "lav", "lt": "lit", "ga": "gle", "is": "ice", "tr": "tur", "ar": "ara", "ko": "kor",
}

_template: Any = None
_lock = threading.Lock()


def lang3(code: str) -> str:
    return ISO639_2.get(code.split("-")[0].lower(), code)


def _main_template() -> Any:
    """pygeometa's ISO 19139 ``main.j2``, in an environment set up as pygeometa sets it up."""
    global _template
    with _lock:
        if _template is None:
            from jinja2 import Environment, FileSystemLoader
            from pygeometa import core
            from pygeometa.schemas.iso19139 import ISO19139OutputSchema

            env = Environment(loader=FileSystemLoader([ISO19139OutputSchema().template_dir,
                                                       str(core.SCHEMAS)]))
            for name in ("normalize_datestring", "get_distribution_language", "get_charstring",
                         "prune_distribution_formats", "prune_transfer_option"):
                fn = getattr(core, name)
                env.filters[name] = fn
                env.globals[name] = fn
            env.globals["zip"] = zip
            _template = env.get_template("main.j2")
    return _template


def pygeometa_xml(d: Dataset) -> str:
    """pygeometa's own ISO 19139 rendering of the dataset's MCF, before docket's corrections."""
    from pygeometa.core import VERSION

    return _main_template().render(record=to_mcf(d), pygeometa_version=VERSION)


def _contact(p: Person) -> dict[str, Any]:
    return {"individualname": p.name, "organization": p.organisation, "email": p.email,
            "url": p.orcid_uri}


def to_mcf(d: Dataset) -> dict[str, Any]:
    """pygeometa's MCF for one dataset, in its primary language only (see the module notes)."""
    lang = d.language
    # pygeometa's template needs one spatial extent (it reads its CRS); without a bounding box
    # the placeholder's elements are removed again in correct()
    w, s, e, n = d.bbox or (-180, -90, 180, 90)
    spatial = [{"bbox": [w, s, e, n], "crs": 4326}]  # the place: see _place
    temporal = [{"begin": d.temporal[0], "end": d.temporal[1]}] if d.temporal else []
    access = "restricted" if d.access_rights in ("restricted", "embargoed") else "otherRestrictions"
    return {
        "mcf": {"version": "1.0"},
        "metadata": {"identifier": d.ref, "language": lang3(lang), "charset": "utf8",
                     "hierarchylevel": "dataset", "datestamp": d.modified, "dataseturi": d.url},
        "spatial": {"datatype": "textTable"},
        "identification": {
            "language": lang3(lang), "charset": "utf8",
            "title": d.title[lang], "abstract": d.abstract.get(lang) or next(iter(d.abstract.values())),
            "dates": {"publication": d.published, "revision": d.modified},
            "keywords": {"default": {"keywords": d.keywords, "keywords_type": "theme"}} if d.keywords else {},
            "topiccategory": [],
            "extents": {"spatial": spatial, "temporal": temporal},
            "accessconstraints": access,
            "rights": f"{d.licence}" + (f" (embargoed until {d.embargo_until})" if d.embargo_until else ""),
            "license": {"name": d.licence, "url": d.licence_url},
            "url": d.url, "status": "completed", "maintenancefrequency": "asNeeded",
            "edition": str(d.revision),
        },
        "contact": {"pointOfContact": _contact(d.contact)},
        "distribution": {"landing": {"url": d.url, "type": "WWW:LINK", "name": d.ref,
                                     "description": "landing page", "function": "information"}},
        "dataquality": ({"scope": {"level": "dataset"},
                         "lineage": {"statement": d.methods.get(lang) or next(iter(d.methods.values()))}}
                        if d.methods else None),
        "content_info": None,
    }


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NSMAP[prefix]}}}{local}"


def _free_text(el: etree._Element, text: Text, primary: str) -> None:
    """Give ``el`` (holding a gco:CharacterString) a PT_FreeText with the other languages."""
    others = [(lang, value) for lang, value in text.items() if lang != primary]
    if not others:
        return
    el.set(_q("xsi:type"), "gmd:PT_FreeText_PropertyType")
    free = etree.SubElement(el, _q("gmd:PT_FreeText"))
    for lang, value in others:
        group = etree.SubElement(free, _q("gmd:textGroup"))
        lcs = etree.SubElement(group, _q("gmd:LocalisedCharacterString"), locale=f"#locale-{lang}")
        lcs.text = value


def _locale(lang: str) -> etree._Element:
    loc = etree.Element(_q("gmd:locale"))
    pt = etree.SubElement(loc, _q("gmd:PT_Locale"), id=f"locale-{lang}")
    code = etree.SubElement(etree.SubElement(pt, _q("gmd:languageCode")), _q("gmd:LanguageCode"),
                            codeList="http://www.loc.gov/standards/iso639-2/", codeListValue=lang3(lang))
    code.text = lang3(lang)
    cs = etree.SubElement(etree.SubElement(pt, _q("gmd:characterEncoding")), _q("gmd:MD_CharacterSetCode"),
                          codeList=f"{CODELISTS}#MD_CharacterSetCode", codeListValue="utf8")
    cs.text = "utf8"
    return loc


def _place(ident: etree._Element, place: str) -> None:
    """The place name as its own ``EX_GeographicDescription`` (pygeometa nests it, invalidly,
    in the bounding box's ``geographicElement`` and without ``geographicIdentifier``)."""
    extent = ident.find(f"{_q('gmd:extent')}/{_q('gmd:EX_Extent')}")
    if extent is None:
        extent = etree.SubElement(etree.Element(_q("gmd:extent")), _q("gmd:EX_Extent"))
        anchor = ident.find(_q("gmd:supplementalInformation"))
        if anchor is not None:
            anchor.addprevious(extent.getparent())
        else:
            ident.append(extent.getparent())
    element = etree.Element(_q("gmd:geographicElement"))
    desc = etree.SubElement(element, _q("gmd:EX_GeographicDescription"))
    ident_el = etree.SubElement(etree.SubElement(desc, _q("gmd:geographicIdentifier")), _q("gmd:MD_Identifier"))
    etree.SubElement(etree.SubElement(ident_el, _q("gmd:code")), _q("gco:CharacterString")).text = place
    boxes = extent.findall(_q("gmd:geographicElement"))
    if boxes:
        boxes[-1].addnext(element)
    else:
        extent.insert(0, element)


def _text_el(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(etree.SubElement(parent, _q(tag)), _q("gco:CharacterString")).text = text


def _cite(citation: etree._Element, d: Dataset) -> None:
    """The dataset's identifiers (landing page, DOI) and its authors in its citation, where
    pygeometa's template has no place for them (after the edition, before anything else)."""
    anchor = citation.find(_q("gmd:edition"))
    if anchor is None:
        anchor = citation.findall(_q("gmd:date"))[-1]
    added = []
    for code in [d.url] + ([f"https://doi.org/{d.doi}"] if d.doi else []):
        ident = etree.Element(_q("gmd:identifier"))
        _text_el(etree.SubElement(ident, _q("gmd:MD_Identifier")), "gmd:code", code)
        added.append(ident)
    for p in d.creators:
        prop = etree.Element(_q("gmd:citedResponsibleParty"))
        party = etree.SubElement(prop, _q("gmd:CI_ResponsibleParty"))
        _text_el(party, "gmd:individualName", p.name)
        if p.organisation:
            _text_el(party, "gmd:organisationName", p.organisation)
        if p.email:
            address = etree.SubElement(etree.SubElement(etree.SubElement(
                party, _q("gmd:contactInfo")), _q("gmd:CI_Contact")), _q("gmd:address"))
            _text_el(etree.SubElement(address, _q("gmd:CI_Address")), "gmd:electronicMailAddress", p.email)
        role = etree.SubElement(etree.SubElement(party, _q("gmd:role")), _q("gmd:CI_RoleCode"),
                                codeList=f"{CODELISTS}#CI_RoleCode", codeListValue="author")
        role.text = "author"
        added.append(prop)
    for el in reversed(added):
        anchor.addnext(el)


def _drop_empty(root: etree._Element) -> None:
    """Remove optional elements the templates render empty (``None`` or no text)."""
    for cs in list(root.iter(_q("gco:CharacterString"))):
        if (cs.text or "").strip() in ("", "None"):
            holder = cs.getparent()
            holder.getparent().remove(holder)
    for url in list(root.iter(_q("gmd:URL"))):
        if not (url.text or "").strip():
            resource = url.getparent().getparent()  # linkage -> CI_OnlineResource
            prop = resource.getparent()
            prop.getparent().remove(prop)
    for tag in ("gmd:spatialRepresentationInfo",):
        for el in list(root.iter(_q(tag))):
            if len(el) == 0:
                el.getparent().remove(el)


def correct(xml: str, d: Dataset) -> etree._Element:
    """pygeometa's rendering made valid and multilingual (see the module notes)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=True)
    root = etree.fromstring(xml.replace(GML_OLD, GML_32).encode("utf-8"), parser)
    _drop_empty(root)
    ident = root.find(f"{_q('gmd:identificationInfo')}/{_q('gmd:MD_DataIdentification')}")
    if not d.bbox:
        for el in list(root.iter(_q("gmd:referenceSystemInfo"))):
            root.remove(el)
        for box in list(ident.iter(_q("gmd:EX_GeographicBoundingBox"))):
            element = box.getparent()
            element.getparent().remove(element)
    extent = ident.find(_q("gmd:extent"))
    if extent is not None and len(extent[0]) == 0:
        ident.remove(extent)
    if d.place:
        _place(ident, d.place)
    _cite(ident.find(f"{_q('gmd:citation')}/{_q('gmd:CI_Citation')}"), d)
    if root.find(_q("gmd:contact")) is None:
        poc = ident.find(_q("gmd:pointOfContact"))
        contact = etree.Element(_q("gmd:contact"))
        party = etree.fromstring(etree.tostring(poc[0]))
        party.set("id", "contact-metadata")
        contact.append(party)
        root.find(_q("gmd:dateStamp")).addprevious(contact)
    primary = d.language
    others = [lang for lang in d.languages if lang != primary]
    if others:
        anchor = root.find(_q("gmd:dataSetURI"))
        for lang in reversed(others):
            anchor.addnext(_locale(lang))
        citation = ident.find(f"{_q('gmd:citation')}/{_q('gmd:CI_Citation')}")
        _free_text(citation.find(_q("gmd:title")), d.title, primary)
        _free_text(ident.find(_q("gmd:abstract")), d.abstract, primary)
        statement = root.find(f".//{_q('gmd:LI_Lineage')}/{_q('gmd:statement')}")
        if statement is not None:
            _free_text(statement, d.methods, primary)
    return root


@register
class ISO19139Exporter(Exporter):
    name = "iso19139"
    media_type = "application/vnd.iso.19139+xml"
    extension = ".xml"
    description = "ISO 19115 metadata as ISO/TS 19139:2007 XML (GML 3.2)"

    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        root = correct(pygeometa_xml(dataset), dataset)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        return xsd.check(self.name, document, settings)

