"""EML 2.2.0 (Ecological Metadata Language), built with lxml.

The Table Schema becomes each tabular file's ``dataTable``/``attributeList`` (when
``dataset_structural`` is a Data Package, each file's own resource schema): a field's type
chooses its ``measurementScale`` (numbers ``ratio`` with their unit, dates ``dateTime`` with an
EML format string, enums and booleans ``nominal`` enumerated domains, other text a text domain),
its constraints become bounds and patterns, and the missing-value codes ``missingValueCode``.
``physical`` carries what docket measured: size in bytes, MD5 and SHA-256 ``authentication``,
the character encoding, and ``numberOfRecords`` (data rows, after the header line) when QA
counted them, and the file's Table Dialect as its ``textFormat`` (header lines, record and
field delimiters, quote and literal characters; LF, comma and one header line when none is
declared), which ``docket import-metadata`` maps back. A tabular file without a Table Schema, or
any other file, is an ``otherEntity`` (EML requires an attribute list for a ``dataTable``). Translations use EML 2.2's i18n form: the
primary language as ``xml:lang`` on the element, the others as ``value`` children (titles) or
one ``para`` per language (abstract, methods).

Beyond the XSD, EML requires ``id`` attributes to be unique and every ``references`` to name
one of them (the EML parser's rule, which the XSD cannot express): checked here too.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from docket import structural
from docket.errors import BadInput, Problem
from docket.exporters import xsd
from docket.exporters.neutral import Dataset, FileInfo, Person, Text
from docket.exporters.registry import Exporter, register
from docket.exporters.settings import ExportSettings

NS = "https://eml.ecoinformatics.org/eml-2.2.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: Table Schema / UCUM-ish unit -> EML standard unit (eml-unitTypeDefinitions.xsd dictionary);
#: anything else is written as a customUnit.
STANDARD_UNITS = {
    "m": "meter", "mm": "millimeter", "cm": "centimeter", "km": "kilometer", "kg": "kilogram",
    "g": "gram", "degC": "celsius", "Cel": "celsius", "K": "kelvin", "s": "second", "L": "liter",
    "l": "liter", "%": "percent", "hPa": "hectopascal", "mbar": "millibar", "m/s": "metersPerSecond",
    "deg": "degree", "1": "dimensionless", "": "dimensionless",
}
_STRFTIME = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss", "%y": "YY",
             "%j": "DDD", "%z": "Z", "%f": "ssssss"}
_DEFAULT_FORMATS = {"date": "YYYY-MM-DD", "datetime": "YYYY-MM-DDThh:mm:ss", "time": "hh:mm:ss",
                    "year": "YYYY"}
_STORAGE = {"string": "string", "integer": "integer", "number": "float", "boolean": "boolean",
            "date": "date", "datetime": "dateTime", "time": "time", "year": "gYear", "any": "string"}


def _el(parent: etree._Element, tag: str, text: Any = None, **attrib: str) -> etree._Element:
    e = etree.SubElement(parent, tag, {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        e.text = str(text)
    return e


def _i18n(parent: etree._Element, tag: str, text: Text) -> None:
    """One element in the primary language, the other languages as ``value`` children."""
    items = list(text.items())
    lang, first = items[0]
    e = _el(parent, tag, first)
    e.set(XML_LANG, lang)
    for other, value in items[1:]:
        _el(e, "value", value).set(XML_LANG, other)


def _paras(parent: etree._Element, tag: str, text: Text) -> etree._Element:
    """A TextType element with one ``para`` per language, each with its ``xml:lang``."""
    e = _el(parent, tag)
    for lang, value in text.items():
        _el(e, "para", value).set(XML_LANG, lang)
    return e


def _party(parent: etree._Element, tag: str, p: Person, role: str | None = None) -> None:
    e = _el(parent, tag)
    given, family = p.given_family
    name = _el(e, "individualName")
    if given:
        _el(name, "givenName", given)
    _el(name, "surName", family)
    if p.organisation:
        _el(e, "organizationName", p.organisation)
    if p.email:
        _el(e, "electronicMailAddress", p.email)
    if p.orcid_uri:
        _el(e, "userId", p.orcid_uri, directory="https://orcid.org")
    if role:
        _el(e, "role", role)


def eml_format(fmt: str | None, kind: str) -> str:
    """A Table Schema date format (strftime-like, or ``default``/``any``) as an EML formatString."""
    if not fmt or fmt in ("default", "any") or "%" not in fmt:
        return _DEFAULT_FORMATS.get(kind, "YYYY-MM-DD")
    return re.sub(r"%[A-Za-z]", lambda m: _STRFTIME.get(m.group(0), m.group(0)), fmt)


def _measurement(attr: etree._Element, f: dict[str, Any]) -> None:
    kind = f.get("type", "string")
    cons = f.get("constraints") or {}
    scale = _el(attr, "measurementScale")
    if kind in ("integer", "number"):
        ratio = _el(scale, "ratio")
        unit = _el(ratio, "unit")
        raw = str(f.get("unit", ""))
        if raw in STANDARD_UNITS:
            _el(unit, "standardUnit", STANDARD_UNITS[raw])
        else:
            _el(unit, "customUnit", raw)
        domain = _el(ratio, "numericDomain")
        _el(domain, "numberType", "integer" if kind == "integer" else "real")
        if "minimum" in cons or "maximum" in cons:
            bounds = _el(domain, "bounds")
            if "minimum" in cons:
                _el(bounds, "minimum", cons["minimum"], exclusive="false")
            if "maximum" in cons:
                _el(bounds, "maximum", cons["maximum"], exclusive="false")
    elif kind in _DEFAULT_FORMATS:
        dt = _el(scale, "dateTime")
        _el(dt, "formatString", eml_format(f.get("format"), kind))
        if "minimum" in cons or "maximum" in cons:
            domain = _el(dt, "dateTimeDomain")
            bounds = _el(domain, "bounds")
            if "minimum" in cons:
                _el(bounds, "minimum", cons["minimum"], exclusive="false")
            if "maximum" in cons:
                _el(bounds, "maximum", cons["maximum"], exclusive="false")
    else:
        nominal = _el(scale, "nominal")
        domain = _el(nominal, "nonNumericDomain")
        codes: list[tuple[str, str]] = []
        if kind == "boolean":
            codes = ([(v, "true") for v in f.get("trueValues") or ["true"]]
                     + [(v, "false") for v in f.get("falseValues") or ["false"]])
        elif cons.get("enum"):
            codes = [(str(v), str(v)) for v in cons["enum"]]
        if codes:
            enum = _el(domain, "enumeratedDomain")
            for code, meaning in codes:
                cd = _el(enum, "codeDefinition")
                _el(cd, "code", code)
                _el(cd, "definition", meaning)
        else:
            text = _el(domain, "textDomain")
            _el(text, "definition", f.get("description") or f.get("title") or "free text")
            if cons.get("pattern"):
                _el(text, "pattern", cons["pattern"])


def _code(value: Any) -> str:
    """A missing-value code: a text, or Table Schema 2's ``{"value": ..., "label": ...}``."""
    return str(value.get("value", "")) if isinstance(value, dict) else str(value)


