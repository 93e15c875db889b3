"""The request form in a real browser: ``docket serve`` (Voila) driven by headless Chromium.

Debian's ``chromium`` is found with ``shutil.which`` and handed to Playwright; no browser is
ever downloaded. Screenshots land in ``test-artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import docket

from .browser import LOAD_TIMEOUT, browser_fixture, new_page, screenshot, served_instance
from .conftest import EXAMPLES
from .test_serve import OTHER_EMAIL, make_crafted_folder, make_other_instance

pytestmark = pytest.mark.browser

PAGE = "/"  # docket serve serves the request page alone, at the root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``docket serve`` on a free port over a fresh instance: (base URL, instance folder)."""
    with served_instance(tmp_path_factory, "browser") as (base, folder, proc):
        assert f"{base}{PAGE}" in proc.log_path.read_text(errors="replace"), "docket serve prints the page URL"
        yield base, folder


browser = browser_fixture()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    with new_page(browser) as pg:
        yield pg


def shot(page: object, name: str, show: str | None = None) -> None:
    """A screenshot for people, with ``show`` (a CSS selector) scrolled into view."""
    screenshot(page, name, show)


def open_form(page: object, base: str, query: str = "") -> None:
    page.goto(f"{base}{PAGE}{query}")
    page.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)


def type_in(page: object, css: str, value: str) -> None:
    """Type into an input and leave it, as a person does (the value syncs on change)."""
    box = page.locator(css).first
    box.fill(value)
    box.press("Tab")


def field(path: str, tag: str = "input") -> str:
    return f".docket-field-{path} {tag}"


def test_fill_see_error_correct_submit_and_edit(page: object, served: tuple[str, Path]) -> None:
    base, folder = served
    open_form(page, base, "?lang=en")
    type_in(page, field("provider-name"), "Ana Lima")
    type_in(page, field("provider-email"), "ana.lima@example")  # no dot in the domain
    error = page.locator(".docket-error-provider-email")
    error.get_by_text("is not a valid e-mail address").wait_for(timeout=10_000)
    shot(page, "form-live-error", ".docket-error-provider-email")
    type_in(page, field("provider-email"), "ana.lima@example.org")
    page.wait_for_function(
        "() => !document.querySelector('.docket-error-provider-email').innerText.trim()", timeout=10_000)

    type_in(page, field("provider-orcid"), "0000-0002-1825-0097")
    type_in(page, field("metadata-project_descriptive-title-en"), "CTD casts in the browser")
    type_in(page, field("metadata-project_descriptive-title-fr"), "Profils CTD dans le navigateur")
    type_in(page, field("metadata-project_descriptive-abstract-en", "textarea"), "Profiles from three stations.")
    type_in(page, field("metadata-project_descriptive-keywords"), "ocean, CTD")
    type_in(page, field("metadata-dataset_administrative-licence"), "CC-BY-4.0")
    type_in(page, field("metadata-dataset_administrative-contact-name"), "Ana Lima")
    type_in(page, field("metadata-dataset_administrative-contact-email"), "ana.lima@example.org")
    page.locator(field("metadata-dataset_administrative-access_rights", "select")).select_option(label="open")
    type_in(page, field("metadata-experiment_contextual-temporal_coverage-start"), "2024-05-13")
    type_in(page, field("metadata-experiment_contextual-temporal_coverage-end"), "2024-05-11")
    page.locator(".docket-error-metadata-experiment_contextual-temporal_coverage-end").get_by_text(
        "is before the start").wait_for(timeout=10_000)
    type_in(page, field("metadata-experiment_contextual-temporal_coverage-end"), "2024-05-14")
    type_in(page, field("files-0-name"), "ctd.csv")
    # Submit with a file location missing: refused, every error listed, nothing stored.
    page.click(".docket-submit")
    page.locator(".docket-problems li[data-path='$.files[0].location']").wait_for(timeout=10_000)
    shot(page, "form-refused", ".docket-problems")
    with docket.open(folder) as d:
        assert d.list() == []
    type_in(page, field("files-0-location"), "https://data.example.org/ctd.csv")
    page.click(".docket-submit")
    page.locator(".docket-summary").wait_for(timeout=20_000)
    request_id = page.locator(".docket-summary .docket-request-id").inner_text()  # the panel shows it too
    shot(page, "form-stored", ".docket-summary")

    with docket.open(folder) as d:
        record = d.get(request_id)
        assert record["revision"] == 1 and record["review_state"] == "submitted"
        assert record["provider"] == {"name": "Ana Lima", "email": "ana.lima@example.org",
                                      "orcid": "0000-0002-1825-0097"}
        assert record["metadata"]["experiment_contextual"]["temporal_coverage"] == {
            "start": "2024-05-13", "end": "2024-05-14"}
        bundles = d.prov_bundles(request_id)
        assert [b["template"] for b in bundles] == ["submission"]
        provn = d.prov(request_id).get_provn()
        assert '"https://orcid.org/0000-0002-1825-0097" %% xsd:anyURI' in provn and "Ana Lima" in provn

    # Opened again with the secret link the page showed once, the request is edited and saved
    # as a new revision.
    address = page.locator(".docket-link a").get_attribute("href")
    (link,) = parse_qs(urlsplit(address).query)["link"]
    open_form(page, base, f"?link={link}&lang=en")
    title = page.locator(field("metadata-project_descriptive-title-en"))
    assert title.input_value() == "CTD casts in the browser"
    type_in(page, field("metadata-project_descriptive-title-en"), "CTD casts, corrected")
    page.click(".docket-save-draft")  # "Save draft": a new revision, back in draft (issue 12)
    page.locator(".docket-summary .docket-request-revision").get_by_text("2").wait_for(timeout=20_000)
    shot(page, "form-revised", ".docket-summary")
    with docket.open(folder) as d:
        record = d.get(request_id)
        assert record["revision"] == 2 and record["review_state"] == "draft"
        assert record["metadata"]["project_descriptive"]["title"]["en"] == "CTD casts, corrected"
        assert d.get(request_id, 1)["metadata"]["project_descriptive"]["title"]["en"] == "CTD casts in the browser"
        assert len(d.prov_bundles(request_id)) == 2


