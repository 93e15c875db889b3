"""The transfer step: fetch every file of a request into ``files/<id>/<revision>/``.

Size, md5 and sha256 are measured in the one streaming read (:mod:`docket.transfer`). Declared
and measured values are compared by QA's congruence checks (so the report says what differs);
transfer fails a file when its bytes could not be fetched, or when fewer arrived than the
provider declared (a body cut short).

An attempt leaves nothing behind, and nothing half-done is visible:

1. It makes a staging folder ``files/<id>/<rev>/.docket-staging-<attempt>/`` and holds an
   exclusive ``flock`` on it for as long as it lives, so any other process can tell a running
   attempt from a dead one (the kernel drops the lock of a killed process).
2. It sweeps ``files/`` for what dead attempts left (:func:`sweep_leftovers`).
3. It records the step ``in-progress`` in a transaction of its own (history and audit, naming
   the attempt). If the step was already ``in-progress`` and no attempt holds a lock, that
   attempt died: it is first recorded ``closed/failed`` as interrupted, with its PROV bundle.
4. Files are fetched into the staging folder; the step's closing transaction (registry, history,
   PROV, and an audit row ``transfer:commit`` naming the attempt) commits; only then are the
   stored files renamed into ``files/<id>/<rev>/``. A crash between commit and rename leaves a
   staging folder whose attempt the audit log shows committed: the next sweep finishes the
   renames instead of removing it.

Contract with ``docket doctor``: every leftover of an unfinished transfer is a file or folder
under ``files/`` whose name starts with :data:`~docket.transfer.fetch.LEFTOVER_PREFIX`
(``.docket-``); :func:`sweep_leftovers` finds them and repairs or removes those no live transfer
holds (``dry_run=True`` only reports).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update
from tqdm import tqdm

from docket.errors import Conflict, DocketError, InstanceError
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id
from docket.provenance.terms import checksum_id, location_iri, media_type_iri, source_iri
from docket.steps.context import StepContext, StepHost, now, parse_ref
from docket.store import tables
from docket.transfer import FetchedFile, SourceContext, TransferFailed, fetch
from docket.transfer.fetch import LEFTOVER_PREFIX, PARTIAL_PREFIX, claim
from docket.uploads.locations import inbox_of
from docket.workflow import StepChange, check_step_change

STAGING_PREFIX = LEFTOVER_PREFIX + "staging-"
#: The audit action written in the transaction that closes an attempt, naming it: how a sweep
#: tells a staging folder whose files are recorded as stored from one that never committed.
COMMIT_ACTION = "transfer:commit"


def request_folder(docket: StepHost, request_id: str, revision: int) -> Path:
    return docket.instance.files_dir / request_id / str(revision)


# --------------------------------------------------------------------------- leftovers


@dataclass(frozen=True)
class Leftover:
    """One thing an unfinished transfer left under ``files/``, and what the sweep did with it."""

    path: Path
    #: ``partial`` (a temporary file), ``staging`` (an attempt's folder) or ``unknown``
    #: (another ``.docket-`` name, which docket does not make today: kept).
    kind: str
    #: ``removed``; ``completed`` (a committed attempt's files renamed into place); ``in-use``
    #: (a live transfer holds it: kept); ``kept``; ``failed`` (``detail`` says why); with
    #: ``dry_run`` ``to-remove`` or ``to-complete``.
    action: str
    request_id: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "action": self.action,
                "request_id": self.request_id, "detail": self.detail}


def find_leftovers(files_dir: Path) -> list[Path]:
    """Every ``.docket-*`` name in ``files/``, ``files/<id>/`` and ``files/<id>/<rev>/``.

    Only real folders are entered (never a link), and not a leftover itself: a staging folder is
    dealt with as a whole.
    """
    found: list[Path] = []

    def scan(folder: Path, depth: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(LEFTOVER_PREFIX):
                found.append(Path(entry.path))
                continue
            with contextlib.suppress(OSError):
                if depth < 2 and entry.is_dir(follow_symlinks=False):
                    scan(Path(entry.path), depth + 1)

    scan(files_dir, 0)
    return found


def _committed(docket: StepHost, staging: Path) -> dict[str, Any] | None:
    """The commit audit row's detail of the attempt behind ``staging``, if it committed."""
    attempt = staging.name[len(STAGING_PREFIX):]
    request_id = staging.parent.parent.name
    a = tables.audit_log
    with docket.store.connect() as conn:
        rows = conn.execute(
            select(a.c.detail).where(a.c.request_id == request_id, a.c.action == COMMIT_ACTION)
        ).all()
    for (detail,) in rows:
        if isinstance(detail, dict) and detail.get("attempt") == attempt \
                and str(detail.get("revision")) == staging.parent.name:
            return detail
    return None


