"""Fetch one file into a folder: streamed, measured in the same read, visible only when verified.

The bytes go into a hidden temporary file in the destination folder (same file system, so the
final step is an atomic rename); it is flushed to disk, checked against everything the source
and the caller declared, and only then linked into place under its name. Any failure, including
Ctrl-C, removes the temporary file, so a reader of the folder sees either no file or the whole,
verified file. A crash (power loss, kill -9) can leave a temporary file behind, named with
:data:`PARTIAL_PREFIX`; :func:`remove_partials` clears them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import mimetypes
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from docket.errors import BadInput, Conflict
from docket.transfer import sources
from docket.transfer.errors import ChecksumMismatch, SizeLimitExceeded, TransferFailed, redact
from docket.transfer.hashing import DEFAULT_CHUNK, LimitExceeded, digest_stream
from docket.transfer.names import check_name

PARTIAL_PREFIX = ".docket-partial-"
DEFAULT_TIMEOUT = 60.0

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


def remove_partials(dest_dir: str | Path) -> list[Path]:
    """Delete temporary files a crashed transfer left in ``dest_dir``; return what was removed."""
    removed = []
    folder = Path(dest_dir)
    if folder.is_dir():
        for path in folder.glob(PARTIAL_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


class _Writer:
    """Writes every chunk to the temporary file, turning OS errors into a TransferFailed."""

    def __init__(self, fd: int, location: str, final: Path) -> None:
        self.fd = fd
        self.location = location
        self.final = final

    def __call__(self, chunk: memoryview) -> None:
        try:
            while chunk:
                written = os.write(self.fd, chunk)
                chunk = chunk[written:]
        except OSError as exc:
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
            raise TransferFailed(self.location, f"cannot write {self.final}: {reason}") from None


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
    expected_md5: str | None = None,
    expected_sha256: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
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
    expected checksums (each checked only when given). ``max_bytes`` stops the read as soon as it
    is passed (and before it starts when the source announces a larger size). ``local_roots``
    confines local paths to those folders (pass the instance's inbox: a provider's request must
    not be able to name ``/etc/passwd``). An existing file is a Conflict unless ``replace``.

    Raises BadInput (unsafe name, bad arguments) before anything is read or written;
    TransferFailed (or its subclasses SizeLimitExceeded, ChecksumMismatch) when the bytes could
    not be fetched or are not what was declared; Refused for a local path outside
    ``local_roots``; Conflict when the name is taken. In every failure case nothing is left in
    ``dest_dir``.
    """
    check_name(name)
    for label, value in (("max_bytes", max_bytes), ("expected_size", expected_size)):
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
    if timeout is None or timeout <= 0:
        raise BadInput(f"timeout must be a positive number of seconds, not {timeout!r}")

    scheme = sources.scheme_of(location)
    source = sources.get(scheme)
    ctx = dataclasses.replace(context or sources.SourceContext(), timeout=timeout)
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
        try:
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=PARTIAL_PREFIX, suffix=".tmp")
        except OSError as exc:
            raise TransferFailed(location, f"cannot write in {folder}: {exc.strerror}") from None
        tmp = Path(tmp_name)
        try:
            try:
                digests = digest_stream(
                    opened.reader,
                    sink=_Writer(fd, location, final),
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
            os.fchmod(fd, 0o666 & ~_umask())
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
