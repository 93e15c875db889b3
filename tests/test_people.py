"""People behind the roles: every caller against every review transition and step change.

The expected outcome of each (caller, state, action) is written out here from issue 9's rules,
not derived from docket's code: only the declared edges succeed; every refusal is exit 3 naming
its rule, with an audit row; a decision on a revision someone already decided is a conflict (exit
4) naming who; every success writes history and PROV.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

import docket
from docket.api import Docket
from docket.errors import Conflict, DocketError, Refused
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import key_file

REQUEST = EXAMPLES / "requests" / "ctd-multilingual.json"
STATES = ("draft", "submitted", "approved", "rejected", "retired")
ACTIONS = ("submitted", "draft", "approved", "rejected", "request-changes", "retired")
CALLERS = ("admin", "manager", "reviewer", "owner", "other-provider", "owner-link", "other-link", "anonymous")
STAFF_DECIDE = {"admin", "manager", "reviewer"}  # none of them owns or submitted the request
OWNERS = {"owner", "owner-link"}

# (from state, action) -> callers that may take it; every other caller is refused.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("draft", "submitted"): OWNERS | {"admin", "manager"},
    ("submitted", "draft"): OWNERS | {"admin", "manager"},  # withdrawn by its provider
    ("submitted", "request-changes"): STAFF_DECIDE,
    ("submitted", "approved"): STAFF_DECIDE,
    ("submitted", "rejected"): STAFF_DECIDE,
    ("rejected", "draft"): OWNERS | {"admin", "manager"},
    ("approved", "retired"): {"admin", "manager"},
}
# Staff deciding again on a decided revision: a conflict naming who decided, not a refusal.
CONFLICTS = {(state, action) for state in ("approved", "rejected")
             for action in ("approved", "rejected", "request-changes")}
TARGET = {"request-changes": "draft"}


class World:
    """One instance with an admin, a data manager, a reviewer and two provider accounts."""

    def __init__(self, instance_dir: Path) -> None:
        self.admin = docket.open(instance_dir)
        self.keys = {
            "manager": self.admin.add_user("Maria Data", "data-manager", email="maria@dc.example.org")["key"],
            "reviewer": self.admin.add_user("Eva Novak", "reviewer", email="eva@dc.example.org")["key"],
            "owner": self.admin.add_user("Pia Owner", "provider", email="pia@lab.example.org")["key"],
            "other-provider": self.admin.add_user("Paul Other", "provider", email="paul@lab.example.org")["key"],
        }
        self.callers = {name: self.admin.as_key(key) for name, key in self.keys.items()}
        self.callers["admin"] = self.admin
        self.callers["anonymous"] = self.admin.anonymously()
        elsewhere = self.callers["other-provider"].submit(REQUEST)["id"]
        self.other_link = self.admin.new_link(elsewhere)["link"]

    def request_in(self, state: str) -> tuple[str, dict[str, Docket]]:
        """A request owned by Pia (her account submitted it), brought to ``state`` by the data
        manager, and the callers for it (its own link, and a link to another request)."""
        manager = self.callers["manager"]
        request_id = self.callers["owner"].submit(REQUEST)["id"]
        path = {"draft": [("draft", None)], "submitted": [], "approved": [("approved", None)],
                "rejected": [("rejected", "Please add the methods.")],
                "retired": [("approved", None), ("retired", None)]}[state]
        for target, comment in path:
            manager.review(request_id, target, comment=comment)
        callers = dict(self.callers)
        callers["owner-link"] = self.admin.as_link(self.admin.new_link(request_id)["link"])
        callers["other-link"] = self.admin.as_link(self.other_link)
        return request_id, callers

    def counts(self, request_id: str) -> tuple[int, int, int]:
        return (len(self.admin.history(request_id)), len(self.admin.prov_bundles(request_id)),
                len(self.admin.audit(request_id)))


@pytest.fixture
def world(instance_dir: Path):
    w = World(instance_dir)
    yield w
    w.admin.close()


def _act(caller: Docket, request_id: str, action: str) -> None:
    comment = "Please say which instrument." if action in ("rejected", "request-changes") else None
    caller.review(request_id, action, comment=comment)


def test_every_caller_against_every_review_transition(world: World, backend: str) -> None:
    if backend == "postgresql":
        pytest.skip("the rules are the same code on every store (checked on SQLite); PostgreSQL's own "
                    "concern, two writers at once, is test_two_reviewers_race_one_revision_exactly_one_wins")
    tried = 0
    for state in STATES:
        # Refusals change nothing, so one request per state serves them all.
        request_id, callers = world.request_in(state)
        for action in ACTIONS:
            for name in CALLERS:
                if name in ALLOWED.get((state, action), set()):
                    continue
                before = world.counts(request_id)
                with pytest.raises(DocketError) as caught:
                    _act(callers[name], request_id, action)
                expected = 4 if (state, action) in CONFLICTS and name in STAFF_DECIDE else 3
                where = f"{name}: {state} -> {action}"
                assert caught.value.exit_code == expected, f"{where}: {caught.value.message}"
                if expected == 3:
                    assert isinstance(caught.value, Refused) and caught.value.rule, where
                    assert f"rule {caught.value.rule}" in caught.value.message, where
                    history, bundles, audit = world.counts(request_id)
                    assert (history, bundles) == before[:2], where
                    row = world.admin.audit(request_id)[-1]
                    assert row["action"] == "refused:review" and row["detail"]["rule"] == caught.value.rule, where
                else:
                    assert isinstance(caught.value, Conflict) and "eva@dc.example.org" not in where
                    assert "already" in caught.value.message and " by " in caught.value.message, where
                assert world.admin.get(request_id)["review_state"] == state, where
                tried += 1
    for (state, action), names in ALLOWED.items():
        for name in sorted(names):
            request_id, callers = world.request_in(state)
            before = world.counts(request_id)
            _act(callers[name], request_id, action)
            after = world.counts(request_id)
            assert world.admin.get(request_id)["review_state"] == TARGET.get(action, action), (name, state, action)
            assert after[0] > before[0] and after[1] == before[1] + 1, (name, state, action)  # history, PROV
            last = world.admin.history(request_id)[-1]
            assert last["role"] in ("provider", "reviewer", "data-manager", "admin")
            tried += 1
    assert tried == len(STATES) * len(ACTIONS) * len(CALLERS)


def test_steps_reading_editing_and_commenting_by_caller(world: World) -> None:
    request_id, callers = world.request_in("approved")
    doc = {k: v for k, v in world.admin.get(request_id).items()
           if k in ("project", "provider", "metadata", "files")}
    may_step = {"admin", "manager"}
    may_read = {"admin", "manager", "reviewer", "owner", "owner-link"}
    may_comment = may_read
    for name in CALLERS:
        caller = callers[name]
        if name in may_step:
            result = caller.set_step(request_id, "publication", "paused")
            assert result["status"] == "paused"
        else:
            with pytest.raises(Refused) as caught:
                caller.set_step(request_id, "publication", "paused")
            assert caught.value.rule in ("staff-only", "signed-in")
            with pytest.raises(Refused):
                caller.qa(request_id)
        if name in may_read:
            assert caller.get(request_id)["id"] == request_id
            assert caller.comment(request_id, f"a note from {name}")["id"] == request_id
        else:
            with pytest.raises(Refused) as caught:
                caller.get(request_id)
            assert caught.value.rule in ("read-own", "signed-in")
            with pytest.raises(Refused):
                caller.comment(request_id, "hello")
            with pytest.raises(Refused):
                caller.history(request_id)
        assert (name in may_comment) == (name in may_read)
    # Editing: only the owner (account or link) or a data manager; a reviewer may not.
    for name in CALLERS:
        fresh, fresh_callers = world.request_in("submitted")
        if name in {"admin", "manager", "owner", "owner-link"}:
            assert fresh_callers[name].revise(fresh, doc)["revision"] == 2
        else:
            with pytest.raises(Refused) as caught:
                fresh_callers[name].revise(fresh, doc)
            assert caught.value.rule in ("edit-own", "signed-in")
    # A provider's account lists only its own requests; a link only its one.
    mine = {r["id"] for r in callers["owner"].list()}
    assert request_id in mine and all(world.admin.get(i)["provider"] for i in mine)
    assert {r["id"] for r in callers["owner-link"].list()} == {request_id}
    assert request_id not in {r["id"] for r in callers["other-provider"].list()}
    with pytest.raises(Refused):
        callers["anonymous"].list()


def test_nobody_decides_on_what_they_submitted(world: World) -> None:
    """A data manager who submits on a provider's behalf owns nothing, yet may not decide on it."""
    manager = world.callers["manager"]
    request_id = manager.submit(REQUEST)["id"]
    for action in ("approved", "rejected", "request-changes"):
        with pytest.raises(Refused) as caught:
            manager.review(request_id, action, comment="x")
        assert caught.value.rule == "no-self-review"
    world.callers["reviewer"].review(request_id, "approved")


