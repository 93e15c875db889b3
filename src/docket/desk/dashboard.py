"""The dashboard notebook: where the instance's requests are, and what is stuck or broken.

:func:`summarise` reads a signed-in :class:`~docket.api.Docket` into plain tables (pandas), so the
numbers are testable without a kernel; :func:`show_dashboard`, what ``notebooks/dashboard.ipynb``
calls, displays them with matplotlib bar charts.

What a data manager asks each morning, and where the answer comes from:

* requests per review state, and per step and status (``closed/done``...): ``Docket.list``;
* the age of each open request (not retired, not rejected, and not yet archived), and which have
  not moved for longer than ``stuck_days`` (their last change, of content or of state, is older);
* failed transfers, QA runs that found errors (``closed/rejected``) or could not run
  (``closed/failed``): ``Docket.list(step=..., status=...)``;
* failed jobs (notifications, DOI registration...): the ``jobs`` table, read directly since the
  jobs API is another module's; only staff get here (:func:`docket.desk.open_desk`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from docket.desk import age_text, error_widget, instant, open_desk, step_label
from docket.errors import DocketError
from docket.store import tables
from docket.workflow import REVIEW_STATES, STEPS

#: Colours that mean something at a glance: grey waits, blue runs, orange needs someone, green
#: ended well, red ended badly.
COLOURS = {"open": "#b0b0b0", "in-progress": "#4c72b0", "action-required": "#dd8452", "paused": "#8172b3",
           "closed/done": "#55a868", "closed/accepted": "#2e7d32", "closed/rejected": "#c44e52",
           "closed/failed": "#8c1c13"}
#: Longest text of a job's last error shown (the rest is in ``docket jobs``).
ERROR_CHARS = 200


@dataclass
class Summary:
    """The dashboard's tables; every one is a DataFrame, empty (with its columns) when nothing."""

    by_state: pd.DataFrame  # review_state, requests (every state, zeros included)
    by_step: pd.DataFrame  # rows: steps, columns: status labels, values: counts
    open_requests: pd.DataFrame  # id, revision, review_state, title, age_days, idle_days
    stuck: pd.DataFrame  # the open requests idle longer than stuck_days
    failed_transfers: pd.DataFrame
    qa_problems: pd.DataFrame  # QA closed/rejected (errors in the data) or closed/failed (could not run)
    failed_jobs: pd.DataFrame
    stuck_days: float


def is_open(r: dict[str, Any]) -> bool:
    """Still on the desk: not retired or rejected, and not yet archived (closed/done)."""
    if r["review_state"] in ("retired", "rejected"):
        return False
    archive = (r.get("steps") or {}).get("archive") or {}
    return not (archive.get("status") == "closed" and archive.get("outcome") == "done")


def _step_rows(docket: Any, step: str, outcome: str) -> list[dict[str, Any]]:
    return [{"id": r["id"], "revision": r["revision"], "title": r["title"], "provider": r["provider"],
             "outcome": outcome, "summary": ((r.get("steps") or {}).get(step) or {}).get("comment"),
             "when": r["last_modified_date"]}
            for r in docket.list(step=step, step_status=outcome)]


def failed_jobs(docket: Any) -> pd.DataFrame:
    """Jobs whose status is ``failed``: kind, request, attempts, last error (shortened)."""
    j = tables.jobs
    with docket.store.connect() as conn:
        rows = conn.execute(select(j.c.id, j.c.kind, j.c.request_id, j.c.attempts, j.c.last_error,
                                   j.c.updated_date).where(j.c.status == "failed").order_by(j.c.id)).all()
    columns = ["job", "kind", "request", "attempts", "last_error", "when"]
    return pd.DataFrame([[r.id, r.kind, r.request_id, r.attempts, (r.last_error or "")[:ERROR_CHARS],
                          r.updated_date] for r in rows], columns=columns)


