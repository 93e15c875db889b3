"""How long the ``docket`` command takes to start, against references measured in the same run.

Targets (issue 11, item 7):

  docket --version, docket --help     under 0.25 s each (a new interpreter included)
  docket check tiny.csv               no slower than ``frictionless validate tiny.csv``

Every contender is a new process, run as a user types it (the console scripts next to this
interpreter): ``python -c pass`` (the floor any Python command pays), ``docket --version``,
``docket --help``, ``docket check`` and ``frictionless validate`` on a two-line CSV file, and
``frictionless --version``. Contenders run interleaved, round by round, so load from other jobs
hits each round alike; the figures are medians over the rounds, and the check ratio is the median
of the per-round ratios.

Usage: python benchmarks/startup.py [--repeat 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TARGET = 0.25  # seconds, docket --version and docket --help
CHECK_TARGET = 1.0  # docket check / frictionless validate, tiny file


def script(name: str, module: str | None = None) -> list[str]:
    """The console script next to this interpreter, as a user runs it (else ``python -m``)."""
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return [str(exe)]
    if module is not None:
        return [sys.executable, "-m", module]
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed; it is part of the reference this benchmark compares to "
                         "(pip install -e '.[bench]')")
    return [found]


def contenders(tiny: str) -> dict[str, list[str]]:
    """The commands, run in the folder holding ``tiny`` (frictionless refuses absolute paths)."""
    docket = script("docket", "docket.cli")
    frictionless = script("frictionless")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "docket --version": [*docket, "--version"],
        "docket --help": [*docket, "--help"],
        "docket check tiny.csv": [*docket, "check", tiny],
        "frictionless validate tiny.csv": [*frictionless, "validate", tiny],
        "frictionless --version": [*frictionless, "--version"],
    }


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    # As installed: pip compiles what it installs, and a checkout's modules are compiled by their
    # first run; PYTHONDONTWRITEBYTECODE would have every run compile docket's sources again.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DOCKET_") and k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="docket-startup-") as folder:
        cwd = Path(folder)
        tiny = cwd / "tiny.csv"
        tiny.write_text("a,b\n1,2\n", encoding="utf-8")
        cmds = contenders(tiny.name)
        for cmd in cmds.values():  # one untimed run each: bytecode written, files in the page cache
            timed(cmd, env, cwd)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                times[name].append(timed(cmd, env, cwd))

    median = {name: statistics.median(values) for name, values in times.items()}
    check_ratios = [d / f for d, f in zip(times["docket check tiny.csv"], times["frictionless validate tiny.csv"],
                                          strict=True)]
    check_ratio = statistics.median(check_ratios)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "repeat": args.repeat,
        "median_seconds": {name: round(value, 4) for name, value in median.items()},
        "min_seconds": {name: round(min(values), 4) for name, values in times.items()},
        "version_over_python": round(median["docket --version"] / median["python -c pass"], 2),
        "help_over_python": round(median["docket --help"] / median["python -c pass"], 2),
        "check_over_frictionless": round(check_ratio, 2),
        "targets": {
            "version_under_0.25s": median["docket --version"] < START_TARGET,
            "help_under_0.25s": median["docket --help"] < START_TARGET,
            "check_not_slower_than_frictionless": check_ratio <= CHECK_TARGET,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.repeat} rounds, load {result['machine']['load']:.2f}, {os.cpu_count()} CPUs; "
              "median (min) seconds of a new process")
        for name in cmds:
            print(f"  {name:<32} {median[name]:7.3f}  ({min(times[name]):.3f})")
        print(f"docket --version: {median['docket --version']:.3f} s, {result['version_over_python']}x python -c pass"
              f"  [target < {START_TARGET} s: {'met' if result['targets']['version_under_0.25s'] else 'MISSED'}]")
        print(f"docket --help:    {median['docket --help']:.3f} s, {result['help_over_python']}x python -c pass"
              f"  [target < {START_TARGET} s: {'met' if result['targets']['help_under_0.25s'] else 'MISSED'}]")
        print(f"docket check / frictionless validate (tiny file): {check_ratio:.2f}"
              f"  [target <= {CHECK_TARGET}: "
              f"{'met' if result['targets']['check_not_slower_than_frictionless'] else 'MISSED'}]")
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
