"""PROV identifiers of docket: one scheme, valid in every PROV serialization.

Every node docket records is named by a path below the instance's base URI (``[instance]
base_uri``), and written as a qualified name whose **local part is an XML NCName**: PROV-XML
types ``prov:id`` and ``prov:ref`` as ``xs:QName``, so a local part with ``/``, ``%`` or ``@``, or
one starting with a digit, makes the document invalid against ``prov.xsd`` (PROV-N and PROV-JSON
accept them, which is how docket 0.1 came to write them). The namespace of a node is therefore the
path up to its last segment, bound to a prefix named after that path, so the full IRIs keep the
request's hierarchy::

    docket:ocean-0007.2                     <base>ocean-0007.2                   revision 2
    ocean-0007_qa_2:activity                <base>ocean-0007/qa/2/activity       the 2nd qa run
    ocean-0007_qa_2:report                  <base>ocean-0007/qa/2/report         its report
    ocean-0007_qa_2:bundle                  <base>ocean-0007/qa/2/bundle         its PROV bundle
    ocean-0007_transfer_1_file:a.csv        <base>ocean-0007/transfer/1/file/a.csv
    ocean-0007.2:sha256                     <base>ocean-0007.2/sha256            a part of a node
    docket:person_3f2a...                   <base>person_3f2a...                 a person (opaque)
    software:docket-0.1.0                   <base>software/docket-0.1.0          software
    schema_1.0:request                      <base>schema/1.0/request             the request schema

A segment with other characters than letters, digits, ``.``, ``-`` and ``_`` is ``_x`` and its
UTF-8 bytes in hex; a segment starting with ``_``, and a local part that would start with a
digit, ``.`` or ``-``, get a ``_`` in front; so distinct names stay distinct
(:func:`encode_segment`, :func:`local_name`).
People get an opaque identifier (a digest of their ORCID iD, else e-mail, else name: never the
address itself), and their ORCID IRI, which as an IRI ending in digits cannot be a QName, is an
``xsd:anyURI`` attribute (``schema:sameAs``). The same real agent is the same node in every
request's graph; nothing else is shared between requests. ``docs/prov-templates.md`` documents
the scheme; :func:`upgrade` maps docket 0.1's identifiers onto it (store migration 0003).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import unquote

from docket import __version__

VOCAB_PREFIX = "dkt"
#: docket's own vocabulary (vocabulary/vocabulary.ttl); docket 0.1 wrote OLD_VOCAB_URI, which the
#: vocabulary maps to the new terms so stored bundles stay interpretable.
VOCAB_URI = "https://w3id.org/docket/ns#"
OLD_VOCAB_URI = "https://docket.invalid/ns#"
ORCID_URI = "https://orcid.org/"
#: The attribute that carries a person's ORCID IRI (``xsd:anyURI``).
ORCID_ATTRIBUTE = "schema:sameAs"
SCHEMA_ORG_URI = "https://schema.org/"
#: The prefix of the instance's base URI itself.
BASE_PREFIX = "docket"

_ORCID = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
#: An XML NCName restricted to ASCII (what docket writes; a full NCName allows more letters).
NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
#: A prefix that PROV-N, Turtle/TriG (PN_PREFIX) and XML (NCName) all accept.
PREFIX = re.compile(r"[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?")


def encode_segment(segment: str) -> str:
    """``segment`` as a piece of an IRI path, injectively: distinct segments never share a piece.

    Letters, digits, ``.``, ``-`` and ``_`` are kept as they are (``soil_sites.csv``, ``2``); a
    segment starting with ``_`` gets another ``_`` in front; any other (a space, ``%``, ``/``, a
    non-ASCII letter) becomes ``_x`` and its UTF-8 bytes in hex.
    """
    if _NAME_CHARS.fullmatch(segment):
        return "_" + segment if segment.startswith("_") else segment
    return "_x" + segment.encode("utf-8").hex()


def local_name(segment: str) -> str:
    """``segment`` as the local part of a qualified name (an NCName): :func:`encode_segment`,
    with a ``_`` in front when that starts with a digit, ``.`` or ``-`` (``2024.csv`` ->
    ``_2024.csv``). Still injective: the other encodings never start with ``_`` and a digit."""
    piece = encode_segment(segment)
    return piece if NCNAME.fullmatch(piece) else "_" + piece


def decode_segment(piece: str) -> str:
    """The segment a piece or local name was made from (for readers of an identifier)."""
    if re.fullmatch(r"_x(?:[0-9a-f]{2})+", piece):
        return bytes.fromhex(piece[2:]).decode("utf-8")
    return piece[1:] if piece.startswith("_") else piece


class QName(str):
    """A qualified name ``prefix:local`` that knows its IRI, as a path below the base URI.

    It is a ``str`` (``"ocean-0007_qa_2:report"``), so it goes wherever an identifier string
    went; the recorder reads :attr:`prefix` and :meth:`namespace` to declare the prefix in the
    bindings' context, so no caller has to know the prefixes a step uses. ``QName("ocean-0007",
    "qa", "2", "report")`` is ``<base>ocean-0007/qa/2/report``: the prefix is named after the
    namespace's path (``ocean-0007_qa_2``), the local part is the last segment as an NCName.
    """

    pieces: tuple[str, ...]
    prefix: str
    local: str

    def __new__(cls, *segments: str) -> QName:
        if not segments or any(not isinstance(s, str) or not s for s in segments):
            raise ValueError(f"an identifier needs non-empty path segments, not {segments!r}")
        return cls._of(tuple(encode_segment(s) for s in segments[:-1]) + (local_name(segments[-1]),))

    @classmethod
    def _of(cls, pieces: tuple[str, ...]) -> QName:
        prefix = BASE_PREFIX if len(pieces) == 1 else "_".join(pieces[:-1])
        if not PREFIX.fullmatch(prefix):  # a folder named "data." (a prefix cannot end in ".")
            prefix = ("" if prefix[0].isalpha() else "n") + prefix + ("_" if prefix.endswith(".") else "")
        self = super().__new__(cls, f"{prefix}:{pieces[-1]}")
        self.pieces = pieces
        self.prefix = prefix
        self.local = pieces[-1]
        return self

    def __reduce__(self):  # noqa: ANN204 - pickling (Dask workers) rebuilds it from its pieces
        return (QName._of, (self.pieces,))

    @property
    def path(self) -> str:
        """The IRI below the base URI (``ocean-0007/qa/2/report``)."""
        return "/".join(self.pieces)

    @property
    def namespace_path(self) -> str:
        """The prefix's namespace below the base URI (``ocean-0007/qa/2/``; ``""`` for the base)."""
        return "".join(piece + "/" for piece in self.pieces[:-1])

    def namespace(self, base_uri: str) -> str:
        return base_uri + self.namespace_path

    def uri(self, base_uri: str) -> str:
        return base_uri + self.path

    def child(self, name: str) -> QName:
        """A part of this node, one level down: its IRI is this one's, ``/`` and ``name``
        (``ocean-0007.2`` -> ``ocean-0007.2:sha256``, ``<base>ocean-0007.2/sha256``)."""
        return QName._of(self.pieces + (local_name(name),))


