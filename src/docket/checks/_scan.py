"""Streaming a CSV file through the table checks, chunk by chunk, in bounded memory.

The scan has three steps:

1. a *pre-pass* over the raw bytes (8 MiB at a time) that measures size, finds a BOM, counts line
   endings and validates the encoding, noting where invalid bytes are;
2. the header, read with Python's csv module (it is one record);
3. the data, read by Arrow's streaming CSV reader (``pyarrow.csv.open_csv``) with every column as
   text, in blocks of ``block_size`` bytes. Each block becomes a :class:`Chunk` that every table
   check sees in turn; checks parse what they need column-at-a-time (the parse is cached per
   chunk so several checks share it, and for a column that repeats its values, per distinct
   value for the whole scan: :mod:`docket.checks._values`). The blocks are read one ahead in a
   second thread (:class:`ReadAhead`), which also runs the checks' ``prepare`` steps (parsing,
   hashing) on the next block while the checks work on this one.

Rows with the wrong number of values are handed to a callback by Arrow and skipped (the
column-count check reports them); :class:`RowNumbers` keeps the numbering of the rows that remain
exact. A row too long for a block makes Arrow fail; the scan then starts over with blocks four
times larger, up to :data:`MAX_BLOCK_SIZE`, after which the file is reported as unparsable. Any
other parse failure stops the scan and becomes a report entry, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import os
import queue
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from docket.checks._hashes import hash_strings
from docket.checks._types import FieldSpec, Parsed, mask, parse_column
from docket.checks._values import Distinct, encode, limit_for, sliced
from docket.checks.base import DEFAULT_SAMPLE_SIZE, CheckResult, Findings, TableCheck, clip
from docket.checks.dialect import (
    DETECTED_COMMENT_CHAR,
    Dialect,
    LineFilter,
    detect_comment_lines,
    read_header_rows,
)

DEFAULT_BLOCK_SIZE = 512 << 10
# Arrow's streaming reader keeps tens of blocks in flight, so the block size sets peak memory:
# small files (which fit comfortably anyway) get large blocks for speed, large ones small blocks
# so that a file bigger than memory is checked in well under 200 MB. 4 MiB blocks (not 2) check
# a 1M-row file about 15% faster (fewer chunks: less per-chunk work, more repeats per dictionary)
# for about 25 MB more at the peak.
_LARGE_BLOCK_SIZE = 4 << 20
_LARGE_BLOCKS_UP_TO = 128 << 20


def small_file(size: int) -> bool:
    """Whether a file of ``size`` bytes is read in large blocks, its checks' state held in memory
    (up to 128 MiB: speed first); a larger one is checked in bounded memory."""
    return size <= _LARGE_BLOCKS_UP_TO


def block_size_for(size: int) -> int:
    """The block size to read a file of ``size`` bytes with (see the note above)."""
    return _LARGE_BLOCK_SIZE if small_file(size) else DEFAULT_BLOCK_SIZE
MAX_BLOCK_SIZE = 64 << 20
DEFAULT_SPILL_ROWS = 200_000
#: Repeat and key entries (16 bytes each) a check holds in memory before spilling them to bucket
#: files, for a file small enough for large blocks: 32 MB per check at most. Spilling a 1M-row
#: file's entries 200,000 at a time cost about 0.1 s per check, a fifth of the whole check.
_SMALL_FILE_SPILL_ROWS = 1_200_000


def spill_rows_for(size: int) -> int:
    """Entries held before spilling, for a file of ``size`` bytes (see the notes above)."""
    return _SMALL_FILE_SPILL_ROWS if small_file(size) else DEFAULT_SPILL_ROWS
_PREPASS_BLOCK = 1 << 20
_MAX_ENCODING_ERRORS = 10_000


@dataclass
class Prepass:
    """What the raw bytes say before any parsing."""

    size: int = 0
    bom: bool = False
    crlf: int = 0
    lf: int = 0
    cr: int = 0
    expected_encoding: str = "utf-8"
    encoding: str = "utf-8"
    encoding_valid: bool = True
    invalid: Findings | None = None
    invalid_count_exact: bool = True
    #: Quote characters seen; an odd count means a quote is opened and never closed (with
    #: doubled quotes as escapes, as in RFC 4180, a well-formed file always has an even count).
    quotes: int = 0
    #: 1-based physical line of the last quote that opened a quoted field.
    last_open_quote_line: int | None = None
    #: 1-based physical line of the first line holding an odd number of quotes (where an
    #: unclosed quote most likely is: a value spanning lines also makes two such lines).
    first_odd_quote_line: int | None = None
    #: 1-based line of the first line ending in ``\r\n``, in a bare ``\n`` and in a bare ``\r``
    #: (lines counted by every line ending, as an editor shows them): where a file first departs
    #: from a declared ``lineTerminator`` (``table.line-terminator``), found in this same read.
    first_crlf_line: int | None = None
    first_lf_line: int | None = None
    first_cr_line: int | None = None
    #: (size, modification time in ns, inode) when the prepass opened the file: a second read
    #: (:func:`_reread`) checks that it still reads the same file.
    stamp: tuple[int, int, int] | None = None

    @property
    def line_ends(self) -> dict[str, int]:
        """How many lines end in each terminator (quoted line breaks included)."""
        return {"\r\n": self.crlf, "\n": self.lf - self.crlf, "\r": self.cr - self.crlf}

    def first_line_ending(self, terminator: str) -> int | None:
        return {"\r\n": self.first_crlf_line, "\n": self.first_lf_line,
                "\r": self.first_cr_line}[terminator]


@dataclass
class TableContext:
    """Everything a table check may read about the file being scanned."""

    path: Path
    name: str
    schema: dict[str, Any] | None
    sample_size: int = DEFAULT_SAMPLE_SIZE
    spill_rows: int = DEFAULT_SPILL_ROWS
    spill_dir: Path | None = None
    prepass: Prepass = field(default_factory=Prepass)
    dialect: Dialect = field(default_factory=Dialect)
    header: list[str] = field(default_factory=list)
    header_error: str | None = None
    #: Physical lines before the header found to be comments when no dialect was declared.
    comment_lines: list[int] = field(default_factory=list)
    fields: list[FieldSpec] = field(default_factory=list)
    #: Physical column (0-based) of each declared field, or None when the file lacks it.
    field_columns: list[int | None] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    schema_problems: list[str] = field(default_factory=list)
    rows: int = 0
    ragged: Findings | None = None
    parse_error: str | None = None
    parse_error_row: int | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    #: Why no data could be read at all (empty file, no header); None when rows were read.
    unreadable: str | None = None
    #: Physical columns whose text hardly repeats: hashed row by row, not through a dictionary.
    many_distinct: set[int] = field(default_factory=set)
    #: What several checks of one run share (a key's repeat tracker), made afresh for each run.
    shared: dict[Any, Any] = field(default_factory=dict)
    #: The prepass still running beside the scan (:func:`start_prepass`); ``prepass`` holds what
    #: is known before it ends (size, stamp, byte-order mark, the encoding guessed).
    prepass_pending: Future | None = None

    @property
    def has_schema(self) -> bool:
        return self.schema is not None

    def column_label(self, col: int) -> str:
        return self.header[col] if col < len(self.header) else f"column {col + 1}"

    def mapped_fields(self):
        """(field index, spec, physical column) for every declared field found in the file."""
        for i, (spec, col) in enumerate(zip(self.fields, self.field_columns, strict=True)):
            if col is not None:
                yield i, spec, col


class RowNumbers:
    """Data-row numbers of the rows Arrow keeps, given the rows it skipped (ragged rows).

    Arrow numbers records from 1 with the header as record 1, so record ``n`` is data row
    ``n - 1``; a kept record with 0-based index ``v`` among kept records (header included) is
    data row ``v + k``, ``k`` being the number of skipped rows before it. Without a header row
    (dialect ``header: false``) record ``n`` is data row ``n`` and everything shifts by one.
    Comment lines and extra header rows a dialect drops never reach Arrow, so they are not rows.
    """

    def __init__(self, first: int = 0) -> None:
        #: Data row of Arrow's record 1: 0 when it is the header, 1 for a file without one.
        self.first = first
        self.skipped: list[int] = []
        self._t = np.empty(0, np.int64)

    def skip(self, data_row: int) -> None:
        self.skipped.append(data_row)

    def rows(self, kept_before: int, n: int) -> np.ndarray:
        v = kept_before + self.first + np.arange(n, dtype=np.int64)
        if not self.skipped:
            return v
        if len(self._t) != len(self.skipped):
            s = np.asarray(self.skipped, np.int64)
            self._t = s - np.arange(1, len(s) + 1) + 1
        return v + np.searchsorted(self._t, v, side="right")


#: In ``table.shared[("values", col)]``: the column's chunks keep no dictionary in common (its
#: values hardly recur from one chunk to the next), each chunk gets its own.
_PER_CHUNK = object()


class Chunk:
    """One block of rows: text columns, their data-row numbers and a per-chunk parse cache.

    Columns whose values repeat are handled per *distinct* value (:meth:`distinct`,
    :meth:`per_value`): parsing, constraint tests and hashing run once per value, kept for the
    whole scan in the column's :class:`~docket.checks._values.ValueDictionary`, and each row
    takes its value's result. Columns whose values hardly repeat (keys, free text) are handled
    row by row.
    """

    def __init__(self, table: TableContext, columns: list[pa.Array], rows: np.ndarray) -> None:
        self.table = table
        self.columns = columns
        self.rows = rows
        #: Data rows of this block that are entirely empty (set aside before the checks run).
        self.blank_rows = np.empty(0, np.int64)
        self._memo: dict[Any, Any] = {}
        #: Keys being computed, each with the event its computation sets when done: the
        #: read-ahead thread prepares a chunk while the checks already work on it (ReadAhead).
        self._running: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.rows)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per chunk: what several checks derive alike (a key's hashes serve
        ``unique`` and ``primaryKey``), or what the read-ahead thread prepares.

        Two threads may ask for the same key: the second waits for the first's result instead
        of computing it again (what is computed only ever depends on keys below it, so two
        threads never wait for each other); if the first failed, the second computes it itself.
        """
        if key in self._memo:
            return self._memo[key]
        with self._lock:
            if key in self._memo:
                return self._memo[key]
            running = self._running.get(key)
            if running is None:
                done = self._running[key] = threading.Event()
        if running is not None:
            running.wait()
            return self._memo[key] if key in self._memo else compute()
        try:
            value = self._memo[key] = compute()
            return value
        finally:
            with self._lock:
                del self._running[key]
            done.set()

    def distinct(self, col: int) -> Distinct | None:
        """Physical column ``col`` as positions among its distinct values, or None when its
        values hardly repeat.

        The first chunk that finds a column mostly distinct marks it in ``table.many_distinct``:
        later chunks do not try again (a key column stays a key column).
        """
        def compute() -> Distinct | None:
            table = self.table
            arr = self.columns[col]
            if col in table.many_distinct or arr.null_count or len(arr) < 64:
                return None
            key = ("values", col)
            known = table.shared.get(key)
            distinct, following = encode(arr, None if known is _PER_CHUNK else known,
                                         limit_for(small_file(table.prepass.size)))
            if distinct is None:
                table.many_distinct.add(col)
            elif known is not _PER_CHUNK:
                table.shared[key] = _PER_CHUNK if following is None else following
            return distinct

        return self.memo(("distinct", col), compute)

    def _dictionary_parse(self, field_index: int, d: Distinct, size: int | None = None) -> Parsed:
        """Field ``field_index`` parsed for (at least) the first ``size`` values of its column's
        dictionary (``d.size``: those this chunk's rows refer to)."""
        spec = self.table.fields[field_index]
        return d.dictionary.result(
            ("parsed", field_index), d.size if size is None else size,
            lambda values, start, stop: parse_column(spec, values.slice(start, stop - start)))

    def _row_parse(self, field_index: int) -> Parsed:
        """Field ``field_index`` parsed row by row (a column whose values hardly repeat)."""
        col = self.table.field_columns[field_index]
        assert col is not None
        return self.memo(("rows", field_index),
                         lambda: parse_column(self.table.fields[field_index], self.columns[col]))

    def _distinct_of(self, field_index: int) -> Distinct | None:
        col = self.table.field_columns[field_index]
        assert col is not None
        return self.distinct(col)

    def per_value(self, field_index: int, fn: Callable[[Parsed, pa.Array], np.ndarray],
                  key: Any = None) -> np.ndarray:
        """``fn(parsed, text)`` for every row of field ``field_index``, as a numpy array.

        ``fn`` must treat each value on its own (a test or a hash of one value at a time): when
        the column repeats its values it is computed once per distinct value, for the whole scan,
        and rows take their value's result. ``key`` names what ``fn`` computes, the same in every
        chunk (the check and what it tests): it is ``fn`` itself by default, which only a
        module-level function may rely on (a lambda or a closure is new in every chunk).
        """
        if key is None:
            assert "<" not in fn.__qualname__, f"per_value({fn.__qualname__}) needs a key"
            key = fn
        d = self._distinct_of(field_index)
        if d is None:
            col = self.table.field_columns[field_index]
            return fn(self._row_parse(field_index), self.columns[col])  # type: ignore[index]

        def compute(values: pa.Array, start: int, stop: int) -> np.ndarray:
            parsed = self._dictionary_parse(field_index, d, stop)
            return fn(sliced(parsed, start, stop), values.slice(start, stop - start))

        out = d.dictionary.result(("value", field_index, key), d.size, compute)
        if out.dtype == bool and not out[: d.size].any():  # no value fails (the usual case)
            return np.zeros(len(d.indices), bool)
        return out[d.indices]

    def parsed_rows(self, field_index: int) -> Parsed | None:
        """Field ``field_index`` as parsed row by row, or None when it was parsed per distinct
        value (its values repeat)."""
        return self._row_parse(field_index) if self._distinct_of(field_index) is None else None

    def parsed(self, field_index: int) -> Parsed:
        """Field ``field_index`` parsed, row by row (for what is not computed per value)."""
        def compute() -> Parsed:
            d = self._distinct_of(field_index)
            if d is None:
                return self._row_parse(field_index)
            p = self._dictionary_parse(field_index, d)
            idx = d.indices
            return Parsed(missing=p.missing[idx], bad=p.bad[idx], typed=p.typed.take(pa.array(idx)),
                          key=None if p.key is None else p.key[idx])

        return self.memo(("parsed", field_index), compute)

    def text_hashes(self, col: int) -> np.ndarray:
        """64-bit hashes of the text of physical column ``col`` (shared: do not modify)."""
        def compute() -> np.ndarray:
            d = self.distinct(col)
            if d is None:
                return hash_strings(self.columns[col])
            hashes = d.dictionary.result(
                ("text",), d.size, lambda values, start, stop: hash_strings(values.slice(start, stop - start)))
            return hashes[d.indices]

        return self.memo(("text", col), compute)

    def values(self, col: int, idx: np.ndarray) -> list[Any]:
        """Text of column ``col`` at chunk positions ``idx`` (only for the few kept locations)."""
        return self.columns[col].take(pa.array(np.asarray(idx, np.int64))).to_pylist()

    def row_text(self, idx: np.ndarray) -> list[str]:
        delim = self.table.dialect.delimiter
        take = pa.array(np.asarray(idx, np.int64))
        cols = [c.take(take) for c in self.columns]
        return pc.binary_join_element_wise(*cols, delim).to_pylist() if cols else []


