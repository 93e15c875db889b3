"""CSV dialects (Frictionless Table Dialect): reading a descriptor, and reading a file by it.

A dialect descriptor (``docket check --dialect FILE``, or a file's ``dialect`` in a request) is
read by docket's bounded JSON reader and validated against the official Table Dialect profile
(``profiles/2.0/tabledialect.json``), then against what the CSV reader can do: one-character
delimiter, quote, escape and comment characters, a line terminator of ``\\r\\n``, ``\\n`` or
``\\r``. Anything else is a refusal (exit 2) naming the key.

What Arrow's CSV reader does natively (delimiter, quoteChar, doubleQuote, escapeChar, quoted line
breaks, ``header: false``) is passed to it. What it cannot do is done here, streaming:

- ``commentChar`` and ``commentRows``, and the rows before the last of ``headerRows``, are taken
  out of the byte stream by :class:`LineFilter` (vectorised per 1 MiB block) before Arrow sees it;
  rows are counted as the file's physical lines, so a comment or header row must not hold a quoted
  line break;
- ``headerRows`` (several header rows) are joined column by column with ``headerJoin``;
- ``skipInitialSpace`` strips the spaces that follow a delimiter, column by column on Arrow arrays.

When nothing is declared, comment lines before the header (lines starting with ``#``) are found,
the file is read with ``{"commentChar": "#"}``, and ``table.dialect`` warns with that dialect
instead of reporting every row as ragged.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from docket.checks.base import CheckResult, TableCheck
from docket.checks.registry import register
from docket.errors import BadInput, Problem

LINE_TERMINATORS = ("\r\n", "\n", "\r")
#: The comment character looked for before the header when no dialect is declared.
DETECTED_COMMENT_CHAR = "#"
_DETECT_LINES = 1000
_DETECT_BYTES = 1 << 20
_FILTER_BLOCK = 1 << 20


@cache
def _profile() -> dict[str, Any]:
    text = resources.files("docket.checks").joinpath("profiles/2.0/tabledialect.json").read_text("utf-8")
    return json.loads(text)


@dataclass
class Dialect:
    """A Table Dialect with its defaults; ``declared`` is the descriptor as given (or detected)."""

    delimiter: str = ","
    line_terminator: str = "\r\n"
    quote_char: str = '"'
    double_quote: bool = True
    escape_char: str | None = None
    skip_initial_space: bool = False
    header: bool = True
    header_rows: list[int] = field(default_factory=lambda: [1])
    header_join: str = " "
    comment_char: str | None = None
    comment_rows: list[int] = field(default_factory=list)
    declared: dict[str, Any] = field(default_factory=dict)
    #: True when docket found the dialect itself (comment lines before the header).
    detected: bool = False

    @classmethod
    def from_descriptor(cls, desc: dict[str, Any] | None) -> Dialect:
        """A Dialect from a descriptor that :func:`validate_dialect` accepted."""
        desc = desc or {}
        header = bool(desc.get("header", True))
        return cls(
            delimiter=str(desc.get("delimiter", ",")),
            line_terminator=str(desc.get("lineTerminator", "\r\n")),
            quote_char=str(desc.get("quoteChar", '"')),
            double_quote=bool(desc.get("doubleQuote", True)),
            escape_char=desc.get("escapeChar"),
            skip_initial_space=bool(desc.get("skipInitialSpace", False)),
            header=header,
            header_rows=sorted(set(desc.get("headerRows", [1]))) if header else [],
            header_join=str(desc.get("headerJoin", " ")),
            comment_char=desc.get("commentChar"),
            comment_rows=sorted(set(desc.get("commentRows", []))),
            declared=dict(desc),
        )

    @property
    def last_header_row(self) -> int:
        return max(self.header_rows) if self.header and self.header_rows else 0

    @property
    def needs_filter(self) -> bool:
        """Whether lines must be taken out of the stream before Arrow reads it."""
        return bool(self.comment_char or self.comment_rows or self.last_header_row > 1)

    def dropped_lines(self) -> set[int]:
        """Physical lines (1-based) removed by position: comment rows and rows before the header."""
        drop = set(self.comment_rows)
        drop.update(range(1, self.last_header_row))
        return drop


def validate_dialect(desc: Any, where: str = "the dialect") -> dict[str, Any]:
    """The descriptor if docket can read files by it; BadInput naming each bad key otherwise."""
    if not isinstance(desc, dict):
        raise BadInput(f"{where} must be a JSON object (a Table Dialect descriptor)")
    import jsonschema

    problems = []
    validator = jsonschema.Draft7Validator(_profile())
    for err in sorted(validator.iter_errors(desc), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        problems.append(Problem(path, err.message))
    if not problems:
        problems.extend(_reader_problems(desc))
    if problems:
        keys = ", ".join(dict.fromkeys(p.where for p in problems))
        raise BadInput(f"{where} is not a Table Dialect docket can read ({keys})", problems)
    return desc


def _reader_problems(desc: dict[str, Any]):
    for key in ("delimiter", "quoteChar", "escapeChar", "commentChar"):
        value = desc.get(key)
        if value is not None and len(value) != 1:
            yield Problem(f"$.{key}", f"must be one character, not {value!r}")
        elif value is not None and value in "\r\n":
            yield Problem(f"$.{key}", "cannot be a line break")
    if "lineTerminator" in desc and desc["lineTerminator"] not in LINE_TERMINATORS:
        yield Problem("$.lineTerminator", 'must be "\\r\\n", "\\n" or "\\r"')
    delimiter = desc.get("delimiter", ",")
    for key in ("quoteChar", "escapeChar", "commentChar"):
        if desc.get(key) is not None and desc[key] == delimiter:
            yield Problem(f"$.{key}", f"is the delimiter {delimiter!r}")
    if desc.get("header") is False and "headerRows" in desc:
        yield Problem("$.headerRows", "given with header false")
    if desc.get("header", True) and desc.get("headerRows") == []:
        yield Problem("$.headerRows", "is empty; say header false for a file without a header")
    both = set(desc.get("headerRows") or []) & set(desc.get("commentRows") or [])
    if both:
        yield Problem("$.commentRows", f"names header row(s) {sorted(both)}")


def load_dialect(dialect: dict[str, Any] | str | Path | None) -> dict[str, Any] | None:
    """A validated Table Dialect descriptor from a dict or a JSON file (bounded read)."""
    if dialect is None:
        return None
    if isinstance(dialect, str | Path):
        from docket.documents import load_descriptor

        return validate_dialect(load_descriptor(dialect, "Table Dialect"), str(dialect))
    return validate_dialect(dialect)


# -- reading by a dialect ----------------------------------------------------------------------


def _lines(path: Path, encoding: str, dialect: Dialect):
    """(physical line number, line) of the lines that are not comments, from the file's start."""
    enc = "utf-8-sig" if encoding in ("utf-8", "utf-8-sig") else encoding
    drop = set(dialect.comment_rows)
    cc = dialect.comment_char
    with open(path, encoding=enc, errors="replace", newline="") as fh:
        for number, line in enumerate(fh, 1):
            if number in drop or (cc and line.startswith(cc)):
                continue
            yield number, line


