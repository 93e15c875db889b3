"""``docket doctor``: a real instance, damaged the way crashes, disks and people damage one.

Each test builds an instance with transferred files, breaks one thing, runs ``docket doctor``
through the command line and checks the finding and the exit code; then ``--fix``, and checks
what was repaired, that the repair is in the audit log, and that nothing else changed (every
store table but the audit log, and every file under ``files/``, are compared before and after).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, update
from sqlalchemy import text as sql

import docket
from docket.api import Docket
from docket.store import alembic_config, tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role, key_file

OLD = 2 * 3600  # seconds: older than doctor's grace period for leftovers and orphans


@pytest.fixture
def ids(dk: Docket) -> dict[str, str]:
    """Three requests: two approved and transferred (files on disk), one at revision 2."""
    reviewer = as_role(dk, "reviewer", "Eva Novak")
    out = {}
    for key, name in (("soil", "soil-several-files"), ("ctd", "ctd-multilingual"), ("weather", "weather-table-schema")):
        out[key] = dk.submit(EXAMPLES / "requests" / f"{name}.json")["id"]
    for key in ("soil", "ctd"):
        reviewer.review(out[key], "approved")
        assert dk.transfer(out[key])["outcome"] == "done"
    dk.revise(out["weather"], EXAMPLES / "requests" / "weather-table-schema.json")
    return out


def doctor(instance: Path, *args: str | Path, key: Path | None = None) -> tuple[int, list[dict[str, Any]]]:
    who = ("--key-file", key) if key else ()
    result = docket_cli(*who, "doctor", "--json", *args, instance=instance)
    assert result.code in (0, 1), result.err
    return result.code, result.json()


def problems(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f["severity"] in ("error", "warn") and not f["repaired"]]


def snapshot(instance: Path) -> dict[str, Any]:
    """Every store table but the audit log, and every file under files/ with its sha256.

    Signing in with a key notes when it was last used, as the audit log notes the call: that
    column is the caller's trace, not the instance's state, and is left out with it."""
    d = Docket.open(instance, migrate=False)
    try:
        with d.store.connect() as conn:
            data: dict[str, Any] = {
                t.name: sorted(json.dumps([str(v) for v in row], sort_keys=True) for row in conn.execute(
                    select(*[c for c in t.columns if (t.name, c.name) != ("api_keys", "last_used_date")])))
                for t in tables.metadata.sorted_tables if t.name != "audit_log"
            }
    finally:
        d.close()
    root = instance / "files"
    data["files/"] = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }
    return data


def doctor_audit(instance: Path) -> list[dict[str, Any]]:
    with docket.open(instance) as d:
        return [a for a in d.audit() if a["action"].startswith("doctor:")]


def make_old(path: Path, seconds: float = OLD) -> None:
    """Date a file or folder (and all inside) back, as a leftover of a crash hours ago is."""
    when = time.time() - seconds
    for p in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(p, (when, when), follow_symlinks=False)


def stored_path(dk: Docket, request_id: str, name: str) -> Path:
    return Path(next(f["location"] for f in dk.files(request_id) if f["name"] == name))


# ------------------------------------------------------------------------------------ healthy


def test_healthy_instance_is_healthy_and_fix_changes_nothing(dk: Docket, instance_dir: Path, ids: dict) -> None:
    code, findings = doctor(instance_dir)
    assert code == 0 and problems(findings) == [], findings
    text = docket_cli("doctor", instance=instance_dir)
    assert text.code == 0 and text.out.strip().endswith("healthy")
    before = snapshot(instance_dir)
    assert doctor(instance_dir, "--fix")[0] == 0
    assert snapshot(instance_dir) == before
    assert doctor_audit(instance_dir) == []


# ------------------------------------------------------------------------------------ files/


def test_transfer_leftovers_are_removed_and_audited(dk: Docket, instance_dir: Path, ids: dict) -> None:
    folder = instance_dir / "files" / ids["soil"] / "1"
    partial = folder / ".docket-partial-k3j2.tmp"  # a fetch killed mid-file
    partial.write_bytes(b"half a file")
    staging = folder / ".docket-staging-0123456789abcdef"  # an attempt killed before it committed
    staging.mkdir()
    (staging / "soil_sites.csv").write_bytes(b"x,y\n")
    top = instance_dir / "files" / ".docket-staging-dead"
    top.mkdir()
    manager = key_file(instance_dir, "data-manager")  # who repairs: a data manager's account
    before = snapshot(instance_dir)

    code, findings = doctor(instance_dir)
    leftovers = {f["where"]: f for f in findings if f["check"] == "files.leftovers"}
    assert code == 1 and set(leftovers) == {f"files/{ids['soil']}/1/{partial.name}",
                                            f"files/{ids['soil']}/1/{staging.name}", f"files/{top.name}"}
    assert all(f["fixable"] and f["fix"] == "remove it" for f in leftovers.values())
    assert partial.exists() and staging.exists()  # looking changes nothing

    code, findings = doctor(instance_dir, "--fix", key=manager)
    assert code == 0, problems(findings)
    assert not partial.exists() and not staging.exists() and not top.exists()
    assert [f["repaired"] for f in findings if f["repaired"]] == ["removed"] * 3
    audit = doctor_audit(instance_dir)
    assert {a["detail"]["path"] for a in audit} == {str(partial), str(staging), str(top)}
    assert {a["request_id"] for a in audit} == {ids["soil"], None}
    assert all(a["action"] == "doctor:files.leftovers" and a["role"] == "data-manager" for a in audit)
    after = snapshot(instance_dir)
    assert after == {**before, "files/": {k: v for k, v in before["files/"].items() if ".docket-" not in k}}


def test_leftover_a_live_transfer_holds_is_left_alone(dk: Docket, instance_dir: Path, ids: dict) -> None:
    staging = instance_dir / "files" / ids["ctd"] / "1" / ".docket-staging-feedface"
    staging.mkdir()
    (staging / "part").write_bytes(b"....")
    make_old(staging)  # however old: the lock, not the age, says a transfer is running
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as the running attempt does
        code, findings = doctor(instance_dir, "--fix", "--force", "--check", "files.leftovers")
        assert code == 0 and staging.exists()
        (finding,) = findings
        assert finding["severity"] == "info" and "running now" in finding["what"] and not finding["fixable"]
    finally:
        os.close(fd)
    code, findings = doctor(instance_dir, "--fix", "--check", "files.leftovers")
    assert code == 0 and not staging.exists() and findings[0]["repaired"] == "removed"


def test_committed_transfer_cut_before_its_rename_is_finished_not_deleted(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    """A crash after the registry said stored but before the files were renamed into place."""
    from docket.steps.transfer import COMMIT_ACTION, STAGING_PREFIX

    (commit,) = [a for a in dk.audit(ids["soil"]) if a["action"] == COMMIT_ACTION]
    folder = instance_dir / "files" / ids["soil"] / "1"
    staging = folder / f"{STAGING_PREFIX}{commit['detail']['attempt']}"
    staging.mkdir()
    for name in commit["detail"]["files"]:
        os.rename(folder / name, staging / name)
    code, findings = doctor(instance_dir)
    assert code == 1
    (leftover,) = [f for f in findings if f["check"] == "files.leftovers"]
    assert leftover["fix"] == "move its recorded files into place"
    registry = [f for f in findings if f["check"] == "files.registry"]
    assert len(registry) == 3 and all("not in place yet" in f["what"] and not f["fixable"] for f in registry)

    code, findings = doctor(instance_dir, "--fix")
    assert code == 0, problems(findings)
    assert sorted(p.name for p in folder.iterdir()) == sorted(commit["detail"]["files"])
    assert (folder / "soil_sites.csv").read_bytes() == (EXAMPLES / "files" / "soil_sites.csv").read_bytes()
    assert [f["status"] for f in dk.files(ids["soil"])] == ["stored"] * 3
    (audit,) = doctor_audit(instance_dir)
    assert audit["detail"]["action"] == "completed"
    assert doctor(instance_dir)[1] == []


def test_orphans_are_moved_aside_never_deleted_and_empty_folders_removed(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    files = instance_dir / "files"
    stray = files / ids["soil"] / "1" / "notes.txt"  # no registry row names it
    stray.write_text("a person's notes")
    ghost = files / "ocean-0099" / "1"  # a request the store does not have (restored from an old backup?)
    ghost.mkdir(parents=True)
    (ghost / "data.csv").write_text("a,b\n1,2\n")
    empty = files / ids["weather"] / "7"  # a revision that does not exist, empty
    empty.mkdir(parents=True)
    for p in (stray, files / "ocean-0099", files / ids["weather"]):
        make_old(p)
    before = snapshot(instance_dir)

    code, findings = doctor(instance_dir)
    orphans = {f["where"]: f for f in findings if f["check"] == "files.orphans"}
    assert code == 1 and set(orphans) == {f"files/{ids['soil']}/1/notes.txt", "files/ocean-0099",
                                          f"files/{ids['weather']}/7"}
    assert all(f["fixable"] for f in orphans.values())
    assert "empty" in orphans[f"files/{ids['weather']}/7"]["what"]

    code, findings = doctor(instance_dir, "--fix")
    assert code == 0, findings
    quarantined = list((files / ".docket-orphans").glob("*"))
    assert len(quarantined) == 1  # one folder per run, named by its UTC time
    kept = quarantined[0]
    assert (kept / ids["soil"] / "1" / "notes.txt").read_text() == "a person's notes"
    assert (kept / "ocean-0099" / "1" / "data.csv").read_text() == "a,b\n1,2\n"
    assert not stray.exists() and not (files / "ocean-0099").exists() and not empty.exists()
    actions = sorted((a["detail"].get("moved") or a["detail"]["removed"]) for a in doctor_audit(instance_dir))
    assert actions == sorted([str(stray), str(files / "ocean-0099"), str(empty)])
    # The store is untouched; files/ differs only by what moved.
    after = snapshot(instance_dir)
    assert {k: v for k, v in after.items() if k != "files/"} == {k: v for k, v in before.items() if k != "files/"}
    moved = {k for k in before["files/"] if k.startswith(("ocean-0099", f"{ids['weather']}/7", f"{ids['soil']}/1/notes"))}
    assert {k: v for k, v in after["files/"].items() if not k.startswith(".docket-orphans")} == \
        {k: v for k, v in before["files/"].items() if k not in moved}
    # Quarantine is not a leftover: the next run is healthy and says what is kept.
    code, findings = doctor(instance_dir, "--fix")
    assert code == 0 and [f["severity"] for f in findings] == ["info"] and "2 orphan files kept" in findings[0]["what"]
    assert (kept / ids["soil"] / "1" / "notes.txt").exists()


def test_fresh_orphans_wait_for_force_and_unknown_docket_names_are_kept(instance_dir: Path) -> None:
    files = instance_dir / "files"
    copying = files / "incoming.nc"  # someone is copying it in right now
    copying.write_bytes(b"\x89HDF" * 100)
    unknown = files / ".docket-mine"  # a .docket- name the transfer layer does not make
    unknown.write_text("?")
    code, findings = doctor(instance_dir, "--fix")
    by_where = {f["where"]: f for f in findings}
    assert code == 1 and copying.exists() and unknown.exists()
    assert "left alone" in by_where["files/incoming.nc"]["what"] and not by_where["files/incoming.nc"]["fixable"]
    assert "does not make" in by_where["files/.docket-mine"]["what"] and not by_where["files/.docket-mine"]["fixable"]
    code, findings = doctor(instance_dir, "--fix", "--force")
    assert code == 1 and not copying.exists() and unknown.exists()  # moved aside; the unknown one still kept
    (moved,) = (files / ".docket-orphans").rglob("incoming.nc")
    assert moved.read_bytes() == b"\x89HDF" * 100


def test_unrecorded_transfer_file_is_reported_not_moved(dk: Docket, instance_dir: Path, ids: dict) -> None:
    """A transfer that stopped after the bytes landed but before the registry row said stored."""
    f = tables.files
    path = stored_path(dk, ids["ctd"], "ctd_bay_of_biscay_2024.csv")
    with dk.store.transaction() as conn:
        conn.execute(update(f).where(f.c.request_id == ids["ctd"]).values(status="declared", location=None))
    make_old(path)
    code, findings = doctor(instance_dir, "--fix")
    assert code == 1 and path.exists()
    (finding,) = problems(findings)
    assert finding["check"] == "files.orphans" and "declared" in finding["what"] and not finding["fixable"]
    assert f"docket transfer {ids['ctd']}" in finding["what"]


# ------------------------------------------------------------------------------------ registry


def test_vanished_file_is_marked_missing_then_stored_again_when_it_is_back(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    path = stored_path(dk, ids["soil"], "soil_methods.txt")
    path.unlink()
    ana = key_file(instance_dir, "data-manager", "Ana Data")  # her account exists before the snapshot
    before = snapshot(instance_dir)
    code, findings = doctor(instance_dir)
    (finding,) = problems(findings)
    assert code == 1 and finding["check"] == "files.registry" and finding["severity"] == "error"
    assert finding["where"] == f"{ids['soil']}.1/soil_methods.txt" and finding["fixable"]
    assert "does not exist" in finding["what"]

    code, findings = doctor(instance_dir, "--fix", key=ana)
    assert code == 0 and problems(findings) == []
    row = next(f for f in dk.files(ids["soil"]) if f["name"] == "soil_methods.txt")
    assert row["status"] == "missing" and "transfer the request again" in row["detail"]
    assert row["location"] == str(path) and row["sha256"]  # what was measured stays, to verify a restore
    (audit,) = doctor_audit(instance_dir)
    assert audit["action"] == "doctor:files.registry" and audit["detail"]["status"] == ["stored", "missing"]
    log = docket_cli("doctor", "--log", "--json", instance=instance_dir)
    assert log.code == 0
    (entry,) = log.json()
    assert entry["actor"] == "Ana Data" and entry["role"] == "data-manager" and entry["check"] == "files.registry"
    assert entry["request_id"] == ids["soil"] and entry["detail"]["file"] == f"{ids['soil']}.1/soil_methods.txt"
    assert "Ana Data" in docket_cli("doctor", "--log", instance=instance_dir).out
    after = snapshot(instance_dir)
    changed = [t for t in before if before[t] != after[t]]
    assert changed == ["files"]  # only the one registry row
    shown = docket_cli("show", ids["soil"], instance=instance_dir)
    assert "missing:" in shown.out

    # Still a problem (the bytes are gone), but a known one: reported, nothing left to fix.
    code, findings = doctor(instance_dir, "--fix")
    assert code == 1 and [f["severity"] for f in problems(findings)] == ["warn"]
    assert not problems(findings)[0]["fixable"]

    # The file is restored with its measured bytes: back to stored.
    shutil.copyfile(EXAMPLES / "files" / "soil_methods.txt", path)
    code, findings = doctor(instance_dir)
    assert code == 0 and [f["fix"] for f in findings] == ["mark it stored again"]
    assert doctor(instance_dir, "--fix")[0] == 0
    assert next(f for f in dk.files(ids["soil"]) if f["name"] == "soil_methods.txt")["status"] == "stored"
    assert doctor(instance_dir)[1] == []


def test_changed_bytes_are_reported_never_fixed_and_quick_compares_sizes(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    path = stored_path(dk, ids["soil"], "soil_sites.csv")
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01  # one flipped bit, same size: only hashing sees it
    path.write_bytes(bytes(data))
    before = snapshot(instance_dir)
    code, findings = doctor(instance_dir, "--fix")
    (finding,) = problems(findings)
    assert code == 1 and "sha256" in finding["what"] and not finding["fixable"]
    assert snapshot(instance_dir) == before and doctor_audit(instance_dir) == []
    assert doctor(instance_dir, "--quick")[0] == 0  # sizes only: the same
    path.write_bytes(bytes(data) + b"more\n")
    code, findings = doctor(instance_dir, "--quick")
    assert code == 1 and "bytes, transfer measured" in problems(findings)[0]["what"]


def test_instance_moved_records_the_new_location(dk: Docket, instance_dir: Path, ids: dict) -> None:
    f = tables.files
    with dk.store.transaction() as conn:  # as if the instance lived elsewhere when it transferred
        for row in conn.execute(select(f.c.id, f.c.location).where(f.c.request_id == ids["ctd"])).all():
            conn.execute(update(f).where(f.c.id == row.id).values(location=row.location.replace(
                str(instance_dir), "/srv/old-place")))
    code, findings = doctor(instance_dir)
    (finding,) = problems(findings)
    assert code == 1 and "moved" in finding["what"] and finding["fixable"]
    assert doctor(instance_dir, "--fix")[0] == 0
    assert dk.files(ids["ctd"])[0]["location"] == str(instance_dir / "files" / ids["ctd"] / "1" /
                                                       "ctd_bay_of_biscay_2024.csv")


def test_progress_shows_hashing(dk: Docket, instance_dir: Path, ids: dict) -> None:
    result = docket_cli("doctor", "--progress", "--check", "files.registry", instance=instance_dir)
    assert result.code == 0 and "doctor: hashing files" in result.err


# ------------------------------------------------------------------------------------ records


def test_revision_changed_after_writing_is_an_error_doctor_does_not_hide(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    r = tables.revisions
    key = (r.c.request_id == ids["weather"]) & (r.c.revision == 1)
    with dk.store.transaction() as conn:
        doc = conn.execute(select(r.c.document).where(key)).scalar_one()
        doc["provider"]["name"] = "Someone Else"
        conn.execute(update(r).where(key).values(document=doc))
    before = snapshot(instance_dir)
    code, findings = doctor(instance_dir, "--fix")
    (finding,) = problems(findings)
    assert code == 1 and finding["check"] == "records.revisions" and finding["where"] == f"{ids['weather']}.1"
    assert "digest" in finding["what"] and not finding["fixable"]
    assert snapshot(instance_dir) == before

    # A careful forger also rewrites the stored digest: the PROV submission bundle still disagrees.
    from docket.api import record_digest

    with dk.store.transaction() as conn:
        conn.execute(update(r).where(key).values(digest=record_digest(doc)))
    code, findings = doctor(instance_dir)
    (finding,) = problems(findings)
    assert code == 1 and "PROV submission bundle recorded" in finding["what"]


def test_missing_revision_and_broken_history(dk: Docket, instance_dir: Path, ids: dict) -> None:
    req = tables.requests
    with dk.store.transaction() as conn:
        steps = conn.execute(select(req.c.steps).where(req.c.id == ids["soil"])).scalar_one()
        steps["transfer"] = {"status": "open"}  # the state moved with no history row saying so
        conn.execute(update(req).where(req.c.id == ids["soil"]).values(revision=2, steps=steps))
        conn.execute(update(req).where(req.c.id == ids["weather"]).values(review_state="approved"))
        conn.execute(delete(tables.status_history).where(tables.status_history.c.request_id == ids["ctd"]))
    before = snapshot(instance_dir)
    code, findings = doctor(instance_dir, "--fix", "--check", "records.revisions,records.history")
    found = {(f["check"], f["where"]): f["what"] for f in problems(findings)}
    assert code == 1 and len(found) == 4 and not any(f["fixable"] for f in findings)
    assert "revision 2 missing" in found[("records.revisions", ids["soil"])]
    assert "no status history" in found[("records.history", ids["ctd"])]
    assert "open but the history's last row for it says closed/done" in \
        found[("records.history", f"{ids['soil']} step transfer")]
    assert "review state is approved but the history's last review moved it to draft" in \
        found[("records.history", ids["weather"])]
    assert snapshot(instance_dir) == before


def test_missing_and_tampered_prov_bundles(dk: Docket, instance_dir: Path, ids: dict) -> None:
    p = tables.prov_bundles
    with dk.store.transaction() as conn:
        conn.execute(delete(p).where(p.c.request_id == ids["soil"], p.c.step == "transfer"))
        conn.execute(delete(p).where(p.c.request_id == ids["weather"]))
        row = conn.execute(select(p.c.id, p.c.bindings).where(p.c.request_id == ids["ctd"], p.c.step == "review")).one()
        bindings = row.bindings
        bindings["var"]["toState"] = [{"@value": "rejected", "@type": "xsd:string"}]
        conn.execute(update(p).where(p.c.id == row.id).values(bindings=bindings))
        bad = conn.execute(select(p.c.id).where(p.c.request_id == ids["ctd"], p.c.step == "transfer")).scalar_one()
        conn.execute(update(p).where(p.c.id == bad).values(bundle={"bundle": "not prov"}))
    before = snapshot(instance_dir)
    code, findings = doctor(instance_dir, "--fix", "--check", "prov.bundles")
    found = problems(findings)
    assert code == 1 and all(not f["fixable"] for f in found)
    texts = {f["where"]: f["what"] for f in found}
    assert any(w.startswith(f"{ids['soil']} step transfer") and "no transfer PROV bundle" in t for w, t in texts.items())
    assert texts[ids["weather"]].startswith("the request has no PROV bundle")
    assert "does not give the stored bundle" in texts[f"{ids['ctd']} bundle review/1"]
    assert f"{ids['ctd']} bundle transfer/1" in texts
    assert snapshot(instance_dir) == before


# ------------------------------------------------------------------------------------ the store


def test_old_migration_is_reported_not_applied_and_fix_upgrades(dk: Docket, instance_dir: Path, ids: dict) -> None:
    from alembic import command

    with dk.store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    head = dk.store.head()
    dk.close()
    code, findings = doctor(instance_dir)
    (finding,) = [f for f in findings if f["check"] == "store.migration"]
    assert code == 1 and finding["fixable"] and "0001" in finding["what"] and head in finding["what"]
    assert any(f["where"] == "table imports" for f in findings)  # what the old store lacks
    with docket.api.Docket.open(instance_dir, migrate=False) as d:
        assert d.store.current() == "0001"  # looking did not migrate it
    code, findings = doctor(instance_dir, "--fix")
    assert code == 0, problems(findings)
    assert findings[0]["repaired"] == f"upgraded from 0001 to {head}"
    with docket.api.Docket.open(instance_dir, migrate=False) as d:
        assert d.store.current() == head
        # Read from the store: going back to 0001 dropped the accounts, so the admin key no longer
        # signs in, and nothing makes a first admin for an upgraded store (reported to the
        # coordinator; see test_prov_validity's test_an_instance_upgraded_from_before_accounts_can_be_used).
        with d.store.connect() as conn:
            (audit,) = conn.execute(select(tables.audit_log).where(
                tables.audit_log.c.action.like("doctor:%"))).all()
    detail = audit.detail if isinstance(audit.detail, dict) else json.loads(audit.detail)
    assert audit.action == "doctor:store.migration" and detail == {"from": "0001", "to": head}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_corrupt_sqlite_index_fails_integrity_check(instance_dir: Path) -> None:
    with docket.open(instance_dir) as d:
        d.submit(EXAMPLES / "requests" / "ctd-multilingual.json")
    db = instance_dir / "docket.sqlite"
    # An index whose entries no longer match its table: what a torn write or a bad disk leaves.
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX ix_requests_review_state ON requests (title)' "
                 "WHERE name = 'ix_requests_review_state'")
    conn.commit()
    conn.close()
    code, findings = doctor(instance_dir)
    (finding,) = problems(findings)
    assert code == 1 and finding["check"] == "store.integrity" and "integrity_check" in finding["what"]
    assert not finding["fixable"]


# doctor._acting asks store.current() first and catches only DocketError, not the SQLAlchemy error
def test_unreadable_store_is_one_finding(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    (folder / "docket.sqlite").write_bytes(b"this is not a database" * 100)
    for extra in ("docket.sqlite-wal", "docket.sqlite-shm"):
        (folder / extra).unlink(missing_ok=True)
    code, findings = doctor(folder)
    assert code == 1 and len(findings) == 1 and "cannot be read" in findings[0]["what"]


# doctor._acting asks store.current() before the store checks run: connecting makes the missing file
def test_missing_sqlite_file_is_reported_not_recreated(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    for name in ("docket.sqlite", "docket.sqlite-wal", "docket.sqlite-shm"):
        (folder / name).unlink(missing_ok=True)
    code, findings = doctor(folder, "--fix")
    assert code == 1 and len(findings) == 1 and "does not exist" in findings[0]["what"]
    assert not (folder / "docket.sqlite").exists()


def test_empty_store_beside_files_is_not_upgraded_into_a_new_instance(
        dk: Docket, instance_dir: Path, ids: dict) -> None:
    """The store setting now names an empty database (a typo, a new schema): upgrading it would
    start a second, empty instance beside files/ that belong to the real one."""
    config = (instance_dir / "docket.toml").read_text()
    schema = dk.config.store_schema
    if schema:  # PostgreSQL: a schema that does not exist yet
        config = config.replace(f'schema = "{schema}"', f'schema = "{schema}_x"')
    else:
        config = config.replace("docket.sqlite", "other.sqlite")
        sqlite3.connect(instance_dir / "other.sqlite").close()
    (instance_dir / "docket.toml").write_text(config)
    try:
        code, findings = doctor(instance_dir, "--fix")
        (finding,) = [f for f in findings if f["check"] == "store.migration"]
        assert code == 1 and not finding["fixable"] and "restore it from a backup" in finding["what"]
    finally:
        if schema:
            engine = create_engine(dk.store.url)
            with engine.begin() as conn:
                conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}_x" CASCADE'))
            engine.dispose()


# ------------------------------------------------------------------------------------ usage


def test_bad_usage_and_roles(instance_dir: Path) -> None:
    assert docket_cli("doctor", "--check", "nope", instance=instance_dir).code == 2
    assert docket_cli("doctor", "--force", instance=instance_dir).code == 2  # --force changes --fix only
    for role in ("provider", "reviewer"):
        who = key_file(instance_dir, role)
        assert docket_cli("--key-file", who, "doctor", "--fix", instance=instance_dir).code == 3, role
    assert docket_cli("doctor", instance=instance_dir / "nowhere").code == 2
