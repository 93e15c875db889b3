"""The qa step for real: papermill runs notebooks/qa.ipynb in a kernel, Dask runs batches.

Requests are submitted, approved and transferred from real files (examples/requests and the
seeded-error files of examples/data, whose README lists every error the report must name). Each
papermill run starts a kernel (a few seconds), so runs are shared where a test only reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

import docket
from docket.api import Docket
from docket.cli import main as cli_main
from docket.steps.qa import pending, selected_severities
from docket.steps.transfer import stored_file_id
from tests.clirun import docket_cli
from tests.people import as_role

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
REQUESTS = ROOT / "examples" / "requests"


def reviewer(d: Docket) -> Docket:
    """``d``'s instance, called by the reviewer Eva (the admin who submitted may not approve)."""
    return as_role(d, "reviewer", "Eva")


def seeded() -> dict[str, list[tuple[str, int | None, str | None, str | None]]]:
    """file -> [(check, row, column, value)] from the table in examples/data/README.md."""
    out: dict[str, list] = {}
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith(("| file", "|---")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name, check, row, column, value = (cells + [""] * 5)[:5]
        entries = out.setdefault(name, [])
        if check != "(none)":
            entries.append((check, int(row) if row else None, None if column == "-" else column,
                            None if value == "-" else value))
    return out


SEEDED = seeded()


def seeded_request(files: list[str], schema: str, *, title: str) -> dict[str, Any]:
    """A request for example data files: the weather example's metadata with ``title``, the
    files' Table Schema, and the files by absolute path (clean.csv with a wrong declared size)."""
    doc = json.loads((REQUESTS / "weather-table-schema.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["metadata"]["project_descriptive"]["title"] = title
    doc["metadata"]["dataset_structural"] = json.loads((DATA / schema).read_text(encoding="utf-8"))
    doc["files"] = [{"name": name, "location": str(DATA / name), "media_type": "text/csv"} for name in files]
    for entry in doc["files"]:
        if entry["name"] == "clean.csv":
            entry["size"] = 1  # seeded: congruence.size
    return doc


def ready(d: Docket, document: Any) -> str:
    """Submit, approve and transfer; returns the request id."""
    request_id = d.submit(document)["id"]
    reviewer(d).review(request_id, "approved")
    assert d.transfer(request_id)["outcome"] == "done"
    return request_id


def relations(bundle: dict, kind: str) -> list[dict]:
    out = []
    for value in bundle.get(kind, {}).values():
        out.extend(value if isinstance(value, list) else [value])
    return out


def qa_bundle(d: Docket, request_id: str, n: int) -> dict:
    prov = json.loads(d.export_prov(request_id, "json"))
    return prov["bundle"][f"{request_id}_qa_{n}:bundle"]


def sha256(path: str | Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def literal(value: Any) -> Any:
    return value["$"] if isinstance(value, dict) else value


def checksum_of(entities: dict, node: str) -> str:
    """``sha256:<hex>`` of a node, read through its SPDX checksum entity (PROV-JSON)."""
    checksum = entities[literal(entities[node]["spdx:checksum"])]
    assert literal(checksum["prov:type"]) == "spdx:Checksum"
    assert literal(checksum["spdx:algorithm"]) == "spdx:checksumAlgorithm_sha256"
    return "sha256:" + literal(checksum["spdx:checksumValue"])


def init(folder: Path) -> None:
    """A new instance that may take local files from examples/ (the requests point there)."""
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                local_roots=["inbox", str(ROOT / "examples")]).close()


@pytest.fixture(scope="module")
def inst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("qa") / "inst"
    init(folder)
    return folder


@pytest.fixture
def d(inst: Path):
    with docket.open(inst) as dk:
        yield dk


# --------------------------------------------------------------------------- one run, seeded errors


OBS_FILES = sorted(name for name in SEEDED if name != "survey.csv")


@pytest.fixture(scope="module")
def seeded_run(inst: Path) -> dict[str, Any]:
    """``docket qa ID --json`` on a request holding every observations file of examples/data."""
    with docket.open(inst) as dk:
        request_id = ready(dk, seeded_request(OBS_FILES, "observations.schema.json", title="Seeded errors"))
    result = docket_cli("qa", request_id, "--json", instance=inst)
    return {"id": request_id, "result": result}


def test_report_names_every_seeded_error(seeded_run):
    result = seeded_run["result"]
    assert result.code == 1, result.err  # the report has errors
    assert "Traceback" not in result.err
    out = result.json()
    assert out["outcome"] == "rejected" and out["valid"] is False and out["reason"] is None
    report = json.loads(Path(out["report"]).read_text(encoding="utf-8"))
    assert report["subject"] == {"kind": "request", "id": seeded_run["id"], "revision": 1}
    entries = report["checks"]
    for name in OBS_FILES:
        expected = SEEDED[name]
        failing = {c["id"] for c in entries
                   if c["file"] == name and c["family"] == "table" and c["status"] != "valid"
                   and c["status"] != "not-checked"}
        assert failing == {e[0] for e in expected}, (name, failing)
        for check, row, column, value in expected:
            entry = next(c for c in entries if c["id"] == check and c["file"] == name)
            if row is None:
                continue
            hits = [loc for loc in entry["locations"]
                    if loc["row"] == row and (column is None or loc["column"] == column)
                    and (value is None or loc["value"] == value)]
            assert hits, f"{name}: {check} row {row} {column!r} {value!r} not in {entry['locations']}"
    # the seeded request-level errors: a declared size that is wrong, a title of two words
    size = next(c for c in entries if c["id"] == "congruence.size")
    assert size["status"] == "error" and size["count"] == 1
    assert (size["locations"][0]["file"], str(size["locations"][0]["value"])) == \
        ("clean.csv", str((DATA / "clean.csv").stat().st_size))
    assert next(c for c in entries if c["id"] == "metadata.title")["status"] == "error"
    assert report["summary"]["errors"] == out["errors"] > 20


def test_step_history_and_files_on_disk(seeded_run, d):
    request_id, out = seeded_run["id"], seeded_run["result"].json()
    assert d.get(request_id)["steps"]["qa"]["status"] == "closed"
    assert d.get(request_id)["steps"]["qa"]["outcome"] == "rejected"
    last = d.history(request_id)[-1]
    assert (last["step"], last["to"], last["outcome"]) == ("qa", "closed", "rejected")
    assert out["executed"].endswith(f"runs/{request_id}/qa-1.ipynb")
    assert out["report"].endswith(f"runs/{request_id}/qa-1.report.json")
    executed = nbformat.read(out["executed"], as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f'request_id = "{request_id}"' in injected.source
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the errors-per-column plot
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the pandas tables
    # the notebook in the repository has no outputs (what runs is the plan, not a record)
    source = nbformat.read(ROOT / "notebooks" / "qa.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in source.cells)


def test_prov_has_the_run_its_plan_parameters_outputs_and_derivation(seeded_run, d):
    request_id, out = seeded_run["id"], seeded_run["result"].json()
    b = qa_bundle(d, request_id, 1)
    activity, run = f"{request_id}_qa_1:activity", f"{request_id}_qa_1"  # docket.provenance.identifiers
    report_id, executed_id = f"{run}:report", f"{run}:notebook"
    entities = b["entity"]
    assert entities[executed_id]["prov:location"] == {"$": Path(out["executed"]).as_uri(), "type": "xsd:anyURI"}
    assert checksum_of(entities, executed_id) == sha256(out["executed"])
    report = entities[report_id]
    assert checksum_of(entities, report_id) == sha256(out["report"])
    assert int(literal(report["dkt:errors"])) == out["errors"]
    assert literal(report["dkt:verdict"]) == "invalid"
    params = json.loads(literal(entities[f"{run}:parameters"]["prov:value"]))
    assert params["request_id"] == request_id and params["report_path"] == out["report"]
    generated = {(r["prov:entity"], r["prov:activity"]) for r in relations(b, "wasGeneratedBy")}
    assert {(report_id, activity), (executed_id, activity)} <= generated
    derived = {r["prov:usedEntity"] for r in relations(b, "wasDerivedFrom") if r["prov:generatedEntity"] == report_id}
    assert derived == {stored_file_id(request_id, 1, name) for name in OBS_FILES}
    used = {r["prov:entity"] for r in relations(b, "used")}
    assert f"{run}:parameters" in used and derived <= used
    plans = [r for r in relations(b, "wasAssociatedWith") if r.get("prov:plan")]
    assert len(plans) == 1
    plan = entities[plans[0]["prov:plan"]]
    assert literal(plan["prov:location"]) == (ROOT / "notebooks" / "qa.ipynb").as_uri()
    assert checksum_of(entities, plans[0]["prov:plan"]) == sha256(ROOT / "notebooks" / "qa.ipynb")
    assert "SoftwareAgent" in json.dumps(b["agent"][plans[0]["prov:agent"]])
    # the outcome and the step's status are the run's (the activity), the verdict the report's
    assert literal(b["activity"][activity]["dkt:outcome"]) == "rejected"
    assert literal(b["activity"][activity]["dkt:stepStatus"]) == "closed"
    # the stored files the report derives from are the ones the transfer bundle generated
    transfer = json.loads(d.export_prov(request_id, "json"))["bundle"][f"{request_id}_transfer_1:bundle"]
    assert derived <= set(transfer["entity"])


# --------------------------------------------------------------------------- selection, refusals


def test_selected_checks_only_and_survey_errors(d):
    request_id = ready(d, seeded_request(["survey.csv"], "survey.schema.json",
                                         title="Vegetation survey of grazed and ungrazed plots"))
    result = d.qa(request_id, checks=["table.type", "metadata"])
    report = json.loads(Path(result["report"]).read_text(encoding="utf-8"))
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["table.type"] == "error" and statuses["metadata.title"] == "valid"
    assert statuses["table.enum"] == statuses["congruence.size"] == "not-checked"  # not selected
    locations = {(loc["row"], loc["column"], loc["value"])
                 for c in report["checks"] if c["id"] == "table.type" for loc in c["locations"]}
    assert locations == {(row, column, value) for _, row, column, value in SEEDED["survey.csv"]}
    assert json.loads(qa_bundle(d, request_id, 1)["entity"][f"{request_id}_qa_1:parameters"]
                      ["prov:value"])["checks"] == ["table.type", "metadata"]


def test_refusals_and_bad_input_start_no_kernel(inst, d, capsys):
    def cli(*args: str) -> tuple[int, str]:
        code = cli_main(["--instance", str(inst), "qa", *args])
        captured = capsys.readouterr()
        return code, captured.err

    submitted = d.submit(REQUESTS / "ctd-multilingual.json")["id"]
    approved = d.submit(REQUESTS / "ctd-multilingual.json")["id"]
    reviewer(d).review(approved, "approved")
    code, err = cli(submitted)
    assert code == 3 and "approved" in err and "Traceback" not in err
    code, err = cli(approved)
    assert code == 3 and "transfer closed/done" in err
    d.transfer(approved)
    code, err = cli(approved, "--checks", "table.typo")
    assert code == 2 and "table.typo" in err
    assert cli()[0] == 2
    assert cli(approved, "--pending")[0] == 2
    assert cli(approved, "--workers", "0", "--checks", "")[0] == 2
    assert cli("ocean-9999")[0] == 2
    assert d.get(approved)["steps"]["qa"] == {"status": "open"}
    assert not (inst / "runs" / approved).exists()
    assert approved in pending(d) and submitted not in pending(d)


def test_selection_names_ids_or_families():
    sev = selected_severities({"table.bom": "error"}, ["table.bom", "metadata"])
    assert sev["table.bom"] == "error" and "metadata.title" not in sev
    assert sev["table.type"] == sev["congruence.md5"] == "off"
    assert selected_severities({}, None) == {}


# --------------------------------------------------------------------------- a crashing notebook


def crash_instance(folder: Path) -> None:
    """A new instance whose ``[qa] notebook`` raises in its second cell."""
    init(folder)
    crash = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("instance = request_id = revision = checks = report_path = None",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise ValueError('seeded crash in ' + request_id)"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(crash, folder / "crash.ipynb")
    with (folder / "docket.toml").open("a", encoding="utf-8") as f:
        f.write('\n[qa]\nnotebook = "crash.ipynb"\n')


def test_a_crashing_notebook_ends_failed_and_is_recorded(tmp_path):
    folder = tmp_path / "inst"
    crash_instance(folder)
    with docket.open(folder) as dk:
        request_id = ready(dk, REQUESTS / "weather-table-schema.json")
    result = docket_cli("qa", request_id, instance=folder)
    assert result.code == 5  # the run could not complete (not: the data have errors)
    assert "Traceback" not in result.out + result.err
    assert "ValueError: seeded crash in" in result.out
    with docket.open(folder) as dk:
        step = dk.get(request_id)["steps"]["qa"]
        assert (step["status"], step["outcome"]) == ("closed", "failed")
        assert "seeded crash" in step["comment"]
        b = qa_bundle(dk, request_id, 1)
    activity = f"{request_id}_qa_1:activity"
    assert "seeded crash" in literal(b["activity"][activity]["dkt:reason"])
    assert f"{request_id}_qa_1:notebook" in b["entity"]  # the executed notebook, with the error in it
    assert f"{request_id}_qa_1:report" not in b["entity"]  # no report was written


# --------------------------------------------------------------------------- batch on Dask


def test_batch_of_three_on_two_workers_survives_a_failure(inst, d, capsys):
    ids = [ready(d, path) for path in sorted(REQUESTS.glob("*.json"))]
    assert len(ids) == 3
    unapproved = d.submit(REQUESTS / "soil-several-files.json")["id"]
    result = docket_cli("qa", ids[0], unapproved, *ids[1:], "--workers", "2", "--json", instance=inst,
                        timeout=240)
    assert result.code == 1, result.err  # one request could not run
    assert "Traceback" not in result.err
    summary = result.json()
    assert summary["scheduler"] == "local cluster, 2 workers"
    assert [r["id"] for r in summary["runs"]] == [ids[0], unapproved, *ids[1:]]
    assert (summary["total"], summary["done"], summary["not_run"]) == (4, 3, 1)
    assert (summary["rejected"], summary["failed"]) == (0, 0)
    refused = summary["runs"][1]
    assert refused["outcome"] == "not-run" and "approved" in refused["message"] and refused["exit_code"] == 3
    for run in summary["runs"]:
        if run["id"] == unapproved:
            continue
        assert run["outcome"] == "done" and run["errors"] == 0, run
        assert Path(run["report"]).is_file() and Path(run["executed"]).is_file()
        assert d.get(run["id"])["steps"]["qa"]["outcome"] == "done"
        assert f"{run['id']}_qa_1:report" in qa_bundle(d, run["id"], 1)["entity"]
    for request_id in ids:
        assert request_id not in pending(d)
    # a second run of one of them is run 2, in process; nothing else is pending here
    assert cli_main(["--instance", str(inst), "qa", ids[0], "--checks", "metadata"]) == 0
    assert f"{ids[0]}.1: qa #2 done" in capsys.readouterr().out
    assert (inst / "runs" / ids[0] / "qa-2.report.json").is_file()


def test_pending_on_an_existing_scheduler(tmp_path, capsys):
    from distributed import LocalCluster

    folder = tmp_path / "inst"
    init(folder)
    with docket.open(folder) as dk:
        waiting = ready(dk, REQUESTS / "weather-table-schema.json")
        dk.submit(REQUESTS / "ctd-multilingual.json")  # not approved: not pending
        assert pending(dk) == [waiting]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = cli_main(["--instance", str(folder), "qa", "--pending", "--scheduler", cluster.scheduler_address,
                         "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["scheduler"] == cluster.scheduler_address
    assert [(r["id"], r["outcome"]) for r in summary["runs"]] == [(waiting, "done")]
    assert cli_main(["--instance", str(folder), "qa", "--pending"]) == 0  # nothing left
    assert "nothing is waiting for QA" in capsys.readouterr().out


@pytest.mark.postgres
def test_qa_batch_on_postgresql(tmp_path, pg_schema):
    """The batch's workers (processes of their own) record their runs in a PostgreSQL store."""
    from tests.conftest import PG_URL

    folder = tmp_path / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/", store_url=PG_URL,
                store_schema=pg_schema, local_roots=["inbox", str(ROOT / "examples")]).close()
    with docket.open(folder) as dk:
        ids = [ready(dk, REQUESTS / name) for name in ("weather-table-schema.json", "soil-several-files.json")]
    result = docket_cli("qa", "--pending", "--workers", "2", "--json", instance=folder)
    assert result.code == 0, result.err
    assert sorted(r["id"] for r in result.json()["runs"]) == sorted(ids)
    with docket.open(folder) as dk:
        for request_id in ids:
            qa = dk.get(request_id)["steps"]["qa"]
            assert (qa["status"], qa["outcome"]) == ("closed", "done")
            assert f"{request_id}_qa_1:report" in qa_bundle(dk, request_id, 1)["entity"]


# --------------------------------------------------------------------------- NetCDF files (issue 11, item 4)


def test_netcdf_request_submitted_transferred_and_checked(tmp_path):
    """``docket submit`` → approve → ``docket transfer`` → ``docket qa`` on a CTD request with the
    example profile (clean), a copy without units (seeded) and a methods note: NetCDF findings
    land in the QA report, the note gets text checks, and nothing is checked as a table."""
    from tests.people import as_role
    from tests.test_netcdf import write_nc

    folder = tmp_path / "inst"
    init(folder)
    example = ROOT / "examples" / "files"
    seeded_file = write_nc(folder / "inbox" / "ctd_no_units.nc", units=False)
    doc = json.loads((REQUESTS / "ctd-multilingual.json").read_text(encoding="utf-8"))
    doc["metadata"]["dataset_structural"] = {"fields": [
        {"name": "depth", "type": "number", "unit": "m"},
        {"name": "temperature", "type": "number", "unit": "degree_Celsius"},
        {"name": "salinity", "type": "number", "unit": "1"},
    ]}
    doc["files"] = [
        {"name": "ctd_profile.nc", "location": str(example / "ctd_profile.nc"),
         "media_type": "application/x-netcdf", "size": (example / "ctd_profile.nc").stat().st_size},
        {"name": "ctd_no_units.nc", "location": str(seeded_file), "media_type": "application/x-netcdf"},
        {"name": "soil_methods.txt", "location": str(example / "soil_methods.txt"), "media_type": "text/plain"},
    ]
    request_file = tmp_path / "ctd-netcdf.json"
    request_file.write_text(json.dumps(doc), encoding="utf-8")
    submitted = docket_cli("submit", request_file, "--json", instance=folder)
    assert submitted.code == 0, submitted.err
    request_id = submitted.json()["id"]
    with docket.open(folder) as dk:  # a reviewer's account approves (the role is the account's)
        as_role(dk, "reviewer").review(request_id, "approved")
    transferred = docket_cli("transfer", request_id, "--json", instance=folder)
    assert transferred.code == 0, transferred.err
    result = docket_cli("qa", request_id, "--json", instance=folder)
    assert result.code == 1, result.err  # the data have errors: the seeded missing units
    assert "Traceback" not in result.out + result.err
    out = result.json()
    assert out["outcome"] == "rejected" and out["reason"] is None
    report = json.loads(Path(out["report"]).read_text(encoding="utf-8"))
    got = {(c["id"], c["file"]): c for c in report["checks"]}
    assert not [c for c in report["checks"] if c["family"] == "table"]
    for check_id in ("netcdf.opens", "netcdf.structure", "netcdf.units", "netcdf.fill-value",
                     "netcdf.conventions", "netcdf.coordinates", "cf.high", "cf.medium", "cf.low"):
        assert got[(check_id, "ctd_profile.nc")]["status"] == "valid", check_id
    units = got[("netcdf.units", "ctd_no_units.nc")]
    assert units["status"] == "error"
    assert [(loc["column"], loc["path"]) for loc in units["locations"]] == [("temperature", "temperature:units")]
    structure = got[("netcdf.structure", "ctd_no_units.nc")]
    assert structure["status"] == "error"
    assert {loc["column"] for loc in structure["locations"]} == {"temperature", "salinity"}
    assert got[("cf.high", "ctd_no_units.nc")]["status"] == "error"
    assert got[("text.encoding", "soil_methods.txt")]["status"] == "valid"
    assert got[("congruence.size", None)]["status"] == "valid"
    kinds = {f["name"]: f["kind"] for f in report["files"]}
    assert kinds == {"ctd_profile.nc": "netcdf", "ctd_no_units.nc": "netcdf", "soil_methods.txt": "text"}
    failing = {(f["id"], f["file"]) for f in out["failing"]}
    assert ("netcdf.units", "ctd_no_units.nc") in failing
    # the executed notebook rendered the NetCDF findings for the data manager
    executed = nbformat.read(out["executed"], as_version=4)
    shown = json.dumps([o for c in executed.cells if c.cell_type == "code" for o in c.outputs])
    assert "netcdf.units" in shown and "temperature:units" in shown
