"""Large test files for the benchmarks that move bytes (hashing, transfer): made, sized, named.

Shared by the scripts beside it (run as ``python benchmarks/NAME.py``, so this folder is on
``sys.path``), so that every benchmark reads its ``--size`` and makes its data the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``1G``, ``256M``, ``512KiB`` or a plain byte count."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1] if text and text[-1] in UNITS else ""
    return int(float(text[: len(text) - len(unit)]) * UNITS[unit])


def human(n: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        size = UNITS[unit[0]]
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def make_file(path: Path, size: int, *, warm: bool = False) -> None:
    """``size`` random bytes (not one block repeated, which a disk or a cache could flatter),
    flushed to disk so its pages can later be evicted; ``warm`` reads it back into the cache."""
    block = os.urandom(16 * 1024 * 1024)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
            block = block[1:] + block[:1]
        f.flush()
        os.fsync(f.fileno())
    if warm:
        with open(path, "rb", buffering=0) as f:
            buf = bytearray(8 * 1024 * 1024)
            while f.readinto(buf):
                pass
