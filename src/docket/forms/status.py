"""What a provider sees of their request on the page: its status, the QA summary and the conversation.

The request page (:mod:`docket.forms.page`) shows these above the form when it was opened with the
provider's secret link. Everything here turns what the API returns (``get``, ``comments``,
``prov_bundles``) into HTML strings, so the words can be tested without a browser or a kernel, in
every language of the form. Fixed words come from the form's ``ui.text`` catalogue through ``t``
(``t(key, default)``, e.g. :meth:`docket.forms.renderer.FormView.text`), so a data centre changes
them by editing the form definition, not code.

Everything a provider or a reviewer wrote (comments, authors, check names) is escaped: a comment is
text, never markup, whoever wrote it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docket.forms.definition import localize

#: ``t(key, default)``: a fixed text of the form's catalogue in the page language.
Texts = Callable[[str, str], str]

#: The review states in plain words (English defaults; the catalogue has fr and de too).
STATE_WORDS = {
    "draft": "Draft: not yet with the reviewers",
    "submitted": "Submitted: waiting for review",
    "approved": "Approved",
    "rejected": "Rejected",
    "retired": "Retired",
}
#: What each state means for the provider, one sentence.
STATE_NOTES = {
    "draft": "Change what is needed in the form below, then click “Submit for review” at the "
             "bottom of the form: it saves your changes and sends the request for review in one step.",
    "submitted": "The data centre will review this revision. You may still change it: saving changes "
                 "sends the request back to draft, and you then resubmit it.",
    "approved": "The data centre accepted this request. Saving changes makes a new revision in draft, "
                "to be reviewed again.",
    "rejected": "The data centre rejected this request; see the comments. Saving changes makes a new "
                "revision in draft, which you may resubmit.",
    "retired": "This request is retired: it can no longer be changed.",
}
STEP_WORDS = {
    "open": "not started",
    "in-progress": "in progress",
    "action-required": "action required",
    "paused": "paused",
    "closed": "finished",
}
OUTCOME_WORDS = {"accepted": "accepted", "rejected": "problems found", "failed": "could not complete",
                 "done": "done"}
ROLE_WORDS = {"reviewer": "Reviewer", "data-manager": "Data manager", "admin": "Data manager",
              "provider": "Provider", "system": "docket"}
#: ``docket.steps.qa.describe``: the QA step's comment when the checks ran.
_QA_COUNTS = re.compile(r"^(?:valid|errors): (?P<errors>\d+) errors in \d+ checks, (?P<warnings>\d+) warnings")
#: A report larger than this is not read for the page (the counts still come from the step).
MAX_REPORT_BYTES = 5_000_000
MAX_FAILING = 20  # checks listed on the page; the rest are counted


def catalogue(texts: dict[str, Any], language: str) -> Texts:
    """``t(key, default)`` over a form's ``ui.text`` in ``language``, as FormView.text does: for
    building the panel outside a rendered form (tests, other pages)."""
    return lambda key, default="": localize(texts.get(key), language) or default


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def state_words(state: str, t: Texts) -> str:
    return t(f"state_{state}", STATE_WORDS.get(state, state))


def step_words(step: dict[str, Any] | None, t: Texts) -> str:
    """``finished, done``: a step's status (and outcome, when closed) in words."""
    step = step or {"status": "open"}
    status = str(step.get("status", "open"))
    words = t(f"status_{status}", STEP_WORDS.get(status, status))
    outcome = step.get("outcome")
    if outcome:
        words += ", " + t(f"outcome_{outcome}", OUTCOME_WORDS.get(str(outcome), str(outcome)))
    return words


# -- QA -------------------------------------------------------------------------------------------


def qa_summary(docket: Any, record: dict[str, Any]) -> dict[str, Any] | None:
    """The latest QA run's summary, from what the API gives: the qa step (status, outcome and its
    comment, which carries the counts) and, when the run wrote one, its report's failing checks.

    None when QA never ran. The reason of a run that could not complete is the data centre's
    business (it may name their storage), so only the fact is given.
    """
    step = (record.get("steps") or {}).get("qa") or {"status": "open"}
    if step.get("status") == "open":
        return None
    out: dict[str, Any] = {"status": step.get("status"), "outcome": step.get("outcome"),
                           "errors": None, "warnings": None, "failing": []}
    match = _QA_COUNTS.match(str(step.get("comment") or ""))
    if match:
        out["errors"], out["warnings"] = int(match["errors"]), int(match["warnings"])
    report = _latest_report(docket, record["id"]) if step.get("outcome") in ("done", "rejected") else None
    if report is not None:
        summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
        for key in ("errors", "warnings"):
            if isinstance(summary.get(key), int):
                out[key] = summary[key]
        checks = report.get("checks") if isinstance(report.get("checks"), list) else []
        out["failing"] = [
            {k: c.get(k) for k in ("id", "name", "status", "file", "count")}
            for c in checks if isinstance(c, dict) and c.get("status") in ("error", "warn")
        ]
    return out


