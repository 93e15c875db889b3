"""A QA run is visible while it runs, never overlaps another, and a dead one is noticed (issue 11).

``docket qa`` records ``in-progress`` in a transaction of its own before the notebook starts and
holds an exclusive lock on ``runs/<id>/qa.lock`` while it runs. A second run of the same request
is refused (exit 4) while the lock is held; once the process holding it is gone (``kill -9``),
the next run records the dead one ``closed/failed`` "interrupted" and runs.

One real instance and a real ``docket qa`` process: the instance's ``[qa] notebook`` is docket's
own notebook with one cell added after the parameters that writes the kernel's pid and waits for
a release file, so the test can look at the run from outside while the notebook executes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess as sp
import sys
import time
from pathlib import Path

import nbformat
import pytest

import docket
from docket.resources import data_dir
from tests.clirun import _environment, docket_cli
from tests.test_qa import REQUESTS, init, literal, qa_bundle, ready

WAIT = 60.0  # seconds: an upper bound for a kernel to start on a loaded machine


def waiting_instance(folder: Path, release: Path, started: Path) -> None:
    """A new instance whose QA notebook waits for ``release`` once ``started`` names its kernel."""
    init(folder)
    nb = nbformat.read(data_dir("notebooks") / "qa.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        "import os, time\n"
        # written whole, then renamed: the test reads it as soon as the name exists
        f"with open({str(started) + '.tmp'!r}, 'w') as f:\n"
        "    f.write(str(os.getpid()))\n"
        f"os.replace({str(started) + '.tmp'!r}, {str(started)!r})\n"
        "deadline = time.monotonic() + 120\n"
        f"while not os.path.exists({str(release)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"))
    nbformat.write(nb, folder / "waiting.ipynb")
    with (folder / "docket.toml").open("a", encoding="utf-8") as f:
        f.write('\n[qa]\nnotebook = "waiting.ipynb"\n')


def wait_for(path: Path, proc: sp.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"docket qa ended ({proc.returncode}) before its notebook ran: {out}{err}")
        if time.monotonic() > deadline:
            pytest.fail("the QA notebook did not start in time")
        time.sleep(0.05)


def in_progress(folder: Path) -> list[str]:
    result = docket_cli("list", "--step", "qa", "--status", "in-progress", "--json", instance=folder)
    assert result.code == 0, result.err
    return [r["id"] for r in result.json()]


def qa_history(folder: Path, request_id: str) -> list[tuple[str, str | None, str | None]]:
    with docket.open(folder) as d:
        return [(h["to"], h["outcome"], h["comment"]) for h in d.history(request_id)
                if h["kind"] == "step" and h["step"] == "qa"]


def test_a_running_qa_is_visible_exclusive_and_a_killed_one_is_recorded_interrupted(tmp_path):
    folder, release, started = tmp_path / "inst", tmp_path / "release", tmp_path / "kernel.pid"
    waiting_instance(folder, release, started)
    with docket.open(folder) as d:
        request_id = ready(d, REQUESTS / "weather-table-schema.json")
    assert in_progress(folder) == []

    proc = sp.Popen([sys.executable, "-m", "docket.cli", "--instance", str(folder), "qa", request_id],
                    stdout=sp.PIPE, stderr=sp.PIPE, text=True, env=_environment(None))
    kernel = None
    try:
        wait_for(started, proc)
        kernel = int(started.read_text())
        # seen from another process while the notebook executes
        assert in_progress(folder) == [request_id]
        assert qa_history(folder, request_id) == [("in-progress", None, None)]
        with docket.open(folder) as d:
            audit = [a for a in d.audit(request_id) if a["action"] == "step:qa"]
        assert [(a["detail"]["status"], a["detail"]["run"], a["detail"]["pid"]) for a in audit] \
            == [("in-progress", 1, proc.pid)]
        # a second run of the same request while this one runs: a conflict, nothing recorded
        second = docket_cli("qa", request_id, instance=folder)
        assert second.code == 4, (second.out, second.err)
        assert "being checked by another QA run" in second.err
        assert qa_history(folder, request_id) == [("in-progress", None, None)]
        assert (folder / "runs" / request_id / "qa.lock").read_text().strip() == str(proc.pid)
        # the run dies without a word
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=WAIT)
        if kernel is not None:  # the dead run's kernel, which we started through it
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel, signal.SIGKILL)
    assert in_progress(folder) == [request_id]  # still says so: nobody could record its end

    release.touch()  # the next run's notebook goes straight through
    third = docket_cli("qa", request_id, instance=folder, timeout=WAIT * 2)
    assert third.code == 0, (third.out, third.err)
    assert in_progress(folder) == []
    steps = qa_history(folder, request_id)
    assert [s[:2] for s in steps] == [("in-progress", None), ("closed", "failed"),
                                      ("in-progress", None), ("closed", "done")]
    assert steps[1][2].startswith("interrupted: the QA run that started then ended")
    with docket.open(folder) as d:
        assert d.get(request_id)["steps"]["qa"]["outcome"] == "done"
        dead, alive = qa_bundle(d, request_id, 1), qa_bundle(d, request_id, 2)
    activity = dead["activity"][f"{request_id}_qa_1:activity"]
    assert literal(activity["dkt:outcome"]) == "failed"
    assert literal(activity["dkt:reason"]).startswith("interrupted")
    assert literal(alive["activity"][f"{request_id}_qa_2:activity"]["dkt:outcome"]) == "done"