# -- pre-pass ---------------------------------------------------------------------------------


def prepass(path: Path, name: str, declared: str | None, cap: int) -> Prepass:
    """Size, BOM, line endings and encoding validity in one read of the raw bytes."""
    out = Prepass()
    try:
        expected = codecs.lookup(declared).name if declared else "utf-8"
    except (LookupError, UnicodeError):  # an unknown name, or one that is not even text
        expected = "utf-8"
    out.expected_encoding = expected
    utf8 = expected in ("utf-8", "utf-8-sig")
    out.invalid = Findings(cap, name)
    decoder = None if utf8 else codecs.getincrementaldecoder(expected)("strict")
    carry = b""
    lines_before = 0
    offset = 0
    prev_cr = False
    with open(path, "rb") as fh:
        out.stamp = _stamp(os.fstat(fh.fileno()))
        while True:
            block = fh.read(_PREPASS_BLOCK)
            if not block:
                break
            if offset == 0:
                out.bom = block.startswith(codecs.BOM_UTF8)
            lf, cr, quotes = _byte_counts(block)
            crlf = block.count(b"\r\n") if cr else 0
            joined = prev_cr and block[:1] == b"\n"  # a \r\n split between two blocks
            if out.first_crlf_line is None or out.first_lf_line is None or out.first_cr_line is None:
                _first_line_ends(out, block, prev_cr, out.lf + out.cr - out.crlf, (lf, cr, crlf))
            out.lf += lf
            out.cr += cr
            out.crlf += crlf + joined
            prev_cr = block.endswith(b"\r")
            if out.invalid_count_exact:
                if utf8 and not carry and block.isascii():
                    pass  # ASCII is valid UTF-8; isascii() is far cheaper than decoding
                elif utf8:
                    carry = _check_utf8(out, carry + block, offset - len(carry), block, offset, lines_before)
                else:
                    _check_codec(out, decoder, block, offset, lines_before)
            out.quotes += quotes
            lines_before += lf
            offset += len(block)
    if utf8 and carry and out.invalid_count_exact:
        _note_invalid(out, offset - len(carry), lines_before, carry, carry, 0)
    if prev_cr and out.first_cr_line is None:  # the file ends in a bare \r
        out.first_cr_line = out.lf + out.cr - out.crlf
    out.size = offset
    if out.quotes % 2:  # a quote is never closed: find where, in a second read (rare)
        _locate_unbalanced_quote(path, out)
    out.encoding_valid = out.invalid.count == 0
    out.encoding = expected if out.encoding_valid else "latin-1"
    return out


