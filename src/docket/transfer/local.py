"""Local files: plain paths and ``file://`` URLs, confined to the instance's allowed folders.

Confinement is decided on what is opened, not on a name checked beforehand. Checking a resolved
path and then opening the path again leaves a window in which a provider who can write to the
inbox swaps a component for a symbolic link to a file outside (it worked in 142 of 3,000 tries).
So an allowed folder (a *root*) is opened once, and the path below it is walked one component at
a time relative to the descriptor of the previous one, each with ``O_NOFOLLOW``: no ``..``, no
symbolic link at any step (a link is refused, not followed: following it safely would mean
walking its target the same way, and an inbox has no need for links). The descriptor of the
file is then checked with ``fstat`` (a regular file, on the root's device, with one hard link
unless ``[transfer] allow_hardlinks``: a hard link in the inbox can give any file of the disk a
name there) and the bytes are read from that descriptor only.

Every operating-system error becomes a :class:`~docket.transfer.errors.TransferFailed` with its
reason, and every breach of confinement a :class:`~docket.errors.Refused`, so nothing reaches
the caller as a bare ``OSError``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from docket.errors import BadInput, Refused
from docket.transfer.errors import TransferFailed
from docket.transfer.sources import Opened, Source, SourceContext, register

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_NONBLOCK: opening a FIFO must not hang waiting for a writer (regular files ignore it);
# O_NOCTTY: opening a terminal must not make it ours.
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | _CLOEXEC


class _FileReader:
    """Reads a local file and notices when it shrinks or grows while being read."""

    def __init__(self, f, location: str, length: int) -> None:
        self.f = f
        self.location = location
        self.length = length
        self.count = 0

    def readinto(self, buffer) -> int:
        try:
            n = self.f.readinto(buffer) or 0
        except OSError as exc:
            raise TransferFailed(self.location, f"cannot read: {exc.strerror or exc}") from None
        self.count += n
        if n == 0 and self.count != self.length:
            raise TransferFailed(
                self.location,
                f"the file changed while it was read ({self.count} bytes read, "
                f"{self.length} when opened)",
            )
        return n


def _os_failure(location: str, path: Path | str, exc: OSError) -> TransferFailed:
    """The TransferFailed for an OS error met while opening ``path``, in words a user can act on."""
    if exc.errno == errno.ENOENT:
        return TransferFailed(location, f"no such file: {path}")
    if exc.errno == errno.EISDIR:
        return TransferFailed(location, f"{path} is a folder, not a file")
    return TransferFailed(location, f"cannot open {path}: {exc.strerror or exc}")


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file"


def root_forms(root: Path) -> list[Path]:
    """An allowed root as configured and as resolved: a root may itself be a link (``inbox ->
    /data/inbox``, the data centre's setting, not the provider's), and a path may name either."""
    forms = [root]
    with contextlib.suppress(OSError, RuntimeError):
        forms.append(root.resolve())
    return forms


class LocalSource(Source):
    """Plain paths and ``file://`` URLs (``file:///abs/path`` or ``file://localhost/abs/path``)."""

    def path_of(self, location: str, ctx: SourceContext) -> Path:
        if urlsplit(location).scheme.lower() == "file" and len(location) > 5:
            parts = urlsplit(location)
            if parts.netloc not in ("", "localhost"):
                raise BadInput(
                    f"file URL {location!r} names the host {parts.netloc!r}; only local files "
                    "(file:///path) can be fetched"
                )
            path = Path(url2pathname(unquote(parts.path)))
        else:
            path = Path(location).expanduser()
        if not path.is_absolute():
            path = (ctx.base_dir or Path.cwd()) / path
        return path

    def confine(self, location: str, path: Path, ctx: SourceContext) -> tuple[Path, tuple[str, ...]]:
        """The allowed root ``path`` lies in and its components below it, by name alone.

        Nothing on disk is consulted except where each root itself is (a root may be a link,
        e.g. ``inbox -> /data/inbox``: it is the data centre's setting, not the provider's), so
        a root is matched both as configured and resolved. The most specific root wins.
        """
        roots = ctx.local_roots or []
        if ".." in path.parts:
            raise Refused(f"local file {location!r} climbs out of its folder with '..'")
        best: tuple[Path, tuple[str, ...]] | None = None
        for root in roots:
            root = Path(root)
            if not root.is_absolute():
                root = (ctx.base_dir or Path.cwd()) / root
            for candidate in root_forms(root):
                if path.is_relative_to(candidate):
                    below = path.relative_to(candidate).parts
                    if best is None or len(below) < len(best[1]):
                        best = (candidate, below)
        if best is None:
            raise Refused(
                f"local file {location!r} is {path}, outside the folders files may be taken "
                f"from ({', '.join(str(r) for r in roots) or 'none configured'})"
            )
        if not best[1]:
            raise TransferFailed(location, f"{path} is a folder, not a file")
        return best

    def _open_confined(self, location: str, path: Path, ctx: SourceContext) -> tuple[int, os.stat_result]:
        """Open ``path`` by walking down from its root without following links; checked fstat."""
        root, below = self.confine(location, path, ctx)
        try:
            dir_fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        except OSError as exc:
            raise TransferFailed(
                location, f"the folder files are taken from, {root}, cannot be opened: "
                f"{exc.strerror or exc}"
            ) from None
        fd = -1
        try:
            root_dev = os.fstat(dir_fd).st_dev
            here = root
            for name in below[:-1]:
                here = here / name
                try:
                    next_fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC,
                                      dir_fd=dir_fd)
                except OSError as exc:
                    raise self._explain(location, here, name, dir_fd, exc, root) from None
                os.close(dir_fd)
                dir_fd = next_fd
            name = below[-1]
            # A look before opening, so a device or a pipe is refused without being opened
            # (opening a tape drive rewinds it); the fstat below is what decides.
            try:
                before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                raise _os_failure(location, path, exc) from None
            if stat.S_ISLNK(before.st_mode):
                raise self._link_refused(location, path, root)
            if not stat.S_ISREG(before.st_mode):
                raise TransferFailed(location, f"{path} is {_kind(before.st_mode)}")
            try:
                fd = os.open(name, _FILE_FLAGS | _NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                raise self._explain(location, path, name, dir_fd, exc, root) from None
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise TransferFailed(location, f"{path} is {_kind(st.st_mode)}")
            if st.st_dev != root_dev:
                raise Refused(
                    f"local file {location!r} is on another file system than {root}; files are "
                    "taken only from the allowed folder's own file system"
                )
            # The link count of the descriptor alone proves nothing: a hard link to an outside
            # file can be opened, then its inbox name replaced, leaving the outside name as the
            # only one (fstat then says 1). So the inbox name must still be this very file, and
            # the count is read from that name: one stat shows an instant at which the file's
            # one and only name was in the inbox.
            try:
                named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                named = None
            if named is None or (named.st_dev, named.st_ino) != (st.st_dev, st.st_ino):
                raise TransferFailed(location, f"{path} was replaced while it was opened")
            links = max(st.st_nlink, named.st_nlink)
            if links > 1 and not ctx.allow_hardlinks:
                raise Refused(
                    f"local file {location!r} has {links} hard links: its other names may "
                    f"lie outside {root}, so it is not taken (a data centre that trusts its "
                    "inbox sets [transfer] allow_hardlinks = true)"
                )
            return fd, st
        except OSError as exc:  # fstat of an open descriptor: only an I/O error can get here
            if fd >= 0:
                os.close(fd)
            raise _os_failure(location, path, exc) from None
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
        finally:
            os.close(dir_fd)

    def _link_refused(self, location: str, path: Path, root: Path) -> Refused:
        return Refused(
            f"local file {location!r}: {path} is a symbolic link; links inside {root} are not "
            "followed (put the file itself there)"
        )

    def _explain(self, location: str, path: Path, name: str, dir_fd: int, exc: OSError,
                 root: Path) -> Refused | TransferFailed:
        """Why opening one component failed: a link is a refusal, anything else a failure."""
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            with contextlib.suppress(OSError):
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    return self._link_refused(location, path, root)
                if exc.errno == errno.ENOTDIR:
                    return TransferFailed(location, f"{path} is {_kind(mode)}, not a folder")
            if exc.errno in (errno.ELOOP, errno.EMLINK):  # gone again, but it was a link
                return self._link_refused(location, path, root)
        return _os_failure(location, path, exc)

    def _open_anywhere(self, location: str, path: Path) -> tuple[int, os.stat_result]:
        """Open ``path`` with links followed: for callers of fetch() that confine nothing."""
        try:
            before = os.stat(path)
        except OSError as exc:
            raise _os_failure(location, path, exc) from None
        if not stat.S_ISREG(before.st_mode):
            raise TransferFailed(location, f"{path} is {_kind(before.st_mode)}")
        try:
            fd = os.open(path, _FILE_FLAGS)
        except OSError as exc:
            raise _os_failure(location, path, exc) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise TransferFailed(location, f"{path} is {_kind(st.st_mode)}")
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    @contextlib.contextmanager
    def open(self, location: str, ctx: SourceContext) -> Iterator[Opened]:
        path = self.path_of(location, ctx)
        if ctx.local_roots is None:
            fd, st = self._open_anywhere(location, path)
        else:
            fd, st = self._open_confined(location, path, ctx)
        try:
            os.set_blocking(fd, True)
            f = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        with f:
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            yield Opened(
                reader=_FileReader(f, location, st.st_size),
                length=st.st_size,
                content_type=None,
                resolved=_where(fd, path),
            )


def _where(fd: int, path: Path) -> str:
    """The absolute path of what ``fd`` has open (Linux says it exactly), else ``path``."""
    with contextlib.suppress(OSError):
        real = os.readlink(f"/proc/self/fd/{fd}")
        if real.startswith("/") and not real.endswith(" (deleted)"):
            return real
    return str(path)


register("file", LocalSource)
