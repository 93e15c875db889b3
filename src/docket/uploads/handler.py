"""tus 1.0 over HTTP in ``docket serve``: ``/docket/uploads/`` (core, creation, termination).

* ``OPTIONS`` says what the server speaks (version, extensions, the largest upload).
* ``POST /docket/uploads/`` with ``Upload-Length`` and ``Upload-Metadata: filename <base64>``
  creates an upload (201, ``Location``). The length is checked against ``[limits]
  max_upload_bytes`` (413) and the free disk space (507); the name is cleaned or refused (400).
* ``HEAD .../<id>`` answers ``Upload-Offset``: where a client resumes after a broken connection.
* ``PATCH .../<id>`` with ``Upload-Offset`` and ``Content-Type: application/offset+octet-stream``
  appends its body. The body streams to disk (``@stream_request_body``, read in 1 MiB pieces),
  hashed (md5, sha256) as it is written, so the server holds at most two 4 MiB batches per upload
  whatever the file's size; a body that would pass the declared length is refused (413) and the
  upload removed. The PATCH is answered once its bytes are on disk; the last one (offset = length)
  also waits for the hashes and one fsync, then records the upload complete.
* ``DELETE .../<id>`` removes the upload and its bytes.

Each upload belongs to the page cookie that created it (:data:`~docket.forms.server_guard.OWNER_COOKIE`,
signed): a request without that cookie is answered 404 as if the upload did not exist. Ids are
192 random bits. Errors are one plain-text line saying what to do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import os
import shutil
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.utils import url_path_join
from tornado import web

from docket.errors import BadInput
from docket.forms.server_guard import _PlainErrors, page_owner
from docket.uploads.store import MAX_OPEN_PER_OWNER, Hashes, Upload, UploadStore, clean_filename

TUS_VERSION = "1.0.0"
OCTETS = "application/offset+octet-stream"
#: The longest ``Upload-Metadata`` header read (a file name and a few keys).
MAX_METADATA = 4096
ID_ROUTE = r"(?P<upload_id>[A-Za-z0-9_-]{32})"
#: Bytes gathered before they are hashed: md5 and sha256 then run on two threads (hashlib
#: releases the GIL) while the event loop receives and writes the next batch. At most two
#: batches per upload are in memory: the next waits for the previous one's hashes.
BATCH = 4 << 20
#: The most a PATCH body hands to :meth:`UploadHandler.data_received` at once (tornado's
#: ``chunk_size``, 64 KiB by default: 16 384 calls per GiB, each a few Python frames).
BODY_PIECE = 1 << 20
#: Bytes read from the socket per ``recv`` while a PATCH body streams (tornado's 64 KiB default
#: is restored after the body: the buffer is allocated for every read on the connection).
SOCKET_READ = 1 << 20


class Answer(web.HTTPError):
    """An HTTP error whose body is ``message`` (a sentence for the person at the browser)."""

    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(status, message.replace("%", "%%"))
        self.message = message
        self.headers = headers


@web.stream_request_body
class UploadHandler(_PlainErrors, web.RequestHandler):
    """One tus resource (``/docket/uploads/<id>``) or the creation endpoint (``/docket/uploads/``)."""

    SUPPORTED_METHODS = ("OPTIONS", "POST", "HEAD", "PATCH", "DELETE")  # type: ignore[assignment]

    def initialize(self, store: UploadStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.upload: Upload | None = None
        self.hashes: Hashes | None = None
        self.sink: int | None = None
        self.overflow = False
        self.locked = False
        self.batch: list[bytes] = []
        self.batched = 0
        self.socket_read: int | None = None

    # -- every request ----------------------------------------------------------------------

    def set_default_headers(self) -> None:
        self.set_header("Tus-Resumable", TUS_VERSION)
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if isinstance(error, Answer):
            for name, value in error.headers.items():
                self.set_header(name.replace("_", "-"), value)
            self.finish(f"{error.message}\n")
        else:
            self.finish(f"{status_code}: {self._reason}\n")

    async def prepare(self) -> None:  # type: ignore[override]
        if self.request.method == "OPTIONS":
            return
        self.check_origin()
        if self.request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise Answer(412, f"this server speaks tus {TUS_VERSION} only (send Tus-Resumable: {TUS_VERSION})",
                         Tus_Version=TUS_VERSION)
        owner = page_owner(self)
        upload_id = self.path_kwargs.get("upload_id")
        if self.request.method == "POST":
            if upload_id is not None:
                raise Answer(405, "uploads are created at /docket/uploads/")
            if owner is None:
                raise Answer(403, "open the form page first: uploads belong to the page that makes them")
            return
        if upload_id is None:
            raise Answer(405, "name an upload: /docket/uploads/<id>")
        upload = self.store.owned(upload_id, owner)
        if upload is None:
            raise Answer(404, "no such upload (it may have been removed); upload the file again")
        self.upload = upload
        if self.request.method == "PATCH":
            await self.start_patch(upload)

    def check_origin(self) -> None:
        """A browser's cross-site request never reaches an upload (SameSite keeps the cookie
        away too; this says so plainly)."""
        origin = self.request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != self.request.host:
            raise Answer(403, "uploads are accepted from this server's own page only")

    def on_finish(self) -> None:
        self.release()

    def on_connection_close(self) -> None:
        # The client went away mid-body: what was written stays, and HEAD will say how much.
        # Its last bytes are hashed too, so a resume goes on without reading the file again.
        self.hand_over()
        self.release()

    def release(self) -> None:
        if self.sink is not None:
            os.close(self.sink)
            self.sink = None
        if self.socket_read is not None:
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.read_chunk_size = self.socket_read
            self.socket_read = None
        if self.locked and self.upload is not None:
            self.store.busy.discard(self.upload.id)
            self.locked = False

    # -- tus ----------------------------------------------------------------------------------

    def options(self, upload_id: str | None = None) -> None:
        self.set_header("Tus-Version", TUS_VERSION)
        self.set_header("Tus-Extension", "creation,termination")
        self.set_header("Tus-Max-Size", str(self.max_bytes))
        self.set_status(204)
        self.finish()

    def post(self, upload_id: str | None = None) -> None:
        owner = page_owner(self)
        assert owner is not None  # prepare() answered 403
        if "Upload-Defer-Length" in self.request.headers:
            raise Answer(400, "give the file's size in Upload-Length (deferred lengths are not supported)")
        raw = self.request.headers.get("Upload-Length", "")
        if not raw.isdigit() or len(raw) > 19:
            raise Answer(400, "Upload-Length must be the file's size in bytes (a whole number)")
        length = int(raw)
        if length > self.max_bytes:
            raise Answer(413, f"the file is {length} bytes; this server accepts files of at most "
                              f"{self.max_bytes} bytes ([limits] max_upload_bytes)")
        name = self.filename()
        if self.store.open_count(owner) >= MAX_OPEN_PER_OWNER:
            raise Answer(429, f"this page has {MAX_OPEN_PER_OWNER} unfinished uploads; finish or remove some first")
        self.store.inbox.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(self.store.inbox).free < length:
            raise Answer(507, "the server does not have room for this file; tell the data centre")
        upload = self.store.create(name, length, owner)
        if length == 0:
            self.store.finish(upload, self.store.live[upload.id])
        self.set_status(201)
        self.set_header("Location", url_path_join(self.settings.get("base_url", "/"), "docket/uploads", upload.id))
        self.set_header("Upload-Offset", "0")
        self.finish()

    def filename(self) -> str:
        """The ``filename`` of ``Upload-Metadata`` (``key base64,key base64``), cleaned; 400 otherwise."""
        raw = self.request.headers.get("Upload-Metadata", "")
        if len(raw) > MAX_METADATA:
            raise Answer(400, f"Upload-Metadata is longer than {MAX_METADATA} characters")
        values: dict[str, str] = {}
        for pair in raw.split(","):
            key, _, value = pair.strip().partition(" ")
            if key:
                values[key] = value.strip()
        if "filename" not in values:
            raise Answer(400, "Upload-Metadata must carry the file's name (filename <base64>)")
        try:
            decoded = base64.b64decode(values["filename"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise Answer(400, "the filename in Upload-Metadata is not base64 of UTF-8 text") from None
        try:
            return clean_filename(decoded)
        except BadInput as exc:
            raise Answer(400, exc.message) from None

    def head(self, upload_id: str) -> None:
        upload = self.upload
        assert upload is not None
        self.set_header("Upload-Offset", str(upload.offset))
        self.set_header("Upload-Length", str(upload.length))
        self.set_status(200)
        self.finish()

    async def start_patch(self, upload: Upload) -> None:
        """Check a PATCH before its body arrives, and open the file at the offset it names."""
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != OCTETS:
            raise Answer(415, f"a PATCH body must be {OCTETS}")
        offset = self.request.headers.get("Upload-Offset", "")
        if not offset.isdigit() or len(offset) > 19:
            raise Answer(400, "Upload-Offset must be a whole number of bytes")
        if upload.id in self.store.busy:
            raise Answer(409, "another request is writing this upload; ask HEAD for the offset and try again")
        if int(offset) != upload.offset:
            raise Answer(409, f"this upload is at byte {upload.offset}, not {offset}; resume from there",
                         Upload_Offset=str(upload.offset))
        declared = self.request.headers.get("Content-Length")
        remaining = upload.length - upload.offset
        if declared is not None and declared.isdigit() and int(declared) > remaining:
            self.store.delete(upload.id)
            raise Answer(413, f"the body passes the declared file size ({upload.length} bytes); the upload is removed")
        self.store.busy.add(upload.id)
        self.locked = True
        # Tornado's own bound on a body (the server's max_body_size): the rest of this upload,
        # plus one network read, so the check in data_received answers first.
        self.request.connection.set_max_body_size(remaining + (1 << 20))
        self.widen_reads()
        loop = asyncio.get_running_loop()
        self.hashes = await loop.run_in_executor(None, self.store.hashes, upload)
        self.sink = os.open(upload.path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        os.lseek(self.sink, upload.offset, os.SEEK_SET)

    def widen_reads(self) -> None:
        """Read this body in large pieces: tornado's defaults (64 KiB per ``recv`` and per
        :meth:`data_received`) cost more in Python calls than the hashing of the bytes. The
        connection's parameters are copied first: the server shares one object among all its
        connections. Without tornado's HTTP/1 connection (another server) nothing changes."""
        connection = self.request.connection
        params = getattr(connection, "params", None)
        stream = getattr(connection, "stream", None)
        if params is None or stream is None or not hasattr(params, "chunk_size"):
            return
        params = copy.copy(params)
        params.chunk_size = max(params.chunk_size, BODY_PIECE)
        connection.params = params  # type: ignore[attr-defined]
        self.socket_read = stream.read_chunk_size
        stream.read_chunk_size = max(stream.read_chunk_size, min(SOCKET_READ, stream.max_buffer_size // 2))

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:  # type: ignore[override]
        """Write ``chunk`` at once and gather it for the hash threads. A plain function (tornado
        awaits only what it returns): only a full batch waits, for the previous batch's hashes."""
        if self.overflow or self.sink is None or self.hashes is None or self.upload is None:
            return None
        if self.hashes.offset + self.batched + len(chunk) > self.upload.length:
            # More than the declared size (which max_upload_bytes bounds): nothing of it is kept.
            self.overflow = True
            self.release()
            self.store.delete(self.upload.id)
            return None
        write_all(self.sink, chunk)
        self.batch.append(chunk)
        self.batched += len(chunk)
        if self.batched >= BATCH:
            return self.hash_batch()
        return None

    async def hash_batch(self) -> None:
        """Hand the gathered bytes to the hash threads, once the previous batch is hashed (so at
        most two batches per upload are in memory)."""
        assert self.hashes is not None
        if self.hashes.busy():
            await self.hashes.settle()
        self.hand_over()

    def hand_over(self) -> None:
        """Give the gathered bytes to the hash threads without waiting (see :meth:`Hashes.feed`)."""
        if self.batch and self.hashes is not None and not self.overflow:
            self.hashes.feed(self.batch, self.batched)
        self.batch, self.batched = [], 0

    async def patch(self, upload_id: str) -> None:
        upload, hashes = self.upload, self.hashes
        assert upload is not None and hashes is not None
        if self.overflow:
            raise Answer(413, f"the body passes the declared file size ({upload.length} bytes); the upload is removed")
        # The bytes are on disk: answer now, while the last batch is hashed (the next PATCH
        # finds the same Hashes in the store and waits for it only if its own batch fills).
        self.hand_over()
        if hashes.offset == upload.length and self.sink is not None:
            # The last PATCH: the file goes to the disk (one fsync per upload, not per PATCH or
            # piece) while the hashes finish, so the checksums recorded as complete describe bytes
            # that survive a power cut. An unfinished upload needs none: after a crash its offset
            # is what the disk holds, and the hashes are rebuilt from that.
            loop = asyncio.get_running_loop()
            await asyncio.gather(hashes.settle(), loop.run_in_executor(None, sync_and_close, os.dup(self.sink)))
            self.store.finish(upload, hashes)
        self.release()
        self.set_header("Upload-Offset", str(hashes.offset))
        self.set_status(204)
        self.finish()

    def delete(self, upload_id: str) -> None:
        if upload_id in self.store.busy:
            raise Answer(409, "this upload is being written; try again when the transfer stops")
        self.store.delete(upload_id)
        self.set_status(204)
        self.finish()


def sync_and_close(fd: int) -> None:
    """fsync ``fd`` and close it (a duplicate: the handler may close its own on a cut meanwhile)."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a regular file may take less at once)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def upload_routes(server: str) -> list[tuple]:
    """The tus routes for the instance ``docket serve`` serves (``$DOCKET_INSTANCE``); none without one."""
    from docket.instance import Instance

    root = os.environ.get("DOCKET_INSTANCE")
    if not root:
        return []
    instance = Instance.find(root)
    store = UploadStore.for_instance(instance.root)
    store.sweep()  # uploads nobody claimed within a week
    options = {"store": store,
               "max_bytes": instance.config.limit("max_upload_bytes")}
    return [(url_path_join(server, "/docket/uploads/?"), UploadHandler, options),
            (url_path_join(server, f"/docket/uploads/{ID_ROUTE}"), UploadHandler, options)]
