"""The review notebook in a real browser: Voila serving ``review.ipynb``, headless Chromium driving it.

Voila is started directly on a copy of the notebook with the instance and a reviewer's key in its
environment, as a staff server would hand them to the page's kernel (``docket serve`` serving the
desk is another module's). A reviewer opens the queue, looks at the diff of revision 2, requests
changes with a comment on a field; the provider resubmits through the API; the reviewer approves.
The store is read back after each click. Debian's ``chromium`` only; no browser is downloaded.
Screenshots land in ``test-artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import docket

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LOAD_TIMEOUT
from .conftest import EXAMPLES
from .people import key_file
from .test_desk import TITLE, desk_requests, resubmit
from .test_serve import free_port, wait_for

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "review.ipynb"
CLICK_TIMEOUT = 20_000


@contextmanager
def voila_desk(instance: Path, key: str, folder: Path) -> Iterator[str]:
    """Voila serving a copy of review.ipynb on a free loopback port, signed in with ``key``.

    The log goes to a file (an unread pipe fills and stalls the server); the process leads a
    session of its own, stopped with its kernels after.
    """
    page = folder / "review.ipynb"
    shutil.copyfile(NOTEBOOK, page)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env.update(DOCKET_INSTANCE=str(instance), DOCKET_API_KEY=key)
    log = Path(tempfile.mkstemp(prefix="docket-desk-voila-", suffix=".log")[1])
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(page), f"--port={port}", "--no-browser",
             "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--Voila.root_dir={folder}",
             "--show_tracebacks=False", "--VoilaConfiguration.preheat_kernel=False"],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base, proc, log)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        served = log.read_text(errors="replace")
        log.unlink(missing_ok=True)
        assert key not in served, "the key reached the server's log"


def shot(page: object, name: str, show: str) -> Path:
    """A screenshot for people, with ``show`` (a CSS selector) scrolled into view (Voila's page
    scrolls inside its own container, so a full-page shot would still stop at the viewport)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator(show).first.scroll_into_view_if_needed()
    page.screenshot(path=str(path))
    return path


def test_reviewer_requests_changes_then_approves_in_the_browser(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    root = tmp_path / "inst"
    with docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/",
                     local_roots=["inbox", str(EXAMPLES)]) as d:
        ids = desk_requests(d)  # ocean-0001 at revision 2, submitted; soil and weather waiting too
    key = key_file(root, "reviewer", name="Rui Costa").read_text().strip()
    ctd = ids["ctd"]
    (tmp_path / "served").mkdir()

    with voila_desk(root, key, tmp_path / "served") as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
        page.goto(base + "/")
        # The queue, oldest first; open the request that has a revision 2.
        page.wait_for_selector(f".docket-open-{ctd}", state="visible", timeout=LOAD_TIMEOUT)
        queue = page.locator(".docket-open").all_inner_texts()
        assert [q.strip() for q in queue] == [ctd, ids["soil"], ids["weather"]]
        assert "Rui Costa" in page.locator(".docket-signed-in").inner_text()
        page.click(f".docket-open-{ctd}")
        view = page.locator(f".docket-request-view[data-ref='{ctd}.2']")
        view.wait_for(timeout=CLICK_TIMEOUT)
        diff = page.locator("table.docket-diff").inner_text()
        assert TITLE in diff and "spring 2024, three stations" in diff and "spring 2024 survey" in diff
        assert sorted(t.strip() for t in page.locator(".docket-action").all_inner_texts()) == [
            "Approve", "Reject", "Request changes"]
        shot(page, "desk-1-diff", "table.docket-diff")

        # Request changes with a comment on the changed field.
        page.locator(".docket-comment-text textarea").fill("Name the cruise in the title, please.")
        page.locator(".docket-comment-field select").select_option(label=f"changed: {TITLE}")
        page.click(".docket-action-request-changes")
        page.locator(".docket-desk-ok").wait_for(timeout=CLICK_TIMEOUT)
        with docket.open(root) as d:
            doc = d.get(ctd)
            assert (doc["revision"], doc["review_state"]) == (2, "draft")
            latest = d.comments(ctd)[-1]
            assert (latest["text"], latest["field"], latest["author"], latest["role"]) == (
                "Name the cruise in the title, please.", TITLE, "Rui Costa", "reviewer")
        # Off the queue: the queue is redrawn by a widget update of its own, after the message.
        page.locator(f".docket-open-{ctd}").wait_for(state="detached", timeout=CLICK_TIMEOUT)
        shot(page, "desk-2-changes-requested", ".docket-comments")

        # The provider resubmits (revision 3); the reviewer refreshes, sees it, approves.
        with docket.open(root) as d:
            assert resubmit(d, ctd, "CTD casts of cruise BISCAY-24, Bay of Biscay") == 3
        page.click(".docket-refresh")
        page.locator(f".docket-request-view[data-ref='{ctd}.3']").wait_for(timeout=CLICK_TIMEOUT)
        assert "BISCAY-24" in page.locator("table.docket-diff").inner_text()
        page.click(".docket-action-approved")
        page.locator(".docket-desk-ok", has_text="approved").wait_for(timeout=CLICK_TIMEOUT)
        with docket.open(root) as d:
            doc = d.get(ctd)
            assert (doc["revision"], doc["review_state"]) == (3, "approved")
            decision = [h for h in d.history(ctd) if h["kind"] == "review"][-1]
            assert (decision["to"], decision["actor"], decision["revision"]) == ("approved", "Rui Costa", 3)
        shot(page, "desk-3-approved", ".docket-desk-ok")
        assert key not in page.content()
        browser.close()
