"""Revisions and diffs (issue 9, item 5): ``docket diff`` and every revision in ``docket history``.

The field-level diff itself (:mod:`docket.diff`) on small values, then through the Python API and
the command line on real instances with the example requests, on both stores.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from docket.diff import Change, describe, diff, diff_records, short
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role

WEATHER = EXAMPLES / "requests" / "weather-table-schema.json"
SOIL = EXAMPLES / "requests" / "soil-several-files.json"


def provider(dk):
    """The weather request's provider, with an account of her own."""
    return as_role(dk, "provider", "Chiara Rossi", email="chiara.rossi@meteo.example.it")


def reviewer(dk):
    return as_role(dk, "reviewer", "Eva Novak", email="eva@dc.example.org")


def ops(changes: list[Change]) -> list[tuple]:
    return [(c.op, c.path, c.old, c.new) for c in changes]


def editable(dk, ref: str) -> dict:
    """A revision as an editor would hand it back (what docket adds is dropped by ``revise``)."""
    return copy.deepcopy(dk.get(ref))


# ------------------------------------------------------------------------- the diff on values


def test_objects_added_removed_changed_in_document_order() -> None:
    old = {"a": 1, "b": {"x": "old", "gone": [1]}, "odd key": True}
    new = {"a": 1, "b": {"x": "new", "y": None}, "odd key": False, "c": {"d": 2}}
    assert ops(diff(old, new)) == [
        ("changed", "$.b.x", "old", "new"),
        ("removed", "$.b.gone", [1], None),
        ("added", "$.b.y", None, None),
        ("changed", '$["odd key"]', True, False),  # the paths of docket's validation errors
        ("added", "$.c", None, {"d": 2}),
    ]
    assert diff(old, copy.deepcopy(old)) == []


def test_types_count_numbers_by_value() -> None:
    assert diff({"n": 1}, {"n": 1.0}) == []
    assert ops(diff({"n": 1}, {"n": True})) == [("changed", "$.n", 1, True)]
    assert ops(diff({"n": 0}, {"n": False})) == [("changed", "$.n", 0, False)]
    assert ops(diff({"n": 1}, {"n": "1"})) == [("changed", "$.n", 1, "1")]
    assert ops(diff({"n": None}, {"n": 0})) == [("changed", "$.n", None, 0)]
    assert ops(diff({"n": {"a": 1}}, {"n": [1]})) == [("changed", "$.n", {"a": 1}, [1])]


def test_other_lists_compare_by_position() -> None:
    old = {"keywords": ["soil", "pH", "carbon"]}
    new = {"keywords": ["topsoil", "soil", "pH"]}
    assert ops(diff(old, new)) == [
        ("changed", "$.keywords[0]", "soil", "topsoil"),
        ("changed", "$.keywords[1]", "pH", "soil"),
        ("changed", "$.keywords[2]", "carbon", "pH"),
    ]
    assert ops(diff({"k": [1]}, {"k": [1, 2, 3]})) == [("added", "$.k[1]", None, 2), ("added", "$.k[2]", None, 3)]
    assert ops(diff({"k": [1, 2]}, {"k": []})) == [("removed", "$.k[0]", 1, None), ("removed", "$.k[1]", 2, None)]


def _files(*names: str, **sizes: int) -> dict:
    return {"files": [{"name": n, "size": sizes.get(n.split(".")[0], 1)} for n in names]}


def test_files_and_fields_are_matched_by_name() -> None:
    # an inserted file is one "added", not a change to every file after it
    inserted = diff(_files("a.csv", "b.csv", "c.csv"), _files("a.csv", "new.csv", "b.csv", "c.csv"))
    assert ops(inserted) == [("added", "$.files[1]", None, {"name": "new.csv", "size": 1})]
    assert inserted[0].items == ("new.csv",)
    # a removed one: its place in the old revision
    assert ops(diff(_files("a.csv", "b.csv", "c.csv"), _files("a.csv", "c.csv"))) == [
        ("removed", "$.files[1]", {"name": "b.csv", "size": 1}, None)]
    # a change inside a file: the path is its place in the new revision, the name says which
    changed = diff(_files("a.csv", "b.csv"), _files("new.csv", "a.csv", "b.csv", b=7))
    assert ops(changed) == [("added", "$.files[0]", None, {"name": "new.csv", "size": 1}),
                            ("changed", "$.files[2].size", 1, 7)]
    assert changed[1].items == ("b.csv",)
    # Table Schema fields, anywhere in the document
    old = {"metadata": {"dataset_structural": {"fields": [{"name": "x"}, {"name": "y", "type": "string"}]}}}
    new = {"metadata": {"dataset_structural": {"fields": [{"name": "w"}, {"name": "x"},
                                                          {"name": "y", "type": "integer"}]}}}
    assert ops(diff(old, new)) == [
        ("added", "$.metadata.dataset_structural.fields[0]", None, {"name": "w"}),
        ("changed", "$.metadata.dataset_structural.fields[2].type", "string", "integer"),
    ]
    # a renamed file is the old name removed and the new one added
    assert [c.op for c in diff(_files("a.csv"), _files("b.csv"))] == ["added", "removed"]


