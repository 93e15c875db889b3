"""The qa step: execute the QA notebook with papermill and record what it found.

The notebook (``notebooks/qa.ipynb``, or the one an instance names in ``docket.toml`` under
``[qa] notebook``) runs the checks and writes the quality report; the executed notebook and the
report are kept in ``runs/<id>/qa-<n>.ipynb`` and ``runs/<id>/qa-<n>.report.json``, ``n`` being
the qa step instance, and the report as a page for the provider (:mod:`docket.reports.html`, in
the provider's language) in ``runs/<id>/qa-<n>.report.html``. The run is then recorded in one
transaction: the step's outcome, history, audit and the qa-run PROV bundle: the run, the notebook
as its plan (with its digest), the parameters, the executed notebook and the report as generated
entities, the report derived from the stored files of the latest transfer, and the report's
summary counts.

The outcome says what happened (and what ``docket qa`` exits with):

``closed/done``
    the run completed and the report has no errors (exit 0);
``closed/rejected``
    the run completed and the report has errors: the data need fixing (exit 1);
``closed/failed``
    the run could not complete: the notebook raised, its kernel died or timed out, papermill
    failed, the notebook wrote no usable report, or a stored file had gone from ``files/``
    (exit 5). ``reason`` says which, in history (the comment) and in PROV (``dkt:reason``).

The notebook runs in its own kernel, so a crash in it (or in a check) cannot take docket down:
it is a failed run, recorded like any other. Neither ``rejected`` nor ``failed`` lets the
request be published; QA may run again from either.

A run is visible while it runs, and two runs of one request never overlap (as for transfer,
:mod:`docket.steps.transfer`):

1. It takes an exclusive ``flock`` on ``runs/<id>/qa.lock`` without waiting, and holds it until
   it ends; the kernel drops the lock of a killed process, so a lock held means a live run. A
   lock held by another process is a Conflict (exit 4): that request is being checked.
2. If the step still says ``in-progress`` although nobody holds the lock, the run that wrote it
   died (``kill -9``, a crash of the machine): it is first recorded ``closed/failed``,
   "interrupted", with its PROV bundle.
3. It records ``in-progress`` in a transaction of its own (history and audit, naming the run's
   number and process), so ``docket list --step qa --status in-progress`` shows it.
4. The notebook runs and the outcome is recorded as above; if Python can still act when the
   run is stopped (Ctrl-C, an unexpected error), the run is recorded ``closed/failed`` at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from docket.errors import BadInput, Conflict, DocketError, InstanceError
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id
from docket.provenance.terms import checksum_hex, checksum_id, location_iri
from docket.resources import data_dir
from docket.steps.context import StepContext, StepHost, now, parse_ref
from docket.steps.transfer import stored_file_id
from docket.store import tables

if TYPE_CHECKING:
    from docket.checks import Report

NOTEBOOK_NAME = "qa.ipynb"
#: The file in ``runs/<id>/`` a running QA run holds an exclusive ``flock`` on.
LOCK_NAME = "qa.lock"
#: Why a run found ``in-progress`` with no live process behind it is recorded as failed.
INTERRUPTED = ("interrupted: the QA run that started then ended without recording an outcome "
               "(its process was stopped); noticed when QA was run again")


# --------------------------------------------------------------------------- what the notebook uses


def selected_severities(instance_severities: dict[str, str] | None,
                        checks: list[str] | None) -> dict[str, str]:
    """The severities of one run: the instance's ``[severities]``, and every check that is not
    selected turned ``off`` (it stays in the report as ``not-checked``, so a reader sees what was
    skipped). A selection names check ids (``table.type``) or whole families (``metadata``).
    Unknown names are bad input, so a typo cannot silently run nothing.
    """
    from docket.checks import all_checks
    from docket.checks.registry import resolve_severities

    severities = resolve_severities(instance_severities)
    if checks is None:
        return severities
    known = all_checks()
    names = {c.id for c in known} | {c.family for c in known}
    wanted = {str(c).strip() for c in checks if str(c).strip()}
    unknown = sorted(wanted - names)
    if unknown:
        raise BadInput(
            f"--checks: unknown check {', '.join(map(repr, unknown))} (give check ids such as "
            f"table.type, or families: {', '.join(sorted({c.family for c in known}))})"
        )
    if not wanted:
        raise BadInput("--checks: no check named; leave it out to run every check")
    for cls in known:
        if cls.id not in wanted and cls.family not in wanted:
            severities[cls.id] = "off"
    return severities


def qa_inputs(docket: StepHost, request_id: str, revision: int | None = None
              ) -> tuple[dict[str, Any], dict[str, Path], dict[str, dict[str, Any]]]:
    """What the checks need: the record, where each stored file is, and what transfer measured.

    Files that were not stored are left out, so ``file.reachable`` reports them.
    """
    request_id, rev = parse_ref(request_id)
    record = docket.get(request_id, revision or rev)
    current = docket.get(request_id)["revision"]
    if record["revision"] != current:
        raise BadInput(f"{request_id}: QA checks the files of the current revision ({current}), "
                       f"not revision {record['revision']}")
    stored = [f for f in docket.files(request_id) if f["status"] == "stored" and f["location"]]
    files = {f["name"]: Path(f["location"]) for f in stored}
    measured = {f["name"]: {k: f[k] for k in ("size", "md5", "sha256") if f[k] is not None} for f in stored}
    return record, files, measured


def run_checks(docket: StepHost, request_id: str, revision: int | None = None,
               checks: list[str] | None = None) -> Report:
    """Run the checks on a request as the QA notebook does (also usable without a kernel)."""
    from docket.checks import check_request

    record, files, measured = qa_inputs(docket, request_id, revision)
    severities = selected_severities(docket.config.severities, checks)
    return check_request(record, files, measured, severities=severities)


# --------------------------------------------------------------------------- the step


def notebook_path(docket: StepHost) -> Path:
    """The QA notebook: the instance's own (``[qa] notebook``, relative to the instance folder)
    or docket's."""
    configured = (docket.config.extra.get("qa") or {}).get("notebook")
    if configured:
        path = Path(configured)
        path = path if path.is_absolute() else docket.instance.root / path
        if not path.is_file():
            raise InstanceError(f"docket.toml [qa] notebook: {path} is not a file")
        return path
    return data_dir("notebooks") / NOTEBOOK_NAME


