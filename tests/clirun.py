"""Running the real ``docket`` command line, as a user would.

By default in-process (``docket.cli.main`` with its own stdout, stderr and environment), which
exercises the same parsing, error handling and exit codes as the console script at a fraction of
the cost of a new interpreter; ``subprocess=True`` runs the installed command for the few tests
that need a real process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess as sp
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def _environment(env: dict | None) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    full.update(env or {})
    return full


def docket_cli(*args: str | Path, instance: Path | None = None, env: dict | None = None,
               subprocess: bool = False, timeout: float = 120) -> Result:
    argv = (["--instance", str(instance)] if instance is not None else []) + [str(a) for a in args]
    if subprocess:
        proc = sp.run([sys.executable, "-m", "docket.cli", *argv], capture_output=True, text=True,
                      env=_environment(env), timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)
    from docket.cli import main

    saved = dict(os.environ)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    try:
        os.environ.clear()
        os.environ.update(_environment(env))
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out.flush()
    err.flush()
    return Result(code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8"))