def _latest_report(docket: Any, request_id: str) -> dict[str, Any] | None:
    """The report JSON of the request's latest recorded qa run (``runs/<id>/qa-<n>.report.json``),
    or None. The run number comes from the PROV the caller may read, so a report left by a run that
    was never recorded is not shown."""
    runs = [b["n"] for b in docket.prov_bundles(request_id) if b.get("step") == "qa"]
    if not runs:
        return None
    path = Path(docket.instance.runs_dir) / request_id / f"qa-{max(runs)}.report.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_REPORT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def qa_html(qa: dict[str, Any] | None, t: Texts) -> str:
    """The QA part of the panel: status, the counts, and the checks that failed."""
    if qa is None:
        return f"<span class='docket-qa-none'>{esc(t('qa_not_run', 'not run yet'))}</span>"
    parts = [f"<span class='docket-qa-status'>{esc(step_words(qa, t))}</span>"]
    if qa.get("outcome") == "failed":
        parts.append(f"<div class='docket-help'>{esc(t('qa_failed', 'The checks could not run; the data centre will look into it.'))}</div>")
    if qa.get("errors") is not None:
        counts = t("qa_counts", "{errors} errors, {warnings} warnings")
        try:
            counts = counts.format(errors=qa["errors"], warnings=qa.get("warnings") or 0)
        except (KeyError, IndexError, ValueError):  # a catalogue entry with other placeholders
            counts = f"{qa['errors']} / {qa.get('warnings') or 0}"
        kind = "bad" if qa["errors"] else "ok"
        parts.append(f" <span class='docket-qa-counts docket-status-{kind}' data-errors='{qa['errors']}' "
                     f"data-warnings='{qa.get('warnings') or 0}'>({esc(counts)})</span>")
    failing = qa.get("failing") or []
    if failing:
        items = "".join(
            f"<li class='docket-qa-check docket-qa-{esc(c.get('status'))}' data-check='{esc(c.get('id'))}'>"
            f"<b>{esc(c.get('name') or c.get('id'))}</b> <code>{esc(c.get('id'))}</code>"
            + (f" — {esc(c.get('file'))}" if c.get("file") else "")
            + f": {esc(t('qa_' + str(c.get('status')), str(c.get('status'))))}"
            + (f" ×{esc(c.get('count'))}" if c.get("count") else "") + "</li>"
            for c in failing[:MAX_FAILING]
        )
        more = len(failing) - MAX_FAILING
        extra = f"<li>… +{more}</li>" if more > 0 else ""
        parts.append(f"<div>{esc(t('qa_failing', 'Checks that found problems:'))}</div>"
                     f"<ul class='docket-qa-failing'>{items}{extra}</ul>")
    return "".join(parts)


# -- the panel ------------------------------------------------------------------------------------


PANEL_STYLE = """<style>
.docket-request-status { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; margin: 6px 0;
  max-width: 936px; font-family: system-ui, sans-serif; background: #f6f8fa; }
.docket-request-status table th { text-align: left; padding-right: 1em; vertical-align: top; }
.docket-thread { border-left: 3px solid #d4a72c; padding: 4px 10px; margin: 6px 0; max-width: 930px;
  font-family: system-ui, sans-serif; }
.docket-comment { margin: 4px 0; }
.docket-comment-reply { margin-left: 2em; }
.docket-comment-meta { color: #57606a; font-size: 0.85em; }
.docket-comment-text { white-space: pre-wrap; }
.docket-reviewer-note { background: #fff8c5; border-left: 3px solid #d4a72c; padding: 2px 8px; margin: 2px 0; }
.docket-commented { outline: 2px solid #d4a72c; outline-offset: 2px; }
.docket-actions { margin: 8px 0; max-width: 936px; font-family: system-ui, sans-serif; }
.docket-notice { background: #ddf4ff; border-left: 3px solid #0969da; padding: 4px 10px; }
.docket-status-ok { color: #1a7f37; }
.docket-status-bad { color: #b3261e; }
</style>"""


