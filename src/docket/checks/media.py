"""What a file is, measured from its bytes, and the checks that see a whole file of one kind.

Checks dispatch on the *measured* media type, not on the file name (issue 11, item 4): a methods
note called ``.txt`` must not be read as a table, a NetCDF file renamed ``.dat`` is still NetCDF,
and a "CSV" that is really a zip archive must not produce a cascade of ragged-row errors. The
transfer step records a media type guessed from the name (``docket.transfer.media_type_of``), so
the name and the provider's ``media_type`` are kept as what they are, a *declaration*, used only
where the bytes cannot decide (CSV and plain text look alike; an HDF5 file may or may not be
NetCDF-4).

:func:`sniff` reads the first 64 KiB once and answers with a :class:`Media`: its ``kind`` says
which checks apply (``table``, ``text``, ``netcdf``, ``binary``). :class:`FileCheck` is the base
of checks that run once on one file of the kinds they name (``text.encoding``, ``netcdf.*``,
``cf.*``); the dispatcher in :mod:`docket.checks._run` hands each a :class:`FileSubject`, whose
``cache`` lets checks of one family share an expensive read (the NetCDF file is opened once).
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from docket.checks.base import Check, CheckResult

#: How much of a file the sniffer reads: enough for many CSV lines and HDF5's root attributes.
HEAD_BYTES = 64 * 1024

TABLE, TEXT, NETCDF, BINARY = "table", "text", "netcdf", "binary"
KINDS = (TABLE, TEXT, NETCDF, BINARY)

TABULAR_MEDIA_TYPES = frozenset({"text/csv", "text/tab-separated-values", "application/csv"})
TABULAR_SUFFIXES = (".csv", ".tsv", ".tab")
NETCDF_MEDIA_TYPES = frozenset({"application/x-netcdf", "application/netcdf", "application/x-netcdf4"})
NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf")

_CLASSIC = {b"CDF\x01": "NetCDF classic (CDF-1)", b"CDF\x02": "NetCDF 64-bit offset (CDF-2)",
            b"CDF\x05": "NetCDF 64-bit data (CDF-5)"}
_HDF5 = b"\x89HDF\r\n\x1a\n"
#: HDF5 may carry a user block of 512 * 2**n bytes before its signature.
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192, 16384, 32768)
#: Names only netCDF-C writes into an HDF5 file (root attributes, dimension bookkeeping).
_NETCDF4_MARKERS = (b"_NCProperties", b"_Netcdf4Dimid", b"_Netcdf4Coordinates", b"_nc3_strict")
#: Other binary formats worth naming in a report.
_MAGIC = ((b"PK\x03\x04", "application/zip", "a zip archive"),
          (b"\x1f\x8b", "application/gzip", "a gzip stream"),
          (b"PAR1", "application/vnd.apache.parquet", "a Parquet file"),
          (b"%PDF", "application/pdf", "a PDF document"),
          (b"\xd0\xcf\x11\xe0", "application/x-ole-storage", "an OLE document (old Excel/Word)"))
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class Media:
    """What the bytes of a file are: the kind of checks it gets, a media type, and in words."""

    kind: str
    media_type: str
    detail: str


def declared_type(media_type: Any) -> str:
    """A declared media type without parameters, lower case ("" when none was declared)."""
    return str(media_type or "").split(";")[0].strip().lower()


def declares_table(media_type: Any, name: Any) -> bool:
    """The provider (or the file's name) says this is a CSV/TSV table."""
    return declared_type(media_type) in TABULAR_MEDIA_TYPES or (
        _generic(media_type) and str(name or "").lower().endswith(TABULAR_SUFFIXES))


def declares_netcdf(media_type: Any, name: Any) -> bool:
    """The provider (or the file's name) says this is a NetCDF file."""
    return declared_type(media_type) in NETCDF_MEDIA_TYPES or (
        _generic(media_type) and str(name or "").lower().endswith(NETCDF_SUFFIXES))


def _generic(media_type: Any) -> bool:
    """No declared type, or one that says nothing (servers label everything so): the name decides."""
    return declared_type(media_type) in ("", "text/plain", "application/octet-stream")


def sniff(path: str | Path, media_type: str | None = None, name: str | None = None) -> Media:
    """The kind and media type of the file at ``path``, from its first bytes.

    ``media_type`` and ``name`` are the declaration: they decide only between text kinds (a
    table or plain text) and whether an HDF5 file is NetCDF-4 when its head does not say, and
    the kind of an empty file (which has no bytes to tell).
    """
    name = name if name is not None else Path(path).name
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head:
        if declares_netcdf(media_type, name):
            return Media(NETCDF, "application/x-netcdf", "an empty file declared as NetCDF")
        if declares_table(media_type, name):
            return Media(TABLE, declared_type(media_type) or "text/csv", "an empty file declared as a table")
        return Media(TEXT, "text/plain", "an empty file")
    if head[:4] in _CLASSIC:
        return Media(NETCDF, "application/x-netcdf", _CLASSIC[head[:4]])
    if any(head[at:at + 8] == _HDF5 for at in _HDF5_OFFSETS):
        if any(marker in head for marker in _NETCDF4_MARKERS) or declares_netcdf(media_type, name):
            return Media(NETCDF, "application/x-netcdf", "NetCDF-4 (HDF5)")
        return Media(BINARY, "application/x-hdf5", "HDF5 without NetCDF-4 markers")
    for magic, mtype, words in _MAGIC:
        if head.startswith(magic):
            return Media(BINARY, mtype, words)
    if not _looks_like_text(head):
        declared = declared_type(media_type)
        shown = declared if declared and not declared.startswith("text/") and \
            declared not in TABULAR_MEDIA_TYPES else "application/octet-stream"
        return Media(BINARY, shown, "binary data")
    declared = declared_type(media_type)
    if declares_table(media_type, name):
        return Media(TABLE, declared or ("text/tab-separated-values" if str(name).lower().endswith(".tsv")
                                         else "text/csv"), "delimited text (declared as a table)")
    if declared.startswith("text/") or declared in ("application/json", "application/xml",
                                                    "application/yaml") or _named_text(name, declared):
        return Media(TEXT, declared or "text/plain", "text")
    delimiter = delimited(head)
    if delimiter is not None:
        return Media(TABLE, "text/tab-separated-values" if delimiter == "\t" else "text/csv",
                     f"delimited text ({delimiter!r} between columns)")
    return Media(TEXT, "text/plain", "text")


def _named_text(name: Any, declared: str) -> bool:
    """No declared type, but a name of a text document (``.txt``, ``.md``...)."""
    return not declared and str(name or "").lower().endswith((".txt", ".md", ".rst", ".json", ".xml",
                                                               ".yaml", ".yml", ".html", ".cdl"))


def _looks_like_text(head: bytes) -> bool:
    """No NUL byte (unless a UTF-16 BOM says so) and few control characters."""
    if head.startswith(_TEXT_BOMS[1:]):
        return True
    if b"\x00" in head:
        return False
    controls = sum(head.count(bytes([b])) for b in (*range(1, 8), 11, *range(14, 27), *range(28, 32)))
    return controls <= len(head) // 100


def delimited(head: bytes) -> str | None:
    """The delimiter when the first lines have the same, non-zero number of it (else None).

    Only for files whose declaration does not say: at least two lines, comment lines (``#``)
    left out, and the last line dropped when the head cut it.
    """
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(head) == HEAD_BYTES and lines:
        lines = lines[:-1]
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][:50]
    if len(lines) < 2:
        return None
    for delim in _DELIMITERS:
        counts = Counter(ln.count(delim) for ln in lines)
        width, seen = counts.most_common(1)[0]
        if width > 0 and seen >= max(2, int(0.9 * len(lines))):
            return delim
    return None


@dataclass
class FileSubject:
    """What a :class:`FileCheck` sees: one file on disk, how it was sniffed and declared.

    ``entry`` is the file's declaration in the request (``{}`` for ``docket check``),
    ``structural`` the request's ``dataset_structural`` (or None), and ``cache`` a place where
    the checks of one family keep what they share (an opened and summarised NetCDF file).
    """

    path: Path
    name: str
    media: Media
    entry: dict[str, Any] = field(default_factory=dict)
    structural: dict[str, Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class FileCheck(Check):
    """A check on one whole file of the kinds in ``kinds``, run once per file.

    Subclasses implement :meth:`check`; the dispatcher turns a check that is ``off`` into a
    ``not-checked`` result without calling it, so a family that is switched off costs nothing.
    """

    kinds: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def check(self, subject: FileSubject) -> CheckResult:
        """The check's result on one file."""
