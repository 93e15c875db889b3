"""The faster paths of the table checks decide exactly as the paths they replaced.

The check was made faster (issue 11) by a second thread that reads ahead, ISO dates read from
their bytes with numpy instead of a regular expression and ``strptime``, plain integers tested
without a regular expression, undeclared missing-value codes looked for only where a value failed
its type, repetitive text hashed once per distinct value (kept from block to block), rows hashed
from their fields' typed hashes, the second read that fills in repeated values limited to the
columns it needs, and the prepass of a large file run beside the start of the scan. Each test
here would fail if a fast path accepted, refused or numbered differently from the reference it
stands in for.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.checks import _scan as scan
from docket.checks import _types as types
from docket.checks import _values as value_dictionaries
from docket.checks import check_table
from docket.checks import table as table_checks
from docket.checks._scan import read_ahead

# -- ISO dates ------------------------------------------------------------------------------------


def _reference_dates(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The previous ISO date path: a strict shape check, strptime, and no rolled-over days."""
    arr = pa.array(values, pa.string())
    typed, ok = types._parse_formats(arr, ("%Y-%m-%d",))
    ok &= types._match(arr, r"^\d{4}-\d{2}-(?P<day>\d{2})$")
    seconds = np.asarray(typed.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
    return ok, seconds


DATE_PARTS = st.tuples(
    st.sampled_from(["2021", "2020", "2000", "1900", "2100", "1600", "0000", "9999", "20x1", " 202"]),
    st.sampled_from(["01", "02", "04", "12", "00", "13", "1", "1 ", "0a", "-1"]),
    st.sampled_from(["-", "-", "/", ".", ""]),
    st.sampled_from(["01", "28", "29", "30", "31", "00", "32", "1", " 3", "+1", "٣"]),
    st.sampled_from(["", "", "Z", " ", "T00:00"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(DATE_PARTS, min_size=1, max_size=40), st.integers(0, 5))
def test_iso_dates_from_bytes_agree_with_strptime(parts, offset):
    values = [f"{y}-{m}{sep}{d}{tail}" for y, m, sep, d, tail in parts]
    arr = pa.array(["pad"] * offset + values, pa.string()).slice(offset)  # a sliced array too
    typed, ok = types._iso_dates(arr)
    want_ok, want_seconds = _reference_dates(values)
    assert ok.tolist() == want_ok.tolist()
    got = np.asarray(typed.cast(pa.int64()).to_numpy(zero_copy_only=False))
    assert got[ok].tolist() == want_seconds[ok].tolist()


def test_date_fields_follow_the_calendar(tmp_path):
    """Through ``check_table``: leap years by the Gregorian rules, months' lengths, the shape."""
    days = ["2020-02-29", "2000-02-29", "1900-02-29", "2100-02-29", "2021-04-31", "2021-04-30",
            "2021-4-01", " 2021-04-01", "2021-04-01Z", "2021/04/01", "0000-01-01", "2021-12-31",
            "2021-13-01", "2021-00-10", ""]
    path = tmp_path / "days.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["day"])
        writer.writerows([d] for d in days)
    report = check_table(path, {"fields": [{"name": "day", "type": "date"}]})
    bad = [loc["value"] for loc in report.get("table.type").locations]
    assert bad == ["1900-02-29", "2100-02-29", "2021-04-31", "2021-4-01", " 2021-04-01",
                   "2021-04-01Z", "2021/04/01", "2021-13-01", "2021-00-10"]


# -- integers and missing-value codes --------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-. x٣", max_size=22), min_size=1, max_size=50))
def test_integers_are_the_values_the_integer_pattern_accepts(values):
    spec = types.FieldSpec.from_descriptor({"name": "n", "type": "integer"}, [""])
    parsed = types.parse_column(spec, pa.array(values, pa.string()))
    accepted = types._match(pa.array(values, pa.string()), types._INTEGER_RE)
    assert (parsed.good | parsed.missing).tolist() == (accepted | (np.array(values) == "")).tolist()


def test_signed_and_very_long_integers_are_integers(tmp_path):
    """``+5`` is an integer (Arrow's cast refuses it: the check used to stop on it), and so is a
    19-digit value past int64 (it used to overflow the cast); neither is compared with bounds."""
    path = tmp_path / "ints.csv"
    path.write_text("n,y\n+5,+2021\n-7,-0044\n9999999999999999999,2021\n+x,+21\n")
    schema = {"fields": [{"name": "n", "type": "integer", "constraints": {"minimum": 0}},
                         {"name": "y", "type": "year"}]}
    report = check_table(path, schema)
    assert [(loc["row"], loc["value"]) for loc in report.get("table.type").locations] == [
        (4, "+x"), (4, "+21")]
    assert [(loc["row"], loc["value"]) for loc in report.get("table.minimum").locations] == [
        (2, "-7")]


def test_missing_value_codes_are_found_in_typed_and_text_fields(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("n,x,flag,t\n1,1.5,true,a\nNA,nan,-,NA\n-999,-999,false,n/a\n3,N/A,+,b\n")
    schema = {"fields": [
        {"name": "n", "type": "integer"},
        {"name": "x", "type": "number"},
        # "-" is a value of this field, not a missing-value code
        {"name": "flag", "type": "boolean", "trueValues": ["true", "+", "-"]},
        {"name": "t", "type": "string"},
    ]}
    report = check_table(path, schema)
    found = [(loc["row"], loc["column"], loc["value"])
             for loc in report.get("table.missing-values").locations]
    # -999 is a valid integer and number, nan a valid number: neither is flagged
    assert found == [(2, "n", "NA"), (2, "t", "NA"), (3, "t", "n/a"), (4, "x", "N/A")]


# -- repeats, and the values filled in by the second read --------------------------------------------


def test_repeated_keys_and_rows_are_named_with_their_values(tmp_path):
    path = tmp_path / "repeats.csv"
    rows = [f"{i},ST{i % 7:04d},2021-01-0{1 + i % 9},{i / 4}" for i in range(1, 3001)]
    rows[1500] = rows[10]  # a duplicate row: same id too
    rows[2000] = "1700," + rows[2000].split(",", 1)[1]  # a repeated key, the rest different
    path.write_text("id,station,day,x\n" + "\n".join(rows) + "\n")
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "station"},
                         {"name": "day", "type": "date"}, {"name": "x", "type": "number"}],
              "primaryKey": "id"}
    for block in (256, 1 << 20):
        report = check_table(path, schema, block_size=block, spill_rows=100)
        pk = [(loc["row"], loc["value"], loc["note"]) for loc in report.get("table.primary-key").locations]
        assert pk == [(1501, "11", "same as row 11"), (2001, "1700", "same as row 1700")]
        dup = [(loc["row"], loc["value"]) for loc in report.get("table.duplicate-row").locations]
        assert dup == [(1501, rows[10])]


def test_duplicate_rows_compare_declared_fields_as_values_and_the_rest_as_text(tmp_path):
    """With a schema, ``01`` and ``1`` are the same integer, ``true`` and ``1`` the same boolean
    (frictionless compares parsed rows too); without one, rows compare as text."""
    path = tmp_path / "rows.csv"
    path.write_text("n,flag,day,note\n1,true,2021-01-01,a\n01,1,2021-01-01,a\n1,true,2021-01-01,b\n"
                    "x,true,2021-01-01,a\nx,true,2021-01-01,a\n,NA,,a\n,,,a\n")
    schema = {"fields": [{"name": "n", "type": "integer"}, {"name": "flag", "type": "boolean"},
                         {"name": "day", "type": "date"}, {"name": "note", "type": "string"}],
              "missingValues": ["", "NA"]}
    typed = check_table(path, schema).get("table.duplicate-row")
    assert [(loc["row"], loc["note"]) for loc in typed.locations] == [
        (2, "same as row 1"), (5, "same as row 4"), (7, "same as row 6")]
    assert typed.locations[0]["value"] == "01,1,2021-01-01,a"
    text = check_table(path).get("table.duplicate-row")
    assert [(loc["row"], loc["note"]) for loc in text.locations] == [(5, "same as row 4")]


def test_long_integer_keys_are_told_apart(tmp_path):
    """Integers too long to compare as numbers are keys by their text, not all one value."""
    path = tmp_path / "long.csv"
    path.write_text("id\n12345678901234567890\n12345678901234567891\n12345678901234567890\n")
    report = check_table(path, {"fields": [{"name": "id", "type": "integer"}], "primaryKey": "id"})
    assert [(loc["row"], loc["note"]) for loc in report.get("table.primary-key").locations] == [
        (3, "same as row 1")]


# -- the read-ahead thread --------------------------------------------------------------------------


class _Chunks:
    """An iterator of numbers that fails after ``fail_after`` of them, like a CSV read can."""

    def __init__(self, count: int, fail_after: int | None = None) -> None:
        self.count, self.fail_after = count, fail_after
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self):
        return self

    def __next__(self):
        self.threads.add(threading.current_thread().name)
        if self.fail_after is not None and self.count == self.fail_after:
            raise ValueError("row 7 cannot be read")
        if self.count == 0:
            raise StopIteration
        self.count -= 1
        return self.count

    def close(self):
        self.closed = True