def test_reordered_items_are_moved_and_only_those() -> None:
    swapped = diff(_files("a.csv", "b.csv", "c.csv"), _files("a.csv", "c.csv", "b.csv"))
    assert len(swapped) == 1 and swapped[0].op == "moved"
    assert swapped[0].old in ("$.files[1]", "$.files[2]") and swapped[0].new != swapped[0].old
    reversed_ = diff(_files("a", "b", "c", "d"), _files("d", "c", "b", "a"))
    assert sorted(c.op for c in reversed_) == ["moved"] * 3  # one of them stays put
    assert ops(diff(_files("a", "b", "c", "d", "e"), _files("a", "c", "d", "e", "b"))) == [
        ("moved", "$.files[4]", "$.files[1]", "$.files[4]")]


def test_lists_without_unique_names_compare_by_position() -> None:
    same_name = {"files": [{"name": "a"}, {"name": "a", "size": 2}]}
    assert ops(diff(same_name, {"files": [{"name": "a", "size": 2}]})) == [
        ("added", "$.files[0].size", None, 2), ("removed", "$.files[1]", {"name": "a", "size": 2}, None)]
    unnamed = {"fields": [{"title": "t"}]}
    assert ops(diff(unnamed, {"fields": [{"title": "u"}]})) == [("changed", "$.fields[0].title", "t", "u")]
    # a list named otherwise whose items have names (instruments) is positional
    assert ops(diff({"instruments": [{"name": "a"}]}, {"instruments": [{"name": "b"}, {"name": "a"}]})) == [
        ("changed", "$.instruments[0].name", "a", "b"), ("added", "$.instruments[1]", None, {"name": "a"})]


def test_audit_and_workflow_fields_are_not_content() -> None:
    old = {"id": "x-0001", "revision": 1, "review_state": "approved", "steps": {"qa": {"status": "open"}},
           "measured": {"a": {}}, "created_by": "a", "created_date": "2026-01-01T00:00:00+00:00",
           "last_modified_by": "a", "last_modified_date": "2026-01-01T00:00:00+00:00",
           "schema": {"id": "s", "version": "1.0"}, "metadata": {"t": 1}}
    new = {**old, "id": "y-0002", "revision": 3, "review_state": "draft", "steps": {}, "measured": {},
           "created_by": "b", "created_date": "2026-02-01T00:00:00+00:00", "last_modified_by": "c",
           "last_modified_date": "2026-03-01T00:00:00+00:00"}
    assert diff_records(old, new) == []
    assert ops(diff_records(old, {**new, "schema": {"id": "s", "version": "1.1"}})) == [
        ("changed", "$.schema.version", "1.0", "1.1")]


def test_text_lines_are_short() -> None:
    assert short("x" * 200) == json.dumps("x" * 200)[:57] + "..."
    assert len(short({"a": list(range(100))}, 40)) == 40
    assert short("a\nb") == '"a\\nb"'  # one line, whatever the value holds
    line = describe(Change("changed", "$.files[2].size", 2835, 2836, ("soil_samples.csv",)))
    assert line == "changed  $.files[2].size (soil_samples.csv)  2835 -> 2836"
    assert describe(Change("moved", "$.files[0]", "$.files[2]", "$.files[0]")) == "moved    $.files[0]  from $.files[2]"


# ------------------------------------------------------------------------- on an instance


@pytest.fixture
def weather(dk) -> str:
    """The weather request, then revision 2: a column inserted in the middle of its Table Schema,
    another column's unit changed, a keyword added, the grant given, a file added."""
    request_id = provider(dk).submit(WEATHER)["id"]
    doc = editable(dk, request_id)
    fields = doc["metadata"]["dataset_structural"]["fields"]
    fields.insert(3, {"name": "station_height_m", "type": "integer", "unit": "m"})
    fields[5]["unit"] = "K"  # air_temp_c, now after the inserted column
    doc["metadata"]["project_descriptive"]["keywords"].append("convection")
    doc["metadata"]["project_descriptive"]["grant_id"] = "G-7"
    doc["files"].append({**doc["files"][0], "name": "stations.csv", "size": 120})
    provider(dk).revise(request_id, doc)
    return request_id


