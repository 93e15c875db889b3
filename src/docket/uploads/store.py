"""Uploads on disk: one folder per upload under ``inbox/uploads/``, and their move into a request.

An upload is ``inbox/uploads/<id>/`` holding the file itself (under its cleaned name) and
``.upload.json`` (declared length, owner digest, and once complete its md5 and sha256). The
offset a client resumes from is the file's size on disk: what was written is kept, whatever
broke the connection. Hashes are computed as the bytes are written; the running hash objects
live in memory per upload (:class:`Hashes`), and when they are missing or behind (the server
restarted, a write failed) they are rebuilt by reading the partial file once, 1 MiB at a time.

When the page stores the request, :class:`Placement` moves each finished upload a file entry
names (``location = "uploads/<id>/<name>"``) to ``inbox/<request-id>/<name>`` and rewrites the
entry (location, size, md5, sha256), so the record holds the uploaded copies and their checksums.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docket.errors import BadInput, Problem

#: The staging folder for uploads, below the instance's ``inbox/``.
UPLOADS = "uploads"
#: Each upload's state file, beside the uploaded file.
STATE = ".upload.json"
#: An upload id: 32 URL-safe characters from :func:`secrets.token_urlsafe` (192 random bits).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
#: ``uploads/<id>/<name>``: the location a file entry carries while its upload is staged.
STAGED = re.compile(r"uploads/(?P<id>[A-Za-z0-9_-]{32})/(?P<name>[^/\\\x00]+)")
#: The page kernel's environment variable holding :func:`owner_digest` of its page cookie.
OWNER_VARIABLE = "DOCKET_PAGE_UPLOADS"
#: Longest file name, in UTF-8 bytes (what most file systems allow).
MAX_NAME_BYTES = 255
#: Unfinished uploads one page may hold at once: each can reserve up to ``max_upload_bytes``.
MAX_OPEN_PER_OWNER = 32
#: Days an upload waits in ``inbox/uploads/`` for a request to claim it before the server removes it.
STALE_DAYS = 7
#: Bytes read at a time when a partial file is hashed again (memory stays bounded).
READ_CHUNK = 1 << 20
_STATE_MAX = 64 << 10
#: The hash threads of every upload: md5 and sha256 of two uploads at once.
HASHERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="docket-upload-hash")


def clean_filename(raw: Any) -> str:
    """``raw`` as a safe file name, or :class:`BadInput` saying what is wrong with it.

    A name from a browser is hostile: it may try to climb (``..``), name a folder (``a/b``,
    ``a\\b``), hide (``.htaccess``), smuggle a NUL or a control character, or be long enough to
    break a file system. Nothing is silently rewritten except Unicode normalisation (NFC), so
    the provider sees in the record the name they chose.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise BadInput("the file name is empty", [Problem("filename", "is empty")])
    name = unicodedata.normalize("NFC", raw)
    shown = name[:60]
    why = None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        why = "contains a NUL or control character"
    elif "/" in name or "\\" in name:
        why = "contains a path separator ('/' or '\\')"
    elif name.startswith("."):
        why = "starts with a dot ('.', '..' and hidden files are refused)"
    elif name != name.strip():
        why = "begins or ends with a space"
    elif len(name.encode("utf-8")) > MAX_NAME_BYTES:
        why = f"is longer than {MAX_NAME_BYTES} bytes"
    elif re.fullmatch(r"[A-Za-z]:.*", name):
        why = "starts with a drive letter"
    if why:
        raise BadInput(f"file name {shown!r} {why}", [Problem("filename", why)])
    return name


def owner_digest(owner: str) -> str:
    """What the state file keeps of the page cookie: its sha256, never the cookie itself."""
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


