"""The data manager's notebooks: the review desk and the dashboard, on real instances and people.

The widgets are driven as a reviewer would (text typed, a field chosen, a button clicked) and the
store is read back after each click; the notebooks themselves are executed with papermill (with
parameters, and without any) and under nbval, as CI runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from docket.api import Docket
from docket.desk import open_desk
from docket.desk.dashboard import summarise
from docket.desk.review import (
    ReviewDesk,
    allowed_actions,
    page_request_id,
    record_paths,
    review_desk,
)
from docket.errors import BadInput, InstanceError, Refused
from docket.store import tables

from .conftest import EXAMPLES, ROOT
from .people import as_role, key_file

CTD, SOIL, WEATHER = (EXAMPLES / "requests" / n for n in
                      ("ctd-multilingual.json", "soil-several-files.json", "weather-table-schema.json"))
ANA = "ana.lima@ifremer.example.org"  # the CTD request's provider
TITLE = "$.metadata.project_descriptive.title.en"


def provider_of_ctd(dk: Docket) -> Docket:
    """Ana, the CTD request's provider, signed in with an account of her own (she owns it)."""
    return as_role(dk, "provider", name="Ana Lima", email=ANA)


def resubmit(dk: Docket, request_id: str, title: str) -> int:
    """The provider edits the title and submits again (withdrawing first if still submitted)."""
    ana = provider_of_ctd(dk)
    doc = ana.get(request_id)
    if doc["review_state"] == "submitted":
        ana.review(request_id, "draft")
    doc["metadata"]["project_descriptive"]["title"]["en"] = title
    revision = ana.revise(request_id, doc)["revision"]
    ana.review(request_id, "submitted")
    return revision


def desk_requests(dk: Docket) -> dict[str, str]:
    """Three requests submitted by the admin on their providers' behalf (CTD, soil, weather, in that
    order), the CTD one sent back once and resubmitted as revision 2."""
    ids = {name: dk.submit(path)["id"] for name, path in (("ctd", CTD), ("soil", SOIL), ("weather", WEATHER))}
    as_role(dk, "reviewer").review(f"{ids['ctd']}.1", "request-changes", comment="a clearer title please",
                                   fields=[TITLE])
    assert resubmit(dk, ids["ctd"], "CTD casts in the Bay of Biscay, spring 2024, three stations") == 2
    return ids


def state(dk: Docket, request_id: str) -> tuple[int, str]:
    doc = dk.get(request_id)
    return doc["revision"], doc["review_state"]


def names(actions: list) -> list[str]:
    return [a.to for a in actions]


def request_row(dk: Docket, request_id: str):
    from sqlalchemy import select

    with dk.store.connect() as conn:
        return conn.execute(select(tables.requests).where(tables.requests.c.id == request_id)).one()


def test_queue_is_the_submitted_requests_oldest_first(dk: Docket) -> None:
    ids = desk_requests(dk)
    reviewer = as_role(dk, "reviewer")
    reviewer.review(f"{ids['soil']}.1", "approved")
    desk = ReviewDesk(reviewer)
    # docket list is newest first; the queue puts the one waiting longest on top
    assert [r["id"] for r in reviewer.list(status="submitted")] == [ids["weather"], ids["ctd"]]
    assert desk.queue_ids == [ids["ctd"], ids["weather"]]
    grid = desk.queue.children[1]
    texts = [getattr(c, "value", None) or c.description for c in grid.children]
    assert texts[5:10] == [ids["ctd"], "2", "CTD casts in the Bay of Biscay, spring 2024, three stations",
                           ANA, texts[9]] and texts[9] in ("now", "1 min")
    assert "2 requests waiting" in desk.queue.children[0].value
    assert desk.panel.layout.display == "none"  # nothing open until one is chosen
    grid.children[5].click()  # the first request's button
    assert desk.request_id == ids["ctd"] and desk.revision == 2


