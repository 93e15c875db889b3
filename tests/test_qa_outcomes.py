"""What a QA run's outcome says, and ``docket list`` showing and filtering steps (issue 11).

A run that completed and found errors in the data ends ``closed/rejected`` (exit 1); a run that
could not complete (the notebook raised, a stored file gone) ends ``closed/failed`` with the
reason in history and PROV (exit 5). Neither lets a request be published; QA runs again from
either. Real instances, real example files, the real notebook through papermill and Dask.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.api import Docket
from docket.cli.commands.qa import batch_text
from docket.errors import BadInput, Refused
from tests.clirun import docket_cli
from tests.people import as_role
from tests.test_qa import (
    DATA,
    REQUESTS,
    crash_instance,
    init,
    literal,
    qa_bundle,
    ready,
    reviewer,
    seeded_request,
)

GOOD_TITLE = "Hourly weather observations at two alpine stations"


def step(d: Docket, request_id: str, name: str) -> tuple[str, str | None]:
    state = d.get(request_id)["steps"][name]
    return state["status"], state.get("outcome")


def publish(d: Docket, request_id: str) -> None:
    as_role(d, "data-manager", "Maria").set_step(request_id, "publication", "in-progress")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One instance with a request in each state, QA run on three of them as a Dask batch:
    ``clean`` (no errors), ``seeded`` (examples/data files with seeded errors), ``gone`` (a clean
    request whose stored file was deleted after its transfer), ``broken`` (its transfer failed),
    ``waiting`` (transferred, QA not run) and ``submitted`` (not approved)."""
    folder = tmp_path_factory.mktemp("outcomes") / "inst"
    init(folder)
    with docket.open(folder) as d:
        ids = {
            "submitted": d.submit(REQUESTS / "ctd-multilingual.json")["id"],
            "clean": ready(d, REQUESTS / "weather-table-schema.json"),
            "seeded": ready(d, seeded_request(["type_errors.csv", "out_of_range.csv"],
                                              "observations.schema.json", title=GOOD_TITLE)),
            "gone": ready(d, REQUESTS / "weather-table-schema.json"),
            "waiting": ready(d, REQUESTS / "weather-table-schema.json"),
        }
        broken = seeded_request(["clean.csv"], "observations.schema.json", title=GOOD_TITLE)
        broken["files"][0]["location"] = str(DATA / "no-such-file.csv")
        broken["files"][0].pop("size", None)
        ids["broken"] = d.submit(broken)["id"]
        reviewer(d).review(ids["broken"], "approved")
        assert d.transfer(ids["broken"])["outcome"] == "failed"
        stored = [f for f in d.files(ids["gone"]) if f["status"] == "stored"]
        kept = folder.parent / "kept"
        kept.mkdir()
        for f in stored:  # lost from files/ after the transfer: kept aside to put back later
            shutil.move(f["location"], kept / f["name"])
    batch = docket_cli("qa", ids["clean"], ids["seeded"], ids["gone"], "--workers", "2", "--json",
                       instance=folder, timeout=300)
    return {"folder": folder, "ids": ids, "batch": batch, "stored": stored, "kept": kept}


# --------------------------------------------------------------------------- the batch


def test_batch_reports_rejected_and_failed_apart(world):
    ids, result = world["ids"], world["batch"]
    assert result.code == 5, result.err  # a run could not complete: that wins over data errors
    assert "Traceback" not in result.err
    summary = result.json()
    assert (summary["total"], summary["done"], summary["rejected"], summary["failed"], summary["not_run"]) \
        == (3, 1, 1, 1, 0)
    runs = {r["id"]: r for r in summary["runs"]}
    assert runs[ids["clean"]]["outcome"] == "done" and runs[ids["clean"]]["reason"] is None
    seeded = runs[ids["seeded"]]
    assert seeded["outcome"] == "rejected" and seeded["reason"] is None and seeded["errors"] > 0
    gone = runs[ids["gone"]]
    assert gone["outcome"] == "failed" and "missing from files/" in gone["reason"]
    assert gone["errors"] is None and gone["report"] is None and gone["executed"] is None
    text = batch_text(summary)
    assert f"REJECTED {ids['seeded']}.1 qa #1: errors:" in text
    assert f"FAILED   {ids['gone']}.1 qa #1: stored file missing from files/" in text
    assert "1 done, 1 rejected (the data have errors), 1 failed (could not complete), 0 not run" in text


# --------------------------------------------------------------------------- rejected: the data