def summarise(docket: Any, stuck_days: float = 7, now: datetime | None = None) -> Summary:
    """The dashboard's tables for the signed-in member of staff (see the module's doc)."""
    now = now or datetime.now(UTC)
    requests = docket.list()
    by_state = pd.DataFrame({"review_state": list(REVIEW_STATES),
                             "requests": [sum(r["review_state"] == s for r in requests) for s in REVIEW_STATES]})
    counts = {step: {} for step in STEPS}
    for r in requests:
        for step in STEPS:
            label = step_label((r.get("steps") or {}).get(step))
            counts[step][label] = counts[step].get(label, 0) + 1
    by_step = pd.DataFrame.from_dict(counts, orient="index").reindex(list(STEPS)).fillna(0).astype(int)
    by_step = by_step[sorted(by_step.columns)] if len(by_step.columns) else by_step
    columns = ["id", "revision", "review_state", "title", "age_days", "idle_days", "age", "idle"]
    rows = []
    for r in sorted(filter(is_open, requests), key=lambda r: instant(r["created_date"])):
        age = (now - instant(r["created_date"])).total_seconds()
        idle = (now - instant(r["last_modified_date"])).total_seconds()
        rows.append([r["id"], r["revision"], r["review_state"], r["title"], age / 86400, idle / 86400,
                     age_text(age), age_text(idle)])
    open_requests = pd.DataFrame(rows, columns=columns)
    stuck = open_requests[open_requests["idle_days"] > stuck_days].reset_index(drop=True)
    step_columns = ["id", "revision", "title", "provider", "outcome", "summary", "when"]
    transfers = pd.DataFrame(_step_rows(docket, "transfer", "failed"), columns=step_columns)
    qa = pd.DataFrame(_step_rows(docket, "qa", "rejected") + _step_rows(docket, "qa", "failed"),
                      columns=step_columns)
    return Summary(by_state, by_step, open_requests, stuck, transfers, qa, failed_jobs(docket), stuck_days)


def figures(summary: Summary) -> list[Any]:
    """Bar charts: requests per review state; per step, stacked by status."""
    import matplotlib.pyplot as plt

    fig1, ax1 = plt.subplots(figsize=(6, 3))
    ax1.bar(summary.by_state["review_state"], summary.by_state["requests"], color="#4c72b0")
    ax1.set_title("Requests per review state")
    ax1.set_ylabel("requests")
    fig2, ax2 = plt.subplots(figsize=(8, 3.5))
    if len(summary.by_step.columns):
        colours = [COLOURS.get(c, "#937860") for c in summary.by_step.columns]
        summary.by_step.plot.bar(stacked=True, ax=ax2, rot=0, color=colours)
        ax2.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    ax2.set_title("Requests per step, by status")
    ax2.set_ylabel("requests")
    from matplotlib.ticker import MaxNLocator

    for fig, ax in ((fig1, ax1), (fig2, ax2)):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # requests are whole
        fig.tight_layout()
    return [fig1, fig2]


def show_dashboard(instance: str | None = None, key_file: str | None = None,
                   stuck_days: float = 7) -> Summary | None:
    """Display the dashboard in the running notebook (or docket's message saying why not)."""
    from IPython.display import HTML, display

    try:
        docket = open_desk(instance, key_file, source="dashboard notebook")
        try:
            summary = summarise(docket, stuck_days)
            who = docket.caller.account
        finally:
            docket.close()
    except DocketError as exc:
        display(error_widget(exc))
        return None
    import matplotlib.pyplot as plt

    def table(title: str, frame: pd.DataFrame, empty: str, index: bool = False) -> None:
        display(HTML(f"<h3>{title}</h3>"))
        display(HTML(f"<p class='docket-empty'>{empty}</p>") if frame.empty
                else HTML(frame.to_html(index=index, classes=f"docket-{title.lower().replace(' ', '-')}")))

    display(HTML(f"<p>Signed in as <b>{html.escape(who.name)}</b> ({who.role}); {len(summary.open_requests)} open "
                 f"requests, {len(summary.stuck)} idle for more than {stuck_days:g} days.</p>"))
    table("Requests per review state", summary.by_state, "")
    table("Requests per step", summary.by_step, "No requests yet.", index=True)
    for fig in figures(summary):
        display(fig)
        plt.close(fig)
    table("Open requests", summary.open_requests.drop(columns=["age_days", "idle_days"]), "No open requests.")
    table(f"Stuck for more than {stuck_days:g} days", summary.stuck.drop(columns=["age_days", "idle_days"]),
          "Nothing is stuck.")
    table("Failed transfers", summary.failed_transfers, "No failed transfers.")
    table("QA errors", summary.qa_problems, "No QA errors.")
    table("Failed jobs", summary.failed_jobs, "No failed jobs.")
    return summary
