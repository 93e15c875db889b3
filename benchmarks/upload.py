"""Browser-upload throughput: a file through the tus endpoint of a real ``docket serve`` vs ``cp``.

A fresh instance is served (``docket serve``, the Voila server with its ``/docket/uploads/``
routes) and a file of ``--size`` random bytes is uploaded over loopback by three legitimate tus
clients, each ``--repeat`` times (best and median reported):

* ``python``: ``http.client``, one connection, ``--chunk`` PATCHes read into memory (what the
  page's script does: 8 MiB PATCHes);
* ``sendfile``: a raw socket, the same PATCHes, each body sent with ``os.sendfile`` (no copy in
  the client: the server is measured, not the client);
* ``curl``: one ``curl -X PATCH -T file`` of the whole file (tus allows a single PATCH).

While each upload runs the server process tree's resident memory is sampled from ``/proc``
every 20 ms (peak RSS), and its CPU time (user + system, from ``/proc/<pid>/stat``) is taken
before and after: CPU seconds per GiB do not depend on how loaded the machine is, seconds do.

In the same run, on the same disk and file: ``cp`` warm (source in the page cache) and cold
(source evicted with ``posix_fadvise(DONTNEED)``, no root needed); ``cp`` then ``md5sum`` then
``sha256sum`` (the same work the upload does); and hashlib's md5 and sha256 alone on this CPU,
which bound any upload that computes both in one pass. The ratio "of cp" uses cp WARM (the
upload's source is warm too). Every upload's sha256 and md5 are checked against hashlib's.

    python benchmarks/upload.py [--size 1G] [--also 2G] [--repeat 3] [--clients python,sendfile,curl]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bigfiles import human, make_file, parse_size

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
TICKS = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (Voila, its kernels), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by ``pid`` and its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / TICKS


class Sampler(threading.Thread):
    """Peak RSS of a process tree, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.02)


def page_cookie(conn: http.client.HTTPConnection) -> str:
    """The page cookie a browser gets with the form (uploads belong to it)."""
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    return next(c.split(";")[0] for c in response.msg.get_all("Set-Cookie") if c.startswith("docket_page="))


class Target:
    """The server under test: its address and the page cookie uploads belong to."""

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port, self.cookie = host, port, cookie

    def headers(self) -> dict[str, str]:
        return {"Tus-Resumable": "1.0.0", "Cookie": self.cookie}

    def create(self, path: Path) -> str:
        """POST a new upload for ``path``; its URL."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        conn.request("POST", "/docket/uploads/", headers={
            **self.headers(), "Upload-Length": str(path.stat().st_size),
            "Upload-Metadata": "filename " + base64.b64encode(path.name.encode()).decode()})
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 201, response.status
        return response.getheader("Location")


def client_python(target: Target, url: str, path: Path, chunk: int) -> None:
    """http.client, one connection, ``chunk``-sized PATCHes read into memory (as the page does)."""
    size = path.stat().st_size
    conn = http.client.HTTPConnection(target.host, target.port, timeout=600)
    offset = 0
    with open(path, "rb") as f:
        while offset < size:
            body = f.read(chunk)
            conn.request("PATCH", url, body=body, headers={
                **target.headers(), "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            response = conn.getresponse()
            response.read()
            assert response.status == 204, (response.status, response.read())
            offset = int(response.getheader("Upload-Offset"))
    conn.close()


def client_sendfile(target: Target, url: str, path: Path, chunk: int) -> None:
    """A raw socket: each PATCH's headers, then its body straight from the file (``os.sendfile``)."""
    size = path.stat().st_size
    offset = 0
    with socket.create_connection((target.host, target.port)) as sock, open(path, "rb") as f:
        pending = b""
        while offset < size:
            count = min(chunk, size - offset)
            head = "".join(f"{k}: {v}\r\n" for k, v in {
                **target.headers(), "Host": f"{target.host}:{target.port}", "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream", "Content-Length": str(count)}.items())
            sock.sendall(f"PATCH {url} HTTP/1.1\r\n{head}\r\n".encode())
            sent = 0
            while sent < count:
                sent += os.sendfile(sock.fileno(), f.fileno(), offset + sent, count - sent)
            while b"\r\n\r\n" not in pending:
                data = sock.recv(65536)
                assert data, "the server closed the connection"
                pending += data
            answer, _, pending = pending.partition(b"\r\n\r\n")
            lines = answer.decode("latin-1").split("\r\n")
            assert lines[0].split()[1] == "204", lines
            fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            assert int(fields.get("content-length", "0")) == 0
            offset = int(fields["upload-offset"])


def client_curl(target: Target, url: str, path: Path, chunk: int) -> None:
    """``curl -X PATCH -T file``: the whole file in one PATCH, streamed from disk by curl."""
    base = f"http://{target.host}:{target.port}"
    args = ["curl", "-sS", "--fail", "-o", "/dev/null", "-X", "PATCH", "-T", str(path), "-H", "Expect:",
            "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream"]
    for key, value in target.headers().items():
        args += ["-H", f"{key}: {value}"]
    subprocess.run([*args, base + url], check=True)


CLIENTS: dict[str, Callable[[Target, str, Path, int], None]] = {
    "python": client_python, "sendfile": client_sendfile, "curl": client_curl}