class Hashes:
    """md5 and sha256 of the first :attr:`offset` bytes of an upload, fed as they are written.

    Batches go to two threads (:meth:`feed`; hashlib releases the GIL on buffers over 2 KiB, so
    md5 and sha256 really run in parallel, beside the event loop that receives and writes the
    next batch). md5 is the slowest step of an upload (one core: ~0.9 GiB/s), so it must never
    wait: a PATCH is answered once its bytes are on disk, and its last batch is hashed while the
    client sends the next PATCH. :attr:`offset` counts the bytes handed over; :meth:`settle`
    waits until they are all hashed (before the digests are read, and before more memory is
    taken for the next batch: at most one batch per upload is being hashed at a time).
    """

    def __init__(self) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.offset = 0
        self.pending: tuple[Future[None], Future[None]] | None = None

    def update(self, data: bytes | memoryview) -> None:
        """Hash ``data`` here and now (rebuilding from a file; nothing may be pending)."""
        self.md5.update(data)
        self.sha256.update(data)
        self.offset += len(data)

    def feed(self, chunks: list[bytes], size: int) -> None:
        """Hand ``chunks`` (``size`` bytes in all) to the hash threads and return at once. Each
        thread first waits for its part of the previous batch, so bytes are hashed in order even
        when the caller did not :meth:`settle` (a connection that closed mid-batch)."""
        if not chunks:
            return
        previous = self.pending or (None, None)
        self.pending = (HASHERS.submit(_hash_after, previous[0], self.md5, chunks),
                        HASHERS.submit(_hash_after, previous[1], self.sha256, chunks))
        self.offset += size

    def busy(self) -> bool:
        """Whether a batch is still being hashed."""
        return self.pending is not None and not all(f.done() for f in self.pending)

    async def settle(self) -> None:
        """Wait (without blocking the event loop) until every byte handed over is hashed."""
        # A batch may be fed while this waits (the connection closed meanwhile): wait for it too.
        while (pending := self.pending) is not None:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending))
            if self.pending is pending:
                self.pending = None

    def wait(self) -> None:
        """:meth:`settle`, blocking (outside the event loop)."""
        while (pending := self.pending) is not None:
            for future in pending:
                future.result()
            if self.pending is pending:
                self.pending = None

    @classmethod
    def of_file(cls, path: Path) -> Hashes:
        """Hash what is on disk again (after a restart), reading at most :data:`READ_CHUNK` at once."""
        hashes = cls()
        with open(path, "rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                hashes.update(chunk)
        return hashes


def _hash_after(previous: Future[None] | None, digest: Any, chunks: list[bytes]) -> None:
    """One hash thread's share of a batch: after the previous batch, each chunk in turn (no
    joined copy of the batch is made)."""
    if previous is not None:
        previous.result()
    for chunk in chunks:
        digest.update(chunk)


@dataclass
class Upload:
    """One upload's state, as its state file holds it."""

    id: str
    name: str
    length: int
    owner: str
    created: str
    folder: Path
    complete: bool = False
    md5: str | None = None
    sha256: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.name

    @property
    def offset(self) -> int:
        """Bytes received so far: the file's size on disk."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def location(self) -> str:
        """The file entry's location while staged, relative to ``inbox/``."""
        return f"{UPLOADS}/{self.id}/{self.name}"

    def state(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "length": self.length, "owner": self.owner,
                "created": self.created, "complete": self.complete, "md5": self.md5, "sha256": self.sha256}


@dataclass
class UploadStore:
    """The uploads of one instance (``<inbox>/uploads``) and the live hash state of each."""

    inbox: Path
    live: dict[str, Hashes] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)

    @classmethod
    def for_instance(cls, root: str | os.PathLike[str]) -> UploadStore:
        return cls(Path(root) / "inbox")

    @property
    def folder(self) -> Path:
        return self.inbox / UPLOADS

    def create(self, name: str, length: int, owner: str) -> Upload:
        """A new, empty upload of ``length`` bytes named ``name`` (already cleaned), for ``owner``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        upload_id = secrets.token_urlsafe(24)
        folder = self.folder / upload_id
        folder.mkdir(mode=0o700)
        upload = Upload(upload_id, name, length, owner_digest(owner),
                        datetime.now(UTC).isoformat(timespec="seconds"), folder)
        upload.path.touch(mode=0o600)
        self.save(upload)
        self.live[upload_id] = Hashes()
        return upload

    def save(self, upload: Upload) -> None:
        """Write the state file (to a temporary name first: a crash never leaves half a state)."""
        tmp = upload.folder / f"{STATE}.tmp"
        tmp.write_text(json.dumps(upload.state()), encoding="utf-8")
        os.replace(tmp, upload.folder / STATE)

    def get(self, upload_id: str) -> Upload | None:
        """The upload ``upload_id``, or None (no such upload, or not an id at all)."""
        if not isinstance(upload_id, str) or not ID_PATTERN.fullmatch(upload_id):
            return None
        folder = self.folder / upload_id
        try:
            with open(folder / STATE, "rb") as handle:
                state = json.loads(handle.read(_STATE_MAX))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("id") != upload_id:
            return None
        return Upload(upload_id, state["name"], int(state["length"]), state["owner"], state["created"], folder,
                      bool(state.get("complete")), state.get("md5"), state.get("sha256"))

    def owned(self, upload_id: str, owner: str | None) -> Upload | None:
        """The upload if ``owner`` (the page cookie) created it; None otherwise, as if missing."""
        upload = self.get(upload_id)
        if upload is None or not owner or not secrets.compare_digest(upload.owner, owner_digest(owner)):
            return None
        return upload

    def open_count(self, owner: str) -> int:
        """How many unfinished uploads ``owner`` holds."""
        digest = owner_digest(owner)
        count = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.folder):
                upload = self.get(entry.name)
                if upload is not None and not upload.complete and secrets.compare_digest(upload.owner, digest):
                    count += 1
        return count

    def hashes(self, upload: Upload) -> Hashes:
        """The running hashes of ``upload``, rebuilt from the file when memory does not match it."""
        hashes = self.live.get(upload.id)
        if hashes is None or hashes.offset != upload.offset:
            hashes = Hashes.of_file(upload.path)
            self.live[upload.id] = hashes
        return hashes

    def finish(self, upload: Upload, hashes: Hashes) -> Upload:
        """Mark ``upload`` complete with its checksums; the live hash state is no longer needed.
        Call after :meth:`Hashes.settle` from the event loop (this waits for the hash threads)."""
        hashes.wait()
        upload.complete = True
        upload.md5 = hashes.md5.hexdigest()
        upload.sha256 = hashes.sha256.hexdigest()
        self.save(upload)
        self.live.pop(upload.id, None)
        return upload

    def sweep(self, days: float = STALE_DAYS) -> list[str]:
        """Remove uploads created more than ``days`` ago that no request claimed (a claimed one has
        moved to ``inbox/<request-id>/``); returns their ids. Run when the server starts."""
        cutoff = datetime.now(UTC).timestamp() - days * 86400
        gone = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.folder):
                upload = self.get(entry.name)
                try:
                    created = datetime.fromisoformat(upload.created).timestamp() if upload else 0.0
                except ValueError:
                    created = 0.0
                if upload is not None and created < cutoff:
                    self.delete(upload.id)
                    gone.append(upload.id)
        return gone

    def delete(self, upload_id: str) -> None:
        """Remove an upload and everything it wrote."""
        self.live.pop(upload_id, None)
        if ID_PATTERN.fullmatch(upload_id):
            shutil.rmtree(self.folder / upload_id, ignore_errors=True)


class Placement:
    """Moves the uploads a request names into ``inbox/<request-id>/`` while it is stored.

    Use as a context manager around the store call: :meth:`into` (the ``place`` hook of
    :meth:`docket.api.Docket.submit`, or called before ``revise``) moves the files and rewrites
    the entries; if storing then fails, the files go back to their staging folders; if it
    succeeds, the emptied staging folders are removed.
    """

    def __init__(self, instance_root: str | os.PathLike[str]) -> None:
        self.store = UploadStore.for_instance(instance_root)
        self.moved: list[tuple[Path, Path]] = []
        #: The rewritten file entries, by their index in ``files`` (for the page to show).
        self.placed: dict[int, dict[str, Any]] = {}

    def into(self, document: dict[str, Any], request_id: str) -> dict[str, Any]:
        """``document`` with each staged upload moved to ``inbox/<request_id>/`` and its entry
        rewritten (location, size, md5, sha256 as measured). BadInput naming the entry when an
        upload is missing or unfinished, or two entries would land on the same name."""
        files = document.get("files")
        if not isinstance(files, list):
            return document
        staged = [(i, e, STAGED.fullmatch(e.get("location", ""))) for i, e in enumerate(files) if isinstance(e, dict)]
        staged = [(i, e, m) for i, e, m in staged if m]
        if not staged:
            return document
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", request_id):
            raise BadInput(f"request id {request_id!r} cannot name an inbox folder")
        problems: list[Problem] = []
        plan: list[tuple[int, Upload]] = []
        names: set[str] = set()
        already: dict[int, str] = {}
        for index, _entry, match in staged:
            upload = self.store.get(match["id"])
            where = f"$.files[{index}].location"
            if upload is None and (self.store.inbox / request_id / match["name"]).is_file():
                already[index] = f"{request_id}/{match['name']}"  # placed by an earlier save of this page
            elif upload is None or upload.name != match["name"]:
                problems.append(Problem(where, "names an upload this server does not have (upload the file again)"))
            elif not upload.complete:
                problems.append(Problem(where, f"the upload of {upload.name} is not finished "
                                               f"({upload.offset} of {upload.length} bytes)"))
            elif upload.name in names:
                problems.append(Problem(where, f"a second uploaded file is named {upload.name}"))
            else:
                names.add(upload.name)
                plan.append((index, upload))
        if problems:
            raise BadInput("some uploaded files cannot be attached", problems)
        target = self.store.inbox / request_id
        target.mkdir(parents=True, exist_ok=True)
        out = {**document, "files": [dict(e) if isinstance(e, dict) else e for e in files]}
        for index, location in already.items():
            out["files"][index]["location"] = location
            self.placed[index] = out["files"][index]
        for index, upload in plan:
            final = target / upload.name
            os.replace(upload.path, final)
            self.moved.append((final, upload.path))
            entry = out["files"][index]
            entry.update(location=f"{request_id}/{upload.name}", size=upload.length,
                         md5=upload.md5, sha256=upload.sha256)
            self.placed[index] = entry
        return out

    def undo(self) -> None:
        """Put every moved file back where it was staged (storing the request failed)."""
        for final, staged in reversed(self.moved):
            with contextlib.suppress(OSError):
                os.replace(final, staged)
        self.moved.clear()

    def commit(self) -> None:
        """Storing succeeded: the staging folders of the moved uploads go."""
        for _final, staged in self.moved:
            self.store.delete(staged.parent.name)
        self.moved.clear()

    def __enter__(self) -> Placement:
        return self

    def __exit__(self, kind: Any, *_rest: Any) -> None:
        if kind is None:
            self.commit()
        else:
            self.undo()


def staged_uploads(inbox: Path) -> Iterator[Upload]:
    """Every upload staged in ``inbox`` (for a sweep or a report)."""
    store = UploadStore(inbox)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(store.folder):
            upload = store.get(entry.name)
            if upload is not None:
                yield upload