#: Files at least this large have their prepass run beside the start of the scan.
_PREPASS_BESIDE_FROM = 8 << 20


class EncodingGuessed(Exception):
    """The scan began on the guess that the file is valid UTF-8 and the prepass found otherwise:
    the file is to be checked again with this prepass (read as latin-1, as :func:`prepass` says)."""

    def __init__(self, done: Prepass) -> None:
        super().__init__("the file is not valid UTF-8")
        self.prepass = done


def start_prepass(path: Path, name: str, declared: str | None, cap: int
                  ) -> tuple[Prepass, Future | None]:
    """The prepass of a file, or what is known before it when it runs beside the scan.

    Of a UTF-8 file of :data:`_PREPASS_BESIDE_FROM` bytes or more, the scan needs before it starts
    only the size and whether the file is valid UTF-8 (the encoding it reads the header and the
    rows in), and nearly every such file is: the prepass then runs in a thread of its own while
    the scan's reader opens the file and parses its first block, which the checks would
    otherwise wait for with the second core idle (about a tenth of the check of a 1,000,000-row
    file). The checks read the prepass only when they finish, after :func:`finish_prepass`; a file
    that is not valid UTF-8 after all is checked again (:class:`EncodingGuessed`). Other files,
    and other encodings, get the prepass first, as before: the returned future is None.
    """
    try:
        utf8 = declared is None or codecs.lookup(declared).name == "utf-8"
    except (LookupError, UnicodeError):
        utf8 = False
    if not utf8 or os.stat(path).st_size < _PREPASS_BESIDE_FROM:
        return prepass(path, name, declared, cap), None
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        head = fh.read(len(codecs.BOM_UTF8))
    guess = Prepass(size=st.st_size, bom=head == codecs.BOM_UTF8, stamp=_stamp(st))
    pending: Future = Future()

    def run() -> None:
        try:
            pending.set_result(prepass(path, name, declared, cap))
        except BaseException as exc:  # noqa: BLE001 - raised again by finish_prepass
            pending.set_exception(exc)

    threading.Thread(target=run, name="docket-prepass", daemon=True).start()
    return guess, pending


