"""The transfer step: fetch every file of a request into ``files/<id>/<revision>/``.

Size, md5 and sha256 are measured in the one streaming read (:mod:`docket.transfer`); a file
becomes visible only when complete. Declared and measured values are compared by QA's congruence
checks (so the report says what differs); transfer fails only when bytes could not be fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, update
from tqdm import tqdm

from docket.api import Actor, now, parse_ref
from docket.errors import DocketError
from docket.provenance.recorder import Id
from docket.store import tables
from docket.transfer import FetchedFile, SourceContext, fetch, remove_partials

if TYPE_CHECKING:
    from docket.api import Docket


def request_folder(docket: Docket, request_id: str, revision: int) -> Path:
    return docket.instance.files_dir / request_id / str(revision)


def run_transfer(docket: Docket, ref: str, *, actor: Actor | None = None, progress: bool = False) -> dict[str, Any]:
    """Transfer the files of request ``ref``; returns a summary with per-file results.

    The step ends ``closed/done`` when every file arrived, ``closed/failed`` (with the reasons)
    otherwise; both are recorded in history and PROV.
    """
    request_id, _ = parse_ref(ref)
    actor = actor or Actor("docket", "system")
    doc = docket.get(request_id)
    # Refuse early (role, approval) before any byte moves.
    from docket.workflow import StepChange, check_step_change

    check_step_change(StepChange("transfer", "in-progress"), actor.role, doc["review_state"], doc["steps"])
    revision = doc["revision"]
    folder = request_folder(docket, request_id, revision)
    folder.mkdir(parents=True, exist_ok=True)
    remove_partials(folder)  # what a crashed earlier attempt may have left
    limits = docket.config.limits
    ctx = SourceContext(timeout=docket.config.transfer_timeout, local_roots=docket.instance.local_roots,
                        proxies=docket.config.transfer_proxies)
    started = now()
    fetched: list[FetchedFile] = []
    failures: list[dict[str, str]] = []
    files = doc["files"]
    bar = tqdm(files, desc=f"transfer {request_id}", unit="file", disable=not progress)
    for entry in bar:
        try:
            fetched.append(fetch(entry["location"], folder, entry["name"], max_bytes=limits.get("max_transfer_bytes"),
                                 replace=True, context=ctx))
        except DocketError as exc:
            failures.append({"name": entry["name"], "location": entry["location"], "reason": exc.message})
    outcome = "failed" if failures else "done"
    reason = "; ".join(f"{f['name']}: {f['reason']}" for f in failures) or None

    def write_registry(conn: Connection, row: Any) -> None:
        f = tables.files
        for item in fetched:
            conn.execute(
                update(f).where(f.c.request_id == request_id, f.c.revision == revision, f.c.name == item.name)
                .values(location=str(item.path), size=item.size, md5=item.md5, sha256=item.sha256,
                        media_type=item.media_type, status="stored", detail=None, updated_date=now())
            )
        for fail in failures:
            conn.execute(
                update(f).where(f.c.request_id == request_id, f.c.revision == revision, f.c.name == fail["name"])
                .values(status="failed", detail=fail["reason"], updated_date=now())
            )

    def prov_values(n: int) -> dict[str, Any]:
        base = f"{transfer_id(request_id, n)}"
        values: dict[str, Any] = {
            "source": [Id(f"{base}/source/{_quote(i.name)}") for i in fetched],
            "sourceLocation": [i.source for i in fetched],
            "file": [Id(stored_file_id(request_id, n, i.name)) for i in fetched],
            "storedLocation": [str(i.path) for i in fetched],
            "size": [i.size for i in fetched],
            "md5": [i.md5 for i in fetched],
            "sha256": [i.sha256 for i in fetched],
            "mediaType": [i.media_type for i in fetched],
            "reason": reason,
            "startTime": started,
        }
        if actor.role != "system":
            values.update(operator=Id(actor.prov_id), operatorName=actor.name, operatorEmail=actor.email)
        if not fetched:  # nothing arrived: no file statements to expand
            values = {k: v for k, v in values.items() if not isinstance(v, list)}
        return values

    step = docket.set_step(request_id, "transfer", "closed", outcome, actor=actor, comment=reason,
                           prov_values=prov_values, write=write_registry)
    return {
        "id": request_id, "revision": revision, "outcome": outcome, "activity": step["activity"],
        "files": [i.as_dict() for i in fetched], "failures": failures,
    }


def transfer_id(request_id: str, n: int) -> str:
    return f"docket:{request_id}/transfer/{n}"


def stored_file_id(request_id: str, n: int, name: str) -> str:
    """The PROV entity of a file as transfer ``n`` stored it (what QA runs check)."""
    return f"{transfer_id(request_id, n)}/file/{_quote(name)}"


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