def weather_changes(location: str) -> list[dict]:
    return [
        {"op": "added", "path": "$.metadata.project_descriptive.keywords[4]", "old": None, "new": "convection"},
        {"op": "added", "path": "$.metadata.project_descriptive.grant_id", "old": None, "new": "G-7"},
        {"op": "added", "path": "$.metadata.dataset_structural.fields[3]", "old": None,
         "new": {"name": "station_height_m", "type": "integer", "unit": "m"}},
        {"op": "changed", "path": "$.metadata.dataset_structural.fields[5].unit", "old": "degC", "new": "K"},
        {"op": "added", "path": "$.files[1]", "old": None,
         "new": {"name": "stations.csv", "location": location, "size": 120,
                 "md5": "241ed45ec14dffa31356205adac77f98",
                 "sha256": "cfac294c49e0c8f433841bc59293b09fa4905e3b79bcc2b87e54b01858d35e95",
                 "media_type": "text/csv", "encoding": "utf-8"}},
    ]


def test_api_diff_of_a_revision(dk, weather: str) -> None:
    location = dk.get(weather)["files"][0]["location"]
    expected = {"from": f"{weather}.1", "to": f"{weather}.2", "changes": weather_changes(location)}
    assert dk.diff(weather) == expected  # the current revision against the one before
    assert dk.diff(f"{weather}.2") == expected
    assert dk.diff(f"{weather}.1", f"{weather}.2") == expected
    assert [list(c) for c in expected["changes"]] == [["op", "path", "old", "new"]] * 5  # stable keys
    back = dk.diff(f"{weather}.2", weather + ".1")
    assert back["from"] == f"{weather}.2"
    assert sorted((c["op"], c["path"]) for c in back["changes"]) == sorted([
        ("removed", "$.metadata.project_descriptive.keywords[4]"),
        ("removed", "$.metadata.project_descriptive.grant_id"),
        ("removed", "$.metadata.dataset_structural.fields[3]"),
        ("changed", "$.metadata.dataset_structural.fields[4].unit"),
        ("removed", "$.files[1]")])
    assert dk.diff(f"{weather}.1", f"{weather}.1")["changes"] == []


def test_review_states_steps_and_audit_fields_are_left_out(dk, weather: str) -> None:
    provider(dk).review(weather, "submitted")
    reviewer(dk).review(weather, "approved")
    dk.set_step(weather, "transfer", "in-progress")
    # a minor edit that changes nothing: a new revision, later, by someone else, still approved
    as_role(dk, "data-manager", "Mo").revise(weather, editable(dk, weather), minor=True)
    current = dk.get(weather)
    assert current["revision"] == 3 and current["review_state"] == "approved"
    assert current["last_modified_by"] != dk.get(weather, 2)["last_modified_by"]
    assert dk.diff(weather) == {"from": f"{weather}.2", "to": f"{weather}.3", "changes": []}


def test_two_different_requests_may_be_compared(dk, instance_dir: Path, weather: str) -> None:
    soil = dk.submit(SOIL)["id"]
    result = dk.diff(f"{weather}.1", soil)
    paths = {c["path"]: c for c in result["changes"]}
    assert result["from"] == f"{weather}.1" and result["to"] == f"{soil}.1"
    assert paths["$.project"] == {"op": "changed", "path": "$.project", "old": "alpine", "new": "soil"}
    assert "$.id" not in paths and "$.created_by" not in paths
    # one file each, of different names: matched by name, so one removed and one added
    assert [(c["op"], c["path"]) for c in result["changes"] if c["path"].startswith("$.files")][:2] == [
        ("added", "$.files[0]"), ("added", "$.files[1]")]
    text = docket_cli("diff", f"{weather}.1", soil, instance=instance_dir)
    assert text.code == 0 and "(two different requests)" in text.out.splitlines()[0]


def test_cli_diff_text_and_json(dk, instance_dir: Path, weather: str) -> None:
    text = docket_cli("diff", weather, instance=instance_dir)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == f"{weather}.1 -> {weather}.2: 5 changes"
    assert lines[1:5] == [
        '  added    $.metadata.project_descriptive.keywords[4]  "convection"',
        '  added    $.metadata.project_descriptive.grant_id  "G-7"',
        '  added    $.metadata.dataset_structural.fields[3] (station_height_m)  '
        '{"name": "station_height_m", "type": "integer", "unit": "m"}',
        '  changed  $.metadata.dataset_structural.fields[5].unit (air_temp_c)  "degC" -> "K"',
    ]
    assert lines[5].startswith('  added    $.files[1] (stations.csv)  {"name": "stations.csv", ') and \
        lines[5].endswith("...") and len(lines[5]) < 120  # long values shortened
    as_json = docket_cli("diff", f"{weather}.1", f"{weather}.2", "--json", instance=instance_dir)
    assert as_json.code == 0 and as_json.json() == dk.diff(weather)
    same = docket_cli("diff", f"{weather}.2", weather, instance=instance_dir)
    assert same.code == 0 and same.out == f"{weather}.2 -> {weather}.2: no changes\n"


