"""``docket archive`` (issue 13, part 6): a BagIt bag per published revision with an RO-Crate and
the request's PROV, recorded in PROV; ``docket archive verify ID`` / ``--all`` re-check fixity.

The bags are checked independently of docket: ``bagit.Bag(path).is_valid()`` and ``rocrate``'s
``ROCrate(data_dir)``. Requests are published quickly, as ``tests/test_publish.py`` does: QA is
closed by a data manager by hand (the step's state is what publishing and archiving read), and
the quality report a QA run leaves in ``runs/<id>/qa-<n>.report.json``/``.html`` is written by
the test where the notebook would have written it. On SQLite and PostgreSQL (``instance_dir``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import bagit
import pytest
from rocrate.rocrate import ROCrate
from sqlalchemy import select

import docket
from docket.api import Docket, resolve_locations
from docket.errors import Refused
from docket.store import tables
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role

SOIL = EXAMPLES / "requests" / "soil-several-files.json"
DATA_FILES = {"soil_sites.csv", "soil_samples.csv", "soil_methods.txt"}
FORMATS = ["schemaorg", "dcat", "eml"]  # the formats that need no XSD set, to stay quick
REPORT = {"report_version": "1.0", "summary": {"errors": 0, "warnings": 0}, "checks": []}


def configure(root: Path, extra: str = "") -> None:
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write(f'\n[publication]\npublisher = "Ocean Data Centre"\nformats = {json.dumps(FORMATS)}\n{extra}')


def soil(title: str | None = None) -> dict[str, Any]:
    doc = resolve_locations(json.loads(SOIL.read_text(encoding="utf-8")), SOIL.parent)
    if title:
        doc["metadata"]["project_descriptive"]["title"] = title
    return doc


def approved_and_transferred(d: Docket, title: str | None = None) -> str:
    request_id = d.submit(soil(title))["id"]
    as_role(d, "reviewer").review(request_id, "approved")
    assert d.transfer(request_id)["outcome"] == "done"
    return request_id


def published(d: Docket, title: str | None = None) -> str:
    """Approved, transferred, QA closed/done (by hand, with the report a run leaves), published."""
    request_id = approved_and_transferred(d, title)
    d.set_step(request_id, "qa", "closed", "done")
    runs = d.instance.runs_dir / request_id
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "qa-1.report.json").write_text(json.dumps(REPORT), encoding="utf-8")
    (runs / "qa-1.report.html").write_text("<html><body>no errors</body></html>", encoding="utf-8")
    d.publish(request_id)
    return request_id


@pytest.fixture
def root(instance_dir: Path) -> Path:
    configure(instance_dir)
    return instance_dir


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archive_row(d: Docket, request_id: str) -> Any:
    a = tables.archives
    with d.store.connect() as conn:
        return conn.execute(select(a).where(a.c.request_id == request_id)).one()


# --------------------------------------------------------------------------- archive


def test_a_published_request_archives_as_a_valid_bag_with_crate_and_prov(root: Path) -> None:
    with docket.open(root) as d:
        rid = published(d)
        result = docket_cli("archive", rid, "--json", instance=root)
        assert result.code == 0, result.err
        body = result.json()
        bag_dir = root / "archive" / f"{rid}.1"
        assert body["location"] == str(bag_dir)

        # the bag, checked by bagit itself: valid, both manifests, every payload file in both
        bag = bagit.Bag(str(bag_dir))
        assert bag.is_valid()
        assert {"sha256", "md5"} <= set(bag.algorithms)
        assert (bag_dir / "manifest-sha256.txt").is_file() and (bag_dir / "manifest-md5.txt").is_file()
        entries = bag.payload_entries()
        assert all(set(sums) >= {"sha256", "md5"} for sums in entries.values())
        exports = d.publications(rid)[0]["exports"]
        assert [e["format"] for e in exports] == FORMATS
        expected = ({f"data/files/{n}" for n in DATA_FILES}
                    | {f"data/metadata/{Path(e['location']).name}" for e in exports}
                    | {f"data/provenance/{rid}.prov.json", f"data/provenance/{rid}.provn",
                       "data/quality/qa-1.report.json", "data/quality/qa-1.report.html",
                       "data/ro-crate-metadata.json"})
        assert set(entries) == expected
        assert bag.info["Payload-Oxum"] == body["bag_oxum"]
        assert bag.info["External-Identifier"] == d.publications(rid)[0]["identifier"]

        # the data files are the stored files, byte for byte, and the exports the published ones
        stored = {f["name"]: f for f in d.files(rid)}
        for name in DATA_FILES:
            assert entries[f"data/files/{name}"]["sha256"] == stored[name]["sha256"]
            assert entries[f"data/files/{name}"]["md5"] == stored[name]["md5"]
        for export in exports:
            copy = bag_dir / "data" / "metadata" / Path(export["location"]).name
            assert copy.read_bytes() == (root / export["location"]).read_bytes()
        assert json.loads((bag_dir / "data" / "quality" / "qa-1.report.json").read_text()) == REPORT

        # the RO-Crate, read by rocrate: the dataset and every file with its format and sha256
        crate = ROCrate(bag_dir / "data")
        record = d.get(rid)
        assert crate.root_dataset["name"] == record["metadata"]["project_descriptive"]["title"]
        assert crate.root_dataset["description"] == record["metadata"]["project_descriptive"]["abstract"]
        assert crate.root_dataset["license"] == "https://spdx.org/licenses/CC-BY-SA-4.0.html"
        assert crate.root_dataset["identifier"] == d.publications(rid)[0]["identifier"]
        assert crate.root_dataset["datePublished"] == d.publications(rid)[0]["published_date"]
        graph = json.loads((bag_dir / "data" / "ro-crate-metadata.json").read_text())["@graph"]
        (descriptor,) = [e for e in graph if e["@id"] == "ro-crate-metadata.json"]
        assert descriptor["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.2"}  # a released spec
        described = {e.id: e for e in crate.data_entities}
        assert set(described) == {p.removeprefix("data/") for p in expected} - {"ro-crate-metadata.json"}
        for path, entity in described.items():
            assert "File" in entity.type
            assert entity["sha256"] == entries[f"data/{path}"]["sha256"], path
            assert entity["encodingFormat"], path
        for name in DATA_FILES:
            assert described[f"files/{name}"]["encodingFormat"] == stored[name]["media_type"]
        assert described[f"provenance/{rid}.prov.json"]["encodingFormat"] == "application/json"
        assert described["quality/qa-1.report.json"]["encodingFormat"] == "application/json"

        # the PROV in the bag is the request's, up to its publication
        in_bag = json.loads((bag_dir / "data" / "provenance" / f"{rid}.prov.json").read_text())
        assert f"{rid}_publication_1:bundle" in in_bag["bundle"]
        assert b"document" in (bag_dir / "data" / "provenance" / f"{rid}.provn").read_bytes()

        # recorded: step, history, audit, row, PROV
        assert record["steps"]["archive"]["status"] == "closed"
        assert record["steps"]["archive"]["outcome"] == "done"
        assert any(h.get("step") == "archive" and h.get("to") == "closed" for h in d.history(rid)), d.history(rid)
        audit = [a for a in d.audit(rid) if a["action"] == "archive"]
        assert len(audit) == 1 and audit[0]["detail"]["bag_oxum"] == body["bag_oxum"]
        row = archive_row(d, rid)
        tag_digest = sha256(bag_dir / "tagmanifest-sha256.txt")
        assert (row.location, row.bag_oxum, row.manifest_sha256) == (f"archive/{rid}.1", body["bag_oxum"], tag_digest)
        prov = json.loads(d.export_prov(rid, "json"))
        bundle = prov["bundle"][f"{rid}_archive_1:bundle"]
        (package_id, package), = [(k, v) for k, v in bundle["entity"].items()
                                  if v["prov:type"]["$"] == "dkt:ArchivePackage"]
        assert package["prov:location"]["$"] == bag_dir.as_uri()
        assert package["dkt:payloadOxum"] == body["bag_oxum"]
        checksum = bundle["entity"][package["spdx:checksum"]["$"]]
        assert checksum["spdx:checksumValue"] == tag_digest
        derived = {v["prov:usedEntity"] for v in bundle["wasDerivedFrom"].values()
                   if v["prov:generatedEntity"] == package_id}
        assert f"{rid}.1:published" in derived
        assert {f"{rid}_transfer_1_file:{n}" for n in DATA_FILES} <= derived
        assert not [p for p in (root / "archive").iterdir() if p.name.startswith(".docket-staging-")]

        # once per revision
        again = docket_cli("archive", rid, instance=root)
        assert again.code == 3 and "archive-once" in again.err


def test_refused_unless_published_and_for_a_reviewer(root: Path) -> None:
    with docket.open(root) as d:
        rid = approved_and_transferred(d)
        d.set_step(rid, "qa", "closed", "done")
        result = docket_cli("archive", rid, instance=root)
        assert result.code == 3, result.err
        assert "archive-needs-publication" in result.err and "publication is open" in result.err
        assert not (root / "archive").exists() or not any((root / "archive").iterdir())
        assert any(a["action"] == "refused:archive" and a["detail"]["rule"] == "archive-needs-publication"
                   for a in d.audit(rid))
        assert d.get(rid)["steps"]["archive"]["status"] == "open"

        d.publish(rid)
        with pytest.raises(Refused) as refused:
            as_role(d, "reviewer").archive(rid)
        assert refused.value.rule == "staff-only" and refused.value.exit_code == 3
        with pytest.raises(Refused) as refused:
            as_role(d, "reviewer").verify_archive()
        assert refused.value.rule == "staff-only"
        assert not (root / "archive").exists() or not any((root / "archive").iterdir())
        with d.store.connect() as conn:
            assert conn.execute(select(tables.archives)).all() == []


# --------------------------------------------------------------------------- fixity


def test_verify_names_every_changed_and_missing_file(root: Path) -> None:
    with docket.open(root) as d:
        rid = published(d)
        assert d.archive(rid)["ref"] == f"{rid}.1"
        ok = docket_cli("archive", "verify", rid, instance=root)
        assert ok.code == 0, ok.err
        assert f"{rid}.1: intact" in ok.out and "1 intact, 0 with problems" in ok.out

        bag_dir = root / "archive" / f"{rid}.1"
        changed = bag_dir / "data" / "files" / "soil_sites.csv"
        data = bytearray(changed.read_bytes())
        data[10] ^= 0x01  # one byte, same size: only a checksum can tell
        changed.write_bytes(bytes(data))
        (bag_dir / "data" / "files" / "soil_methods.txt").unlink()

        bad = docket_cli("archive", "verify", rid, "--json", instance=root)
        assert bad.code == 1, bad.err
        (archive,) = bad.json()["archives"]
        named = {p["file"]: p["problem"] for p in archive["problems"]}
        assert set(named) == {"data/files/soil_sites.csv", "data/files/soil_methods.txt"}
        assert named["data/files/soil_methods.txt"] == "missing"
        assert named["data/files/soil_sites.csv"].startswith("changed")
        text = docket_cli("archive", "verify", rid, instance=root)
        assert text.code == 1
        assert "data/files/soil_sites.csv: changed" in text.out and "data/files/soil_methods.txt: missing" in text.out
        row = archive_row(d, rid)
        assert row.verified_ok is False and row.verified_date is not None
        checks = [a for a in d.audit(rid) if a["action"] == "archive:verify"]
        assert [c["detail"]["ok"] for c in checks] == [True, False, False]
        assert {p["file"] for p in checks[-1]["detail"]["problems"]} == set(named)


def test_verify_catches_a_bag_rewritten_to_match_changed_data(root: Path) -> None:
    """Data and manifests rewritten together make a bag bagit calls valid; the tag manifest
    recorded when docket wrote it does not match any more."""
    with docket.open(root) as d:
        rid = published(d)
        d.archive(rid)
    bag_dir = root / "archive" / f"{rid}.1"
    (bag_dir / "data" / "files" / "soil_sites.csv").write_text("site,ph\nX,7\n", encoding="utf-8")
    bag = bagit.Bag(str(bag_dir))
    bag.save(manifests=True)
    assert bagit.Bag(str(bag_dir)).is_valid()
    result = docket_cli("archive", "verify", rid, "--json", instance=root)
    assert result.code == 1
    assert [p["file"] for p in result.json()["archives"][0]["problems"]] == ["tagmanifest-sha256.txt"]


def test_verify_all_checks_every_archive_with_a_summary(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "long-term"
    with (root / "docket.toml").open("a", encoding="utf-8") as out:
        out.write(f'\n[archive]\nlocation = "{elsewhere.as_posix()}"\n')
    with docket.open(root) as d:
        first = published(d)
        second = published(d, "Topsoil chemistry of twenty-five Black Forest sites, second set")
        assert docket_cli("archive", first, instance=root).code == 0
        out = docket_cli("archive", second, instance=root)
        assert out.code == 0, out.err
        assert f"{second}.1: archived in {elsewhere / f'{second}.1'}" in out.out
        assert archive_row(d, second).location == str(elsewhere / f"{second}.1")  # outside: absolute
    assert docket_cli("archive", "verify", "--all", instance=root).code == 0
    (elsewhere / f"{second}.1" / "data" / "provenance" / f"{second}.provn").unlink()
    result = docket_cli("archive", "verify", "--all", instance=root)
    assert result.code == 1
    assert "2 archive(s) checked: 1 intact, 1 with problems" in result.out
    assert f"{first}.1: intact" in result.out
    assert f"data/provenance/{second}.provn: missing" in result.out
    summary = docket_cli("archive", "verify", "--all", "--json", instance=root).json()
    assert (summary["checked"], summary["ok"], summary["failed"]) == (2, 1, 1)


def test_bad_usage_and_settings_change_nothing(root: Path) -> None:
    assert docket_cli("archive", "verify", instance=root).code == 2  # neither ID nor --all
    assert docket_cli("archive", "verify", "ocean-0001", "--all", instance=root).code == 2
    assert docket_cli("archive", "ocean-0001", "ocean-0002", instance=root).code == 2
    with docket.open(root) as d:
        rid = published(d)
        missing = docket_cli("archive", "verify", rid, instance=root)
        assert missing.code == 2 and "has no archive" in missing.err
        with (root / "docket.toml").open("a", encoding="utf-8") as out:
            out.write('\n[archive]\nlocation = 7\n')
        result = docket_cli("archive", rid, instance=root)
        assert result.code == 2 and "[archive]: location" in result.err
        assert d.get(rid)["steps"]["archive"]["status"] == "open"


def test_a_stored_file_changed_since_transfer_is_not_archived(root: Path) -> None:
    """The bag would be valid (bagit hashes what it finds); the transfer's checksums are the truth."""
    with docket.open(root) as d:
        rid = published(d)
        stored = Path(next(f["location"] for f in d.files(rid) if f["name"] == "soil_samples.csv"))
        stored.write_bytes(stored.read_bytes() + b"\n")
        result = docket_cli("archive", rid, instance=root)
        assert result.code == 1, result.err
        assert "files/soil_samples.csv" in result.err and "changed since it was transferred" in result.err
        assert d.get(rid)["steps"]["archive"]["status"] == "open"
        assert not any((root / "archive").iterdir())  # the staging folder went with the attempt
        with d.store.connect() as conn:
            assert conn.execute(select(tables.archives)).all() == []