def test_read_ahead_keeps_order_and_raises_where_the_read_failed():
    source = _Chunks(5, fail_after=2)
    got = []
    with pytest.raises(ValueError, match="row 7"):
        for item in read_ahead(source, lambda chunk: []):
            got.append(item)
    assert got == [4, 3, 2]  # every chunk read before the failure, in order, then the error
    assert source.threads == {"docket-read-ahead"} and source.closed


def test_read_ahead_stops_its_thread_when_the_caller_stops_early():
    before = threading.active_count()
    source = _Chunks(10_000)
    for item in read_ahead(source, lambda chunk: []):
        if item < 9_990:
            break
    assert threading.active_count() == before and source.closed


def test_read_ahead_steps_are_optional_and_a_failing_step_is_left_to_the_check():
    prepared: list[int] = []

    def steps(chunk):
        def fail():
            raise RuntimeError("the check will compute this itself")
        return [lambda: prepared.append(chunk), fail, lambda: prepared.append(-chunk)]

    got = list(read_ahead(_Chunks(50), steps))
    assert got == list(range(49, -1, -1))
    assert set(prepared) <= set(got)  # never a step after the failing one


def test_a_check_that_cannot_start_stops_the_reader(tmp_path, monkeypatch):
    """The reader opens the file while the checks start: a check failing to start leaves no
    thread behind."""
    path = tmp_path / "data.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(2000)))

    def broken(self, table):
        raise RuntimeError("cannot start")

    monkeypatch.setattr(table_checks.FieldSize, "start", broken)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="cannot start"):
        check_table(path, {"fields": [{"name": "id", "type": "integer"}]})
    assert threading.active_count() == before


