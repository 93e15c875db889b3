"""Notifications (issue 9, part 6): mail per transition, through jobs, to a real SMTP server.

Every test hands its mail to a real aiosmtpd server on loopback and reads what arrived: the
recipients, the subject, the language, the provider's link (which must open the request), and
that no secret is left behind in the jobs table or in ``docket jobs --json``.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import socket
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
import tomli_w
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

import docket
from docket import jobs
from docket.api import Docket
from docket.errors import BadInput, InstanceError
from docket.notify import queue_event
from docket.people import links
from docket.store import tables
from tests.clirun import docket_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CTD = EXAMPLES / "requests" / "ctd-multilingual.json"
SENDER = "Ingest desk <desk@data.example.org>"
LINK = re.compile(r"[?&]link=([^\s&]+)")
#: Most tests run on SQLite only (the store's part is the same code); those about the queue's
#: SQL (idempotent insert, delivery) run on PostgreSQL too, when a server is configured.
SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


# -- a real mail server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """An aiosmtpd handler that keeps every message, and refuses the addresses it is told to."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}  # address -> SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.received.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class Mailbox:
    """A loopback SMTP server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.handler = Collector()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in self.handler.received]

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for (rcpt, _), m in zip(self.handler.received, self.messages, strict=True) if address in rcpt]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def configure(folder: Path, **tables_: dict) -> None:
    """Set whole tables of an instance's docket.toml (e.g. smtp={...})."""
    path = folder / "docket.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.update(tables_)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")


def smtp_table(box: Mailbox, **more: object) -> dict:
    return {"host": "127.0.0.1", "port": box.port, "from": SENDER, "timeout": 5, **more}


def body(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def link_in(message: email.message.EmailMessage) -> str:
    found = LINK.search(body(message))
    assert found, body(message)
    return unquote(found.group(1))


def queue(d: Docket, event: str, request_id: str, *, language: str | None = "en", at: datetime | None = None,
          provider_email: str | None = "ana.lima@ifremer.example.org", provider_name: str | None = "Ana Lima",
          title: str = "CTD casts in the Bay of Biscay", **more: object) -> int:
    with d.store.transaction() as conn:
        return queue_event(conn, d.config, event, request_id=request_id, revision=1, title=title,
                           provider_email=provider_email, provider_name=provider_name, language=language,
                           at=at or datetime.now(UTC), **more)


@dataclass
class Desk:
    """An instance with one request (ocean-0001, submitted before mail was set up, so it queued
    nothing), staff accounts, and [smtp] pointing at the mailbox."""

    folder: Path
    d: Docket
    request_id: str


STAFF = [("rita", "reviewer", "rita@data.example.org", "active"),
         ("dora", "data-manager", "dora@data.example.org", "active"),
         ("sam", "reviewer", None, "active"),  # no address: nobody to mail
         ("olga", "reviewer", "olga@data.example.org", "disabled"),  # disabled: no mail
         ("pia", "provider", "pia@elsewhere.example.org", "active")]  # not staff


def populate(folder: Path) -> str:
    """Submit the request and add the accounts (through the API, as an admin would)."""
    with docket.open(folder) as d:
        request_id = d.submit(CTD)["id"]
        for name, role, address, status in STAFF:
            d.add_user(name, role, email=address)
            if status == "disabled":
                d.set_user_status(name, False)
    return request_id


@pytest.fixture(scope="module")
def populated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One populated SQLite instance per module, copied by each test (an instance is a folder):
    the accounts' argon2 keys and the first submission are paid for once."""
    folder = tmp_path_factory.mktemp("populated") / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                local_roots=["inbox", str(EXAMPLES)]).close()
    return folder, populate(folder)


@pytest.fixture
def desk(backend: str, mailbox: Mailbox, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Desk]:
    if backend == "sqlite":
        template, request_id = request.getfixturevalue("populated_sqlite")
        folder = tmp_path / "inst"
        shutil.copytree(template, folder)
    else:
        folder = request.getfixturevalue("instance_dir")
        request_id = populate(folder)
    configure(folder, smtp=smtp_table(mailbox))
    d = docket.open(folder)
    yield Desk(folder, d, request_id)
    d.close()


