"""Incomplete drafts (issue 12, item 2): a provider saves half a request and comes back to it.

A draft is checked for what it holds (types, formats, sizes, unknown fields) but not for what it
still lacks; ``docket review ID submitted`` needs the whole request and is refused (exit 3, rule
``complete-to-submit``) naming every missing field, changing nothing. Everything that reads
records -- list, show, history, diff, PROV, search, comments and their mail, the review desk --
copes with a draft that has no title, no provider name, no files yet. All through the real
command line (in-process), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.errors import InvalidDocument, Refused
from tests.clirun import Result, docket_cli
from tests.conftest import EXAMPLES

MISSING = ["$.files", "$.metadata.dataset_administrative", "$.metadata.project_descriptive.abstract",
           "$.metadata.project_descriptive.keywords", "$.provider.name"]


def example() -> dict[str, Any]:
    return json.loads((EXAMPLES / "requests" / "ctd-multilingual.json").read_text(encoding="utf-8"))


def half() -> dict[str, Any]:
    """What a provider has typed after a minute: an e-mail and a title, nothing else."""
    return {"provider": {"email": "ana.lima@ifremer.example.org"},
            "metadata": {"project_descriptive": {"title": {"en": "CTD profiles of the Bay of Biscay, spring 2023"}}}}


def cli(instance: Path, *args: Any) -> Result:
    return docket_cli(*args, instance=instance)


def write(tmp: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def counts(instance: Path) -> dict[str, int]:
    with docket.open(instance) as d:
        return {"revisions": sum(r["revision"] for r in d.list()), "requests": len(d.list()),
                "bundles": sum(len(d.prov_bundles(r["id"])) for r in d.list())}


def test_an_incomplete_draft_is_stored_and_every_reader_copes(instance_dir: Path, tmp_path: Path) -> None:
    stored = cli(instance_dir, "submit", "--draft", write(tmp_path, "half.json", half()))
    assert stored.code == 0, stored.err
    request_id = stored.out.strip()
    # The note says what is still to fill before it can be submitted.
    assert "incomplete draft" in stored.err and all(m in stored.err for m in MISSING), stored.err

    listed = cli(instance_dir, "list")
    assert listed.code == 0 and request_id in listed.out and "draft" in listed.out and "Bay of Biscay" in listed.out
    (row,) = cli(instance_dir, "list", "--json").json()
    assert (row["review_state"], row["provider"]) == ("draft", "ana.lima@ifremer.example.org")
    assert cli(instance_dir, "list", "--status", "submitted").out.strip() == "no requests"

    shown = cli(instance_dir, "show", request_id)
    assert shown.code == 0, shown.err
    assert "licence:  (not given yet)" in shown.out and "provider: (not given yet) <ana.lima" in shown.out
    assert "incomplete draft: to fill before it can be submitted: " + ", ".join(MISSING) in shown.out
    as_json = cli(instance_dir, "show", request_id, "--json").json()
    assert as_json["review_state"] == "draft" and "files" not in as_json

    history = cli(instance_dir, "history", request_id, "--json")
    assert history.code == 0
    assert [(h["kind"], h["to"]) for h in history.json()][:2] == [("revision", f"{request_id}.1"), ("review", "draft")]

    for fmt in ("provn", "json", "html", "ttl"):
        prov = cli(instance_dir, "prov", request_id, "--format", fmt)
        assert prov.code == 0 and "internal error" not in prov.err, (fmt, prov.err)
    assert "Bay of Biscay" in cli(instance_dir, "prov", request_id, "--format", "provn").out
    for fmt in ("eml", "iso19139", "dcat"):  # a standard cannot hold half a request: said, not crashed
        exported = cli(instance_dir, "export", request_id, "--format", fmt)
        assert exported.code == 2 and "is an incomplete draft" in exported.err, (fmt, exported.err)
        assert "$.metadata.project_descriptive.abstract" in exported.err

    # A second save, still incomplete (now a name, no title): a new revision; diff and show cope.
    second = {"provider": {"email": "ana.lima@ifremer.example.org", "name": "Ana Lima"}}
    revised = cli(instance_dir, "revise", request_id, write(tmp_path, "second.json", second))
    assert revised.code == 0 and revised.out.strip() == f"{request_id}.2", revised.err
    diff = cli(instance_dir, "diff", request_id, "--json")
    assert diff.code == 0, diff.err
    paths = {c["path"] for c in diff.json()["changes"]}
    assert {"$.provider.name", "$.metadata"} <= paths, paths
    untitled = cli(instance_dir, "show", request_id)
    assert "title:    (not given yet)" in untitled.out
    assert "(not given yet)" in cli(instance_dir, "list").out  # the untitled draft's row

    # Staff comment on it (a mail to the provider is queued), search skips it, the desk opens it.
    said = cli(instance_dir, "comment", request_id, "Add the licence, please.")
    assert said.code == 0, said.err
    assert cli(instance_dir, "jobs", "--json").code == 0
    found = cli(instance_dir, "search", "Biscay", "--json")
    assert found.code == 0 and request_id not in found.out, found.out  # only published records
    from docket.desk.review import ReviewDesk

    with docket.open(instance_dir) as admin:
        desk = ReviewDesk(admin, request_id)
        assert request_id in desk.summary.value and "Ana Lima" in desk.summary.value
        assert all(request_id not in str(getattr(w, "value", "")) for w in desk.queue.children)


def test_submitting_an_incomplete_draft_is_refused_naming_every_field(instance_dir: Path, tmp_path: Path) -> None:
    request_id = cli(instance_dir, "submit", "--draft", write(tmp_path, "half.json", half())).out.strip()
    before = (counts(instance_dir), cli(instance_dir, "history", request_id, "--json").json())

    refused = cli(instance_dir, "review", request_id, "submitted")
    assert refused.code == 3, (refused.code, refused.err)
    assert "not complete" in refused.err and "rule complete-to-submit" in refused.err
    for where in MISSING:
        assert f"  - {where}: is required" in refused.err, (where, refused.err)
    as_json = cli(instance_dir, "review", request_id, "submitted", "--json")
    assert as_json.code == 3 and as_json.json()["rule"] == "complete-to-submit"
    assert [p["where"] for p in as_json.json()["problems"]] == MISSING

    # Nothing changed: same state, history, revisions and PROV; the refusal is in the audit log.
    assert (counts(instance_dir), cli(instance_dir, "history", request_id, "--json").json()) == before
    assert cli(instance_dir, "show", request_id, "--json").json()["review_state"] == "draft"
    with docket.open(instance_dir) as d:
        refusals = [a for a in d.audit(request_id) if a["action"] == "refused:review"]
    assert refusals and refusals[-1]["detail"]["rule"] == "complete-to-submit"

    # Completed, it goes to the review queue; the history reads draft, then submitted.
    doc = example()
    assert cli(instance_dir, "revise", request_id, write(tmp_path, "full.json", doc)).code == 0
    done = cli(instance_dir, "review", request_id, "submitted")
    assert done.code == 0, done.err
    states = [(h["from"], h["to"]) for h in cli(instance_dir, "history", request_id, "--json").json()
              if h["kind"] == "review"]
    assert states == [(None, "draft"), ("draft", "submitted")]
    assert request_id in cli(instance_dir, "list", "--status", "submitted").out


def test_a_draft_is_still_checked_for_what_it_holds(instance_dir: Path, tmp_path: Path) -> None:
    before = counts(instance_dir)
    bad = half()
    bad["provider"]["email"] = "not-an-address"
    bad["metadata"]["project_descriptive"]["keywords"] = "ocean"  # a list, not a string
    bad["metadata"]["colour"] = "blue"
    result = cli(instance_dir, "submit", "--draft", write(tmp_path, "bad.json", bad), "--json")
    assert result.code == 2, result.out
    wheres = [p["where"] for p in result.json()["problems"]]
    assert wheres == ["$.metadata.colour", "$.metadata.project_descriptive.keywords", "$.provider.email"], wheres
    assert "is required" not in result.out  # what is missing is not a draft's error
    too_long = half()
    too_long["metadata"]["project_descriptive"]["keywords"] = ["x" * 101]  # sizes hold in a draft too
    long = cli(instance_dir, "submit", "--draft", write(tmp_path, "long.json", too_long), "--json")
    assert long.code == 2 and [p["where"] for p in long.json()["problems"]] == [
        "$.metadata.project_descriptive.keywords[0]"]
    # Without --draft, an incomplete request is refused as before, naming what is required.
    plain = cli(instance_dir, "submit", write(tmp_path, "half.json", half()), "--json")
    assert plain.code == 2 and "$.metadata.project_descriptive.abstract" in plain.out
    assert counts(instance_dir) == before


def test_the_python_api_a_page_draft_that_names_nobody(instance_dir: Path) -> None:
    """The form page saves anonymously: its first draft may hold nothing but a title; the link
    it returns is the only way back in, and the provider is named once a later save names them."""
    with docket.open(instance_dir) as admin:
        page = admin.anonymously()
        first = page.submit({"metadata": {"project_descriptive": {"title": {"en": "Work in progress"}}}},
                            state="draft")
        request_id, link = first["id"], first["link"]
        provider = admin.as_link(link)
        assert provider.get(request_id)["review_state"] == "draft"
        (row,) = admin.list()
        assert (row["title"], row["provider"]) == ("Work in progress", "")
        with pytest.raises(Refused) as refused:
            provider.review(request_id, "submitted")
        assert refused.value.rule == "complete-to-submit"
        with pytest.raises(InvalidDocument):
            provider.revise(request_id, {"provider": {"email": "x"}})
        named = copy.deepcopy(example())
        provider.revise(request_id, named)
        assert admin.list()[0]["provider"] == named["provider"]["email"]
        assert provider.review(request_id, "submitted")["review_state"] == "submitted"
        agents = json.dumps([b["bindings"] for b in admin.prov_bundles(request_id)])
        assert "provider not yet named" in agents and named["provider"]["name"] in agents


# -- the page's two buttons, called as the served page calls them (no browser: tests/test_form_drafts.py) --


def _page(instance: Path, link: str | None = None) -> Any:
    from docket.forms.page import RequestPage

    return RequestPage(docket.open(instance).anonymously(), "ingest-request", "en", link)


def test_page_save_draft_stores_what_is_there_and_refuses_what_is_wrong(instance_dir: Path) -> None:
    from tests.test_forms import fill_minimal, set_input

    page = _page(instance_dir)
    assert page.view.save_draft() is None and "docket-draft-empty" in page.view.status.value  # nothing typed
    set_input(page.view, "provider.email", "ana.lima@example")  # wrong: no dot in the domain
    set_input(page.view, "metadata.project_descriptive.title.en", "Half a request")
    assert page.view.save_draft() is None
    assert "$.provider.email" in page.view.status.value and "$.files[0].location" not in page.view.status.value
    with docket.open(instance_dir) as d:
        assert d.list() == []
    set_input(page.view, "provider.email", "ana.lima@example.org")
    saved = page.view.save_draft()
    assert saved["link"] and saved["record"]["review_state"] == "draft"
    assert f"data-docket-link='{saved['link']}'" in page.link_box.value  # for drafts.js, once
    assert "docket-draft-missing" in page.view.status.value
    assert page.view.save_draft() is saved  # the double click: nothing more stored
    # "Submit for review" of the incomplete draft: the page lists what is missing, stores nothing.
    assert page.view.submit() is None and "$.files[0].location" in page.view.status.value
    fill_minimal(page.view)
    sent = page.view.submit()
    assert (sent["revision"], sent["record"]["review_state"]) == (2, "submitted")
    assert page.view.submit() is sent and page.link_box.value == ""  # one submission; the link handed once
    with docket.open(instance_dir) as d:
        moves = [(h["from"], h["to"]) for h in d.history(saved["id"]) if h["kind"] == "review"]
        assert moves == [(None, "draft"), ("draft", "submitted")]
        assert len(d.list()) == 1


def test_page_edit_of_a_submitted_request_save_or_resubmit(instance_dir: Path) -> None:
    from tests.test_forms import fill_minimal, set_input

    first = _page(instance_dir)
    fill_minimal(first.view)
    sent = first.view.submit()
    page = _page(instance_dir, sent["link"])
    assert "Save draft" in page.notice.value and "docket-edit-to-draft" in page.notice.value  # said plainly
    set_input(page.view, "metadata.project_descriptive.abstract.en", "Changed, then saved as a draft.")
    draft = page.view.save_draft()
    assert (draft["revision"], draft["record"]["review_state"]) == (2, "draft")
    assert "docket-back-to-draft" in page.view.status.value
    set_input(page.view, "metadata.project_descriptive.abstract.en", "Changed again, and sent.")
    again = page.view.submit()  # revise and resubmit in one action
    assert (again["revision"], again["record"]["review_state"]) == (3, "submitted")
    assert page.view.submit() is again
    with docket.open(instance_dir) as d:
        moves = [(h["from"], h["to"]) for h in d.history(sent["id"]) if h["kind"] == "review"]
        assert moves == [("draft", "submitted"), ("submitted", "draft"), ("draft", "submitted")]