def test_buttons_are_exactly_the_callers_transitions(dk: Docket) -> None:
    ids = desk_requests(dk)
    reviewer, manager = as_role(dk, "reviewer"), as_role(dk, "data-manager")
    ctd = request_row(dk, ids["ctd"])
    assert names(allowed_actions(reviewer.caller, ctd)) == ["request-changes", "approved", "rejected"]
    assert names(allowed_actions(manager.caller, ctd)) == ["request-changes", "approved", "rejected"]
    # The admin submitted every request: nobody decides on what they submitted; withdraw remains.
    assert names(allowed_actions(dk.caller, ctd)) == ["draft"]
    assert names(allowed_actions(provider_of_ctd(dk).caller, ctd)) == ["draft"]  # her own: withdraw
    assert names(allowed_actions(as_role(dk, "provider", name="Other", email="o@x.example").caller, ctd)) == []
    reviewer.review(f"{ids['soil']}.1", "approved")
    soil = request_row(dk, ids["soil"])
    assert names(allowed_actions(reviewer.caller, soil)) == []
    assert names(allowed_actions(manager.caller, soil)) == ["retired"]
    reviewer.review(f"{ids['weather']}.1", "rejected", comment="not ours")
    weather = request_row(dk, ids["weather"])
    assert names(allowed_actions(reviewer.caller, weather)) == []
    assert names(allowed_actions(manager.caller, weather)) == ["draft"]  # reopen
    # What the desk offers, the core accepts: each button of the reviewer's on a submitted request.
    desk = ReviewDesk(reviewer, ids["ctd"])
    assert [b.description for b in desk.buttons.children] == ["Request changes", "Approve", "Reject"]


def test_request_changes_on_a_field_then_approve_by_clicking(dk: Docket) -> None:
    ids = desk_requests(dk)
    reviewer = as_role(dk, "reviewer")
    desk = ReviewDesk(reviewer)
    desk.open(ids["ctd"])
    view = lxml.html.fromstring(desk.summary.value)
    assert view.get("data-ref") == f"{ids['ctd']}.2"
    diff = [[td.text_content() for td in tr.findall("td")] for tr in view.find_class("docket-diff")[0].iter("tr")][1:]
    assert diff == [["changed", TITLE, "CTD casts in the Bay of Biscay, spring 2024 survey",
                     "CTD casts in the Bay of Biscay, spring 2024, three stations"]]
    assert desk.field.options[1] == (f"changed: {TITLE}", TITLE)  # the diff's paths come first
    assert "$.files[0].sha256" in [v for _, v in desk.field.options]
    [thread] = view.find_class("docket-comment")
    assert "a clearer title please" in thread.text_content() and TITLE in thread.text_content()

    # Reject without a comment: the core refuses, the page says why, nothing changes.
    button = {b.description: b for b in desk.buttons.children}
    button["Reject"].click()
    assert "needs a comment" in desk.message.value and "Traceback" not in desk.message.value
    assert state(dk, ids["ctd"]) == (2, "submitted")

    desk.comment_text.value = "Please add the cruise name to the title."
    desk.field.value = TITLE
    button["Request changes"].click()
    assert state(dk, ids["ctd"]) == (2, "draft")
    latest = dk.comments(ids["ctd"])[-1]
    assert (latest["text"], latest["field"], latest["revision"], latest["author"]) == (
        "Please add the cruise name to the title.", TITLE, 2, "Eva Novak")
    decision = [h for h in dk.history(ids["ctd"]) if h["kind"] == "review"][-1]
    assert (decision["from"], decision["to"], decision["actor"], decision["role"]) == (
        "submitted", "draft", "Eva Novak", "reviewer")
    assert ids["ctd"] not in desk.queue_ids and "request-changes" in desk.message.value
    assert desk.comment_text.value == "" and desk.buttons.children == ()  # a draft: nothing to decide

    assert resubmit(dk, ids["ctd"], "CTD casts of cruise BISCAY-24 in the Bay of Biscay") == 3
    desk.refresh()
    assert ids["ctd"] in desk.queue_ids and desk.revision == 3
    {b.description: b for b in desk.buttons.children}["Approve"].click()
    assert state(dk, ids["ctd"]) == (3, "approved")
    assert dk.get(ids["ctd"])["steps"]["review"] == {"status": "closed", "outcome": "accepted"}
    assert [a["action"] for a in dk.audit(ids["ctd"]) if a["action"] == "review"][-1] == "review"
    assert desk.queue_ids == [ids["soil"], ids["weather"]]


