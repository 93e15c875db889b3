"""Submitting, reading and refusing requests, through the CLI and the Python API, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

import docket
from docket.errors import Conflict, InvalidDocument, NotFound, Refused
from docket.provenance.export import deserialize
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, example_requests, invalid_examples
from tests.people import as_role, key_file

EXPECTED_INVALID = json.loads((EXAMPLES / "invalid" / "expected.json").read_text())


def row_counts(d: docket.api.Docket) -> dict[str, int]:
    with d.store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables}


@pytest.mark.parametrize("path", example_requests(), ids=lambda p: p.stem)
def test_every_example_submits_and_exports_prov_in_every_format(instance_dir: Path, path: Path) -> None:
    result = docket_cli("submit", path, "--json", instance=instance_dir)
    assert result.code == 0, result.err
    request_id = result.json()["id"]
    assert request_id.split("-")[-1] == "0001"

    shown = docket_cli("show", request_id, "--json", instance=instance_dir).json()
    source = json.loads(path.read_text())
    assert shown["metadata"] == source["metadata"]
    assert shown["review_state"] == "submitted"
    assert shown["schema"]["id"].endswith("request.schema.json") and shown["schema"]["version"] == "1.0"
    assert [f["name"] for f in shown["files"]] == [f["name"] for f in source["files"]]
    assert all(f["location"].startswith("file:///") for f in shown["files"])

    for fmt in ("json", "provn", "xml", "ttl", "dot", "svg"):
        out = docket_cli("prov", request_id, "--format", fmt, instance=instance_dir)
        assert out.code == 0, (fmt, out.err)
        data = out.out.encode()
        if fmt in ("json", "provn", "xml", "ttl"):
            doc = deserialize(data, fmt)
            records = list(doc.get_records()) + [r for b in doc.bundles for r in b.get_records()]
            assert len(records) > 5, fmt
        elif fmt == "svg":
            assert b"<svg" in data and b"submission" in data.lower() or b"request" in data
        else:
            assert data.startswith(b"digraph")


def test_submit_prints_id_and_list_show_history(instance_dir: Path) -> None:
    ids = []
    ana = key_file(instance_dir, "provider", "Ana Lima", email="ana.lima@ifremer.example.org")
    for path in example_requests():
        # the installed console script, in a process of its own, once
        result = docket_cli("--key-file", ana, "submit", path, instance=instance_dir, subprocess=True)
        assert result.code == 0, result.err
        ids.append(result.out.strip())
    # project slug comes from the request; numbering is per project
    assert sorted(ids) == ["alpine-0001", "ocean-0001", "soil-0001"]

    listed = docket_cli("list", "--json", instance=instance_dir).json()
    assert {r["id"] for r in listed} == set(ids)
    assert all(r["review_state"] == "submitted" for r in listed)
    assert docket_cli("list", "--status", "approved", "--json", instance=instance_dir).json() == []
    text = docket_cli("list", instance=instance_dir).out
    assert "Hourly weather at two alpine stations" in text

    hist = docket_cli("history", "ocean-0001", "--json", instance=instance_dir).json()
    assert [(h["kind"], h["from"], h["to"]) for h in hist] == [
        ("revision", None, "ocean-0001.1"), ("review", "draft", "submitted"), ("step", "open", "closed")]
    assert hist[0]["actor"] == "ana.lima@ifremer.example.org" and hist[0]["role"] == "provider"


@pytest.mark.parametrize("path", invalid_examples(), ids=lambda p: p.stem)
def test_invalid_examples_are_refused_with_exit_2_and_nothing_stored(dk, instance_dir: Path, path: Path) -> None:
    before = row_counts(dk)
    result = docket_cli("submit", path, instance=instance_dir)
    assert result.code == 2
    assert "Traceback" not in result.err
    expected = EXPECTED_INVALID[path.name]
    assert expected["message"] in result.err
    if expected["where"]:
        assert f"{expected['where']}: " in result.err
    assert row_counts(dk) == before

    as_json = docket_cli("submit", path, "--json", instance=instance_dir)
    assert as_json.code == 2
    body = as_json.json()
    assert body["error"] in ("InvalidDocument", "BadInput")
    if expected["where"]:
        assert any(p["where"] == expected["where"] for p in body["problems"])


def test_invalid_document_lists_every_error_via_api(dk) -> None:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["provider"]["email"] = "nope"
    del doc["metadata"]["dataset_administrative"]["licence"]
    doc["files"][0]["sha256"] = "xyz"
    with pytest.raises(InvalidDocument) as info:
        dk.submit(doc)
    wheres = {p.where for p in info.value.problems}
    assert wheres == {"$.provider.email", "$.metadata.dataset_administrative.licence", "$.files[0].sha256"}
    assert dk.list() == []


def test_unknown_id_and_unknown_format(dk, instance_dir: Path) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    for args in (["show", "ocean-9999"], ["history", "nope-0001"], ["prov", "ocean-9999"]):
        result = docket_cli(*args, instance=instance_dir)
        assert result.code == 2 and "no request" in result.err and "Traceback" not in result.err
    bad = docket_cli("prov", request_id, "--format", "pdf", instance=instance_dir)
    assert bad.code == 2 and "pdf" in bad.err and "json" in bad.err
    with pytest.raises(NotFound):
        dk.get(f"{request_id}.7")


def test_missing_and_broken_instance(tmp_path: Path) -> None:
    missing = docket_cli("list", instance=tmp_path / "nowhere")
    assert missing.code == 2 and "no docket instance" in missing.err and "Traceback" not in missing.err
    empty = docket_cli("list", instance=tmp_path)
    assert empty.code == 2 and "docket.toml is missing" in empty.err
    (tmp_path / "docket.toml").write_text("[instance\nproject = 1")
    broken = docket_cli("list", instance=tmp_path)
    assert broken.code == 2 and "not valid TOML" in broken.err
    (tmp_path / "docket.toml").write_text('[instance]\nproject = "Bad Slug"\nbase_uri = "x:"\n')
    bad = docket_cli("list", instance=tmp_path)
    assert bad.code == 2 and "Bad Slug" in bad.err
    via_env = docket_cli("list", env={"DOCKET_INSTANCE": str(tmp_path / "nowhere")})
    assert via_env.code == 2 and "nowhere" in via_env.err


def test_database_down_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    result = docket_cli("list", instance=folder,
                        env={"DOCKET_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert result.code == 2
    assert "store is unavailable" in result.err and "Traceback" not in result.err


def test_usage_errors_exit_2(instance_dir: Path) -> None:
    assert docket_cli("submit", instance=instance_dir).code == 2
    assert docket_cli("frobnicate", instance=instance_dir).code == 2
    missing = docket_cli("submit", "no-such-file.json", instance=instance_dir)
    assert missing.code == 2 and "does not exist" in missing.err


def test_review_roles_revisions_and_conflicts(dk) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    provider = as_role(dk, "provider", "Ana Lima", email="ana.lima@ifremer.example.org")
    reviewer = as_role(dk, "reviewer", "Eva", email="eva@dc.example.org")
    with pytest.raises(Refused):
        provider.review(request_id, "approved")
    with pytest.raises(Refused):
        dk.set_step(request_id, "qa", "in-progress")  # not approved yet
    reviewer.review(request_id, "rejected", comment="Add the methods.")
    assert dk.get(request_id)["review_state"] == "rejected"

    doc = dk.get(request_id)
    edited = {k: doc[k] for k in ("project", "provider", "metadata", "files")}
    edited["metadata"]["experiment_contextual"]["methods"] = "Downcast, 2.5 m bins."
    with pytest.raises(Conflict):
        provider.revise(request_id, edited, expected_revision=5)
    rev = provider.revise(request_id, edited, expected_revision=1)
    assert rev["revision"] == 2
    assert dk.get(request_id)["review_state"] == "draft"
    assert dk.get(request_id, 1)["metadata"] != dk.get(request_id, 2)["metadata"]  # revision 1 kept
    assert dk.get(f"{request_id}.1")["revision"] == 1
    provider.review(request_id, "submitted")
    reviewer.review(request_id, "approved")
    with pytest.raises(Refused, match="needs transfer closed/done"):
        dk.set_step(request_id, "qa", "in-progress")  # errors in transfer block qa
    step = dk.set_step(request_id, "transfer", "in-progress")
    assert step["activity"] == f"{request_id}_transfer_1:activity"
    states = [(h["kind"], h["to"]) for h in dk.history(request_id)]
    assert ("review", "approved") in states and ("step", "in-progress") in states
    with pytest.raises(Refused):
        reviewer.review(request_id, "draft")


def test_review_refusals_exit_3_and_conflict_exit_4(dk, instance_dir: Path) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    provider = key_file(instance_dir, "provider", "Ana Lima", email="ana.lima@ifremer.example.org")
    refused = docket_cli("--key-file", provider, "review", request_id, "approved", instance=instance_dir)
    assert refused.code == 3 and "ana.lima@ifremer.example.org" in refused.err and "no-self-review" in refused.err
    eva = key_file(instance_dir, "reviewer", "Eva", email="eva@dc.example.org")
    conflict = docket_cli("--key-file", eva, "review", request_id, "approved", "--expect-revision", "3",
                          instance=instance_dir)
    assert conflict.code == 4 and "someone changed it first" in conflict.err
    ok = docket_cli("--key-file", eva, "review", request_id, "approved", "--json", instance=instance_dir)
    assert ok.code == 0 and ok.json()["review_state"] == "approved"


def test_steps_are_docket_s_to_set(dk, instance_dir: Path) -> None:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["steps"] = {"transfer": {"status": "closed", "outcome": "done"}, "qa": {"status": "closed", "outcome": "done"}}
    path = instance_dir / "inbox" / "claims-done.json"
    path.write_text(json.dumps(doc))
    provider = key_file(instance_dir, "provider")
    refused = docket_cli("--key-file", provider, "submit", path, instance=instance_dir)
    assert refused.code == 3 and "steps" in refused.err
    assert dk.list() == []
    migrated = as_role(dk, "data-manager", "Mo", email="mo@dc.example.org").submit(doc)
    assert dk.get(migrated["id"])["steps"]["qa"] == {"status": "closed", "outcome": "done"}


def test_a_shown_record_edited_comes_back_as_a_revision(dk, instance_dir: Path) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    shown = docket_cli("show", request_id, "--json", instance=instance_dir).json()
    shown["metadata"]["project_descriptive"]["keywords"].append("shelf")
    shown["steps"]["qa"] = {"status": "closed", "outcome": "done"}  # not the editor's to change
    edited = instance_dir / "inbox" / "edited.json"
    edited.write_text(json.dumps(shown))
    result = docket_cli("revise", request_id, edited, "--json", instance=instance_dir)
    assert result.code == 0, result.err
    record = dk.get(request_id)
    assert record["revision"] == 2 and "shelf" in record["metadata"]["project_descriptive"]["keywords"]
    assert record["steps"]["qa"] == {"status": "open"}
    assert record["created_date"] == shown["created_date"]
