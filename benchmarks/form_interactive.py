"""The request form in Voila against a trivial notebook: time to interactive, and per-field validation.

    .venv/bin/python benchmarks/form_interactive.py [--rounds 5] [--edits 6]

Two ``docket serve`` processes with the same settings (each serves exactly one page) serve a copy
of ``notebooks/request.ipynb`` and a one-cell notebook with one text box, whose kernel-side
observer writes "valid" or "not an address" beside it; headless Chromium (Debian's, never
downloaded) loads each in turn, alternating, and measures

* **first render**: from navigation to "a control is present and enabled" (the form's submit
  button; the trivial page's text box), with the page's scripts run;
* **validation latency**: from typing a value into a field and leaving it (Tab) to the answer being
  shown beside it: the form's e-mail field, alternately wrong (its error appears) and right (its
  error goes); the trivial page's box with the same values. Each edit is a round trip to the
  kernel and back, as in the form: this is what the form's validation (the schema, the live QA
  checks, the checklist, page.js re-labelling) adds on top of one widget round trip.

One warm-up round of each is not counted. Prints medians and ratios (target <= 2 for both).
Both pages pay the same Voila costs (a kernel start per page view, the widget manager).
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
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import docket  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
WRONG, RIGHT = "ana.lima@example", "ana.lima@example.org"
#: Per page: query, the control that says "interactive", the input edited, and a JavaScript
#: predicate (given the value typed) that holds once the answer to that value is shown.
PAGES = {
    "request": {
        "query": "?lang=en",
        "ready": ".docket-submit:not(:disabled)",
        "input": ".docket-field-provider-email input",
        "shown": """(v) => { const e = document.querySelector('.docket-error-provider-email');
                      const t = e ? e.innerText : '';
                      return v.endsWith('.org') ? !t.includes('not a valid') : t.includes('not a valid'); }""",
    },
    "trivial": {
        "query": "",
        "ready": ".bench-input input:not(:disabled)",
        "input": ".bench-input input",
        "shown": """(v) => { const e = document.querySelector('.bench-answer');
                      return !!e && e.innerText.trim() === (v.endsWith('.org') ? 'valid' : 'not an address'); }""",
    },
}
TRIVIAL_SOURCE = """import re
import ipywidgets as W
box = W.Text(continuous_update=False)
box.add_class("bench-input")
answer = W.HTML()
answer.add_class("bench-answer")
def check(change):
    ok = re.fullmatch(r"[^@\\s]+@[^@\\s]+\\.[^@\\s]+", change["new"] or "")
    answer.value = "valid" if ok else "not an address"
box.observe(check, names="value")
W.VBox([box, answer])"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trivial_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(TRIVIAL_SOURCE)
    cell.id = "trivial"
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def wait_up(url: str, timeout: float = 90) -> None:
    """Until the server answers at all (a 404 for a path that is no page: no kernel is started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "docket-not-a-page", timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def measure(browser: object, base: str, spec: dict[str, str], edits: int) -> tuple[float, list[float]]:
    """One page view: seconds to interactive, and the seconds of each of ``edits`` field edits."""
    context = browser.new_context()
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(base + spec["query"])
        page.wait_for_selector(spec["ready"], state="visible", timeout=120_000)
        first = time.perf_counter() - start
        box = page.locator(spec["input"]).first
        latencies = []
        for i in range(edits):
            value = WRONG if i % 2 == 0 else RIGHT
            start = time.perf_counter()
            box.fill(value)
            box.press("Tab")
            page.wait_for_function(spec["shown"], arg=value, polling="raf", timeout=60_000)
            latencies.append(time.perf_counter() - start)
        return first, latencies
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--edits", type=int, default=6, help="field edits timed per page view")
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
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
            ))
            bases[name] = f"http://127.0.0.1:{port}/"
        first: dict[str, list[float]] = {name: [] for name in PAGES}
        edit: dict[str, list[float]] = {name: [] for name in PAGES}
        try:
            for base in bases.values():
                wait_up(base)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                for round_no in range(args.rounds + 1):
                    for name, spec in PAGES.items():
                        seconds, latencies = measure(browser, bases[name], spec, args.edits)
                        if round_no:  # round 0 warms caches (imports, the browser's assets)
                            first[name].append(seconds)
                            edit[name].extend(latencies)
                browser.close()
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    ok = True
    for what, times, unit, scale in (("first render", first, "s", 1.0), ("validation", edit, "ms", 1000.0)):
        for name, values in times.items():
            print(f"{what:12s} {name:8s} median {statistics.median(values) * scale:7.1f} {unit}  "
                  f"(min {min(values) * scale:.1f}, max {max(values) * scale:.1f}, n={len(values)})")
        ratio = statistics.median(times["request"]) / statistics.median(times["trivial"])
        ok = ok and ratio <= 2
        print(f"{what:12s} ratio request/trivial: {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
