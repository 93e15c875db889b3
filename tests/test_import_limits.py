"""``docket import`` holds bounded memory, keeps each form to itself, and refuses what it cannot read.

Issue 8: an import over the size limit read limit+1 bytes before refusing (1.1 GB), a 200 MB
e-mail took 1.8 GB, a message of 100,000 MIME parts took 39 s; on PostgreSQL one form the store
refused aborted the whole run ("store error, nothing was changed") after the forms before it were
committed, so every re-run failed the same way; mail hiding its form behind a broken MIME
structure was "skipped" with exit code 0. Each test below fails on that code.
"""

from __future__ import annotations

import base64
import email
import json
import mailbox
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.policy import default as policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket
from docket.offline import sources
from docket.offline.sources import FORM_MARK, Item, Limits, message_items
from tests.conftest import ROOT
from tests.offline_helpers import cli, export_blank, fill, mail_with, request_data, row_counts

MB = 1 << 20
# The child reports its own peak resident set: the figure is that one command's.
CHILD = """\
import resource, sys
def peak_kib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from a big
    # test process would report its parent's peak.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from docket.cli import main
try:
    code = main(sys.argv[1:])
finally:
    sys.stderr.write("\\nMAXRSS %d\\n" % peak_kib())
sys.exit(code)
"""


def measured(instance: Path, *args: str | Path) -> tuple[int, dict, float]:
    """``docket import ARGS --json`` in a child process: exit code, report, peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, "-c", CHILD, "--instance", str(instance), "import", *map(str, args),
                           "--json"], capture_output=True, text=True, env=env, timeout=300)
    peak = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS ")]
    assert peak, proc.stderr
    return proc.returncode, json.loads(proc.stdout), int(peak[-1].split()[1]) / 1024


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    """A SQLite instance (the memory tests are about reading, not about the store)."""
    folder = tmp_path / "desk"
    docket.init(folder, project="ocean").close()
    return folder


def titled(blank: dict, title: str, **changes: object) -> bytes:
    data = request_data()
    data["metadata"]["project_descriptive"]["title"] = title
    for key, value in changes.items():
        data[key] = value
    return json.dumps(fill(blank, data, sealed=True), ensure_ascii=False).encode()


def big_mail(path: Path, attachment_bytes: int, form: bytes) -> Path:
    """A form and one big binary attachment, written in pieces."""
    with path.open("wb") as fh:
        fh.write(b"From: Ana <ana@example.org>\nSubject: soil data\nMIME-Version: 1.0\n"
                 b"Content-Type: multipart/mixed; boundary=\"BOUND\"\n\n"
                 b"--BOUND\nContent-Type: application/json\nContent-Transfer-Encoding: base64\n"
                 b"Content-Disposition: attachment; filename=\"form.json\"\n\n")
        fh.write(base64.encodebytes(form))
        fh.write(b"--BOUND\nContent-Type: application/x-netcdf\nContent-Transfer-Encoding: base64\n"
                 b"Content-Disposition: attachment; filename=\"data.nc\"\n\n")
        lines = base64.encodebytes(os.urandom(57 * 1024))
        for _ in range(attachment_bytes // (57 * 1024)):
            fh.write(lines)
        fh.write(b"--BOUND--\n")
    return path


# -- memory ---------------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_from_its_size_without_being_read(tmp_path: Path, desk: Path) -> None:
    """Was: 1 GiB (limit + 1) read into memory, then refused."""
    for name, head in (("huge.json", b'{"docket_form": "ingest-request", "data": "'),
                       ("huge.eml", b"From: ana@example.org\nSubject: big\n\n")):
        with (tmp_path / name).open("wb") as fh:  # sparse: 1.5 GB on paper, nothing on disk
            fh.write(head)
            fh.truncate(1_500_000_000)
    start = time.monotonic()
    code, report, peak = measured(desk, tmp_path / "huge.json", tmp_path / "huge.eml")
    assert code == 1 and report["refused"] == 2
    assert [i["message"] for i in report["items"]] == [
        "the file is 1.4 GiB, over the limit of 32.0 MiB (set [limits] max_form_bytes in docket.toml)",
        "the file is 1.4 GiB, over the limit of 1.0 GiB (set [limits] max_upload_bytes in docket.toml or --max-bytes)",
    ]
    assert peak < 200, f"peak {peak:.0f} MiB"
    assert time.monotonic() - start < 60


def test_a_big_email_is_read_in_bounded_memory(tmp_path: Path, desk: Path) -> None:
    """Was: the whole message as text in memory, several times over (1.8 GB for 200 MB)."""
    form = titled(export_blank(tmp_path, desk), "Soil with data")
    eml = big_mail(tmp_path / "big.eml", 80 * MB, form)
    assert eml.stat().st_size > 100 * MB
    code, report, peak = measured(desk, eml)
    assert code == 0, report
    assert [i["status"] for i in report["items"]] == ["imported"]
    assert report["items"][0]["source"].endswith("big.eml > attachment form.json")
    assert peak < 160, f"peak {peak:.0f} MiB for a {eml.stat().st_size / MB:.0f} MiB message"


def test_an_import_holds_one_input_at_a_time(tmp_path: Path, desk: Path) -> None:
    """Was: every input's bytes read into a list before the first was checked (five 200 MB
    files: 1.3 GB). Five 40 MB files that are not UTF-8 must cost one file's worth."""
    config = desk / "docket.toml"  # let them be read: 40 MB is over the default form limit
    config.write_text(config.read_text().replace("max_form_bytes = 33554432", "max_form_bytes = 50000000"))
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(5):
        with (folder / f"f{n}.json").open("wb") as fh:
            fh.write(b"\xff")
            fh.truncate(40 * MB)
    code, report, peak = measured(desk, folder)
    assert code == 1 and [i["status"] for i in report["items"]] == ["refused"] * 5
    assert all("not UTF-8" in i["message"] for i in report["items"])
    assert peak < 170, f"peak {peak:.0f} MiB for five files of 40 MiB"


