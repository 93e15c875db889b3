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
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": tables.declared}),
                                tables.metadata)
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


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _link_or_copy(src: str, dst: str) -> str:
    """A hard link where the file system allows one (instant, no space), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _runtime_for_nobody(into: Path) -> tuple[str, dict[str, str]]:
    """An interpreter and environment with which ``nobody`` runs this checkout's docket.

    The checkout may lie in a folder other users cannot enter (a clone under ``mktemp -d``, mode
    0700), and so may the virtual environment inside it. What the child needs from there is
    copied (hard-linked when possible) into ``into``, a folder everyone may read: docket's
    source, its packaged data folders and the site-packages that lie in the checkout;
    site-packages elsewhere are used in place. The interpreter is the environment's base
    interpreter when the environment's own lies in the checkout (a venv's ``python`` is only a
    link to it). Skips, naming it, only when that interpreter itself cannot be run by ``nobody``.
    """
    import site
    import sysconfig

    from docket.resources import data_dir

    root = Path(__file__).resolve().parent.parent

    def inside(path: Path) -> bool:
        return path.resolve().is_relative_to(root)

    shutil.copytree(Path(docket.__file__).parent, into / "src" / "docket", copy_function=_link_or_copy)
    for name in ("prov_templates", "forms", "notebooks"):  # where resources.data_dir looks: beside src/
        shutil.copytree(data_dir(name), into / name, copy_function=_link_or_copy)
    paths = [str(into / "src")]
    sites = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    for number, entry in enumerate(p for p in map(Path, sites) if p.is_dir()):
        if inside(entry):  # without the editable install's traces of the checkout: src/ is above
            target = into / f"site-{number}"
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy,
                            ignore=lambda _d, names: [n for n in names if n == "docket" or n.endswith(".pth")])
            paths.append(str(target))
        else:
            paths.append(str(entry))
    python = sys.executable
    if inside(Path(python).parent):
        python = getattr(sys, "_base_executable", python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKET_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    probe = subprocess.run([*NOBODY, python, "-s", "-c", "pass"], capture_output=True, text=True, env=env,
                           cwd=into, timeout=60)
    if probe.returncode != 0 or inside(Path(python).parent):
        pytest.skip(f"the interpreter {python} cannot be run by nobody (a folder on its path is closed to other "
                    f"users, or it lies in the checkout): {probe.stderr.strip()[:200]}")
    return python, env


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
        # Everything the child reads lies in folder, whatever the checkout's folder lets others do.
        python, env = _runtime_for_nobody(folder / "runtime")
        request = shutil.copy(EXAMPLES / "requests" / "soil-several-files.json", folder / "request.json")
        proc = subprocess.run(
            [*NOBODY, python, "-s", "-m", "docket.cli", "--instance", str(inst), "submit", str(request)],
            capture_output=True, text=True, env=env, cwd=folder, timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert "read-only" in proc.stderr and "Traceback" not in proc.stderr
        assert (inst / "docket.sqlite").read_bytes() == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _store_at_0001(tmp_path: Path, url: str | None = None, schema: str | None = None) -> Path:
    """An instance whose store was made by migration 0001 only (an older docket)."""
    from alembic import command
    from sqlalchemy import text

    from docket.store import Store, alembic_config

    folder = tmp_path / "old"
    folder.mkdir()
    store_url = url or f"sqlite:///{folder / 'docket.sqlite'}"
    store = Store(store_url, schema)
    store.create_schema()
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    store.dispose()
    table = f'[store]\nurl = "{store_url}"\n' + (f'schema = "{schema}"\n' if schema else "")
    (folder / "docket.toml").write_text('[instance]\nproject = "ocean"\nbase_uri = "https://x.example.org/"\n' + table)
    return folder


def test_db_current_and_upgrade(tmp_path: Path) -> None:
    from tests.clirun import docket_cli

    folder = _store_at_0001(tmp_path)
    before = docket_cli("db", "current", "--json", instance=folder).json()
    assert before["current"] == "0001" and not before["up_to_date"]
    assert "docket db upgrade" in docket_cli("db", "current", instance=folder).out
    done = docket_cli("db", "upgrade", "--json", instance=folder).json()
    assert done == {"from": "0001", "to": docket.api.Docket.open(folder, migrate=False).store.head()}
    assert docket_cli("db", "current", "--json", instance=folder).json()["up_to_date"]


@pytest.mark.postgres
def test_clients_opening_an_old_postgres_store_at_once_migrate_it_once(tmp_path: Path, pg_schema: str) -> None:
    import threading

    from tests.conftest import PG_URL

    folder = _store_at_0001(tmp_path, PG_URL, pg_schema)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def client() -> None:
        try:
            d = docket.open(folder, migrate=False)
            start.wait()
            d.store.ensure_current()  # what opening an instance does
            d.close()
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    # A store from before accounts has none after the upgrade, and nothing in docket makes a first
    # admin for it (reported to the coordinator); the test adds one to read the migrated store.
    from docket.people import accounts

    with docket.open(folder, anonymous=True) as d, d.store.transaction() as conn:
        _, key = accounts.add(conn, "Ada Admin", "admin", email=None, expires=None, created_by="test",
                              at=docket.api.now())
    with docket.open(folder, key=key) as d:
        assert d.store.current() == d.store.head()
        assert d.list() == []
