"""Finding filled forms: JSON files, folders, and e-mail (.eml, mbox, Maildir) attachments.

Every candidate becomes an :class:`Item` — its bytes, or the reason it was refused before being
read (too big, unreadable, nested too deeply) or skipped (not a form at all). Nothing here parses
JSON or touches the store; sizes are checked with bounded reads, so an oversized file or
attachment is refused without being loaded whole.
"""

from __future__ import annotations

import email.policy
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

from docket.errors import BadInput, NotFound

MAX_DEPTH = 8  # message/rfc822 inside multipart inside ...: deeper than this is refused
JSON_TYPES = ("application/json", "text/json")
_PARSER = BytesParser(policy=email.policy.default)


@dataclass
class Item:
    """One candidate form: where it came from and its bytes, or why it was not read."""

    source: str
    data: bytes | None = None
    refused: str | None = None
    skipped: str | None = None
    folder: Path | None = None  # for files on disk: relative file locations are relative to it


def human_size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def too_big(what: str, size: int | None, limit: int) -> str:
    size_text = f"{human_size(size)}" if size is not None else f"more than {human_size(limit)}"
    return (f"{what} is {size_text}, over the limit of {human_size(limit)} "
            "(set [limits] max_upload_bytes in docket.toml, or --max-bytes)")


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


def iter_items(paths: list[Path], limit: int) -> Iterator[Item]:
    """Every candidate in ``paths``, in a stable order (folders sorted by name)."""
    for path in paths:
        if path.is_dir():
            yield from _folder(path, limit, explicit=True)
        else:
            yield from _file(path, limit, explicit=True)