@pytest.mark.parametrize(("lang", "email", "title"), [
    ("fr", "Courriel", "Demande d'intégration de données"),
    ("de", "E-Mail", "Antrag auf Datenaufnahme"),
])
def test_labels_follow_the_url_language(page: object, served: tuple[str, Path], lang: str, email: str,
                                        title: str) -> None:
    base, _ = served
    open_form(page, base, f"?lang={lang}")
    assert page.locator(".docket-title").inner_text() == title
    assert page.locator(".docket-box-provider-email .docket-label").inner_text().startswith(email)
    shot(page, f"form-{lang}")
    # The selector switches the page language without reloading.
    page.locator(".docket-language select").select_option(label="English")
    page.locator(".docket-title").get_by_text("Ingest request").wait_for(timeout=10_000)


def test_the_address_cannot_open_another_instance(page: object, served: tuple[str, Path], tmp_path: Path) -> None:
    """``?instance=`` used to open any folder: a visitor read the other instance's ``ocean-0001``
    (its provider's e-mail in the form) and a crafted ``docket.toml`` made a store where it said."""
    base, folder = served
    with docket.open(folder) as d:
        if not any(r["id"] == "ocean-0001" for r in d.list()):
            d.submit(EXAMPLES / "requests" / "ctd-multilingual.json")
        link = d.new_link("ocean-0001")["link"]
    other = make_other_instance(tmp_path)
    crafted, target = make_crafted_folder(tmp_path)
    for query in (f"?instance={other}&id=ocean-0001", f"?instance={crafted}&id=ocean-0001"):
        page.goto(f"{base}{PAGE}{query}")
        page.wait_for_selector(".docket-page-error", timeout=LOAD_TIMEOUT)
        assert "?instance" in page.locator(".docket-page-error").first.inner_text()
        # Everything the page shows or holds: its text and every field's value.
        seen = page.evaluate("""() => document.body.innerText + ' ' + Array.from(
            document.querySelectorAll('input, textarea, select')).map(e => e.value).join(' ')""")
        assert OTHER_EMAIL not in seen and page.locator(".docket-submit").count() == 0
    shot(page, "form-other-instance-refused", ".docket-page-error")
    assert not target.exists() and sorted(p.name for p in crafted.iterdir()) == ["docket.toml"]
    # The served instance's own request still opens (with its provider's link), with its own provider.
    open_form(page, base, f"?link={link}&lang=en")
    assert page.locator(field("provider-email")).input_value() != OTHER_EMAIL
