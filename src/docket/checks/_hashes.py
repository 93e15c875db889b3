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
from pathlib import Path

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

    def __init__(self, spill_dir: Path, spill_rows: int, name: str) -> None:
        self.spill_dir = spill_dir
        self.spill_rows = max(1, spill_rows)
        self.name = name
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._files: list[Path] | None = None
        self._handles: list = []

    def add(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        if len(hashes) == 0:
            return
        part = np.empty(len(hashes), _ENTRY)
        part["h"] = hashes
        part["r"] = rows
        self._parts.append(part)
        self._held += len(part)
        if self._held >= self.spill_rows:
            self._spill()

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
        bucket = (data["h"] >> np.uint64(64 - _BUCKET_BITS)).astype(np.intp)
        order = np.argsort(bucket, kind="stable")
        data, bucket = data[order], bucket[order]
        bounds = np.searchsorted(bucket, np.arange((1 << _BUCKET_BITS) + 1))
        for i, fh in enumerate(self._handles):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                data[lo:hi].tofile(fh)

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
        for data in self._buckets():
            if len(data) < 2:
                continue
            data = data[np.lexsort((data["r"], data["h"]))]
            same = data["h"][1:] == data["h"][:-1]
            if not same.any():
                continue
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