def test_a_form_over_max_form_bytes_is_refused_from_its_size(tmp_path: Path, desk: Path) -> None:
    """A 1 GiB JSON "form" was read and parsed (several GB of Python objects); a form is a request
    and its schema, so it has its own, smaller bound: as a file and as an attachment."""
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.write(b'{"docket_form": "ingest-request", "data": "')
        fh.truncate(40 * MB)
    eml = tmp_path / "big.eml"
    eml.write_bytes(mail_with([("big.json", b'{"docket_form": "' + b"x" * (33 * MB) + b'"}')]).as_bytes())
    run = cli("import", big, eml, "--json", instance=desk)
    assert run.code == 1
    messages = [i["message"] for i in run.json()["items"]]
    assert messages[0] == ("the file is 40.0 MiB, over the limit of 32.0 MiB "
                           "(set [limits] max_form_bytes in docket.toml)")
    assert messages[1].startswith("the attachment is more than 32.0 MiB") and "max_form_bytes" in messages[1]


def test_a_message_over_the_limit_is_refused_and_the_others_go_on(tmp_path: Path, desk: Path) -> None:
    blank = export_blank(tmp_path, desk)
    box = mailbox.mbox(str(tmp_path / "desk.mbox"))
    box.add(mail_with([("one.json", titled(blank, "Lot one"))]))
    box.add(mail_with([("big.json", titled(blank, "Lot big") + b" " * 300_000)]))
    box.add(mail_with([("two.json", titled(blank, "Lot two"))]))
    box.close()
    run = cli("import", tmp_path / "desk.mbox", "--max-bytes", "200000", "--json", instance=desk)
    assert run.code == 1
    items = run.json()["items"]
    assert [i["status"] for i in items] == ["imported", "refused", "imported"]
    assert items[1]["source"].endswith("desk.mbox message 2")
    assert "the message is" in items[1]["message"] and "over the limit of 195.3 KiB" in items[1]["message"]


