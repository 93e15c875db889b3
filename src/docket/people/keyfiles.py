"""Key files: where a key lives on disk so that a data manager need not type it.

``docket init`` writes the admin's key to ``<instance>/keys/admin.key`` (folder 0700, file 0600):
the creating OS user acts as that admin without ceremony, and nobody else inherits it, because a
key file is used only when the caller's OS user owns it and no one else can read it -- the rule
ssh applies to private keys. ``--key-file`` names another file, held to the same rule.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from docket.errors import BadInput

MAX_KEY_FILE = 4096


def admin_key_path(root: Path) -> Path:
    return root / "keys" / "admin.key"


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` so only this OS user can read it (never briefly readable by others)."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    os.chmod(path, 0o600)


def private_problem(path: Path) -> str | None:
    """Why ``path`` may not be used as this user's key file, or None when it may."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_uid != os.geteuid():
        return "it belongs to another user"
    if info.st_mode & 0o077:
        return f"others can read it (mode {stat.S_IMODE(info.st_mode):o}); run chmod 600 {path}"
    return None


def read_key_file(path: str | os.PathLike[str]) -> str:
    """The key in a file the caller named (``--key-file``): refused unless private to them."""
    path = Path(path)
    problem = private_problem(path)
    if problem:
        raise BadInput(f"--key-file {path}: {problem}")
    with open(path, "rb") as handle:
        data = handle.read(MAX_KEY_FILE + 1)
    if len(data) > MAX_KEY_FILE:
        raise BadInput(f"--key-file {path}: too large to hold a key")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadInput(f"--key-file {path}: not a docket key") from None


def default_key(root: Path) -> str | None:
    """``$DOCKET_API_KEY``, else the instance's admin key file when it is private to this user."""
    key = os.environ.get("DOCKET_API_KEY")
    if key:
        return key.strip()
    path = admin_key_path(root)
    if private_problem(path) is None:
        try:
            return read_key_file(path)
        except BadInput:
            return None
    return None
