"""Bad request input is a refusal (exit 2, nothing stored), never an internal error (exit 70).

Each case here ended in exit 70, or was stored by one store and refused by the other, before
issue 8: nesting thousands of levels deep, a lone surrogate, a 5,000-digit integer, a NUL in a
file location, NaN/Infinity/1e400, wrong types reaching the cross-field rules, and requests of any
size. The bounded reader (:mod:`docket.documents`) is tested on its own first, then through
``docket submit``/``revise`` and the Python API on SQLite and PostgreSQL, and finally one corpus
is run against both stores, which must accept and refuse exactly the same documents.
"""

from __future__ import annotations

import copy
import json
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import func, select

import docket
from docket.api import Docket
from docket.canonical import canonical_json
from docket.documents import check_json_value, load_json_file, parse_json
from docket.errors import BadInput, InvalidDocument
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, PG_URL

# -- helpers ------------------------------------------------------------------------------------


def example(name: str = "soil-several-files") -> dict[str, Any]:
    """An example request whose file locations are absolute (valid wherever it is written)."""
    doc = json.loads((EXAMPLES / "requests" / f"{name}.json").read_text(encoding="utf-8"))
    for f in doc["files"]:
        f["location"] = str((EXAMPLES / "files" / f["name"]).resolve())
    return doc