def many_parts(parts: int, subject: str = "parts") -> bytes:
    head = f"From: x@example.org\nSubject: {subject}\nContent-Type: multipart/mixed; boundary=b\n\n".encode()
    return head + b"--b\nContent-Type: text/plain\n\nx\n" * parts + b"--b--\n"


def test_a_message_of_100000_parts_is_refused_at_once(tmp_path: Path, desk: Path) -> None:
    """Was: 39 s of parsing a 3.7 MB message; now refused at part 1,001, and the mailbox goes on."""
    blank = export_blank(tmp_path, desk)
    path = tmp_path / "desk.mbox"
    box = mailbox.mbox(str(path))
    box.add(mail_with([("one.json", titled(blank, "Before"))]))
    box.add(many_parts(100_000))
    box.add(mail_with([("two.json", titled(blank, "After"))]))
    box.close()
    start = time.monotonic()
    run = cli("import", path, "--json", instance=desk)
    elapsed = time.monotonic() - start
    items = run.json()["items"]
    assert [i["status"] for i in items] == ["imported", "refused", "imported"]
    assert "more than 1000 MIME parts (limit max_mime_parts" in items[1]["message"]
    assert elapsed < 10, elapsed  # most of it is the two imports; the refusal itself takes milliseconds


def test_the_part_count_is_checked_before_any_form_of_the_message_is_imported(tmp_path: Path, desk: Path) -> None:
    """A message over max_mime_parts is refused whole, even when a form comes before the excess."""
    config = desk / "docket.toml"
    config.write_text(config.read_text().replace("max_mime_parts = 1000", "max_mime_parts = 5"))
    blank = export_blank(tmp_path, desk)
    msg = mail_with([("one.json", titled(blank, "First")), *[(f"x{n}.txt", b"x") for n in range(6)]])
    eml = tmp_path / "m.eml"
    eml.write_bytes(msg.as_bytes())
    before = row_counts(desk)
    run = cli("import", eml, "--json", instance=desk)
    assert run.code == 1 and [i["status"] for i in run.json()["items"]] == ["refused"]
    assert "more than 5 MIME parts" in run.json()["items"][0]["message"]
    assert row_counts(desk) == before


def test_nesting_deeper_than_the_limit_is_refused(tmp_path: Path, desk: Path) -> None:
    raw = b"Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for level in range(1, 20):
        raw += f"--b{level - 1}\nContent-Type: multipart/mixed; boundary=b{level}\n\n".encode()
    raw += b"--b19\nContent-Type: text/plain\n\nbottom\n"
    for level in range(19, -1, -1):
        raw += f"--b{level}--\n".encode()
    eml = tmp_path / "deep.eml"
    eml.write_bytes(raw)
    run = cli("import", eml, "--json", instance=desk)
    assert run.code == 1
    assert "nested more than 16 levels deep (limit max_mime_depth" in run.json()["items"][0]["message"]


# -- each form its own transaction -----------------------------------------------------------------