@pytest.mark.parametrize("args, message", [
    (["{id}.9"], "has no revision 9 (it has 1 to 2)"),
    (["{id}.1", "{id}.3"], "has no revision 3"),
    (["{id}.0"], "has no revision 0"),
    (["{id}.99999999999"], "has no revision 99999999999"),
    (["ocean-0042", "{id}.1"], "no request 'ocean-0042'"),
    (["{id}.1", "{id}.x"], "no request '{id}.x'"),
    ([""], "no request ''"),
    (["{id}.1"], "{id}.1 is the first revision of {id}"),
])
def test_bad_refs_exit_2_naming_the_ref(dk, instance_dir: Path, weather: str, args: list[str], message: str) -> None:
    for as_json in ((), ("--json",)):
        result = docket_cli("diff", *[a.format(id=weather) for a in args], *as_json, instance=instance_dir)
        assert result.code == 2, (args, result.err)
        text = result.err if not as_json else result.json()["message"]
        assert message.format(id=weather) in text, text
        assert "Traceback" not in result.err


def test_the_first_revision_alone_has_nothing_to_compare_with(dk, instance_dir: Path) -> None:
    request_id = dk.submit(SOIL)["id"]
    result = docket_cli("diff", request_id, instance=instance_dir)
    assert result.code == 2 and "first revision" in result.err and "docket diff ID.1 ID.2" in result.err


# ------------------------------------------------------------------------- history


def test_history_lists_every_revision_in_time_order(dk, instance_dir: Path, weather: str) -> None:
    provider(dk).revise(weather, editable(dk, weather))  # draft to draft: no state change
    provider(dk).review(weather, "submitted")
    reviewer(dk).review(weather, "approved")
    doc = editable(dk, weather)
    doc["metadata"]["project_descriptive"]["keywords"].append("föhn")
    as_role(dk, "data-manager", "Mo", email="mo@dc.example.org").revise(weather, doc, minor=True)
    assert dk.get(weather)["review_state"] == "approved"  # a minor edit keeps the approval

    history = dk.history(weather)
    assert [(h["kind"], h["revision"], h["from"], h["to"]) for h in history] == [
        ("revision", 1, None, f"{weather}.1"),
        ("review", 1, "draft", "submitted"),
        ("step", 1, "open", "closed"),
        ("revision", 2, f"{weather}.1", f"{weather}.2"),
        ("review", 2, "submitted", "draft"),
        ("revision", 3, f"{weather}.2", f"{weather}.3"),  # no state change: still listed
        ("review", 3, "draft", "submitted"),
        ("review", 3, "submitted", "approved"),
        ("step", 3, "open", "closed"),
        ("revision", 4, f"{weather}.3", f"{weather}.4"),  # the minor edit of the approved record
    ]
    revisions = [h for h in history if h["kind"] == "revision"]
    assert [(h["actor"], h["role"], h["minor"]) for h in revisions] == [
        ("chiara.rossi@meteo.example.it", "provider", False),  # submitted as the request's provider
        ("chiara.rossi@meteo.example.it", "provider", False),
        ("chiara.rossi@meteo.example.it", "provider", False),
        ("mo@dc.example.org", "data-manager", True),
    ]
    times = [h["at"] for h in history]
    assert times == sorted(times)
    # each revision's row is its own write: its time is the revision's
    assert all(h["outcome"] is None and h["comment"] is None for h in revisions)

    as_json = docket_cli("history", weather, "--json", instance=instance_dir)
    assert as_json.code == 0 and as_json.json() == history
    text = docket_cli("history", weather, instance=instance_dir).out.splitlines()
    assert len(text) == len(history)
    assert f"rev 4  revision         {weather}.3 -> {weather}.4" in text[-1]
    assert text[-1].endswith("mo@dc.example.org [data-manager]  (minor edit)")
    assert f"- -> {weather}.1" in text[0] and "[provider]" in text[0]

    # what history lists, diff compares
    assert dk.diff(revisions[-1]["from"], revisions[-1]["to"])["changes"] == [
        {"op": "added", "path": "$.metadata.project_descriptive.keywords[5]", "old": None, "new": "föhn"}]
    assert dk.diff(revisions[2]["to"])["changes"] == []


def test_diff_help_loads_nothing_heavy() -> None:
    from tests.test_startup import HEAVY, loaded_by_main

    result, modules = loaded_by_main(["diff", "--help"])
    assert result["code"] == 0 and "ID.REV" in result["out"]
    assert modules & HEAVY == set()
