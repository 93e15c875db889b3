"""Finding repeated values across a file larger than memory: 64-bit hashes, spilled to disk.

Uniqueness, primary keys and duplicate rows need to remember every value seen so far. Keeping
values would cost as much memory as the file; docket keeps one 64-bit hash and one row number per
value (16 bytes). Past ``spill_rows`` entries the tracker writes them to 64 bucket files chosen by
the top bits of the hash, and at the end reads one bucket at a time, so memory stays at
``spill_rows`` entries plus one bucket whatever the file size. Hashes are computed with numpy on
Arrow's buffers (no pandas, no Python string per value). Two different values share a
64-bit hash with probability about n²/2⁶⁵ (1 in 50,000 for 20 million values), which is the
price of streaming; the report documents it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

_ENTRY = np.dtype([("h", "<u8"), ("r", "<i8")])
_BUCKET_BITS = 6
_SLICE = 16384
_LONG = 256
_MIX = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED = np.uint64(0x27D4EB2F165667C5)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(33))
        h = h * _C1
        h = h ^ (h >> np.uint64(33))
        h = h * _C2
        return h ^ (h >> np.uint64(33))


def hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hash of each string, computed on Arrow's buffers with numpy, 8 bytes at a time.

    The loop runs over 8-byte word positions (a handful for ordinary values), each step
    vectorised over all strings still that long; values longer than :data:`_LONG` bytes (rare)
    are hashed one by one with BLAKE2b. No Python string objects are created for the rest.
    """
    arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    out = np.empty(len(arr), np.uint64)
    for start in range(0, len(arr), _SLICE):
        part = arr.slice(start, _SLICE)
        out[start : start + len(part)] = _hash_slice(part)
    return out