def finish_prepass(table: TableContext) -> None:
    """Wait for a prepass running beside the scan and put it in place; raise
    :class:`EncodingGuessed` when the file is not read in the encoding the scan guessed."""
    pending, table.prepass_pending = table.prepass_pending, None
    if pending is None:
        return
    done = pending.result()
    if done.encoding != table.prepass.encoding:
        raise EncodingGuessed(done)
    table.prepass = done


def _byte_counts(block: bytes) -> tuple[int, int, int]:
    """How many ``\\n``, ``\\r`` and ``"`` bytes ``block`` holds: numpy compares and counts
    about four times faster than three ``bytes.count`` passes, and a byte that is not there at
    all (``\\r`` and ``"`` in most files) is ruled out by ``in`` (memchr) at a tenth of that."""
    data = np.frombuffer(block, np.uint8)
    return tuple(int(np.count_nonzero(data == byte)) if byte in block else 0  # type: ignore[return-value]
                 for byte in (0x0A, 0x0D, 0x22))


_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


def _first_line_ends(out: Prepass, block: bytes, prev_cr: bool, ends_before: int,
                     counts: tuple[int, int, int]) -> None:
    """Note the first line of each kind of line ending that ``block`` holds and was not seen yet.

    ``ends_before`` counts the line endings before the block (a ``\r`` that ends the previous
    block counts as one, whether or not this block's ``\n`` completes it); ``counts`` are the
    block's ``\n``, ``\r`` and ``\r\n`` counts, which the prepass takes anyway. A kind the counts
    say is absent is never searched for, so a file with one kind of ending costs nothing more.
    """
    lf, cr, crlf = counts
    joined = prev_cr and block[:1] == b"\n"

    def line_at(pos: int) -> int:  # the line of the line ending starting at ``pos``
        ends = block.count(b"\n", 0, pos) + block.count(b"\r", 0, pos) - block.count(b"\r\n", 0, pos)
        return ends_before + ends - (1 if joined and pos > 0 else 0) + 1

    if prev_cr:  # the \r that ended the previous block is on line ``ends_before``
        if joined and out.first_crlf_line is None:
            out.first_crlf_line = ends_before
        elif not joined and out.first_cr_line is None:
            out.first_cr_line = ends_before
    if out.first_crlf_line is None and crlf:
        out.first_crlf_line = line_at(block.find(b"\r\n"))
    if out.first_lf_line is None and lf - crlf - joined > 0:
        m = _BARE_LF.search(block, 1 if joined else 0)
        if m is not None:
            out.first_lf_line = line_at(m.start())
    if out.first_cr_line is None and cr - crlf - block.endswith(b"\r") > 0:
        m = _BARE_CR.search(block, 0, len(block) - 1 if block.endswith(b"\r") else len(block))
        if m is not None:
            out.first_cr_line = line_at(m.start())


