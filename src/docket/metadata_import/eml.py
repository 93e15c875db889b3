"""EML 2.x (``eml:eml``) into a request document.

Mapped: titles and abstracts with their ``xml:lang``, and a title's EML 2.2 translations
(``<value xml:lang>``) as its other languages (translations of part of an abstract or of a keyword
are listed as not mapped, never run into the text); creators (with an e-mail) as authors; the
first contact with an e-mail as the contact; a metadataProvider with an e-mail as the provider;
keywords; coverage (bounding box, date range); the licence (``licensed``, else
``intellectualRights``); the publisher's name; and per ``dataTable`` the file entry (declared
size, MD5/SHA-256 ``authentication``, ``numberOfRecords`` as data rows after the header lines, the
field delimiter as a media type, and the ``textFormat`` as the file's Table Dialect: record and field
delimiters, quote and escape characters, header lines) plus the attributeList as a Table Schema:
``dataset_structural`` itself for one table, a Data Package with one resource per table for several.
Why the folder rule: a ``physical`` without a distribution URL names a file beside the EML (the
EMLassemblyline/ezEML layout), and docket must never be made to read outside its inbox.
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
    local,
    multilingual,
    person,
    text,
)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _party(el: Any, role: str, t: Tracker) -> dict[str, str] | None:
    given = " ".join(text(g) or "" for g in kids(kid(el, "individualName"), "givenName")).strip()
    sur = text(kid(el, "individualName", "surName")) or ""
    name = " ".join(x for x in (given, sur) if x) or None
    email = text(kid(el, "electronicMailAddress"))
    orcid = None
    for uid in kids(el, "userId"):
        if "orcid" in (uid.get("directory") or "").lower() or "orcid" in (text(uid) or ""):
            orcid = text(uid)
    org = text(kid(el, "organizationName"))
    p = person(name, email, orcid=orcid, organisation=org, role=role)
    if p and p.get("email"):
        for sub in ("individualName", "electronicMailAddress", "organizationName"):
            t.use(kid(el, sub))
        for uid in kids(el, "userId"):
            if orcid and text(uid) == orcid:
                t.use(uid)
    return p


def _first_with_email(elements: list[Any], role: str, t: Tracker) -> list[dict[str, str]]:
    """The first party with an e-mail address (a request has one contact and one provider); the
    others are not marked used, so they are listed as unmapped rather than dropped."""
    for el in elements:
        p = _party(el, role, Tracker(el))
        if p and p.get("email"):
            _party(el, role, t)
            return [p]
    return []


_NUMBER_TYPES = {"natural": "integer", "whole": "integer", "integer": "integer", "real": "number"}
_STORAGE = {"integer": "integer", "int": "integer", "long": "integer", "short": "integer", "float": "number",
            "double": "number", "decimal": "number", "boolean": "boolean", "date": "date",
            "datetime": "datetime", "time": "time", "gyear": "year", "string": "string"}


def _format(eml_format: str) -> tuple[str, str | None]:
    """A Table Schema type and strftime-like format from an EML ``formatString``."""
    f = eml_format.strip()
    has_date = bool(re.search(r"YYYY|DD", f))
    has_time = "hh" in f
    kind = "datetime" if has_date and has_time else "time" if has_time else "year" if f == "YYYY" else "date"
    if kind == "year":
        return kind, None
    out = f
    for src, dst in (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("hh", "%H"), ("mm", "%M"), ("ss", "%S")):
        out = out.replace(src, dst)
    return kind, out


def _field(attr: Any, t: Tracker, missing: list[str]) -> dict[str, Any] | None:
    name = text(kid(attr, "attributeName"))
    if not name:
        return None
    t.use(kid(attr, "attributeName"))
    f: dict[str, Any] = {"name": name}
    label = text(kid(attr, "attributeLabel"))
    if label:
        f["title"] = label
        t.use(kid(attr, "attributeLabel"))
    definition = text(kid(attr, "attributeDefinition"))
    if definition:
        f["description"] = definition
        t.use(kid(attr, "attributeDefinition"))
    storage = kid(attr, "storageType")
    kind = _STORAGE.get((text(storage) or "").lower()) if storage is not None else None
    if kind:
        t.use(storage)
    scale = kid(attr, "measurementScale")
    constraints: dict[str, Any] = {}
    for sc in (kid(scale, "ratio"), kid(scale, "interval")):
        if sc is None:
            continue
        number_type = kid(sc, "numericDomain", "numberType")
        kind = _NUMBER_TYPES.get(text(number_type) or "", kind or "number")
        t.use(number_type)
        unit = kid(sc, "unit", "standardUnit") if kid(sc, "unit", "standardUnit") is not None \
            else kid(sc, "unit", "customUnit")
        if text(unit):
            f["unit"] = text(unit)
            t.use(unit)
        bounds = kid(sc, "numericDomain", "bounds")
        for b in ("minimum", "maximum"):
            bound = kid(bounds, b)
            if bound is None or bound.get("exclusive") == "true":
                continue  # an exclusive bound has no Table Schema form: it stays listed as unmapped
            try:
                num = float(text(bound) or "x")
            except ValueError:
                continue
            constraints[b] = int(num) if num.is_integer() and kind == "integer" else num
            t.use(bound)
    dt = kid(scale, "dateTime")
    if dt is not None:
        fmt = text(kid(dt, "formatString"))
        t.use(kid(dt, "formatString"))
        if fmt:
            kind, strf = _format(fmt)
            if strf:
                f["format"] = strf
        else:
            kind = kind or "date"
    for nom in (kid(scale, "nominal"), kid(scale, "ordinal")):
        if nom is None:
            continue
        code_els = [kid(c, "code") for c in kids(kid(nom, "nonNumericDomain", "enumeratedDomain"), "codeDefinition")]
        codes = [text(c) for c in code_els if text(c)]
        if codes and kind != "boolean":
            constraints["enum"] = codes
            t.use(*code_els)  # each code's definition has no Table Schema place: listed as unmapped
        t.use(kid(nom, "nonNumericDomain", "textDomain", "definition"))  # free text: a string, as mapped
        kind = kind if kind in ("boolean", "integer", "number") else "string"
    f["type"] = kind or "string"
    if constraints:
        f["constraints"] = constraints
    for mv in kids(attr, "missingValueCode"):
        code = text(kid(mv, "code"))
        if code is not None:
            missing.append(code)
            t.use(kid(mv, "code"))
    return f


#: EML spellings of a record delimiter (after XML parsing: ``&#x0A;`` is already a line feed):
#: escapes, character references written out, and names.
_LINE_BREAKS = {"\\n": "\n", "\\r": "\r", "#x0a": "\n", "#x0d": "\r", "#10": "\n", "#13": "\r",
                "0x0a": "\n", "0x0d": "\r", "lf": "\n", "cr": "\r", "crlf": "\r\n", "\n": "\n",
                "\r": "\r"}
_NAMED_DELIMITERS = {"\\t": "\t", "#x09": "\t", "#9": "\t", "0x09": "\t", "tab": "\t",
                     "comma": ",", "semicolon": ";", "pipe": "|", "space": " ", "#x20": " "}


def record_delimiter(value: str | None) -> str | None:
    """A Table Dialect ``lineTerminator`` from an EML ``recordDelimiter`` (``\\n``, ``\\r\\n``,
    ``#x0D#x0A``, a real line feed, ``CRLF``...), or None when it is none of CR, LF and CRLF."""
    if value is None or value == "":
        return None
    rest = value if value.strip() == "" else value.strip().lower()
    out = ""
    while rest:
        for token in sorted(_LINE_BREAKS, key=len, reverse=True):
            if rest.startswith(token):
                out += _LINE_BREAKS[token]
                rest = rest[len(token):]
                break
        else:
            return None
    return out if out in ("\r\n", "\n", "\r") else None


def field_delimiter(value: str | None) -> str | None:
    """A Table Dialect ``delimiter`` (one character) from an EML ``fieldDelimiter``, or None."""
    if value is None or value == "":
        return None
    if len(value) == 1:
        return value
    return _NAMED_DELIMITERS.get(value.strip().lower())


def _dialect(fmt: Any, t: Tracker) -> tuple[dict[str, Any], int | None]:
    """The Table Dialect of a ``textFormat``, and its number of header lines (None when
    ``numHeaderLines`` cannot be read).

    ``recordDelimiter`` (else ``physicalLineDelimiter``) is the ``lineTerminator``,
    ``simpleDelimited/fieldDelimiter`` the ``delimiter``, ``quoteCharacter`` the ``quoteChar``,
    ``literalCharacter`` the ``escapeChar``; ``numHeaderLines`` 0 is ``header: false``, 1 (or
    none given) the default, and n > 1 reads the first line as the header and the next n - 1 as
    comment rows (EML does not say which of its header lines names the columns; the first usually
    does). What has no Table Dialect form (``numFooterLines``, ``collapseDelimiters``, a delimiter
    of several characters, a delimiter that is the quote character) stays listed as unmapped, so the
    dialect is always one the request's validation and QA's reader accept.
    """
    out: dict[str, Any] = {}
    if fmt is None:
        return out, 1
    declared = kid(fmt, "recordDelimiter")
    line = declared if declared is not None else kid(fmt, "physicalLineDelimiter")
    term = record_delimiter(_raw(line))
    if term:
        out["lineTerminator"] = term
        t.use(line)
    simple = kid(fmt, "simpleDelimited")
    quote = _raw(kid(simple, "quoteCharacter"))
    quote = quote if quote is not None and len(quote) == 1 and quote not in "\r\n" else None
    delimiter = field_delimiter(_raw(kid(simple, "fieldDelimiter")))
    if delimiter and delimiter not in "\r\n" and delimiter != (quote or '"'):
        out["delimiter"] = delimiter
        t.use(kid(simple, "fieldDelimiter"))
    if quote is not None and quote != out.get("delimiter", ","):
        out["quoteChar"] = quote
        t.use(kid(simple, "quoteCharacter"))
    literal = _raw(kid(simple, "literalCharacter"))
    if literal is not None and len(literal) == 1 and literal not in (
            "\r", "\n", out.get("delimiter", ","), out.get("quoteChar", '"')):
        out["escapeChar"] = literal
        t.use(kid(simple, "literalCharacter"))
    count = text(kid(fmt, "numHeaderLines"))
    if count is None:
        return out, 1
    if not count.isdigit() or int(count) > 1000:
        return out, None
    lines = int(count)
    t.use(kid(fmt, "numHeaderLines"))
    if lines == 0:
        out["header"] = False
    elif lines > 1:
        out["commentRows"] = list(range(2, lines + 1))
    return out, lines


def _raw(el: Any) -> str | None:
    """An element's text as written (a delimiter may be a space or a tab: not stripped)."""
    return None if el is None or el.text is None else str(el.text)


def _table(dt: Any, folder: Path, inbox: Path, path: Path, t: Tracker) -> dict[str, Any]:
    """The file entry of one dataTable (from its ``physical``)."""
    physical = kid(dt, "physical")
    object_name = text(kid(physical, "objectName")) or text(kid(dt, "entityName"))
    url = text(kid(physical, "distribution", "online", "url"))
    if url:
        t.use(kid(physical, "distribution", "online", "url"))
        name = object_name or url.rstrip("/").rpartition("/")[2]
        location = url
    else:
        if not object_name:
            raise RecordRefused(f"{path}: a dataTable names neither an objectName nor a distribution URL")
        target = (folder / object_name).resolve()
        root = inbox.resolve()
        if "/" in object_name or "\\" in object_name or not target.is_relative_to(root):
            raise RecordRefused(f"{path}: the data file {target} lies outside the instance's inbox ({root}); "
                                "docket reads local files only from there")
        name, location = object_name, str(target)
    t.use(kid(physical, "objectName"))
    if text(kid(dt, "entityName")) == name:
        # an entityName other than the file's name (EDI: "Variables" for AND_Variables.csv) has no
        # place in the file entry: it stays listed as unmapped
        t.use(kid(dt, "entityName"))
    entry: dict[str, Any] = {"name": name, "location": location}
    description = text(kid(dt, "entityDescription"))
    if description:
        entry["description"] = description
        t.use(kid(dt, "entityDescription"))
    size = kid(physical, "size")
    if size is not None and (size.get("unit") in (None, "byte", "bytes")) and (text(size) or "").isdigit():
        entry["size"] = int(text(size) or 0)
        t.use(size)
    for auth in kids(physical, "authentication"):
        method = (auth.get("method") or "").upper().replace("-", "")
        value = (text(auth) or "").lower()
        if method == "MD5" and re.fullmatch(r"[0-9a-f]{32}", value):
            entry["md5"] = value
            t.use(auth)
        elif method in ("SHA256", "SHA2256") and re.fullmatch(r"[0-9a-f]{64}", value):
            entry["sha256"] = value
            t.use(auth)
    fmt = kid(physical, "dataFormat", "textFormat")
    dialect, header_lines = _dialect(fmt, t)
    records = text(kid(dt, "numberOfRecords"))
    if records is not None and records.isdigit() and header_lines is not None:
        # numberOfRecords counts data records; docket's rows are data rows after the header lines
        # (the dialect says how many there are, so QA counts them the same way)
        entry["rows"] = int(records)
        t.use(kid(dt, "numberOfRecords"))
    media = {",": "text/csv", "\t": "text/tab-separated-values"}.get(dialect.get("delimiter", ""))
    if media:
        entry["media_type"] = media
    if dialect:
        entry["dialect"] = dialect
    if text(kid(fmt, "attributeOrientation")) == "column":
        t.use(kid(fmt, "attributeOrientation"))  # the only orientation a Table Schema describes
    enc = text(kid(physical, "characterEncoding"))
    if enc:
        entry["encoding"] = enc.lower()
        t.use(kid(physical, "characterEncoding"))
    return entry


def _structural(schemas: list[tuple[str, dict[str, Any]]], tables: int) -> dict[str, Any] | None:
    """``dataset_structural`` of the tables: the Table Schema of a record's only table, or, when
    the record has several tables, a Data Package with one resource per table that has attributes
    (named after its file, as the Data Package profile wants names: lower case, digits, ``-._``),
    each with its own schema, so no table is held to another's columns."""
    if not schemas:
        return None
    if len(schemas) == 1 and tables == 1:
        return schemas[0][1]
    resources: list[dict[str, Any]] = []
    taken: set[str] = set()
    for file_name, schema in schemas:
        base = re.sub(r"[^a-z0-9._-]+", "-", file_name.lower()).strip("-") or "table"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        resources.append({"name": name, "path": file_name, "schema": schema})
    return {"resources": resources}


_LICENCE_URL = re.compile(r"https?://(?:creativecommons\.org/(?:licenses|publicdomain)/[a-z0-9.+-]+/[0-9.]+"
                          r"|opendatacommons\.org/licenses/[a-z0-9-]+(?:/[0-9.]+)?"
                          r"|spdx\.org/licenses/[A-Za-z0-9.+-]+)/?", re.IGNORECASE)


def licence_url(statement: str) -> str | None:
    """The licence a long ``intellectualRights`` statement names, when it names exactly one licence
    URL (EDI's boilerplate: "released ... under Creative Commons CC0 1.0 ... (see:
    https://creativecommons.org/publicdomain/zero/1.0/). It is considered professional etiquette
    ..."): the statement is too long for a request's licence, but the URL is the licence itself.
    None when it names none or several (then which one governs is not the importer's call)."""
    found = {m.group(0).rstrip("/"): m.group(0) for m in _LICENCE_URL.finditer(statement)}
    return next(iter(found.values())) if len(found) == 1 else None


def values_in(el: Any) -> list[Any]:
    """The EML 2.2 ``<value>`` translations below ``el`` (not those inside another value)."""
    found: list[Any] = []
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if local(child) == "value":
            found.append(child)
        else:
            found += values_in(child)
    return found


def own_text(el: Any) -> str | None:
    """The text of ``el`` and its descendants without its ``<value>`` translations."""
    parts = [el.text or ""]

    def walk(node: Any) -> None:
        for child in node:
            if isinstance(child.tag, str) and local(child) != "value":
                parts.append(child.text or "")
                walk(child)
            parts.append(child.tail or "")

    walk(el)
    return " ".join("".join(parts).split()) or None


def translated(el: Any, lang: str) -> dict[str, str]:
    """An EML 2.2 i18n string as a language map: the element's own text is in ``lang`` (its
    ``xml:lang``, or the dataset's), each ``<value xml:lang="..">`` child is a translation, and a
    ``<value>`` without a language is the text itself. Before EML 2.2's values were read, their
    words were run into the main text (``Histórico ... México. Historical Kelp ...``)."""
    out: dict[str, str] = {}
    main = own_text(el)
    for value in (c for c in el if isinstance(c.tag, str) and local(c) == "value"):
        words = text(value)
        if not words:
            continue
        code = language(value.get(XML_LANG))
        if code:
            out[code] = words
        else:
            main = f"{main} {words}" if main else words
    if main:
        out = {lang: main, **{k: v for k, v in out.items() if k != lang}}
    return out


def map_record(root: Any, path: Path, inbox: Path, fallback: dict[str, str] | None = None) -> Mapped:
    """The request document of an ``eml:eml`` record (see the module's docstring)."""
    t = Tracker(root)
    t.use(*(c for c in root if local(c) == "access"))  # access rules are the publisher's, not the request's
    dataset = kid(root, "dataset")
    if dataset is None:
        raise RecordRefused(f"{path}: an EML document without a dataset (software, protocol or citation "
                            "records are not datasets docket ingests)")
    lang = language(text(kid(dataset, "language")))
    if lang:
        t.use(kid(dataset, "language"))
    titles = {}
    for el in kids(dataset, "title"):
        titles.update(translated(el, language(el.get(XML_LANG)) or lang))
        t.use(el)
    abstracts = {}
    for el in kids(dataset, "abstract"):
        # Translations inside an abstract's paragraphs translate parts of them (a phrase, a list
        # item): not a whole abstract in another language. The text is kept without them, and
        # they are listed as not mapped.
        abstracts[language(el.get(XML_LANG)) or lang] = own_text(el) or ""
        t.use(el)
        t.leave(*values_in(el))
    keywords = []
    for ks in kids(dataset, "keywordSet"):
        for kw in kids(ks, "keyword"):
            # A keyword's translations (<value xml:lang>) are not keywords of their own.
            word = translated(kw, "").get("")
            if word:
                keywords.append(word)
                t.use(kw)
                t.leave(*(v for v in values_in(kw) if language(v.get(XML_LANG))))
        t.use(kid(ks, "keywordThesaurus"))
    people = [p for p in (_party(el, "creator", t) for el in kids(dataset, "creator")) if p]
    contacts = _first_with_email(kids(dataset, "contact"), "contact", t)
    providers = _first_with_email(kids(dataset, "metadataProvider"), "provider", t)
    publisher = text(kid(dataset, "publisher", "organizationName"))
    if publisher:
        t.use(kid(dataset, "publisher", "organizationName"))
    licence = None
    lic = kid(dataset, "licensed")
    if lic is not None:
        licence = text(kid(lic, "identifier")) or text(kid(lic, "url")) or text(kid(lic, "licenseName"))
        t.use(lic)
    rights = kid(dataset, "intellectualRights")
    if licence is None and rights is not None and len(text(rights) or "") <= 200:
        licence = text(rights)
        t.use(rights)
    elif licence is None and rights is not None:
        licence = licence_url(text(rights) or "")  # the statement itself stays listed as unmapped
    cov = kid(dataset, "coverage")
    spatial = None
    box = kid(cov, "geographicCoverage", "boundingCoordinates")
    if box is not None:
        try:
            spatial = {k: float(text(kid(box, f"{k}BoundingCoordinate")) or "x")
                       for k in ("west", "east", "south", "north")}
            t.use(box)
            place = text(kid(cov, "geographicCoverage", "geographicDescription"))
            if place:
                spatial["place"] = place
                t.use(kid(cov, "geographicCoverage", "geographicDescription"))
        except ValueError:
            spatial = None
    temporal = None
    rng = kid(cov, "temporalCoverage", "rangeOfDates")
    start = clean_date(text(kid(rng, "beginDate", "calendarDate")))
    end = clean_date(text(kid(rng, "endDate", "calendarDate")))
    if start and end:
        temporal = {"start": start, "end": end}
        t.use(rng)
    files: list[dict[str, Any]] = []
    schemas: list[tuple[str, dict[str, Any]]] = []  # (file name, its Table Schema)
    for dt in kids(dataset, "dataTable"):
        files.append(_table(dt, path.parent, inbox, path, t))
        attrs = kids(kid(dt, "attributeList"), "attribute")
        if attrs:
            missing: list[str] = []
            fields = [f for f in (_field(a, t, missing) for a in attrs) if f]
            schema: dict[str, Any] = {"fields": fields}
            if missing:
                schema["missingValues"] = list(dict.fromkeys(missing))
            schemas.append((files[-1]["name"], schema))
    structural = _structural(schemas, len(files))
    doc = build(path, title=multilingual(titles), abstract=multilingual(abstracts), keywords=keywords,
                people=people, contact=contacts[0] if contacts else None, licence=licence, files=files,
                publisher=publisher, temporal=temporal, spatial=spatial, structural=structural,
                provider=providers[0] if providers else None, fallback=fallback)
    return Mapped(doc, t.unmapped())
