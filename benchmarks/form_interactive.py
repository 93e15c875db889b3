"""Time until the request form is interactive in Voila, as a ratio to a trivial notebook.

    .venv/bin/python benchmarks/form_interactive.py [--rounds 5]

Two ``docket serve`` processes with the same settings (each serves exactly one page) serve a
copy of ``notebooks/request.ipynb`` and a one-cell notebook showing a single button; headless Chromium (Debian's, never downloaded) loads each in
turn, alternating, and times from navigation to "a control is present and enabled" (the form's
submit button; the trivial page's button). One warm-up load of each is not counted. Prints the
medians and their ratio (target <= 2). Both pages pay the same Voila costs (a kernel start per
page view, the widget manager); the ratio is what docket's form adds on top.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import docket  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
PAGES = {
    "request": ("?lang=en", ".docket-submit:not(:disabled)"),
    "trivial": ("", ".bench-ready:not(:disabled)"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trivial_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        'import ipywidgets as W\nb = W.Button(description="ready")\nb.add_class("bench-ready")\nb')
    cell.id = "trivial"
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("form_interactive: Debian's chromium is not installed (apt-get install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        docket.init(tmp_path / "inst", project="bench").close()
        # docket serve serves DIR/request.ipynb alone: one folder per page.
        folders = {name: tmp_path / name for name in PAGES}
        for folder in folders.values():
            folder.mkdir()
        shutil.copy(ROOT / "notebooks" / "request.ipynb", folders["request"] / "request.ipynb")
        trivial_notebook(folders["trivial"] / "request.ipynb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
        ports: list[int] = []
        while len(ports) < len(folders):
            port = free_port()
            if port not in ports:
                ports.append(port)
        servers, bases = [], {}
        for (name, folder), port in zip(folders.items(), ports, strict=True):
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "docket.cli", "--instance", str(tmp_path / "inst"), "serve",
                 "--port", str(port), "--no-browser", "--notebook-dir", str(folder)],
                stdout=subprocess.DEVNULL, env=env, start_new_session=True,
            ))
            bases[name] = f"http://127.0.0.1:{port}/"
        times: dict[str, list[float]] = {name: [] for name in PAGES}
        try:
            for base in bases.values():
                wait_up(base)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                for round_no in range(args.rounds + 1):
                    for name, (path, selector) in PAGES.items():
                        context = browser.new_context()
                        page = context.new_page()
                        start = time.perf_counter()
                        page.goto(bases[name] + path)
                        page.wait_for_selector(selector, state="visible", timeout=120_000)
                        elapsed = time.perf_counter() - start
                        context.close()
                        if round_no:  # round 0 warms caches (imports, the browser's assets)
                            times[name].append(elapsed)
                browser.close()
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    request, trivial = (statistics.median(times[n]) for n in ("request", "trivial"))
    for name, values in times.items():
        print(f"{name:8s} median {statistics.median(values):.2f} s  "
              f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")
    ratio = request / trivial
    print(f"ratio request/trivial: {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
