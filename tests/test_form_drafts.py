"""Drafts on the served form (issue 12, item 2), in headless Chromium against a real ``docket serve``.

A provider fills half the form and clicks "Save draft": the store holds an incomplete draft and
the page shows the secret link once; drafts.js puts it in the address and in this tab's
sessionStorage. A reload brings the same values back; the plain address in the same tab offers
the way back to the draft; a new browser context (the browser closed) comes back with the link.
Completed, "Submit for review" double-clicked is one submission: one new revision, one move to
``submitted``; two clicks sent while the kernel is busy on a new form make one request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import docket

from .test_browser import LOAD_TIMEOUT, browser, field, open_form, served, shot, type_in  # noqa: F401  (module fixtures: one server, one browser)

pytestmark = pytest.mark.browser

HALF = {  # what the provider types before saving the draft
    field("provider-name"): "Ana Lima",
    field("provider-email"): "ana.lima@example.org",
    field("metadata-project_descriptive-title-en"): "CTD casts of a draft",
    field("metadata-project_descriptive-abstract-en", "textarea"): "Profiles from three stations.",
}


def fill(page: Any, values: dict[str, str]) -> None:
    for css, value in values.items():
        type_in(page, css, value)


def complete(page: Any) -> None:
    """The rest of what a request needs, as test_browser fills it."""
    fill(page, {
        field("metadata-project_descriptive-keywords"): "ocean, CTD",
        field("metadata-dataset_administrative-licence"): "CC-BY-4.0",
        field("metadata-dataset_administrative-contact-name"): "Ana Lima",
        field("metadata-dataset_administrative-contact-email"): "ana.lima@example.org",
        field("metadata-experiment_contextual-temporal_coverage-start"): "2024-05-13",
        field("metadata-experiment_contextual-temporal_coverage-end"): "2024-05-14",
        field("files-0-name"): "ctd.csv",
        field("files-0-location"): "https://data.example.org/ctd.csv",
    })
    page.locator(field("metadata-dataset_administrative-access_rights", "select")).select_option(label="open")


def values(page: Any) -> dict[str, str]:
    return {css: page.locator(css).first.input_value() for css in HALF}


def link_in_address(page: Any) -> str:
    page.wait_for_function("() => new URLSearchParams(location.search).has('link')", timeout=20_000)
    (link,) = parse_qs(urlsplit(page.url).query)["link"]
    return link


def test_save_half_a_form_reload_come_back_and_submit_once(browser: Any, served: tuple[str, Path]) -> None:  # noqa: F811
    base, folder = served
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    open_form(page, base, "?lang=en")
    assert page.locator(".docket-save-draft").inner_text().strip() == "Save draft"
    assert page.locator(".docket-submit").inner_text().strip() == "Submit for review"
    fill(page, HALF)
    page.click(".docket-save-draft")
    page.locator(".docket-summary").wait_for(timeout=20_000)
    request_id = page.locator(".docket-summary .docket-request-id").inner_text()
    # Shown once, in the summary; then in the address and this tab's storage (not localStorage).
    assert page.locator(".docket-summary .docket-link").count() == 1
    link = link_in_address(page)
    assert page.evaluate("() => Object.values(sessionStorage)") == [link]
    assert page.evaluate("() => localStorage.length") == 0
    assert page.locator(".docket-draft-missing li").count() >= 3  # what is still to fill, by label
    shot(page, "drafts-1-saved", ".docket-summary")
    with docket.open(folder) as d:
        record = d.get(request_id)
        assert (record["revision"], record["review_state"]) == (1, "draft")
        assert record["provider"] == {"name": "Ana Lima", "email": "ana.lima@example.org"}
        # (the form's empty file row is kept, so the page shows it again; nothing in it yet)
        assert record.get("files", [{}]) == [{}] and "licence" not in record["metadata"].get("dataset_administrative", {})

    # A reload: the same values come back, from the store; the link is no longer in the page.
    page.reload()
    page.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)
    assert values(page) == HALF
    assert link not in page.locator("body").inner_text()
    # The form's plain address in the same tab offers the draft (drafts.js: before the form renders).
    page.goto(f"{base}/?lang=en")
    offer = page.locator(".docket-draft-offer")
    offer.wait_for(timeout=10_000)
    shot(page, "drafts-2-offer", ".docket-draft-offer")
    page.click(".docket-draft-return")  # back to ?link=... (what that address opens: the reload above)
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("link") == [link], timeout=20_000)
    context.close()

    # The browser closed; the provider comes back with the link (from the page, or their notes).
    again = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = again.new_page()
        open_form(page, base, f"?link={link}&lang=en")
        assert values(page) == HALF
        assert "docket-edit-to-draft" not in page.content()  # a draft: its own note
        # Incomplete, "Submit for review" is refused on the page, naming what is missing.
        page.click(".docket-submit")
        page.locator(".docket-problems li[data-path='$.files[0].location']").wait_for(timeout=20_000)
        with docket.open(folder) as d:
            assert d.get(request_id)["revision"] == 1 and d.get(request_id)["review_state"] == "draft"
        complete(page)
        page.locator(".docket-submit").dblclick()  # a real double click: one submission
        page.locator(".docket-summary .docket-request-revision").get_by_text("2").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # the second click's turn in the kernel
        shot(page, "drafts-3-submitted", ".docket-summary")
        with docket.open(folder) as d:
            record = d.get(request_id)
            assert (record["revision"], record["review_state"]) == (2, "submitted")
            assert record["files"][0]["location"] == "https://data.example.org/ctd.csv"
            history = d.history(request_id)
            states = [(h["from"], h["to"]) for h in history if h["kind"] == "review"]
            assert states == [(None, "draft"), ("draft", "submitted")]
            assert [h["to"] for h in history if h["kind"] == "revision"] == [f"{request_id}.1", f"{request_id}.2"]
            assert len(d.list()) == 1
    finally:
        again.close()


def test_two_quick_clicks_on_a_new_form_make_one_request(browser: Any, served: tuple[str, Path]) -> None:  # noqa: F811
    base, folder = served
    with docket.open(folder) as d:
        before = {r["id"] for r in d.list()}
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = ctx.new_page()
        open_form(page, base, "?lang=en")
        fill(page, HALF)
        complete(page)
        # Two clicks sent at once: the second reaches the kernel while it stores the first.
        page.evaluate("() => { const b = document.querySelector('button.docket-submit'); b.click(); b.click(); }")
        page.locator(".docket-summary").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        request_id = page.locator(".docket-summary .docket-request-id").inner_text()
        link_in_address(page)  # a new form's first save, submit included, hands over the link
        with docket.open(folder) as d:
            assert {r["id"] for r in d.list()} - before == {request_id}
            record = d.get(request_id)
            assert (record["revision"], record["review_state"]) == (1, "submitted")
            assert [(h["from"], h["to"]) for h in d.history(request_id) if h["kind"] == "review"] == [
                ("draft", "submitted")]
    finally:
        ctx.close()