def _locate_unbalanced_quote(path: Path, out: Prepass) -> None:
    """Where a file with an odd number of quotes most likely went wrong: the first line with an
    odd number of quotes and the last quote that opened a value. Only such files pay for it (a
    second read): per-line quote parity cost more than the rest of the prepass together."""
    scan, lines_before = Prepass(), 0
    with open(path, "rb") as fh:
        while block := fh.read(_PREPASS_BLOCK):
            _count_quotes(scan, block, lines_before)
            lines_before += block.count(b"\n")
    out.first_odd_quote_line, out.last_open_quote_line = scan.first_odd_quote_line, scan.last_open_quote_line


def _count_quotes(out: Prepass, block: bytes, lines_before: int) -> None:
    """Count quote bytes (vectorised) and remember where the last opening quote stands."""
    data = np.frombuffer(block, dtype=np.uint8)
    where = np.flatnonzero(data == 0x22)
    if not len(where):
        return
    # The quote at index k of this block opens a field when the count before it is even.
    opening = where[(out.quotes + np.arange(len(where))) % 2 == 0]
    if len(opening):
        last = int(opening[-1])
        out.last_open_quote_line = lines_before + block.count(b"\n", 0, last) + 1
    if out.first_odd_quote_line is None:
        # Quotes per line of this block: a line whose count is odd flips the running parity.
        newlines = np.flatnonzero(data == 0x0A)
        line_of_quote = np.searchsorted(newlines, where)  # 0-based line within the block
        per_line = np.bincount(line_of_quote)
        odd = np.flatnonzero(per_line % 2)
        if len(odd):
            out.first_odd_quote_line = lines_before + int(odd[0]) + 1
    out.quotes += len(where)


def _check_utf8(out: Prepass, data: bytes, data_start: int, block: bytes, block_start: int,
                lines_before: int) -> bytes:
    """Validate ``data`` (carry + block); return the incomplete tail to carry over."""
    pos = 0
    while True:
        try:
            _, used = codecs.utf_8_decode(data[pos:], "strict", False)
            return data[pos + used:]
        except UnicodeDecodeError as exc:
            start = data_start + pos + exc.start
            rel = max(0, start - block_start)
            line = lines_before + block[:rel].count(b"\n") + 1
            _note_invalid(out, start, line, block, data[pos + exc.start: pos + exc.end], rel)
            pos += exc.end
            if not out.invalid_count_exact:
                return b""


def _check_codec(out: Prepass, decoder, block: bytes, block_start: int, lines_before: int) -> None:
    try:
        decoder.decode(block, final=False)
    except UnicodeError as exc:  # UTF-16 without a BOM raises a plain UnicodeError, no position
        rel = min(max(getattr(exc, "start", 0), 0), len(block))
        line = lines_before + block[:rel].count(b"\n") + 1
        _note_invalid(out, block_start + rel, line, block, block[rel: rel + 1], rel)
        decoder.reset()


def _note_invalid(out: Prepass, offset: int, line: int, block: bytes, bad: bytes, rel: int) -> None:
    assert out.invalid is not None
    if out.invalid.count >= _MAX_ENCODING_ERRORS:
        out.invalid_count_exact = False
        return
    lo = block.rfind(b"\n", 0, rel) + 1
    hi = block.find(b"\n", rel)
    hi = len(block) if hi < 0 else hi
    text = block[max(lo, rel - 80): min(hi, rel + 80)].decode("latin-1").rstrip("\r")
    out.invalid.add(
        [line - 1], None, [text],
        extra={"line": line, "note": f"invalid byte(s) {bad.hex(' ').upper()} at byte offset {offset}",
               "_prefix": block[lo:rel][-4096:], "_rest": block[rel:hi][:4096]},
    )


# -- header and dialect -------------------------------------------------------------------------


def sniff_delimiter(path: Path, encoding: str, skip_lines: int = 0) -> str:
    """',' unless the first line clearly uses ';', tab or '|' instead (or the name says .tsv).

    ``skip_lines`` lines (comments before the header) are passed over first.
    """
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for _ in range(skip_lines):
            fh.readline(1 << 16)
        first = fh.readline(1 << 16)
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def read_header(path: Path, encoding: str, dialect: Dialect) -> list[str] | None:
    """The header labels by the dialect (None for a file with no header at all).

    Several ``headerRows`` are joined column by column with ``headerJoin``; with ``header:
    false`` the labels are the Table Schema's field names (``field1``, ``field2``... without
    one), set by the caller from :func:`first_record_width`. csv.Error if unreadable.
    """
    return read_header_rows(path, encoding, dialect)[0]


def first_record_width(path: Path, encoding: str, dialect: Dialect) -> int:
    """How many values the first record the dialect keeps has (for files without a header)."""
    return read_header_rows(path, encoding, dialect)[1]


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "\n#,;".encode(encoding) == b"\n#,;"
    except (LookupError, UnicodeError):
        return False