def test_a_chunk_computes_what_two_threads_ask_for_once():
    """The read-ahead thread prepares a chunk the checks already work on: a value both ask for
    is computed once and shared; if the first computation fails, the other computes it."""
    chunk = scan.Chunk(scan.TableContext(path=Path("x.csv"), name="x.csv", schema=None), [],
                       np.arange(3))
    started, calls, results = threading.Event(), [], []

    def slow():
        calls.append(threading.current_thread().name)
        started.set()
        threading.Event().wait(0.2)
        return 42

    first = threading.Thread(target=lambda: results.append(chunk.memo("k", slow)))
    first.start()
    started.wait()
    results.append(chunk.memo("k", slow))
    first.join()
    assert results == [42, 42] and len(calls) == 1

    started.clear()

    def failing():
        started.set()
        threading.Event().wait(0.2)
        raise RuntimeError("no")

    errors = []
    first = threading.Thread(target=lambda: errors.append(_raises(lambda: chunk.memo("j", failing))))
    first.start()
    started.wait()
    assert chunk.memo("j", lambda: 7) == 7
    first.join()
    assert errors == [True]


def _raises(fn) -> bool:
    try:
        fn()
    except RuntimeError:
        return True
    return False


# -- the prepass beside the scan -------------------------------------------------------------------