def test_wrong_keys_and_links_are_refused_alike_and_audited(world: World, instance_dir: Path) -> None:
    wrong = [world.admin.as_link("dl_0123456789ab_" + "A" * 32), world.admin.as_key("dk_0123456789ab_" + "B" * 32),
             world.admin.as_key("not a key"), world.admin.as_link(world.keys["reviewer"])]
    messages = set()
    for caller in wrong:
        with pytest.raises(Refused) as caught:
            caller.list()
        messages.add(caught.value.rule)
        assert "B" * 32 not in caught.value.message and "A" * 32 not in caught.value.message
    assert messages == {"valid-link", "valid-key"}
    assert sum(r["action"] == "refused:sign-in" for r in world.admin.audit()) == len(wrong)
    # A revoked key and a disabled account stop at once.
    eva = world.admin.users()[2]
    assert eva["name"] == "Eva Novak" and eva["keys"][0]["key"].endswith("…")
    world.admin.revoke_key(eva["keys"][0]["key"])
    with pytest.raises(Refused):
        world.admin.as_key(world.keys["reviewer"]).list()
    world.admin.set_user_status("Paul Other", enabled=False)
    with pytest.raises(Refused):
        world.admin.as_key(world.keys["other-provider"]).list()


def test_keys_and_links_never_shown_again(world: World, instance_dir: Path) -> None:
    request_id, callers = world.request_in("submitted")
    link = world.admin.new_link(request_id)["link"]
    callers["reviewer"].review(request_id, "request-changes", comment="Which CTD?")
    outputs = [json.dumps(x, default=str) for x in (
        world.admin.users(), world.admin.audit(), world.admin.history(request_id), world.admin.prov_bundles(request_id),
        world.admin.comments(request_id), world.admin.get(request_id))]
    outputs += [docket_cli(*args, "--json", instance=instance_dir).out
                for args in (("user", "list"), ("show", request_id), ("history", request_id))]
    outputs.append(world.admin.export_prov(request_id, "provn").decode())
    secrets = [*world.keys.values(), link]
    for text in outputs:
        for secret in secrets:
            assert secret not in text and secret[16:] not in text


