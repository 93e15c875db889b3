"""Local files: plain paths and ``file://`` URLs, confined to the instance's allowed folders."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from docket.errors import BadInput, Refused
from docket.transfer.errors import TransferFailed
from docket.transfer.sources import Opened, Source, SourceContext, register


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

    def check_roots(self, location: str, path: Path, ctx: SourceContext) -> None:
        if ctx.local_roots is None:
            return
        real = path.resolve()
        for root in ctx.local_roots:
            if real.is_relative_to(Path(root).resolve()):
                return
        raise Refused(
            f"local file {location!r} resolves to {real}, outside the folders files may be "
            f"taken from ({', '.join(str(r) for r in ctx.local_roots) or 'none configured'})"
        )

    @contextlib.contextmanager
    def open(self, location: str, ctx: SourceContext) -> Iterator[Opened]:
        path = self.path_of(location, ctx)
        self.check_roots(location, path, ctx)
        try:
            # O_NONBLOCK: opening a FIFO must not hang; regular files ignore the flag.
            fd = os.open(
                path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
            )
        except FileNotFoundError:
            raise TransferFailed(location, f"no such file: {path}") from None
        except IsADirectoryError:
            raise TransferFailed(location, f"{path} is a folder, not a file") from None
        except OSError as exc:
            raise TransferFailed(location, f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
                raise TransferFailed(location, f"{path} is {kind}")
            f = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        with f:
            os.set_blocking(fd, True)
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            yield Opened(
                reader=_FileReader(f, location, st.st_size),
                length=st.st_size,
                content_type=None,
                resolved=str(path.resolve()),
            )


register("file", LocalSource)