def pending(docket: StepHost) -> list[str]:
    """Requests waiting for QA: approved, transfer closed/done, qa still open (oldest first)."""
    out = []
    for row in docket.list(status="approved"):
        steps = row["steps"] or {}
        transfer = steps.get("transfer", {})
        if (transfer.get("status"), transfer.get("outcome")) == ("closed", "done") \
                and steps.get("qa", {}).get("status", "open") == "open":
            out.append(row["id"])
    return list(reversed(out))


def latest_transfer_n(docket: StepHost, request_id: str) -> int | None:
    ns = [b["n"] for b in docket.prov_bundles(request_id) if b["step"] == "transfer"]
    return max(ns) if ns else None


def next_qa_n(docket: StepHost, request_id: str) -> int:
    return max((b["n"] for b in docket.prov_bundles(request_id) if b["step"] == "qa"), default=0) + 1


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def run_qa(ctx: StepContext, ref: str, *, checks: list[str] | None = None,
           progress: bool = False) -> dict[str, Any]:
    """Execute the QA notebook on request ``ref`` as ``ctx.actor`` and record the run; returns a summary.

    Refused (exit 3) unless the request is approved and its transfer closed/done; bad ``checks``
    are refused (exit 2) before a kernel starts. The step ends ``closed/done`` (no errors),
    ``closed/rejected`` (the report has errors) or ``closed/failed`` (the run could not complete;
    ``reason`` says why, and no kernel starts when a stored file is missing).
    """
    from docket.workflow import StepChange, check_step_change

    request_id, _ = parse_ref(ref)
    docket = ctx.host
    doc = docket.get(request_id)
    check_step_change(StepChange("qa", "in-progress"), ctx.actor.role, doc["review_state"], doc["steps"])
    selected_severities(docket.config.severities, checks)  # bad names fail here, not in the kernel
    notebook = notebook_path(docket)
    notebook_digest = sha256_of(notebook)
    run_dir = docket.instance.runs_dir / request_id
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir / LOCK_NAME, request_id):
        doc = docket.get(request_id)  # as it is now that no other run can change it
        if (doc["steps"] or {}).get("qa", {}).get("status") == "in-progress":
            _record_interrupted(ctx, request_id, INTERRUPTED)
            doc = docket.get(request_id)
        n = next_qa_n(docket, request_id)
        ctx.begin(request_id, doc["revision"], "qa", what="QA",
                  busy=f"{request_id} is being checked by another QA run; wait for it to finish",
                  detail={"run": n, "pid": os.getpid()})
        try:
            return _run(ctx, request_id, doc, n, checks=checks, progress=progress, notebook=notebook,
                        notebook_digest=notebook_digest, run_dir=run_dir)
        except BaseException as exc:  # say so now, while we can; a closed step is left alone
            reason = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else (
                f"interrupted: {exc.message}" if isinstance(exc, DocketError)
                else f"interrupted by an internal error ({type(exc).__name__})")
            with contextlib.suppress(Exception):
                _record_interrupted(ctx, request_id, reason)
            raise