def _hash_slice(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None and bufs[2].size else (
        np.zeros(1, np.uint8))
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    with np.errstate(over="ignore"):
        h = _fmix(lengths.astype(np.uint64) * _C1 + _SEED)
    long = lengths > _LONG
    short_max = int(lengths[~long].max()) if (~long).any() else 0
    lane = np.arange(8, dtype=np.int64)
    last = len(data) - 1
    for k in range(0, short_max, 8):
        active = np.flatnonzero((lengths > k) & ~long)
        pos = starts[active, None] + k + lane
        inside = (k + lane) < lengths[active, None]
        chunk = np.where(inside, data[np.minimum(pos, last)], 0).astype(np.uint8)
        word = np.ascontiguousarray(chunk).view("<u8").ravel()
        with np.errstate(over="ignore"):
            h[active] = _fmix((h[active] ^ word) * _C2 + np.uint64(k + 1))
    for i in np.flatnonzero(long):
        digest = hashlib.blake2b(data[starts[i] : starts[i] + lengths[i]].tobytes(), digest_size=8)
        h[i] = np.frombuffer(digest.digest(), "<u8")[0]
    return h


def hash_values(arr: pa.Array) -> np.ndarray:
    """Hash typed values: numbers and timestamps through their bits, strings by content."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return hash_strings(arr)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        arr = arr.cast(pa.int64()) if not pa.types.is_date32(t) else arr.cast(pa.int32())
    elif pa.types.is_boolean(t):  # fill_null(0) below needs a number type
        arr = arr.cast(pa.int8())
    values = arr.fill_null(0).to_numpy(zero_copy_only=False)
    if values.dtype.kind == "f":
        values = values.astype(np.float64) + 0.0  # -0.0 and 0.0 are the same number
        bits = values.view(np.uint64)
    else:
        bits = values.astype(np.int64).view(np.uint64)
    return _fmix(bits ^ _SEED)


def combine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Hash of a pair of hashes (for composite keys); order matters."""
    with np.errstate(over="ignore"):
        h = (left ^ (right + _MIX + (left << np.uint64(6)) + (left >> np.uint64(2)))) * _MIX
    return h ^ (h >> np.uint64(31))


class DuplicateTracker:
    """Remembers (hash, row) pairs and, at the end, names every row repeating an earlier one."""

    def __init__(self, spill_dir: Path, spill_rows: int, name: str, keep_repeats: bool = False) -> None:
        self.spill_dir = spill_dir
        self.spill_rows = max(1, spill_rows)
        self.name = name
        self.keep_repeats = keep_repeats
        self._kept: list[np.ndarray] | None = None
        self._lock = threading.Lock()
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._files: list[Path] | None = None
        self._handles: list = []
        #: Whether every value added so far was greater than the one before (see :meth:`add`).
        self._rising = True
        self._last: Any = None

    def add(self, hashes: np.ndarray, rows: np.ndarray, values: np.ndarray | None = None) -> None:
        """Remember ``hashes`` of ``rows``; ``values`` are the values hashed, when they are
        numbers, dates or times that can be ordered.

        Keys are often row numbers or times in increasing order. While every value added is
        greater than the one before, no value can repeat, and the sort at the end is skipped.
        """
        if len(hashes) == 0:
            return
        self._note_order(values)
        part = np.empty(len(hashes), _ENTRY)
        part["h"] = hashes
        part["r"] = rows
        self._parts.append(part)
        self._held += len(part)
        if self._held >= self.spill_rows:
            self._spill()

    def _note_order(self, values: np.ndarray | None) -> None:
        if not self._rising:
            return
        # (NaN compares false: not rising)
        after_last = self._last is None or bool(values is not None and values[0] > self._last)
        if values is None or not after_last or not bool(np.all(values[1:] > values[:-1])):
            self._rising = False
        else:
            self._last = values[-1]

    def _spill(self) -> None:
        if not self._parts:
            return
        data = np.concatenate(self._parts)
        self._parts, self._held = [], 0
        if self._files is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            self._files = [
                self.spill_dir / f"{self.name}-{i:02d}.bin" for i in range(1 << _BUCKET_BITS)
            ]
            self._handles = [open(path, "ab") for path in self._files]  # noqa: SIM115
        for fh, part in zip(self._handles, _split(data), strict=True):
            if len(part):
                part.tofile(fh)

    def close(self) -> None:
        """Close the bucket files (the run's temporary folder removes them)."""
        for fh in self._handles:
            fh.close()
        self._handles = []

    def __del__(self) -> None:
        for fh in getattr(self, "_handles", []):
            fh.close()

    def duplicates(self, cap: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(count, first ``cap`` repeating rows in order, the earlier row each one repeats)."""
        total = 0
        rows: list[np.ndarray] = []
        firsts: list[np.ndarray] = []
        for data in self._repeat_entries():
            data = data[np.lexsort((data["r"], data["h"]))]
            same = data["h"][1:] == data["h"][:-1]
            starts = np.concatenate(([True], ~same))
            group_first = data["r"][np.maximum.accumulate(np.where(starts, np.arange(len(data)), 0))]
            dup_rows = data["r"][1:][same]
            dup_first = group_first[1:][same]
            total += len(dup_rows)
            keep = np.argsort(dup_rows, kind="stable")[:cap]
            rows.append(dup_rows[keep])
            firsts.append(dup_first[keep])
        if not rows:
            return 0, np.empty(0, np.int64), np.empty(0, np.int64)
        all_rows, all_firsts = np.concatenate(rows), np.concatenate(firsts)
        order = np.argsort(all_rows, kind="stable")[:cap]
        return total, all_rows[order], all_firsts[order]

    def repeated_rows(self) -> np.ndarray:
        """Every row whose hash occurs more than once (first occurrences too), in order: the
        rows a check must look at again when the hash is of a key (see ``keep_repeats``)."""
        rows = [data["r"] for data in self._repeat_entries()]
        return np.sort(np.concatenate(rows)) if rows else np.empty(0, np.int64)

    def _repeat_entries(self):
        """Bucket by bucket, the entries whose hash occurs more than once.

        With ``keep_repeats`` they are found once and kept (under a lock: two checks sharing the
        tracker of a key may conclude at the same time), so :meth:`duplicates` and
        :meth:`repeated_rows` cost one sort between them; without it, memory holds one bucket
        at a time and the tracker is read once.
        """
        if self._rising:  # every value greater than the one before: none repeats
            return
        if not self.keep_repeats:
            yield from self._find_repeats()
            return
        with self._lock:
            if self._kept is None:
                self._kept = list(self._find_repeats())
        yield from self._kept

    def _find_repeats(self):
        # Most hashes occur once: a plain sort of the hashes finds the few that repeat, and
        # only their entries go on.
        for data in self._buckets():
            if len(data) < 2:
                continue
            repeated = _repeated(data["h"])
            if len(repeated):
                yield data[_members(repeated, data["h"])]

    def _buckets(self):
        if self._files is None:
            yield np.concatenate(self._parts) if self._parts else np.empty(0, _ENTRY)
            return
        self._spill()
        self.close()
        for path in self._files:
            if path.exists():
                data = np.fromfile(path, dtype=_ENTRY)
                os.unlink(path)
                yield data


#: Stands for a missing value inside a composite key, so ``(1, missing)`` is a key of its own.
NONE_HASH = np.uint64(0x6C8E9CF570932BD5)


def hash_canonical(arr: pa.Array) -> np.ndarray:
    """Like :func:`hash_values`, but a whole number stored as a float hashes as that integer.

    Foreign keys compare values across two fields that may be declared ``integer`` on one side and
    ``number`` on the other; as numbers, ``1`` and ``1.0`` are the same value and must match.
    """
    if not pa.types.is_floating(arr.type):
        return hash_values(arr)
    values = arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64) + 0.0
    bits = values.view(np.uint64).copy()
    with np.errstate(invalid="ignore"):
        whole = (values == np.floor(values)) & (np.abs(values) < 2.0**62)
    bits[whole] = values[whole].astype(np.int64).view(np.uint64)
    return _fmix(bits ^ _SEED)


class BucketSpill:
    """Entries with a 64-bit hash field ``h``, in memory up to ``limit``, then in bucket files.

    The bucket of an entry is the top bits of its hash, as in :class:`DuplicateTracker`, so two
    spills of different entries (the keys a foreign key refers to, and the rows that refer to
    them) can be compared one bucket at a time: memory holds one bucket of each, not the file.
    """

    def __init__(self, spill_dir: Path, limit: int, name: str, dtype: np.dtype) -> None:
        self.spill_dir = spill_dir
        self.limit = max(1, limit)
        self.name = name
        self.dtype = np.dtype(dtype)
        self.count = 0
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._files: list[Path] | None = None

    @property
    def spilled(self) -> bool:
        return self._files is not None

    @property
    def held_count(self) -> int:
        """Entries held in memory (not yet spilled)."""
        return self._held

    def add(self, entries: np.ndarray) -> None:
        if not len(entries):
            return
        self._parts.append(np.asarray(entries, self.dtype))
        self._held += len(entries)
        self.count += len(entries)
        if self._held >= self.limit:
            self.spill()

    def held(self) -> np.ndarray:
        """Every entry, when nothing was spilled (the caller checks :attr:`spilled`)."""
        if len(self._parts) != 1:
            self._parts = [np.concatenate(self._parts) if self._parts else np.empty(0, self.dtype)]
        return self._parts[0]

    def replace_held(self, entries: np.ndarray) -> None:
        """Swap what is held for a smaller equivalent (e.g. the distinct keys, sorted)."""
        self._parts = [np.asarray(entries, self.dtype)]
        self._held = len(entries)

    def spill(self) -> None:
        """Write what is held to the bucket files."""
        if self._files is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            self._files = [self.spill_dir / f"{self.name}-{i:02d}.bin"
                           for i in range(1 << _BUCKET_BITS)]
        if not self._parts:
            return
        for i, part in enumerate(_split(np.concatenate(self._parts))):
            if len(part):
                with open(self._files[i], "ab") as fh:
                    part.tofile(fh)
        self._parts, self._held = [], 0

    def buckets(self, consume: bool = True):
        """The entries bucket by bucket (always ``1 << _BUCKET_BITS`` arrays, in order);
        ``consume`` deletes each bucket file once read (keep them to read the entries again)."""
        if self._files is None:
            yield from _split(self.held())
            return
        self.spill()
        for path in self._files:
            if path.exists():
                data = np.fromfile(path, dtype=self.dtype)
                if consume:
                    os.unlink(path)
                yield data
            else:
                yield np.empty(0, self.dtype)


#: From this many hashes on, :func:`_repeated` sorts the two halves on two threads.
_SORT_IN_TWO = 1 << 19


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The distinct hashes that occur more than once, sorted.

    A large array (a small file's million keys, held in memory) is sorted in two halves on two
    threads (numpy releases the GIL), then merged by a stable sort, which finds the two sorted
    runs: about 40 ms instead of 60 ms for a million. The spilled buckets of a large file are
    smaller, and sorted as they are.
    """
    if len(hashes) >= _SORT_IN_TWO:
        half = len(hashes) // 2
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="docket-sort") as pool:
            low, high = pool.map(np.sort, (hashes[:half], hashes[half:]))
        ordered = np.sort(np.concatenate((low, high)), kind="stable")
    else:
        ordered = np.sort(hashes)
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])