def status_html(record: dict[str, Any], qa: dict[str, Any] | None, t: Texts) -> str:
    """The status panel: id, revision, review state in words (and what it means for the provider),
    transfer and QA."""
    state = str(record.get("review_state", ""))
    steps = record.get("steps") or {}
    rows = [
        (t("summary_id", "Request"), f"<b class='docket-request-id'>{esc(record['id'])}</b>"),
        (t("summary_revision", "Revision"), f"<span class='docket-request-revision'>{esc(record['revision'])}</span>"),
        (t("summary_state", "Review state"),
         f"<span class='docket-review-state' data-state='{esc(state)}'>{esc(state_words(state, t))}</span>"),
        (t("transfer", "Transfer"),
         f"<span class='docket-transfer-status'>{esc(step_words(steps.get('transfer'), t))}</span>"),
        (t("qa", "Quality checks"), f"<div class='docket-qa'>{qa_html(qa, t)}</div>"),
    ]
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    note = t(f"state_note_{state}", STATE_NOTES.get(state, ""))
    return (f"<div class='docket-request-status' data-state='{esc(state)}'>"
            f"<h3>{esc(t('status_heading', 'Your request'))}</h3><table>{table}</table>"
            + (f"<p class='docket-state-note'>{esc(note)}</p>" if note else "") + "</div>")


# -- the conversation -----------------------------------------------------------------------------


def threads(comments: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each first comment with its replies (and replies to replies), oldest first."""
    roots: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    top: dict[int, int] = {}
    for c in comments:
        parent = c.get("parent")
        if parent is None or parent not in top:
            roots[c["id"]] = (c, [])
            top[c["id"]] = c["id"]
        else:
            top[c["id"]] = top[parent]
            roots[top[parent]][1].append(c)
    return list(roots.values())


def author_html(comment: dict[str, Any], t: Texts) -> str:
    role = str(comment.get("role") or "")
    who = t(f"role_{role}", ROLE_WORDS.get(role, role))
    when = str(comment.get("at") or "")[:16].replace("T", " ")
    return (f"<span class='docket-comment-meta'><b>{esc(who)}</b> {esc(comment.get('author') or '')} · "
            f"{esc(t('summary_revision', 'Revision'))} {esc(comment.get('revision'))} · {esc(when)}</span>")


def comment_html(comment: dict[str, Any], t: Texts, *, reply: bool = False, field_label: str | None = None) -> str:
    """One comment: who (role and name), on which revision and field, and its text (escaped)."""
    on = ""
    if comment.get("field") and not reply:
        where = field_label or comment["field"]
        on = (f" <span class='docket-comment-field' data-field='{esc(comment['field'])}'>"
              f"{esc(t('comment_on', 'on'))} <i>{esc(where)}</i></span>")
    kind = "docket-comment docket-comment-reply" if reply else "docket-comment"
    return (f"<div class='{kind}' data-comment='{esc(comment['id'])}'>{author_html(comment, t)}{on}"
            f"<div class='docket-comment-text'>{esc(comment.get('text') or '')}</div></div>")


def thread_html(root: dict[str, Any], replies: list[dict[str, Any]], t: Texts,
                field_label: str | None = None) -> str:
    return comment_html(root, t, field_label=field_label) + "".join(comment_html(r, t, reply=True) for r in replies)


def by_field(comments: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The comments that name a field (a reply inherits its thread's), grouped by JSON path."""
    out: dict[str, list[dict[str, Any]]] = {}
    for c in comments:
        if c.get("field"):
            out.setdefault(str(c["field"]), []).append(c)
    return out


def field_note_html(comments: list[dict[str, Any]], t: Texts) -> str:
    """The note shown beside a field: the comments about it, newest last."""
    items = "".join(
        f"<div class='docket-comment' data-comment='{esc(c['id'])}'>{author_html(c, t)}"
        f"<div class='docket-comment-text'>{esc(c.get('text') or '')}</div></div>"
        for c in comments
    )
    return f"<div class='docket-reviewer-note-title'><b>{esc(t('field_comment', 'Comment from the data centre'))}</b></div>{items}"
