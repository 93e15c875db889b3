"""The provider's side of the review: their secret link opens their request on the served page.

The "done when" path of issue 9, as a provider lives it: submit through the public form (nobody
signed in) and get the link on the page; a reviewer (an account, through the API) requests
changes with a comment on a field; the provider opens the link, sees the comment in the thread
and beside the field, answers it, edits the field (revision 2) and resubmits. The store is
checked after each step. A wrong link shows the one refusal and nothing else.

The browser test drives the real ``docket serve`` (Voila) in Debian's headless Chromium, as
tests/test_browser.py does; the other tests call the page and the status panel directly, for
every review state and language, so the words are checked without a kernel.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ipywidgets as W
import pytest

import docket
from docket.api import Docket
from docket.errors import Refused
from docket.forms import load_form
from docket.forms import status as st
from docket.forms.page import RequestPage, query_parameters, request_page
from docket.people.links import REFUSED_LINK

from .conftest import EXAMPLES
from .people import as_role

CTD = EXAMPLES / "requests" / "ctd-multilingual.json"
ABSTRACT = "$.metadata.project_descriptive.abstract"
REVIEWER_SAYS = "Please name the <stations> & their depths."
LANGUAGES = ("en", "fr", "de")


def texts(language: str, form: str = "ingest-request") -> st.Texts:
    return st.catalogue(load_form(form).ui["text"], language)


def catalogue_value(key: str, language: str, form: str = "ingest-request") -> str:
    return load_form(form).ui["text"][key][language]


def wrong_link() -> str:
    """A link of the right shape that no instance ever made."""
    return f"dl_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)[:32]}"


def shown(widget: W.Widget) -> str:
    """Every text a widget tree shows (HTML values, input values, button labels)."""
    out: list[str] = []
    stack = [widget]
    while stack:
        w = stack.pop()
        for trait in ("value", "description", "placeholder"):
            v = getattr(w, trait, None)
            if isinstance(v, str):
                out.append(v)
        stack.extend(getattr(w, "children", ()))
    return "\n".join(out)


def with_class(widget: W.Widget, name: str) -> list[W.Widget]:
    """Every widget of a tree that carries the CSS class ``name`` (what the browser would find)."""
    found, stack = [], [widget]
    while stack:
        w = stack.pop()
        if name in getattr(w, "_dom_classes", ()):
            found.append(w)
        stack.extend(getattr(w, "children", ()))
    return found


def one_way_to_submit(page: RequestPage) -> bool:
    """The page offers one button that sends the request for review: the form's own, no other."""
    return (with_class(page.widget, "docket-submit") == [page.view.submit_button]
            and with_class(page.widget, "docket-resubmit") == [])


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Docket]:
    """A fresh SQLite instance, opened by its admin (the key docket init wrote)."""
    d = docket.init(tmp_path / "inst", project="ocean", base_uri="https://data.example.org/ocean/")
    yield d
    d.close()


def submitted_anonymously(dk: Docket) -> dict[str, Any]:
    """A request sent through the public page's path: nobody signed in; the result has the link."""
    doc = json.loads(CTD.read_text(encoding="utf-8"))
    # Where the page takes files from: the instance's inbox (a relative location is read there).
    shutil.copy(EXAMPLES / "files" / doc["files"][0]["name"], dk.instance.root / "inbox")
    doc["files"][0]["location"] = doc["files"][0]["name"]
    result = dk.anonymously().submit(doc, origin="voila form ingest-request")
    assert result["link"] and result["revision"] == 1
    return result


# -- the status panel, called directly --------------------------------------------------------------

