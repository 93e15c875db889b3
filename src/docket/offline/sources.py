"""Finding filled forms: JSON files, folders, and e-mail (.eml, mbox, Maildir) attachments.

Every candidate becomes an :class:`Item` — its bytes, or the reason it was refused (too big,
unreadable, a broken or oversized MIME structure) or skipped (plainly not about docket). Nothing
here parses JSON or touches the store.

Memory is bounded by construction, because what arrives by mail is whatever a stranger sent:

* a file's size is taken from ``stat`` before it is opened: a file over the limit is refused
  without a byte of it being read;
* the items are a generator: the importer holds one candidate at a time, never a list of them;
* an mbox is split by a chunked scan for ``From`` lines (no table of contents, no line-by-line
  ``readline`` that a single 1 GB line would turn into 1 GB of memory); a Maildir is listed, and
  each message is read from its own file;
* an e-mail is not given to :mod:`email.parser`, which keeps every part's body in memory as
  text (a 200 MB message took 1.8 GB). It is read in two passes over the file. The first scans
  the MIME structure in 1 MiB chunks (boundaries are found with ``bytes.find``), parses only the
  header blocks, counts parts and nesting against ``max_mime_parts``/``max_mime_depth`` and stops
  at the first one over, and notes where each leaf part's body lies. A 100,000-part message is
  refused after its first ``max_mime_parts`` parts, in milliseconds. The second pass decodes the
  candidate attachments, one at a time, from their byte ranges, stopping at the size limit.

A message is *refused* (exit code 1, somebody looks at it) rather than skipped when it could be
hiding a form: a broken MIME structure (a multipart without a boundary, a missing first or
closing boundary, a line in the headers that is not a header), a NUL byte in a header, more
parts or deeper nesting than the limits, or a subject that names one of the instance's forms
while no form is attached. Only mail with nothing of docket about it is skipped.
"""

from __future__ import annotations

import binascii
import itertools
import mailbox
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import BinaryIO, NamedTuple

from docket.errors import BadInput, NotFound

JSON_TYPES = ("application/json", "text/json")
CHUNK = 1 << 20  # bytes read at a time; what a scan holds, whatever the message's size
MAX_HEADER_BYTES = 1 << 20  # the header block of one message or part
MAX_BOUNDARY = 200  # RFC 2046 allows 70 characters; a longer one is refused, not searched for
MAX_DELIMITER_LINE = MAX_BOUNDARY + 100  # "--boundary--" plus transport padding
SNIFF_BYTES = 64 << 10  # how much of a part that is not JSON is looked at for a form inside
FORM_MARK = b'"docket_form"'  # the envelope key every exported form starts with
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_B64_NOISE = bytes(b for b in range(256)
                   if b not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
# The only headers the scan reads; the others (Received, DKIM...) are passed over unparsed.
_STRUCTURE_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding", "subject",
                                "in-reply-to", "from"})
# "Re:" in the languages of the forms (and Outlook's): a reply about a form need not carry one.
_REPLY = re.compile(r"\s*(re|aw|sv|antw|r|ref|réf|rif|vs)\s*(\[\d+\])?\s*:", re.IGNORECASE)


@dataclass
class Item:
    """One candidate form: where it came from and its bytes, or why it was not read."""

    source: str
    data: bytes | None = None
    refused: str | None = None
    skipped: str | None = None
    folder: Path | None = None  # for files on disk: relative file locations are relative to it
    sender: str | None = None  # the From of the e-mail it came in (decoded, printable, cut)


@dataclass(frozen=True)
class Limits:
    """What one import may read: the instance's ``[limits]`` and the words that mark its forms."""

    upload_bytes: int = 1 << 30
    # One form's JSON (a file or a decoded attachment): parsing makes Python objects of several
    # times its size, so it has a bound of its own, well below a message's.
    form_bytes: int = 32 << 20
    mime_parts: int = 1000
    mime_depth: int = 16
    # Lower-case names and titles of the instance's forms: mail whose subject names one was
    # meant to carry a form, so finding none there is a refusal, not a skip.
    form_words: tuple[str, ...] = ()


