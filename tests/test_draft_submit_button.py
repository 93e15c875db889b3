"""One way to send a saved draft for review, in headless Chromium against a real ``docket serve``.

The page once showed two buttons on a saved draft: the form's "Submit for review" and an older
"Resubmit for review" (``docket-resubmit``). Now there is only "Submit for review". These tests
open saved drafts by their link, as a provider does, and check that the one button

* is the only visible control that sends the request for review;
* refuses an incomplete draft on the page, listing every field the core would name (rule
  ``complete-to-submit``), and stores nothing;
* sends back, as it is, a draft that a reviewer returned with "request changes" (what the old
  button was for): the state moves to ``submitted`` with no new revision, and the page says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.errors import Refused

from .conftest import EXAMPLES
from .people import as_role
from .test_browser import LOAD_TIMEOUT, browser, open_form, served, shot  # noqa: F401  (module fixtures: one server, one browser)
from .test_form_drafts import HALF, fill, link_in_address
from .test_provider_page import ABSTRACT, CTD, REVIEWER_SAYS, submitted_anonymously

pytestmark = pytest.mark.browser

# Every visible button whose words speak of review, with its classes (the controls a provider
# could take for "send it for review").
REVIEW_BUTTONS = """() => Array.from(document.querySelectorAll('button'))
    .filter(b => b.offsetParent !== null && /review|relecture|prüfung/i.test(b.innerText))
    .map(b => [b.className, b.innerText.trim()])"""


def review_buttons(page: Any) -> list[tuple[str, str]]:
    return [(classes, words) for classes, words in page.evaluate(REVIEW_BUTTONS)]


def assert_one_submit(page: Any) -> None:
    """Exactly one visible control sends the request for review: the form's "Submit for review"."""
    buttons = review_buttons(page)
    assert len(buttons) == 1, buttons
    classes, words = buttons[0]
    assert "docket-submit" in classes.split() and words == "Submit for review"
    assert page.locator(".docket-resubmit").count() == 0


def test_incomplete_draft_has_one_submit_that_lists_every_missing_field(
        browser: Any, served: tuple[str, Path]) -> None:  # noqa: F811
    base, folder = served
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        open_form(page, base, "?lang=en")
        fill(page, HALF)
        page.click(".docket-save-draft")
        page.locator(".docket-summary").wait_for(timeout=20_000)
        request_id = page.locator(".docket-summary .docket-request-id").inner_text()
        link = link_in_address(page)
        with docket.open(folder) as d:
            # What the core refuses when this draft is sent: every field it still lacks.
            with pytest.raises(Refused) as refusal:
                d.as_link(link).review(request_id, "submitted")
            assert refusal.value.rule == "complete-to-submit"
            core_missing = {p.where for p in refusal.value.problems}
        assert core_missing

        # The saved draft, opened by its link (a fresh visit): one way to send it.
        open_form(page, base, f"?link={link}&lang=en")
        assert page.locator(".docket-draft-note").is_visible()
        assert_one_submit(page)
        page.click(".docket-submit")
        page.locator(".docket-problems li").first.wait_for(timeout=20_000)
        listed = set(page.locator(".docket-problems li").evaluate_all(
            "items => items.map(li => li.getAttribute('data-path'))"))
        # Each field the core names is listed on the page (at it, or at the form field holding it).
        unnamed = [w for w in core_missing if not any(w == p or w.startswith(p + ".") or w.startswith(p + "[")
                                                      for p in listed)]
        assert unnamed == [], (sorted(core_missing), sorted(listed))
        words = page.locator(".docket-problems").inner_text()
        assert "Licence" in words and "File name" in words  # by label, not by JSON path
        shot(page, "submit-button-1-incomplete-refused", ".docket-problems")
        with docket.open(folder) as d:
            record = d.get(request_id)
            assert (record["revision"], record["review_state"]) == (1, "draft")
            assert [(h["from"], h["to"]) for h in d.history(request_id) if h["kind"] == "review"] == [(None, "draft")]
    finally:
        context.close()


def test_draft_returned_with_request_changes_is_resubmitted_by_the_one_button(
        browser: Any, served: tuple[str, Path]) -> None:  # noqa: F811
    base, folder = served
    with docket.open(folder) as d:
        sent = submitted_anonymously(d)
        rid = sent["id"]
        as_role(d, "reviewer").review(rid, "request-changes", comment=REVIEWER_SAYS, fields=[ABSTRACT])
        assert d.get(rid)["review_state"] == "draft"
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        open_form(page, base, f"?link={sent['link']}&lang=en")
        page.wait_for_selector(".docket-request-status", timeout=LOAD_TIMEOUT)
        assert page.locator(".docket-review-state").inner_text().startswith("Draft")
        assert REVIEWER_SAYS in page.locator(".docket-reviewer-note").inner_text()
        note = page.locator(".docket-draft-note").inner_text()
        assert "Submit for review" in note and "Resubmit for review" not in page.locator("body").inner_text()
        assert_one_submit(page)
        shot(page, "submit-button-2-returned-draft", ".docket-submit")
        page.locator(".docket-submit").dblclick()  # a double click: one move
        page.locator(".docket-resubmitted").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # the second click's turn in the kernel
        assert page.locator(".docket-review-state").inner_text().startswith("Submitted")
        assert page.locator(".docket-summary h3").inner_text().startswith("Resubmitted for review")
        assert_one_submit(page)
        shot(page, "submit-button-3-resubmitted", ".docket-summary")
        with docket.open(folder) as d:
            record = d.get(rid)
            assert (record["revision"], record["review_state"]) == (1, "submitted")  # sent as it was
            moves = [(h["from"], h["to"], h["role"]) for h in d.history(rid) if h["kind"] == "review"]
            assert moves == [("draft", "submitted", "provider"), ("submitted", "draft", "reviewer"),
                             ("draft", "submitted", "provider")]
    finally:
        context.close()


def test_complete_draft_never_sent_is_submitted_not_resubmitted(
        browser: Any, served: tuple[str, Path]) -> None:  # noqa: F811
    """A complete draft saved and never sent goes for review as it is, and the page says
    "Submitted for review": "Resubmitted" is for what the reviewers saw before."""
    base, folder = served
    with docket.open(folder) as d:
        doc = json.loads(CTD.read_text(encoding="utf-8"))
        shutil.copy(EXAMPLES / "files" / doc["files"][0]["name"], d.instance.root / "inbox")
        doc["files"][0]["location"] = doc["files"][0]["name"]
        saved = d.anonymously().submit(doc, origin="voila form ingest-request", state="draft")
        rid = saved["id"]
        assert d.get(rid)["review_state"] == "draft"
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        open_form(page, base, f"?link={saved['link']}&lang=en")
        page.wait_for_selector(".docket-request-status", timeout=LOAD_TIMEOUT)
        assert_one_submit(page)
        page.click(".docket-submit")
        page.locator(".docket-summary h3").wait_for(timeout=30_000)
        assert page.locator(".docket-summary h3").inner_text().startswith("Submitted for review")
        assert page.locator(".docket-resubmitted").count() == 0
        with docket.open(folder) as d:
            record = d.get(rid)
            assert (record["revision"], record["review_state"]) == (1, "submitted")
    finally:
        context.close()
