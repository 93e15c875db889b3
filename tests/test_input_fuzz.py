"""Fuzzing what a stranger can hand docket: a request, an offline form, a CSV and its Table Schema.

Over 2,000 generated command-line cases (derandomised: the same cases every run) mutate the
example requests in ``examples/requests/``, an offline form and the example data: nesting up to
100,000 deep, 5,000-digit integers, lone surrogates, NUL in strings and keys, NaN/Infinity/1e400,
a wrong type at any path, keys removed and added, duplicate keys, very long strings, truncation
and stray bytes. Each case runs
the real command line in this process (``docket submit``/``revise``, ``docket import``, ``docket
check``) and asserts what issue 8 promises: the exit code is one of 0-4, never 70 (an internal
error), no traceback, and the store changes only when the command succeeded. With PostgreSQL at
hand, 250 more mutated requests go to both stores, which must give each the same outcome. A last
property holds the bounded reader (text) and the Python API's check (dicts) to the same answers.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select
from sqlalchemy import text as sql

import docket
from docket.documents import parse_json
from docket.forms.definition import load_form
from docket.offline.envelope import seal
from docket.offline.export import export_form
from docket.store import tables
from tests.clirun import Result, docket_cli
from tests.conftest import EXAMPLES, PG_SKIP, PG_URL, example_requests
from tests.offline_helpers import fill, get_at, paths_of, ram_folder, request_data, set_at

_counter = itertools.count()
MARK = "@@docket-fuzz-mark@@"  # stands for a raw JSON token until the text is written
KEY_MARK = "@@docket-fuzz-key@@"
REQUEST_LIMIT = 200_000  # [limits] max_request_bytes of the fuzz instance: some cases go over


def fuzz(n: int) -> settings:
    """``n`` derandomised examples, no deadline (a case is a whole CLI run), no health checks."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def _absolute(doc: dict[str, Any]) -> dict[str, Any]:
    for f in doc["files"]:
        f["location"] = str((EXAMPLES / "files" / f["name"]).resolve())
    return doc


REQUESTS = [_absolute(json.loads(p.read_text(encoding="utf-8"))) for p in example_requests()]
# As written, with locations relative to the file (resolved on submit), for submit to mutate too.
AS_WRITTEN = [json.loads(p.read_text(encoding="utf-8")) for p in example_requests()]
BLANK = json.loads(export_form(load_form("ingest-request"), "json", "en"))
FORM = fill(BLANK, request_data(), sealed=True)
TABLE_SCHEMA = json.loads((EXAMPLES / "data" / "observations.schema.json").read_text(encoding="utf-8"))
TITLE = ("metadata", "project_descriptive", "title")
CSV_LINES = (EXAMPLES / "data" / "clean.csv").read_text(encoding="utf-8").splitlines()


# -- mutations ------------------------------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)

# Raw JSON tokens that json.dumps cannot write (or that Python's json reads badly).
RAW_TOKENS = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e400", "-1E+999", "9" * 400 + ".0", "1" * 5000, "-" + "7" * 301,
    "9" * 300, "1e308", "5e-324", "-0", "1.0e-400",
    '"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', '"\\ud83d\\ude00"', '"x\\u0000y"', '"\\\\u0000"',
    "[" * 65 + "]" * 65, "[" * 1000 + "]" * 1000, "[" * 100_000 + "]" * 100_000, "{" * 5000,
    '{"a": 1, "a": 2}', "[1, 2,]", "'x'", "undefined", "0x10", "01", "+1", ".5", "1.", '"\t"',
])
RAW_KEYS = st.sampled_from(['"k\\u0000"', '"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', '"ok"', '""'])