def human_size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def too_big(what: str, size: int | None, limit: int, key: str = "max_upload_bytes") -> str:
    size_text = f"{human_size(size)}" if size is not None else f"more than {human_size(limit)}"
    how = " or --max-bytes" if key == "max_upload_bytes" else ""
    return f"{what} is {size_text}, over the limit of {human_size(limit)} (set [limits] {key} in docket.toml{how})"


def _form_cap(lim: Limits) -> tuple[int, str]:
    """The bound of one form's JSON, and the setting that gives it."""
    if lim.form_bytes < lim.upload_bytes:
        return lim.form_bytes, "max_form_bytes"
    return lim.upload_bytes, "max_upload_bytes"


def printable(text: str, limit: int = 300) -> str:
    """``text`` fit to be shown and stored: control characters and lone surrogates escaped, cut.

    Sources name files and attachments chosen by strangers; a NUL or a lone surrogate in one
    would be refused by PostgreSQL (and a newline would forge a line of the report).
    """
    if text.isprintable() and len(text) <= limit:
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def check_paths(paths: list[str]) -> list[Path]:
    """The paths as given, or BadInput (exit 2) naming the first that does not exist."""
    if not paths:
        raise BadInput("docket import: give at least one file, folder, .eml, mbox or Maildir")
    out = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise NotFound(f"{p} does not exist")
        out.append(path)
    return out


def is_maildir(path: Path) -> bool:
    """A Maildir has ``cur/`` and ``new/`` (``tmp/`` holds only mail being delivered, and a
    copy kept in git loses it when empty)."""
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new"))


def _limits(limits: Limits | int) -> Limits:
    return limits if isinstance(limits, Limits) else Limits(upload_bytes=limits)


def iter_items(paths: list[Path], limits: Limits | int) -> Iterator[Item]:
    """Every candidate in ``paths``, one at a time, in a stable order (folders sorted by name)."""
    lim = _limits(limits)
    for path in paths:
        if path.is_dir():
            yield from _folder(path, lim)
        else:
            yield from _file(path, lim, explicit=True)


def walk_paths(paths: list[str], limits: Limits | int) -> Iterator[Item]:
    """``check_paths`` (usage errors at once), then every item, lazily."""
    checked = check_paths(paths)
    return iter_items(checked, limits)


# -- files and folders ----------------------------------------------------------------------------