def child(node: str, name: str) -> QName:
    """A part of ``node`` (e.g. its SPDX checksum); ``node`` must come from this module."""
    if not isinstance(node, QName):
        raise TypeError(f"{node!r} is not an identifier made by docket.provenance.identifiers")
    return node.child(name)


def context(base_uri: str, nodes: Iterable[object] = ()) -> dict[str, str]:
    """The prefixes an expansion uses (the bindings' ``context``): the fixed ones, and those of
    ``nodes`` (anything else among them is ignored). The recorder declares the prefixes of the
    identifiers it binds itself, numbering a prefix name that two paths would share."""
    out = {BASE_PREFIX: base_uri, VOCAB_PREFIX: VOCAB_URI}
    for node in nodes:
        if isinstance(node, QName):
            out[node.prefix] = node.namespace(base_uri)
    return out


def revision_id(request_id: str, revision: int) -> QName:
    """Revision ``revision`` of the request's document: ``docket:ocean-0007.2``."""
    return QName(f"{request_id}.{revision}")


def step_node(request_id: str, step: str, n: int, name: str) -> QName:
    """A node of instance ``n`` of ``step``: ``ocean-0007_qa_2:report``."""
    return QName(request_id, step, str(n), name)


def step_id(request_id: str, step: str, n: int) -> QName:
    """The activity of instance ``n`` of ``step``: ``ocean-0007_qa_2:activity``.

    docket 0.1 named it ``<base>ocean-0007/qa/2``, an IRI no QName can write (its last segment
    is a number), so the activity is now the ``activity`` of the step instance's namespace.
    """
    return step_node(request_id, step, n, "activity")


def bundle_id(request_id: str, step: str, n: int) -> QName:
    """The bundle the step instance wrote: ``ocean-0007_qa_2:bundle``."""
    return step_node(request_id, step, n, "bundle")


def stored_file_id(request_id: str, n: int, name: str) -> QName:
    """A file as transfer ``n`` stored it (what QA runs check)."""
    return QName(request_id, "transfer", str(n), "file", name)