@st.composite
def mutated(draw: st.DrawFn, base: Any, title: tuple | None = None, sealed: bool = False) -> bytes:
    """``base`` (a JSON value) mutated at one path, written as UTF-8 bytes (surrogates kept).

    ``title``: where a "valid" case puts a new title (so it is new content, not a repeat);
    ``sealed``: an offline form, whose digest is recomputed after the mutation half of the time
    (else nearly every mutation would stop at the digest, before the checks behind it).
    """
    doc = copy.deepcopy(base)
    paths = paths_of(doc)
    kind = draw(st.sampled_from(["valid", "wrong-type", "raw-token", "raw-key", "drop-key", "add-key",
                                 "long-string", "duplicate-key", "truncate", "bytes", "text"]))
    token = key = None
    if kind == "valid" and title is not None:
        doc = set_at(doc, title, draw(st.text(min_size=1, max_size=30).filter(str.strip)))
    elif kind == "wrong-type":
        doc = set_at(doc, draw(st.sampled_from(paths)), draw(json_values))
    elif kind == "raw-token":
        doc = set_at(doc, draw(st.sampled_from(paths)), MARK)
        token = draw(RAW_TOKENS)
    elif kind in ("raw-key", "add-key", "duplicate-key"):
        dicts = [p for p in paths if isinstance(get_at(doc, p), dict)]
        target = get_at(doc, draw(st.sampled_from(dicts)))
        if kind == "add-key":
            target[draw(st.text(max_size=10))] = draw(json_values)
        elif kind == "raw-key":
            target[KEY_MARK] = draw(json_values)
            key = draw(RAW_KEYS)
        elif target:
            name = draw(st.sampled_from(sorted(target)))
            target[KEY_MARK] = draw(json_values)
            key = json.dumps(name)
    elif kind == "drop-key":
        inner = [p for p in paths if p and isinstance(get_at(doc, p[:-1]), dict)]
        if inner:
            path = draw(st.sampled_from(inner))
            del get_at(doc, path[:-1])[path[-1]]
    elif kind == "long-string":
        strings = [p for p in paths if isinstance(get_at(doc, p), str)]
        if strings:
            n = draw(st.sampled_from([1_000, 60_000, 250_000]))
            doc = set_at(doc, draw(st.sampled_from(strings)), draw(st.sampled_from("xé€\U0001f600")) * n)
    elif kind == "text":
        strings = [p for p in paths if isinstance(get_at(doc, p), str)]
        if strings:  # any text hypothesis likes, lone surrogates and control characters included
            doc = set_at(doc, draw(st.sampled_from(strings)),
                       draw(st.text(st.characters(codec=None, exclude_categories=()), max_size=12)))
    if sealed and isinstance(doc, dict) and (kind == "valid" or draw(st.booleans())):
        with contextlib.suppress(TypeError, ValueError, UnicodeEncodeError):
            doc = seal(doc)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    if token is not None:
        text = text.replace(json.dumps(MARK), token, 1)
    if key is not None:
        text = text.replace(json.dumps(KEY_MARK), key, 1)
    raw = text.encode("utf-8", "surrogatepass")
    if kind == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    elif kind == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=6)) + raw[at:]
    return raw


# -- the desk -------------------------------------------------------------------------------------


class Desk:
    """One SQLite instance for the module; every case writes its input to a fresh folder."""

    def __init__(self, root: Path, **store: str) -> None:
        self.root = root
        self.instance = root / "inst"
        docket.init(self.instance, project="fuzz", **store).close()
        config = self.instance / "docket.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f"max_request_bytes = {16 << 20}", f"max_request_bytes = {REQUEST_LIMIT}"),
                          encoding="utf-8")
        self.d = docket.open(self.instance)
        assert self.d.config.limit("max_request_bytes") == REQUEST_LIMIT
        first = self.path("first.json")
        first.write_text(json.dumps(REQUESTS[0]), encoding="utf-8")
        self.existing = docket_cli("submit", first, instance=self.instance).out.strip()  # to revise

    def counts(self) -> tuple[int, ...]:
        query = select(*[select(func.count()).select_from(t).scalar_subquery()
                         for t in tables.metadata.sorted_tables])
        with self.d.store.connect() as conn:
            return tuple(conn.execute(query).one())

    def path(self, name: str) -> Path:
        folder = self.root / f"case{next(_counter)}"
        folder.mkdir()
        return folder / name

    def cli(self, *args: str | Path, instance: bool = True) -> Result:
        result = docket_cli(*args, instance=self.instance if instance else None)
        assert result.code in (0, 1, 2, 3, 4), (args, result.code, result.err[-2000:])
        assert "Traceback" not in result.out + result.err, result.err[-2000:]
        event(f"docket {args[0]}: exit {result.code}")
        return result

    def write(self, *args: str | Path) -> Result:
        """A command that may write: the store changes if and only if it succeeded."""
        before = self.counts()
        result = self.cli(*args)
        after = self.counts()
        if result.code == 0:
            assert after != before, (args, result.out)
        else:
            assert after == before, (args, result.code, result.err[-500:])
        return result


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """On a RAM file system when there is one: the fuzz is about input, not about fsync."""
    with ram_folder(tmp_path_factory, "docket-input-fuzz-") as root:
        desk = Desk(root)
        yield desk
        desk.d.close()


# -- the properties ---------------------------------------------------------------------------------


@fuzz(420)
@given(data=st.data())
def test_submit_never_crashes_and_writes_only_on_success(desk: Desk, data: st.DataObject) -> None:
    raw = data.draw(mutated(data.draw(st.sampled_from(REQUESTS + AS_WRITTEN)), TITLE))
    path = desk.path("request.json")
    path.write_bytes(raw)
    result = desk.write("submit", path, "--json")
    report = json.loads(result.out)  # --json: one JSON document, success or refusal
    if result.code == 0:
        shown = desk.cli("show", report["id"], "--json")
        parse_json(shown.out, "show --json")  # what was stored prints as strict JSON
    else:
        assert result.code == 2 and report["error"], report


