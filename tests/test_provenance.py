"""Per-request PROV: identifiers, shared agents, templates, bindings, and crash safety."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

import docket
from docket.provenance import identifiers as ids
from docket.provenance.export import deserialize
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, example_requests
from tests.people import as_role, key_for

BASE = "https://data.example.org/ocean/"


def all_records(doc):
    return list(doc.get_records()) + [r for b in doc.bundles for r in b.get_records()]


def ids_of(doc) -> set[str]:
    return {str(r.identifier.uri) for r in all_records(doc) if r.identifier is not None}


def test_identifiers_are_per_request_and_step_instance(dk) -> None:
    paths = example_requests()
    first = dk.submit(paths[0])["id"]
    second = dk.submit(paths[0])["id"]  # the same content twice is two requests
    assert first != second
    a, b = ids_of(dk.prov(first)), ids_of(dk.prov(second))
    assert f"{BASE}{first}/request/1/activity" in a and f"{BASE}{first}.1" in a
    shared = a & b
    # only the real agents, software and schema are shared between the two requests
    assert shared, "the provider and docket itself are the same agents in both graphs"
    for uri in shared:
        assert uri.startswith((f"{BASE}person_", f"{BASE}software/", f"{BASE}schema/")), uri


def test_submission_bundle_shape(dk) -> None:
    request_id = dk.submit(EXAMPLES / "requests" / "ctd-multilingual.json")["id"]
    doc = dk.prov(request_id)
    assert [str(b.identifier.uri) for b in doc.bundles] == [f"{BASE}{request_id}/request/1/bundle"]
    bundle = next(iter(doc.bundles))
    kinds = {type(r).__name__ for r in bundle.get_records()}
    assert {"ProvEntity", "ProvActivity", "ProvAgent", "ProvGeneration", "ProvAssociation",
            "ProvAttribution", "ProvUsage"} <= kinds
    agent_ids = {str(r.identifier.uri) for r in bundle.get_records() if type(r).__name__ == "ProvAgent"}
    # the provider, keyed by ORCID iD but named opaquely (docket.provenance.identifiers)
    assert ids.person_id(orcid="0000-0002-1825-0097").uri(BASE) in agent_ids
    assert any(uri.startswith(f"{BASE}software/docket-") for uri in agent_ids)
    # a first revision has no previous one: the derivation is dropped, not left dangling
    assert "ProvDerivation" not in kinds
    activity = next(r for r in bundle.get_records() if type(r).__name__ == "ProvActivity")
    assert activity.get_startTime() is not None


def test_revision_adds_a_bundle_derived_from_the_previous(dk) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    as_role(dk, "reviewer", "Eva").review(request_id, "rejected", comment="more keywords")
    doc = dk.get(request_id)
    edited = {k: doc[k] for k in ("project", "provider", "metadata", "files")}
    edited["metadata"]["project_descriptive"]["keywords"].append("summer")
    dk.revise(request_id, edited)
    rows = dk.prov_bundles(request_id)
    assert [(r["step"], r["n"]) for r in rows] == [("request", 1), ("review", 1), ("request", 2)]
    last = deserialize(json.dumps(rows[-1]["bundle"]).encode(), "json")
    derivations = [r for b in last.bundles for r in b.get_records() if type(r).__name__ == "ProvDerivation"]
    assert len(derivations) == 1
    pairs = {str(v.uri) for _, v in derivations[0].formal_attributes if v is not None and hasattr(v, "uri")}
    assert {f"{BASE}{request_id}.2", f"{BASE}{request_id}.1"} <= pairs


def test_bindings_beside_the_bundle_reproduce_it(dk, instance_dir: Path, tmp_path: Path) -> None:
    request_id = dk.submit(example_requests()[1])["id"]
    row = dk.prov_bundles(request_id)[0]
    bindings = tmp_path / "bindings.json"
    bindings.write_text(json.dumps(row["bindings"]))
    template = Path(docket.__file__).resolve().parents[2] / "prov_templates" / f"{row['template']}.json"
    result = docket_cli("template", "expand", template, bindings, "--format", "json", instance=instance_dir)
    assert result.code == 0, result.err
    again = deserialize(result.out.encode(), "json")
    stored = deserialize(json.dumps(row["bundle"]).encode(), "json")
    assert again == stored


def test_instance_template_override_changes_what_is_recorded(instance_dir: Path) -> None:
    packaged = Path(docket.__file__).resolve().parents[2] / "prov_templates" / "submission.json"
    template = json.loads(packaged.read_text())
    bundle = template["bundle"]["var:bundle"]
    bundle["entity"]["var:request"]["dkt:curatedBy"] = {"$": "var:providerName", "type": "xsd:QName"}
    (instance_dir / "prov_templates" / "submission.json").write_text(json.dumps(template))
    with docket.open(instance_dir) as d:
        request_id = d.submit(example_requests()[0])["id"]
        text = d.export_prov(request_id, "provn").decode()
    assert "dkt:curatedBy" in text


def test_append_cost_does_not_depend_on_store_size(dk) -> None:
    """Appending a step reads and writes only that request's rows (checked by statement count)."""
    from sqlalchemy import event

    request_id = dk.submit(example_requests()[0])["id"]
    eva = as_role(dk, "reviewer", "Eva")
    eva.caller  # noqa: B018 - signed in before counting: the count is the review's own statements
    statements: list[str] = []
    event.listen(dk.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    eva.review(request_id, "approved")
    n_small = len(statements)
    for _ in range(30):
        dk.submit(example_requests()[0])
    statements.clear()
    dk.set_step(request_id, "transfer", "in-progress")
    assert len(statements) <= n_small + 2
    assert not any("prov_bundles" in s and "request_id" not in s for s in statements if "SELECT" in s)


CRASH = textwrap.dedent("""
    import os, sys
    import docket
    from docket.provenance import recorder
    real = recorder.Recorder.expand
    def crash(self, *args, **kwargs):
        os._exit(9)  # the process dies after the step rows were written, before its PROV
    recorder.Recorder.expand = crash
    if sys.argv[2] == "submit":
        docket.open(sys.argv[1]).submit(sys.argv[3])
    else:  # a reviewer's key: the admin who submitted may not approve
        docket.open(sys.argv[1], key=sys.argv[4]).review(sys.argv[3], "approved")
""")


def counts(d) -> dict[str, int]:
    with d.store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables if t.name != "alembic_version"}


@pytest.mark.parametrize("operation", ["submit", "review"])
def test_crash_between_step_and_prov_leaves_neither(dk, instance_dir: Path, tmp_path: Path, operation: str) -> None:
    request_id = dk.submit(example_requests()[0])["id"]
    reviewer_key = key_for(dk, "reviewer", "Eva")  # the account exists before the counts
    before = counts(dk)
    state_before = dk.get(request_id)["review_state"]
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    target = str(example_requests()[1]) if operation == "submit" else request_id
    env = {"DOCKET_DATABASE_URL": dk.store.url} if dk.store.dialect == "postgresql" else None
    import os

    proc = subprocess.run([sys.executable, str(script), str(instance_dir), operation, target, reviewer_key],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert proc.returncode == 9, proc.stderr
    with docket.open(instance_dir) as fresh:
        assert counts(fresh) == before
        assert fresh.get(request_id)["review_state"] == state_before
        assert len(fresh.prov_bundles(request_id)) == 1