def test_errors_in_the_data_reject_with_exit_1(world):
    folder, request_id = world["folder"], world["ids"]["seeded"]
    result = docket_cli("qa", request_id, instance=folder)
    assert result.code == 1, result.err
    assert f"{request_id}.1: qa #2 rejected: the data have errors" in result.out
    assert "could not complete" not in result.out and "Traceback" not in result.err
    with docket.open(folder) as d:
        assert step(d, request_id, "qa") == ("closed", "rejected")
        last = d.history(request_id)[-1]
        assert (last["step"], last["to"], last["outcome"]) == ("qa", "closed", "rejected")
        assert last["comment"].startswith("errors: ")
        b = qa_bundle(d, request_id, 2)
    activity = b["activity"][f"{request_id}_qa_2:activity"]
    assert literal(activity["dkt:outcome"]) == "rejected"
    assert "dkt:reason" not in activity  # nothing went wrong with the run itself
    assert literal(b["entity"][f"{request_id}_qa_2:report"]["dkt:verdict"]) == "invalid"


# --------------------------------------------------------------------------- failed: the run


def test_a_missing_stored_file_fails_the_run_with_its_reason(world):
    folder, request_id = world["folder"], world["ids"]["gone"]
    with docket.open(folder) as d:
        assert step(d, request_id, "qa") == ("closed", "failed")
        comment = d.history(request_id)[-1]["comment"]
        assert comment.startswith("stored file missing from files/: ") and "(transfer again)" in comment
        b = qa_bundle(d, request_id, 1)
    activity = b["activity"][f"{request_id}_qa_1:activity"]
    assert literal(activity["dkt:outcome"]) == "failed"
    assert "missing from files/" in literal(activity["dkt:reason"])
    assert f"{request_id}_qa_1:report" not in b["entity"]  # no kernel started, nothing written
    assert not (folder / "runs" / request_id / "qa-1.ipynb").exists()
    # the same through the command line, JSON
    result = docket_cli("qa", request_id, "--json", instance=folder)
    assert result.code == 5, result.err
    out = result.json()
    assert (out["outcome"], out["n"], out["errors"]) == ("failed", 2, None)
    assert "missing from files/" in out["reason"]


def test_a_notebook_that_raises_fails_blocks_publication_and_qa_runs_again(tmp_path):
    folder = tmp_path / "inst"
    crash_instance(folder)
    with docket.open(folder) as d:
        request_id = ready(d, REQUESTS / "weather-table-schema.json")
    result = docket_cli("qa", request_id, instance=folder)
    assert result.code == 5, result.err
    assert (f"{request_id}.1: qa #1 failed: the run could not complete: the QA notebook failed in "
            f"cell 3: ValueError: seeded crash in {request_id}") in result.out
    assert "Traceback" not in result.out + result.err
    with docket.open(folder) as d:
        assert step(d, request_id, "qa") == ("closed", "failed")
        assert "ValueError: seeded crash" in d.history(request_id)[-1]["comment"]
        activity = qa_bundle(d, request_id, 1)["activity"][f"{request_id}_qa_1:activity"]
        assert literal(activity["dkt:outcome"]) == "failed"
        assert "seeded crash" in literal(activity["dkt:reason"])
        with pytest.raises(Refused, match="qa closed/done first; qa is closed/failed"):
            publish(d, request_id)
    # the notebook fixed: QA runs again from failed, and then the request may be published
    toml = folder / "docket.toml"
    fixed = str(Path(__file__).resolve().parents[1] / "notebooks" / "qa.ipynb")
    toml.write_text(toml.read_text(encoding="utf-8").replace('"crash.ipynb"', json.dumps(fixed)),
                    encoding="utf-8")
    with docket.open(folder) as d:
        again = d.qa(request_id)
        assert (again["outcome"], again["n"], again["reason"]) == ("done", 2, None)
        publish(d, request_id)
        assert step(d, request_id, "publication") == ("in-progress", None)


# --------------------------------------------------------------------------- docket list


def test_list_shows_transfer_and_qa(world):
    folder, ids = world["folder"], world["ids"]
    rows = {r["id"]: r for r in docket_cli("list", "--json", instance=folder).json()}
    assert (rows[ids["seeded"]]["transfer"], rows[ids["seeded"]]["qa"]) == ("closed/done", "closed/rejected")
    assert (rows[ids["gone"]]["transfer"], rows[ids["gone"]]["qa"]) == ("closed/done", "closed/failed")
    assert (rows[ids["broken"]]["transfer"], rows[ids["broken"]]["qa"]) == ("closed/failed", "open")
    assert (rows[ids["submitted"]]["transfer"], rows[ids["submitted"]]["qa"]) == ("open", "open")
    assert rows[ids["seeded"]]["steps"]["qa"]["outcome"] == "rejected"
    text = docket_cli("list", instance=folder).out.splitlines()
    assert text[0].split()[:6] == ["ID", "REV", "STATE", "TRANSFER", "QA", "TITLE"]
    line = next(row for row in text if row.startswith(ids["seeded"]))
    assert line.split()[2:5] == ["approved", "closed/done", "closed/rejected"]
    line = next(row for row in text if row.startswith(ids["broken"]))
    assert line.split()[2:5] == ["approved", "closed/failed", "open"]


