"""QA of many requests at once, on Dask distributed.

By default a :class:`~distributed.LocalCluster` of ``workers`` single-threaded processes runs on
this machine; with ``scheduler`` an existing Dask scheduler runs the batch instead (a data
centre's Slurm or PBS cluster through dask-jobqueue, for instance). Workers must see the instance
folder at the same path and have docket installed.

Each task opens the instance itself (only a path crosses to the worker, never a connection) and
runs :func:`docket.steps.qa.run_qa`, which records its own step in its own transaction. A task
that fails, for whatever reason, becomes a line of the summary; it never stops the others.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from docket.errors import BadInput, DocketError


def qa_task(instance_dir: str, request_id: str, checks: list[str] | None = None,
            actor: Any = None) -> dict[str, Any]:
    """One QA run, as a worker executes it; returns the run's summary or why it did not run.

    The worker opens the instance itself, through the package's entry point (:func:`docket.open`,
    as any script would), and runs the step with a context of its own acting for ``actor`` (the
    person the command line checked), or for docket itself when none is given.
    """
    import docket
    from docket.steps.context import StepContext
    from docket.steps.qa import run_qa

    try:
        with docket.open(instance_dir) as host:
            result = run_qa(StepContext.of(host, actor), request_id, checks=checks)
    except DocketError as exc:
        return failure(request_id, exc.message, exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - one run's crash must stay that run's
        return failure(request_id, f"{type(exc).__name__}: {exc}")
    keep = ("id", "revision", "n", "outcome", "activity", "valid", "errors", "warnings", "reason",
            "comment", "executed", "report", "report_html", "failing")
    return {k: result[k] for k in keep}


def failure(request_id: str, message: str, exit_code: int = 1) -> dict[str, Any]:
    return {"id": request_id, "outcome": "not-run", "message": message, "exit_code": exit_code}


def run_batch(instance_dir: str | os.PathLike[str], ids: Iterable[str], *, workers: int = 2,
              scheduler: str | None = None, progress: bool = True, checks: list[str] | None = None,
              actor: Any = None) -> dict[str, Any]:
    """Run QA on every request in ``ids``; returns a summary with one entry per id, in order.

    ``outcome`` of an entry is ``done`` (no errors), ``rejected`` (the run completed and the report
    has errors), ``failed`` (the run could not complete: notebook raised, kernel died, no report,
    a stored file missing; ``reason`` says which) or ``not-run`` (refused, unknown id, worker
    lost...; ``message`` says why). Each has its count in the summary.
    """
    ids = list(dict.fromkeys(ids))
    if workers < 1:
        raise BadInput(f"--workers must be at least 1, not {workers}")
    instance_dir = str(Path(instance_dir).resolve())
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    if ids:
        with _client(workers, scheduler) as client:
            results = _run(client, instance_dir, ids, progress, checks, actor)
    runs = [results[i] for i in ids]
    return {
        "instance": instance_dir,
        "scheduler": scheduler or f"local cluster, {workers} workers",
        "total": len(runs),
        "done": sum(r["outcome"] == "done" for r in runs),
        "rejected": sum(r["outcome"] == "rejected" for r in runs),
        "failed": sum(r["outcome"] == "failed" for r in runs),
        "not_run": sum(r["outcome"] == "not-run" for r in runs),
        "with_errors": sum(bool(r.get("errors")) for r in runs),
        "seconds": round(time.perf_counter() - started, 2),
        "runs": runs,
    }


def _run(client: Any, instance_dir: str, ids: list[str], progress: bool, checks: list[str] | None,
         actor: Any) -> dict[str, dict[str, Any]]:
    from distributed import as_completed

    futures = {
        client.submit(qa_task, instance_dir, request_id, checks, actor, key=f"docket-qa-{request_id}-{i}",
                      pure=False, retries=0): request_id
        for i, request_id in enumerate(ids)
    }
    results: dict[str, dict[str, Any]] = {}
    bar = tqdm(as_completed(futures), total=len(futures), desc="qa", unit="run", disable=not progress)
    for future in bar:
        request_id = futures[future]
        try:
            results[request_id] = future.result()
        except Exception as exc:  # a lost worker, a crash outside docket: this run only
            results[request_id] = failure(request_id, f"{type(exc).__name__}: {exc}")
        bar.set_postfix_str(f"{request_id} {results[request_id]['outcome']}")
    return results


class _client:
    """A Dask client on an existing scheduler, or on a LocalCluster made (and closed) here."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        self.workers, self.scheduler = workers, scheduler
        self.cluster = self.client = None

    def __enter__(self) -> Any:
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise BadInput(f"--scheduler: cannot reach a Dask scheduler at {self.scheduler!r} ({exc})") from None
            return self.client
        self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