def test_a_decision_on_a_revision_that_moved_on_is_a_conflict(dk: Docket) -> None:
    ids = desk_requests(dk)
    desk = ReviewDesk(as_role(dk, "reviewer"), ids["ctd"])
    assert desk.revision == 2
    resubmit(dk, ids["ctd"], "A title changed while the reviewer was reading")  # revision 3
    {b.description: b for b in desk.buttons.children}["Approve"].click()
    assert "Conflict" in desk.message.value and "Traceback" not in desk.message.value
    assert state(dk, ids["ctd"]) == (3, "submitted")
    desk.open(ids["ctd"])
    assert desk.revision == 3
    desk.open("ocean-9999")  # a request that does not exist: said, and the open one stays
    assert "no request &#x27;ocean-9999&#x27;" in desk.message.value and desk.request_id == ids["ctd"]


def test_comments_and_replies_are_threads(dk: Docket) -> None:
    ids = desk_requests(dk)
    desk = ReviewDesk(as_role(dk, "reviewer"), ids["soil"])
    desk.comment_text.value = "Which lab measured the pH?"
    desk.field.value = "$.files[0].name"
    desk.send.click()
    first = dk.comments(ids["soil"])[-1]
    assert (first["field"], first["parent"]) == ("$.files[0].name", None)
    desk.comment_text.value = "And with which method?"
    desk.field.value = ""
    desk.reply_to.value = first["id"]
    desk.send.click()
    reply = dk.comments(ids["soil"])[-1]
    assert reply["parent"] == first["id"] and reply["field"] == "$.files[0].name"  # a reply keeps it
    view = lxml.html.fromstring(desk.summary.value)
    parent = view.xpath(f"//li[@data-id='{first['id']}']")[0]
    assert [li.get("data-id") for li in parent.xpath(".//li")] == [str(reply["id"])]
    assert state(dk, ids["soil"]) == (1, "submitted")  # a comment is not a decision
    desk.comment_text.value = "   "
    desk.send.click()
    assert "needs some text" in desk.message.value