@fuzz(180)
@given(data=st.data())
def test_revise_never_crashes_and_writes_only_on_success(desk: Desk, data: st.DataObject) -> None:
    raw = data.draw(mutated(REQUESTS[0], TITLE))
    path = desk.path("edited.json")
    path.write_bytes(raw)
    desk.write("revise", desk.existing, path, "--json")


@fuzz(240)
@given(data=st.data())
def test_import_never_crashes_and_writes_only_on_success(desk: Desk, data: st.DataObject) -> None:
    raw = data.draw(mutated(FORM, ("data", *TITLE), sealed=True))
    path = desk.path("form.json")
    path.write_bytes(raw)
    before = desk.counts()
    result = desk.cli("import", path, "--json")
    report = json.loads(result.out)
    if result.code != 0 or not report.get("imported"):
        assert desk.counts() == before, report


@fuzz(270)
@given(data=st.data(), csv_cut=st.none() | st.integers(min_value=0, max_value=400),
       csv_noise=st.none() | st.binary(min_size=1, max_size=8),
       encoding=st.sampled_from([None, None, "utf-8", "latin-1", "utf-16", "utf-32", "cp1252", "nope", "x\udcff"]))
def test_check_never_crashes(desk: Desk, data: st.DataObject, csv_cut: int | None, csv_noise: bytes | None,
                             encoding: str | None) -> None:
    schema = desk.path("schema.json")
    schema.write_bytes(data.draw(mutated(TABLE_SCHEMA)))
    csv = schema.parent / "data.csv"
    raw = "\n".join(CSV_LINES[:12]).encode("utf-8")
    if csv_cut is not None:
        raw = raw[:csv_cut]
    if csv_noise is not None:
        raw = raw[: len(raw) // 2] + csv_noise + raw[len(raw) // 2:]
    csv.write_bytes(raw)
    extra = ["--encoding", encoding] if encoding else []
    result = desk.cli("check", csv, "--schema", schema, "--json", *extra, instance=False)
    assert result.code in (0, 1, 2)
    json.loads(result.out)


# -- SQLite and PostgreSQL agree -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_desk(desk: Desk) -> Iterator[Desk]:
    """A second desk whose store is PostgreSQL (its own schema, dropped after)."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = f"docket_fuzz_{uuid.uuid4().hex[:12]}"
    root = desk.root / "pg"
    root.mkdir()
    other = Desk(root, store_url=PG_URL, store_schema=schema)
    yield other
    other.d.close()
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
@fuzz(150)
@given(data=st.data())
def test_sqlite_and_postgresql_give_every_request_the_same_outcome(desk: Desk, pg_desk: Desk,
                                                                   data: st.DataObject) -> None:
    """The same mutated request, submitted to both stores: same exit code, stored on both or on
    neither (PostgreSQL used to refuse NaN and NUL that SQLite stored)."""
    raw = data.draw(mutated(data.draw(st.sampled_from(REQUESTS)), TITLE))
    path = desk.path("request.json")
    path.write_bytes(raw)
    lite = desk.write("submit", path)
    pg = pg_desk.write("submit", path)
    assert lite.code == pg.code, (lite.err, pg.err)


# -- the reader and the value check agree ------------------------------------------------------------

awkward_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**320), max_value=10**320)
    | st.floats() | st.text(st.characters(codec=None, exclude_categories=()), max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(st.characters(codec=None, exclude_categories=()), max_size=4), children, max_size=3),
    max_leaves=10,
)


def _deepen(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@fuzz(600)
@given(value=awkward_values, depth=st.sampled_from([0, 0, 0, 30, 62, 63, 64, 200]),
       ascii_only=st.booleans(), as_bytes=st.booleans())
def test_parse_json_and_check_json_value_agree(value: Any, depth: int, ascii_only: bool, as_bytes: bool) -> None:
    """The same value is refused as text by parse_json iff it is refused as a dict by the API's
    check (the form page and a file must meet one set of rules), and what passes round-trips."""
    from docket.documents import check_json_value
    from docket.errors import BadInput

    value = _deepen(value, depth)
    text = json.dumps(value, ensure_ascii=ascii_only)
    raw: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    try:
        parsed = parse_json(raw, "text")
    except BadInput:
        parsed = BadInput
    try:
        check_json_value(value, "value")
        checked = True
    except BadInput:
        checked = False
    assert (parsed is not BadInput) == checked, (text[:300], parsed)
    if checked:
        assert parsed == value or json.dumps(parsed) == text