def _large_file(path: Path, header: bytes, row: bytes, odd: bytes, comment: bytes = b"") -> None:
    """A CSV just over the size from which the prepass runs beside the scan, with ``odd`` as
    the value of one row near its end."""
    rows = scan._PREPASS_BESIDE_FROM // len(row) + 100
    with path.open("wb") as fh:
        fh.write(comment + header)
        fh.write(row * (rows - 50))
        fh.write(odd)
        fh.write(row * 49)


@pytest.mark.parametrize("case", ["latin-1 row", "latin-1 header", "utf-8", "comment line"])
def test_the_prepass_beside_the_scan_reports_as_the_prepass_first(tmp_path, monkeypatch, case):
    """A large file is scanned while its prepass still runs, on the guess that it is UTF-8: a file
    that is not after all (a latin-1 byte in a row near the end, or in the header) is checked
    again as latin-1, and every report is the one the prepass run first gives."""
    header = b"id,name\n" if case != "latin-1 header" else b"id,nam\xe9\n"
    odd = b"7,caf\xe9\n" if case == "latin-1 row" else b"7,cafe\n"
    comment = b"# measured at the harbour\n" if case == "comment line" else b""
    path = tmp_path / "big.csv"
    _large_file(path, header, b"1,harbour station\n", odd, comment)
    schema = {"fields": [{"name": "id", "type": "integer"},  # the odd row's value is reported:
                         {"name": "name", "type": "string", "constraints": {"pattern": "[a-z ]+"}}]}
    beside = check_table(path, schema)
    monkeypatch.setattr(scan, "_PREPASS_BESIDE_FROM", 1 << 62)  # the prepass first
    first = check_table(path, schema)
    assert _everything(beside) == _everything(first)
    encoding = beside.get("table.encoding")
    assert encoding.status == ("error" if "latin-1" in case else "valid")
    if case == "latin-1 header":
        assert beside.get("table.header").status != "valid"  # "namé" is not "name"
    if case == "latin-1 row":
        assert [loc["value"] for loc in beside.get("table.pattern").locations] == ["café"]


# -- the request form's live check ---------------------------------------------------------------


def test_checking_a_request_without_tables_makes_no_temporary_folder(tmp_path, monkeypatch):
    """The request form runs ``check_request`` on every change of a field: with no table to scan
    there is no key to spill, so no temporary folder is made (it was half the call's time)."""
    import json
    import tempfile

    from docket.checks import check_request

    made = tmp_path / "tmp"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))
    calls: list[str] = []
    real = tempfile.TemporaryDirectory

    def counting(*args, **kwargs):
        calls.append(kwargs.get("prefix", ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", counting)
    examples = Path(__file__).resolve().parents[1] / "examples"
    record = json.loads((examples / "requests" / "ctd-multilingual.json").read_text(encoding="utf-8"))
    report = check_request(record, {})
    assert report.to_dict()["checks"] and "docket-keys-" not in calls
    # with its table at hand the keys get their folder, and it is gone afterwards
    name = record["files"][0]["name"]
    check_request(record, {name: examples / "files" / name})
    assert "docket-keys-" in calls and list(made.iterdir()) == []


# -- once per distinct value -----------------------------------------------------------------------

#: Values a column of each field draws from: good, bad, missing-value codes, negative zero,
#: NaN, time zones, lookalikes of the pattern and the enum, and repeats of them all.
_POOLS = {
    "id": ["1", "2", "3", "01", "+2", "x", "", "NA", "-0", "12345678901234567890"],
    "station": ["ST0001", "ST0002", "st0001", "ST12", "", "n/a", "ST9999"],
    "day": ["2021-01-01", "2021-02-29", "2020-02-29", "0000-01-01", "2021/01/01", "", "NA"],
    "at": ["2020-01-01T15:00:00Z", "2020-01-01T15:00:00+03:00", "2020-01-01T12:00:00Z",
           "2020-01-01T15:00:00.1Z", "2020-01-01T15:00:00.10Z", "2020-01-01 15:00:00", "x", ""],
    "temperature": ["1.5", "-0", "0", "NaN", "INF", "75.5", "1e2", ".5", "1,5", "nan", ""],
    "count": ["0", "-1", "499", "+7", "007", "1.0", "-", ""],
    "quality": ["good", "bad", "suspect", "Good", "excellent", "", "NULL"],
    "rain": ["true", "false", "TRUE", "0", "yes", "", "NA"],
    "note": ["", "calm", "windy day", "NA", "-"],
}
_DISTINCT_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"unique": True}},
        {"name": "station", "type": "string",
         "constraints": {"required": True, "pattern": "ST[0-9]{4}", "maxLength": 6}},
        {"name": "day", "type": "date", "constraints": {"minimum": "2020-06-01"}},
        {"name": "at", "type": "datetime", "constraints": {"unique": True}},
        {"name": "temperature", "type": "number", "constraints": {"minimum": -60, "maximum": 60,
                                                                  "enum": [0, 1.5, 100, 75.5]}},
        {"name": "count", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "quality", "type": "string", "constraints": {"enum": ["good", "suspect", "bad"]}},
        {"name": "rain", "type": "boolean"},
        {"name": "note", "type": "string"},
    ],
    "missingValues": ["", "NA"],
    "primaryKey": ["id", "station"],
    "foreignKeys": [{"fields": "station", "reference": {"resource": "", "fields": "station"}}],
}


