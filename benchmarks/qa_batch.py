"""Batch QA on Dask: 20 QA runs with 2 workers vs 1, parallel efficiency t1 / (2 * t2) >= 80%.

Each run is what ``docket qa`` does for one request: papermill starts a kernel, the QA notebook
checks the request's stored files, writes its report and plot, and the run is recorded in the
store and in PROV. All requests are the same (the alpine weather example, one 10 kB CSV with a
Table Schema), so every run costs the same.

The timed part is the batch on a cluster whose workers are up and have imported docket (a
cluster is started once per batch and its start-up, a few seconds, is not what the target is
about); ``--end-to-end`` also times ``run_batch(workers=N)`` with the cluster start included.
1-worker and 2-worker batches alternate for ``--repeat`` rounds and the median efficiency
decides, so that a busy spell on a shared machine does not decide alone. The CPU seconds of
each batch (workers and kernels, cluster start included) show how much of two cores it used.

    .venv/bin/python benchmarks/qa_batch.py [--runs 20] [--repeat 3] [--end-to-end]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docket
from docket.steps.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = ROOT / "examples" / "requests" / "weather-table-schema.json"
TARGET = 0.80


def make_instance(folder: Path, runs: int) -> list[str]:
    """An instance with ``runs`` approved, transferred requests; returns their ids."""
    d = docket.init(folder, project="bench", base_uri="https://data.example.org/bench/")
    try:
        doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        data = ROOT / "examples" / "files" / doc["files"][0]["name"]
        shutil.copy(data, folder / "inbox" / data.name)
        doc["files"][0]["location"] = str(folder / "inbox" / data.name)
        ids = []
        reviewer = d.as_key(d.add_user("Eva", "reviewer")["key"])  # the admin who submits may not approve
        for _ in range(runs):
            request_id = d.submit(doc)["id"]
            reviewer.review(request_id, "approved")
            assert d.transfer(request_id)["outcome"] == "done"
            ids.append(request_id)
        return ids
    finally:
        d.close()


def _warm() -> int:
    """Import what a QA task imports, so the timed batch measures runs, not a cold worker."""
    import papermill  # noqa: F401

    import docket.steps.qa  # noqa: F401

    return os.getpid()


def timed_batch(folder: Path, ids: list[str], workers: int) -> tuple[float, float, dict]:
    """(seconds for the batch, CPU seconds of the cluster's processes and kernels, summary)."""
    from distributed import Client, LocalCluster

    cpu_before = _children_cpu()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(_warm)
        started = time.perf_counter()
        summary = run_batch(folder, ids, scheduler=cluster.scheduler_address, progress=False)
        elapsed = time.perf_counter() - started
    return elapsed, _children_cpu() - cpu_before, summary


def _children_cpu() -> float:
    """CPU time of reaped child processes (the workers, and through them their kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check(summary: dict, runs: int) -> None:
    if summary["done"] != runs:
        bad = [r for r in summary["runs"] if r["outcome"] != "done"]
        raise SystemExit(f"not every run ended done: {bad[:3]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (the median decides)")
    parser.add_argument("--end-to-end", action="store_true", help="also time run_batch with cluster start")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="docket-qa-bench-"))
    folder = base / "inst"
    try:
        t = time.perf_counter()
        ids = make_instance(folder, args.runs)
        print(f"{args.runs} requests submitted, approved, transferred in {time.perf_counter() - t:.1f} s")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the runs")
        rounds = []
        for i in range(args.repeat):  # interleaved, so a busy spell on the machine hits both
            t1, cpu1, s1 = timed_batch(folder, ids, 1)
            check(s1, args.runs)
            t2, cpu2, s2 = timed_batch(folder, ids, 2)
            check(s2, args.runs)
            rounds.append({"t1": round(t1, 2), "t2": round(t2, 2), "efficiency": round(t1 / (2 * t2), 3),
                           "cpu1": round(cpu1, 1), "cpu2": round(cpu2, 1)})
            print(f"round {i + 1}: 1 worker {t1:6.1f} s ({t1 / args.runs:.2f} s/run, {cpu1:.0f} CPU s), "
                  f"2 workers {t2:6.1f} s ({t2 / args.runs:.2f} s/run, {cpu2:.0f} CPU s): "
                  f"efficiency {t1 / (2 * t2):.0%}")
        efficiency = statistics.median(r["efficiency"] for r in rounds)
        verdict = "meets" if efficiency >= TARGET else "MISSES"
        print(f"parallel efficiency t1 / (2 * t2), median of {len(rounds)} = {efficiency:.0%} "
              f"({verdict} the target of {TARGET:.0%})")
        print(f"load average after the runs: {os.getloadavg()[0]:.2f}")
        result = {"runs": args.runs, "rounds": rounds, "efficiency": efficiency, "target": TARGET}
        if args.end_to_end:
            for workers in (1, 2):
                t = time.perf_counter()
                summary = run_batch(folder, ids, workers=workers, progress=False)
                check(summary, args.runs)
                elapsed = time.perf_counter() - t
                result[f"end_to_end_{workers}"] = round(elapsed, 2)
                print(f"end to end, {workers} worker(s), cluster start included: {elapsed:.1f} s")
        print(json.dumps(result))
        return 0 if efficiency >= TARGET else 1
    finally:
        if args.keep:
            print(f"instance kept at {folder}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