def test_transfer_and_qa_summaries_and_the_dashboard(dk: Docket) -> None:
    ids = desk_requests(dk)
    reviewer = as_role(dk, "reviewer")
    reviewer.review(f"{ids['soil']}.1", "approved")
    reviewer.review(f"{ids['weather']}.1", "approved")
    dk.set_step(ids["soil"], "transfer", "closed", "done")
    dk.set_step(ids["soil"], "qa", "closed", "rejected", comment="invalid: 3 errors in 1 check")
    dk.set_step(ids["weather"], "transfer", "closed", "failed", comment="connection refused")
    with dk.store.transaction() as conn:
        at = datetime.now(UTC)
        conn.execute(tables.jobs.insert(), [
            {"kind": "notify", "request_id": ids["soil"], "status": "failed", "attempts": 5,
             "last_error": "SMTP 554 rejected", "payload": {}, "created_date": at, "updated_date": at},
            {"kind": "notify", "request_id": ids["ctd"], "status": "done", "attempts": 1, "last_error": None,
             "payload": {}, "created_date": at, "updated_date": at},
        ])
    desk = ReviewDesk(reviewer, ids["soil"])
    view = lxml.html.fromstring(desk.summary.value)
    assert view.find_class("docket-step-qa")[0].text_content() == "closed/rejected"
    assert view.find_class("docket-step-transfer")[0].text_content() == "closed/done"
    assert "invalid: 3 errors in 1 check" in view.find_class("docket-steps")[0].text_content()

    s = summarise(dk, stuck_days=7)
    assert dict(zip(s.by_state["review_state"], s.by_state["requests"], strict=True)) == {
        "draft": 0, "submitted": 1, "approved": 2, "rejected": 0, "retired": 0}
    assert s.by_step.loc["transfer"].to_dict() == {"closed/accepted": 0, "closed/done": 1,
                                                   "closed/failed": 1, "closed/rejected": 0, "open": 1}
    assert s.by_step.loc["qa", "closed/rejected"] == 1 and s.by_step.loc["review", "closed/accepted"] == 2
    assert list(s.open_requests["id"]) == [ids["ctd"], ids["soil"], ids["weather"]]
    assert s.stuck.empty
    later = summarise(dk, stuck_days=7, now=datetime.now(UTC) + timedelta(days=8))
    assert list(later.stuck["id"]) == [ids["ctd"], ids["soil"], ids["weather"]]
    assert summarise(dk, stuck_days=9, now=datetime.now(UTC) + timedelta(days=8)).stuck.empty
    assert list(s.failed_transfers["id"]) == [ids["weather"]]
    assert list(s.failed_transfers["summary"]) == ["connection refused"]
    assert list(zip(s.qa_problems["id"], s.qa_problems["outcome"], strict=True)) == [(ids["soil"], "rejected")]
    assert s.failed_jobs[["kind", "request", "attempts", "last_error"]].values.tolist() == [
        ["notify", ids["soil"], 5, "SMTP 554 rejected"]]


def test_the_desk_is_for_staff_and_says_why_not(dk: Docket, monkeypatch: pytest.MonkeyPatch) -> None:
    root = dk.instance.root
    ids = desk_requests(dk)
    provider = key_file(root, "provider")
    with pytest.raises(Refused) as refused:
        open_desk(root, provider)
    assert refused.value.rule == "staff-only"
    page = review_desk(instance=str(root), key_file=str(provider))
    assert "(provider) may not use the data manager" in page.value and provider.read_text().strip() not in page.value
    with pytest.raises(InstanceError, match="no docket instance"):
        open_desk(None)
    assert "no docket instance" in review_desk().value
    monkeypatch.setenv("DOCKET_API_KEY", "dk_not_a_real_key_at_all_0000000000")
    assert "docket-desk-error" in review_desk(instance=str(root))._dom_classes
    monkeypatch.setenv("DOCKET_API_KEY", (root / "keys" / "admin.key").read_text().strip())
    monkeypatch.setenv("DOCKET_INSTANCE", str(root))
    monkeypatch.setenv("QUERY_STRING", f"id={ids['soil']}")
    page = review_desk()
    assert "docket-review" in page._dom_classes  # the admin, from the environment, soil opened
    assert "data-ref='soil-0001.1'" in page.children[-1].children[0].value


def test_page_address_takes_only_an_id() -> None:
    assert page_request_id("") is None
    assert page_request_id("?id=ocean-0007") == "ocean-0007"
    for bad in ("id=../x", "instance=/tmp&id=ocean-0001", "id=ocean-0001&id=ocean-0002", "x" * 200):
        with pytest.raises(BadInput):
            page_request_id(bad)


def test_record_paths_are_content_leaves() -> None:
    doc = {"id": "x-1", "revision": 2, "steps": {"qa": {}}, "a": {"b": [1, {"c": None}], "d e": "x"}}
    assert record_paths(doc) == ["$.a.b[0]", "$.a.b[1].c", '$.a["d e"]']


# -- the notebooks themselves ------------------------------------------------------------------


def _run_notebook(name: str, out: Path, parameters: dict, env: dict[str, str] | None = None) -> dict:
    """Execute ``notebooks/<name>`` with papermill in a kernel of its own; the executed notebook."""
    import papermill

    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / name), str(out), parameters=parameters,
                                   kernel_name="python3", progress_bar=False, cwd=str(out.parent))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return json.loads(out.read_text(encoding="utf-8"))