def _everything(report) -> list:
    return [(c.id, c.status, c.count, c.counts, c.found,
             [sorted(loc.items()) for loc in c.locations]) for c in report.checks]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_values_checked_once_per_distinct_value_decide_as_row_by_row(tmp_path_factory, data):
    """Parsing, constraints and hashes computed once per distinct value of a repetitive column,
    and kept from chunk to chunk, give the same report, finding for finding, as computing them
    for every row."""
    n = data.draw(st.integers(64, 400), label="rows")
    columns = {name: data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n), label=name)
               for name, pool in _POOLS.items()}
    if data.draw(st.booleans(), label="values arrive late"):  # later chunks bring new values
        columns = {name: sorted(column, key=_POOLS[name].index) for name, column in columns.items()}
    path = tmp_path_factory.mktemp("distinct") / "data.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(list(columns))
        out.writerows(zip(*columns.values(), strict=True))
    # 1 KiB blocks hold too few rows for a dictionary, 8 KiB blocks a few chunks of 64 rows or
    # more (their dictionaries carried from chunk to chunk), 1 MiB blocks the whole file.
    block = data.draw(st.sampled_from([1 << 10, 1 << 13, 1 << 20]), label="block")
    # How the columns' dictionaries live across chunks: kept for the scan (the default), a new
    # one whenever a dictionary holds more than a few values, or one per chunk.
    kept = data.draw(st.sampled_from(["scan", "limit", "chunk"]), label="dictionaries")
    with pytest.MonkeyPatch.context() as mp:
        if kept == "limit":  # however many values a chunk brings, up to 5 per dictionary
            mp.setattr(value_dictionaries, "_LIMIT_SMALL_FILE", 5)
            mp.setattr(value_dictionaries, "NEW_SHARE", 2.0)
        elif kept == "chunk":
            mp.setattr(value_dictionaries, "NEW_SHARE", -1.0)
        by_value = _everything(check_table(path, _DISTINCT_SCHEMA, block_size=block))
    with pytest.MonkeyPatch.context() as mp:
        # every column counts as mostly distinct
        mp.setattr(value_dictionaries, "DISTINCT_SHARE", -1.0)
        by_row = _everything(check_table(path, _DISTINCT_SCHEMA, block_size=block))
    assert by_value == by_row
    assert any(c[2] for c in by_row)  # the draws hold errors: the comparison is not of empties


# -- duplicate rows through the primary key ------------------------------------------------------

