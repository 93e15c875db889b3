"""The command starts at once: what ``docket`` imports before it does anything (issue 11, item 7).

These tests are about *what* is imported, not how long it takes (timings are for
``benchmarks/startup.py``): each runs the command in a new interpreter and reads the modules it
loaded, either from ``-X importtime`` (every module imported, as ``python -m docket.cli`` runs)
or from ``sys.modules`` after calling ``docket.cli.main`` in a child. Building the parser must not
import the API or any heavy library; each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirun import docket_cli

#: What ``docket --version`` and ``docket --help`` (and a sub-command's help) must not load: the
#: store (SQLAlchemy, Alembic, psycopg), the data stack (pandas, pyarrow, numpy), PROV, the
#: notebooks (papermill, nbformat), the schema validators, Dask.
HEAVY = frozenset({
    "sqlalchemy", "alembic", "psycopg", "pandas", "pyarrow", "numpy", "prov", "rdflib", "lxml",
    "papermill", "nbformat", "nbclient", "jsonschema", "jsonschema_rs", "referencing", "dask",
    "distributed", "tqdm", "voila", "ipywidgets", "matplotlib",
})
#: What ``docket check`` needs is pyarrow and numpy, and jsonschema-rs (compiled, ~25 ms) to hold a
#: Table Schema to its official profile; never pandas (which pyarrow would load at its first
#: conversion: see ``docket.cli.commands.check.pyarrow_without_pandas``), the store, PROV, the
#: notebooks or the pure-Python JSON Schema stack.
NOT_FOR_CHECK = frozenset({
    "pandas", "sqlalchemy", "alembic", "psycopg", "prov", "rdflib", "lxml", "papermill",
    "nbformat", "nbclient", "jsonschema", "referencing", "dask", "distributed",
    "voila", "ipywidgets", "matplotlib",
})
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"

#: A child that runs ``main()`` as the console script does (arguments from ``sys.argv``, so the
#: command owns the process), then reports its result and every top-level module loaded.
_CHILD = """
import contextlib, io, json, sys
from docket.cli import main
sys.argv = ["docket", *json.loads(sys.argv[1])]
out, err = io.StringIO(), io.StringIO()
try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main()
except SystemExit as exc:  # --version and --help end in argparse's exit
    code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                  "modules": sorted({name.partition(".")[0] for name in sys.modules})}))
"""


def _child_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}


def loaded_by_main(argv: list[str], cwd: Path | None = None) -> tuple[dict, set[str]]:
    """Run ``docket ARGV`` through ``docket.cli.main`` in a new interpreter; its result and the
    top-level modules it left in ``sys.modules``."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(argv)], capture_output=True,
                          text=True, env=_child_env(), cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    return result, set(result["modules"])


def loaded_by_command(argv: list[str], cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime -m docket.cli ARGV``; the process and every top-level module it
    imported (from the import-time report on stderr)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "docket.cli", *argv],
                          capture_output=True, text=True, env=_child_env(), cwd=cwd, timeout=120)
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the report's header line
                modules.add(name.partition(".")[0])
    return proc, modules


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str) -> None:
    proc, modules = loaded_by_command([flag])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "docket" in modules and "argparse" in modules  # the report was read
    assert modules & HEAVY == set()
    assert ("docket 0.1.0" if flag == "--version" else "COMMAND") in proc.stdout


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_main_in_a_child_loads_nothing_heavy(argv: list[str]) -> None:
    result, modules = loaded_by_main(argv)
    assert result["code"] == (0 if argv else 2)
    assert modules & HEAVY == set()


@pytest.mark.parametrize("argv", [
    ["check", "--help"], ["submit", "--help"], ["review", "--help"], ["form", "export", "--help"],
    ["import", "--help"], ["serve", "--help"], ["template", "expand", "--help"], ["qa", "--help"],
    ["db", "current", "--help"], ["prov", "--help"], ["transfer", "--help"],
])
def test_a_commands_help_loads_nothing_heavy(argv: list[str]) -> None:
    result, modules = loaded_by_main(argv)
    assert result["code"] == 0
    assert "usage: docket" in result["out"]
    assert modules & HEAVY == set()


def test_usage_errors_load_nothing_heavy() -> None:
    """A mistyped command is refused (exit 2) before anything heavy is imported, and ``docket
    import`` checks its paths before it loads the API."""
    result, modules = loaded_by_main(["nosuch"])
    assert result["code"] == 2 and "invalid choice" in result["err"]
    assert modules & HEAVY == set()
    result, modules = loaded_by_main(["import", "/nonexistent/forms"])
    assert result["code"] == 2
    assert modules & HEAVY == set()