def _outputs(nb: dict) -> str:
    """Every output of every cell as one text (widget views by their state's text form)."""
    return json.dumps([c.get("outputs", []) for c in nb["cells"]]) + json.dumps(nb.get("metadata", {}))


@pytest.mark.slow
def test_notebooks_execute_with_parameters_and_without(tmp_path: Path, dk: Docket) -> None:
    ids = desk_requests(dk)
    root = dk.instance.root
    reviewer = key_file(root, "reviewer", name="Rui Costa")  # Eva has no key file; Rui does
    secret = reviewer.read_text().strip()
    review = _run_notebook("review.ipynb", tmp_path / "review.ipynb",
                           {"instance": str(root), "request_id": ids["ctd"], "key_file": str(reviewer)})
    text = _outputs(review)
    assert "Signed in as <b>Rui Costa</b> (reviewer)" in text and f"data-ref='{ids['ctd']}.2'" in text
    assert "docket-diff" in text and "docket-action-approved" in text and secret not in text
    assert "Traceback" not in text and "error" not in [o.get("output_type") for c in review["cells"]
                                                       for o in c.get("outputs", [])]
    dashboard = _run_notebook("dashboard.ipynb", tmp_path / "dashboard.ipynb",
                              {"instance": str(root), "key_file": str(reviewer), "stuck_days": 0})
    text = _outputs(dashboard)
    assert "Requests per review state" in text and "image/png" in text and secret not in text
    assert "3 open requests, 3 idle for more than 0 days" in text
    # No parameters and no environment: a clear message, not a failure.
    bare = _run_notebook("review.ipynb", tmp_path / "bare.ipynb", {})
    assert "no docket instance" in _outputs(bare)


@pytest.mark.slow
def test_notebooks_run_under_nbval_as_a_reviewer(tmp_path: Path, dk: Docket) -> None:
    """``pytest --nbval-lax`` on both notebooks, signed in as the server would sign in staff
    (``DOCKET_INSTANCE`` and ``DOCKET_API_KEY`` in the environment)."""
    desk_requests(dk)
    root = dk.instance.root
    env = {**os.environ, "DOCKET_INSTANCE": str(root),
           "DOCKET_API_KEY": key_file(root, "reviewer", name="Rui Costa").read_text().strip()}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         str(ROOT / "notebooks" / "review.ipynb"), str(ROOT / "notebooks" / "dashboard.ipynb")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout  # two code cells each


def test_provider_text_is_shown_as_text_never_as_markup(dk: Docket) -> None:
    """A provider's name, organisation, title and comment are theirs to type: on the staff's
    desk they are text, so a ``<script>`` or an ``<img onerror>`` in them is never markup."""
    doc = json.loads(CTD.read_text(encoding="utf-8"))
    doc["provider"]["name"] = "Ana <script>alert(1)</script>"
    doc["provider"]["organisation"] = "Ifremer <img src=x onerror=alert(2)>"
    doc["metadata"]["project_descriptive"]["title"]["en"] = "CTD casts <b onclick=alert(3)>in the Bay</b> of Biscay"
    request_id = dk.submit(doc)["id"]
    dk.comment(request_id, "see <iframe src=javascript:alert(4)></iframe>")
    desk = ReviewDesk(as_role(dk, "reviewer"))
    desk.open(request_id)
    view = lxml.html.fromstring(desk.summary.value)
    assert not view.xpath("//script | //img | //iframe | //*[@onclick] | //*[@onerror]")
    text = view.text_content()
    assert "Ana <script>alert(1)</script>" in text and "Ifremer <img src=x onerror=alert(2)>" in text
    assert "<b onclick=alert(3)>in the Bay</b>" in text and "<iframe src=javascript:alert(4)></iframe>" in text
