"""Running the real ``docket`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def docket_cli(*args: str | Path, instance: Path | None = None, env: dict | None = None,
               input: str | None = None, timeout: float = 120) -> Result:
    cmd = [sys.executable, "-m", "docket.cli"]
    if instance is not None:
        cmd += ["--instance", str(instance)]
    cmd += [str(a) for a in args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, input=input, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)