def _run(ctx: StepContext, request_id: str, doc: dict[str, Any], n: int, *, checks: list[str] | None,
         progress: bool, notebook: Path, notebook_digest: str, run_dir: Path) -> dict[str, Any]:
    """Execute the notebook for run ``n`` (already recorded ``in-progress``) and record its end."""
    docket, actor = ctx.host, ctx.actor
    revision = doc["revision"]
    transfer_n = latest_transfer_n(docket, request_id)
    stored_rows = [f for f in docket.files(request_id) if f["status"] == "stored"]
    stored = [f["name"] for f in stored_rows]
    checked = [Id(stored_file_id(request_id, transfer_n, name)) for name in stored] if transfer_n else []
    executed = run_dir / f"qa-{n}.ipynb"
    report_path = run_dir / f"qa-{n}.report.json"
    report_html = run_dir / f"qa-{n}.report.html"  # the page for the provider, beside the JSON
    for stale in (executed, report_path, report_html):  # left by a run that crashed before it was recorded
        stale.unlink(missing_ok=True)
    parameters = {
        "instance": str(docket.instance.root.resolve()),
        "request_id": request_id,
        "revision": revision,
        "checks": list(checks) if checks is not None else None,
        "report_path": str(report_path),
    }

    started = now()  # papermill starts: the run's start, and when it used its inputs
    reason = missing_files(stored_rows)
    if reason is None:
        reason = execute(notebook, executed, parameters, run_dir, ctx, progress)
    finished = now()  # papermill is done: the executed notebook and the report are generated
    report = None
    if reason is None:
        report, reason = read_report(report_path)
    if report is not None:
        write_report_html(report_path, report_html, doc, docket.config.languages)
    summary = report.summary if report is not None else None
    outcome = "failed" if reason else "rejected" if summary["has_errors"] else "done"
    comment = reason or describe(summary)

    def prov_values(step_n: int) -> dict[str, Any]:
        if step_n != n:
            raise Conflict(f"{request_id}: another qa run was recorded while this one (#{n}) ran; "
                           "run qa again")
        short = checksum_hex(notebook_digest)[:16]
        plan = ids.notebook_id(NOTEBOOK_NAME, short)
        values: dict[str, Any] = {
            "checked": checked,
            "checkedTime": [started] * len(checked),  # every stored file is used from the start
            "notebook": Id(plan),
            "notebookLocation": location_iri(notebook),
            "notebookChecksum": checksum_id(plan, "sha256"),
            "notebookChecksumRef": checksum_id(plan, "sha256"),
            "notebookDigest": checksum_hex(notebook_digest),
            "notebookVersion": short,
            "qaNotebook": Id(ids.software_id(notebook.name, short)),
            "parameters": Id(ids.step_node(request_id, "qa", n, "parameters")),
            "parametersJson": json.dumps(parameters, sort_keys=True),
            "reason": reason,
            "startTime": started,
            "finishedTime": finished,
        }
        if executed.is_file():
            node = ids.step_node(request_id, "qa", n, "notebook")
            values.update(executed=Id(node), executedLocation=location_iri(executed),
                          executedChecksum=checksum_id(node, "sha256"),
                          executedChecksumRef=checksum_id(node, "sha256"),
                          executedDigest=checksum_hex(sha256_of(executed)))
        if report is not None:
            node = ids.step_node(request_id, "qa", n, "report")
            values.update(report=Id(node), reportLocation=location_iri(report_path),
                          reportChecksum=checksum_id(node, "sha256"),
                          reportChecksumRef=checksum_id(node, "sha256"),
                          reportDigest=checksum_hex(sha256_of(report_path)), errors=summary["errors"],
                          warnings=summary["warnings"],
                          checksRun=summary["checks"] - summary["not-checked"],
                          verdict="valid" if report.valid else "invalid")
        if actor.role != "system":
            values.update(ctx.agent_values("operator"))
        if not checked:
            values.pop("checked")
            values.pop("checkedTime")
        return values

    def record_measurements(conn: Any, row: Any) -> None:
        """What the checks measured of each file (rows, encoding) joins the resource registry."""
        if (row.steps or {}).get("qa", {}).get("status") != "in-progress":
            raise Conflict(f"{request_id}: its qa step was changed while QA ran; run qa again")
        f = tables.files
        for entry in (report.files if report is not None else []):
            values = {k: entry[k] for k in ("rows", "encoding") if entry.get(k) is not None}
            if values and entry.get("name"):
                conn.execute(update(f).where(f.c.request_id == request_id, f.c.revision == revision,
                                             f.c.name == entry["name"]).values(**values))
        if outcome == "rejected":  # the data have errors: the provider and data managers hear of it
            page = [str(report_html.relative_to(docket.instance.root))] if report_html.is_file() else None
            ctx.notify(conn, "qa-errors", request_id, revision, comment=comment, attachments=page)  # the provider's page of the report, in the mail

    step = ctx.set_step(request_id, "qa", "closed", outcome, comment=comment,
                        prov_values=prov_values, write=record_measurements)
    return {
        "id": request_id, "revision": revision, "n": n, "outcome": outcome, "activity": step["activity"],
        "valid": report.valid if report is not None else None,
        "errors": summary["errors"] if summary else None,
        "warnings": summary["warnings"] if summary else None,
        "summary": summary, "reason": reason, "comment": comment,
        "notebook": str(notebook), "executed": str(executed) if executed.is_file() else None,
        "report": str(report_path) if report is not None else None,
        "report_html": str(report_html) if report_html.is_file() else None,
        "failing": [
            {"id": c.id, "file": c.file, "status": c.status, "count": c.count, "found": c.found}
            for c in (report.checks if report is not None else []) if c.status in ("error", "warn")
        ],
        "text": report.text() if report is not None else None,
    }