_ROW_SCHEMA = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "k", "type": "string"},
               {"name": "day", "type": "date"}, {"name": "x", "type": "number"},
               {"name": "note", "type": "string"}],
    "missingValues": ["", "NA"],
}


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_duplicate_rows_found_through_the_primary_key_are_those_found_by_hashing_every_row(
        tmp_path_factory, data):
    """Two equal rows have equal keys, so duplicate rows are looked for among the rows whose key
    repeats (read again after the scan) and the rows lacking part of their key: the report is
    the one hashing every row gives, finding for finding, whatever the key, blank and ragged
    rows, block size and spilling."""
    n = data.draw(st.integers(64, 300), label="rows")
    pools = {"id": ["1", "2", "01", "3", "x", "", "NA", "+2"], "k": ["a", "b", "", "NA"],
             "day": ["2021-01-01", "2021-01-02", "bad"], "x": ["1", "1.0", "2", "NaN"],
             "note": ["", "n", "m"]}
    rows = [[data.draw(st.sampled_from(pool)) for pool in pools.values()] for _ in range(n)]
    for i in data.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=20), label="copies"):
        rows[i] = list(rows[data.draw(st.integers(0, i - 1))])  # a whole row repeated
    lines = [",".join(r) for r in rows]
    for i in data.draw(st.lists(st.integers(0, n - 1), max_size=3), label="odd"):
        lines[i] = data.draw(st.sampled_from(["", ",,,,", "1,a", "1,a,2021-01-01,1,n,extra"]))
    path = tmp_path_factory.mktemp("rows") / "data.csv"
    path.write_text("id,k,day,x,note\n" + "\n".join(lines) + "\n")
    key = data.draw(st.sampled_from([["id"], ["id", "k"], ["k", "day"]]), label="key")
    schema = {**_ROW_SCHEMA, "primaryKey": key}
    options = {"block_size": data.draw(st.sampled_from([1 << 9, 1 << 20]), label="block"),
               "spill_rows": data.draw(st.sampled_from([50, 10**6]), label="spill")}
    through_key = _everything(check_table(path, schema, **options))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(table_checks, "DEFER_TO_PRIMARY_KEY", False)
        every_row = _everything(check_table(path, schema, **options))
    assert through_key == every_row


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=64, max_size=400), st.data())
def test_increasing_keys_skip_the_sort_and_every_repeat_is_still_found(tmp_path_factory, keys, data):
    """Keys in increasing order (row ids, times) cannot repeat, and the repeat trackers skip
    their sort; a key equal to the previous one, also across two blocks, or any step back
    stops the shortcut. The repeats found are those a plain count finds."""
    keys = sorted(keys)  # increasing, with the repeats the draw holds ...
    for i in data.draw(st.lists(st.integers(1, len(keys) - 1), max_size=3), label="back"):
        keys[i] = keys[i - 1] - data.draw(st.integers(0, 2))  # ... and a few repeats or steps back
    path = tmp_path_factory.mktemp("keys") / "keys.csv"
    path.write_text("id,day,x\n" + "".join(f"{k},2021-01-{1 + k % 28:02d},1\n" for k in keys))
    first: dict[int, int] = {}
    expected = []
    for row, k in enumerate(keys, start=1):
        if k in first:
            expected.append((row, f"same as row {first[k]}"))
        first.setdefault(k, row)
    schema = {"fields": [{"name": "id", "type": "integer", "constraints": {"unique": True}},
                         {"name": "day", "type": "date"}, {"name": "x", "type": "number"}],
              "primaryKey": "id"}
    report = check_table(path, schema, block_size=data.draw(st.sampled_from([256, 1 << 20])),
                         sample_size=10**6)
    for check in ("table.primary-key", "table.unique", "table.duplicate-row"):
        found = [(loc["row"], loc["note"]) for loc in report.get(check).locations]
        assert found == expected, check


