"""Size, md5 and sha256 of a stream in one read, with the hashes (and the writer) on threads.

Why threads: hashlib releases the GIL while it digests a buffer larger than a couple of KiB, and
so does a file write, so with one thread per consumer fed the same large buffers the slowest
consumer (md5) sets the pace instead of the sum of all of them. The reading thread fills buffers
from a small pool; each buffer goes back to the pool once every consumer has seen it, which bounds
memory to ``depth * chunk_size`` whatever the size of the file.

Consumers receive a read-only ``memoryview`` that is only valid during the call; they must not
keep it.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: 4 MiB: large enough that the per-chunk overhead (queue hops, GIL hand-offs) vanishes, small
#: enough that the pool stays a few tens of MiB (1, 2, 4 and 8 MiB measured within noise of each
#: other on a 2-core machine; benchmarks/hashing.py times the default).
DEFAULT_CHUNK = 4 * 1024 * 1024
#: Buffers in flight; two per consumer keeps every thread busy while the reader refills.
DEFAULT_DEPTH = 6
#: Below this size the threads cost more than they save.
THREAD_THRESHOLD = 8 * 1024 * 1024

ALGORITHMS = ("md5", "sha256")

Consumer = Callable[[memoryview], object]


class Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview | mmap.mmap, /) -> int | None: ...


@dataclass(frozen=True)
class Digests:
    """What one pass over the bytes measured."""

    size: int
    md5: str
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {"size": self.size, "md5": self.md5, "sha256": self.sha256}


class LimitExceeded(Exception):
    """Raised by :func:`digest_stream` as soon as more than ``max_bytes`` were read."""

    def __init__(self, limit: int, seen: int) -> None:
        super().__init__(f"more than {limit} bytes (read {seen})")
        self.limit = limit
        self.seen = seen


class _Stage(threading.Thread):
    """One consumer on its own thread, taking buffer indices from its queue."""

    def __init__(self, pipeline: ChunkPipeline, consumer: Consumer) -> None:
        super().__init__(name=f"docket-chunk-{getattr(consumer, '__qualname__', 'consumer')}")
        self.daemon = True  # never keep the interpreter alive if a caller forgets close()
        self.pipeline = pipeline
        self.consumer = consumer
        self.inbox: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()

    def run(self) -> None:
        pipeline = self.pipeline
        while True:
            item = self.inbox.get()
            if item is None:
                return
            index, length = item
            try:
                if pipeline.error is None:
                    with memoryview(pipeline.buffers[index]) as view, view[:length] as part:
                        self.consumer(part.toreadonly())
            except BaseException as exc:  # handed to the producer, which re-raises it
                pipeline.fail(exc)
            finally:
                pipeline.release(index)


class ChunkPipeline:
    """Feed the same buffers to several consumers, each on its own thread (or inline).

    Use: ``buf = p.acquire()``; fill ``buf``; ``p.submit(buf, n)``; at the end ``p.close()``,
    which waits for every consumer and re-raises the first error one of them raised. A consumer
    error also surfaces at the next ``acquire``/``submit``, so a failing writer stops the reader.
    """

    def __init__(
        self,
        consumers: Sequence[Consumer],
        *,
        threaded: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        if chunk_size <= 0 or depth <= 0:
            raise ValueError("chunk_size and depth must be positive")
        self.consumers = list(consumers)
        self.threaded = threaded and len(self.consumers) > 0
        self.chunk_size = chunk_size
        self.error: BaseException | None = None
        self._closed = False
        count = depth if self.threaded else 1
        # Anonymous maps rather than bytearrays: they start on a page boundary, which a writer
        # using O_DIRECT needs of the memory it writes from (docket.transfer.fetch does).
        self.buffers: list[mmap.mmap] = [mmap.mmap(-1, chunk_size) for _ in range(count)]
        self._index = {id(b): i for i, b in enumerate(self.buffers)}
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(count):
            self._free.put(i)
        self._pending = [0] * count
        self._lock = threading.Lock()
        self._stages = [_Stage(self, c) for c in self.consumers] if self.threaded else []
        for stage in self._stages:
            stage.start()

    # called by the stages
    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc

    def release(self, index: int) -> None:
        with self._lock:
            self._pending[index] -= 1
            done = self._pending[index] == 0
        if done:
            self._free.put(index)

    # called by the producer
    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def acquire(self) -> mmap.mmap:
        """A free buffer of ``chunk_size`` bytes (waits while every buffer is in flight)."""
        self._raise_error()
        index = self._free.get()
        if self.error is not None:
            self._free.put(index)
            raise self.error
        return self.buffers[index]

    def submit(self, buffer: mmap.mmap, length: int) -> None:
        """Hand the first ``length`` bytes of ``buffer`` (from :meth:`acquire`) to every consumer."""
        index = self._index[id(buffer)]
        if length <= 0:
            self._free.put(index)
            return
        if not self.threaded:
            try:
                with memoryview(buffer) as view, view[:length] as part:
                    ro = part.toreadonly()
                    for consumer in self.consumers:
                        consumer(ro)
            finally:
                self._free.put(index)
            return
        with self._lock:
            self._pending[index] = len(self._stages)
        for stage in self._stages:
            stage.inbox.put((index, length))
        self._raise_error()

    def close(self) -> None:
        """Wait for every consumer to finish; re-raise the first error one of them raised."""
        if not self._closed:
            self._closed = True
            for stage in self._stages:
                stage.inbox.put(None)
            for stage in self._stages:
                stage.join()
        self._raise_error()

    def abort(self) -> None:
        """Stop the consumers without reporting their errors (the caller is already failing)."""
        if self.error is None:
            self.fail(_Aborted())
        with contextlib.suppress(BaseException):
            self.close()

    def __enter__(self) -> ChunkPipeline:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Aborted(Exception):
    """Marks a pipeline stopped by its producer; consumers skip the remaining buffers."""


def digest_stream(
    reader: Readable,
    *,
    sink: Consumer | None = None,
    max_bytes: int | None = None,
    threaded: bool | None = None,
    size_hint: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    depth: int = DEFAULT_DEPTH,
    algorithms: Iterable[str] = ALGORITHMS,
) -> Digests:
    """Read ``reader`` to its end once, returning size, md5 and sha256; ``sink`` gets every chunk.

    ``max_bytes``: raise :class:`LimitExceeded` as soon as one byte more than the limit was read
    (reads are clipped so no more than ``max_bytes + 1`` bytes are ever taken from the reader).
    ``threaded``: None decides from ``size_hint`` (threads for large or unknown sizes).
    """
    names = tuple(algorithms)
    if set(names) != set(ALGORITHMS):
        raise ValueError(f"digest_stream computes {ALGORITHMS}, not {names}")
    hashes = {name: hashlib.new(name) for name in names}
    if threaded is None:
        threaded = size_hint is None or size_hint > THREAD_THRESHOLD
    consumers: list[Consumer] = [h.update for h in hashes.values()]
    if sink is not None:
        consumers.append(sink)
    size = 0
    with ChunkPipeline(consumers, threaded=threaded, chunk_size=chunk_size, depth=depth) as pipe:
        while True:
            buffer = pipe.acquire()
            want = chunk_size
            if max_bytes is not None:
                want = min(want, max_bytes + 1 - size)
            if want == chunk_size:
                n = reader.readinto(buffer)
            else:
                with memoryview(buffer) as view, view[:want] as part:
                    n = reader.readinto(part)
            if not n:
                pipe.submit(buffer, 0)
                break
            size += n
            if max_bytes is not None and size > max_bytes:
                pipe.submit(buffer, 0)
                raise LimitExceeded(max_bytes, size)
            pipe.submit(buffer, n)
    return Digests(size=size, md5=hashes["md5"].hexdigest(), sha256=hashes["sha256"].hexdigest())


def digest_file(path: str | Path, *, threaded: bool | None = None, **kwargs) -> Digests:
    """Size, md5 and sha256 of the file at ``path`` in one read (e.g. for fixity checks)."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        return digest_stream(f, threaded=threaded, size_hint=size, **kwargs)
