"""Idempotent import under a race, and the migration that moved the import index to its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, select, text

import docket
from docket.store import alembic_config, tables
from tests.conftest import EXAMPLES


def test_the_same_form_imported_by_two_processes_at_once_is_one_record(dk, instance_dir: Path) -> None:
    form = EXAMPLES / "offline" / "ctd-survey.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    imported = 0
    for _ in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "docket.cli", "--instance", str(instance_dir),
                                   "import", str(form), "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
        for code, out, err in results:
            assert code == 0, err
            assert "Traceback" not in err
            report = json.loads(out)
            assert report["imported"] + report["already_imported"] == 1
            imported += report["imported"]
    assert imported == 1  # of six imports of the same form, exactly one stored it
    assert len(dk.list()) == 1
    with dk.store.connect() as conn:
        assert conn.execute(select(tables.imports)).all()[0].request_id == dk.list()[0]["id"]


def test_migration_moves_import_keys_from_the_audit_log(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    url = f"sqlite:///{folder / 'docket.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("INSERT INTO requests (id, project, number, revision, review_state, title, provider, "
                          "steps, version, created_date, last_modified_date) VALUES ('ocean-0001', 'ocean', 1, 1, "
                          "'submitted', 't', 'p', '{}', 1, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO audit_log (at, actor, role, action, request_id, origin, detail) VALUES "
                          "('2026-01-01', 'a', 'provider', 'submit', 'ocean-0001', 'import:abc123 form.json', :d)"),
                     {"d": json.dumps({"revision": 1})})
    engine.dispose()
    (folder / "docket.toml").write_text('[instance]\nproject = "ocean"\nbase_uri = "https://x.example.org/"\n')
    with docket.open(folder) as d, d.store.connect() as conn:  # opening upgrades to the newest
        rows = conn.execute(select(tables.imports)).all()
    assert [(r.key, r.request_id, r.revision, r.source) for r in rows] == [("abc123", "ocean-0001", 1, "form.json")]