def _remove(path: Path) -> None:
    """Remove a file, a link or a whole folder (``rmtree`` does not follow links in it)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=False)
    else:
        path.unlink(missing_ok=True)


def _install(staging: Path, names: list[str]) -> None:
    """Rename the stored ``names`` from ``staging`` into its parent; then drop ``staging``."""
    folder = staging.parent
    for name in names:
        try:
            os.replace(staging / name, folder / name)
        except FileNotFoundError:
            if not (folder / name).exists():  # moved already by an earlier, interrupted repair
                raise
    _fsync_dir(folder)
    _remove(staging)


def sweep_leftovers(docket: StepHost, *, dry_run: bool = False) -> list[Leftover]:
    """Repair or remove what dead transfers left under ``files/``; return what was found.

    A leftover a live transfer holds (its lock) is left alone. A staging folder whose attempt
    committed has its stored files renamed into place (the registry already says they are
    there); any other leftover is removed. ``dry_run`` changes nothing and says what it would do.
    A leftover that cannot be cleared is reported ``failed`` and the sweep goes on.
    """
    out: list[Leftover] = []
    files_dir = docket.instance.files_dir
    for path in find_leftovers(files_dir):
        depth = len(path.relative_to(files_dir).parts)
        request_id = path.parent.parent.name if depth == 3 else None
        if path.name.startswith(STAGING_PREFIX):
            kind = "staging"
        elif path.name.startswith(PARTIAL_PREFIX):
            kind = "partial"
        else:
            out.append(Leftover(path, "unknown", "kept", request_id))
            continue
        with claim(path) as ours:
            if not ours:
                if path.exists() or path.is_symlink():
                    out.append(Leftover(path, kind, "in-use", request_id))
                continue
            detail = None
            real_dir = path.is_dir() and not path.is_symlink()
            if kind == "staging" and real_dir and request_id is not None:
                detail = _committed(docket, path)
            if dry_run:
                out.append(Leftover(path, kind, "to-complete" if detail else "to-remove", request_id))
                continue
            try:
                if detail is not None:
                    _install(path, [str(n) for n in detail.get("files", [])])
                    out.append(Leftover(path, kind, "completed", request_id))
                else:
                    _remove(path)
                    out.append(Leftover(path, kind, "removed", request_id))
            except OSError as exc:  # one stuck leftover must not stop every transfer
                out.append(Leftover(path, kind, "failed", request_id, exc.strerror or str(exc)))
    return out


def _live_attempt(docket: StepHost, request_id: str, own: Path) -> Path | None:
    """A staging folder of ``request_id`` (any revision) that a live transfer other than ours holds."""
    for path in sorted((docket.instance.files_dir / request_id).glob(f"*/{STAGING_PREFIX}*")):
        if path == own:
            continue
        with claim(path) as ours:
            if not ours and path.exists():
                return path
    return None


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Staging:
    """An attempt's staging folder, created and locked; removed on exit unless it committed.

    Once :meth:`committed` was called the folder holds files the registry says are stored, so a
    failure to rename them must leave it for the next sweep to finish, never delete it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.attempt = ""
        self.path = folder
        self.fd = -1
        self.names: list[str] | None = None

    def __enter__(self) -> Staging:
        # Between mkdir and flock a sweep may take the new, unlocked folder for a dead one and
        # remove it; then the folder is gone (link count 0) once our lock is granted: retry.
        for _attempt in range(5):
            self.attempt = uuid.uuid4().hex
            self.path = self.folder / f"{STAGING_PREFIX}{self.attempt}"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self.path.mkdir()
                self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise InstanceError(
                    f"cannot make the staging folder {self.path}: {exc.strerror or exc}"
                ) from None
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)  # a sweep holds it only for an instant
                if os.fstat(self.fd).st_nlink > 0:
                    return self
            except OSError as exc:
                self._close()
                raise InstanceError(f"cannot lock the staging folder {self.path}: {exc.strerror}") from None
            self._close()
        raise InstanceError(f"cannot make a staging folder in {self.folder}: it keeps vanishing")

    def committed(self, names: list[str]) -> None:
        self.names = names

    def install(self) -> None:
        assert self.names is not None
        _install(self.path, self.names)

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1

    def __exit__(self, *exc: object) -> None:
        try:
            if self.names is None:
                with contextlib.suppress(OSError):
                    _remove(self.path)
        finally:
            self._close()


# --------------------------------------------------------------------------- the step


