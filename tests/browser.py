"""Headless Chromium for the page tests: Debian's ``chromium``, driven by Playwright, never downloaded.

One place for what every browser test needs: the skip when there is no browser, the launch flags
(no background networking: the machine has no network, and Chromium would keep trying), a page in
a fresh context of the size the screenshots are looked at in, and the screenshots themselves
(``test-artifacts/``, git-ignored, for a person to look at).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = ROOT / "test-artifacts"
LOAD_TIMEOUT = 60_000  # ms: a kernel start on a busy 2-core box
VIEWPORT = {"width": 1100, "height": 900}


def need_browser() -> None:
    """Skip, saying why, where Chromium or Playwright's Python package is missing."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests need it")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``), closed after."""
    from playwright.sync_api import sync_playwright

    need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: object) -> Iterator[object]:
    """A page in a context of its own (its own cookies and storage: one visitor), closed after."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: object, name: str, show: str | None = None) -> None:
    """``test-artifacts/<name>.png``, with ``show`` (a CSS selector) scrolled into view first."""
    ARTIFACTS.mkdir(exist_ok=True)
    if show:
        page.locator(show).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
