"""The same checks before submitting, in a real browser: ``docket serve`` and headless Chromium.

One server for the module, over an instance that sets QA's title check to a warning in
``docket.toml`` (so a four-word title is a *warning*, the other metadata checks errors), with
real example files in its inbox. Screenshots go to ``test-artifacts/form-checks-*.png``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import browser_fixture, new_page, screenshot, served_instance, title_only_warns
from .conftest import EXAMPLES
from .test_browser import field, open_form, type_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    def prepare(folder: Path) -> None:
        title_only_warns(folder)
        uploads = folder / "inbox" / "uploads" / "b1"
        uploads.mkdir(parents=True)
        shutil.copy(EXAMPLES / "data" / "clean.csv", uploads / "clean.csv")
        shutil.copy(EXAMPLES / "data" / "type_errors.csv", uploads / "type_errors.csv")

    with served_instance(tmp_path_factory, "form-checks", prepare) as (base, folder, _proc):
        yield base, folder


browser = browser_fixture()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    with new_page(browser) as pg:
        yield pg


def shot(page: object, name: str, show: str | None = None) -> None:
    screenshot(page, f"form-checks-{name}", show)


def entry(section: str) -> str:
    return f".docket-checklist [data-section='{section}']"


def wait_state(page: object, section: str, state: str) -> None:
    page.locator(f"{entry(section)}[data-state='{state}']").wait_for(timeout=15_000)


def test_checklist_and_live_findings(page: object, served: tuple[str, Path]) -> None:
    base, _folder = served
    open_form(page, base, "?lang=en")
    wait_state(page, "provider", "errors")
    wait_state(page, "instrument_technical", "complete")
    shot(page, "checklist-fresh", ".docket-checklist")
    type_in(page, field("provider-name"), "Ana Lima")
    type_in(page, field("provider-email"), "ana.lima@example.org")
    wait_state(page, "provider", "complete")

    # A four-word title: QA's title check, set to "warn" in docket.toml, warns at the title.
    type_in(page, field("metadata-project_descriptive-title-en"), "CTD casts spring 2024")
    note = page.locator(".docket-finding-for-metadata-project_descriptive-title.docket-finding-warn")
    note.get_by_text("4 words (en), at least 5 needed").wait_for(timeout=15_000)
    assert "QA warning" in note.text_content()
    # The title itself is valid for the schema: no schema error under it.
    assert not page.locator(".docket-error-metadata-project_descriptive-title").inner_text().strip()
    shot(page, "title-warning", ".docket-finding-for-metadata-project_descriptive-title")
    # Abstract, keywords filled: what is left in the section is the title's warning.
    type_in(page, field("metadata-project_descriptive-abstract-en", "textarea"), " ".join(["word"] * 25))
    type_in(page, field("metadata-project_descriptive-keywords"), "ocean, CTD")
    wait_state(page, "project_descriptive", "warnings")
    type_in(page, field("metadata-project_descriptive-title-en"), "CTD casts in the Bay of Biscay")
    wait_state(page, "project_descriptive", "complete")
    page.locator(".docket-finding-for-metadata-project_descriptive-title:not(.docket-finding-warn)").wait_for(
        timeout=15_000)

    # An entry of the checklist takes the provider to its section's first problem on the page
    # (the licence, above the contact's missing name and e-mail).
    page.locator(f"{entry('dataset_administrative')} a").click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest("
        "'.docket-box-metadata-dataset_administrative-licence')", timeout=10_000)
    shot(page, "checklist-jump")
    # The submit button carries the standing verdict of QA's error-severity findings.
    gate = page.locator(".docket-qa-gate")
    gate.get_by_text("would reject this request").wait_for(timeout=10_000)
    shot(page, "gate", ".docket-qa-gate")


def test_fill_columns_and_check_this_file(page: object, served: tuple[str, Path]) -> None:
    base, _folder = served
    open_form(page, base, "?lang=en")
    type_in(page, field("files-0-name"), "clean.csv")
    type_in(page, field("files-0-location"), "uploads/b1/clean.csv")
    fill = page.locator(".docket-fill-columns-files-0")
    page.wait_for_function(
        "() => { const b = document.querySelector('.docket-fill-columns-files-0'); return b && !b.disabled; }",
        timeout=10_000)
    fill.click()
    result = page.locator(".docket-file-result-files-0")
    result.get_by_text("9 column(s) added from clean.csv").wait_for(timeout=20_000)
    names = page.locator(".docket-field-metadata-dataset_structural-fields-8-name input")
    names.wait_for(timeout=10_000)
    assert page.locator(field("metadata-dataset_structural-fields-0-name")).input_value() == "obs_id"
    assert names.input_value() == "rain"
    temperature_type = page.locator(field("metadata-dataset_structural-fields-5-type", "select"))
    assert temperature_type.locator("option:checked").inner_text() == "number"
    shot(page, "columns-filled", ".docket-field-metadata-dataset_structural-fields-0-name")
    # Editable afterwards, like any row.
    type_in(page, field("metadata-dataset_structural-fields-5-unit"), "degC")

    # Check the file with the seeded type errors against those columns: the report shows them.
    type_in(page, field("files-0-name"), "type_errors.csv")
    type_in(page, field("files-0-location"), "uploads/b1/type_errors.csv")
    page.locator(".docket-check-file-files-0").click()
    verdict = result.locator(".docket-file-verdict[data-errors='4']")
    verdict.wait_for(timeout=30_000)
    assert "type_errors.csv: 4 error(s)" in verdict.inner_text()
    failing = result.locator(".docket-file-check[data-check='table.type']")
    assert "row 3 obs_id '3a'" in failing.inner_text()
    shot(page, "file-checked", ".docket-file-result-files-0")
    # The full provider report, in a sandboxed frame.
    result.locator("details summary").click()
    frame = page.frame_locator(".docket-file-result-files-0 iframe")
    frame.locator("h1").first.wait_for(timeout=10_000)
    assert "type_errors.csv" in frame.locator("h1").first.inner_text()
    shot(page, "file-report", ".docket-file-result-files-0 iframe")

    # Outside the inbox: refused with a message, nothing read.
    type_in(page, field("files-0-location"), "../docket.toml")
    page.locator(".docket-check-file-files-0").click()
    result.get_by_text("climbs out of its folder").wait_for(timeout=15_000)
