"""Keyword suggestions from a thesaurus file: SKOS (Turtle, RDF/XML, N-Triples) or CSV.

A data centre names its thesaurus in ``docket.toml``::

    [vocabularies]
    keywords = "vocabularies/gcmd-science-keywords.ttl"   # relative to the instance folder

and the request form suggests its concepts while a provider types keywords (free keywords stay
possible: a thesaurus suggests, it never restricts). Typical sources are exports of GCMD Science
Keywords or GEMET.

* **SKOS** files are read with rdflib: every ``skos:Concept`` with a ``skos:prefLabel`` is a
  concept; its preferred label per language is what a keyword becomes, its ``skos:altLabel``\\ s
  are synonyms that find it. The scheme's ``dcterms:title`` / ``skos:prefLabel`` / ``rdfs:label``
  names the thesaurus.
* **CSV** files (UTF-8) have one label a row: ``label[,language][,uri]``, with an optional header
  row ``label,language,uri``. Rows that share a URI are one concept; within one language the first
  row is the preferred label and the later ones are its synonyms. A row without a URI is a
  concept of its own.

A file is bounded (:data:`MAX_BYTES`, :data:`MAX_CONCEPTS`) and a bad one is a
:class:`~docket.errors.InstanceError` naming the file and the line (or the concept and the
triple) at fault: a thesaurus is the data centre's configuration, so a wrong one is theirs to fix.
Labels longer than a keyword may be (:data:`MAX_LABEL`, the request schema's limit) are left out.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from docket.errors import InstanceError

#: Largest thesaurus file read (GCMD Science Keywords as SKOS/RDF-XML is about 10 MB).
MAX_BYTES = 32 * 1024 * 1024
#: Most concepts kept from one file.
MAX_CONCEPTS = 50_000
#: Longest label kept: a keyword is at most 100 characters (project_descriptive.schema.json).
MAX_LABEL = 100
#: File suffixes read, and how.
FORMATS = {".ttl": "turtle", ".rdf": "xml", ".xml": "xml", ".owl": "xml", ".nt": "nt", ".csv": "csv"}
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
SKOS = "http://www.w3.org/2004/02/skos/core#"


@dataclass
class Concept:
    """One concept: its preferred label per language (``""`` for none), synonyms, URI if any."""

    uri: str | None
    labels: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    def label(self, language: str) -> str:
        """The preferred label in ``language`` (``en-GB`` matches ``en``), else one without a
        language, else the English one, else any."""
        lang = language.lower()
        for key in (lang, lang.split("-")[0]):
            if key in self.labels:
                return self.labels[key]
        for key, text in self.labels.items():
            if key.split("-")[0] == lang.split("-")[0]:
                return text
        return self.labels.get("") or self.labels.get("en") or next(iter(self.labels.values()))

    def words(self, language: str) -> list[str]:
        """The synonyms shown in ``language`` (those without a language too)."""
        lang = language.lower().split("-")[0]
        return [w for key, items in self.synonyms.items() if key.split("-")[0] in (lang, "") for w in items]


@dataclass
class Thesaurus:
    """The concepts of one file, with what is needed to suggest and to recognise keywords."""

    title: str
    path: Path
    concepts: list[Concept]

    def suggestions(self, language: str) -> list[tuple[str, str]]:
        """``(text shown, keyword)`` pairs in ``language``, sorted: each concept's preferred
        label, and each synonym as ``"synonym → label"`` (picking it adds the label)."""
        out: dict[str, str] = {}
        for concept in self.concepts:
            label = concept.label(language)
            out.setdefault(label, label)
            for word in concept.words(language):
                if word.casefold() != label.casefold():
                    out.setdefault(f"{word} → {label}", label)
        return sorted(out.items(), key=lambda item: item[0].casefold())

    def find(self, text: str) -> Concept | None:
        """The concept ``text`` is a label or synonym of (any language, any letter case)."""
        return self._index.get(" ".join(text.split()).casefold())

    @cached_property
    def _index(self) -> dict[str, Concept]:
        index: dict[str, Concept] = {}
        for concept in self.concepts:
            for name in [*concept.labels.values(), *(w for ws in concept.synonyms.values() for w in ws)]:
                index.setdefault(name.casefold(), concept)
        return index


def load(path: str | os.PathLike[str], *, title: str | None = None) -> Thesaurus:
    """Read a thesaurus file; :class:`InstanceError` names the file and what is wrong where."""
    path = Path(path)
    name = path.name
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InstanceError(f"thesaurus {name}: unknown kind of file {path.suffix or '(no suffix)'!r} "
                            f"(known: {', '.join(sorted(FORMATS))})")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InstanceError(f"thesaurus {name}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > MAX_BYTES:
        raise InstanceError(f"thesaurus {name}: larger than {MAX_BYTES // (1024 * 1024)} MiB; "
                            "keep the branches of it the data centre uses")
    if kind == "csv":
        concepts, scheme = _read_csv(data, name), None
    else:
        concepts, scheme = _read_skos(data, kind, name)
    if not concepts:
        what = "no label rows" if kind == "csv" else "no skos:Concept with a skos:prefLabel"
        raise InstanceError(f"thesaurus {name}: {what}; nothing to suggest")
    return Thesaurus(title=title or scheme or path.stem, path=path, concepts=concepts)


# -- CSV -------------------------------------------------------------------------------------------

def _read_csv(data: bytes, name: str) -> list[Concept]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InstanceError(f"thesaurus {name}, line {line}: not UTF-8 text") from None
    by_uri: dict[str, Concept] = {}
    concepts: list[Concept] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            line = reader.line_num
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if line == 1 and [c.lower() for c in cells] == ["label", "language", "uri"][: len(cells)]:
                continue  # the header row
            if len(cells) > 3:
                raise InstanceError(f"thesaurus {name}, line {line}: {len(cells)} columns; a row is "
                                    "label[,language][,uri]")
            label, language, uri = (cells + ["", ""])[:3]
            _check_label(label, f"thesaurus {name}, line {line}")
            if language and not _LANGUAGE.match(language):
                raise InstanceError(f"thesaurus {name}, line {line}: {language[:40]!r} is not a language "
                                    "code (e.g. en, fr, pt-BR)")
            if uri and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", uri):
                raise InstanceError(f"thesaurus {name}, line {line}: {uri[:80]!r} is not an absolute URI")
            if len(label) > MAX_LABEL:
                continue
            concept = by_uri.get(uri) if uri else None
            if concept is None:
                concept = Concept(uri or None)
                concepts.append(concept)
                if uri:
                    by_uri[uri] = concept
                _bound(concepts, name)
            _add(concept, label, language.lower())
    except csv.Error as exc:
        raise InstanceError(f"thesaurus {name}, line {reader.line_num}: {exc}") from None
    return concepts


def _add(concept: Concept, label: str, language: str) -> None:
    if language not in concept.labels:
        concept.labels[language] = label
    elif label != concept.labels[language]:
        concept.synonyms.setdefault(language, []).append(label)


def _check_label(label: str, where: str) -> None:
    if not label:
        raise InstanceError(f"{where}: the label is empty")
    if any(ord(c) < 32 for c in label):
        raise InstanceError(f"{where}: the label {label[:40]!r} holds a control character")


def _bound(concepts: list[Concept], name: str) -> None:
    if len(concepts) > MAX_CONCEPTS:
        raise InstanceError(f"thesaurus {name}: more than {MAX_CONCEPTS} concepts")


# -- SKOS ------------------------------------------------------------------------------------------

def _read_skos(data: bytes, kind: str, name: str) -> tuple[list[Concept], str | None]:
    import rdflib
    from rdflib.namespace import DCTERMS, RDF, RDFS
    from rdflib.plugins.parsers.notation3 import BadSyntax

    if kind == "xml" and re.search(rb"<!ENTITY", data[:65536]):
        raise InstanceError(f"thesaurus {name}: XML entity declarations are not accepted")
    graph = rdflib.Graph()
    try:
        graph.parse(data=data, format=kind, publicID=f"file:///{name}")
    except BadSyntax as exc:
        why = getattr(exc, "_why", str(exc))
        raise InstanceError(f"thesaurus {name}, line {exc.lines + 1}: not valid Turtle ({why})") from None
    except Exception as exc:  # rdflib raises many kinds: SAX errors, N-Triples ParseError...
        line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else None
        where = f", line {line}" if line else ""
        message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
        label = {"xml": "RDF/XML", "nt": "N-Triples", "turtle": "Turtle"}[kind]
        raise InstanceError(f"thesaurus {name}{where}: not valid {label} ({str(message)[:200]})") from None
    concept_class, pref, alt = rdflib.URIRef(SKOS + "Concept"), rdflib.URIRef(SKOS + "prefLabel"), \
        rdflib.URIRef(SKOS + "altLabel")
    concepts: list[Concept] = []
    for node in sorted(set(graph.subjects(RDF.type, concept_class)), key=str):
        concept = Concept(str(node) if isinstance(node, rdflib.URIRef) else None)
        for predicate, into_synonyms in ((pref, False), (alt, True)):
            for value in graph.objects(node, predicate):
                where = f"thesaurus {name}: the triple <{node}> {predicate.n3(graph.namespace_manager)}"
                if not isinstance(value, rdflib.Literal):
                    raise InstanceError(f"{where} {value.n3()}: a label must be a literal, not a resource")
                text, language = " ".join(str(value).split()), (value.language or "").lower()
                _check_label(text, where)
                if len(text) > MAX_LABEL:
                    continue
                if into_synonyms:
                    concept.synonyms.setdefault(language, []).append(text)
                elif language in concept.labels and concept.labels[language] != text:
                    raise InstanceError(
                        f"thesaurus {name}: concept <{node}> has two skos:prefLabel in "
                        f"{language or 'no language'} ({concept.labels[language]!r} and {text!r}); SKOS "
                        "allows one per language (integrity condition S14)")
                else:
                    concept.labels[language] = text
        if concept.labels:
            concepts.append(concept)
            _bound(concepts, name)
    scheme = _scheme_title(graph, [DCTERMS.title, pref, RDFS.label])
    return concepts, scheme


def _scheme_title(graph: Any, predicates: Iterable[Any]) -> str | None:
    import rdflib
    from rdflib.namespace import RDF

    for scheme in graph.subjects(RDF.type, rdflib.URIRef(SKOS + "ConceptScheme")):
        for predicate in predicates:
            values = [v for v in graph.objects(scheme, predicate) if isinstance(v, rdflib.Literal)]
            english = [v for v in values if (v.language or "en").startswith("en")]
            if values:
                return " ".join(str((english or values)[0]).split())[:200]
    return None


# -- an instance's configuration -------------------------------------------------------------------

_cache: dict[tuple[str, int, int], Thesaurus] = {}


def configured_path(instance: Any) -> Path | None:
    """The keywords thesaurus an instance's ``docket.toml`` names (``[vocabularies] keywords``),
    resolved against the instance folder; None when none is configured."""
    table = instance.config.extra.get("vocabularies")
    if table is None:
        return None
    where = f"{instance.root / 'docket.toml'} [vocabularies]"
    if not isinstance(table, dict):
        raise InstanceError(f"{where}: must be a table, like keywords = \"vocabularies/keywords.ttl\"")
    unknown = sorted(set(table) - {"keywords"})
    if unknown:
        raise InstanceError(f"{where}: unknown setting {', '.join(map(repr, unknown))} (known: keywords)")
    value = table.get("keywords")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InstanceError(f"{where}: keywords must be the path of a thesaurus file, not {value!r}")
    return (Path(instance.root) / value).resolve()


def configured(instance: Any) -> Thesaurus | None:
    """The instance's keywords thesaurus, read once per version of the file (by size and
    modification time); None when none is configured. A bad file or setting raises."""
    path = configured_path(instance)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError as exc:
        raise InstanceError(f"thesaurus {path.name} (docket.toml [vocabularies] keywords): "
                            f"{exc.strerror or exc}") from exc
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        if len(_cache) > 8:
            _cache.clear()
        _cache[key] = load(path)
    return _cache[key]