class RunLock:
    """An exclusive, non-waiting ``flock`` on ``runs/<id>/qa.lock`` for as long as a run lives.

    The kernel releases the lock when the process holding it dies however it dies, so a lock
    that can be taken means no live run, and a step still ``in-progress`` then is a dead run's.
    The descriptor is close-on-exec, so the notebook's kernel (another process) never holds it
    past the run. The file is left in place: removing it would let two runs lock two files.
    """

    def __init__(self, path: Path, request_id: str) -> None:
        self.path = path
        self.request_id = request_id
        self.fd = -1

    def __enter__(self) -> RunLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise InstanceError(f"cannot open the QA lock {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = -1
            raise Conflict(f"{self.request_id} is being checked by another QA run; wait for it to "
                           "finish") from None
        except OSError as exc:
            os.close(self.fd)
            self.fd = -1
            raise InstanceError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
        with contextlib.suppress(OSError):  # who holds it, for a person looking; never trusted
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


def _last_started(docket: StepHost, request_id: str) -> datetime | None:
    """When the qa step last went in-progress (the start of an interrupted run)."""
    started = [h["at"] for h in docket.history(request_id)
               if h["kind"] == "step" and h["step"] == "qa" and h["to"] == "in-progress"]
    return datetime.fromisoformat(started[-1]) if started else None


def _record_interrupted(ctx: StepContext, request_id: str, reason: str) -> None:
    """Close an in-progress qa step that no live run holds as ``failed``, in history and PROV.

    Called with the run lock held, so no other run is live; the closing transaction checks
    the step is still ``in-progress`` (a run that already recorded its end is left alone).
    """
    started = _last_started(ctx.host, request_id)

    def still_in_progress(conn: Any, row: Any) -> None:
        if (row.steps or {}).get("qa", {}).get("status") != "in-progress":
            raise Conflict(f"{request_id}: the qa step changed meanwhile; try again")

    values: dict[str, Any] = {"reason": reason}
    if started is not None:
        values["startTime"] = started
    if ctx.actor.role != "system":
        values.update(ctx.agent_values("operator"))
    ctx.set_step(request_id, "qa", "closed", "failed", comment=reason, prov_values=values,
                 write=still_in_progress)


def missing_files(stored: list[dict[str, Any]]) -> str | None:
    """Why the run cannot check the data: a file the transfer stored is no longer in ``files/``
    (a storage problem, not an error in the data), or None."""
    gone = [f["name"] for f in stored if not f["location"] or not Path(f["location"]).is_file()]
    if not gone:
        return None
    shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    return f"stored file{'s' if len(gone) > 1 else ''} missing from files/: {shown} (transfer again)"


def execute(notebook: Path, executed: Path, parameters: dict[str, Any], cwd: Path, ctx: StepContext,
            progress: bool) -> str | None:
    """Run the notebook with papermill; returns why it failed, or None. Never raises for a
    failure inside the kernel: that is a result of the run, recorded like any other."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillException, PapermillExecutionError
    from traitlets.config import Config

    settings = ctx.config.extra.get("qa") or {}
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters, cwd=str(cwd),
            kernel_name=settings.get("kernel"), progress_bar=progress, log_output=False,
            request_save_on_cell_execute=False,  # written at the start, on failure and at the end
            execution_timeout=settings.get("cell_timeout"), start_timeout=int(settings.get("start_timeout", 60)),
            # nbclient waits 4 s after a cell's reply for its output, then drops what it has not
            # read without an error; batch runs load the machine (docket serve lost whole pages so).
            iopub_timeout=120,
            # Local sockets, not TCP ports: no port races when a batch starts kernels side by
            # side, and nothing listening on the network.
            config=Config({"KernelManager": {"transport": "ipc"}}),
            kernel_manager_class=_quiet_kernel_manager(ctx.key),
        )
    except PapermillExecutionError as exc:
        return f"the QA notebook failed in cell {exc.exec_count}: {exc.ename}: {_first_line(exc.evalue)}"
    except (DeadKernelError, CellTimeoutError, PapermillException) as exc:
        return f"the QA notebook did not finish: {type(exc).__name__}: {_first_line(str(exc))}"
    except RuntimeError as exc:  # e.g. "Kernel died before replying to kernel_info"
        return f"the QA notebook's kernel failed: {_first_line(str(exc))}"
    return None


@cache
def _quiet_kernel_manager(key: str | None = None) -> type:
    """A kernel manager whose kernel process writes nowhere: ipykernel's own log lines (such as
    "KeyboardInterrupt caught in kernel" when it is interrupted on shutdown) would otherwise reach
    the user's terminal. What the cells print goes to the executed notebook, as always. With a
    ``key``, the kernel gets it as ``$DOCKET_API_KEY``."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
            if key is not None:
                kw["env"] = {**(kw.get("env") or os.environ), "DOCKET_API_KEY": key}
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def read_report(path: Path) -> tuple[Report | None, str | None]:
    """The report the notebook wrote, validated; or why there is none."""
    from docket.checks import Report

    if not path.is_file():
        return None, f"the QA notebook ran but wrote no report at {path}"
    try:
        return Report.load(path), None
    except DocketError as exc:
        detail = "; ".join(str(p) for p in exc.problems[:3])
        return None, f"the QA notebook wrote an unusable report: {exc.message}{': ' + detail if detail else ''}"


def write_report_html(report_path: Path, html_path: Path, request: dict[str, Any],
                      languages: list[str]) -> None:
    """The report as a page for the provider (``docket.reports.html``), in the provider's
    language, from the JSON exactly as the notebook wrote it (not re-serialised, so the page shows
    what the recorded report says)."""
    from docket.reports.html import write_html

    data = json.loads(report_path.read_text(encoding="utf-8"))
    write_html(data, html_path, request=request, languages=languages)


def describe(summary: dict[str, Any]) -> str:
    verdict = "errors" if summary["has_errors"] else "valid"
    return (f"{verdict}: {summary['errors']} errors in {summary['error']} checks, "
            f"{summary['warnings']} warnings in {summary['warn']} checks, {summary['valid']} checks passed, "
            f"{summary['not-checked']} not checked")


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""