def test_init_key_file_is_private_and_cli_acts_as_the_key(instance_dir: Path, tmp_path: Path) -> None:
    admin_key = instance_dir / "keys" / "admin.key"
    assert oct(admin_key.stat().st_mode & 0o777) == "0o600"
    assert oct(admin_key.parent.stat().st_mode & 0o777) == "0o700"
    submitted = docket_cli("submit", REQUEST, instance=instance_dir)
    request_id = submitted.out.strip()
    refused = docket_cli("review", request_id, "approved", instance=instance_dir)
    assert refused.code == 3 and "rule no-self-review" in refused.err
    eva = key_file(instance_dir, "reviewer", email="eva@dc.example.org")
    assert docket_cli("--key-file", eva, "review", f"{request_id}.1", "approved", instance=instance_dir).code == 0
    again = docket_cli("--key-file", eva, "review", f"{request_id}.1", "rejected", "-m", "no", instance=instance_dir)
    assert again.code == 4 and "eva@dc.example.org" in again.err
    # A key file others can read is not used (the rule ssh applies to private keys).
    loose = tmp_path / "loose.key"
    loose.write_text(eva.read_text())
    loose.chmod(0o644)
    bad = docket_cli("--key-file", loose, "list", instance=instance_dir)
    assert bad.code == 2 and "chmod 600" in bad.err
    # The environment variable works as the file does; --role is gone for good.
    env = {"DOCKET_API_KEY": eva.read_text()}
    assert docket_cli("list", "--json", instance=instance_dir, env=env).code == 0
    assert docket_cli("review", request_id, "approved", "--role", "reviewer", instance=instance_dir).code == 2