def _bucket_of(hashes: np.ndarray) -> np.ndarray:
    # uint8 (there are 64 buckets): numpy's stable argsort is a radix sort for 8-bit keys,
    # several times faster than the merge sort it runs on wider integers
    return (hashes >> np.uint64(64 - _BUCKET_BITS)).astype(np.uint8)


def _split(data: np.ndarray) -> list[np.ndarray]:
    """``data`` cut into its hash buckets, in bucket order."""
    h = data if data.dtype.names is None else data["h"]
    bucket = _bucket_of(h)
    order = np.argsort(bucket, kind="stable")
    data, bucket = data[order], bucket[order]
    bounds = np.searchsorted(bucket, np.arange((1 << _BUCKET_BITS) + 1))
    return [data[bounds[i]:bounds[i + 1]] for i in range(1 << _BUCKET_BITS)]


class KeySet:
    """The distinct hashes of the keys a foreign key refers to.

    Up to ``limit`` distinct keys live in memory as one sorted array (membership is a binary
    search per referring row, chunk by chunk); beyond that they go to bucket files and referring
    rows wait in a :class:`BucketSpill` of their own until :func:`unmatched` compares the two
    bucket by bucket. Either way memory is bounded whatever the size of the referenced table.
    """

    def __init__(self, spill_dir: Path, limit: int, name: str) -> None:
        self._spill = BucketSpill(spill_dir, limit, name, np.dtype("<u8"))
        self._sorted: np.ndarray | None = None

    def add(self, hashes: np.ndarray) -> None:
        self._sorted = None
        spill = self._spill
        if not spill.spilled and spill.held_count + len(hashes) >= spill.limit:
            # Repeated keys cost nothing: only the distinct ones count against the limit. Past
            # three quarters of it, spill: a quarter of the limit is then added between two
            # deduplications, so each key is sorted a bounded number of times.
            spill.replace_held(np.unique(np.concatenate([spill.held(), hashes])))
            if spill.held_count >= spill.limit * 3 // 4:
                spill.spill()
            return
        spill.add(hashes)

    @property
    def in_memory(self) -> bool:
        return not self._spill.spilled

    def sorted(self) -> np.ndarray:
        """The distinct keys, sorted (only when :attr:`in_memory`)."""
        if self._sorted is None:
            self._sorted = np.unique(self._spill.held())
            self._spill.replace_held(self._sorted)
        return self._sorted

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """A bool mask: which ``hashes`` are keys (only when :attr:`in_memory`)."""
        return _members(self.sorted(), hashes)

    def buckets(self):
        """The keys bucket by bucket; they stay readable (several tables may refer to them)."""
        return self._spill.buckets(consume=False)


