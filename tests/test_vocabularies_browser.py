"""Vocabularies on the served form, in headless Chromium: a real ``docket serve`` whose instance
names a keywords thesaurus (the example SKOS file) in docket.toml.

Typing in the keyword search shows the thesaurus's suggestions (synonyms too) and picking one adds
it to the keywords; the licence pick list holds the SPDX list, common data licences first; a
licence that is not on the list is kept, with the reviewer's acceptance announced; a unit the
UDUNITS-2 database does not know is a warning only. The request is then submitted and the record
read back. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import docket

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LOAD_TIMEOUT, served_instance
from .conftest import EXAMPLES

pytestmark = pytest.mark.browser

OTHER = "Licence ouverte de la Ville de Brest, version 2"
KEYWORDS = ".docket-field-metadata-project_descriptive-keywords input"
SEARCH = ".docket-suggest-metadata-project_descriptive-keywords input"
LICENCE = ".docket-field-metadata-dataset_administrative-licence input"
ACCEPT = re.compile("reviewer must accept|needs a reviewer's acceptance")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    def prepare(folder: Path) -> None:
        (folder / "vocabularies").mkdir()
        shutil.copy(EXAMPLES / "vocabularies" / "science-keywords.ttl", folder / "vocabularies" / "keywords.ttl")
        with (folder / "docket.toml").open("a", encoding="utf-8") as config:
            config.write('\n[vocabularies]\nkeywords = "vocabularies/keywords.ttl"\n')

    with served_instance(tmp_path_factory, "vocab-browser", prepare) as (base, folder, _proc):
        yield base, folder


class SlowLine:
    """The page's kernel websocket, passed through the test: what the kernel sends can be held
    back (a slow connection, a busy server) and let through later, in order. What the page sends
    goes through at once."""

    def __init__(self) -> None:
        self.holding = False
        self.held: list[tuple[object, str | bytes]] = []

    def route(self, ws: object) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def to_page(message: str | bytes) -> None:
            if self.holding:
                self.held.append((ws, message))
            else:
                ws.send(message)

        server.on_message(to_page)

    def release(self) -> None:
        self.holding = False
        for ws, message in self.held:
            ws.send(message)
        self.held.clear()


@pytest.fixture(scope="module")
def line() -> SlowLine:
    return SlowLine()


@pytest.fixture(scope="module")
def page(served: tuple[str, Path], line: SlowLine) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        pg = context.new_page()
        pg.route_web_socket(re.compile(r"/api/kernels/[^/]+/channels"), line.route)
        pg.goto(f"{served[0]}/?lang=en")
        pg.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)
        yield pg
        browser.close()


def shot(page: object, name: str, show: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(show).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"vocab-{name}.png"))


def type_in(page: object, css: str, value: str) -> None:
    box = page.locator(css).first
    box.fill(value)
    box.press("Tab")


def test_keyword_suggestions_come_from_the_thesaurus(page: object, line: SlowLine) -> None:
    search = page.locator(SEARCH)
    search.wait_for(state="visible", timeout=LOAD_TIMEOUT)
    assert "Science keywords (docket example)" in search.get_attribute("placeholder")
    type_in(page, KEYWORDS, "CTD casts")
    search.click()
    search.press_sequentially("sea sur", delay=30)
    suggestions = page.locator(".docket-suggestions li")
    suggestions.first.wait_for(timeout=10_000)
    shown = suggestions.all_inner_texts()
    assert "Sea surface temperature" in shown and all("sea sur" in s.lower() for s in shown)
    shot(page, "keyword-suggestions", SEARCH)
    suggestions.filter(has_text="Sea surface temperature").first.click()
    page.wait_for_function(f"() => document.querySelector('{KEYWORDS}').value.includes('Sea surface temperature')",
                           timeout=10_000)
    assert page.locator(KEYWORDS).input_value() == "CTD casts, Sea surface temperature"
    # the pick empties the search box (a moment after it fills the keywords, under load)
    page.wait_for_function(f"() => document.querySelector('{SEARCH}').value === ''", timeout=10_000)
    # a synonym finds its concept: "SST" adds the preferred label, once
    search.press_sequentially("SST", delay=30)
    page.locator(".docket-suggestions li", has_text="SST → Sea surface temperature").first.click()
    search.press_sequentially("salin", delay=30)
    # A keyword of one's own, entered in the search box, is added too. Typed on at once after a
    # pick while the kernel's answer to the pick is slow to come, it keeps every letter: the box
    # used to be emptied by that answer, which wiped what had been typed meanwhile ("est harbour").
    line.holding = True
    page.locator(".docket-suggestions li", has_text="Salinity").first.click()
    search.press_sequentially("Brest harbour", delay=30)
    line.release()
    page.wait_for_function(f"() => document.querySelector('{KEYWORDS}').value.endsWith('Salinity')", timeout=10_000)
    page.wait_for_timeout(1000)  # the rest of the kernel's answer is applied meanwhile
    assert search.input_value() == "Brest harbour"
    search.press("Enter")
    page.wait_for_function(f"() => document.querySelector('{KEYWORDS}').value.endsWith('Brest harbour')",
                           timeout=10_000)
    assert page.locator(KEYWORDS).input_value() == "CTD casts, Sea surface temperature, Salinity, Brest harbour"
    page.locator(".docket-keywords-sorted").get_by_text("Brest harbour").wait_for(timeout=10_000)
    shot(page, "keywords-added", ".docket-keywords-sorted")


def test_licence_pick_list_is_the_spdx_list_and_other_is_kept(page: object) -> None:
    options = page.locator(".docket-field-metadata-dataset_administrative-licence datalist option").evaluate_all(
        "nodes => nodes.map(o => o.value)")
    ids = [o.split(" — ")[0] for o in options]
    assert ids[:4] == ["CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "ODbL-1.0"] and len(options) > 600
    assert "MIT — MIT License" in options and "OGL-UK-3.0" in ids
    page.locator(LICENCE).click()  # an empty licence: the list opens on the common data licences
    page.locator(".docket-suggestions li").first.wait_for(timeout=10_000)
    shown = page.locator(".docket-suggestions li").all_inner_texts()
    assert [s.split(" — ")[0] for s in shown[:3]] == ["CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0"]
    shot(page, "licence-list", LICENCE)
    page.locator(LICENCE).press_sequentially("open database", delay=30)  # found by its name too
    page.locator(".docket-suggestions li", has_text="ODbL-1.0").first.click()
    page.locator(".docket-licence-spdx").get_by_text("Open Data Commons Open Database License").wait_for(timeout=10_000)
    page.wait_for_function(f"() => document.querySelector('{LICENCE}').value === 'ODbL-1.0'", timeout=10_000)
    shot(page, "licence-spdx", LICENCE)
    type_in(page, LICENCE, OTHER)
    # said once under the field: by the live QA check (metadata.licence) on the served page
    box = page.locator(".docket-box-metadata-dataset_administrative-licence")
    box.get_by_text("needs a reviewer's acceptance").wait_for(timeout=10_000)
    assert box.get_by_text(ACCEPT).count() == 1
    shot(page, "licence-other", LICENCE)


def test_units_warn_and_the_record_keeps_every_value(page: object, served: tuple[str, Path]) -> None:
    page.locator(".docket-add-metadata-dataset_structural-fields").click()
    unit = ".docket-field-metadata-dataset_structural-fields-0-unit input"
    page.locator(unit).wait_for(timeout=10_000)
    type_in(page, ".docket-field-metadata-dataset_structural-fields-0-name input", "salinity")
    type_in(page, unit, "psu")
    box = page.locator(".docket-box-metadata-dataset_structural-fields-0-unit")
    box.get_by_text("'psu' is not a UDUNITS-2 unit").wait_for(timeout=10_000)
    assert box.get_by_text("'psu' is not a UDUNITS-2 unit").count() == 1  # once, not by two parts
    type_in(page, unit, "mS cm-1")
    box.get_by_text("UDUNITS-2 reads it as").wait_for(timeout=10_000)
    type_in(page, unit, "psu")
    box.get_by_text("'psu' is not a UDUNITS-2 unit").wait_for(timeout=10_000)
    shot(page, "unit-warning", unit)
    for path, value in (("provider-name", "Ana Lima"), ("provider-email", "ana.lima@example.org"),
                        ("metadata-project_descriptive-title-en", "CTD casts in the Brest harbour, 2024"),
                        ("metadata-dataset_administrative-contact-name", "Ana Lima"),
                        ("metadata-dataset_administrative-contact-email", "ana.lima@example.org"),
                        ("files-0-name", "ctd.csv"), ("files-0-location", "https://data.example.org/ctd.csv")):
        type_in(page, f".docket-field-{path} input", value)
    type_in(page, ".docket-field-metadata-project_descriptive-abstract-en textarea", "Profiles.")
    page.click(".docket-submit")
    page.locator(".docket-summary .docket-request-id").wait_for(timeout=30_000)
    rid = page.locator(".docket-summary .docket-request-id").inner_text()
    with docket.open(served[1]) as dk:
        record = dk.get(rid)
    meta = record["metadata"]
    assert meta["project_descriptive"]["keywords"] == ["CTD casts", "Sea surface temperature", "Salinity",
                                                       "Brest harbour"]
    assert meta["dataset_administrative"]["licence"] == OTHER
    assert meta["dataset_structural"]["fields"][0]["unit"] == "psu"  # kept: a warning, not a refusal
