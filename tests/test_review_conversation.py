"""Issue 9's path in one test: a provider without an account and a reviewer with a key talk a
request into shape, and every step is in the history, the PROV (with roles), the audit log and
the mailbox (a real aiosmtpd server on loopback).

The same path is driven in the browser by tests/test_provider_page.py (the provider's page) and
tests/test_desk_browser.py (the review notebook); this one holds all the records side by side.
"""

from __future__ import annotations

from pathlib import Path

from docket import jobs
from docket.api import Docket
from tests.test_notify import CTD, Mailbox, body, configure, link_in, mailbox, smtp_table  # noqa: F401

FIELD = "$.metadata.project_descriptive.abstract"


def _subjects(box: Mailbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in box.to(address)]


def test_provider_and_reviewer_talk_a_request_into_shape(dk: Docket, mailbox: Mailbox, instance_dir: Path) -> None:  # noqa: F811
    eva_key = dk.add_user("Eva Novak", "reviewer", email="eva@dc.example.org")["key"]
    configure(instance_dir, smtp=smtp_table(mailbox))
    admin = Docket.open(instance_dir)
    eva = admin.as_key(eva_key)
    provider_address = "ana.lima@ifremer.example.org"

    # The public form: nobody signs in; the provider gets a receipt carrying their link.
    page = admin.anonymously()
    request_id = page.submit(CTD)["id"]
    jobs.run(admin)
    assert any("submitted" in s for s in _subjects(mailbox, "eva@dc.example.org"))
    receipt = mailbox.to(provider_address)[-1]
    provider = admin.as_link(link_in(receipt))
    assert provider.get(request_id)["review_state"] == "submitted"

    # The reviewer asks for a change on one field; the provider is told, with a link again.
    eva.review(f"{request_id}.1", "request-changes", comment="Say which CTD was used.", fields=[FIELD])
    jobs.run(admin)
    asked = [m for m in mailbox.to(provider_address) if "changes requested" in str(m["Subject"])]
    assert len(asked) == 1 and "Say which CTD was used." in body(asked[0]) and FIELD in body(asked[0])

    # The provider opens that link, sees the comment on the field, edits, answers and resubmits.
    provider = admin.as_link(link_in(asked[0]))
    (comment,) = provider.comments(request_id)
    assert (comment["field"], comment["author"], comment["role"]) == (FIELD, "eva@dc.example.org", "reviewer")
    doc = {k: v for k, v in provider.get(request_id).items() if k in ("project", "provider", "metadata", "files")}
    doc["metadata"]["project_descriptive"]["abstract"]["en"] += " Casts were made with a SBE 911plus CTD."
    assert provider.revise(request_id, doc)["revision"] == 2
    provider.comment(request_id, "Added the instrument.", reply_to=comment["id"])
    provider.review(request_id, "submitted")
    jobs.run(admin)

    # The reviewer sees exactly that change and approves revision 2.
    changes = eva.diff(request_id)["changes"]
    assert [c["path"] for c in changes] == [FIELD + ".en"]
    eva.review(f"{request_id}.2", "approved")
    jobs.run(admin)
    assert any("approved" in s for s in _subjects(mailbox, provider_address))

    # History: who did what, in order, the conversation included.
    kinds = [(h["kind"], h["role"]) for h in admin.history(request_id) if h["kind"] in ("revision", "comment")]
    assert kinds == [("revision", "provider"), ("comment", "reviewer"), ("revision", "provider"),
                     ("comment", "provider")]
    decisions = [(h["from"], h["to"], h["actor"]) for h in admin.history(request_id) if h["kind"] == "review"]
    assert decisions[-1] == ("submitted", "approved", "eva@dc.example.org")
    assert ("submitted", "draft", "eva@dc.example.org") in decisions

    # PROV: each person's association has their role.
    roles = set()
    for bundle in admin.prov_bundles(request_id):
        for inner in bundle["bundle"].get("bundle", {}).values():
            for rel in inner.get("wasAssociatedWith", {}).values():
                if "prov:role" in rel:
                    roles.add(rel["prov:role"]["$"])
    assert {"dkt:provider", "dkt:reviewer", "dkt:system"} <= roles

    # The audit log: every write, by whom, from where.
    actions = [(a["action"], a["role"]) for a in admin.audit(request_id)]
    for expected in [("submit", "provider"), ("review", "reviewer"), ("revise", "provider"),
                     ("comment", "provider"), ("review", "provider")]:
        assert expected in actions
    assert all(a["origin"] for a in admin.audit(request_id))
    admin.close()
