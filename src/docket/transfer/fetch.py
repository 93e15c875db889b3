"""Fetch one file into a folder: streamed, measured in the same read, visible only when verified.

The bytes go into a hidden temporary file in the destination folder (same file system, so the
final step is an atomic rename); it is flushed to disk, checked against everything the source
and the caller declared, and only then linked into place under its name. Any failure, including
Ctrl-C, removes the temporary file, so a reader of the folder sees either no file or the whole,
verified file. A crash (power loss, kill -9) can leave a temporary file behind, named with
:data:`PARTIAL_PREFIX`; :func:`remove_partials` clears them. A transfer in progress holds an
exclusive ``flock`` on its temporary file, so a sweep never removes a file that is still being
written (a dead process's lock is gone with it).

Every name docket leaves behind in a folder of stored files starts with :data:`LEFTOVER_PREFIX`
(``.docket-``): temporary files here, staging folders in :mod:`docket.steps.transfer`. A
provider's file may not take such a name, so a sweep never mistakes data for a leftover.

While writing, the bytes already written are handed to the disk in the background
(``sync_file_range`` on Linux), so the final ``fsync`` waits for the last few MiB instead of the
whole file: without it, flushing a 1 GiB file took as long as reading and hashing it.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import mimetypes
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from docket.errors import BadInput, Conflict
from docket.transfer import sources
from docket.transfer.errors import ChecksumMismatch, SizeLimitExceeded, TransferFailed, redact
from docket.transfer.hashing import DEFAULT_CHUNK, LimitExceeded, digest_stream
from docket.transfer.names import check_name

#: Every file or folder docket's transfers may leave behind starts with this (see the module doc).
LEFTOVER_PREFIX = ".docket-"
PARTIAL_PREFIX = LEFTOVER_PREFIX + "partial-"
DEFAULT_TIMEOUT = 60.0
#: Bytes written between two write-behind calls (each starts the disk on that window).
WRITE_BEHIND_WINDOW = 8 * 1024 * 1024
#: Windows whose writing may still be under way; the writer waits for the oldest beyond this,
#: so at most this many windows are left for the final fsync, yet a busy disk rarely stalls it.
WRITE_BEHIND_DEPTH = 8
#: Files announced at least this large, and to be flushed to disk anyway, are written with
#: ``O_DIRECT`` (straight from the read buffers to the disk): copying them into the page cache
#: cost as much CPU as both hashes together (2.2 s per GiB on the 2-core development machine,
#: where the disk takes 0.5 s), and the whole file would then still have to be flushed. Smaller
#: files go through the page cache, where QA finds them right after.
DIRECT_THRESHOLD = 64 * 1024 * 1024
#: What O_DIRECT needs of a write's length (and the buffers' address: they are whole pages).
DIRECT_ALIGN = 4096

# The standard library's own table only: /etc/mime.types differs between machines, and a media
# type recorded in PROV should not depend on where docket ran.
_MIME = mimetypes.MimeTypes()
for _type, _ext in (
    ("text/csv", ".csv"),
    ("text/tab-separated-values", ".tsv"),
    ("application/vnd.apache.parquet", ".parquet"),
    ("application/geo+json", ".geojson"),
    ("application/x-netcdf", ".nc"),
    ("application/x-hdf5", ".h5"),
    ("application/x-hdf5", ".hdf5"),
    ("application/zip", ".zip"),
    ("application/gzip", ".gz"),
    ("application/x-ipynb+json", ".ipynb"),
    ("text/markdown", ".md"),
    ("application/yaml", ".yaml"),
    ("application/yaml", ".yml"),
):
    _MIME.add_type(_type, _ext)
GENERIC_TYPE = "application/octet-stream"
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


@dataclass(frozen=True)
class FetchedFile:
    """A file now stored under ``path``, with what one read of its bytes measured."""

    name: str
    path: Path
    size: int
    md5: str
    sha256: str
    media_type: str
    #: The location as given (password redacted): what PROV records as the source entity.
    source: str
    #: Where the bytes really came from: absolute path, or the URL after redirects.
    resolved: str

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def media_type_of(name: str, content_type: str | None = None) -> str:
    """The media type by extension; else the server's Content-Type; else octet-stream.

    The extension wins because servers often label everything ``text/plain`` or
    ``application/octet-stream``; a compressed file (``x.csv.gz``) is its container type.
    """
    guessed, encoding = _MIME.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, GENERIC_TYPE)
    return guessed or content_type or GENERIC_TYPE


@contextlib.contextmanager
def claim(path: Path) -> Iterator[bool]:
    """Try to take the exclusive lock a live transfer holds on ``path`` (a file or a folder).

    Yields True while the lock is held (nobody is using ``path``: it may be removed or
    finished), False when another process holds it or ``path`` is gone. Links are not
    followed: a link with a leftover's name is not a leftover's content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            yield False
            return
        yield True  # a symbolic link: nothing can be locked through it, and nothing uses it
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def remove_partials(dest_dir: str | Path) -> list[Path]:
    """Delete temporary files a crashed transfer left in ``dest_dir``; return what was removed.

    A temporary file whose transfer is still running (it holds the file's lock) is kept.
    """
    removed = []
    folder = Path(dest_dir)
    if folder.is_dir():
        for path in folder.glob(PARTIAL_PREFIX + "*"):
            with claim(path) as ours:
                if not ours or path.is_dir() and not path.is_symlink():
                    continue
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Linux), which Python's os module does not offer; else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The symbols already loaded in this process (libc among them); find_library("c")
        # would run ldconfig in a subprocess on every start of docket.
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _sync_file_range()
_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4