def test_a_key_repeated_across_two_blocks_stops_the_increasing_shortcut(tmp_path):
    """Unique increasing ids but one, equal to the id before it, wherever it falls: at the start
    of a block, its end, or inside."""
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "x"}], "primaryKey": "id"}
    n = 80
    for at in range(1, n):
        keys = list(range(100, 100 + n))
        keys[at] = keys[at - 1]
        path = tmp_path / f"repeat-{at}.csv"
        path.write_text("id,x\n" + "".join(f"{k},v\n" for k in keys))
        report = check_table(path, schema, block_size=200)  # about a dozen rows a block
        assert [(loc["row"], loc["note"]) for loc in report.get("table.primary-key").locations] == [
            (at + 1, f"same as row {at}")], at


def test_duplicate_rows_before_a_parse_error_are_still_found_through_the_key(tmp_path, monkeypatch):
    """The rows sharing a key are read again even when the scan stopped later in the file."""
    monkeypatch.setattr(scan, "MAX_BLOCK_SIZE", 1 << 16)
    path = tmp_path / "stops.csv"
    path.write_text("id,x\n1,a\n1,a\n2,b\n3," + "y" * (1 << 18) + "\n4,c\n")
    report = check_table(path, {"fields": [{"name": "id", "type": "integer"}, {"name": "x"}],
                                "primaryKey": "id"}, block_size=1 << 12)
    assert report.get("table.parsable").status == "error"
    assert [(loc["row"], loc["note"]) for loc in report.get("table.duplicate-row").locations] == [
        (2, "same as row 1")]


def test_values_of_repeated_keys_come_from_the_rows_read_again(tmp_path, monkeypatch):
    """The rows sharing a key are read a second time (for duplicate rows); the values the repeats
    are reported with are taken from those rows, not from a third read of the file, and are the
    values a third read gives."""
    path = tmp_path / "data.csv"
    path.write_text("id,x,y\n1,a,p\n2,b,q\n1,c,r\n3,d,s\n2,b,q\n")
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "x"}, {"name": "y"}],
              "primaryKey": "id"}
    reads: list[int] = []
    real = scan._reread

    def counted(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scan, "_reread", counted)
    kept = check_table(path, schema)
    assert len(reads) == 1
    assert [loc["value"] for loc in kept.get("table.primary-key").locations] == ["1", "2"]
    assert [loc["value"] for loc in kept.get("table.duplicate-row").locations] == ["2,b,q"]
    monkeypatch.setattr(scan, "_KEEP_BYTES", 0)  # nothing kept: the values are read again
    reads.clear()
    again = check_table(path, schema)
    assert len(reads) == 2
    assert _everything(again) == _everything(kept)


def test_a_file_changed_before_its_rows_are_read_again_is_said_so(tmp_path):
    """Duplicate rows found through the key read the rows sharing a key a second time. Were the
    file rewritten in between (another program saving it), that read would compare other rows:
    the check says the file changed instead of reporting on a mix of two files. The rewrite is
    done by a plug-in check's ``revisit``, which runs right before that read."""
    import os

    from docket.checks import TableCheck, register, registry

    path = tmp_path / "moving.csv"
    path.write_text("id,x\n1,a\n1,a\n2,b\n")
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "x"}], "primaryKey": "id"}

    @register
    class Rewriter(TableCheck):
        id = "example.rewriter"
        name = "Rewrites the file (a stand-in for another program)"
        description = "Saves the file again between the scan and the second read."
        default_severity = "info"

        def chunk(self, table, chunk):
            pass

        def revisit(self, table):
            if rewrite:
                path.write_text("id,x\n1,a\n1,z\n2,b\n")  # the same size: only the time tells
                st = os.stat(path)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            return None

    try:
        rewrite = False
        report = check_table(path, schema)
        assert report.get("table.duplicate-row").locations[0]["note"] == "same as row 1"
        rewrite = True
        path.write_text("id,x\n1,a\n1,a\n2,b\n")
        report = check_table(path, schema)
    finally:
        registry._checks.pop("example.rewriter")
    result = report.get("table.duplicate-row")
    assert result.status == "not-checked"
    assert "the file changed while it was being checked" in result.found
    assert report.get("table.primary-key").count == 1  # found in the scan, as before