def _members(sorted_keys: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Which ``hashes`` are in ``sorted_keys``: a binary search each, lighter than ``np.isin``
    (which sorts both arrays together: several times the memory of a bucket)."""
    if not len(sorted_keys):
        return np.zeros(len(hashes), bool)
    at = np.searchsorted(sorted_keys, hashes)
    np.minimum(at, len(sorted_keys) - 1, out=at)
    return sorted_keys[at] == hashes


def unmatched(keys: KeySet, pending: BucketSpill, cap: int) -> tuple[int, np.ndarray]:
    """(count, first ``cap`` rows in order) of the ``pending`` (hash, row) entries not in ``keys``."""
    total = 0
    rows: list[np.ndarray] = []
    if keys.in_memory and not pending.spilled:
        data = pending.held()
        bad = data["r"][~keys.contains(data["h"])]
        return len(bad), np.sort(bad)[:cap]
    for key_bucket, data in zip(keys.buckets(), pending.buckets(), strict=True):
        if not len(data):
            continue
        bad = data["r"][~_members(np.unique(key_bucket), data["h"])]
        total += len(bad)
        rows.append(np.sort(bad)[:cap])
    if not rows:
        return 0, np.empty(0, np.int64)
    return total, np.sort(np.concatenate(rows))[:cap]


#: A referring row waiting for its key to be looked up: the key's hash and the row's number.
PENDING_ENTRY = _ENTRY