def _last_started(docket: StepHost, request_id: str) -> datetime | None:
    """When the transfer step last went in-progress (the start of an interrupted attempt)."""
    started = [h["at"] for h in docket.history(request_id)
               if h["kind"] == "step" and h["step"] == "transfer" and h["to"] == "in-progress"]
    return datetime.fromisoformat(started[-1]) if started else None


def _record_interrupted(ctx: StepContext, request_id: str, reason: str, own: Path | None) -> None:
    """Close an in-progress transfer that no live process runs as ``failed``, in history and PROV.

    The check that nobody runs it is made inside the closing transaction, after the request's
    row was read: a live attempt locks its staging folder before it records ``in-progress``,
    so if the row says ``in-progress`` and no folder is locked, that attempt is dead.
    """
    docket = ctx.host
    started = _last_started(docket, request_id)

    def still_dead(conn: Connection, row: Any) -> None:
        if (row.steps or {}).get("transfer", {}).get("status") != "in-progress":
            raise Conflict(f"{request_id}: the transfer step changed meanwhile; try again")
        live = _live_attempt(docket, request_id, own) if own is not None else None
        if live is not None:
            raise Conflict(f"{request_id} is being transferred by another process ({live.name}); "
                           "wait for it to finish")

    values: dict[str, Any] = {"reason": reason}
    if started is not None:
        values["startTime"] = started
    ctx.set_step(request_id, "transfer", "closed", "failed", comment=reason, prov_values=values, write=still_dead)


def source_context(docket: StepHost) -> SourceContext:
    """The settings of the instance's ``[transfer]`` table, as every source sees them."""
    config = docket.config
    return SourceContext(timeout=config.transfer_timeout, deadline=config.transfer_deadline,
                         local_roots=docket.instance.local_roots, proxies=config.transfer_proxies,
                         allow_hardlinks=config.transfer_allow_hardlinks,
                         # relative locations (uploads: <id>/<name>) are in the inbox, never the cwd
                         base_dir=inbox_of(docket.instance),
                         allow=list(config.transfer_allow), credentials=dict(config.transfer_credentials))


def run_transfer(ctx: StepContext, ref: str, *, progress: bool = False) -> dict[str, Any]:
    """Transfer the files of request ``ref`` as ``ctx.actor``; returns a summary with per-file results.

    The step ends ``closed/done`` when every file arrived, ``closed/failed`` (with the reasons)
    otherwise; both are recorded in history and PROV. An attempt that dies is recorded
    ``closed/failed`` too: at once when Python can still act (Ctrl-C, an unexpected error),
    else by the next transfer of the request. Conflict when another process is transferring it.
    """
    request_id, _ = parse_ref(ref)
    docket = ctx.host
    doc = docket.get(request_id)
    # Refuse early (role, approval) before any byte moves.
    check_step_change(StepChange("transfer", "in-progress"), ctx.actor.role, doc["review_state"], doc["steps"])
    revision = doc["revision"]
    folder = request_folder(docket, request_id, revision)
    with Staging(folder) as staging:
        sweep_leftovers(docket)  # ours is locked, so kept
        if doc["steps"].get("transfer", {}).get("status") == "in-progress":
            _record_interrupted(
                ctx, request_id,
                "interrupted: the attempt that started then ended without recording an outcome "
                "(its process was stopped); noticed when the transfer was run again", staging.path)
        ctx.begin(request_id, revision, "transfer", what="transfer",
                  busy=f"{request_id} is being transferred by another process; wait for it to finish",
                  detail={"attempt": staging.attempt})
        try:
            result = _attempt(ctx, request_id, revision, staging, progress)
        except BaseException as exc:
            detail = None
            with contextlib.suppress(Exception):  # Ctrl-C may come just after the commit
                detail = _committed(docket, staging.path)
            if detail is not None:  # keep the folder: the next sweep renames its files into place
                staging.committed([str(n) for n in detail.get("files", [])])
            else:  # the attempt did not commit: say so now, if we still can
                reason = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else (
                    f"interrupted: {exc.message}" if isinstance(exc, DocketError)
                    else f"interrupted by an internal error ({type(exc).__name__})")
                with contextlib.suppress(Exception):
                    _record_interrupted(ctx, request_id, reason, staging.path)
            raise
        try:
            staging.install()
        except OSError as exc:
            raise TransferFailed(
                request_id,
                f"the transfer was recorded, but its files could not be moved into {folder}: "
                f"{exc.strerror or exc}; the next transfer or 'docket doctor' finishes it",
            ) from None
    return result