def settle_dialect(table: TableContext, dialect: dict[str, Any] | None) -> None:
    """Set the table's dialect and header: the declared dialect (already validated), or the
    sniffed delimiter plus ``commentChar: "#"`` when comment lines stand before the header."""
    path, encoding = table.path, table.prepass.encoding
    if dialect:
        table.dialect = Dialect.from_descriptor(dialect)
    else:
        table.comment_lines = detect_comment_lines(path, encoding)
        table.dialect = Dialect(delimiter=sniff_delimiter(path, encoding, len(table.comment_lines)))
        if table.comment_lines:
            table.dialect.comment_char = DETECTED_COMMENT_CHAR
            table.dialect.detected = True
    if table.dialect.needs_filter and not _ascii_compatible(encoding):
        table.unreadable = (f"comment and header rows are taken out byte-wise, which {encoding} "
                            "does not allow; convert the file to UTF-8")
        return
    try:
        header, width = read_header_rows(path, encoding, table.dialect)
    except (csv.Error, UnicodeError, OSError) as exc:
        header, width = None, 0
        table.header_error = f"the header row cannot be read: {exc}"
    if not table.dialect.header and not table.header_error:
        names = [str(f.get("name")) for f in (table.schema or {}).get("fields") or []
                 if isinstance(f, dict)]
        width = max(width, len(names))
        header = (names + [f"field{i + 1}" for i in range(len(names), width)]) if width else None
        if header is None:
            table.unreadable = "the file has no rows"
    if header is None and table.unreadable is None:
        table.unreadable = table.header_error or "the file has no header row"
    table.header = header or []


# -- streaming --------------------------------------------------------------------------------


class _Straddle(Exception):
    """A row did not fit in a block: start again with larger blocks."""


def open_stream(table: TableContext, block_size: int, on_invalid,
                include: list[int] | None = None) -> pacsv.CSVStreamingReader:
    """Arrow's streaming reader on the file, every column as text (``include``: only these)."""
    names = [f"c{i}" for i in range(len(table.header))]
    d = table.dialect
    source: Any = str(table.path)
    if d.needs_filter:
        pre = table.prepass
        source = LineFilter(table.path, d, cr_only=pre.lf == 0 and pre.cr > 0)
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=block_size, column_names=names,
            encoding=table.prepass.encoding if table.prepass.encoding != "utf-8-sig" else "utf-8",
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=d.delimiter, quote_char=d.quote_char, double_quote=d.double_quote,
            escape_char=d.escape_char or False, newlines_in_values=True,
            ignore_empty_lines=False, invalid_row_handler=on_invalid,
        ),
        # check_utf8 off: the prepass validated every byte, and a file that failed is read as
        # latin-1 (transcoded), so the text is valid UTF-8 either way (10% of the read).
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=False,
            include_columns=None if include is None else [names[i] for i in include],
        ),
    )


def iter_chunks(table: TableContext, block_size: int, on_ragged=None,
                include: list[int] | None = None):
    """Yield :class:`Chunk` objects of data rows (header dropped), numbering rows exactly.

    With ``include`` only those physical columns are built (the others are None): Arrow still
    splits every row, so numbering and ragged rows are as in a full read, at a fraction of the
    conversion work (the targeted second read of :func:`_fill_values`).
    """
    header = table.dialect.header
    numbers = RowNumbers(0 if header else 1)

    def on_invalid(row) -> str:
        data_row = (row.number - 1 + numbers.first) if row.number is not None else -1
        numbers.skip(data_row)
        if on_ragged is not None:
            on_ragged(data_row, row.expected_columns, row.actual_columns, row.text)
        return "skip"

    try:
        reader = open_stream(table, block_size, on_invalid, include)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc) or "larger than block size" in str(exc):
            raise _Straddle(str(exc)) from None
        raise
    kept = 0
    header_pending = header
    trim = table.dialect.skip_initial_space
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc):
                raise _Straddle(str(exc)) from None
            raise
        n = batch.num_rows
        rows = numbers.rows(kept, n)
        kept += n
        columns: list[Any] = list(batch.columns)
        if include is not None:
            built = dict(zip(include, columns, strict=True))
            columns = [built.get(i) for i in range(len(table.header))]
        if header_pending and n:
            header_pending = False
            if rows[0] == 0:
                columns = [c if c is None else c.slice(1) for c in columns]
                rows = rows[1:]
        if trim:  # skipInitialSpace: spaces right after a delimiter are not part of the value
            columns = columns[:1] + [c if c is None else pc.utf8_ltrim(c, " ") for c in columns[1:]]
        if len(rows):
            yield Chunk(table, columns, rows)


def run_table_checks(table: TableContext, make_checks, block_size: int) -> list[CheckResult]:
    """Run fresh checks over the file, growing the block size when a row does not fit."""
    size = block_size
    while True:
        checks: list[TableCheck] = make_checks()
        table.rows = 0
        table.parse_error = None
        table.parse_error_row = None
        table.ragged = Findings(table.sample_size, table.name)
        table.block_size = size
        table.shared = {}
        with tempfile.TemporaryDirectory(prefix="docket-check-") as tmp:
            table.spill_dir = Path(tmp)
            try:
                _feed(table, checks, size)  # starts the checks
            except _Straddle as exc:
                if size < MAX_BLOCK_SIZE:
                    size = min(size * 4, MAX_BLOCK_SIZE)
                    continue
                table.parse_error = (
                    f"a row is longer than {MAX_BLOCK_SIZE >> 20} MiB and cannot be read ({exc})"
                )
                table.parse_error_row = table.rows + 1
            finish_prepass(table)
            kept = _revisit(table, checks, size)
            results = _conclude(table, checks)
            _fill_values(table, checks, results, size, kept)
            return results


def _conclude(table: TableContext, checks: list[TableCheck]) -> list[CheckResult]:
    """Every check's result, in order; for a file up to 128 MiB on two threads.

    The repeat checks sort their hashes at the end (numpy releases the GIL), about 50 ms per
    check on a million rows: two of them finish side by side instead of one after the other.
    A check's ``finish`` reads the table and writes only its own state, so the order they run
    in does not matter. A larger file's checks finish one at a time: two sorting their spilled
    buckets at once raised the 2 GiB check's peak by 10 MB.
    """
    if not small_file(table.prepass.size):
        return [check.conclude(table) for check in checks]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="docket-conclude") as pool:
        return list(pool.map(lambda check: check.conclude(table), checks))