def _attribute_list(parent: etree._Element, schema: dict[str, Any]) -> None:
    shared = [c for c in map(_code, schema.get("missingValues", [""])) if c != ""]
    attrs = _el(parent, "attributeList")
    for f in schema["fields"]:
        a = _el(attrs, "attribute")
        _el(a, "attributeName", f["name"])
        if f.get("title"):
            _el(a, "attributeLabel", f["title"])
        _el(a, "attributeDefinition", f.get("description") or f.get("title") or f["name"])
        _el(a, "storageType", _STORAGE.get(f.get("type", "string"), "string"))
        _measurement(a, f)
        for code in [c for c in map(_code, f.get("missingValues", shared)) if c != ""]:
            mv = _el(a, "missingValueCode")
            _el(mv, "code", code)
            _el(mv, "codeExplanation", "missing value (declared in the Table Schema)")


#: Line breaks and tabs as EML writes them in recordDelimiter and fieldDelimiter (escapes).
_ESCAPED = {"\r\n": "\\r\\n", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def header_lines(dialect: dict[str, Any]) -> int:
    """EML's ``numHeaderLines`` of a Table Dialect: the lines before the data, i.e. the header
    rows and comment rows that follow each other from line 1 (one header line by default)."""
    before = set(dialect.get("headerRows") or [1]) if dialect.get("header", True) else set()
    before |= {n for n in dialect.get("commentRows") or [] if isinstance(n, int)}
    n = 0
    while n + 1 in before:
        n += 1
    return n


def _physical(parent: etree._Element, f: FileInfo, tabular: bool) -> None:
    phys = _el(parent, "physical")
    _el(phys, "objectName", f.name)
    if f.size is not None:
        _el(phys, "size", f.size, unit="byte")
    if f.md5:
        _el(phys, "authentication", f.md5, method="MD5")
    if f.sha256:
        _el(phys, "authentication", f.sha256, method="SHA-256")
    if f.encoding:
        _el(phys, "characterEncoding", f.encoding)
    fmt = _el(phys, "dataFormat")
    if tabular:
        dialect = f.dialect or {}
        text = _el(fmt, "textFormat")
        _el(text, "numHeaderLines", header_lines(dialect))
        _el(text, "recordDelimiter", _ESCAPED.get(dialect.get("lineTerminator", "\n"), "\\n"))
        _el(text, "attributeOrientation", "column")
        simple = _el(text, "simpleDelimited")
        tsv = f.media_type == "text/tab-separated-values" or f.name.lower().endswith(".tsv")
        delimiter = dialect.get("delimiter", "\t" if tsv else ",")
        _el(simple, "fieldDelimiter", _ESCAPED.get(delimiter, delimiter))
        if dialect.get("quoteChar"):
            _el(simple, "quoteCharacter", dialect["quoteChar"])
        if dialect.get("escapeChar"):
            _el(simple, "literalCharacter", dialect["escapeChar"])
    else:
        ext = _el(fmt, "externallyDefinedFormat")
        _el(ext, "formatName", f.media_type or "application/octet-stream")


def build_tree(d: Dataset, publisher: str | None) -> etree._Element:
    root = etree.Element(f"{{{NS}}}eml", nsmap={"eml": NS}, packageId=d.ref, system=d.url.rsplit("/", 1)[0])
    root.set(XML_LANG, d.language)
    ds = _el(root, "dataset")
    _el(ds, "alternateIdentifier", d.url, system="url")
    if d.doi:
        _el(ds, "alternateIdentifier", f"https://doi.org/{d.doi}", system="https://doi.org")
    _el(ds, "shortName", d.ref)
    _i18n(ds, "title", d.title)
    for p in d.creators:
        _party(ds, "creator", p)
    _el(ds, "pubDate", d.published)
    _el(ds, "language", d.language)
    _paras(ds, "abstract", d.abstract)
    if d.keywords:
        kws = _el(ds, "keywordSet")
        for k in d.keywords:
            _el(kws, "keyword", k)
    rights = f"Licence: {d.licence} ({d.licence_url})"
    if d.access_rights:
        rights += f"; access: {d.access_rights}"
    if d.embargo_until:
        rights += f" until {d.embargo_until}"
    _paras(ds, "intellectualRights", {d.language: rights})
    lic = _el(ds, "licensed")
    _el(lic, "licenseName", d.licence)
    _el(lic, "url", d.licence_url)
    if d.spdx_id:
        _el(lic, "identifier", d.spdx_id)
    online = _el(_el(ds, "distribution"), "online")
    _el(online, "url", d.url, function="information")
    if d.bbox or d.temporal:
        cov = _el(ds, "coverage")
        if d.bbox:
            geo = _el(cov, "geographicCoverage")
            _el(geo, "geographicDescription", d.place or "bounding box")
            box = _el(geo, "boundingCoordinates")
            w, s, e, n = d.bbox
            for tag, v in (("westBoundingCoordinate", w), ("eastBoundingCoordinate", e),
                           ("northBoundingCoordinate", n), ("southBoundingCoordinate", s)):
                _el(box, tag, v)
        if d.temporal:
            rng = _el(_el(cov, "temporalCoverage"), "rangeOfDates")
            _el(_el(rng, "beginDate"), "calendarDate", d.temporal[0])
            _el(_el(rng, "endDate"), "calendarDate", d.temporal[1])
    _party(ds, "contact", d.contact)
    if publisher:
        _el(_el(ds, "publisher"), "organizationName", publisher)
    if d.methods:
        step = _el(_el(ds, "methods"), "methodStep")
        _paras(step, "description", d.methods)
        for inst in d.instruments:
            label = " ".join(str(inst[k]) for k in ("name", "manufacturer", "model") if inst.get(k))
            _el(step, "instrumentation", label)
    if d.project_name or d.funder:
        proj = _el(ds, "project")
        _el(proj, "title", d.project_name or next(iter(d.title.values())))
        _party(proj, "personnel", d.contact, role="contact")
        if d.funder:
            award = _el(proj, "award")
            _el(award, "funderName", d.funder)
            if d.grant_id:
                _el(award, "awardNumber", d.grant_id)
            _el(award, "title", d.project_name or next(iter(d.title.values())))
    for n, f in enumerate(d.files, start=1):
        schema = structural.schema_for(d.table_schema, f.name)  # a package: the file's resource's
        as_table = f.tabular and schema is not None and bool(schema.get("fields"))
        ent = _el(ds, "dataTable" if as_table else "otherEntity", id=f"entity-{n}")
        _el(ent, "entityName", f.name)
        if f.description:
            _el(ent, "entityDescription", f.description)
        _physical(ent, f, f.tabular)
        if as_table:
            _attribute_list(ent, schema)  # type: ignore[arg-type]
            if f.rows is not None:
                _el(ent, "numberOfRecords", f.rows)
        else:
            _el(ent, "entityType", "data table" if f.tabular else (f.media_type or "file"))
    return root


def check_ids(root: etree._Element) -> None:
    """EML's rule beyond the XSD: ids unique, every ``references`` names one of them."""
    seen: set[str] = set()
    problems = []
    for e in root.iter():
        ident = e.get("id")
        if ident is not None:
            if ident in seen:
                problems.append(Problem(root.getroottree().getpath(e), f"id {ident!r} is used twice"))
            seen.add(ident)
    for e in root.iter("references"):
        if (e.text or "") not in seen:
            problems.append(Problem(root.getroottree().getpath(e),
                                    f"references {e.text!r} names no element id"))
    if problems:
        raise BadInput(f"the eml export breaks EML's id rule: {problems[0]}", problems)


@register
class EMLExporter(Exporter):
    name = "eml"
    media_type = "application/xml"
    extension = ".xml"
    description = "Ecological Metadata Language 2.2.0"

    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        root = build_tree(dataset, dataset.publisher)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        root = etree.fromstring(document, etree.XMLParser(no_network=True, resolve_entities=False))
        check_ids(root)
        return xsd.check(self.name, root, settings)
