"""Fuzzing ``docket import``: whatever arrives, no traceback, and a refusal never writes a row.

About 2,000 generated cases over several strategies (truncated JSON, wrong types at any path,
huge strings, unknown fields, wrong digests, non-UTF-8 bytes, e-mails with nested and broken
attachments, garbage mbox files). Each case runs the real CLI entry point in this process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import mailbox
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import docket
from docket.forms.definition import load_form
from docket.offline.envelope import seal
from docket.offline.export import export_form
from docket.store import tables
from tests.offline_helpers import cli, fill, get_at, paths_of, ram_folder, request_data, set_at

BLANK = json.loads(export_form(load_form("ingest-request"), "json", "en"))
VALID = fill(BLANK, request_data(), sealed=True)
VALID_TEXT = json.dumps(VALID)
_counter = itertools.count()

def fuzz(n: int) -> settings:
    """``n`` examples, no deadline (a case is a whole CLI run), no health check on the fixture."""
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck))


class Desk:
    """One instance for the whole module; every case writes its input to a fresh folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.instance = root / "inst"
        docket.init(self.instance, project="fuzz").close()
        self.d = docket.open(self.instance)

    def counts(self) -> dict[str, int]:
        names = [t.name for t in tables.metadata.sorted_tables]
        query = select(*[select(func.count()).select_from(t).scalar_subquery()
                         for t in tables.metadata.sorted_tables])
        with self.d.store.connect() as conn:
            return dict(zip(names, conn.execute(query).one(), strict=True))

    def path(self, name: str) -> Path:
        folder = self.root / f"case{next(_counter)}"
        folder.mkdir()
        return folder / name

    def run(self, path: Path, *extra: str) -> None:
        """Import ``path``; check the exit code, the output, and that refusals wrote nothing."""
        before = self.counts()
        result = cli("import", path, "--json", *extra, instance=self.instance)
        assert result.code in (0, 1, 2), result
        assert "Traceback" not in result.out + result.err
        report = json.loads(result.out)  # --json: always one JSON document, even for an error
        if result.code == 2:
            assert "error" in report and self.counts() == before
            return
        statuses = {i["status"] for i in report["items"]}
        assert statuses <= {"imported", "already-imported", "refused", "altered", "skipped"}
        assert (result.code == 1) == bool(statuses & {"refused", "altered"})
        for item in report["items"]:
            if item["status"] in ("refused", "altered"):
                assert item.get("message"), item
        if report["imported"] == 0:
            assert self.counts() == before, report


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """On a RAM file system when there is one: the cases that import commit with fsync, and the
    fuzz is about the importer, not the disk."""
    with ram_folder(tmp_path_factory, "docket-fuzz-") as root:
        desk = Desk(root)
        yield desk
        desk.d.close()


# -- strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


DATA_PATHS = [p for p in paths_of(VALID) if p and p[0] in ("data", "docket_form", "form_version", "language",
                                                                "request", "digest")]


DICT_PATHS = [p for p in paths_of(VALID) if isinstance(get_at(VALID, p), dict) and (not p or p[0] != "schema")]
STRING_PATHS = [p for p in DATA_PATHS if isinstance(get_at(VALID, p), str)]


def varied_valid(title: str) -> dict:
    data = request_data()
    data["metadata"]["project_descriptive"]["title"] = title
    return fill(BLANK, data, sealed=True)