def _folder(path: Path, limit: int, explicit: bool) -> Iterator[Item]:
    if is_maildir(path):
        yield from _maildir(path, limit)
        return
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        yield Item(str(path), refused=f"cannot read the folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and entry.is_dir():
            yield Item(str(entry), skipped="a link to a folder (not followed)")
        elif entry.is_dir():
            yield from _folder(entry, limit, explicit=False)
        elif entry.is_file():
            yield from _file(entry, limit, explicit=False)


def _kind(path: Path, head: bytes) -> str | None:
    """``json``, ``eml`` or ``mbox`` from the name, else (for a path given by hand) the content."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".eml", ".msg"):
        return "eml"
    if suffix in (".mbox", ".mbx"):
        return "mbox"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"From "):
        return "mbox"
    if stripped[:1] in (b"{", b"["):
        return "json"
    first = stripped.split(b"\n", 1)[0]
    if b":" in first and first.split(b":", 1)[0].replace(b"-", b"").isalnum():
        return "eml"
    return None


def _read_bounded(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it has more than ``limit`` bytes (read no further)."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def _file(path: Path, limit: int, explicit: bool) -> Iterator[Item]:
    source = str(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
        kind = _kind(path, head) if (explicit or path.suffix.lower() in (".json", ".eml", ".mbox", ".msg", ".mbx")) else None
        if kind is None:
            yield Item(source, skipped="not a JSON file, e-mail, mbox or Maildir")
            return
        if kind == "mbox":
            yield from _mbox(path, limit)
            return
        size = path.stat().st_size
        data = _read_bounded(path, limit)
    except OSError as exc:
        yield Item(source, refused=f"cannot read the file: {exc.strerror or exc}")
        return
    if data is None:
        yield Item(source, refused=too_big("the file", size, limit))
    elif kind == "json":
        yield Item(source, data=data, folder=path.parent.resolve())
    else:
        yield from message_items(data, source, limit)


def _mbox(path: Path, limit: int) -> Iterator[Item]:
    try:
        box = mailbox.mbox(str(path), create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as exc:
        yield Item(str(path), refused=f"cannot read the mbox: {exc}")
        return
    if not keys:
        yield Item(str(path), skipped="an mbox with no messages")
    for n, key in enumerate(keys, 1):
        yield from _box_message(box, key, f"{path} message {n}", limit)
    box.close()


def _maildir(path: Path, limit: int) -> Iterator[Item]:
    try:
        box = mailbox.Maildir(str(path), factory=None, create=False)
        keys = sorted(box.keys())
    except (OSError, mailbox.Error) as exc:
        yield Item(str(path), refused=f"cannot read the Maildir: {exc}")
        return
    if not keys:
        yield Item(str(path), skipped="a Maildir with no messages")
    for key in keys:
        yield from _box_message(box, key, f"{path} message {key}", limit)


def _box_message(box: mailbox.Mailbox, key: str, source: str, limit: int) -> Iterator[Item]:
    try:
        fh = box.get_file(key)
        try:
            data = fh.read(limit + 1)
        finally:
            fh.close()
    except (OSError, KeyError, mailbox.Error) as exc:
        yield Item(source, refused=f"cannot read the message: {exc}")
        return
    if len(data) > limit:
        yield Item(source, refused=too_big("the message", None, limit))
        return
    yield from message_items(data, source, limit)


def message_items(raw: bytes, source: str, limit: int) -> Iterator[Item]:
    """The JSON attachments of one e-mail message (bytes as on disk)."""
    try:
        msg = _PARSER.parsebytes(raw)
        items = list(_attachments(msg, source, limit, 0))
    except RecursionError:
        return iter([Item(source, refused="the message is nested too deeply to read")])
    except Exception as exc:  # noqa: BLE001 - the stdlib e-mail parser raises assorted errors on bad headers
        return iter([Item(source, refused=f"the message cannot be read ({type(exc).__name__}: {exc})")])
    if not items:
        subject = _safe_header(msg, "subject")
        about = f" (subject {subject!r})" if subject else ""
        items = [Item(source, skipped=f"the message{about} carries no JSON attachment")]
    return iter(items)


def _safe_header(msg: Message, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")[:120]
    except Exception:  # noqa: BLE001 - a malformed header must not stop the report
        return ""


def _is_json_part(part: Message, filename: str | None) -> bool:
    ctype = part.get_content_type()
    return (
        ctype in JSON_TYPES
        or ctype.endswith("+json")
        or bool(filename and filename.lower().endswith(".json"))
    )


def _attachments(msg: Message, source: str, limit: int, depth: int) -> Iterator[Item]:
    if depth > MAX_DEPTH:
        yield Item(source, refused=f"attachments are nested more than {MAX_DEPTH} messages deep")
        return
    if msg.get_content_type() == "message/rfc822" or msg.is_multipart():
        payload = msg.get_payload()
        parts = payload if isinstance(payload, list) else []
        for n, part in enumerate(parts, 1):
            if not isinstance(part, Message):
                continue
            inner = source if msg.get_content_maintype() == "multipart" else f"{source} > forwarded message"
            if part.get_content_type() == "message/rfc822" or part.is_multipart():
                yield from _attachments(part, inner, limit, depth + 1)
            else:
                yield from _leaf(part, inner, limit, n)
        return
    yield from _leaf(msg, source, limit, 1)


def _leaf(part: Message, source: str, limit: int, n: int) -> Iterator[Item]:
    filename = part.get_filename()
    if not _is_json_part(part, filename):
        return
    where = f"{source} > attachment {filename or f'#{n}'}"
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        yield Item(where, refused="the attachment has no readable content")
        return
    if len(data) > limit:
        yield Item(where, refused=too_big("the attachment", len(data), limit))
        return
    charset = part.get_content_charset()
    if charset and charset.lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
        try:
            data = data.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            yield Item(where, refused=f"the attachment is not readable in its declared charset {charset!r}")
            return
    yield Item(where, data=data)


def walk_paths(paths: list[str], limit: int) -> list[Item]:
    """``check_paths`` then every item, as a list (the importer needs them all before writing)."""
    return list(iter_items(check_paths(paths), limit))