def _feed(table: TableContext, checks: list[TableCheck], block_size: int) -> None:
    # on_ragged and arrived run in the read-ahead thread (they alone write table.rows and
    # table.ragged while the scan runs); the checks' chunk() runs in this one.
    def on_ragged(data_row: int, expected: int, actual: int, text: str | None) -> None:
        assert table.ragged is not None
        table.rows = max(table.rows, data_row)
        blank = actual == 1 and not (text or "").strip()
        table.ragged.add(
            [data_row], None, [text],
            extra={"note": "blank line" if blank else f"{actual} values, header has {expected}"},
        )

    def arrived():
        for chunk in iter_chunks(table, block_size, on_ragged):
            table.rows = max(table.rows, int(chunk.rows[-1]))
            _set_aside_blank_rows(chunk)
            yield chunk

    def steps(chunk: Chunk) -> list[Callable[[], Any]]:
        return [step for check in checks for step in check.prepare(table, chunk)]

    ready = threading.Event()
    reading = ReadAhead(arrived(), steps, ready)  # opens the file while the checks start
    try:
        for check in checks:
            check.start(table)
        ready.set()
        try:
            for chunk in reading:
                for check in checks:
                    check.chunk(table, chunk)
        except _Straddle:
            raise
        except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError, OSError) as exc:
            table.parse_error = f"{type(exc).__name__}: {exc}"
            table.parse_error_row = table.rows + 1
    finally:
        reading.close()


