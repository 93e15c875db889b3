"""Headless Chromium for the page tests: Debian's ``chromium``, driven by Playwright, never downloaded.

One place for what every browser test needs: the skip when there is no browser, the launch flags
(no background networking: the machine has no network, and Chromium would keep trying), a page in
a fresh context of the size the screenshots are looked at in, and the screenshots themselves
(``test-artifacts/``, git-ignored, for a person to look at).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import docket

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
def served_instance(tmp_path_factory: pytest.TempPathFactory, name: str,
                    prepare: Callable[[Path], None] | None = None) -> Iterator[tuple[str, Path, Any]]:
    """``docket serve`` on a free port over a new instance, for a module's browser tests (skipped
    where there is no browser): (base URL, instance folder, server process). ``prepare`` edits the
    instance (its docket.toml, its inbox) before the server starts."""
    from .test_serve import serving

    need_browser()
    folder = tmp_path_factory.mktemp(name) / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    if prepare is not None:
        prepare(folder)
    with serving(folder) as (base, proc):
        yield base, folder, proc


def title_only_warns(folder: Path) -> None:
    """``metadata.title`` at warn in the instance's [severities]: a page that lacks a title still
    saves, so the tests can watch the warning beside the field."""
    toml = folder / "docket.toml"
    toml.write_text(toml.read_text().replace("[severities]\n", '[severities]\n"metadata.title" = "warn"\n'))


def browser_fixture() -> Any:
    """A module's ``browser`` fixture: one headless Chromium, started after the module's ``served``
    server (so a server that fails to start is reported before a browser is launched)."""
    @pytest.fixture(scope="module")
    def browser(served: Any) -> Iterator[object]:
        with chromium() as b:
            yield b

    return browser


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