def job_rows_text(d: Docket) -> str:
    with d.store.connect() as conn:
        return "\n".join(repr(tuple(r)) for r in conn.execute(select(tables.jobs)))


# -- who is told, in which language, with which link ---------------------------------------------


def test_submitted_tells_reviewers_and_gives_the_provider_a_receipt(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    assert queue(d, "submitted", request_id) == 3
    summary = jobs.run(d)
    assert (summary["claimed"], summary["done"], summary["failed"], summary["retried"]) == (3, 3, 0, 0)
    recipients = sorted(r for rcpt, _ in mailbox.handler.received for r in rcpt)
    assert recipients == ["ana.lima@ifremer.example.org", "dora@data.example.org", "rita@data.example.org"]
    for staff in ("rita@data.example.org", "dora@data.example.org"):
        (mail,) = mailbox.to(staff)
        assert mail["Subject"] == f"[ocean] {request_id}.1 submitted for review: CTD casts in the Bay of Biscay"
        assert mail["From"].addresses[0].addr_spec == "desk@data.example.org"
        assert "submitted for review by Ana Lima" in body(mail)
        assert f"docket show {request_id}" in body(mail)
        assert not LINK.search(body(mail)), "staff must never get the provider's link"
    (receipt,) = mailbox.to("ana.lima@ifremer.example.org")
    assert "Thank you" in body(receipt)
    with d.store.connect() as conn:
        assert links.resolve(conn, link_in(receipt), at=datetime.now(UTC)) == request_id


@SQLITE
def test_provider_mail_in_french_with_comment_fields_and_a_link_that_opens_the_request(
        desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    assert queue(d, "changes-requested", request_id, language="fr",
                 comment="Merci de préciser l'unité de la salinité.",
                 fields=["$.metadata.dataset_structural.fields[2].unit"]) == 1
    assert jobs.run(d)["done"] == 1
    (mail,) = mailbox.messages
    assert mailbox.handler.received[0][0] == ["ana.lima@ifremer.example.org"]
    assert mail["Subject"] == f"[ocean] {request_id}.1 : modifications demandées – CTD casts in the Bay of Biscay"
    assert mail["Content-Language"] == "fr"
    assert mail["To"].addresses[0].display_name == "Ana Lima"
    text_ = body(mail)
    assert "Le relecteur demande des modifications" in text_
    assert "Merci de préciser l'unité de la salinité." in text_
    assert "$.metadata.dataset_structural.fields[2].unit" in text_
    secret = link_in(mail)
    assert secret.startswith("dl_")
    with d.store.connect() as conn:
        assert links.resolve(conn, secret, at=datetime.now(UTC)) == request_id
    # The secret exists only in the mail: not in the jobs table, not in docket jobs --json.
    assert secret not in job_rows_text(d)
    listed = docket_cli("jobs", "--json", instance=desk.folder)
    assert listed.code == 0, listed.err
    assert secret not in listed.out and secret.split("_")[2] not in listed.out
    (job,) = listed.json()
    assert job["status"] == "done" and job["result"]["link_sent"] is True
    assert job["result"]["message_id"] == mail["Message-ID"]


LANGUAGES = [
    ("de", "de", "Der Antrag"),
    ("fr-CA", "fr", "La demande"),
    ("pt", "en", "Request"),  # no Portuguese templates: the instance's default language
    ("../../etc", "en", "Request"),  # never a path
    (None, "en", "Request"),
]


@SQLITE
def test_language_falls_back_from_region_to_default(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    for n, (language, expected, phrase) in enumerate(LANGUAGES):
        queue(d, "approved", request_id, language=language, occurrence=100 + n)
        assert jobs.run(d)["done"] == 1
        mail = mailbox.messages[-1]
        assert (language, mail["Content-Language"]) == (language, expected)
        assert phrase in body(mail)


def test_queuing_the_same_event_twice_is_one_job(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    assert queue(d, "approved", request_id) == 1
    assert queue(d, "approved", request_id) == 0
    assert queue(d, "approved", request_id, occurrence=99) == 1  # a new occurrence is a new mail
    with d.store.connect() as conn:
        keys = sorted(conn.execute(select(tables.jobs.c.key)).scalars())
    assert keys == [f"notify:{request_id}:1:approved:{n}:ana.lima@ifremer.example.org" for n in (2, 99)]
    jobs.run(d)
    jobs.run(d)
    assert len(mailbox.messages) == 2
    assert len({m["Message-ID"] for m in mailbox.messages}) == 2


@SQLITE
def test_provider_text_cannot_inject_headers(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    queue(d, "rejected", request_id, title="Casts\r\nBcc: mallory@evil.example.org\r\n\r\nfake body",
          provider_name="Ana\r\nCc: mallory@evil.example.org", comment="line one\nline two")
    assert jobs.run(d)["done"] == 1
    (mail,) = mailbox.messages
    assert mailbox.handler.received[0][0] == ["ana.lima@ifremer.example.org"]
    assert mail["Bcc"] is None and mail["Cc"] is None
    assert mail["Subject"] == f"[ocean] {request_id}.1 rejected: Casts Bcc: mallory@evil.example.org fake body"
    assert mail["To"].addresses[0].addr_spec == "ana.lima@ifremer.example.org"
    assert "line one\n  line two" in body(mail)
    # An address that is not one bare address is nobody's: nothing is queued for it.
    assert queue(d, "approved", request_id, provider_email="ana@example.org\r\nBcc: x@evil.example.org") == 0
    assert queue(d, "approved", request_id, provider_email="a@b.example.org, c@evil.example.org") == 0
    assert queue(d, "approved", request_id, provider_email=None) == 0


@SQLITE
def test_recipients_are_configurable_per_event(desk: Desk, mailbox: Mailbox) -> None:
    request_id = desk.request_id
    configure(desk.folder, smtp=smtp_table(mailbox),
              notify={"submitted": ["data-managers", "desk@data.example.org"],
                      "qa-errors": ["provider", "Rita@data.example.org"]})
    with docket.open(desk.folder) as d:
        assert queue(d, "submitted", request_id) == 2
        assert queue(d, "qa-errors", request_id) == 2
        jobs.run(d)
    got = sorted((rcpt[0], email.message_from_bytes(raw)["Subject"].split()[2]) for rcpt, raw in mailbox.handler.received)
    assert got == [("Rita@data.example.org", "the"), ("ana.lima@ifremer.example.org", "the"),
                   ("desk@data.example.org", "submitted"), ("dora@data.example.org", "submitted")]


@SQLITE
def test_instance_templates_override_the_packaged_ones_and_a_broken_one_is_named(
        desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    folder = desk.folder / "templates" / "mail" / "en"
    folder.mkdir(parents=True)
    (folder / "approved.txt").write_text("Good news about {{ ref }}\n\nHello {{ provider_name }}: {{ link }}\n",
                                         encoding="utf-8")
    (folder / "rejected.txt").write_text("About {{ reff }}\n\nbody\n", encoding="utf-8")
    queue(d, "rejected", request_id)  # first: its broken template must not hold back the other
    queue(d, "approved", request_id)
    summary = jobs.run(d)
    (mail,) = mailbox.messages
    assert mail["Subject"] == f"Good news about {request_id}.1"
    assert body(mail).startswith("Hello Ana Lima: http://")
    (broken,) = [j for j in summary["jobs"] if j["status"] != "done"]
    assert broken["status"] == "queued"
    assert "en/rejected.txt" in broken["error"] and "'reff' is undefined" in broken["error"]
    with d.store.connect() as conn:  # the link minted for the mail that did not go out is dead
        revoked = [r.revoked_date for r in conn.execute(select(tables.request_links).order_by(tables.request_links.c.id))]
    assert revoked[-2:].count(None) == 1


@SQLITE
def test_without_a_mail_server_nothing_is_queued_and_unknown_events_are_refused(dk: Docket) -> None:
    request_id = dk.submit(CTD)["id"]
    assert queue(dk, "approved", request_id) == 0
    assert jobs.listing(dk) == []
    with pytest.raises(BadInput, match="unknown notification event 'aproved'"):
        queue(dk, "aproved", request_id)


BAD_NOTIFY = [
    ({"submitted": ["nobody"]}, "'nobody' is neither an audience"),
    ({"submitted": "reviewers"}, "submitted must be a list"),
    ({"approve": ["provider"]}, "unknown setting 'approve'"),
    ({"enabled": "yes"}, "enabled must be true or false"),
]


@SQLITE
def test_a_bad_notify_setting_is_named(desk: Desk) -> None:
    request_id = desk.request_id
    for notify, named in BAD_NOTIFY:
        configure(desk.folder, notify=notify)
        with docket.open(desk.folder) as d, pytest.raises(InstanceError, match=re.escape(named)) as caught:
            queue(d, "approved", request_id)
        assert "docket.toml [notify]" in caught.value.message


BAD_SMTP = [
    ({"port": "twenty-five"}, "port must be a number"),
    ({"from": "desk"}, "from must be the sender's address"),
    ({"host": None}, "host must be"),
    ({"starttls": "yes"}, "starttls must be true or false"),
    ({"password": "x"}, "DOCKET_SMTP_PASSWORD"),
    ({"timeout": 0}, "timeout must be"),
]


@SQLITE
def test_a_bad_smtp_setting_is_named_and_the_mail_stays_queued(desk: Desk, mailbox: Mailbox) -> None:
    d, request_id = desk.d, desk.request_id
    queue(d, "approved", request_id)
    for attempt, (smtp, named) in enumerate(BAD_SMTP, start=1):
        table = {k: v for k, v in {**smtp_table(mailbox), **smtp}.items() if v is not None}
        configure(desk.folder, smtp=table, jobs={"backoff_base": 0})  # due again at once
        result = docket_cli("jobs", "run", instance=desk.folder)
        assert result.code == 1, result.err
        assert named in result.out and "[smtp]" in result.out
        assert "Traceback" not in result.out + result.err
        (job,) = jobs.listing(d)
        assert (job["status"], job["attempts"]) == ("queued", attempt)
    assert mailbox.messages == []
    configure(desk.folder, smtp=smtp_table(mailbox))
    assert docket_cli("jobs", "run", instance=desk.folder).code == 0
    assert len(mailbox.messages) == 1


# -- end to end, through the API's own transitions -------------------------------------------------


@SQLITE
def test_submit_and_review_through_the_api_send_their_mails(dk: Docket, mailbox: Mailbox, instance_dir: Path) -> None:
    dk.add_user("rita", "reviewer", email="rita@data.example.org")
    rita_key = dk.new_key("rita")["key"]
    configure(instance_dir, smtp=smtp_table(mailbox))
    with docket.open(instance_dir) as d:
        request_id = d.submit(CTD)["id"]
        jobs.run(d)
    assert sorted(r for rcpt, _ in mailbox.handler.received for r in rcpt) == [
        "ana.lima@ifremer.example.org", "rita@data.example.org"]
    (to_rita,) = mailbox.to("rita@data.example.org")
    assert to_rita["Subject"].startswith(f"[ocean] {request_id}.1 submitted for review")
    with docket.open(instance_dir).as_key(rita_key) as rita:
        rita.review(request_id, "request-changes", comment="Please give the salinity unit.")
        jobs.run(rita)
    (to_ana,) = [m for m in mailbox.to("ana.lima@ifremer.example.org") if "changes requested" in m["Subject"]]
    assert "Please give the salinity unit." in body(to_ana)
    with dk.store.connect() as conn:
        assert links.resolve(conn, link_in(to_ana), at=datetime.now(UTC)) == request_id
        dumped = " ".join(str(v) for v in conn.execute(text("SELECT payload, result FROM jobs")).all())
    assert link_in(to_ana) not in dumped