class ReadAhead:
    """``chunks``, read (and prepared) one ahead in a second thread while the caller checks.

    Reading (Arrow's CSV parser) and preparing (parsing fields, hashing: Arrow and numpy
    kernels) release the GIL, so the two threads use both cores. The reader runs a chunk's
    ``steps`` while the one before still waits to be taken, hands it over as soon as there is
    room, and goes on running its steps for as long as the caller has not taken it (it is still
    checking the one before); once taken, the reader goes on to read the next one, and what was
    not prepared is computed by the checks themselves. So the two threads share the work
    whichever is faster, and the caller never waits for a chunk that is read but not yet
    prepared. A step the reader is computing when the chunk is taken is finished and
    shared (:meth:`Chunk.memo`). At most three chunks are alive: the one being checked, one
    handed over, one being read. An exception while reading reaches the caller after the chunks
    read before it, as if read in one thread.

    The reader starts at once: it opens the file and parses the first block while the caller
    gets ready (the checks' ``start``, which may read another file for a foreign key); it runs
    no step before ``ready`` is set.
    """

    def __init__(self, chunks: Iterator[Chunk], steps: Callable[[Chunk], list[Callable[[], Any]]],
                 ready: threading.Event | None = None) -> None:
        self._chunks = chunks
        self._steps = steps
        self._ready = ready
        self._handed: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()  # the caller is gone (finished early or failed)
        self._reader = threading.Thread(target=self._read, name="docket-read-ahead", daemon=True)
        self._reader.start()

    def __iter__(self) -> Iterator[Chunk]:
        try:
            while True:
                kind, item = self._handed.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                chunk, taken = item
                taken.set()
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader (at its next chunk or step) and wait for it."""
        self._stop.set()
        self._reader.join()

    def _put(self, item: tuple[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                self._handed.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _prepare(self, todo: Iterator[Callable[[], Any]], go_on: Callable[[], bool]) -> None:
        """Run steps while ``go_on()`` says so; a step that fails ends the preparing (the check
        computes it again and reports)."""
        while go_on() and not self._stop.is_set():
            step = next(todo, None)
            if step is None:
                return
            try:
                step()
            except Exception:  # noqa: BLE001 - see above
                for _ in todo:
                    pass
                return

    def _wait_ready(self) -> bool:
        while self._ready is not None and not self._ready.wait(0.05):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def _read(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._wait_ready():
                    return
                taken = threading.Event()
                todo = iter(self._steps(chunk))
                self._prepare(todo, self._handed.full)  # the one before still waits to be taken
                self._put(("chunk", (chunk, taken)))
                self._prepare(todo, lambda taken=taken: not taken.is_set())
                if self._stop.is_set():
                    return
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._put(("error", exc))
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()


def read_ahead(chunks: Iterator[Chunk], steps: Callable[[Chunk], list[Callable[[], Any]]]
               ) -> Iterator[Chunk]:
    """``chunks`` read ahead in a second thread (see :class:`ReadAhead`)."""
    return iter(ReadAhead(chunks, steps))


def _set_aside_blank_rows(chunk: Chunk) -> None:
    """Note entirely empty rows on the chunk and drop them: only table.blank-row reports them."""
    # Test the first column on every row, the others only where it is empty (few rows).
    blank = np.flatnonzero(mask(pc.equal(pc.binary_length(chunk.columns[0]), 0)))
    for col in chunk.columns[1:]:
        if not len(blank):
            break
        blank = blank[mask(pc.equal(pc.binary_length(col.take(pa.array(blank))), 0))]
    chunk.blank_rows = chunk.rows[blank]
    if len(blank):
        keep = np.ones(len(chunk.rows), bool)
        keep[blank] = False
        where = pa.array(keep)
        chunk.columns = [c.filter(where) for c in chunk.columns]
        chunk.rows = chunk.rows[keep]


class FileChanged(OSError):
    """The file is no longer the one the check started on: another program wrote to it."""


#: What a second read may meet if the file changed since the scan; the caller says what is lost.
_REREAD_ERRORS = (pa.ArrowException, _Straddle, UnicodeDecodeError, OSError)


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


def _same_file(table: TableContext) -> None:
    """Raise :class:`FileChanged` when the file's size, modification time or inode moved since
    the prepass: rows read again would then not be the rows the scan saw."""
    stamp = table.prepass.stamp
    if stamp is not None and _stamp(os.stat(table.path)) != stamp:
        raise FileChanged("the file changed while it was being checked; check it again once "
                          "nothing writes to it")


def _reread(table: TableContext, block_size: int, targets: np.ndarray,
            include: list[int] | None = None) -> Iterator[tuple[Chunk, np.ndarray]]:
    """A second, targeted read: each chunk holding some of the data rows ``targets`` (sorted,
    distinct), with their positions in it; it stops after the chunk holding the last one. Rows
    increase through the file, so each target is a binary search in one chunk, never a pass over
    every row. Raises one of :data:`_REREAD_ERRORS` if the file cannot be read again, and
    :class:`FileChanged` (before the first chunk and after the last) if it is not the file the
    scan read."""
    last = int(targets[-1])
    _same_file(table)
    for chunk in iter_chunks(table, block_size, include=include):
        inside = targets[np.searchsorted(targets, chunk.rows[0]):
                         np.searchsorted(targets, chunk.rows[-1], side="right")]
        at = np.searchsorted(chunk.rows, inside)
        hit = at[chunk.rows[at] == inside]
        if len(hit):
            yield chunk, hit
        if chunk.rows[-1] >= last:
            break
    _same_file(table)


#: Text of the rows read again that is kept for :func:`_fill_values` (beyond it, that read is
#: made as before): the rows whose key repeats are mostly the rows whose values it fills in.
_KEEP_BYTES = 32 << 20


def _revisit(table: TableContext, checks: list[TableCheck], block_size: int) -> list[Chunk]:
    """One more read, when checks ask to see some rows again (:meth:`TableCheck.revisit`),
    handing each its rows as small chunks of their own.

    Returns those rows, all columns, while their text stays under :data:`_KEEP_BYTES`: the
    values repeated rows are reported with are then taken from them instead of a third read of
    the file (nothing is kept when the read failed: the file may have changed).
    """
    if table.unreadable:
        return []
    # After a parse error the rows asked for were all read before it: the read stops there.
    wanted = [(check, rows) for check in checks
              if (rows := check.revisit(table)) is not None and len(rows)]
    if not wanted:
        return []
    targets = np.unique(np.concatenate([rows for _, rows in wanted]))
    kept: list[Chunk] | None = []
    kept_bytes = 0
    try:
        for chunk, hit in _reread(table, block_size, targets):
            seen = Chunk(table, [c.take(pa.array(hit)) for c in chunk.columns], chunk.rows[hit])
            for check, rows in wanted:
                mine = np.flatnonzero(np.isin(seen.rows, rows))
                if len(mine):
                    take = pa.array(mine)
                    check.seen_again(table, Chunk(table, [c.take(take) for c in seen.columns],
                                                  seen.rows[mine]))
            if kept is not None:
                kept_bytes += sum(c.nbytes for c in seen.columns)
                if kept_bytes <= _KEEP_BYTES:
                    kept.append(seen)
                else:
                    kept = None  # too much to keep: let go of it now, the values are read again
    except _REREAD_ERRORS as exc:
        for check, _ in wanted:
            check.revisit_failed(table, f"{type(exc).__name__}: {exc}")
        return []
    return kept or []


def _columns_named(wanted: dict[int, list[dict[str, Any]]]) -> list[int] | None:
    """The physical columns whose values the locations need (None: whole rows' text)."""
    columns: set[int] = set()
    for locs in wanted.values():
        for loc in locs:
            if loc.get("_positions"):
                columns.update(loc["_positions"])
            elif loc.get("position"):
                columns.add(loc["position"] - 1)
            else:
                return None
    return sorted(columns)


def _fill_values(table: TableContext, checks, results: list[CheckResult], block_size: int,
                 kept: list[Chunk] | None = None) -> None:
    """Values for locations whose value was not at hand (repeats found at the end): from the
    rows :func:`_revisit` kept, else by one more, targeted read of the rest."""
    wanted: dict[int, list[dict[str, Any]]] = {}
    for check, result in zip(checks, results, strict=True):
        if result is None or not getattr(check, "fill_values", False):
            continue
        for loc in result.locations:
            if loc.get("value") is None and loc.get("row"):
                wanted.setdefault(int(loc["row"]), []).append(loc)
    if not wanted:
        return
    targets = np.array(sorted(wanted), np.int64)
    try:
        for chunk in kept or []:
            hit = np.flatnonzero(np.isin(chunk.rows, targets))
            _fill_from(chunk, hit, wanted)
            targets = np.setdiff1d(targets, chunk.rows[hit], assume_unique=True)
        if len(targets):
            for chunk, hit in _reread(table, block_size, targets,
                                      include=_columns_named({int(r): wanted[int(r)] for r in targets})):
                _fill_from(chunk, hit, wanted)
    except _REREAD_ERRORS:
        pass  # values stay null; the rows are still named
    finally:
        for locs in wanted.values():
            for loc in locs:
                loc.pop("_positions", None)


def _fill_from(chunk: Chunk, hit: np.ndarray, wanted: dict[int, list[dict[str, Any]]]) -> None:
    """Fill in the locations of the rows at ``hit`` in ``chunk`` with their values."""
    for i in hit:
        for loc in wanted[int(chunk.rows[i])]:
            pos = loc.get("position")
            if loc.get("_positions"):
                value = ", ".join(str(chunk.values(p, [i])[0]) for p in loc["_positions"])
            elif pos:
                value = chunk.values(pos - 1, [i])[0]
            else:
                value = chunk.row_text([i])[0]
            loc["value"] = clip(value)
