"""``docket import-metadata``: existing EML, ISO 19139 and DataCite records into draft requests.

Why a package of its own: legacy holdings arrive as XML written by other tools, and XML is the
one input format whose parser can be made to read the network or blow up memory (entities, DTDs).
Every file therefore goes through :func:`read_xml` first: its size is bounded before it is read,
defusedxml parses it refusing any DOCTYPE (so no entity is ever declared, let alone expanded or
fetched), and only the vetted bytes are handed to lxml (with entities, DTD loading and network
off) for the XPath bookkeeping the mappers need. One module per standard turns the tree into a
request document and says, by XPath, what it could not map (:class:`Tracker`), so nothing is
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docket.errors import BadInput

#: Prefixes used in the XPaths of the unmapped list (readable, stable across input prefixes).
PREFIXES: dict[str, str] = {
    "https://eml.ecoinformatics.org/eml-2.2.0": "eml",
    "http://www.isotc211.org/2005/gmd": "gmd",
    "http://www.isotc211.org/2005/gco": "gco",
    "http://www.isotc211.org/2005/gmx": "gmx",
    "http://www.isotc211.org/2005/srv": "srv",
    "http://www.opengis.net/gml/3.2": "gml",
    "http://www.opengis.net/gml": "gml",
    "http://www.w3.org/1999/xlink": "xlink",
}


class RecordRefused(BadInput):
    """A file that is not a record docket can import (exit 2); the message names the file."""


@dataclass
class Mapped:
    """One record as a request document, with the XPaths of what did not map."""

    document: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)
    standard: str = ""


def read_xml(path: Path, max_bytes: int) -> Any:
    """The lxml root of ``path``, after defusedxml accepted it; refusals name the file.

    The size is checked on the open file before reading, and the read itself is bounded, so a
    file that grows while read is still refused rather than read whole.
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as dET
    from defusedxml import DefusedXmlException
    from lxml import etree

    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise RecordRefused(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise RecordRefused(f"{path}: larger than {max_bytes} bytes ([limits] max_request_bytes)")
    try:
        dET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise RecordRefused(f"{path}: refused: the file declares a DTD or entities ({type(exc).__name__}); "
                            "docket neither expands entities nor fetches DTDs") from None
    except ParseError as exc:
        raise RecordRefused(f"{path}: not well-formed XML (truncated or broken): {exc}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:  # pragma: no cover - defusedxml refused it first
        raise RecordRefused(f"{path}: not well-formed XML: {exc}") from None


def local(el: Any) -> str:
    """The local name of an element (its tag without namespace)."""
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def ns(el: Any) -> str:
    tag = el.tag
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


class Tracker:
    """Which elements a mapper used; whatever it did not use is listed by XPath.

    Marking an element consumes its whole subtree. The unmapped list names each largest subtree
    with nothing consumed in it, and any consumed-free container that carries text of its own, so
    a reader sees every piece of the record that did not reach the draft.
    """

    def __init__(self, root: Any) -> None:
        self.root = root
        self.used: set[Any] = set()
        self.left: list[Any] = []  # inside a used element, yet not carried over

    def use(self, *elements: Any) -> None:
        for el in elements:
            if el is not None:
                self.used.add(el)

    def leave(self, *elements: Any) -> None:
        """Elements inside a used one whose content did not make it into the request (e.g. EML
        translations of part of a paragraph): listed as not mapped all the same."""
        self.left.extend(el for el in elements if el is not None)

    def path(self, el: Any) -> str:
        parts: list[str] = []
        while el is not None:
            parent = el.getparent()
            prefix = PREFIXES.get(ns(el), "")
            name = f"{prefix}:{local(el)}" if prefix else local(el)
            if parent is not None:
                same = [c for c in parent if c.tag == el.tag]
                if len(same) > 1:
                    name += f"[{same.index(el) + 1}]"
            parts.append(name)
            el = parent
        return "/" + "/".join(reversed(parts))

    def unmapped(self) -> list[str]:
        out: list[str] = []
        used_anywhere: set[Any] = set()
        for el in self.used:  # every ancestor of a used element holds something used
            while el is not None:
                if el in used_anywhere:
                    break
                used_anywhere.add(el)
                el = el.getparent()

        def walk(el: Any) -> None:
            if el in self.used:
                return
            if el not in used_anywhere:
                out.append(self.path(el))
                return
            if el.text and el.text.strip():
                out.append(self.path(el) + "/text()")
            for child in el:
                if isinstance(child.tag, str):
                    walk(child)

        walk(self.root)
        return out + [self.path(el) for el in self.left]


def kids(el: Any, name: str) -> list[Any]:
    """Children of ``el`` with local name ``name``, whatever their namespace (EML's inner elements
    have none; DataCite's kernels each have their own)."""
    return [c for c in el if isinstance(c.tag, str) and local(c) == name] if el is not None else []


def kid(el: Any, *names: str) -> Any:
    """The first child down the path of local ``names``, or None where the path breaks."""
    for name in names:
        found = kids(el, name)
        if not found:
            return None
        el = found[0]
    return el


def text(el: Any) -> str | None:
    """The stripped text of an element (and its descendants), or None when empty."""
    if el is None:
        return None
    value = " ".join("".join(el.itertext()).split())
    return value or None


def clean_date(value: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date or date-time; None for partial dates (which stay
    unmapped rather than being guessed)."""
    import re

    if not value:
        return None
    match = re.match(r"^(\d{4}-\d{2}-\d{2})(?:$|T)", value.strip())
    return match.group(1) if match else None


def detect(root: Any) -> str:
    """The standard of a parsed record from its root, or '' when it is not a full record."""
    name, space = local(root), ns(root)
    if name == "eml" and space.startswith(("eml://ecoinformatics.org/eml-2", "https://eml.ecoinformatics.org/eml-2")):
        return "eml"
    if name == "MD_Metadata" and space == "http://www.isotc211.org/2005/gmd":
        return "iso19139"
    if name == "resource" and space.startswith("http://datacite.org/schema/kernel-"):
        return "datacite"
    return ""


def map_file(path: Path, *, max_bytes: int, inbox: Path, fallback: dict[str, str] | None = None) -> Mapped:
    """Read, vet and map one record file; raises :class:`RecordRefused` naming the file."""
    root = read_xml(path, max_bytes)
    standard = detect(root)
    if not standard:
        name, space = local(root), ns(root)
        known = {"dataTable", "dataset", "attributeList", "physical", "MD_DataIdentification", "CI_ResponsibleParty"}
        if name in known or name in ("MD_Metadata", "eml", "resource"):
            kind = "a fragment, not a full record" if name in known else "a record in an unknown namespace"
            raise RecordRefused(f"{path}: {kind}: root element {{{space}}}{name}; expected eml:eml (EML 2.x), "
                                "gmd:MD_Metadata (ISO 19139) or a DataCite resource")
        raise RecordRefused(f"{path}: not a metadata record docket imports: root element {{{space}}}{name}; "
                            "expected eml:eml (EML 2.x), gmd:MD_Metadata (ISO 19139) or a DataCite resource")
    if standard == "eml":
        from docket.metadata_import import eml

        mapped = eml.map_record(root, path, inbox, fallback)
    elif standard == "iso19139":
        from docket.metadata_import import iso19139

        mapped = iso19139.map_record(root, path, fallback)
    else:
        from docket.metadata_import import datacite

        mapped = datacite.map_record(root, path, fallback)
    mapped.standard = standard
    return mapped


def person(name: str | None, email: str | None, *, orcid: str | None = None, organisation: str | None = None,
           role: str | None = None) -> dict[str, str] | None:
    """A request contact (name, email, ORCID, organisation, role), or None without a name."""
    import re

    if not name:
        name = organisation
    if not name:
        return None
    out = {"name": name[:200]}
    if email:
        out["email"] = email
    if orcid:
        match = re.search(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dX])", orcid)
        if match:
            out["orcid"] = match.group(1)
    if organisation and organisation != name:
        out["organisation"] = organisation[:300]
    if role:
        out["role"] = role[:100]
    return out


def build(path: Path, *, title: Any, abstract: Any, keywords: list[str], people: list[dict[str, str]],
          contact: dict[str, str] | None, licence: str | None, files: list[dict[str, Any]],
          publisher: str | None = None, temporal: dict[str, str] | None = None,
          spatial: dict[str, Any] | None = None, structural: dict[str, Any] | None = None,
          provider: dict[str, str] | None = None, fallback: dict[str, str] | None = None) -> dict[str, Any]:
    """The request document, holding whatever the record gives and leaving out what it lacks.

    A record without an abstract, keywords, a licence, a contact with an e-mail address or a
    data file is still a data centre's legacy holding: it becomes an *incomplete* draft (the core
    stores drafts checked for what they hold, :mod:`docket.drafts`), and the import report lists
    what is still to complete before it can be submitted for review. Nothing is invented to fill
    a gap: a missing piece is absent from the document, never an empty placeholder.

    ``fallback`` (the importing account) answers for a record that names nobody with an e-mail
    address (DataCite never does): the draft then waits on that person, who can edit it.
    ``path`` is kept for the mappers' calling convention (their refusals name the file).
    """
    del path
    if not any(p and p.get("email") for p in [contact, *people]) and fallback and fallback.get("email"):
        contact = fallback
    with_email = [p for p in ([contact] if contact else []) + people if p and p.get("email")]
    chosen = contact if contact and contact.get("email") else (with_email[0] if with_email else None)
    descriptive: dict[str, Any] = {}
    if title:
        descriptive["title"] = title
    if abstract:
        descriptive["abstract"] = abstract
    if keywords:
        descriptive["keywords"] = list(dict.fromkeys(k[:100] for k in keywords))
    authors = [p for p in people if p.get("email") and p.get("role") in ("creator", "author", "originator")]
    if authors:
        descriptive["authors"] = authors
    administrative: dict[str, Any] = {}
    if licence:
        administrative["licence"] = licence[:200]
    if chosen:
        administrative["contact"] = chosen
    if publisher:
        administrative["publisher"] = publisher[:300]
    metadata: dict[str, Any] = {}
    if descriptive:
        metadata["project_descriptive"] = descriptive
    if administrative:
        metadata["dataset_administrative"] = administrative
    contextual: dict[str, Any] = {}
    if temporal:
        contextual["temporal_coverage"] = temporal
    if spatial:
        contextual["spatial_coverage"] = spatial
    if contextual:
        metadata["experiment_contextual"] = contextual
    if structural:
        metadata["dataset_structural"] = structural
    document: dict[str, Any] = {}
    owner = provider if provider and provider.get("email") else (chosen or provider)
    if owner:
        document["provider"] = {k: v for k, v in owner.items() if k in ("name", "email", "orcid", "organisation")}
    if metadata:
        document["metadata"] = metadata
    if files:
        document["files"] = files
    return document


def multilingual(values: dict[str, str]) -> Any:
    """A language map when the record names languages, else one string (DESIGN: text fields).

    ``""`` is the key of a text without a language; beside texts with one it adds nothing a
    catalogue could show, so it is kept only when it is the only one.
    """
    values = {k: v for k, v in values.items() if v}
    if not values:
        return None
    if set(values) == {""}:
        return values[""]
    values.pop("", None)
    return values


_THREE = {"eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "ita": "it",
          "nld": "nl", "dut": "nl", "por": "pt"}


def language(code: str | None) -> str:
    """A language code as docket keys texts (``en``, ``fr``) from what records write (``eng``,
    ``fra; CAN``, ``en-CA``, ``#fra``); ``""`` when there is none or it is not a language code."""
    import re

    if not code:
        return ""
    code = code.strip().lstrip("#").split(";")[0].strip().lower().replace("_", "-")
    base = code.split("-")[0]
    base = _THREE.get(base, base)
    return base if re.fullmatch(r"[a-z]{2,3}", base) else ""