@pytest.mark.parametrize("schema", [None, "observations.schema.json"])
def test_check_loads_only_what_it_uses(tmp_path: Path, schema: str | None) -> None:
    (tmp_path / "tiny.csv").write_text("obs_id,station\n1,ST001\n", encoding="utf-8")
    argv = ["check", "tiny.csv", "--json"] + (["--schema", str(EXAMPLES / schema)] if schema else [])
    result, modules = loaded_by_main(argv, cwd=tmp_path)
    assert result["code"] in (0, 1), result["err"]
    assert json.loads(result["out"])["subject"]["name"] == "tiny.csv"
    assert {"pyarrow", "numpy"} <= modules
    assert modules & NOT_FOR_CHECK == set()
    # The same through python -m (every import attempted: pandas only as the refused probe).
    proc, attempted = loaded_by_command(argv, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert attempted & (NOT_FOR_CHECK - {"pandas"}) == set()


def _report(text: str) -> dict:
    report = json.loads(text)
    report.pop("created")
    return report


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.csv")))
def test_check_without_pandas_reports_exactly_as_with_it(name: str) -> None:
    """The console script checks with pyarrow told there is no pandas; in a Python that uses
    pandas (this one) the same check gives the same report, byte for byte but the time."""
    import pandas  # noqa: F401 - pyarrow in this process converts with pandas

    schema = "survey.schema.json" if name == "survey.csv" else "observations.schema.json"
    argv = ["check", str(EXAMPLES / name), "--schema", str(EXAMPLES / schema), "--json"]
    if name == "latin1.csv":
        argv += ["--encoding", "latin-1"]
    alone, modules = loaded_by_main(argv)
    assert "pandas" not in modules
    here = docket_cli(*argv)
    assert (alone["code"], alone["err"]) == (here.code, here.err)
    assert _report(alone["out"]) == _report(here.out)


def test_pandas_still_works_after_pyarrow_was_told_it_has_none() -> None:
    code = (
        "from docket.cli.commands.check import pyarrow_without_pandas\n"
        "import sys\n"
        "pyarrow_without_pandas()\n"
        "import pyarrow as pa, pyarrow.compute as pc\n"
        "assert pc.sum(pa.array([1, 2])).as_py() == 3 and 'pandas' not in sys.modules\n"
        "import pandas as pd\n"
        "frame = pa.Table.from_pandas(pd.DataFrame({'a': [1.5, None]})).to_pandas()\n"
        "assert frame['a'].isna().tolist() == [False, True]\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_import_docket_is_light_and_the_api_still_reachable(tmp_path: Path) -> None:
    code = (
        "import sys, docket\n"
        "light = sorted({m.partition('.')[0] for m in sys.modules} & set(sys.argv[1].split(',')))\n"
        "assert not light, light\n"
        "assert 'docket.api' not in sys.modules\n"
        "actor = docket.api.Actor('Eva Novak', 'reviewer')\n"
        "assert 'docket.api' in sys.modules and actor.role == 'reviewer'\n"
        "with docket.init(sys.argv[2], project='ocean') as d:\n"
        "    pass\n"
        "with docket.open(sys.argv[2]) as d:\n"
        "    assert d.list() == []\n"
        "try:\n"
        "    docket.nosuch\n"
        "except AttributeError as exc:\n"
        "    assert 'nosuch' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('docket.nosuch exists')\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, ",".join(sorted(HEAVY)), str(tmp_path / "inst")],
                          capture_output=True, text=True, env=_child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_doctor_help_still_lists_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    """The ids in ``docket doctor --check``'s help come from docket.doctor when the help is shown."""
    from docket.cli import main
    from docket.doctor import all_checks

    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    ids = ", ".join(c.id for c in all_checks())
    assert f"only these checks ({ids})" in help_text


def test_doctor_unknown_check_is_still_named() -> None:
    result = docket_cli("doctor", "--check", "nope")
    assert result.code == 2
    assert "--check: unknown check nope; known: config.keywords, config.map_tiles, files.leftovers" in result.err


def test_store_error_is_still_one_line(tmp_path: Path) -> None:
    """SQLAlchemy is no longer imported to catch its errors; a broken store still reads as one."""
    folder = tmp_path / "inst"
    assert docket_cli("init", folder, "--project", "ocean").code == 0
    (folder / "docket.sqlite").write_bytes(b"not a database, " * 256)
    result = docket_cli("list", instance=folder)
    assert result.code == 2
    assert result.err.startswith("docket: store error, nothing was changed: file is not a database")


def test_is_store_error_without_and_with_sqlalchemy() -> None:
    from sqlalchemy.exc import OperationalError

    from docket.cli import _is_store_error

    assert not _is_store_error(ValueError("x"))
    assert _is_store_error(OperationalError("SELECT 1", {}, Exception("boom")))