def with_structural(doc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``doc`` with a Table Schema whose one field carries ``extra`` (fields allow any key)."""
    doc = copy.deepcopy(doc)
    doc["metadata"]["dataset_structural"] = {"fields": [{"name": "depth", "type": "number", **extra}]}
    return doc


def counts(d: Docket) -> dict[str, int]:
    with d.store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def set_limits(instance: Path, **limits: int) -> None:
    path = instance / "docket.toml"
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    config.setdefault("limits", {}).update(limits)
    path.write_text(tomli_w.dumps(config), encoding="utf-8")


# -- the bounded reader -------------------------------------------------------------------------

REFUSED_TEXTS = {
    # name: (JSON text, words the message must contain)
    "nested 1,000 deep": (nested(1000), "nested more than 64 levels deep (at line 1, column 65)"),
    "nested 100,000 deep": (nested(100_000), "nested more than 64 levels deep"),
    "opened 100,000 deep, never closed": ("[" * 100_000, "nested more than 64 levels deep"),
    "nested 65 in an object": ('{"a": ' + nested(64) + "}", "nested more than 64"),
    "lone high surrogate": ('{"title": "a\\ud800b"}', "$.title: the text contains a lone surrogate (\\ud800)"),
    "lone low surrogate in a list": ('{"k": ["x", "\\udc00"]}', "$.k[1]: the text contains a lone surrogate"),
    "surrogate pair reversed": ('["\\ude00\\ud83d"]', "$[0]: the text contains a lone surrogate"),
    "5,000-digit integer": ('{"size": ' + "7" * 5000 + "}", "an integer of 5,000 digits"),
    "301-digit negative integer": ("[-" + "1" * 301 + "]", "an integer of 301 digits"),
    "NaN": ('{"x": NaN}', "NaN is not a JSON number"),
    "Infinity": ('{"x": Infinity}', "Infinity is not a JSON number"),
    "-Infinity": ('{"x": [1, -Infinity]}', "-Infinity is not a JSON number"),
    "1e400": ('{"x": 1e400}', "1e400 is too large for a JSON number"),
    "-1E+999": ('{"x": -1E+999}', "too large for a JSON number"),
    "a 400-digit float": ('{"x": ' + "9" * 400 + ".5}", "too large for a JSON number"),
    "NUL in a string": ('{"files": [{"location": "a\\u0000b"}]}', "$.files[0].location: the text contains a NUL"),
    "NUL in a key": ('{"a\\u0000": 1}', '$["a\\u0000"]: the key contains a NUL'),
    "lone surrogate in a key": ('{"\\ud800": 1}', '$["\\ud800"]: the key contains a lone surrogate'),
    "duplicate key": ('{"a": {"b": 1, "b": 2}}', "$.a.b: the key appears twice"),
    "not JSON": ('{"a": 1,}', "is not valid JSON"),
    "truncated": ('{"a": [1, 2', "is not valid JSON"),
}


@pytest.mark.parametrize("name", list(REFUSED_TEXTS))
def test_parse_json_refuses_with_place(name: str) -> None:
    """Each of these was an internal error (or silently changed data) with ``json.loads``."""
    text, words = REFUSED_TEXTS[name]
    for raw in (text, text.encode("utf-8")):
        with pytest.raises(BadInput) as info:
            parse_json(raw, "form.json")
        assert info.value.message.startswith("form.json"), info.value.message
        assert words in info.value.message, info.value.message


ACCEPTED_TEXTS = {
    "nested exactly 64": (nested(64), None),
    "brackets inside strings do not nest": ('{"s": "' + "[" * 500 + '", "t": "]]]\\"[[["}', None),
    "escaped backslash before u0000 is not a NUL": ('["\\\\u0000"]', ["\\u0000"]),
    "a surrogate pair is one character": ('["\\ud83d\\ude00"]', ["\U0001f600"]),
    "300-digit integer": ("[" + "9" * 300 + "]", [int("9" * 300)]),
    "long fraction": ("[0." + "1" * 500 + "]", [float("0." + "1" * 500)]),
    "1e308 and 1e-400": ("[1e308, 1e-400]", [1e308, 0.0]),
    "byte order mark": ('\ufeff{"a": 1}'.encode(), {"a": 1}),
    "non-ASCII text": ('{"titre": "Été à Brest"}', {"titre": "Été à Brest"}),
}


@pytest.mark.parametrize("name", list(ACCEPTED_TEXTS))
def test_parse_json_accepts_what_is_json(name: str) -> None:
    raw, expected = ACCEPTED_TEXTS[name]
    value = parse_json(raw, "doc")
    assert value == (json.loads(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw)
                     if expected is None else expected)


def test_parse_json_names_the_line_of_a_deep_spot() -> None:
    text = '{\n  "a": 1,\n  "deep": ' + nested(70) + "\n}"
    with pytest.raises(BadInput, match=r"at line 3, column 74"):
        parse_json(text, "r.json")


def test_parse_json_is_not_fooled_by_strings_full_of_closing_brackets() -> None:
    """A pre-pass that counted brackets inside strings would see ``]`` and let depth 65 through."""
    text = '["' + "]" * 200 + '", ' + nested(64) + "]"
    with pytest.raises(BadInput, match="nested more than 64"):
        parse_json(text, "doc")


def test_parse_json_limits_are_parameters() -> None:
    assert parse_json(nested(100), "doc", max_depth=100)
    with pytest.raises(BadInput, match="more than the limit of 5"):
        parse_json("[123456]", "doc", max_int_digits=5)
    assert parse_json("[12345]", "doc", max_int_digits=5) == [12345]


def test_load_json_file_refuses_a_large_file_without_reading_it(tmp_path: Path) -> None:
    """300 MB (sparse) is refused from its size; reading it would have cost 1.25 GB of memory."""
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(300 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(BadInput, match=r"314,572,800 bytes, more than the limit of 16,777,216"):
            load_json_file(big, "request")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_load_json_file_never_holds_more_than_the_limit() -> None:
    """A file whose size says nothing (a device, a pipe, a file still growing) is read up to the
    limit and one byte more, then refused."""
    tracemalloc.start()
    try:
        with pytest.raises(BadInput, match="more than the limit of 1,048,576 bytes"):
            load_json_file("/dev/zero", "request", max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20


def test_load_json_file_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_json_file(tmp_path / "nope.json", "request")
    with pytest.raises(BadInput, match="is a folder"):
        load_json_file(tmp_path, "request")
    with pytest.raises(BadInput, match="cannot read request"):
        load_json_file(str(tmp_path / "a\x00b.json"), "request")


def _deep_dict(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


@pytest.mark.parametrize("value, words", [
    ({"a": float("nan")}, "$.a: NaN is not a JSON number"),
    ({"a": [1.0, float("-inf")]}, "$.a[1]: -Infinity is not a JSON number"),
    ({"a": "x\x00"}, "$.a: the text contains a NUL"),
    ({"a": "\udcff"}, "$.a: the text contains a lone surrogate (\\udcff)"),
    ({"a": 10**5000}, "$.a: an integer of more than 300 digits"),
    ({"a": (1, 2)}, "$.a: a tuple is not a JSON value"),
    ({"a": {1: "x"}}, "$.a: the key 1 is a int"),
    ({"a": {"ok\x00": 1}}, '$.a["ok\\u0000"]: the key contains a NUL'),
    (_deep_dict(100_000), "nested more than 64 levels deep"),
], ids=["nan", "-inf", "nul", "surrogate", "bigint", "tuple", "int-key", "nul-key", "deep"])
def test_check_json_value_holds_python_values_to_the_same_rules(value: Any, words: str) -> None:
    with pytest.raises(BadInput) as info:
        check_json_value(value, "request")
    assert words in info.value.message


def test_canonical_json_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        canonical_json({"a": float("inf")})


# -- through docket submit / revise and the Python API -------------------------------------------


def _texts() -> dict[str, str]:
    """Request files that ended in exit 70 before issue 8 (or were stored as non-JSON)."""
    base = json.dumps(example(), indent=2)
    doc = example()
    out = {
        "nested 5,000 deep": base.replace('"project": "soil"', '"project": "soil", "x": ' + nested(5000)),
        "lone surrogate in the title": base.replace("Topsoil", "Top\\ud800soil"),
        "5,000-digit size": base.replace('"size": 896', '"size": ' + "9" * 5000),
        "NUL in a relative location": json.dumps({**doc, "files": [{**doc["files"][0], "location": "a\u0000b.csv"}]}),
        "NaN in dataset_structural": json.dumps(with_structural(doc, x=float("nan"))),
        "Infinity in dataset_structural": json.dumps(with_structural(doc, x=float("inf"))),
        "1e400 in dataset_structural": json.dumps(with_structural(doc, x=1)).replace('"x": 1', '"x": 1e400'),
        "duplicate key": base.replace('"project": "soil"', '"project": "soil", "project": "ocean"'),
    }
    return out


BAD_TEXTS = _texts()
WRONG_TYPES = {
    "spatial_coverage is a string": (("metadata", "experiment_contextual", "spatial_coverage"), "x"),
    "temporal_coverage is a list": (("metadata", "experiment_contextual", "temporal_coverage"), [1]),
    "coverage start is a number": (("metadata", "experiment_contextual", "temporal_coverage", "start"), 5),
    "files is a number": (("files",), 5),
    "a file is a string": (("files", 0), "x"),
    "provider is a list": (("provider",), []),
    "metadata is null": (("metadata",), None),
    "title is a number": (("metadata", "project_descriptive", "title"), 7),
}


def _put(doc: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_submit_refuses_bad_request_files(instance_dir: Path, tmp_path: Path, name: str) -> None:
    path = tmp_path / "request.json"
    path.write_text(BAD_TEXTS[name], encoding="utf-8")
    with docket.open(instance_dir) as d:
        before = counts(d)
    result = docket_cli("submit", path, instance=instance_dir)
    assert result.code == 2, (result.code, result.err)
    assert result.err.startswith("docket: ") and "internal error" not in result.err
    as_json = docket_cli("submit", path, "--json", instance=instance_dir)
    assert as_json.code == 2 and as_json.json()["error"] == "BadInput"
    with docket.open(instance_dir) as d:
        assert counts(d) == before


@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_wrong_types_are_schema_errors_not_crashes(instance_dir: Path, tmp_path: Path, name: str) -> None:
    """The cross-field rules used to run on documents the schema had already refused."""
    where, value = WRONG_TYPES[name]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_put(example(), where, value)), encoding="utf-8")
    result = docket_cli("submit", path, "--json", instance=instance_dir)
    assert result.code == 2, (result.code, result.out, result.err)
    problems = result.json()["problems"]
    assert problems and all(p["where"].startswith("$") for p in problems)


def test_cross_field_rules_still_run_on_valid_documents(dk: Docket) -> None:
    doc = _put(example(), ("metadata", "experiment_contextual", "temporal_coverage"),
               {"start": "2023-09-30", "end": "2023-04-01"})
    with pytest.raises(InvalidDocument) as info:
        dk.submit(doc)
    assert [p.where for p in info.value.problems] == ["$.metadata.experiment_contextual.temporal_coverage.end"]


def test_revise_refuses_the_same(instance_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(example()), encoding="utf-8")
    request_id = docket_cli("submit", good, instance=instance_dir).out.strip()
    for name, text in BAD_TEXTS.items():
        path = tmp_path / "edited.json"
        path.write_text(text, encoding="utf-8")
        result = docket_cli("revise", request_id, path, instance=instance_dir)
        assert result.code == 2, (name, result.code, result.err)
    assert docket_cli("show", request_id, "--json", instance=instance_dir).json()["revision"] == 1


@pytest.mark.parametrize("bad", [
    with_structural(example(), x=float("nan")),
    with_structural(example(), x=float("-inf")),
    _put(example(), ("metadata", "project_descriptive", "title"), "a\x00b"),
    _put(example(), ("metadata", "project_descriptive", "title"), "a\ud800b"),
    _put(example(), ("provider", "organisation\x00"), "x"),
    with_structural(example(), x=_deep_dict(100_000)),
    with_structural(example(), x=10**5000),
], ids=["nan", "-inf", "nul", "surrogate", "nul-key", "deep", "bigint"])
def test_python_api_checks_dicts_too(dk: Docket, bad: dict[str, Any]) -> None:
    """The form page passes dicts: they get the rules files get, before any store sees them."""
    before = counts(dk)
    with pytest.raises(BadInput):
        dk.submit(bad)
    with pytest.raises(BadInput):
        dk.revise("ocean-0001", bad)  # refused before the id is even looked up
    assert counts(dk) == before


def test_request_size_limit_for_files_and_dicts(instance_dir: Path, tmp_path: Path) -> None:
    set_limits(instance_dir, max_request_bytes=20_000)
    doc = example()
    doc["metadata"]["project_descriptive"]["abstract"] = "x" * 30_000
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = docket_cli("submit", path, instance=instance_dir)
    assert result.code == 2 and "more than the limit of 20,000" in result.err, result.err
    with docket.open(instance_dir) as d:
        with pytest.raises(BadInput, match="as JSON, more than the limit of 20,000"):
            d.submit(doc)
        assert counts(d)["requests"] == 0
        doc["metadata"]["project_descriptive"]["abstract"] = "x" * 100
        assert d.submit(doc)["id"] == "soil-0001"


def test_a_limit_in_docket_toml_that_is_not_a_number_is_refused(instance_dir: Path, tmp_path: Path) -> None:
    set_limits(instance_dir, max_json_depth=0)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(example()), encoding="utf-8")
    result = docket_cli("submit", path, instance=instance_dir)
    assert result.code == 2 and "max_json_depth" in result.err


def test_show_json_is_strict_json(instance_dir: Path, tmp_path: Path) -> None:
    """What is stored and printed is JSON a strict reader accepts (SQLite once printed NaN)."""
    doc = with_structural(example(), x=1e308, y=-1e-300, z=int("9" * 300), w="\U0001f600")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    request_id = docket_cli("submit", path, instance=instance_dir).out.strip()
    shown = docket_cli("show", request_id, "--json", instance=instance_dir)
    assert shown.code == 0
    parsed = parse_json(shown.out, "show --json")
    assert parsed["metadata"]["dataset_structural"]["fields"][0]["w"] == "\U0001f600"


def test_the_store_refuses_non_json_numbers_in_any_json_column(dk: Docket) -> None:
    before = counts(dk)["audit_log"]  # docket init audits the admin account it makes
    with pytest.raises(BadInput, match="not JSON"), dk.store.transaction() as conn:
        conn.execute(tables.audit_log.insert(), {"at": docket.api.now(), "actor": "t", "role": "system",
                                                 "action": "test", "origin": "test",
                                                 "detail": {"x": float("nan")}})
    assert counts(dk)["audit_log"] == before


def test_memory_error_is_a_refusal_not_a_traceback(instance_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*_args: Any, **_kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(Docket, "submit", no_memory)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(example()), encoding="utf-8")
    result = docket_cli("submit", path, instance=instance_dir)
    assert result.code == 2
    assert result.err.startswith("docket: not enough memory") and "Traceback" not in result.err


# -- one corpus, both stores ----------------------------------------------------------------------


def corpus() -> dict[str, str]:
    """Valid and invalid request texts; both stores must give each the same outcome."""
    doc = example()
    valid = {
        "example": json.dumps(doc),
        "big but finite numbers": json.dumps(with_structural(doc, x=1.7976931348623157e308, y=5e-324)),
        "300-digit integer": json.dumps(with_structural(doc, x=int("9" * 300))),
        "64-bit edges": json.dumps(with_structural(doc, x=2**63 - 1, y=-(2**63), z=2**64)),
        "nested to the limit": json.dumps(with_structural(doc, x=1)).replace('"x": 1', '"x": ' + nested(55)),
        "emoji and accents": json.dumps(_put(doc, ("metadata", "project_descriptive", "title"), "Sol 🌍 été")),
        "escaped backslash-u0000 text": json.dumps(_put(doc, ("metadata", "project_descriptive", "title"),
                                                        "a\\u0000b")),
        "negative zero": json.dumps(with_structural(doc, x=-0.0)),
    }
    invalid = dict(BAD_TEXTS)
    invalid.update({f"wrong type: {name}": json.dumps(_put(doc, where, value))
                    for name, (where, value) in WRONG_TYPES.items()})
    invalid.update({
        "NUL in the title": json.dumps(_put(doc, ("metadata", "project_descriptive", "title"), "a\x00b")),
        "NUL in a key": json.dumps(with_structural(doc, **{"k\x00": 1})),
        "lone surrogate in a key": json.dumps(with_structural(doc, **{"\udfff": 1})),
        "lone surrogate in provider name": json.dumps(_put(doc, ("provider", "name"), "\udbff")),
        "5,000-digit integer deep inside": json.dumps(with_structural(doc, x=1)).replace('"x": 1', '"x": ' + "1" * 5000),
        "301-digit integer": json.dumps(with_structural(doc, x=1)).replace('"x": 1', '"x": ' + "1" * 301),
        "nested 100,000 deep": json.dumps(with_structural(doc, x=1)).replace('"x": 1', '"x": ' + nested(100_000)),
        "size above 2^63": json.dumps(_put(doc, ("files", 0, "size"), 2**63)),
        "not an object": "[1, 2, 3]",
        "empty file": "",
    })
    return {**{f"valid: {k}": v for k, v in valid.items()}, **{f"invalid: {k}": v for k, v in invalid.items()}}


def _outcomes(instance: Path, folder: Path) -> dict[str, tuple[int, bool]]:
    folder.mkdir()
    out = {}
    for i, (name, text) in enumerate(corpus().items()):
        path = folder / f"{i}.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with docket.open(instance) as d:
            before = counts(d)
        result = docket_cli("submit", path, "--json", instance=instance)
        with docket.open(instance) as d:
            stored = counts(d) != before
        assert result.code != 70, (name, result.err)
        if result.code == 0:
            shown = docket_cli("show", result.json()["id"], "--json", instance=instance)
            parse_json(shown.out, f"show --json of {name}")  # strict JSON, whatever the store
        out[name] = (result.code, stored)
    return out


def test_sqlite_and_postgresql_accept_and_refuse_the_same_documents(tmp_path: Path, pg_schema: str) -> None:
    common = {"project": "ocean", "base_uri": "https://data.example.org/ocean/"}
    docket.init(tmp_path / "lite", **common).close()
    docket.init(tmp_path / "pg", store_url=PG_URL, store_schema=pg_schema, **common).close()
    lite = _outcomes(tmp_path / "lite", tmp_path / "lite-inputs")
    pg = _outcomes(tmp_path / "pg", tmp_path / "pg-inputs")
    assert lite == pg
    for name, (code, stored) in lite.items():
        if name.startswith("valid: "):
            assert (code, stored) == (0, True), name
        else:
            assert (code, stored) == (2, False), name


def test_corpus_on_sqlite_alone(tmp_path: Path) -> None:
    """The same corpus where no PostgreSQL server is at hand: the outcomes it must give."""
    if PG_URL:
        pytest.skip("the two-store test runs it")
    docket.init(tmp_path / "lite", project="ocean").close()
    for name, (code, stored) in _outcomes(tmp_path / "lite", tmp_path / "in").items():
        assert (code, stored) == ((0, True) if name.startswith("valid: ") else (2, False)), name



# -- the other inputs of a request's life: ids, comments, names, limits -------------------------


def test_references_comments_and_limits_are_refusals_on_both_stores(instance_dir: Path, tmp_path: Path) -> None:
    """Each ended in exit 70 on SQLite (and a different "store error" on PostgreSQL) before."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(example()), encoding="utf-8")
    request_id = docket_cli("submit", good, instance=instance_dir).out.strip()
    with docket.open(instance_dir) as d:
        before = counts(d)
    cases = [
        (["review", request_id, "rejected", "-m", "bad \udcff bytes"], "the comment contains a lone surrogate"),
        (["review", request_id, "rejected", "-m", "nul \x00"], "the comment contains a NUL"),
        (["show", "x\udcff"], "no request"),
        (["history", "ocean-\x00"], "no request"),
        (["show", f"{request_id}.99999999999999999999999"], "has no revision"),
        (["list", "--limit", "99999999999999999999999"], "the limit must be a whole number"),
        (["list", "--limit", "-1"], "the limit must be a whole number"),
        (["submit", tmp_path / "missing-\udcff.json"], "does not exist"),
        (["submit", tmp_path / "missing-\udcff.json", "--json"], ""),
    ]
    for args, words in cases:
        result = docket_cli(*args, instance=instance_dir)
        assert result.code == 2, (args, result.code, result.err)
        assert words in result.err + result.out, (args, result.err)
    with docket.open(instance_dir) as d:
        assert counts(d) == before
        # who acts is an account now: its name and e-mail are held to the same rule
        with pytest.raises(BadInput, match="the account name contains a NUL"):
            d.add_user("Eva\x00", "reviewer")
        with pytest.raises(BadInput, match="the e-mail address contains a lone surrogate"):
            d.add_user("Eva", "reviewer", email="eva\udcff@example.org")
        assert counts(d) == before
        with pytest.raises(BadInput, match="has no revision"):
            d.get(request_id, revision=2**40)