def test_one_poisoned_form_is_refused_and_the_others_are_imported(
    tmp_path: Path, instance_dir: Path, backend: str
) -> None:
    """Was (PostgreSQL): a form the store refused ended the run with "store error, nothing was
    changed" after the forms before it were committed; those after it were never imported, and
    every re-run failed the same way."""
    blank = export_blank(tmp_path, instance_dir)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a-good.json").write_bytes(titled(blank, "Good first"))
    (inbox / "b-nul.json").write_bytes(titled(blank, "Bad\u0000title"))
    (inbox / "c-inf.json").write_bytes(titled(blank, "Huge").replace(b'"keywords"', b'"x": 1e400, "keywords"', 1))
    # The schema allows any length of media type; the files table holds 100 characters.
    files = request_data()["files"]
    files[0]["media_type"] = "application/" + "x" * 150
    (inbox / "d-store.json").write_bytes(titled(blank, "Long media type", files=files))
    # An attachment whose name decodes (RFC 2231) to a NUL, next to a good one.
    (inbox / "e-mail.eml").write_bytes(
        b"From: ana@example.org\nSubject: two forms\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: application/json\nContent-Disposition: attachment; filename=ok.json\n\n"
        + titled(blank, "Good in mail") + b"\n--B\nContent-Type: application/json\n"
        b"Content-Disposition: attachment; filename*=utf-8''bad%00name.json\n\n"
        + titled(blank, "Named badly") + b"\n--B--\n")
    (inbox / "f-good.json").write_bytes(titled(blank, "Good last"))

    def statuses(run_: object) -> dict[str, tuple[str, str]]:
        return {Path(i["source"]).name if " > " not in i["source"] else i["source"].split(" > ")[-1]:
                (i["status"], i.get("message", "")) for i in run_.json()["items"]}  # type: ignore[attr-defined]

    first = cli("import", inbox, "--json", instance=instance_dir)
    assert first.code == 1, first.out + first.err
    got = statuses(first)
    store_refuses = backend == "postgresql"
    assert got["a-good.json"][0] == got["f-good.json"][0] == got["attachment ok.json"][0] == "imported"
    assert got["b-nul.json"] == ("refused", got["b-nul.json"][1])
    assert "$.data.metadata.project_descriptive.title: the text contains a NUL" in got["b-nul.json"][1]
    assert got["c-inf.json"][0] == "refused" and "overflows to Infinity" in got["c-inf.json"][1]
    nul_name = "attachment bad\\x00name.json"
    assert got[nul_name][0] == "refused" and "control character" in got[nul_name][1]
    if store_refuses:
        assert got["d-store.json"][0] == "refused"
        assert "the store refused it" in got["d-store.json"][1] and "too long" in got["d-store.json"][1]
    else:
        assert got["d-store.json"][0] == "imported"
    report = first.json()
    assert report["imported"] == (3 if store_refuses else 4) and report["refused"] == (4 if store_refuses else 3)
    assert "\x00" not in first.out and "\\u0000name" not in first.out  # shown escaped, never raw

    counts = row_counts(instance_dir)
    again = cli("import", inbox, "--json", instance=instance_dir)
    assert again.code == 1
    assert {k: v[0] for k, v in statuses(again).items()} == {
        k: ("already-imported" if v[0] == "imported" else v[0]) for k, v in got.items()}
    assert {k: v[1] for k, v in statuses(again).items() if v[0] == "refused"} == \
        {k: v[1] for k, v in got.items() if v[0] == "refused"}  # the same reasons, word for word
    assert row_counts(instance_dir) == counts
    text = cli("import", inbox, instance=instance_dir)
    assert text.out.splitlines()[-1] == (
        f"0 imported, {3 if store_refuses else 4} already imported, {4 if store_refuses else 3} refused "
        "(0 altered), 0 skipped")


# -- refused, not skipped ---------------------------------------------------------------------------

