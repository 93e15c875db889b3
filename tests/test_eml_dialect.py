"""An EML record's ``textFormat`` (record delimiter, field delimiter, header lines) becomes each
file's Table Dialect on ``docket import-metadata``; QA reads the file by it, and
``congruence.delimiters`` compares the declared delimiters with the file that arrived (issue 13,
part 7).

One EML record with four ``dataTable``s, the EMLassemblyline layout (the data beside the EML, in
the inbox), goes through the command line: ``import-metadata``, ``review``, ``transfer``, ``qa``.
Each table's declared size and MD5 are its file's, so only the delimiters can differ:

==========================  =================  ==================  ===========================
file                        declared record    what arrived        declared field delimiter
==========================  =================  ==================  ===========================
crlf_declared_lf.csv        ``\\n``             CRLF                ``,`` (comma, as arrived)
lf_declared_crlf.csv        ``#x0D#x0A``       LF                  ``,``
semicolon_crlf.csv          ``\\r\\n``           CRLF                ``;`` (as arrived)
comma_declared_semicolon    ``\\n``             LF                  ``;`` (commas arrived)
units_line.csv              ``LF``             LF                  ``,``, and 2 header lines
==========================  =================  ==================  ===========================
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import docket
from tests.clirun import docket_cli
from tests.people import as_role

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "metadata" / "eml-stream-chemistry"
NS = "https://eml.ecoinformatics.org/eml-2.2.0"
ROWS = [["WS1", "2021-05-03", "8.4", "0.41", "low"], ["WS1", "2021-06-07", "11.9", "0.37", "low"],
        ["WS2", "2021-05-03", "7.9", "-9999", "high"], ["WS2", "2021-06-07", "12.3", "0.52", "medium"],
        ["WS3", "2021-06-07", "10.1", "0.29", "medium"]]
HEADER = ["site", "sample_date", "temp_c", "nitrate_mgl", "flow_class"]

#: file -> (field delimiter written, line end written, declared recordDelimiter, declared fieldDelimiter)
TABLES = {
    "crlf_declared_lf.csv": (",", "\r\n", "\\n", ","),
    "lf_declared_crlf.csv": (",", "\n", "#x0D#x0A", ","),
    "semicolon_crlf.csv": (";", "\r\n", "\\r\\n", ";"),
    "comma_declared_semicolon.csv": (",", "\n", "\\n", ";"),
    "units_line.csv": (",", "\n", "LF", ","),  # a second header line: the units
}
UNITS = ["-", "YYYY-MM-DD", "celsius", "mg/L", "-"]


def data(delimiter: str, end: str, units: bool = False) -> bytes:
    lines = [HEADER, UNITS, *ROWS] if units else [HEADER, *ROWS]
    return "".join(delimiter.join(r) + end for r in lines).encode("utf-8")


def eml_with_tables(folder: Path) -> Path:
    """The example EML with its one dataTable replaced by the four of TABLES, each file written
    beside it and declared with its true size and MD5."""
    tree = etree.parse(str(EXAMPLE / "eml.xml"))
    dataset = tree.getroot().find("dataset")
    template = dataset.find("dataTable")
    dataset.remove(template)
    for name, (delimiter, end, record, field) in TABLES.items():
        body = data(delimiter, end, units=name == "units_line.csv")
        (folder / name).write_bytes(body)
        table = copy.deepcopy(template)
        table.find("entityName").text = name.removesuffix(".csv")
        physical = table.find("physical")
        physical.find("objectName").text = name
        physical.find("size").text = str(len(body))
        physical.find("authentication").text = hashlib.md5(body, usedforsecurity=False).hexdigest()
        text = physical.find("dataFormat/textFormat")
        text.find("recordDelimiter").text = record
        text.find("simpleDelimited/fieldDelimiter").text = field
        if name == "units_line.csv":
            text.find("numHeaderLines").text = "2"
        dataset.append(table)
    path = folder / "eml.xml"
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Import, approve, transfer and QA the record once; the tests read what happened."""
    inst = tmp_path_factory.mktemp("eml-dialect") / "inst"
    docket.init(inst, project="ocean").close()
    folder = inst / "inbox" / "hbr"
    folder.mkdir(parents=True)
    eml = eml_with_tables(folder)
    imported = docket_cli("import-metadata", eml, "--json", instance=inst)
    assert imported.code == 0, imported.err + imported.out
    (entry,) = imported.json()["files"]
    request_id = entry["id"]
    with docket.open(inst) as d:
        draft = d.get(request_id)
        d.review(request_id, "submitted")
        as_role(d, "reviewer", "Eva").review(request_id, "approved")
        assert d.transfer(request_id)["outcome"] == "done"
    qa = docket_cli("qa", request_id, "--json", instance=inst)
    report = json.loads(Path(qa.json()["report"]).read_text(encoding="utf-8"))
    return {"entry": entry, "draft": draft, "qa": qa, "report": report}


def checks(report: dict[str, Any], check: str) -> dict[str, dict[str, Any]]:
    return {c["file"]: c for c in report["checks"] if c["id"] == check}