def _race(instance_dir: str, key: str, request_id: str, queue: mp.Queue) -> None:
    from docket.cli import main

    os.environ["DOCKET_API_KEY"] = key
    queue.put(main(["--instance", instance_dir, "review", f"{request_id}.1", "approved", "-m", "ok"]))


def test_two_reviewers_race_one_revision_exactly_one_wins(world: World, instance_dir: Path) -> None:
    second = world.admin.add_user("Rui Second", "reviewer", email="rui@dc.example.org")["key"]
    for _ in range(1):  # one race per store; each spawns two interpreters
        request_id, _callers = world.request_in("submitted")
        queue: mp.Queue = mp.get_context("spawn").Queue()
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_race, args=(str(instance_dir), key, request_id, queue))
                 for key in (world.keys["reviewer"], second)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        codes = sorted(queue.get(timeout=5) for _ in procs)
        assert codes == [0, 4], codes
        decisions = [h for h in world.admin.history(request_id) if h["kind"] == "review" and h["to"] == "approved"]
        assert len(decisions) == 1


def test_repeated_wrong_keys_from_one_place_are_slowed(instance_dir: Path) -> None:
    """After five failures from one source each try waits longer; a right key clears the count."""
    import time

    from docket.people.accounts import FREE_FAILURES

    def attempt(key: str) -> float:
        started = time.perf_counter()
        with pytest.raises(Refused):
            Docket.open(instance_dir, key=key, source="guesser at 203.0.113.9").list()
        return time.perf_counter() - started

    with Docket.open(instance_dir, source="warm-up") as local:  # the first open's own cost (the
        local.list()  # store's engine, imports) is no part of any attempt: it once took 0.8 s
    quick = [attempt(f"dk_{i:012x}_" + "C" * 32) for i in range(FREE_FAILURES)]
    slowed = attempt("dk_ffffffffffff_" + "D" * 32)
    slower = attempt("dk_fffffffffffe_" + "D" * 32)
    assert slowed >= 0.25 and slower >= 0.5 and slower > max(quick)
    # Another source is not slowed by the guesser's failures.
    with pytest.raises(Refused):
        Docket.open(instance_dir, key="dk_000000000000_" + "E" * 32, source="elsewhere").list()
    with Docket.open(instance_dir, source="elsewhere") as admin:
        assert admin.list() == []


def test_prov_names_each_person_by_role_and_the_steps_on_whose_behalf(world: World) -> None:
    """Each association has prov:hadRole; a transfer started by a person acted on their behalf."""
    request_id, callers = world.request_in("submitted")
    callers["reviewer"].review(request_id, "approved")
    people = {u["name"]: u["person_id"] for u in world.admin.users()}
    bundles = world.admin.prov_bundles(request_id)
    review = next(b["bundle"] for b in bundles if b["step"] == "review")
    inner = next(iter(review["bundle"].values()))
    roles = {rel["prov:agent"].split(":")[-1]: rel.get("prov:role") for rel in inner["wasAssociatedWith"].values()}
    assert roles[people["Eva Novak"]]["$"] == "dkt:reviewer"
    assert any(r and r["$"] == "dkt:system" for r in roles.values())
    assert "eva" not in people["Eva Novak"] and people["Eva Novak"].startswith("person_")
    assert world.callers["manager"].transfer(request_id)["outcome"] == "done"
    transfer = next(b["bundle"] for b in world.admin.prov_bundles(request_id)
                    if b["step"] == "transfer" and b["bundle"])
    inner = next(iter(transfer["bundle"].values()))
    delegations = list(inner.get("actedOnBehalfOf", {}).values())
    assert [d["prov:responsible"].split(":")[-1] for d in delegations] == [people["Maria Data"]]
    assert all(d["prov:delegate"].startswith("software:docket") for d in delegations)
    provn = world.admin.export_prov(request_id, "provn").decode()
    assert "actedOnBehalfOf(" in provn and "dkt:data-manager" in provn
