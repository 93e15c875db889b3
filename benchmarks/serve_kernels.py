"""Live kernels and server memory after many page views of ``docket serve``, in headless Chromium.

    .venv/bin/python benchmarks/serve_kernels.py [--views 50] [--idle 600] [--closed 60] [--stock]

A fresh instance is served by ``docket serve`` (its ``[serve]`` table set from the options);
Debian's Chromium (never downloaded) opens the request form ``--views`` times in a row, waits for
it to be interactive, and closes it, alternating a tab close (Voila's ``beforeunload`` beacon runs)
and a vanishing page (no beacon: a crash, a lost connection). Kernels are counted from /proc (the
``ipykernel_launcher`` processes under the server, since the kernels API is closed), memory is the
resident set of the server and all its children. Printed: per-view time, kernels and memory
before, at the peak, right after the last view and once the closed-page grace has passed.

``--stock`` serves the same page with plain Voila as ``docket serve`` ran it before kernel culling
and the route guard (no culler, stock routes): the kernels of closed pages pile up there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.processes import live_kernels, tree_rss_mib  # noqa: E402  (the tests' /proc reading, one copy)

import docket  # noqa: E402
from docket.cli.commands import serve  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernels_and_rss(pid: int) -> tuple[int, float]:
    """(kernel processes under ``pid``, resident MiB of ``pid`` and everything under it)."""
    return live_kernels(pid), tree_rss_mib(pid)


def wait_up(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Until the server answers (a missing page, so that no kernel is started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/docket-not-a-page", timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(base)


def start_server(tmp: Path, args: argparse.Namespace, port: int) -> subprocess.Popen:
    """``docket serve`` on a fresh instance, or (``--stock``) plain Voila as docket ran it before."""
    instance = tmp / "inst"
    docket.init(instance, project="bench").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    log = open(tmp / "server.log", "wb")  # noqa: SIM115  (closed with the process, by the OS)
    if not args.stock:
        with open(instance / "docket.toml", "a", encoding="utf-8") as toml:
            toml.write(f"\n[serve]\ncull_idle_seconds = {args.idle}\ncull_closed_seconds = {args.closed}\n"
                       f"max_pages = {max(args.views, 40)}\n")
        return subprocess.Popen(
            [sys.executable, "-m", "docket.cli", "--instance", str(instance), "serve", "--port", str(port),
             "--no-browser"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    from docket.api import Docket
    from docket.instance import Instance

    Docket(Instance.find(instance)).close()  # the store, as docket serve prepares it
    private = tmp / "private"
    private.mkdir()
    page = private / serve.PAGE
    shutil.copyfile(serve.page_source(None), page)
    (private / "voila.json").write_text(json.dumps(serve.VOILA_CONFIG), encoding="utf-8")
    guarded = serve.voila_command(page, port, open_browser=False)
    stock = [sys.executable, "-m", "voila"] + [
        a for a in guarded[3:] if not a.startswith(("--MappingKernelManager.", "--DocketVoila."))]
    return subprocess.Popen(stock, stdout=log, stderr=subprocess.STDOUT, cwd=private,
                            env={**env, "DOCKET_INSTANCE": str(instance)}, start_new_session=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--idle", type=int, default=600, help="[serve] cull_idle_seconds")
    parser.add_argument("--closed", type=int, default=60, help="[serve] cull_closed_seconds")
    parser.add_argument("--stock", action="store_true", help="plain Voila, as before the guard")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("serve_kernels: Debian's chromium is not installed (apt-get install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(Path(tmp), args, port)
        try:
            wait_up(base, proc)
            kernels0, rss0 = kernels_and_rss(proc.pid)
            times: list[float] = []
            peak_kernels, peak_rss = kernels0, rss0
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                context = browser.new_context()
                start = time.monotonic()
                for view in range(args.views):
                    page = context.new_page()
                    t = time.perf_counter()
                    response = page.goto(f"{base}/?lang=en")
                    try:
                        page.locator(".docket-submit").wait_for(state="visible", timeout=120_000)
                    except Exception:
                        shown = page.inner_text("body")[-300:] if response is not None else ""
                        log = (Path(tmp) / "server.log").read_text(errors="replace")[-3000:]
                        print(f"view {view + 1}: no form after 120 s (HTTP {response and response.status}); "
                              f"kernels {kernels_and_rss(proc.pid)[0]}; page ends: {shown!r}\n"
                              f"server log ends:\n{log}", file=sys.stderr)
                        raise
                    times.append(time.perf_counter() - t)
                    print(f"view {view + 1}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
                    kernels, rss = kernels_and_rss(proc.pid)
                    peak_kernels, peak_rss = max(peak_kernels, kernels), max(peak_rss, rss)
                    page.close(run_before_unload=view % 2 == 0)
                total = time.monotonic() - start
                context.close()
                browser.close()
            kernels1, rss1 = kernels_and_rss(proc.pid)
            time.sleep(args.closed + 5)
            kernels2, rss2 = kernels_and_rss(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    label = "stock Voila (before)" if args.stock else f"docket serve (idle {args.idle} s, closed {args.closed} s)"
    print(f"{label}: {args.views} page views in {total:.0f} s "
          f"(median {statistics.median(times):.1f} s, max {max(times):.1f} s per view)")
    print(f"  kernels: {kernels0} before, peak {peak_kernels}, {kernels1} right after the last view, "
          f"{kernels2} {args.closed + 5} s later")
    print(f"  RSS of server + children: {rss0:.0f} MiB before, peak {peak_rss:.0f} MiB, {rss1:.0f} MiB right after, "
          f"{rss2:.0f} MiB {args.closed + 5} s later")
    return 0


if __name__ == "__main__":
    sys.exit(main())