def test_each_text_format_becomes_its_file_s_dialect(run):
    entries = {f["name"]: f for f in run["draft"]["files"]}
    assert {n: e["dialect"] for n, e in entries.items()} == {
        "crlf_declared_lf.csv": {"lineTerminator": "\n", "delimiter": ","},
        "lf_declared_crlf.csv": {"lineTerminator": "\r\n", "delimiter": ","},
        "semicolon_crlf.csv": {"lineTerminator": "\r\n", "delimiter": ";"},
        "comma_declared_semicolon.csv": {"lineTerminator": "\n", "delimiter": ";"},
        "units_line.csv": {"lineTerminator": "\n", "delimiter": ",", "commentRows": [2]},
    }
    assert all(e["rows"] == 5 for e in entries.values())
    # four tables: a Data Package, one resource (with its own schema) per file
    structural = run["draft"]["metadata"]["dataset_structural"]
    assert [(r["name"], r["path"]) for r in structural["resources"]] == [(n, n) for n in TABLES]
    assert all([f["name"] for f in r["schema"]["fields"]] == HEADER for r in structural["resources"])
    # what maps is no longer listed as unmapped: no delimiter, no header count, no other table
    assert not [x for x in run["entry"]["unmapped"]
                if x.endswith(("recordDelimiter", "fieldDelimiter", "numHeaderLines", "numberOfRecords"))
                or "attributeName" in x]


def test_declared_record_and_field_delimiters_are_compared_with_what_arrived(run):
    qa, report = run["qa"], run["report"]
    assert qa.code == 1 and qa.json()["outcome"] == "rejected", qa.err
    got = checks(report, "congruence.delimiters")
    assert {n: c["status"] for n, c in got.items()} == {
        "crlf_declared_lf.csv": "error", "lf_declared_crlf.csv": "error",
        "semicolon_crlf.csv": "valid", "comma_declared_semicolon.csv": "error", "units_line.csv": "valid"}
    assert got["crlf_declared_lf.csv"]["found"] == (
        "lines end with 6 CRLF (\\r\\n), not the declared LF (\\n); fields separated by ','")
    assert got["lf_declared_crlf.csv"]["found"] == (
        "lines end with 6 LF (\\n), not the declared CRLF (\\r\\n); fields separated by ','")
    assert got["lf_declared_crlf.csv"]["locations"][0]["note"] == (
        "declared record delimiter CRLF (\\r\\n); lines end with 6 LF (\\n)")
    assert got["semicolon_crlf.csv"]["found"] == (
        "lines end with CRLF (\\r\\n); fields separated by ';', as declared")
    wrong = got["comma_declared_semicolon.csv"]
    assert wrong["found"] == "lines end with LF (\\n); fields are separated by ',', not the declared ';'"
    assert [loc["note"] for loc in wrong["locations"]] == [
        "declared field delimiter ';'; the header is separated by ','"]
    assert all(c["suggestion"] for c in got.values() if c["status"] == "error")
    # one report per difference: the terminators are congruence.delimiters', not table.line-terminator's
    assert {c["status"] for c in checks(report, "table.line-terminator").values()} == {"not-checked"}
    # only the delimiters differ: sizes, checksums and record counts are as declared
    for check in ("congruence.size", "congruence.md5"):
        assert [c["status"] for c in report["checks"] if c["id"] == check] == ["valid"], check
    assert {n: c["status"] for n, c in checks(report, "congruence.rows").items()} == {
        "crlf_declared_lf.csv": "valid", "lf_declared_crlf.csv": "valid", "semicolon_crlf.csv": "valid",
        "comma_declared_semicolon.csv": "valid", "units_line.csv": "valid"}


def test_qa_reads_each_file_with_its_declared_dialect(run):
    files = {f["name"]: f for f in run["report"]["files"]}
    assert files["semicolon_crlf.csv"]["delimiter"] == ";"
    assert files["semicolon_crlf.csv"]["header"] == HEADER
    header = checks(run["report"], "table.header")
    assert header["semicolon_crlf.csv"]["status"] == "valid"
    assert header["crlf_declared_lf.csv"]["status"] == "valid"
    # read with the declared ';', the comma file is one column: the header check says so too
    assert files["comma_declared_semicolon.csv"]["header"] == [",".join(HEADER)]
    assert header["comma_declared_semicolon.csv"]["status"] == "error"
    # two header lines: the first names the columns, the second (units) is not data
    assert files["units_line.csv"]["header"] == HEADER and files["units_line.csv"]["rows"] == 5
    assert header["units_line.csv"]["status"] == "valid"
    assert checks(run["report"], "table.type")["units_line.csv"]["status"] == "valid"


def test_a_table_without_attributes_is_held_to_no_other_table_s_columns(tmp_path):
    """Two tables, only the first with an attributeList: a package with one resource, so the
    second file gets no Table Schema (not the first table's, as a lone Table Schema would give)."""
    inst = tmp_path / "inst"
    docket.init(inst, project="ocean").close()
    folder = inst / "inbox" / "two"
    folder.mkdir(parents=True)
    tree = etree.parse(str(eml_with_tables(folder)))
    dataset = tree.getroot().find("dataset")
    tables = dataset.findall("dataTable")
    for extra in tables[2:]:
        dataset.remove(extra)
    tables[1].remove(tables[1].find("attributeList"))
    tree.write(str(folder / "eml.xml"), xml_declaration=True, encoding="UTF-8")
    imported = docket_cli("import-metadata", folder / "eml.xml", "--json", instance=inst)
    assert imported.code == 0, imported.err + imported.out
    with docket.open(inst) as d:
        draft = d.get(imported.json()["files"][0]["id"])
    structural = draft["metadata"]["dataset_structural"]
    assert [(r["name"], r["path"]) for r in structural["resources"]] == [
        ("crlf_declared_lf.csv", "crlf_declared_lf.csv")]
    assert [f["name"] for f in draft["files"]] == ["crlf_declared_lf.csv", "lf_declared_crlf.csv"]
