"""Where a file entry's location is, and which locations can never be transferred.

A relative location is relative to the instance's ``inbox/`` (an uploaded file's location is
``<request-id>/<name>``, or ``uploads/<id>/<name>`` while staged): never to the server's current
folder, nor to a mail attachment's. :func:`resolve_location` turns a local location into a
:class:`~pathlib.Path` (anyone reading an uploaded file calls it); :func:`location_problems` lists
the locations of a request that the transfer could never use, so they are refused when the
request is submitted rather than after approval:

* everywhere (:meth:`docket.api.Docket.submit` and ``revise``): Windows paths (``C:\\...``,
  ``\\\\server\\share``), a home folder (``~/``, ``~user/``), a ``file:`` URL naming another host, a
  URL scheme no transfer source serves;
* on the form page too (``confine=True``): a relative path that climbs out of ``inbox/`` (``..``)
  and an absolute path outside the instance's ``[transfer] local_roots``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from docket.errors import BadInput, Problem

INBOX = "inbox"


def _root_of(instance: Any) -> Path:
    return Path(getattr(instance, "root", instance))


def inbox_of(instance: Any) -> Path:
    """The instance's ``inbox/`` folder (``instance`` is an :class:`~docket.instance.Instance` or its root)."""
    return _root_of(instance) / INBOX


def _scheme(location: str) -> str:
    """The URL scheme of ``location``, ``""`` for a plain path (a drive letter is no scheme)."""
    try:
        scheme = urlsplit(location).scheme.lower()
    except ValueError:
        return "?"
    return scheme if len(scheme) > 1 else ""


def resolve_location(instance: Any, location: str) -> Path | None:
    """The file a local location names, as an absolute path; None for a URL (http, s3, ...).

    ``file:///abs`` and ``/abs`` are themselves; a relative path is below ``inbox/`` of
    ``instance``. Nothing on disk is consulted: check the result before reading it
    (:func:`location_problems` with ``confine=True``, or the transfer's own confinement).
    """
    scheme = _scheme(location)
    if scheme == "file":
        parts = urlsplit(location)
        return Path(url2pathname(unquote(parts.path)))
    if scheme:
        return None
    path = Path(location)
    return path if path.is_absolute() else inbox_of(instance) / path


def _within(path: Path, roots: list[Path]) -> bool:
    """Whether ``path`` lies below one of ``roots`` (by name, as the transfer confines it)."""
    from docket.transfer.local import root_forms

    return any(path.is_relative_to(form) and path != form for root in roots for form in root_forms(root))


def why_unusable(location: str, instance: Any, *, confine: bool = False) -> str | None:
    """Why the transfer could never read ``location``, or None when it may."""
    from docket.transfer import sources

    if re.match(r"[A-Za-z]:", location):
        return "is a Windows path (C:\\...): the data centre cannot read your computer's disk; upload the file instead"
    if location.startswith(("\\\\", "//")):
        return "is a network share (\\\\server\\share): the data centre cannot reach it; upload the file instead"
    if location.startswith("~"):
        return "starts with '~' (a home folder): give an http(s) URL, or upload the file instead"
    scheme = _scheme(location)
    if scheme == "file":
        host = urlsplit(location).netloc
        if host not in ("", "localhost"):
            return f"is a file: URL on another computer ({host[:60]}); only this server's files can be read"
    elif scheme:
        if scheme not in sources.schemes():
            known = ", ".join(s for s in sources.schemes() if s != "file")
            return f"uses {scheme[:20]!r}, which docket cannot transfer from (it can: {known}, or a path in the inbox)"
        return None
    if "\\" in location:
        return "contains a backslash: write paths with '/' (or upload the file instead)"
    if not confine:
        return None
    path = resolve_location(instance, location)
    assert path is not None
    if ".." in path.parts:
        return "climbs out of its folder with '..'"
    roots = list(getattr(instance, "local_roots", None) or [inbox_of(instance)])
    if not _within(path, roots):
        where = "the inbox" if not Path(location).is_absolute() else "the folders files may be taken from"
        return f"is outside {where}; upload the file, or give an http(s) URL"
    return None


def location_problems(document: Any, instance: Any, *, confine: bool = False) -> list[Problem]:
    """One problem per unusable ``$.files[i].location`` of ``document`` (see the module docs)."""
    files = document.get("files") if isinstance(document, dict) else None
    problems: list[Problem] = []
    for index, entry in enumerate(files if isinstance(files, list) else []):
        location = entry.get("location") if isinstance(entry, dict) else None
        if not isinstance(location, str) or not location or "\x00" in location:
            continue  # the schema names these
        why = why_unusable(location, instance, confine=confine)
        if why:
            problems.append(Problem(f"$.files[{index}].location", f"{location[:80]!r} {why}"))
    return problems


def check_locations(document: Any, instance: Any, *, confine: bool = False) -> None:
    """:class:`BadInput` listing every unusable location of ``document``; nothing when all may be used."""
    problems = location_problems(document, instance, confine=confine)
    if problems:
        raise BadInput("some file locations cannot be transferred", problems)
