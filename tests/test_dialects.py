"""CSV dialects (Frictionless Table Dialect) through ``docket check --dialect``.

Each test writes a small CSV (and dialect) in tmp_path and runs the real command line. The cases
follow the Table Dialect spec's properties: delimiter, lineTerminator, quoteChar, doubleQuote,
escapeChar, skipInitialSpace, header, headerRows, headerJoin, commentChar, commentRows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirun import docket_cli


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


def _dialect(tmp_path: Path, desc: object) -> Path:
    return _write(tmp_path, "dialect.json", json.dumps(desc))


def _schema(tmp_path: Path, fields: list[dict]) -> Path:
    return _write(tmp_path, "schema.json", json.dumps({"fields": fields}))


def check(tmp_path: Path, csv_text: str | bytes, dialect: object = None, schema: list | None = None,
          name: str = "data.csv"):
    args: list = ["check", _write(tmp_path, name, csv_text), "--json"]
    if dialect is not None:
        args += ["--dialect", _dialect(tmp_path, dialect)]
    if schema is not None:
        args += ["--schema", _schema(tmp_path, schema)]
    return docket_cli(*args)


def by_id(report: dict) -> dict[str, dict]:
    return {c["id"]: c for c in report["checks"]}


NUMBERS = [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]


def test_comment_lines_before_header_detected_not_ragged(tmp_path):
    # Undeclared: the comment used to become the header and every row "ragged".
    r = check(tmp_path, "# clean this data!\nid,name\n1,a\n2,b\n", schema=NUMBERS)
    assert r.code == 0, r.out + r.err
    rep = r.json()
    checks = by_id(rep)
    assert rep["files"][0]["header"] == ["id", "name"]
    assert rep["files"][0]["rows"] == 2
    assert checks["table.column-count"]["status"] == "valid"
    assert checks["table.header"]["status"] == "valid"
    d = checks["table.dialect"]
    assert d["status"] == "warn"
    assert '{"commentChar": "#"}' in d["found"]
    assert [loc["line"] for loc in d["locations"]] == [1]


def test_comment_char_declared_anywhere(tmp_path):
    text = "id,name\n1,a\n# a note in the middle, with, commas\n2,b\n#3,c\n"
    r = check(tmp_path, text, {"commentChar": "#"}, NUMBERS)
    assert r.code == 0, r.out
    rep = r.json()
    assert rep["files"][0]["rows"] == 2
    assert by_id(rep)["table.column-count"]["status"] == "valid"
    assert by_id(rep)["table.dialect"]["status"] == "valid"
    # Without the dialect the middle comment is a ragged row (and '#3' not an integer).
    r = check(tmp_path, text, None, NUMBERS)
    assert by_id(r.json())["table.column-count"]["status"] == "error"


def test_comment_rows_and_row_numbers_skip_them(tmp_path):
    text = "id,name\nnot a data row at all\n1,a\nx,b\n"
    r = check(tmp_path, text, {"commentRows": [2]}, NUMBERS)
    assert r.code == 1
    checks = by_id(r.json())
    assert checks["table.column-count"]["status"] == "valid"
    # Rows are data records (header = row 0); the comment row is not one: 'x' is row 2.
    assert [(loc["row"], loc["value"]) for loc in checks["table.type"]["locations"]] == [(2, "x")]


def test_header_false(tmp_path):
    r = check(tmp_path, "1,a\n2,b\nz,c\n", {"header": False}, NUMBERS)
    assert r.code == 1, r.out
    rep = r.json()
    assert rep["files"][0]["rows"] == 3
    assert rep["files"][0]["header"] == ["id", "name"]
    # The first line is data: row 1; the bad value is on row 3.
    assert [(loc["row"], loc["value"]) for loc in by_id(rep)["table.type"]["locations"]] == [(3, "z")]
    # Without a schema the columns are field1, field2 and ragged rows are numbered from 1.
    r = check(tmp_path, "1,a\n2,b,extra\n", {"header": False})
    rep = r.json()
    assert rep["files"][0]["header"] == ["field1", "field2"]
    assert [loc["row"] for loc in by_id(rep)["table.column-count"]["locations"]] == [2]


def test_header_rows_joined(tmp_path):
    text = "station,air\nid,temperature\n1,20.5\n2,21\n"
    fields = [{"name": "station id", "type": "integer"}, {"name": "air temperature", "type": "number"}]
    r = check(tmp_path, text, {"headerRows": [1, 2]}, fields)
    assert r.code == 0, r.out
    rep = r.json()
    assert rep["files"][0]["header"] == ["station id", "air temperature"]
    assert rep["files"][0]["rows"] == 2
    r = check(tmp_path, text, {"headerRows": [1, 2], "headerJoin": "_"},
              [{"name": "station_id"}, {"name": "air_temperature"}])
    assert r.json()["files"][0]["header"] == ["station_id", "air_temperature"]
    assert by_id(r.json())["table.header"]["status"] == "valid"


def test_delimiter_quote_and_escape(tmp_path):
    r = check(tmp_path, "id;name\n1;'a;b'\n2;'it''s'\n", {"delimiter": ";", "quoteChar": "'"}, NUMBERS)
    assert r.code == 0, r.out
    assert r.json()["files"][0]["delimiter"] == ";"
    assert by_id(r.json())["table.column-count"]["status"] == "valid"
    text = 'id,name\n1,"say \\"hi\\", then go"\n2,b\n'
    r = check(tmp_path, text, {"escapeChar": "\\", "doubleQuote": False}, NUMBERS)
    assert r.code == 0, r.out
    assert by_id(r.json())["table.column-count"]["status"] == "valid"


def test_skip_initial_space(tmp_path):
    text = "id, name\n1, a\n 2, b\n"
    fields = [{"name": "id", "type": "integer"}, {"name": "name", "constraints": {"pattern": "[a-z]"}}]
    r = check(tmp_path, text, {"skipInitialSpace": True}, fields)
    rep = r.json()
    assert rep["files"][0]["header"] == ["id", "name"]
    assert by_id(rep)["table.header"]["status"] == "valid"
    assert by_id(rep)["table.pattern"]["status"] == "valid"
    # Only spaces after a delimiter go: ' 2' in the first column is still not an integer.
    assert [loc["row"] for loc in by_id(rep)["table.type"]["locations"]] == [2]
    # Without it the header is 'id', ' name' and does not match.
    assert by_id(check(tmp_path, text, None, fields).json())["table.header"]["status"] == "error"


def test_line_terminator_cr(tmp_path):
    r = check(tmp_path, "# note\rid,name\r1,a\r2,b\r", {"lineTerminator": "\r", "commentChar": "#"},
              NUMBERS)
    assert r.code == 0, r.out
    assert r.json()["files"][0]["rows"] == 2


def test_comment_filter_across_blocks(tmp_path):
    # Many comment lines interleaved, more than one filter block (1 MiB) of them.
    lines = ["id,name"]
    for i in range(1, 40001):
        lines.append(f"# comment {i} " + "x" * 30)
        lines.append(f"{i},n{i}")
    lines.append("oops,z")
    r = check(tmp_path, "\n".join(lines) + "\n", {"commentChar": "#"}, NUMBERS)
    rep = r.json()
    assert rep["files"][0]["rows"] == 40001
    assert [(loc["row"], loc["value"]) for loc in by_id(rep)["table.type"]["locations"]] == [(40001, "oops")]


@pytest.mark.parametrize(
    ("desc", "key"),
    [
        ({"delimiter": 5}, "$.delimiter"),
        ({"delimiter": ";;"}, "$.delimiter"),
        ({"quoteChar": ""}, "$.quoteChar"),
        ({"header": "yes"}, "$.header"),
        ({"headerRows": [0]}, "$.headerRows[0]"),
        ({"commentRows": "1"}, "$.commentRows"),
        ({"lineTerminator": "\n\n"}, "$.lineTerminator"),
        ({"commentChar": ","}, "$.commentChar"),
        ({"header": False, "headerRows": [1]}, "$.headerRows"),
        ([1, 2], None),
    ],
)
def test_malformed_dialect_exit_2_naming_key(tmp_path, desc, key):
    r = check(tmp_path, "id,name\n1,a\n", desc)
    assert r.code == 2, (r.code, r.out, r.err)
    assert "Traceback" not in r.err
    said = r.out + r.err
    assert "Table Dialect" in said or "dialect" in said.lower()
    assert key in said if key is not None else "JSON object" in said


def test_dialect_file_not_json_or_missing(tmp_path):
    data = _write(tmp_path, "data.csv", "id\n1\n")
    bad = _write(tmp_path, "d.json", '{"delimiter": ";", "delimiter": ","}')
    r = docket_cli("check", data, "--dialect", bad)
    assert r.code == 2 and "Traceback" not in r.err
    assert "Table Dialect is not JSON" in r.out + r.err
    r = docket_cli("check", data, "--dialect", tmp_path / "nope.json")
    assert r.code == 2 and "no such Table Dialect file" in r.out + r.err


def test_hash_in_a_real_header_is_not_a_comment(tmp_path):
    r = check(tmp_path, "#,name\n1,a\n2,b\n")
    rep = r.json()
    assert rep["files"][0]["header"] == ["#", "name"]
    assert by_id(rep)["table.dialect"]["status"] == "valid"
    # A comment with as many commas as the header is still a comment when '# ' starts it.
    r = check(tmp_path, "# source: buoy 7, mooring 2\nid,name\n1,a\n")
    rep = r.json()
    assert rep["files"][0]["header"] == ["id", "name"]
    assert by_id(rep)["table.dialect"]["status"] == "warn"


def test_detected_comment_with_semicolon_file(tmp_path):
    r = check(tmp_path, "# exported 2024\n# by hand\nid;name\n1;a\n", schema=NUMBERS)
    assert r.code == 0, r.out
    rep = r.json()
    assert rep["files"][0]["delimiter"] == ";"
    assert rep["files"][0]["header"] == ["id", "name"]
    assert [loc["line"] for loc in by_id(rep)["table.dialect"]["locations"]] == [1, 2]


def test_request_file_dialect_used_and_a_bad_one_noted(tmp_path):
    from docket.checks import check_request

    data = _write(tmp_path, "obs.csv", "id|name\n1|a\n2|b\n")
    rec = {"id": "x-0001", "files": [{"name": "obs.csv", "media_type": "text/csv",
                                      "dialect": {"delimiter": "|", "header": True}}]}
    report = check_request(rec, {"obs.csv": data}).to_dict()
    assert report["files"][0]["header"] == ["id", "name"]
    assert by_id(report)["table.dialect"]["status"] == "valid"
    rec["files"][0]["dialect"] = {"delimiter": "||"}
    report = check_request(rec, {"obs.csv": data}).to_dict()
    assert any("$.delimiter" in n for n in report["notes"])


# --------------------------------------------------------------------------- lineTerminator
# Table Dialect: "lineTerminator: Specifies the character sequence which should terminate rows"
# (default "\r\n"). A declared one that the lines do not end with is a warning naming the first
# line that differs and how many do; nothing declared is not held to the default.


def test_declared_crlf_on_bare_lf_lines_is_a_warning_naming_the_first(tmp_path):
    r = check(tmp_path, "id,name\r\n1,a\r\n2,b\n3,c\n", {"lineTerminator": "\r\n"}, schema=NUMBERS)
    assert r.code == 0, r.out + r.err  # a warning: the rows are read all the same
    rep = r.json()
    lt = by_id(rep)["table.line-terminator"]
    assert (lt["status"], lt["count"]) == ("warn", 2)
    assert "2 line(s) do not end with the declared CRLF" in lt["found"]
    assert lt["found"].endswith("the first is line 3")
    assert [(loc["line"], loc["value"]) for loc in lt["locations"]] == [(3, "LF (\\n)")]
    assert rep["files"][0]["rows"] == 3


def test_declared_lf_on_crlf_lines_is_a_warning_too(tmp_path):
    r = check(tmp_path, "id,name\n1,a\r\n2,b\r\n", {"lineTerminator": "\n"}, schema=NUMBERS)
    lt = by_id(r.json())["table.line-terminator"]
    assert (lt["status"], lt["count"]) == ("warn", 2)
    assert lt["locations"][0]["line"] == 2 and "2 CRLF" in lt["found"]


@pytest.mark.parametrize(("text", "dialect", "status"), [
    ("id,name\r\n1,a\r\n", {"lineTerminator": "\r\n"}, "valid"),
    ("id,name\n1,a\n", {"lineTerminator": "\n"}, "valid"),
    ("id,name\r1,a\r", {"lineTerminator": "\r"}, "valid"),
    ("id,name\n1,a\n", {"delimiter": ","}, "not-checked"),  # nothing declared: no default held to
    ("id,name\n1,a\n", None, "not-checked"),
])
def test_line_terminator_as_declared_or_not_declared(tmp_path, text, dialect, status):
    r = check(tmp_path, text, dialect, schema=NUMBERS)
    assert r.code == 0, r.out + r.err
    assert by_id(r.json())["table.line-terminator"]["status"] == status


def test_line_terminator_first_difference_past_the_first_block(tmp_path):
    # The prepass reads 1 MiB blocks; the one bare LF is in the second, and a CRLF is split
    # between the two blocks (the counts and the line must not be thrown off by it).
    header = "id,name\r\n"
    long = "1," + "x" * ((1 << 20) - 3 - len(header)) + "\r\n"  # its \r is the block's last byte
    lines = [header, long] + ["2,abcdefghijklmnopqrstuvwxyz\r\n"] * 2_000
    lines[1_500] = "3,bare\n"  # line 1501 of the file
    text = "".join(lines)
    assert text.encode()[(1 << 20) - 1: (1 << 20) + 1] == b"\r\n"
    r = check(tmp_path, text, {"lineTerminator": "\r\n"})
    lt = by_id(r.json())["table.line-terminator"]
    assert (lt["status"], lt["count"]) == ("warn", 1), lt["found"]
    assert lt["locations"][0]["line"] == 1_501