@pytest.mark.parametrize(("step_name", "status", "expected"), [
    ("qa", "rejected", ["seeded"]),
    ("qa", "failed", ["gone"]),
    ("qa", "done", ["clean"]),
    ("qa", "closed", ["clean", "seeded", "gone"]),
    ("qa", "open", ["submitted", "waiting", "broken"]),
    ("qa", "in-progress", []),
    ("transfer", "failed", ["broken"]),
    ("transfer", "done", ["clean", "seeded", "gone", "waiting"]),
    ("review", "accepted", ["clean", "seeded", "gone", "waiting", "broken"]),
    ("publication", "open", ["submitted", "clean", "seeded", "gone", "waiting", "broken"]),
])
def test_list_filters_by_step(world, step_name, status, expected):
    folder, ids = world["folder"], world["ids"]
    result = docket_cli("list", "--step", step_name, "--status", status, "--json", instance=folder)
    assert result.code == 0, result.err
    assert sorted(r["id"] for r in result.json()) == sorted(ids[k] for k in expected)
    with docket.open(folder) as d:  # the Python API answers the same
        assert sorted(r["id"] for r in d.list(step=step_name, step_status=status)) == \
            sorted(ids[k] for k in expected)


def test_list_filter_limit_counts_matches(world):
    folder, ids = world["folder"], world["ids"]
    result = docket_cli("list", "--step", "transfer", "--status", "done", "--limit", "2", "--json",
                        instance=folder)
    assert result.code == 0, result.err
    # newest first among the matches, not among every request
    assert [r["id"] for r in result.json()] == [ids["waiting"], ids["gone"]]
    approved = docket_cli("list", "--status", "approved", "--json", instance=folder)  # a review state
    assert approved.code == 0 and len(approved.json()) == 5, approved.err
    empty = docket_cli("list", "--step", "qa", "--status", "in-progress", instance=folder)
    assert (empty.code, empty.out.strip()) == (0, "no requests")


@pytest.mark.parametrize(("args", "names"), [
    (["--step", "qa", "--status", "rejectd"], ["'rejectd'", "in-progress", "rejected", "failed", "done"]),
    (["--step", "qc", "--status", "failed"], ["'qc'", "transfer", "qa", "publication"]),
    (["--step", "qa"], ["--step and --status"]),
    (["--status", "in-progress"], ["'in-progress'", "draft", "approved", "retired", "--step"]),
])
def test_list_refuses_unknown_steps_and_statuses(world, args, names):
    result = docket_cli("list", *args, instance=world["folder"])
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err
    for name in names:
        assert name in result.err, (name, result.err)
    with docket.open(world["folder"]) as d, pytest.raises(BadInput, match="unknown step 'qc'"):
        d.list(step="qc", step_status="done")


# --------------------------------------------------------------------------- after a fix


def test_neither_rejected_nor_failed_publishes_and_qa_runs_again_from_both(world):
    folder, ids = world["folder"], world["ids"]
    with docket.open(folder) as d:
        with pytest.raises(Refused, match="qa is closed/rejected"):
            publish(d, ids["seeded"])
        with pytest.raises(Refused, match="qa is closed/failed"):
            publish(d, ids["gone"])
        assert step(d, ids["seeded"], "publication") == step(d, ids["gone"], "publication") == ("open", None)
        # the lost file back in files/: QA runs again from failed, and finds nothing wrong
        for f in world["stored"]:
            shutil.move(world["kept"] / f["name"], f["location"])
        again = d.qa(ids["gone"])
        assert (again["outcome"], again["n"]) == ("done", 3)
        publish(d, ids["gone"])
        # QA runs again from rejected (here only the metadata checks, which the request passes)
        again = d.qa(ids["seeded"], checks=["metadata"])
        assert (again["outcome"], again["n"]) == ("done", 3)
        publish(d, ids["seeded"])
        assert step(d, ids["seeded"], "publication") == ("in-progress", None)