class _Writer:
    """Writes every chunk to the temporary file, turning OS errors into a TransferFailed.

    With ``direct``, chunks go to the disk with ``O_DIRECT`` for as long as they are whole
    multiples of :data:`DIRECT_ALIGN` (all but the last, for a local file); the first one that
    is not (a network read that came back short, the end of the file), or a file system that
    refuses direct writes, turns the file back to ordinary writes for the rest.

    With ``write_behind`` (ordinary writes), every :data:`WRITE_BEHIND_WINDOW` bytes it starts
    the disk writing that window (without waiting), and waits for the window
    :data:`WRITE_BEHIND_DEPTH` windows back: the disk works while the file streams in, the
    writer is paced by the disk only when the disk is the slower, and the final fsync finds a
    few windows to wait for, not the whole file.
    """

    def __init__(self, fd: int, location: str, final: Path, *, write_behind: bool = False,
                 direct: bool = False) -> None:
        self.fd = fd
        self.location = location
        self.final = final
        self.offset = 0
        self.window_start = 0
        self.pending: collections.deque[tuple[int, int]] = collections.deque()
        self.write_behind = write_behind and _SYNC_FILE_RANGE is not None
        self.direct = direct and _set_direct(fd, True)

    def __call__(self, chunk: memoryview) -> None:
        if self.direct and len(chunk) % DIRECT_ALIGN:
            self._buffered()
        try:
            while chunk:
                try:
                    written = os.write(self.fd, chunk)
                except OSError as exc:
                    if not (self.direct and exc.errno == errno.EINVAL):
                        raise
                    self._buffered()  # this file system (or this buffer) will not do it
                    continue
                chunk = chunk[written:]
                self.offset += written
        except OSError as exc:
            raise self._failed(exc) from None
        if self.write_behind and not self.direct and self.offset - self.window_start >= WRITE_BEHIND_WINDOW:
            self._push()

    def _buffered(self) -> None:
        if self.direct:
            _set_direct(self.fd, False)
            self.direct = False
            self.window_start = self.offset

    def _push(self) -> None:
        assert _SYNC_FILE_RANGE is not None
        window = (self.window_start, self.offset - self.window_start)
        if _SYNC_FILE_RANGE(self.fd, *window, _SFR_WRITE) != 0:
            self.write_behind = False  # not supported here (some file systems): fsync does it all
            return
        self.pending.append(window)
        self.window_start = self.offset
        if len(self.pending) > WRITE_BEHIND_DEPTH:
            oldest = self.pending.popleft()
            flags = _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER
            if _SYNC_FILE_RANGE(self.fd, *oldest, flags) != 0:
                code = ctypes.get_errno()
                if code in (errno.EIO, errno.ENOSPC, errno.EDQUOT):
                    raise self._failed(OSError(code, os.strerror(code)))
                self.write_behind = False

    def _failed(self, exc: OSError) -> TransferFailed:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        return TransferFailed(self.location, f"cannot write {self.final}: {reason}")


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; False where the system or file system cannot."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return True


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask is racy)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _install(tmp: Path, final: Path, replace: bool) -> None:
    """Put the finished ``tmp`` at ``final`` atomically; without ``replace`` never clobber."""
    if replace:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)  # atomic and refuses an existing name, unlike rename
    except FileExistsError:
        raise Conflict(f"{final} already exists; it was not replaced") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        # a file system without hard links: rename, after a check that cannot be atomic
        if final.exists():
            raise Conflict(f"{final} already exists; it was not replaced") from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def _partial_file(location: str, folder: Path) -> tuple[int, Path]:
    """A new temporary file in ``folder``, open for writing and locked while this transfer lives.

    A sweep (:func:`remove_partials`) can only remove a temporary file whose lock it holds, so
    between creating the file and locking it a sweep may still take it: then the file no longer
    has a name (link count 0) once our lock is granted, and another one is made.
    """
    for _attempt in range(5):
        try:
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=PARTIAL_PREFIX, suffix=".tmp")
        except OSError as exc:
            raise TransferFailed(location, f"cannot write in {folder}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a sweep holds it only for an instant
            if os.fstat(fd).st_nlink > 0:
                return fd, Path(tmp_name)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise TransferFailed(location, f"cannot write in {folder}: {exc.strerror}") from None
        os.close(fd)
    raise TransferFailed(location, f"cannot write in {folder}: its temporary files keep vanishing")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fetch(
    location: str,
    dest_dir: str | Path,
    name: str,
    *,
    max_bytes: int | None = None,
    expected_size: int | None = None,
    declared_size: int | None = None,
    expected_md5: str | None = None,
    expected_sha256: str | None = None,
    timeout: float | None = None,
    replace: bool = False,
    local_roots: list[Path] | None = None,
    base_dir: Path | None = None,
    fsync: bool = True,
    threaded: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    context: sources.SourceContext | None = None,
) -> FetchedFile:
    """Fetch ``location`` (http(s) URL, file:// URL or local path) into ``dest_dir/name``.

    Size, md5 and sha256 are computed while the bytes stream to disk. The file appears under its
    name only when complete and verified: the source's promised length, ``expected_size`` and the
    expected checksums (each checked only when given). ``declared_size`` is what the provider
    said the file has: fewer bytes fail it (a body cut short, which a server that sends no
    length cannot announce), more are stored, for QA's congruence check to report.
    ``timeout`` (seconds), when given, overrides ``context.timeout``; with neither it is
    :data:`DEFAULT_TIMEOUT`, and a context's own timeout is never replaced by a default.
    ``max_bytes`` stops the read as soon as it is passed (and before it starts when the source announces a larger size). ``local_roots``
    confines local paths to those folders (pass the instance's inbox: a provider's request must
    not be able to name ``/etc/passwd``). An existing file is a Conflict unless ``replace``.

    Raises BadInput (unsafe name, bad arguments) before anything is read or written;
    TransferFailed (or its subclasses SizeLimitExceeded, ChecksumMismatch) when the bytes could
    not be fetched or are not what was declared; Refused for a local path outside
    ``local_roots``; Conflict when the name is taken. In every failure case nothing is left in
    ``dest_dir``.
    """
    check_name(name)
    if name.startswith(LEFTOVER_PREFIX):
        raise BadInput(
            f"file name {name!r} is refused: names starting with {LEFTOVER_PREFIX!r} are docket's "
            "own temporary files"
        )
    sizes = (("max_bytes", max_bytes), ("expected_size", expected_size), ("declared_size", declared_size))
    for label, value in sizes:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise BadInput(f"{label} must be a whole number of bytes >= 0, not {value!r}")
    expected = {"md5": expected_md5, "sha256": expected_sha256}
    for algo, value in expected.items():
        if value is not None:
            digits = 32 if algo == "md5" else 64
            value = value.strip().lower()
            if len(value) != digits or any(c not in "0123456789abcdef" for c in value):
                raise BadInput(f"expected_{algo} {value!r} is not {digits} hexadecimal digits")
            expected[algo] = value
    ctx = dataclasses.replace(context) if context is not None else sources.SourceContext(
        timeout=DEFAULT_TIMEOUT)
    if timeout is not None:
        ctx.timeout = timeout
    if isinstance(ctx.timeout, bool) or not isinstance(ctx.timeout, int | float) or not ctx.timeout > 0:
        raise BadInput(f"timeout must be a positive number of seconds, not {ctx.timeout!r}")

    scheme = sources.scheme_of(location)
    source = sources.get(scheme)
    if local_roots is not None:
        ctx.local_roots = [Path(r) for r in local_roots]
    if base_dir is not None:
        ctx.base_dir = Path(base_dir)

    folder = Path(dest_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the destination folder {folder}: {exc.strerror}") from None
    final = folder / name
    if final.is_dir() and not final.is_symlink():
        raise Conflict(f"{final} is a folder; a file cannot take its name")
    if not replace and (final.exists() or final.is_symlink()):
        raise Conflict(f"{final} already exists; it was not replaced")
    shown = redact(location)

    with source.open(location, ctx) as opened:
        if opened.length is not None:
            if max_bytes is not None and opened.length > max_bytes:
                raise SizeLimitExceeded(location, max_bytes, 0)
            if expected_size is not None and opened.length != expected_size:
                raise ChecksumMismatch(
                    location,
                    f"the source has {opened.length} bytes, {expected_size} were declared",
                )
            if declared_size is not None and opened.length < declared_size:
                raise TransferFailed(
                    location,
                    f"the source has {opened.length} bytes, fewer than the {declared_size} "
                    "the provider declared",
                )
        fd, tmp = _partial_file(location, folder)
        try:
            try:
                digests = digest_stream(
                    opened.reader,
                    sink=_Writer(fd, location, final, write_behind=fsync,
                                 direct=fsync and (opened.length or 0) >= DIRECT_THRESHOLD),
                    max_bytes=max_bytes,
                    threaded=threaded,
                    size_hint=opened.length,
                    chunk_size=chunk_size,
                )
            except LimitExceeded as exc:
                raise SizeLimitExceeded(location, exc.limit, exc.seen) from None
            if opened.length is not None and digests.size != opened.length:
                raise TransferFailed(
                    location,
                    f"received {digests.size} of the {opened.length} bytes announced (short read)",
                )
            if expected_size is not None and digests.size != expected_size:
                raise ChecksumMismatch(
                    location, f"received {digests.size} bytes, {expected_size} were declared"
                )
            if declared_size is not None and digests.size < declared_size:
                raise TransferFailed(
                    location,
                    f"received {digests.size} of the {declared_size} bytes the provider declared "
                    "(the body was cut short)",
                )
            for algo, want in expected.items():
                got = getattr(digests, algo)
                if want is not None and got != want:
                    raise ChecksumMismatch(location, f"{algo} is {got}, {want} was declared")
            if fsync:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    raise TransferFailed(
                        location, f"cannot flush {final}: {exc.strerror}"
                    ) from None
            try:
                os.fchmod(fd, 0o666 & ~_umask())
            except OSError as exc:
                raise TransferFailed(location, f"cannot store {final}: {exc.strerror}") from None
            os.close(fd)
            fd = -1
            try:
                _install(tmp, final, replace)
            except OSError as exc:
                raise TransferFailed(location, f"cannot store {final}: {exc.strerror}") from None
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    if fsync:
        _fsync_dir(folder)
    return FetchedFile(
        name=name,
        path=final,
        size=digests.size,
        md5=digests.md5,
        sha256=digests.sha256,
        media_type=media_type_of(name, opened.content_type),
        source=shown,
        resolved=redact(opened.resolved),
    )