@pytest.mark.parametrize("encoding", ["utf-16", "x\udcff"])
def test_check_with_an_encoding_that_cannot_read_the_file(tmp_path: Path, encoding: str) -> None:
    """UTF-16 without a BOM raised a bare UnicodeError, a name that is not text a
    UnicodeEncodeError: both exit 70 before."""
    csv = tmp_path / "data.csv"
    csv.write_bytes(b"a,b\n1,2\n")
    result = docket_cli("check", csv, "--encoding", encoding)
    assert result.code in (0, 1), result.err


@pytest.mark.parametrize("schema, words", [
    ({"fields": [{"name": "a", "constraints": float("nan")}]}, "not JSON docket accepts"),
    ({"fields": [{"name": "a", "constraints": 5}]}, "$.fields[0].constraints: must be an object"),
    ({"fields": [{"name": "a", "constraints": {"maxLength": "x"}}]}, "$.fields[0].constraints.maxLength"),
    ({"fields": [{"name": "a", "trueValues": "yes"}]}, "$.fields[0].trueValues: must be a list of texts"),
    ({"fields": [{"name": "a"}], "primaryKey": 5}, "$.primaryKey"),
    ({"fields": [{"name": "a"}], "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
     "nested more than 64 levels"),
], ids=["nan", "constraints-number", "maxLength-text", "trueValues-text", "primaryKey-number", "deep"])
def test_check_refuses_table_schemas_of_the_wrong_shape(tmp_path: Path, schema: dict, words: str) -> None:
    """A Table Schema's values reached the checks unchecked: ``constraints: NaN`` was exit 70."""
    csv = tmp_path / "data.csv"
    csv.write_bytes(b"a\n1\n")
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    result = docket_cli("check", csv, "--schema", path)
    assert result.code == 2, result.err
    assert words in result.err, result.err
