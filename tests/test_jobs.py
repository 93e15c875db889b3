"""The jobs worker (issue 9, part 6): claimed once, retried with backoff, sent exactly once.

Time is moved by giving the worker an explicit ``now`` (never by sleeping), and the mail server
is a real aiosmtpd on loopback that the tests stop, start again and tell to refuse addresses.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import docket
import tests.test_notify as notify_tests
from docket import jobs
from docket.jobs import queue as job_queue
from docket.jobs.registry import _KINDS, JobKind, Permanent
from docket.notify.settings import smtp_settings
from docket.store import tables
from tests.clirun import docket_cli
from tests.test_notify import (
    SQLITE,
    Desk,
    Mailbox,
    configure,
    job_rows_text,
    link_in,
    queue,
    smtp_table,
)

# The fixtures of test_notify, shared (pytest finds fixtures among a module's names).
mailbox = notify_tests.mailbox
desk = notify_tests.desk
populated_sqlite = notify_tests.populated_sqlite
PROVIDER = "ana.lima@ifremer.example.org"


def job(d: docket.api.Docket, job_id: int | None = None) -> dict:
    listed = jobs.listing(d)
    return listed[0] if job_id is None else next(j for j in listed if j["id"] == job_id)


def aware(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


# -- the mail server is down, then up again ----------------------------------------------------------


def test_server_down_then_up_delivers_exactly_once(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    mailbox.stop()
    assert queue(d, "approved", request_id) == 1
    summary = jobs.run_soon(d)  # what a command runs after its change: no error, the mail waits
    assert summary is not None and (summary["claimed"], summary["retried"]) == (1, 1)
    queued = job(d)
    assert (queued["status"], queued["attempts"]) == ("queued", 1)
    assert f"127.0.0.1:{mailbox.port}: cannot connect" in queued["last_error"]
    tried = aware(queued["updated"])
    assert aware(queued["next_try"]) == tried + timedelta(seconds=30)  # [jobs] backoff_base default
    assert jobs.run(d, now=tried + timedelta(seconds=29))["claimed"] == 0  # not due yet
    mailbox.start()  # the same port again
    assert jobs.run(d, now=tried + timedelta(seconds=31))["done"] == 1
    assert jobs.run(d, now=tried + timedelta(hours=2))["claimed"] == 0
    assert len(mailbox.messages) == 1
    assert mailbox.handler.received[0][0] == [PROVIDER]
    done = job(d)
    assert (done["status"], done["attempts"], done["last_error"]) == ("done", 2, None)
    # The link minted for the try that failed was revoked; the one that went out opens the request.
    with d.store.connect() as conn:
        rows = list(conn.execute(select(tables.request_links).where(tables.request_links.c.request_id == request_id)))
        from docket.people import links

        assert links.resolve(conn, link_in(mailbox.messages[0]), at=datetime.now(UTC)) == request_id
    assert sorted(r.revoked_date is None for r in rows) == [False, True]


def test_two_workers_at_once_send_each_mail_once(desk: Desk, mailbox: Mailbox) -> None:
    extra = [f"desk{n}@data.example.org" for n in range(8)]
    configure(desk.folder, smtp=smtp_table(mailbox), notify={"submitted": ["provider", "reviewers", *extra]})
    with docket.open(desk.folder) as d:
        assert queue(d, "submitted", desk.request_id) == 11  # the provider, rita, dora, 8 desks
    workers = [docket.open(desk.folder) for _ in range(3)]
    start = threading.Barrier(len(workers))
    summaries: list[dict] = []

    def work(w: docket.api.Docket) -> None:
        start.wait()
        summaries.append(jobs.run(w))

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in workers:
        w.close()
    assert len(summaries) == 3
    assert sum(s["claimed"] for s in summaries) == sum(s["done"] for s in summaries) == 11
    claimed = Counter(j["id"] for s in summaries for j in s["jobs"])
    assert set(claimed.values()) == {1}
    sent = Counter(r for rcpt, _ in mailbox.handler.received for r in rcpt)
    assert sent == Counter([PROVIDER, "rita@data.example.org", "dora@data.example.org", *extra])
    assert {j["status"] for j in jobs.listing(desk.d)} == {"done"}


# -- final and passing refusals --------------------------------------------------------------------------


@SQLITE
def test_a_5xx_fails_at_once_and_retry_queues_it_again(desk: Desk, mailbox: Mailbox) -> None:
    mailbox.handler.refuse[PROVIDER] = "550 5.1.1 <ana.lima@ifremer.example.org>: no such user"
    queue(desk.d, "rejected", desk.request_id, comment="Wrong files.")
    ran = docket_cli("jobs", "run", instance=desk.folder)
    assert ran.code == 1, ran.err
    assert "0 done, 0 to retry, 1 failed" in ran.out and "550 5.1.1" in ran.out and "no such user" in ran.out
    failed = docket_cli("jobs", "--failed", instance=desk.folder)
    assert failed.code == 0
    job_id = job(desk.d)["id"]
    assert f"{job_id}  failed  notify  tries 1" in failed.out
    assert f"rejected {desk.request_id}.1 -> {PROVIDER}" in failed.out and "no such user" in failed.out
    (listed,) = docket_cli("jobs", "--failed", "--json", instance=desk.folder).json()
    assert (listed["id"], listed["status"], listed["attempts"]) == (job_id, "failed", 1)
    assert listed["payload"]["event"] == "rejected" and listed["next_try"] is None

    del mailbox.handler.refuse[PROVIDER]
    again = docket_cli("jobs", "retry", str(job_id), instance=desk.folder)
    assert again.code == 0, again.err
    assert f"job {job_id} queued again" in again.out
    assert (job(desk.d)["status"], job(desk.d)["attempts"]) == ("queued", 0)
    ran = docket_cli("jobs", "run", "--json", instance=desk.folder)
    assert ran.code == 0 and ran.json()["done"] == 1
    assert len(mailbox.messages) == 1
    assert docket_cli("jobs", "--failed", instance=desk.folder).out.strip() == "no failed jobs"

    done = docket_cli("jobs", "retry", str(job_id), instance=desk.folder)
    assert done.code == 3 and f"job {job_id} is done" in done.err
    for args, message in ((["retry", "999"], "no job 999"), (["retry", "x1"], "job ID must be a number"),
                          (["--limit", "0"], "--limit must be at least 1"), (["--status", "lost"], "invalid choice")):
        result = docket_cli("jobs", *args, instance=desk.folder)
        assert result.code == 2 and message in result.err, (args, result.err)
        assert "Traceback" not in result.err


@SQLITE
def test_a_4xx_is_retried_with_growing_waits_then_given_up(desk: Desk, mailbox: Mailbox) -> None:
    configure(desk.folder, smtp=smtp_table(mailbox), jobs={"backoff_base": 10, "backoff_cap": 25, "max_attempts": 3})
    mailbox.handler.refuse[PROVIDER] = "450 4.2.1 mailbox busy, try later"
    with docket.open(desk.folder) as d:
        queue(d, "approved", desk.request_id)
        t0 = datetime.now(UTC) + timedelta(seconds=1)
        waits = []
        at = t0
        for _ in range(2):
            (tried,) = jobs.run(d, now=at)["jobs"]
            assert tried["status"] == "queued" and "450 4.2.1 mailbox busy" in tried["error"]
            waits.append(aware(tried["next_try"]) - at)
            at = aware(tried["next_try"])
        (last,) = jobs.run(d, now=at)["jobs"]
    assert waits == [timedelta(seconds=10), timedelta(seconds=20)]
    assert last["status"] == "failed" and last["error"].endswith("(gave up after 3 attempts)")
    assert mailbox.messages == []


# -- kinds are a registry ----------------------------------------------------------------------------------


@SQLITE
def test_job_kinds_are_a_registry(desk: Desk) -> None:
    def echo(ctx: jobs.JobContext, payload: dict) -> dict:
        if payload.get("final"):
            raise Permanent("cannot be done: " + payload["final"])
        if payload.get("bug"):
            return {"ratio": 1 / 0}
        return {"echo": payload["x"], "attempt": ctx.attempts, "request": ctx.request_id}

    jobs.register(JobKind("echo", echo, describe=lambda p: f"echo {p.get('x')}"))
    try:
        now = datetime.now(UTC)
        with desk.d.store.transaction() as conn:
            ids = [job_queue.enqueue(conn, kind, key=f"test:{n}", payload=payload, at=now, request_id=desk.request_id)
                   for n, (kind, payload) in enumerate([("echo", {"x": 7}), ("echo", {"final": "no such DOI prefix"}),
                                                        ("echo", {"bug": True}), ("nope", {})])]
            assert job_queue.enqueue(conn, "echo", key="test:0", payload={"x": 8}, at=now) is None
        summary = jobs.run(desk.d)
    finally:
        _KINDS.pop("echo", None)
    by_id = {j["id"]: j for j in summary["jobs"]}
    assert by_id[ids[0]]["status"] == "done" and by_id[ids[0]]["what"] == "echo 7"
    assert job(desk.d, ids[0])["result"] == {"echo": 7, "attempt": 1, "request": desk.request_id}
    assert (by_id[ids[1]]["status"], by_id[ids[1]]["error"]) == ("failed", "cannot be done: no such DOI prefix")
    assert by_id[ids[2]]["status"] == "queued"
    assert by_id[ids[2]]["error"] == "internal error in the echo handler (ZeroDivisionError)"
    assert by_id[ids[3]]["status"] == "failed" and "no handler for job kind 'nope'" in by_id[ids[3]]["error"]


# -- settings and secrets -----------------------------------------------------------------------------------


@SQLITE
def test_the_smtp_password_is_never_shown(desk: Desk, mailbox: Mailbox) -> None:
    password = "pw-Zq8s3cret-4417"
    env = {"DOCKET_SMTP_USER": "desk", "DOCKET_SMTP_PASSWORD": password}
    queue(desk.d, "approved", desk.request_id)
    ran = docket_cli("jobs", "run", instance=desk.folder, env=env)
    assert ran.code == 1
    assert "refusing to send the SMTP password unencrypted; set [smtp] starttls = true" in ran.out
    listed = docket_cli("jobs", "--json", instance=desk.folder, env=env)
    for text_ in (ran.out, ran.err, listed.out, listed.err, job_rows_text(desk.d)):
        assert password not in text_
    assert password not in repr(smtp_settings(desk.d.config, environ=env))
    assert mailbox.messages == []


@SQLITE
def test_bad_jobs_settings_are_named_and_run_soon_never_raises(desk: Desk, mailbox: Mailbox) -> None:
    for table, named in (({"backoff_base": -1}, "backoff_base must be a number of seconds"),
                         ({"max_attempts": 0}, "max_attempts must be a whole number"),
                         ({"retries": 3}, "unknown setting 'retries'")):
        configure(desk.folder, smtp=smtp_table(mailbox), jobs=table)
        result = docket_cli("jobs", "run", instance=desk.folder)
        assert result.code == 2 and named in result.err and "[jobs]" in result.err, result.err
        with docket.open(desk.folder) as d:
            assert jobs.run_soon(d) is None  # logged, not raised: the user's command succeeded


@SQLITE
def test_starttls_and_login_from_the_environment(desk: Desk, tmp_path: Path) -> None:
    """A real STARTTLS handshake and AUTH PLAIN against aiosmtpd, with a self-signed certificate
    that the instance trusts through ``[smtp] cafile``; a wrong password waits, unshown."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = auth_data.login == b"desk" and auth_data.password == b"right-pw-93"
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    box = Mailbox()
    box.controller = Controller(box.handler, hostname="127.0.0.1", port=box.port, tls_context=server_tls,
                                require_starttls=True, authenticator=authenticate, auth_require_tls=True)
    box.controller.start()
    try:
        configure(desk.folder, smtp=smtp_table(box, starttls=True, cafile=str(cert)))
        queue(desk.d, "approved", desk.request_id)
        wrong = docket_cli("jobs", "run", instance=desk.folder,
                           env={"DOCKET_SMTP_USER": "desk", "DOCKET_SMTP_PASSWORD": "wrong-pw-12"})
        assert wrong.code == 1 and "login as DOCKET_SMTP_USER failed: 535" in wrong.out
        assert "wrong-pw-12" not in wrong.out + job_rows_text(desk.d)
        # The data manager fixes the password and sends the waiting mail now.
        assert docket_cli("jobs", "retry", str(job(desk.d)["id"]), instance=desk.folder).code == 0
        right = docket_cli("jobs", "run", instance=desk.folder,
                           env={"DOCKET_SMTP_USER": "desk", "DOCKET_SMTP_PASSWORD": "right-pw-93"})
        assert right.code == 0 and "1 run: 1 done" in right.out, right.out
        assert [rcpt for rcpt, _ in box.handler.received] == [[PROVIDER]]
    finally:
        box.stop()