HEAD = b"From: ana@example.org\nTo: desk@example.org\n"
BROKEN = {
    "no boundary": (HEAD + b"Subject: data\nContent-Type: multipart/mixed\n\n--x\nContent-Type: application/json\n\n{}\n--x--\n",
                    "multipart/mixed part has no boundary"),
    "first boundary missing": (HEAD + b"Subject: data\nContent-Type: multipart/mixed; boundary=zz\n\n--x\n\n{}\n",
                               "first boundary of a multipart/mixed part is missing"),
    "cut short": (HEAD + b"Subject: data\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nhi\n--zz\n"
                  b"Content-Type: application/json\nContent-Transfer-Encoding: base64\n\neyJkb2NrZXRfZm9y",
                  "ends without its closing boundary"),
    "NUL in a header": (HEAD + b"Subject: da\x00ta\n\nhello\n", "holds a NUL byte"),
    "no blank line after the headers": (HEAD + b"Subject: data\nthis is the body\n", "is not a header"),
    "subject names the form": (HEAD + b"Subject: Ingest request: soil 2024\n\nSee the attached form.\n",
                               "names a docket form, but the message carries no form"),
    "subject names it in German": (HEAD + b"Subject: =?utf-8?q?Antrag_auf_Datenaufnahme?=\n\nAnbei.\n",
                                   "names a docket form"),
    "a charset named with a NUL": (
        HEAD + b"Subject: data\nContent-Type: application/json; charset*=utf-8''utf%008\n\n{}\n",
        "not readable in its declared charset"),
    "a JSON attachment that is not a form": (
        mail_with([("results.json", b'{"temperature": [1, 2]}')], subject="results").as_bytes(),
        "not a docket offline form"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_mail_that_could_hide_a_form_is_refused_not_skipped(tmp_path: Path, desk: Path, case: str) -> None:
    """Was: "skipped", exit code 0, so nobody looked."""
    raw, words = BROKEN[case]
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)
    run = cli("import", eml, "--json", instance=desk)
    assert run.code == 1, run.out
    items = run.json()["items"]
    assert [i["status"] for i in items] == ["refused"], items
    assert words in items[0]["message"], items[0]
    assert run.json()["skipped"] == 0


def test_mail_about_something_else_is_still_skipped_and_a_form_sent_as_text_is_found(
    tmp_path: Path, desk: Path
) -> None:
    question = EmailMessage(policy=policy)
    question["From"], question["Subject"] = "ana@example.org", "Question about NetCDF"
    question.set_content("Do you accept NetCDF files too?")
    reply = EmailMessage(policy=policy)  # a reply about a form need not carry one
    reply["From"], reply["Subject"] = "desk@example.org", "Re: Ingest request: soil 2024"
    reply.set_content("Thank you, we have it.")
    form_as_text = mail_with([], subject="the form")
    form_as_text.add_attachment(titled(export_blank(tmp_path, desk), "Sent as text").decode(), filename="form.txt")
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    box.add(question)
    box.add(form_as_text)
    box.add(reply)
    box.close()
    run = cli("import", tmp_path / "in.mbox", "--json", instance=desk)
    assert run.code == 0, run.out
    items = run.json()["items"]
    assert [i["status"] for i in items] == ["skipped", "imported", "skipped"]
    assert "Question about NetCDF" in items[0]["message"]
    assert items[1]["source"].endswith("message 2 > attachment form.txt")


def test_a_broken_message_in_a_maildir_is_refused_and_the_next_one_imported(tmp_path: Path, desk: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(HEAD + b"Subject: da\x00ta\nContent-Type: application/json\n\n{}\n")
    box.add(mail_with([("soil.json", titled(export_blank(tmp_path, desk), "From the Maildir"))]))
    box.close()
    run = cli("import", tmp_path / "Maildir", "--json", instance=desk)
    assert run.code == 1
    assert sorted(i["status"] for i in run.json()["items"]) == ["imported", "refused"]
    refused = next(i for i in run.json()["items"] if i["status"] == "refused")
    assert "holds a NUL byte" in refused["message"] and " message " in refused["source"]


def test_an_mbox_that_is_not_one_is_refused(tmp_path: Path, desk: Path) -> None:
    fake = tmp_path / "fake.mbox"
    fake.write_bytes(b"Subject: no From line here\n\nhello\n")
    run = cli("import", fake, "--json", instance=desk)
    assert run.code == 1 and "not an mbox" in run.json()["items"][0]["message"]
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    assert cli("import", empty, "--json", instance=desk).json()["items"][0]["status"] == "skipped"


# -- the scan reads what the email package reads ------------------------------------------------------


def stdlib_items(raw: bytes, source: str) -> list[tuple[str, bytes | None, bool]]:
    """What the streaming scan must find, by the email package (which holds it all in memory)."""
    out: list[tuple[str, bytes | None, bool]] = []

    def walk(msg: Message, label: str) -> None:
        if msg.get_content_type() == "message/rfc822" or msg.is_multipart():
            payload = msg.get_payload()
            for n, part in enumerate(payload if isinstance(payload, list) else [], 1):
                inner = label if msg.get_content_maintype() == "multipart" else f"{label} > forwarded message"
                if part.get_content_type() == "message/rfc822" or part.is_multipart():
                    walk(part, inner)
                else:
                    leaf(part, inner, n)
            return
        leaf(msg, label, 1)

    def leaf(part: Message, label: str, n: int) -> None:
        name = part.get_filename()
        data = part.get_payload(decode=True) or b""
        ctype = part.get_content_type()
        is_json = ctype in sources.JSON_TYPES or ctype.endswith("+json") or bool(name and name.lower().endswith(".json"))
        if not is_json and FORM_MARK not in data[: sources.SNIFF_BYTES]:
            return
        charset = part.get_content_charset()
        ok = True
        if charset and charset.lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
            try:
                data = data.decode(charset).encode("utf-8")
            except (LookupError, UnicodeDecodeError):
                ok = False
        out.append((f"{label} > attachment {name or f'#{n}'}", data if ok else None, ok))

    walk(email.message_from_bytes(raw, policy=policy), source)
    return out


def scanned(raw: bytes, tmp: Path) -> list[Item]:
    path = tmp / "m.eml"
    path.write_bytes(raw)
    with path.open("rb") as fh:
        return list(message_items(fh, 0, len(raw), "m", Limits(mime_parts=10_000, mime_depth=64)))


def _messages() -> st.SearchStrategy[EmailMessage]:
    from tests.test_import_fuzz import messages

    return messages()


@pytest.fixture(params=[5, 64, 4096, 1 << 20], ids=lambda n: f"chunk{n}")
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Tiny chunks put boundaries, line breaks and base64 quads across every chunk edge."""
    monkeypatch.setattr(sources, "CHUNK", request.param)
    yield request.param


@settings(max_examples=int(os.environ.get("SCAN_EXAMPLES", 60)), deadline=None, suppress_health_check=list(HealthCheck))
@given(msg=_messages(), crlf=st.booleans())
def test_the_streaming_scan_finds_what_the_email_package_finds(
    tmp_path_factory: pytest.TempPathFactory, chunk: int, msg: EmailMessage, crlf: bool
) -> None:
    raw = msg.as_bytes()
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    expected = stdlib_items(raw, "m")
    got = scanned(raw, tmp_path_factory.mktemp("scan"))
    candidates = [i for i in got if i.data is not None or (i.refused and " > attachment " in i.source)]
    assert [(i.source, i.data) for i in candidates] == [(s, d) for s, d, _ in expected]
    if not expected:
        assert len(got) == 1 and got[0].data is None


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(st.binary(max_size=300) | st.sampled_from([b"From me\n", b"\nFrom x\n\n", b"x\n\n"]),
                       min_size=1, max_size=5))
def test_mbox_messages_are_split_as_the_mailbox_module_splits_them(
    tmp_path_factory: pytest.TempPathFactory, chunk: int, bodies: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("mbox") / "m.mbox"
    box = mailbox.mbox(str(path))
    for body in bodies:
        box.add(body)
    box.close()
    reference = mailbox.mbox(str(path), create=False)
    expected = [reference.get_bytes(k, from_=False) for k in reference.iterkeys()]
    reference.close()
    with path.open("rb") as fh, path.open("rb") as scan:
        size = path.stat().st_size
        starts = list(sources._line_starts(scan, b"From "))
        got = []
        for at, following in zip(starts, [*starts[1:], size], strict=True):
            start, stop = sources._mbox_span(fh, at, following)
            fh.seek(start)
            got.append(fh.read(stop - start))
    assert [g.replace(b"\r\n", b"\n") for g in got] == [e.replace(b"\r\n", b"\n") for e in expected]