def read_header_rows(path: Path, encoding: str, dialect: Dialect) -> tuple[list[str] | None, int]:
    """The header labels by the dialect (headerRows joined), and the width of the first record.

    Labels are None when the file has no header record where the dialect puts it; with ``header:
    false`` they are None and the width is that of the first data record. csv.Error if unreadable.
    """
    rows: list[list[str]] = []
    wanted = set(dialect.header_rows) if dialect.header else set()
    lines = _lines(path, encoding, dialect)
    kept = ((n, line) for n, line in lines)
    current = [0]

    def numbered():
        for n, line in kept:
            current[0] = n
            yield line

    reader = csv.reader(
        numbered(), delimiter=dialect.delimiter, quotechar=dialect.quote_char,
        doublequote=dialect.double_quote, escapechar=dialect.escape_char,
        skipinitialspace=dialect.skip_initial_space, strict=False,
    )
    first_width = 0
    for record in reader:
        if not dialect.header:
            first_width = len(record)
            break
        if current[0] in wanted or current[0] >= dialect.last_header_row:
            rows.append(record)
        if current[0] >= dialect.last_header_row:
            break
    if not dialect.header:
        return None, first_width
    if not rows or not rows[-1] or (len(rows) == 1 and len(rows[0]) == 1 and not rows[0][0].strip()):
        return None, 0
    width = max(len(r) for r in rows)
    labels = [dialect.header_join.join(r[i] for r in rows if i < len(r) and r[i] != "")
              for i in range(width)]
    return labels, width


