"""What runs under a test's server, read from /proc: ``docket serve``, Voila and the kernels.

The kernels API a count could come from is closed by the server guard, and psutil is not one of
docket's dependencies; /proc tells the same, for the tests' Linux machines.
"""

from __future__ import annotations

import os
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and ')'
            tree.setdefault(parent, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (docket serve, Voila, the kernels)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def command_line(pid: int) -> list[str]:
    """The arguments ``pid`` was started with (empty once it has ended)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def environment(pid: int) -> dict[bytes, bytes]:
    """The environment ``pid`` was started with (empty once it has ended)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(v.split(b"=", 1) for v in raw.split(b"\0") if b"=" in v)


def is_kernel(pid: int) -> bool:
    """Whether ``pid`` is an IPython kernel."""
    return "ipykernel_launcher" in " ".join(command_line(pid))


def live_kernels(pid: int) -> int:
    """Kernel processes under the server ``pid``."""
    return sum(1 for p in descendants(pid) if is_kernel(p))


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and every process under it, in MiB."""
    total = 0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024