STATE_WORDS = {
    "draft": {"en": "Draft", "fr": "Brouillon", "de": "Entwurf"},
    "submitted": {"en": "Submitted", "fr": "Envoyée", "de": "Eingereicht"},
    "approved": {"en": "Approved", "fr": "Acceptée", "de": "Angenommen"},
    "rejected": {"en": "Rejected", "fr": "Refusée", "de": "Abgelehnt"},
    "retired": {"en": "Retired", "fr": "Retirée", "de": "Zurückgezogen"},
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state", list(STATE_WORDS))
def test_status_panel_says_the_state_in_the_page_language(state: str, language: str) -> None:
    record = {"id": "ocean-0007", "revision": 3, "review_state": state,
              "steps": {"transfer": {"status": "closed", "outcome": "done"}, "qa": {"status": "open"}}}
    panel = st.status_html(record, None, texts(language))
    words = re.search(r"<span class='docket-review-state' data-state='(\w+)'>([^<]*)</span>", panel)
    assert words and words[1] == state
    assert words[2].startswith(STATE_WORDS[state][language])
    assert words[2] == catalogue_value(f"state_{state}", language).replace("'", "&#x27;")
    note = re.search(r"<p class='docket-state-note'>([^<]*)</p>", panel)
    assert note and note[1] == catalogue_value(f"state_note_{state}", language).replace("'", "&#x27;")
    assert "<b class='docket-request-id'>ocean-0007</b>" in panel
    assert "<span class='docket-request-revision'>3</span>" in panel
    transfer = re.search(r"<span class='docket-transfer-status'>([^<]*)</span>", panel)
    assert transfer and transfer[1] == (f"{catalogue_value('status_closed', language)}, "
                                        f"{catalogue_value('outcome_done', language)}")
    assert catalogue_value("qa_not_run", language) in panel
    # Nothing of the English defaults leaks into a French or German page.
    if language != "en":
        assert st.STATE_WORDS[state] not in panel and "Quality checks" not in panel


def test_every_new_text_is_in_all_three_languages_of_both_forms() -> None:
    keys = (
        [f"state_{s}" for s in st.STATE_WORDS] + [f"state_note_{s}" for s in st.STATE_NOTES]
        + [f"status_{s}" for s in st.STEP_WORDS] + [f"outcome_{o}" for o in st.OUTCOME_WORDS]
        + [f"role_{r}" for r in st.ROLE_WORDS]
        + ["status_heading", "transfer", "qa", "qa_not_run", "qa_failed", "qa_counts", "qa_failing", "qa_error",
           "qa_warn", "comments", "no_comments", "comment_on", "field_comment", "reply", "reply_placeholder",
           "reply_empty", "edit_to_draft", "draft_resubmit", "resubmitted", "unchanged",
           "back_to_draft", "saved_draft"]
    )
    for form in ("ingest-request", "file-resubmission"):
        catalogue = load_form(form).ui["text"]
        missing = [(k, lang) for k in keys for lang in LANGUAGES
                   if not isinstance(catalogue.get(k, {}).get(lang), str) or not catalogue[k][lang].strip()]
        assert missing == [], form
        # The catalogues of both forms say the same thing.
        assert {k: catalogue[k] for k in keys} == {k: load_form("ingest-request").ui["text"][k] for k in keys}
        assert "?id=" not in json.dumps(catalogue["needs_request"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_qa_summary_shows_counts_and_the_failing_checks(language: str) -> None:
    qa = {"status": "closed", "outcome": "rejected", "errors": 4, "warnings": 1, "failing": [
        {"id": "csv.types", "name": "Values <match> types", "status": "error", "file": "a&b.csv", "count": 4},
        {"id": "meta.abstract", "name": "Abstract length", "status": "warn", "file": None, "count": 1},
    ]}
    t = texts(language)
    html = st.qa_html(qa, t)
    counts = catalogue_value("qa_counts", language).format(errors=4, warnings=1)
    assert f"data-errors='4' data-warnings='1'>({counts})</span>" in html
    assert "docket-status-bad" in html
    assert re.findall(r"data-check='([^']+)'", html) == ["csv.types", "meta.abstract"]
    assert "Values &lt;match&gt; types" in html and "a&amp;b.csv" in html and "<match>" not in html
    assert f": {catalogue_value('qa_error', language)} ×4" in html
    assert f": {catalogue_value('qa_warn', language)} ×1" in html
    assert html.startswith(f"<span class='docket-qa-status'>{catalogue_value('status_closed', language)}, "
                           f"{catalogue_value('outcome_rejected', language)}")
    clean = st.qa_html({"status": "closed", "outcome": "done", "errors": 0, "warnings": 0, "failing": []}, t)
    assert "docket-status-ok" in clean and "docket-qa-failing" not in clean
    failed = st.qa_html({"status": "closed", "outcome": "failed", "errors": None, "warnings": None,
                         "failing": []}, t)
    assert catalogue_value("qa_failed", language).replace("'", "&#x27;") in failed and "data-errors" not in failed


class _RunsOnly:
    """What qa_summary reads of a Docket: the request's PROV bundles and the runs folder."""

    def __init__(self, root: Path, runs: list[int]) -> None:
        self.instance = type("I", (), {"runs_dir": root})()
        self._runs = runs

    def prov_bundles(self, request_id: str) -> list[dict[str, Any]]:
        return [{"step": "transfer", "n": 1}] + [{"step": "qa", "n": n} for n in self._runs]


def test_qa_summary_reads_the_step_and_the_latest_recorded_report(tmp_path: Path) -> None:
    runs = tmp_path / "ocean-0001"
    runs.mkdir()
    check = {"id": "csv.columns", "name": "Column count", "status": "error", "file": "x.csv", "count": 2}
    (runs / "qa-1.report.json").write_text(json.dumps({"summary": {"errors": 9, "warnings": 9}, "checks": [
        {**check, "id": "old.run"}]}), encoding="utf-8")
    (runs / "qa-2.report.json").write_text(json.dumps({"summary": {"errors": 2, "warnings": 0}, "checks": [
        check, {"id": "fine", "status": "valid", "count": 0}]}), encoding="utf-8")
    (runs / "qa-3.report.json").write_text("{}", encoding="utf-8")  # a run never recorded
    comment = "errors: 2 errors in 1 checks, 0 warnings in 0 checks, 5 checks passed, 0 not checked"
    record = {"id": "ocean-0001", "steps": {"qa": {"status": "closed", "outcome": "rejected", "comment": comment}}}
    qa = st.qa_summary(_RunsOnly(tmp_path, [1, 2]), record)
    assert qa == {"status": "closed", "outcome": "rejected", "errors": 2, "warnings": 0,
                  "failing": [{"id": "csv.columns", "name": "Column count", "status": "error", "file": "x.csv",
                               "count": 2}]}
    # Without a report the counts still come from the step's comment.
    alone = st.qa_summary(_RunsOnly(tmp_path / "none", [1]), record)
    assert (alone["errors"], alone["warnings"], alone["failing"]) == (2, 0, [])
    assert st.qa_summary(_RunsOnly(tmp_path, []), {"id": "ocean-0001", "steps": {"qa": {"status": "open"}}}) is None
    failed = {"id": "ocean-0001", "steps": {"qa": {"status": "closed", "outcome": "failed",
                                                   "comment": "the stored file /srv/files/x.csv is missing"}}}
    assert st.qa_summary(_RunsOnly(tmp_path, [1, 2]), failed) == {
        "status": "closed", "outcome": "failed", "errors": None, "warnings": None, "failing": []}


def test_threads_group_replies_and_escape_what_people_wrote() -> None:
    comments = [
        {"id": 1, "revision": 1, "parent": None, "field": ABSTRACT, "text": "<script>x()</script>",
         "author": "eva@example.org", "role": "reviewer", "at": "2026-11-30T10:00:00+00:00"},
        {"id": 2, "revision": 1, "parent": None, "field": None, "text": "General", "author": "Eva",
         "role": "reviewer", "at": "2026-11-30T10:01:00+00:00"},
        {"id": 3, "revision": 1, "parent": 1, "field": ABSTRACT, "text": "Done & <b>fixed</b>",
         "author": "ana@example.org", "role": "provider", "at": "2026-11-30T11:00:00+00:00"},
        {"id": 4, "revision": 2, "parent": 3, "field": ABSTRACT, "text": "Thanks", "author": "Eva",
         "role": "reviewer", "at": "2026-11-30T12:00:00+00:00"},
    ]
    groups = st.threads(comments)
    assert [(root["id"], [r["id"] for r in replies]) for root, replies in groups] == [(1, [3, 4]), (2, [])]
    html = st.thread_html(*groups[0], texts("de"), field_label="Zusammenfassung")
    assert "<script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "Done &amp; &lt;b&gt;fixed&lt;/b&gt;" in html
    assert html.count("docket-comment-reply") == 2
    assert "<b>Prüfer</b> eva@example.org" in html and "<b>Datengeber</b> ana@example.org" in html
    assert "zu <i>Zusammenfassung</i>" in html
    assert set(st.by_field(comments)) == {ABSTRACT} and [c["id"] for c in st.by_field(comments)[ABSTRACT]] == [1, 3, 4]


# -- the page, called directly --------------------------------------------------------------------


def test_link_page_shows_status_thread_and_the_note_beside_the_field(inst: Docket) -> None:
    sent = submitted_anonymously(inst)
    as_role(inst, "reviewer").review(sent["id"], "request-changes", comment=REVIEWER_SAYS, fields=[ABSTRACT])
    page = RequestPage(inst.anonymously(), "ingest-request", "fr", sent["link"])
    assert page.request_id == sent["id"] and page.linked
    assert "data-state='draft'" in page.panel.value
    assert catalogue_value("state_draft", "fr").replace("'", "&#x27;") in page.panel.value
    # The thread: the reviewer's comment, escaped, with a reply box.
    thread = page.thread_box.children[1]
    assert "docket-thread" in thread._dom_classes
    assert "Please name the &lt;stations&gt; &amp; their depths." in thread.children[0].value
    assert "<stations>" not in shown(page.widget)
    # Beside the field: a note under the abstract's inputs, and only there.
    abstract = page.view.field("metadata.project_descriptive.abstract")
    notes = [c for c in abstract.box.children if "docket-reviewer-note" in c._dom_classes]
    assert len(notes) == 1 and "&lt;stations&gt;" in notes[0].value and "docket-commented" in abstract.box._dom_classes
    others = [f for f in page.view.walk() if f is not abstract
              and any("docket-reviewer-note" in c._dom_classes for c in f.box.children)]
    assert others == []
    # A draft is sent with the form's one "Submit for review" button; the link never appears in the page.
    assert one_way_to_submit(page) and not page.view.submit_button.disabled
    assert "docket-draft-note" in page.notice.value
    assert sent["link"] not in shown(page.widget)
    # Switching the language redraws everything, with one note still.
    page.set_language("de")
    assert "Entwurf" in page.panel.value and page.view.submit_button.description == "Zur Prüfung einreichen"
    assert len([c for c in abstract.box.children if "docket-reviewer-note" in c._dom_classes]) == 1


def test_link_page_edit_reply_and_resubmit_each_happen_once(inst: Docket) -> None:
    sent = submitted_anonymously(inst)
    rid = sent["id"]
    page = RequestPage(inst.anonymously(), "ingest-request", "en", sent["link"])
    # Submitted: the page says plainly that saving sends it back to draft; one button to submit.
    assert "docket-edit-to-draft" in page.notice.value and one_way_to_submit(page)
    # Saving the unchanged form (or a second click) makes no revision.
    assert page.view.submit()["unchanged"] is True
    assert inst.get(rid)["revision"] == 1 and inst.get(rid)["review_state"] == "submitted"
    abstract = page.view.field("metadata.project_descriptive.abstract")
    abstract.inputs["en"].value = "Profiles at stations S1 (200 m), S2 (450 m) and S3 (1200 m)."
    result = page.view.save_draft()  # "Save draft" on a submitted request: a new revision, in draft
    assert result["revision"] == 2 and "docket-back-to-draft" in page.view.status.value
    summary = page.view.status.value
    assert page.view.save_draft() is result  # the double click: nothing stored, the summary stays
    assert page.view.status.value == summary
    record = inst.get(rid)
    assert (record["revision"], record["review_state"]) == (2, "draft")
    assert record["metadata"]["project_descriptive"]["abstract"]["en"].startswith("Profiles at stations S1")
    assert "docket-draft-note" in page.notice.value and one_way_to_submit(page)
    sent_again = page.view.submit()  # "Submit for review" on the unchanged draft: sent as it is
    assert page.view.submit() is sent_again  # a second click, queued behind the first
    assert inst.get(rid)["review_state"] == "submitted" and inst.get(rid)["revision"] == 2
    moves = [(h["from"], h["to"]) for h in inst.history(rid) if h["kind"] == "review"]
    assert moves == [("draft", "submitted"), ("submitted", "draft"), ("draft", "submitted")]
    assert "docket-resubmitted" in page.view.status.value and "docket-edit-to-draft" in page.notice.value


def test_first_submit_twice_is_one_request_and_keeps_the_link(inst: Docket) -> None:
    from .test_forms import fill_minimal

    page = RequestPage(inst.anonymously(), "ingest-request", "en", None)
    assert page.panel.value == "" and page.thread_box.children == ()
    fill_minimal(page.view)
    first = page.view.submit()
    summary = page.view.status.value
    assert first["link"] in summary and "docket-link" in summary
    assert page.view.submit() is first and page.view.status.value == summary  # the second click
    assert [r["id"] for r in inst.list()] == [first["id"]] and inst.get(first["id"])["revision"] == 1
    # The page now shows the request it made, to its provider.
    assert "data-state='submitted'" in page.panel.value
    page.view.field("metadata.project_descriptive.abstract").inputs["en"].value = "Changed after sending."
    second = page.view.submit()
    assert second["revision"] == 2 and "docket-link" not in page.view.status.value  # the link, once
    assert first["link"] not in shown(page.widget)


def test_approved_request_shows_qa_summary_and_retired_cannot_be_saved(inst: Docket) -> None:
    sent = submitted_anonymously(inst)
    rid = sent["id"]
    as_role(inst, "reviewer").review(rid, "approved")
    manager = as_role(inst, "data-manager")
    manager.set_step(rid, "transfer", "closed", "done")
    manager.set_step(rid, "qa", "closed", "rejected",
                     comment="errors: 3 errors in 2 checks, 1 warnings in 1 checks, 4 checks passed, 0 not checked")
    runs = inst.instance.runs_dir / rid
    runs.mkdir(parents=True)
    (runs / "qa-1.report.json").write_text(json.dumps({"summary": {"errors": 3, "warnings": 1}, "checks": [
        {"id": "csv.types", "name": "Values match <types>", "status": "error", "file": "ctd.csv", "count": 3},
        {"id": "csv.encoding", "name": "Encoding", "status": "valid", "file": "ctd.csv", "count": 0},
        {"id": "meta.abstract", "name": "Abstract length", "status": "warn", "file": None, "count": 1},
    ]}), encoding="utf-8")
    page = RequestPage(inst.anonymously(), "ingest-request", "de", sent["link"])
    panel = page.panel.value
    assert "Angenommen" in panel and "abgeschlossen, erledigt" in panel
    assert "data-errors='3' data-warnings='1'>(3 Fehler, 1 Warnungen)" in panel
    assert re.findall(r"data-check='([^']+)'", panel) == ["csv.types", "meta.abstract"]
    assert "Values match &lt;types&gt;" in panel
    assert "docket-edit-to-draft" in page.notice.value and one_way_to_submit(page)
    assert not page.view.submit_button.disabled
    manager.review(rid, "retired")
    retired = RequestPage(inst.anonymously(), "ingest-request", "en", sent["link"])
    assert "data-state='retired'" in retired.panel.value and retired.view.submit_button.disabled
    assert catalogue_value("state_note_retired", "en") in retired.notice.value


def test_reply_box_answers_its_thread(inst: Docket) -> None:
    sent = submitted_anonymously(inst)
    reviewer = as_role(inst, "reviewer")
    reviewer.review(sent["id"], "request-changes", comment=REVIEWER_SAYS, fields=[ABSTRACT])
    reviewer.comment(sent["id"], "And a licence, please.")
    page = RequestPage(inst.anonymously(), "ingest-request", "en", sent["link"])
    second = page.thread_box.children[2]
    text, buttons = second.children[1], second.children[2]
    button, said = buttons.children
    page.reply(2, text, button, said)  # an empty box answers nothing
    assert "Write your answer first." in said.value
    text.value = "CC-BY-4.0 <i>is</i> fine"
    page.reply(2, text, button, said)
    page.reply(2, text, button, said)  # the second click finds the box emptied: says nothing
    assert said.value == "" and text.value == ""
    comments = inst.comments(sent["id"])
    replies = [c for c in comments if c["parent"] is not None]
    assert [(c["parent"], c["text"], c["role"], c["field"]) for c in replies] == [
        (2, "CC-BY-4.0 <i>is</i> fine", "provider", None)]
    redrawn = page.thread_box.children[2].children[0].value
    assert "CC-BY-4.0 &lt;i&gt;is&lt;/i&gt; fine" in redrawn and "docket-comment-reply" in redrawn
    # The same box answers again; what is typed survives a switch of language.
    assert page.thread_box.children[2].children[1] is text
    text.value = "Und noch etwas"
    page.set_language("de")
    assert text.value == "Und noch etwas" and button.description == "Antworten"
    page.reply(2, text, button, said)
    assert [c["text"] for c in inst.comments(sent["id"]) if c["parent"] == 2] == [
        "CC-BY-4.0 <i>is</i> fine", "Und noch etwas"]


@pytest.mark.parametrize("query", [
    lambda: f"link={wrong_link()}",
    lambda: "link=dl_short",
    lambda: f"lang=fr&link={wrong_link()}x",
    lambda: f"id=ocean-0001&link={wrong_link()[:-1]}",
])
def test_a_wrong_link_shows_only_the_refusal(inst: Docket, monkeypatch: pytest.MonkeyPatch, query: Any) -> None:
    submitted_anonymously(inst)
    monkeypatch.setenv("DOCKET_INSTANCE", str(inst.instance.root))
    q = query()
    secret = parse_qs(q)["link"][0]
    widget = request_page(query=q)
    assert isinstance(widget, W.HTML) and "docket-page-error" in widget.value
    assert widget.value == f"<p class='docket-page-error'><b>docket:</b> {REFUSED_LINK}</p><ul></ul>"
    assert secret not in widget.value and "ocean-0001" not in widget.value
    with pytest.raises(Refused) as info:  # a malformed link too: the same words as a wrong one
        query_parameters("link=dl_short&lang=fr")
    assert info.value.message == REFUSED_LINK


def test_a_revoked_link_is_refused_and_id_is_no_parameter(inst: Docket, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = submitted_anonymously(inst)
    monkeypatch.setenv("DOCKET_INSTANCE", str(inst.instance.root))
    assert "docket-request-status" in shown(request_page(query=f"link={sent['link']}"))
    inst.revoke_links(sent["id"])
    refused = request_page(query=f"link={sent['link']}")
    assert refused.value == f"<p class='docket-page-error'><b>docket:</b> {REFUSED_LINK}</p><ul></ul>"
    by_id = request_page(query=f"id={sent['id']}")
    assert "?id: is not a parameter of this page" in by_id.value and "docket-request-status" not in shown(by_id)
    # With a link beside it, the address is still refused for ?id, and the link is not echoed.
    both = request_page(query=f"id={sent['id']}&link={sent['link']}")
    assert "?id: is not a parameter of this page" in both.value and sent["link"] not in both.value


# -- the whole path, in a real browser ------------------------------------------------------------


@pytest.mark.browser
def test_provider_path_in_the_browser(tmp_path: Path) -> None:  # noqa: PLR0915 - one story, told in order
    from .browser import CHROMIUM, CHROMIUM_ARGS, LOAD_TIMEOUT, need_browser
    from .test_browser import field, shot, type_in
    from .test_serve import serving

    need_browser()
    sync_api = pytest.importorskip("playwright.sync_api")
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    dk = docket.open(folder)
    with serving(folder) as (base, proc), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        # The wrong link's page (checked in step 6) loads in a browser context of its own
        # meanwhile (another visitor): its kernel runs while the provider types, which keeps the
        # test short.
        bad = wrong_link()
        refused = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
        refused.goto(f"{base}/?link={bad}&lang=en", wait_until="commit")

        # 1. The provider submits through the public form and gets their link on the page.
        page.goto(f"{base}/?lang=en")
        page.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)
        assert page.locator(".docket-request-status").count() == 0  # nothing to show yet
        for path, value in (
            ("provider-name", "Ana Lima"), ("provider-email", "ana.lima@example.org"),
            ("metadata-project_descriptive-title-en", "CTD casts off Brest"),
            ("metadata-project_descriptive-keywords", "ocean, CTD"),
            ("metadata-dataset_administrative-licence", "CC-BY-4.0"),
            ("metadata-dataset_administrative-contact-name", "Ana Lima"),
            ("metadata-dataset_administrative-contact-email", "ana.lima@example.org"),
            ("files-0-name", "ctd.csv"), ("files-0-location", "https://data.example.org/ctd.csv"),
        ):
            type_in(page, field(path), value)
        type_in(page, field("metadata-project_descriptive-abstract-en", "textarea"), "Profiles.")
        page.click(".docket-submit")
        page.locator(".docket-summary .docket-link code").wait_for(timeout=20_000)
        rid = page.locator(".docket-summary .docket-request-id").inner_text()
        link = parse_qs(urlsplit(page.locator(".docket-link code").inner_text()).query)["link"][0]
        assert re.fullmatch(r"dl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}", link)
        shot(page, "provider-1-link-shown", ".docket-summary")
        record = dk.get(rid)
        assert (record["revision"], record["review_state"]) == (1, "submitted")
        assert [(h["kind"], h["to"]) for h in dk.history(rid)][:2] == [("revision", f"{rid}.1"), ("review", "submitted")]
        assert dk.comments(rid) == []
        assert dk.as_link(link).get(rid)["id"] == rid  # the link shown is the request's own

        # 2. A reviewer (an account) requests changes with a comment on the abstract.
        as_role(dk, "reviewer").review(rid, "request-changes", comment=REVIEWER_SAYS, fields=[ABSTRACT])
        assert dk.get(rid)["review_state"] == "draft"
        said = dk.comments(rid)
        assert [(c["field"], c["text"], c["role"], c["parent"]) for c in said] == [
            (ABSTRACT, REVIEWER_SAYS, "reviewer", None)]
        assert [(h["from"], h["to"], h["role"]) for h in dk.history(rid) if h["kind"] == "review"][-1] == (
            "submitted", "draft", "reviewer")

        # 3. The provider opens the link: status, the thread, and the note beside the abstract.
        page.goto(f"{base}/?link={link}&lang=en")
        page.wait_for_selector(".docket-request-status", timeout=LOAD_TIMEOUT)
        assert page.locator(".docket-review-state").inner_text().startswith("Draft")
        assert page.locator(".docket-request-status .docket-request-revision").inner_text() == "1"
        assert REVIEWER_SAYS in page.locator(".docket-thread .docket-comment-text").first.inner_text()
        beside = page.locator(".docket-comment-for-metadata-project_descriptive-abstract")
        assert REVIEWER_SAYS in beside.inner_text()
        assert page.locator(".docket-reviewer-note").count() == 1
        seen = page.evaluate("""() => document.body.innerText + ' ' + document.body.innerHTML + ' ' + Array.from(
            document.querySelectorAll('input, textarea, select')).map(e => e.value).join(' ')""")
        assert link not in seen, "the secret link is written into the page"
        shot(page, "provider-2-comment-beside-field", ".docket-comment-for-metadata-project_descriptive-abstract")
        shot(page, "provider-3-status-and-thread", ".docket-request-status")

        # 4. The provider answers the thread, edits the abstract and saves: revision 2, a draft.
        page.locator(".docket-reply-text textarea").first.fill("Stations added to the abstract.")
        page.locator(".docket-reply-text textarea").first.press("Tab")
        page.click(".docket-reply")
        page.locator(".docket-comment-reply").get_by_text("Stations added").wait_for(timeout=20_000)
        replies = [c for c in dk.comments(rid) if c["parent"] is not None]
        assert [(c["parent"], c["role"], c["field"]) for c in replies] == [(said[0]["id"], "provider", ABSTRACT)]
        new_abstract = "Profiles at stations S1 (200 m), S2 (450 m) and S3 (1200 m) off Brest."
        type_in(page, field("metadata-project_descriptive-abstract-en", "textarea"), new_abstract)
        page.click(".docket-save-draft")  # "Save draft": back to draft; resubmitted below (issue 12)
        page.locator(".docket-summary .docket-request-revision").get_by_text("2").wait_for(timeout=20_000)
        assert page.locator(".docket-summary .docket-link").count() == 0  # the link was shown once only
        record = dk.get(rid)
        assert (record["revision"], record["review_state"]) == (2, "draft")
        assert record["metadata"]["project_descriptive"]["abstract"]["en"] == new_abstract
        assert dk.get(rid, 1)["metadata"]["project_descriptive"]["abstract"]["en"] == "Profiles."
        assert [h for h in dk.history(rid) if h["kind"] == "revision"][-1]["to"] == f"{rid}.2"

        # 5. Resubmit with the one "Submit for review" button: a double click is one transition.
        assert page.locator(".docket-resubmit").count() == 0
        resubmit = page.locator(".docket-submit")
        resubmit.wait_for(state="visible", timeout=10_000)
        shot(page, "provider-4-saved-draft", ".docket-submit")
        resubmit.dblclick()
        page.locator(".docket-resubmitted").wait_for(timeout=20_000)
        assert page.locator(".docket-review-state").inner_text().startswith("Submitted")
        shot(page, "provider-5-resubmitted", ".docket-request-status")
        record = dk.get(rid)
        assert (record["revision"], record["review_state"]) == (2, "submitted")
        moves = [(h["from"], h["to"], h["role"], h["revision"]) for h in dk.history(rid) if h["kind"] == "review"]
        assert moves == [("draft", "submitted", "provider", 1), ("submitted", "draft", "reviewer", 1),
                         ("draft", "submitted", "provider", 2)]
        assert [c["role"] for c in dk.comments(rid)] == ["reviewer", "provider"]

        # 6. A wrong link: the one refusal, no id, no form, and the link nowhere in the page.
        refused.wait_for_selector(".docket-page-error", timeout=LOAD_TIMEOUT)
        assert refused.locator(".docket-page-error").first.inner_text().strip() == f"docket: {REFUSED_LINK}"
        seen = refused.evaluate("() => document.body.innerText + ' ' + document.body.innerHTML")
        assert bad not in seen and rid not in seen and refused.locator(".docket-submit").count() == 0
        shot(refused, "provider-6-wrong-link")
        log = proc.log_path.read_text(errors="replace")
        assert link not in log and bad not in log, "a secret link reached the server's log"
        browser.close()
    dk.close()