def detect_comment_lines(path: Path, encoding: str, delimiter: str | None = None) -> list[int]:
    """Physical lines before the header that start with ``#`` (nothing declared a dialect).

    They are comments unless they look like the header themselves: when every one has as many
    delimiters as the first line after them and no space after the ``#`` (a header such as
    ``#,name`` or ``#id,name``), none is.
    """
    enc = "utf-8-sig" if encoding in ("utf-8", "utf-8-sig") else encoding
    found: list[str] = []
    after = None
    read = 0
    with open(path, encoding=enc, errors="replace", newline="") as fh:
        for line in fh:
            read += len(line)
            if not line.startswith(DETECTED_COMMENT_CHAR):
                after = line
                break
            found.append(line)
            if len(found) >= _DETECT_LINES or read >= _DETECT_BYTES:
                break
    if not found:
        return []
    if after is not None:
        delims = (delimiter,) if delimiter else (",", ";", "\t", "|")
        if all(c[1:2] not in (" ", "\t", "\r", "\n", "#", "")
               and all(c.count(d) == after.count(d) for d in delims) for c in found):
            return []
    return list(range(1, len(found) + 1))


class LineFilter:
    """A read-only byte stream of a file without the lines a dialect drops (for Arrow's reader).

    Works a block at a time: line starts are found with NumPy, dropped lines are masked out, and
    the incomplete last line is carried to the next block. Lines end at ``\\n`` (``\\r\\n``
    included) or, when the file has no ``\\n`` at all, at ``\\r``.
    """

    def __init__(self, path: Path, dialect: Dialect, cr_only: bool = False) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close(), which Arrow calls
        self._drop = np.array(sorted(dialect.dropped_lines()), np.int64)
        self._comment = dialect.comment_char.encode("utf-8")[0] if dialect.comment_char else None
        self._eol = 0x0D if cr_only else 0x0A
        self._line = 1  # physical number of the line the carry starts
        self._carry = b""
        self._out = bytearray()
        self._eof = False
        self._first = True
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def _fill(self) -> None:
        block = self._fh.read(_FILTER_BLOCK)
        if self._first:
            self._first = False
            if block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
        if not block:
            self._eof = True
            data, self._carry = self._carry, b""
        else:
            data = self._carry + block
            end = data.rfind(bytes([self._eol])) + 1
            data, self._carry = data[:end], data[end:]
        if not data:
            return
        arr = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(arr == self._eol) + 1
        if not len(ends) or ends[-1] != len(arr):
            ends = np.append(ends, len(arr))
        starts = np.concatenate(([0], ends[:-1]))
        numbers = self._line + np.arange(len(starts), dtype=np.int64)
        drop = np.isin(numbers, self._drop)
        if self._comment is not None:
            drop |= arr[starts] == self._comment
        self._line += len(starts)
        if not drop.any():
            self._out += data
        elif not drop.all():
            self._out += arr[np.repeat(~drop, ends - starts)].tobytes()

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._out) < n):
            self._fill()
        if n < 0 or n >= len(self._out):
            out, self._out = bytes(self._out), bytearray()
        else:
            out = bytes(self._out[:n])
            del self._out[:n]
        return out

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self.closed = True


@register
class DialectCheck(TableCheck):
    id = "table.dialect"
    name = "CSV dialect"
    description = ("The file reads as CSV by its declared dialect; comment lines before the header "
                   "are noted with the dialect that reads them.")
    default_severity = "warn"
    needs_data = False
    expected = "a header (or the declared dialect) on the first line"
    suggestion = ("Declare the dialect that reads the file (docket check --dialect FILE, or the "
                  "file's dialect in the request), or remove the comment lines.")

    def chunk(self, table, chunk) -> None:
        pass

    def finish(self, table) -> CheckResult:
        d: Dialect = table.dialect
        if d.detected:
            findings = self.findings(table.name)
            lines = table.comment_lines
            findings.add([None] * len(lines), None, None,
                         extra=[{"line": n, "note": "comment line before the header"} for n in lines])
            suggested = json.dumps({"commentChar": d.comment_char})
            span = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
            return self.result(
                findings,
                found=(f"{len(lines)} comment line(s) before the header ({span}), starting with "
                       f"{d.comment_char!r}; the file was read with the dialect {suggested}"),
            )
        if d.declared:
            return self.result(found=f"read by the declared dialect {json.dumps(d.declared)}",
                               file=table.name)
        return self.result(found="no dialect declared; the header is on the first line",
                           file=table.name)