def _attempt(ctx: StepContext, request_id: str, revision: int, staging: Staging,
             progress: bool) -> dict[str, Any]:
    """Fetch into the staging folder and record the outcome; the caller renames into place."""
    docket, actor = ctx.host, ctx.actor
    folder = staging.folder
    max_bytes = docket.config.limit("max_transfer_bytes")  # the default too, if docket.toml has none
    sources = source_context(docket)
    started = now()
    fetched: list[FetchedFile] = []
    times: dict[str, tuple[datetime, datetime]] = {}  # name -> (read began, stored): PROV's times
    failures: list[dict[str, str]] = []
    doc = docket.get(request_id, revision)
    bar = tqdm(doc["files"], desc=f"transfer {request_id}", unit="file", disable=not progress)
    for entry in bar:
        final = folder / entry["name"]
        try:
            if final.is_dir() and not final.is_symlink():
                raise Conflict(f"{final} is a folder; a file cannot take its name")
            began = now()
            item = fetch(entry["location"], staging.path, entry["name"],
                         max_bytes=max_bytes, declared_size=entry.get("size"),
                         replace=True, context=sources)
            fetched.append(dataclasses.replace(item, path=final))
            times[item.name] = (began, now())
        except DocketError as exc:
            failures.append({"name": entry["name"], "location": entry["location"], "reason": exc.message})
        except OSError as exc:  # a file system error outside fetch()'s own handling: still a failure
            reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            failures.append({"name": entry["name"], "location": entry["location"], "reason": reason})
    outcome = "failed" if failures else "done"
    reason = "; ".join(f"{f['name']}: {f['reason']}" for f in failures) or None
    names = [item.name for item in fetched]

    def write_registry(conn: Connection, row: Any) -> None:
        if (row.steps or {}).get("transfer", {}).get("status") != "in-progress":
            raise Conflict(f"{request_id}: its transfer step was changed while the files were fetched; "
                           "transfer again")
        f = tables.files
        for item in fetched:
            conn.execute(
                update(f).where(f.c.request_id == request_id, f.c.revision == revision, f.c.name == item.name)
                .values(location=str(item.path), size=item.size, md5=item.md5, sha256=item.sha256,
                        media_type=item.media_type, status="stored", detail=None, updated_date=now())
            )
        for fail in failures:
            conn.execute(
                update(f).where(f.c.request_id == request_id, f.c.revision == revision, f.c.name == fail["name"])
                .values(status="failed", detail=fail["reason"], updated_date=now())
            )
        ctx.audit(conn, COMMIT_ACTION, request_id, {"attempt": staging.attempt, "revision": revision, "files": names})

    def prov_values(n: int) -> dict[str, Any]:
        files = [stored_file_id(request_id, n, i.name) for i in fetched]
        values: dict[str, Any] = {
            "source": [Id(ids.source_file_id(request_id, n, i.name)) for i in fetched],
            # IRIs: the URL as given (password already taken out), a local path as its file: URI
            "sourceLocation": [source_iri(i.source, i.resolved) for i in fetched],
            "readTime": [times[i.name][0] for i in fetched],
            "file": [Id(f) for f in files],
            "storedLocation": [location_iri(i.path) for i in fetched],
            "storedTime": [times[i.name][1] for i in fetched],
            "size": [i.size for i in fetched],
            "mediaType": [media_type_iri(i.media_type) for i in fetched],
            # SPDX checksums: one spdx:Checksum entity per file and algorithm
            "md5Checksum": [checksum_id(f, "md5") for f in files],
            "md5": [i.md5 for i in fetched],
            "sha256Checksum": [checksum_id(f, "sha256") for f in files],
            "sha256": [i.sha256 for i in fetched],
            "checksums": [[checksum_id(f, "md5"), checksum_id(f, "sha256")] for f in files],
            "reason": reason,
            "startTime": started,
        }
        if actor.role != "system":
            values.update(ctx.agent_values("operator"))
        if not fetched:  # nothing arrived: no file statements to expand
            values = {k: v for k, v in values.items() if not isinstance(v, list)}
        return values

    step = ctx.set_step(request_id, "transfer", "closed", outcome, comment=reason,
                        prov_values=prov_values, write=write_registry)
    staging.committed(names)
    return {
        "id": request_id, "revision": revision, "outcome": outcome, "activity": step["activity"],
        "files": [i.as_dict() for i in fetched], "failures": failures,
    }


def transfer_id(request_id: str, n: int) -> str:
    """The activity of transfer ``n`` (see :mod:`docket.provenance.identifiers`)."""
    return ids.step_id(request_id, "transfer", n)


def stored_file_id(request_id: str, n: int, name: str) -> str:
    """The PROV entity of a file as transfer ``n`` stored it (what QA runs check)."""
    return ids.stored_file_id(request_id, n, name)


__all__ = ["COMMIT_ACTION", "STAGING_PREFIX", "Leftover", "find_leftovers", "run_transfer",
           "source_context", "sweep_leftovers"]

