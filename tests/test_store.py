"""The store itself: migrations match the tables, schema overrides, refusals of a read-only store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import docket
from docket.errors import InvalidDocument
from docket.store import tables
from tests.conftest import EXAMPLES


def test_migrations_create_exactly_the_declared_tables(dk) -> None:
    with dk.store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == []
    assert dk.store.current() == dk.store.head()


def test_instance_schema_overrides_packaged_one(instance_dir: Path) -> None:
    packaged = Path(docket.__file__).parent / "schemas" / "project_descriptive.schema.json"
    schema = json.loads(packaged.read_text())
    schema["version"] = "1.0-centre"
    schema["properties"]["keywords"]["minItems"] = 6
    (instance_dir / "schemas" / "project_descriptive.schema.json").write_text(json.dumps(schema))
    request = EXAMPLES / "requests" / "weather-table-schema.json"  # four keywords
    with docket.open(instance_dir) as d:
        with pytest.raises(InvalidDocument) as info:
            d.submit(request)
        assert [p.where for p in info.value.problems] == ["$.metadata.project_descriptive.keywords"]
        doc = json.loads(request.read_text())
        doc["metadata"]["project_descriptive"]["keywords"] += ["summer", "convection"]
        new = d.submit(doc)
        stored = d.get(new["id"])
    part = stored["schema"]["parts"]["project_descriptive"]
    assert part == {"id": schema["$id"], "version": "1.0-centre", "source": "instance"}
    assert stored["schema"]["parts"]["common"]["source"] == "packaged"


def test_broken_schema_override_is_a_clear_error(instance_dir: Path) -> None:
    (instance_dir / "schemas" / "file.schema.json").write_text("{not json")
    from tests.clirun import docket_cli

    result = docket_cli("list", instance=instance_dir)
    assert result.code == 2 and "file.schema.json" in result.err and "Traceback" not in result.err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to act as another user")
def test_read_only_instance_is_refused_and_unchanged() -> None:
    folder = Path(tempfile.mkdtemp(prefix="docket-ro-"))
    try:
        folder.chmod(0o755)
        inst = folder / "inst"
        docket.init(inst, project="ocean").close()
        with docket.open(inst) as d:
            d.submit(EXAMPLES / "requests" / "ctd-multilingual.json")
        before = (inst / "docket.sqlite").read_bytes()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "docket.cli",
             "--instance", str(inst), "submit", str(EXAMPLES / "requests" / "soil-several-files.json")],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert "read-only" in proc.stderr and "Traceback" not in proc.stderr
        assert (inst / "docket.sqlite").read_bytes() == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)