@st.composite
def form_bytes(draw: st.DrawFn) -> bytes:
    """A form as bytes: valid (sometimes new content), mutated, truncated or mangled."""
    kind = draw(st.sampled_from(["valid", "wrong-type", "huge", "unknown", "digest", "truncate", "bytes",
                                 "drop-key"]))
    doc: Any = json.loads(VALID_TEXT)  # a fresh copy, faster than deepcopy
    reseal = draw(st.booleans())
    if kind == "valid":
        doc = varied_valid(draw(st.text(min_size=1, max_size=40).filter(str.strip)))
        reseal = False
    elif kind == "wrong-type":
        doc = set_at(doc, draw(st.sampled_from(DATA_PATHS)), draw(json_values))
    elif kind == "huge":
        n = draw(st.integers(min_value=5_000, max_value=120_000))
        doc = set_at(doc, draw(st.sampled_from(STRING_PATHS)), draw(st.sampled_from("xé€\U0001f600")) * n)
    elif kind == "unknown":
        path = draw(st.sampled_from(DICT_PATHS))
        get_at(doc, path)[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    elif kind == "digest":
        doc["digest"] = draw(json_values | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
        reseal = False
    elif kind == "drop-key":
        path = draw(st.sampled_from([p for p in DATA_PATHS if p]))
        parent = get_at(doc, path[:-1])
        if isinstance(parent, dict):
            del parent[path[-1]]
    if reseal and isinstance(doc, dict):
        with contextlib.suppress(TypeError, ValueError, UnicodeEncodeError):
            doc = seal(doc)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    elif kind == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw


@st.composite
def messages(draw: st.DrawFn, depth: int = 0) -> EmailMessage:
    """An e-mail whose attachments nest: mixed, alternative, forwarded (message/rfc822)."""
    msg = EmailMessage(policy=policy)
    msg["Subject"] = draw(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20))
    msg["From"] = "someone@example.org"
    msg.set_content(draw(st.text(max_size=50)) or "hi")
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        what = draw(st.sampled_from(["form", "form", "forward", "alternative", "noise"]))
        if what == "form":
            ctype = draw(st.sampled_from(["application/json", "application/octet-stream", "text/plain",
                                          "application/ld+json"]))
            maintype, subtype = ctype.split("/")
            name = draw(st.sampled_from(["form.json", "x.JSON", None, "notes.txt"]))
            payload = draw(form_bytes())
            if maintype == "text":
                text = payload.decode("utf-8", "replace")
                charset = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
                try:
                    msg.add_attachment(text, subtype=subtype, charset=charset, filename=name)
                except (UnicodeError, LookupError, ValueError):
                    msg.add_attachment(payload, maintype="application", subtype="json", filename=name)
            else:
                msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=name)
        elif what == "forward" and depth < 3:
            msg.add_attachment(draw(messages(depth + 1)))
        elif what == "alternative" and depth < 3:
            alt = EmailMessage(policy=policy)
            alt.make_alternative()
            alt.attach(draw(messages(depth + 1)))
            if msg.get_content_type() != "multipart/mixed":
                msg.make_mixed()
            msg.attach(alt)
        else:
            msg.add_attachment(draw(st.binary(max_size=64)), maintype="application", subtype="octet-stream",
                               filename="noise.bin")
    return msg


def deep_forward(depth: int, payload: bytes) -> EmailMessage:
    inner = EmailMessage(policy=policy)
    inner.set_content("bottom")
    inner.add_attachment(payload, maintype="application", subtype="json", filename="deep.json")
    for _ in range(depth):
        outer = EmailMessage(policy=policy)
        outer.set_content("fwd")
        outer.add_attachment(inner)
        inner = outer
    return inner


# -- the properties -----------------------------------------------------------------------------


@fuzz(420)
@given(raw=form_bytes())
def test_json_files_never_crash_nor_half_write(desk: Desk, raw: bytes) -> None:
    path = desk.path("form.json")
    path.write_bytes(raw)
    desk.run(path)


@fuzz(240)
@given(raw=st.binary(max_size=400), name=st.sampled_from(["x.json", "x.eml", "x.mbox", "x"]))
def test_arbitrary_bytes_under_any_name(desk: Desk, raw: bytes, name: str) -> None:
    path = desk.path(name)
    path.write_bytes(raw)
    desk.run(path)


@fuzz(270)
@given(msg=messages(), cut=st.none() | st.integers(min_value=0, max_value=5000),
       limit=st.none() | st.integers(min_value=1, max_value=200_000))
def test_emails_with_nested_attachments(desk: Desk, msg: EmailMessage, cut: int | None, limit: int | None) -> None:
    raw = msg.as_bytes()
    if cut is not None:
        raw = raw[:cut]
    path = desk.path("mail.eml")
    path.write_bytes(raw)
    desk.run(path, *(["--max-bytes", str(limit)] if limit else []))


@fuzz(150)
@given(msgs=st.lists(messages(), min_size=0, max_size=3), garbage=st.binary(max_size=200),
       as_maildir=st.booleans())
def test_mboxes_and_maildirs(desk: Desk, msgs: list[EmailMessage], garbage: bytes, as_maildir: bool) -> None:
    if as_maildir:
        folder = desk.path("Maildir")
        box: mailbox.Mailbox = mailbox.Maildir(str(folder), create=True)
    else:
        folder = desk.path("desk.mbox")
        box = mailbox.mbox(str(folder))
    for m in msgs:
        box.add(m)
    box.add(garbage)
    box.close()
    desk.run(folder)


@fuzz(120)
@given(depth=st.integers(min_value=0, max_value=20), payload=form_bytes())
def test_forwarded_again_and_again(desk: Desk, depth: int, payload: bytes) -> None:
    path = desk.path("deep.eml")
    path.write_bytes(deep_forward(depth, payload).as_bytes())
    desk.run(path)