def evict(path: Path) -> None:
    """Drop ``path`` from the page cache (its pages are clean after the fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(8 * MiB):
            pass


def timed(args: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def timed_cp(source: Path, target: Path, *, cold: bool) -> float:
    """Seconds ``cp`` takes (the copy is removed after; its dirty pages are flushed first, so one
    run's write-back does not slow the next)."""
    (evict if cold else warm)(source)
    seconds = timed(["cp", str(source), str(target)])
    evict(target)
    target.unlink()
    return seconds


def hash_rate(name: str) -> float:
    """Bytes per second of hashlib's ``name`` on this CPU (one thread, 64 MiB, best of 3)."""
    block = os.urandom(64 * MiB)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        hashlib.new(name, block).hexdigest()
        best = min(best, time.perf_counter() - began)
    return len(block) / best


def digests(path: Path) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 * MiB):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def rates(seconds: list[float], size: int) -> str:
    """``best / median MiB/s`` of ``seconds`` for ``size`` bytes."""
    return f"best {size / min(seconds) / MiB:.0f}, median {size / statistics.median(seconds) / MiB:.0f} MiB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--also", default=None, help="a second size, for the memory bound (e.g. 2G)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (best and median shown)")
    parser.add_argument("--chunk", default="8M", help="PATCH size of the python and sendfile clients")
    parser.add_argument("--clients", default="python,sendfile,curl")
    args = parser.parse_args()
    from tests.test_serve import serving

    import docket

    sizes = [parse_size(args.size)] + ([parse_size(args.also)] if args.also else [])
    chunk = parse_size(args.chunk)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    md5_rate, sha_rate = hash_rate("md5"), hash_rate("sha256")
    print(f"this CPU ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}): hashlib md5 {md5_rate / MiB:.0f} MiB/s, "
          f"sha256 {sha_rate / MiB:.0f} MiB/s (one thread each, 64 MiB)")
    with tempfile.TemporaryDirectory(prefix="docket-upload-bench-") as tmp:
        work = Path(tmp)
        folder = work / "inst"
        docket.init(folder, project="bench", base_uri="https://data.example.org/bench/").close()
        toml = folder / "docket.toml"
        toml.write_text(toml.read_text().replace("max_upload_bytes = 1073741824",
                                                 f"max_upload_bytes = {max(sizes)}"))
        with serving(folder) as (base, proc):
            conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=600)
            target = Target("127.0.0.1", int(base.rsplit(":", 1)[1]), page_cookie(conn))
            conn.close()
            time.sleep(2)
            for size in sizes:
                source = work / f"data-{size}.bin"
                make_file(source, size)
                expected = digests(source)
                copy = work / "copy.bin"
                cp_warm = [timed_cp(source, copy, cold=False) for _ in range(args.repeat)]
                cp_cold = [timed_cp(source, copy, cold=True) for _ in range(args.repeat)]
                warm(source)
                sums = [timed_cp(source, copy, cold=False) + timed(["md5sum", str(source)])
                        + timed(["sha256sum", str(source)]) for _ in range(args.repeat)]
                best_cp = size / min(cp_warm)
                print(f"\n{human(size)}: cp warm {rates(cp_warm, size)}; cp cold {rates(cp_cold, size)}; "
                      f"cp then md5sum then sha256sum (warm) {rates(sums, size)}")
                # md5 cannot be split over cores: one pass of it bounds the upload, whatever overlaps it.
                print(f"    ceiling of any one-pass md5+sha256 upload here: md5's {md5_rate / MiB:.0f} MiB/s = "
                      f"{md5_rate / best_cp:.2f} of cp warm (best)")
                for name in clients:
                    seconds, cpu, peaks, idle = [], [], [], tree_rss(proc.pid)
                    for _ in range(args.repeat):
                        warm(source)
                        url = target.create(source)
                        sampler = Sampler(proc.pid)
                        sampler.start()
                        cpu_before, began = tree_cpu(proc.pid), time.perf_counter()
                        CLIENTS[name](target, url, source, chunk)
                        seconds.append(time.perf_counter() - began)
                        cpu.append(tree_cpu(proc.pid) - cpu_before)
                        sampler.done.set()
                        sampler.join()
                        peaks.append(sampler.peak)
                        state = folder / "inbox" / "uploads" / url.rsplit("/", 1)[1]
                        recorded = json.loads((state / ".upload.json").read_text())
                        assert (state / source.name).stat().st_size == size, "size differs"
                        assert (recorded["md5"], recorded["sha256"]) == expected, "checksums differ from hashlib's"
                        evict(state / source.name)
                        shutil.rmtree(state)
                    best, median = size / min(seconds), size / statistics.median(seconds)
                    print(f"  upload ({name}{'' if name == 'curl' else f', {human(chunk)} PATCHes'}): "
                          f"{rates(seconds, size)} = {best / best_cp:.2f} (best) / "
                          f"{median / (size / statistics.median(cp_warm)):.2f} (median) of cp warm, "
                          f"{best / (size / min(sums)):.2f} / "
                          f"{median / (size / statistics.median(sums)):.2f} of cp+md5sum+sha256sum; "
                          f"server CPU {min(cpu) / (size / 2**30):.2f} s/GiB; "
                          f"RSS {idle / MiB:.0f} MiB idle, peak +{(max(peaks) - idle) / MiB:.0f} MiB")
                source.unlink()


if __name__ == "__main__":
    main()