def _folder(path: Path, lim: Limits) -> Iterator[Item]:
    if is_maildir(path):
        yield from _maildir(path, lim)
        return
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        yield Item(printable(str(path)), refused=f"cannot read the folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and entry.is_dir():
            yield Item(printable(str(entry)), skipped="a link to a folder (not followed)")
        elif entry.is_dir():
            yield from _folder(entry, lim)
        elif entry.is_file():
            yield from _file(entry, lim, explicit=False)


KNOWN_SUFFIXES = {".json": "json", ".eml": "eml", ".msg": "eml", ".mbox": "mbox", ".mbx": "mbox"}


def _kind(head: bytes) -> str | None:
    """``json``, ``eml`` or ``mbox`` from the first bytes of a file given by hand."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"From "):
        return "mbox"
    if stripped[:1] in (b"{", b"["):
        return "json"
    first = stripped.split(b"\n", 1)[0]
    if b":" in first and first.split(b":", 1)[0].replace(b"-", b"").isalnum():
        return "eml"
    return None


def _file(path: Path, lim: Limits, explicit: bool) -> Iterator[Item]:
    source = printable(str(path))
    kind = KNOWN_SUFFIXES.get(path.suffix.lower())
    try:
        size = path.stat().st_size
        if kind is None and explicit:  # a file given by hand: its first bytes say what it is
            with path.open("rb") as fh:
                kind = _kind(fh.read(512))
        if kind is None:
            yield Item(source, skipped="not a JSON file, e-mail, mbox or Maildir")
            return
        if kind == "mbox":
            yield from _mbox(path, source, lim)
            return
        cap, key = _form_cap(lim) if kind == "json" else (lim.upload_bytes, "max_upload_bytes")
        if size > cap:  # refused on its size alone: not a byte of it is read
            yield Item(source, refused=too_big("the file", size, cap, key))
            return
        with path.open("rb") as fh:
            if kind == "json":
                data = fh.read(min(size, cap) + 1)
                if len(data) > cap:  # it grew since stat
                    yield Item(source, refused=too_big("the file", None, cap, key))
                else:
                    yield Item(source, data=data, folder=path.parent.resolve())
                return
            yield from message_items(fh, 0, size, source, lim)
    except OSError as exc:
        yield Item(source, refused=f"cannot read the file: {exc.strerror or exc}")


# -- mailboxes ------------------------------------------------------------------------------------


def _line_starts(fh: BinaryIO, prefix: bytes) -> Iterator[int]:
    """Offsets of the lines of ``fh`` that begin with ``prefix``, found chunk by chunk."""
    needle = b"\n" + prefix
    keep = len(needle) - 1
    fh.seek(0)
    if fh.read(len(prefix)) == prefix:
        yield 0
    fh.seek(0)
    base = 0  # file offset of buf[0]
    carry = b""
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return
        buf = carry + chunk
        at = buf.find(needle)
        while at >= 0:
            yield base + at + 1
            at = buf.find(needle, at + 1)
        base += len(buf) - keep
        carry = buf[-keep:]


def _mbox_span(fh: BinaryIO, from_line: int, following: int) -> tuple[int, int]:
    """The message after the ``From `` line at ``from_line``, up to the next one (less the
    blank line before it), as :class:`mailbox.mbox` reads it."""
    fh.seek(from_line)
    start = following
    read = 0
    while read < MAX_HEADER_BYTES:
        piece = fh.read(min(4096, following - from_line - read))
        if not piece:
            break
        newline = piece.find(b"\n")
        if newline >= 0:
            start = from_line + read + newline + 1
            break
        read += len(piece)
    stop = following
    if stop - from_line >= 2:
        fh.seek(stop - 2)
        if fh.read(2) == b"\n\n":
            stop -= 1
    return min(start, stop), stop


def _mbox(path: Path, source: str, lim: Limits) -> Iterator[Item]:
    """Each message of an mbox in turn; two handles: one scans for ``From`` lines, one reads."""
    try:
        fh = path.open("rb")
        scanner = path.open("rb")
    except OSError as exc:
        yield Item(source, refused=f"cannot read the mbox: {exc.strerror or exc}")
        return
    with fh, scanner:
        size = os_size(fh)
        starts = _line_starts(scanner, b"From ")
        first = next(starts, None)
        fh.seek(0)
        lead = fh.read(min(size if first is None else first, CHUNK))
        if lead.strip():
            yield Item(source, refused=(
                "the file has no 'From ' line, so it is not an mbox (nothing in it was read)" if first is None else
                "the mbox has text before its first 'From ' line: a message that was cut or mangled"))
        if first is None:
            if not lead.strip():
                yield Item(source, skipped="an mbox with no messages")
            return
        current = first
        for n, following in enumerate(itertools.chain(starts, [size]), 1):
            start, stop = _mbox_span(fh, current, following)
            yield from message_items(fh, start, stop, f"{source} message {n}", lim)
            current = following


def os_size(fh: BinaryIO) -> int:
    """The size of an open file (or of a :mod:`mailbox` message file), without reading it."""
    fh.seek(0, 2)
    return fh.tell()


def _maildir(path: Path, lim: Limits) -> Iterator[Item]:
    source = printable(str(path))
    try:
        box = mailbox.Maildir(str(path), factory=None, create=False)
        keys = sorted(box.keys())
    except (OSError, mailbox.Error) as exc:
        yield Item(source, refused=f"cannot read the Maildir: {exc}")
        return
    if not keys:
        yield Item(source, skipped="a Maildir with no messages")
    for key in keys:
        where = f"{source} message {printable(key)}"
        try:
            fh = box.get_file(key)
        except (OSError, KeyError, mailbox.Error) as exc:
            yield Item(where, refused=f"cannot read the message: {exc}")
            continue
        try:
            yield from message_items(fh, 0, os_size(fh), where, lim)  # type: ignore[arg-type]
        except OSError as exc:
            yield Item(where, refused=f"cannot read the message: {exc.strerror or exc}")
        finally:
            fh.close()


# -- one message: pass 1, the structure -----------------------------------------------------------


class _Broken(Exception):
    """The message cannot be read as MIME (or is over a limit); the reason is the refusal."""


class _Delimiter(NamedTuple):
    level: int  # index of the boundary in the list searched (0: the innermost)
    closing: bool  # "--b--"
    body_end: int  # where the body before the delimiter line ends (its line break excluded)


@dataclass
class _Leaf:
    """A part that is not a container: what its headers say and where its body lies."""

    label: str
    n: int
    content_type: str
    filename: str | None
    charset: str | None
    encoding: str
    start: int
    end: int


@dataclass
class _Scan:
    leaves: list[_Leaf] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    replies: list[bool] = field(default_factory=list)  # for each subject: is its message a reply
    parts: int = 0
    sender: str | None = None  # the From of the outer message (a forwarded one's is not the sender)


class _Reader:
    """A forward-only window on ``fh`` between two offsets, read in chunks of :data:`CHUNK`.

    Offsets it returns are absolute (in the file), so that pass 2 can seek back to a body.
    Two bytes before the position are always kept: whether the position starts a line, and
    whether that line's break was CRLF (both belong to a delimiter, not to the body before it).
    """

    def __init__(self, fh: BinaryIO, start: int, stop: int) -> None:
        self.fh = fh
        self.stop = stop
        fh.seek(start)
        self.base = start  # file offset of buf[0]
        self.buf = b""
        self.i = 0

    @property
    def pos(self) -> int:
        return self.base + self.i

    def _fill(self) -> bool:
        want = min(CHUNK, self.stop - (self.base + len(self.buf)))
        if want <= 0:
            return False
        data = self.fh.read(want)
        if not data:
            return False
        keep = self.i - 2
        if keep > 0:
            self.buf = self.buf[keep:]
            self.base += keep
            self.i -= keep
        self.buf += data
        return True

    def readline(self, cap: int) -> bytes:
        """The next line (with its line break), at most ``cap`` bytes; b"" at the end."""
        while True:
            j = self.buf.find(b"\n", self.i, self.i + cap)
            if j >= 0:
                line = self.buf[self.i:j + 1]
                self.i = j + 1
                return line
            if len(self.buf) - self.i >= cap or not self._fill():
                line = self.buf[self.i:self.i + cap]
                self.i += len(line)
                return line

    def next_delimiter(self, bounds: list[bytes]) -> _Delimiter | None:
        """Move past the next line that delimits one of ``bounds``; None at the end.

        The position must be at the start of a line. Lines are not split: ``find`` looks for
        ``"\\n--"`` in the whole buffer, so a 200 MB attachment costs a few hundred C-level scans.
        """
        if not bounds:
            self.i = len(self.buf)
            while self._fill():
                self.i = len(self.buf)
            return None
        search = self.i - 1  # the line break before the position; -1 only at the very start
        while True:
            line: int | None
            if search < 0 and self.buf.startswith(b"--"):
                line = 0
            else:
                j = self.buf.find(b"\n--", max(search, 0))
                line = j + 1 if j >= 0 else None
            if line is None:
                self.i = max(self.i, len(self.buf) - 2)  # a "\n-" at the end may go on in the next chunk
                if not self._fill():
                    self.i = len(self.buf)
                    return None
                search = self.i - 1
                continue
            line_at = self.base + line  # file offset of the candidate line
            end = self.buf.find(b"\n", line, line + MAX_DELIMITER_LINE)
            while end < 0 and len(self.buf) - line < MAX_DELIMITER_LINE:
                self.i = max(self.i, line)
                if not self._fill():
                    break
                line = line_at - self.base
                end = self.buf.find(b"\n", line, line + MAX_DELIMITER_LINE)
            if end >= 0 or len(self.buf) - line < MAX_DELIMITER_LINE:  # a whole line (or the last one)
                line_end = end + 1 if end >= 0 else len(self.buf)
                hit = _match(self.buf[line:line_end], bounds)
                if hit is not None:
                    body_end = line_at - 1 if line >= 1 else line_at  # the line break belongs to the delimiter
                    if line >= 2 and self.buf[line - 2] == 13:  # CRLF
                        body_end -= 1
                    self.i = line_end
                    return _Delimiter(hit[0], hit[1], body_end)
            search = line
            self.i = max(self.i, line)


def _match(line: bytes, bounds: list[bytes]) -> tuple[int, bool] | None:
    """``(level, closing)`` when ``line`` is ``--b`` or ``--b--`` for a boundary in ``bounds``."""
    text = line.rstrip(b"\r\n").rstrip(b" \t")
    if not text.startswith(b"--"):
        return None
    for level, b in enumerate(bounds):
        if text == b"--" + b:
            return level, False
        if text == b"--" + b + b"--":
            return level, True
    return None


def _header_block(r: _Reader, bounds: list[bytes], top: bool) -> tuple[bytes, _Delimiter | None]:
    """The header lines of one entity, up to its blank line (consumed), the end, or a delimiter."""
    lines: list[bytes] = []
    size = 0
    first = True
    while True:
        line = r.readline(MAX_HEADER_BYTES + 1)
        if first and top and line.startswith(b"From "):  # an mbox "From " line kept in an .eml
            first = False
            continue
        first = False
        if line in (b"", b"\n", b"\r\n"):
            return b"".join(lines), None
        if bounds and line.startswith(b"--"):
            hit = _match(line, bounds)
            if hit is not None:  # a part with headers and no body
                return b"".join(lines), _Delimiter(hit[0], hit[1], r.pos - len(line))
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise _Broken(f"its headers are longer than {human_size(MAX_HEADER_BYTES)}")
        if b"\x00" in line:
            name = line.split(b":", 1)[0][:40].decode("ascii", "replace") if b":" in line else "a header"
            raise _Broken(f"the header {printable(name)!r} holds a NUL byte, which no mail program sends; "
                          "a form in the message could be hidden by it")
        if not (line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line)):
            shown = printable(line.rstrip(b"\r\n")[:60].decode("utf-8", "replace"))
            raise _Broken(f"a line in its headers is not a header ({shown!r}): the blank line between "
                          "headers and body is missing")
        lines.append(line)


def _structure_headers(block: bytes) -> Message:
    """The headers that shape the MIME tree, as a (legacy, fast) :class:`Message` without a body.

    The stdlib's header parser with ``policy.default`` costs about half a millisecond a part;
    unfolding the block here and handing only these few headers to a ``compat32`` message keeps
    a part at about ten microseconds (100,000 parts, parsed with the limit raised: about 1.3 s).
    """
    msg = Message()
    name: str | None = None
    value: list[bytes] = []

    def flush() -> None:
        if name in _STRUCTURE_HEADERS:
            msg[name] = b"".join(value).strip().decode("ascii", "surrogateescape")

    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):
            value.append(line)
            continue
        flush()
        key, _, rest = line.partition(b":")
        name = key.strip().lower().decode("ascii", "replace")
        value = [rest]
    flush()
    return msg


def _decoded(value: object) -> str:
    """A header's text with RFC 2047 encoded words decoded (as it is shown to a person)."""
    text = str(value or "")
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - a malformed encoded word is shown as it came
        return text


def _entity(r: _Reader, scan: _Scan, lim: Limits, bounds: list[bytes], depth: int, label: str, n: int,
            message: bool, default_type: str) -> _Delimiter | None:
    """Scan one message or part; returns the delimiter (of ``bounds``) that ended it, or None."""
    block, ended = _header_block(r, bounds, top=message and depth == 0)
    scan.parts += 1
    if scan.parts > lim.mime_parts:
        raise _Broken(f"it has more than {lim.mime_parts} MIME parts (limit max_mime_parts in docket.toml); "
                      "it was not read further")
    try:
        headers = _structure_headers(block)
        headers.set_default_type(default_type)
        content_type = headers.get_content_type()
        if message:
            subject = printable(_decoded(headers.get("subject", "")), 200)
            scan.subjects.append(subject)
            scan.replies.append(bool(headers.get("in-reply-to")) or bool(_REPLY.match(subject)))
            if depth == 0:
                scan.sender = printable(" ".join(_decoded(headers.get("from", "")).split()), 200) or None
        boundary = headers.get_boundary() if content_type.startswith("multipart/") else None
        filename = headers.get_filename()
        if filename and "=?" in filename:  # an RFC 2047 encoded word, as some mail programs send
            filename = _decoded(filename)
        charset = headers.get_content_charset()
        encoding = str(headers.get("content-transfer-encoding", "") or "").strip().lower()
    except Exception as exc:  # noqa: BLE001 - the header parser raises assorted errors on bad headers
        raise _Broken(f"its headers cannot be read ({type(exc).__name__}: {printable(str(exc), 120)})") from None
    if ended is not None:
        if content_type.startswith("multipart/"):
            raise _Broken(f"a {content_type} part ends before its first boundary")
        return ended
    container = content_type.startswith("multipart/") or content_type == "message/rfc822"
    if container and depth + 1 > lim.mime_depth:
        raise _Broken(f"its parts are nested more than {lim.mime_depth} levels deep "
                          "(limit max_mime_depth in docket.toml)")
    if content_type == "message/rfc822":
        return _entity(r, scan, lim, bounds, depth + 1, f"{label} > forwarded message", 1, True, "text/plain")
    if content_type.startswith("multipart/"):
        if not boundary:
            raise _Broken(f"a {content_type} part has no boundary, so its parts cannot be told apart")
        if len(boundary) > MAX_BOUNDARY:
            raise _Broken(f"a {content_type} part has a boundary of {len(boundary)} characters "
                          f"(at most {MAX_BOUNDARY} are read)")
        try:
            inner = [boundary.encode("utf-8", "surrogateescape"), *bounds]
        except UnicodeEncodeError:
            raise _Broken(f"a {content_type} part has a boundary that is not text") from None
        found = r.next_delimiter(inner)
        if found is None or found.level > 0:
            raise _Broken(f"the first boundary of a {content_type} part is missing")
        child_type = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
        k = 0
        while not found.closing:
            k += 1
            found = _entity(r, scan, lim, inner, depth + 1, label, k, False, child_type)  # type: ignore[assignment]
            if found is None:
                raise _Broken(f"a {content_type} part ends without its closing boundary (the message was cut short)")
            if found.level > 0:
                raise _Broken(f"a {content_type} part has no closing boundary")
        return r.next_delimiter(bounds)  # the epilogue
    start = r.pos
    found = r.next_delimiter(bounds)
    end = max(start, found.body_end if found is not None else r.pos)
    # Keep only the parts pass 2 may take: JSON by name or type, or a body that could hold a
    # form — encoded, or plain and holding the mark (looked at while it is still in the buffer).
    if (_is_json_part(content_type, filename) or encoding in ("base64", "quoted-printable")
            or start < r.base or FORM_MARK in r.buf[start - r.base:min(end, start + SNIFF_BYTES) - r.base]):
        scan.leaves.append(_Leaf(label, n, content_type, filename, charset, encoding, start, end))
    return found


# -- one message: pass 2, the candidates ----------------------------------------------------------


def _decode(fh: BinaryIO, leaf: _Leaf, cap: int, partial: bool = False) -> bytes | None:
    """The decoded body of ``leaf``, read in chunks; None when it is longer than ``cap``
    (or, with ``partial``, its first ``cap`` bytes). Broken base64 raises ValueError."""
    fh.seek(leaf.start)
    remaining = leaf.end - leaf.start
    out = bytearray()
    carry = b""
    encoding = leaf.encoding
    while True:
        chunk = fh.read(min(CHUNK, remaining)) if remaining > 0 else b""
        remaining -= len(chunk)
        last = not chunk
        data = carry + chunk
        carry = b""
        if encoding == "base64":
            data = data.translate(None, _B64_NOISE)
            if not last:
                cut = len(data) - len(data) % 4
                data, carry = data[:cut], data[cut:]
            elif len(data) % 4:
                data = data[: len(data) - len(data) % 4]  # a dangling 1-3 characters carry no whole byte
            try:
                out += binascii.a2b_base64(data)
            except binascii.Error as exc:
                raise ValueError(f"its base64 content is broken ({exc})") from None
        elif encoding == "quoted-printable":
            if not last:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one long line: do not cut an "=XX" escape in two
                    equal = data.rfind(b"=", max(len(data) - 3, 0))
                    cut = equal if equal >= 0 else len(data)
                data, carry = data[:cut], data[cut:]
            out += binascii.a2b_qp(data)
        else:
            out += data
        if len(out) > cap:
            return bytes(out[:cap]) if partial else None
        if last:
            return bytes(out)


def _is_json_part(content_type: str, filename: str | None) -> bool:
    return (content_type in JSON_TYPES or content_type.endswith("+json")
            or bool(filename and filename.lower().endswith(".json")))


def _leaf_items(fh: BinaryIO, leaf: _Leaf, lim: Limits) -> Iterator[Item]:
    if not _is_json_part(leaf.content_type, leaf.filename):
        # Not named as JSON: a form attached as .txt or pasted into the text still counts.
        try:
            head = _decode(fh, leaf, SNIFF_BYTES, partial=True)
        except ValueError:
            return
        if not head or FORM_MARK not in head:
            return
    name = printable(leaf.filename, 120) if leaf.filename else f"#{leaf.n}"
    where = f"{leaf.label} > attachment {name}"
    if leaf.filename and _has_control(leaf.filename):
        yield Item(where, refused="the attachment's file name holds a control character (such as NUL); "
                                  "rename the file and send it again")
        return
    try:
        cap, key = _form_cap(lim)
        data = _decode(fh, leaf, cap)
    except ValueError as exc:
        yield Item(where, refused=f"the attachment cannot be decoded: {exc}")
        return
    if data is None:
        yield Item(where, refused=too_big("the attachment", None, cap, key))
        return
    charset = leaf.charset
    if charset and charset.lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
        try:
            data = data.decode(charset).encode("utf-8")
        except (LookupError, ValueError):  # unknown, not a text codec, a NUL in the name, a lone surrogate
            yield Item(where, refused=f"the attachment is not readable in its declared charset {printable(charset)!r}")
            return
    yield Item(where, data=data)


def _names_a_form(scan: _Scan, words: tuple[str, ...]) -> str | None:
    """The first subject (of a message that is not a reply) naming one of ``words``."""
    for subject, reply in zip(scan.subjects, scan.replies, strict=True):
        if reply:
            continue
        low = subject.lower()
        for word in words:
            if word and word in low:
                return subject
    return None


def message_items(fh: BinaryIO, start: int, stop: int, source: str, lim: Limits) -> Iterator[Item]:
    """The candidate forms of one e-mail message lying in ``fh`` between two offsets."""
    size = stop - start
    if size > lim.upload_bytes:
        yield Item(source, refused=too_big("the message", size, lim.upload_bytes))
        return
    scan = _Scan()
    try:
        _entity(_Reader(fh, start, stop), scan, lim, [], 0, source, 1, True, "text/plain")
    except _Broken as exc:
        yield Item(source, refused=f"the message cannot be read safely: {exc.args[0]}", sender=scan.sender)
        return
    except RecursionError:  # cannot happen below max_mime_depth, but a limit set absurdly high
        yield Item(source, refused="the message is nested too deeply to read", sender=scan.sender)
        return
    found = 0
    for leaf in scan.leaves:
        for item in _leaf_items(fh, leaf, lim):
            found += 1
            item.sender = scan.sender
            yield item
    if found:
        return
    subject = scan.subjects[0] if scan.subjects else ""
    named = _names_a_form(scan, lim.form_words)
    if named is not None:
        yield Item(source, refused=f"the subject {named!r} names a docket form, but the message carries no "
                                   "form (no JSON attachment); was it left out, or sent as a link?",
                   sender=scan.sender)
        return
    about = f" (subject {subject!r})" if subject else ""
    yield Item(source, skipped=f"the message{about} carries no JSON attachment", sender=scan.sender)