def source_file_id(request_id: str, n: int, name: str) -> QName:
    """A file where transfer ``n`` found it (the provider's URL or path)."""
    return QName(request_id, "transfer", str(n), "source", name)


def person_key(email: str | None = None, orcid: str | None = None, name: str | None = None) -> str:
    """What identifies a person: the ORCID iD, else the e-mail, else the name (lower case)."""
    iD = orcid_of(orcid)
    if iD:
        return iD
    return (email or name or "unknown").strip().lower()


def person_id(email: str | None = None, orcid: str | None = None, name: str | None = None) -> QName:
    """A person: ``docket:person_<16 hex>``, a digest of :func:`person_key`.

    Opaque on purpose: an identifier is copied into every export and picture, an e-mail address
    should not be; the address and the ORCID iD are attributes of the agent.
    """
    digest = hashlib.sha256(person_key(email, orcid, name).encode("utf-8")).hexdigest()[:16]
    return QName(f"person_{digest}")


def orcid_of(orcid: str | None) -> str | None:
    """The bare ORCID iD (``0000-0002-1825-0097``) of an iD or ORCID IRI, or ``None``."""
    match = _ORCID.search(orcid.strip()) if orcid else None
    return match.group(1) if match else None


def orcid_uri(orcid: str | None) -> str | None:
    """The ORCID IRI of an iD, for the ``schema:sameAs`` attribute, or ``None``."""
    iD = orcid_of(orcid)
    return ORCID_URI + iD if iD else None


def software_id(name: str = "docket", version: str = __version__) -> QName:
    """Software by name and version: ``software:docket-0.1.0``."""
    return QName("software", f"{name}-{version}")


def schema_id(version: str | None) -> QName:
    """The JSON Schema a request was validated against: ``schema_1.0:request``."""
    return QName("schema", version or "unversioned", "request")


def notebook_id(name: str, digest: str) -> QName:
    """The QA notebook as a plan, by name and the start of its digest: ``notebook:qa.ipynb-af11...``."""
    return QName("notebook", f"{name}-{digest}")


def is_qname(text: str) -> bool:
    """Whether ``text`` is an ``xs:QName`` (ASCII) with a prefix, as PROV-XML needs."""
    prefix, sep, local = text.partition(":")
    return bool(sep) and bool(PREFIX.fullmatch(prefix)) and bool(NCNAME.fullmatch(local))


# ------------------------------------------------------------------------ docket 0.1 identifiers

_OLD_STEP = re.compile(r"(?P<rid>[a-z][a-z0-9-]*-\d+)/(?P<step>[a-z-]+)/(?P<n>\d+)(?:/(?P<rest>.+))?")


def upgrade(old: str) -> QName | None:
    """The identifier of this scheme for one that docket 0.1 wrote, or ``None`` if ``old`` is not
    one of docket 0.1's forms (it is then left as it is).

    Used by store migration 0003 on stored bundles and their bindings, so that an upgraded store
    names each node as a new docket would: ``docket:ocean-0007/qa/2`` ->
    ``ocean-0007_qa_2:activity``, ``orcid:0000-...`` and ``docket:person/<e-mail>`` -> the opaque
    person, ``docket:software/docket/0.1.0`` -> ``software:docket-0.1.0``.
    """
    prefix, sep, local = old.partition(":")
    if not sep:
        return None
    if prefix == "orcid":
        return person_id(orcid=local) if orcid_of(local) else None
    if prefix != BASE_PREFIX:
        return None
    parts = local.split("/")
    if len(parts) == 1:
        return QName(local) if local else None  # a revision, ocean-0007.2: unchanged
    if parts[0] == "person" and len(parts) == 2:
        return QName(f"person_{hashlib.sha256(unquote(parts[1]).encode('utf-8')).hexdigest()[:16]}")
    if parts[0] == "software" and len(parts) == 3:
        return software_id(unquote(parts[1]), unquote(parts[2]))
    if parts[0] == "schema" and len(parts) == 3 and parts[2] == "request":
        return schema_id(unquote(parts[1]))
    if parts[0] == "notebook" and len(parts) == 3:
        return notebook_id(unquote(parts[1]), unquote(parts[2]))
    match = _OLD_STEP.fullmatch(local)
    if not match:
        return None
    rid, step, n, rest = match["rid"], match["step"], int(match["n"]), match["rest"]
    if rest is None:
        return step_id(rid, step, n)
    kind, _, name = rest.partition("/")
    if step == "transfer" and kind in ("file", "source") and name:
        return (stored_file_id if kind == "file" else source_file_id)(rid, n, unquote(name))
    if "/" in rest:
        return None
    return step_node(rid, step, n, unquote(rest))
