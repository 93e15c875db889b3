"""A staging folder: where a step writes its files before its transaction commits.

Publication and archiving both write files that a row of the store describes. They are written
into ``<folder>/.docket-staging-<uuid>`` beside their final place (same file system, so the move
is a rename), and moved into place only once the row is committed; a failure before that removes
the folder. After the commit, ``keep`` is set: the staged files are then the only copy of what the
row describes, so a failed rename leaves them for a person (or ``docket doctor``) to move.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

from docket.errors import InstanceError

STAGING_PREFIX = ".docket-staging-"


def fsync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Staging:
    """The staging folder beside ``folder``; removed on exit unless ``keep`` (and not empty)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.keep = False

    def __enter__(self) -> Staging:
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise InstanceError(f"cannot make the folder {self.path}: {exc.strerror or exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.path.exists():  # renamed into place as a whole (a bag)
            return
        if not self.keep or not any(self.path.iterdir()):
            shutil.rmtree(self.path, ignore_errors=True)
