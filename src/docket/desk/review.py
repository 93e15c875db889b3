"""The review notebook: the queue, one request, its diff and conversation, and the decisions.

:func:`review_desk` is what ``notebooks/review.ipynb`` calls. :class:`ReviewDesk` builds the
widgets from a signed-in :class:`~docket.api.Docket`:

* the queue: submitted requests, oldest first (the one waiting longest is reviewed first);
* the request: title, provider, files, a metadata summary, its diff against the previous revision
  (op, path, old, new), its comments as threads, and the transfer and QA summaries;
* a comment box, whose field is picked from the diff's paths and then the record's own;
* one button per review transition the signed-in person may take, and no other.

The buttons are computed by asking the core's own rules (:mod:`docket.workflow` and
:mod:`docket.access`) about each transition, with the same checks ``Docket.review`` makes, so the
page cannot offer what the core would refuse; the core still decides on every click, and what it
refuses (a missing comment, a conflict) is shown as its message. A decision names the revision on
screen (``ID.N``): if the provider revised the request meanwhile, it is a conflict, not a decision
on a revision the reviewer never saw.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ipywidgets as W
from sqlalchemy import select

from docket import access
from docket.desk import age_text, error_widget, instant, open_desk, step_label
from docket.diff import NOT_CONTENT
from docket.documents import json_path
from docket.errors import BadInput, DocketError, Refused
from docket.store import tables
from docket.structural import all_fields
from docket.text import pick
from docket.vocabularies import spdx
from docket.workflow import REVIEW_TRANSITIONS, check_review_transition

#: Field paths offered for a comment: enough for any record, bounded for a huge one.
MAX_PATHS = 400
#: A request id in the page address (``?id=ocean-0007``): the only parameter the page reads.
ID_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,40}-[0-9]{1,9}")
MAX_QUERY = 128


@dataclass(frozen=True)
class Action:
    """A review transition as a button: ``to`` is what ``Docket.review`` is called with."""

    to: str
    label: str
    style: str = ""
    needs_comment: bool = False

    @property
    def deciding(self) -> bool:
        return self.to in access.DECISIONS


# (from, to) of the workflow table -> the button(s) it can be. submitted -> draft is two things:
# a reviewer's request for changes (a decision), or the provider withdrawing to edit.
BUTTONS: dict[tuple[str, str], tuple[Action, ...]] = {
    ("submitted", "approved"): (Action("approved", "Approve", "success"),),
    ("submitted", "rejected"): (Action("rejected", "Reject", "danger", needs_comment=True),),
    ("submitted", "draft"): (Action("request-changes", "Request changes", "warning", needs_comment=True),
                             Action("draft", "Withdraw to draft")),
    ("draft", "submitted"): (Action("submitted", "Submit"),),
    ("rejected", "draft"): (Action("draft", "Reopen as draft"),),
    ("approved", "retired"): (Action("retired", "Retire"),),
}


def allowed_actions(caller: access.Caller, row: Any) -> list[Action]:
    """The transitions ``caller`` may take on the request ``row`` (a ``requests`` table row).

    Each candidate goes through the checks :meth:`Docket.review` makes, in its order: deciding
    (staff, never on a request one owns or submitted), retiring (a data manager), the provider's
    moves (its owner or a data manager), then the workflow table for the caller's role. A
    transition offered twice (request changes, or withdraw) keeps the decision.
    """
    role = "provider" if caller.link_request == row.id else caller.role
    found: list[Action] = []
    for (start, end) in REVIEW_TRANSITIONS:
        if start != row.review_state:
            continue
        # An edge added to the workflow table later still gets a (plain) button.
        for action in BUTTONS.get((start, end), (Action(end, end.capitalize()),)):
            target = "draft" if action.to == "request-changes" else action.to
            try:
                if action.deciding:
                    access.check_decision(caller, row, action.to)
                    if not caller.is_staff:
                        continue
                elif target == "retired":
                    access.check_staff(caller, f"retire {row.id}")
                else:
                    access.check_provider_move(caller, row, target)
                check_review_transition(row.review_state, target, role)
            except (Refused, BadInput):
                continue
            if action.to == "draft" and any(a.to == "request-changes" for a in found):
                continue  # the reviewer sends it back by requesting changes, with a comment
            found.append(action)
    return found


def record_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[str]:
    """The JSON paths of a record's content leaves (what a comment may be about), in order."""
    out: list[str] = []

    def walk(value: Any, parts: tuple[Any, ...]) -> None:
        if len(out) >= MAX_PATHS:
            return
        if isinstance(value, dict) and value:
            for key, item in value.items():
                if not parts and key in NOT_CONTENT:
                    continue
                walk(item, (*parts, key))
        elif isinstance(value, list) and value:
            for i, item in enumerate(value):
                walk(item, (*parts, i))
        elif parts:
            out.append(json_path(parts))

    walk(doc, prefix)
    return out


def _cell(value: Any, limit: int = 160) -> str:
    """A JSON value for a table cell: short, escaped, ``—`` for nothing."""
    if value is None:
        return "<span class='docket-none'>—</span>"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text)


def _table(css: str, headers: list[str], rows: list[list[str]], empty: str) -> str:
    """An HTML table (cells already escaped), or ``empty`` said as a sentence."""
    if not rows:
        return f"<p class='{css} docket-empty'>{html.escape(empty)}</p>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px;vertical-align:top'>{c}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f"<table class='{css}'>{head}<tbody>{body}</tbody></table>"


class ReviewDesk:
    """The review page's widgets for one signed-in member of staff (see the module's doc)."""

    def __init__(self, docket: Any, request_id: str | None = None) -> None:
        self.docket = docket
        self.languages = list(docket.config.languages)
        self.request_id: str | None = None
        self.accept_licence_for = ""  # the ID.N the licence box was last shown for
        self.revision: int | None = None
        self.actions: list[Action] = []
        caller = docket.caller.account
        who = W.HTML(f"<p class='docket-signed-in'>Signed in as <b>{html.escape(caller.name)}</b> "
                     f"({html.escape(caller.role)})</p>")
        self.queue = W.VBox()
        self.queue.add_class("docket-queue")
        self.refresh_button = W.Button(description="Refresh queue", icon="refresh")
        self.refresh_button.add_class("docket-refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.message = W.HTML()
        self.message.add_class("docket-desk-message")
        self.summary = W.HTML()
        self.summary.add_class("docket-request")
        self.comment_text = W.Textarea(placeholder="A comment (needed to reject or request changes)",
                                       layout=W.Layout(width="60em", height="5em"))
        self.comment_text.add_class("docket-comment-text")
        self.field = W.Dropdown(description="Field", options=[("(the whole request)", "")], value="",
                                layout=W.Layout(width="60em"))
        self.field.add_class("docket-comment-field")
        self.reply_to = W.Dropdown(description="Reply to", options=[("(a new thread)", 0)], value=0,
                                   layout=W.Layout(width="60em"))
        self.reply_to.add_class("docket-comment-reply")
        self.send = W.Button(description="Comment", icon="comment")
        self.send.add_class("docket-comment-send")
        self.send.on_click(lambda _b: self.add_comment())
        self.buttons = W.HBox()
        # licence-accepted: shown when the request's licence is not on the SPDX list; approving
        # such a request needs it ticked (the core refuses otherwise, and records the acceptance).
        self.accept_licence = W.Checkbox(value=False, indent=False, layout=W.Layout(width="60em", display="none"),
                                         description="Accept this licence although it is not on the SPDX list")
        self.accept_licence.add_class("docket-accept-licence")
        self.buttons.add_class("docket-actions")
        self.panel = W.VBox([self.summary, self.comment_text, self.field, self.reply_to,
                             W.HBox([self.send]), self.accept_licence, self.buttons])
        self.panel.layout.display = "none"
        self.widget = W.VBox([who, W.HTML("<h2>Review queue</h2>"), self.queue, self.refresh_button,
                              self.message, self.panel])
        self.widget.add_class("docket-review")
        self.refresh()
        if request_id:
            self.open(request_id)

    # -- the queue -----------------------------------------------------------------------------

    def waiting(self) -> list[dict[str, Any]]:
        """Submitted requests, the one waiting longest first."""
        rows = self.docket.list(status="submitted")
        return sorted(rows, key=lambda r: (instant(r["created_date"]), r["id"]))

    def refresh(self) -> None:
        """Rebuild the queue (and the open request, which may have moved on)."""
        now = datetime.now(UTC)
        rows = self.waiting()
        cells: list[W.Widget] = [W.HTML(f"<b>{h}</b>") for h in ("request", "rev", "title", "provider", "age")]
        for r in rows:
            button = W.Button(description=r["id"], tooltip=f"open {r['id']}.{r['revision']}",
                              layout=W.Layout(width="auto"))
            button.add_class("docket-open")
            button.add_class(f"docket-open-{r['id']}")
            button.on_click(lambda _b, rid=r["id"]: self.open(rid))
            age = age_text((now - instant(r["created_date"])).total_seconds())
            cells += [button, W.HTML(str(r["revision"])), W.HTML(html.escape(r["title"] or "")),
                      W.HTML(html.escape(r["provider"] or "")), W.HTML(age)]
        grid = W.GridBox(cells, layout=W.Layout(grid_template_columns="auto 3em 1fr auto 7em",
                                                grid_gap="2px 10px"))
        note = W.HTML(f"<p class='docket-queue-count'>{len(rows)} request{'s' if len(rows) != 1 else ''} "
                      "waiting for review, oldest first</p>")
        self.queue.children = [note, grid] if rows else [note]
        self.queue_ids = [r["id"] for r in rows]
        if self.request_id:
            self.open(self.request_id, keep_message=True)

    # -- one request ---------------------------------------------------------------------------

    def open(self, request_id: str, *, keep_message: bool = False) -> None:
        """Show a request as it is now; anything docket refuses is said in the message line."""
        try:
            doc = self.docket.get(request_id)
            with self.docket.store.connect() as conn:
                row = conn.execute(select(tables.requests).where(tables.requests.c.id == doc["id"])).one()
            self.request_id, self.revision = doc["id"], doc["revision"]
            diff = self.docket.diff(doc["id"]) if doc["revision"] > 1 else None
            comments = self.docket.comments(doc["id"])
            history = self.docket.history(doc["id"])
        except DocketError as exc:
            self.say_error(exc)
            return
        if not keep_message:
            self.message.value = ""
        self.actions = allowed_actions(self.docket.caller, row)
        self.summary.value = self.render(doc, diff, comments, history)
        diff_paths = [c["path"] for c in (diff or {}).get("changes", [])]
        paths = list(dict.fromkeys(diff_paths + record_paths(doc)))
        keep = self.field.value if self.field.value in paths else ""
        self.field.options = [("(the whole request)", "")] + [
            ((f"changed: {p}" if p in diff_paths else p), p) for p in paths]
        self.field.value = keep
        self.reply_to.options = [("(a new thread)", 0)] + [
            (f"#{c['id']} {c['author']}: {c['text'][:50]}", c["id"]) for c in comments]
        self.reply_to.value = 0
        self.buttons.children = [self._button(a) for a in self.actions]
        licence = ((doc.get("metadata") or {}).get("dataset_administrative") or {}).get("licence")
        other = isinstance(licence, str) and bool(licence.strip()) and not spdx.is_spdx(licence)
        self.accept_licence.layout.display = None if other else "none"
        if not other or self.accept_licence_for != f"{doc['id']}.{doc['revision']}":
            self.accept_licence.value = False  # never carried over to another request or revision
        self.accept_licence_for = f"{doc['id']}.{doc['revision']}"
        self.panel.layout.display = "flex"

    def _button(self, action: Action) -> W.Button:
        tip = "needs a comment" if action.needs_comment else ""
        if action.to == "request-changes":
            tip = "needs a comment; attached to the field chosen above"
        button = W.Button(description=action.label, button_style=action.style, tooltip=tip)
        button.add_class("docket-action")
        button.add_class(f"docket-action-{action.to}")
        button.on_click(lambda _b: self.decide(action))
        return button

    def render(self, doc: dict[str, Any], diff: dict[str, Any] | None, comments: list[dict[str, Any]],
               history: list[dict[str, Any]]) -> str:
        """The request as HTML: header, metadata, files, diff, comments, transfer and QA."""
        esc = html.escape
        meta = doc.get("metadata", {})
        pd, adm = meta.get("project_descriptive", {}), meta.get("dataset_administrative", {})
        ctx = meta.get("experiment_contextual", {})
        ref = f"{doc['id']}.{doc['revision']}"
        provider = doc.get("provider", {})
        title = pick(pd.get("title"), self.languages) if pd.get("title") else ""
        abstract = pick(pd.get("abstract"), self.languages) if pd.get("abstract") else ""
        contact = adm.get("contact") or {}
        coverage = ctx.get("temporal_coverage") or {}
        columns = all_fields(meta.get("dataset_structural"))  # a Table Schema's, or every resource's
        facts = [
            ("Provider", esc(f"{provider.get('name', '')} <{provider.get('email', '')}>"
                             + (f", {provider['organisation']}" if provider.get("organisation") else ""))),
            ("State", f"<span class='docket-state'>{esc(doc.get('review_state', ''))}</span> "
                      f"(revision {doc['revision']})"),
            ("Abstract", _cell(abstract, 400)),
            ("Keywords", esc(", ".join(map(str, pd.get("keywords") or [])))),
            ("Licence", licence_html(adm.get("licence"))),
            ("Contact", esc(" ".join(str(contact.get(k, "")) for k in ("name", "email")).strip())),
            ("Temporal coverage", esc(f"{coverage.get('start', '?')} to {coverage.get('end', '?')}")
             if coverage else ""),
            ("Columns", esc(", ".join(f"{c.get('name')} ({c.get('type', 'any')})" for c in columns))),
        ]
        facts_html = _table("docket-facts", ["", ""], [[f"<b>{esc(k)}</b>", v] for k, v in facts], "")
        measured = doc.get("measured", {})
        files = _table("docket-files", ["file", "size", "media type", "sha256", "status"], [
            [esc(f.get("name", "")), _cell(f.get("size")), _cell(f.get("media_type")),
             _cell((f.get("sha256") or "")[:16] or None), _cell(measured.get(f.get("name"), {}).get("status")
                                                             or "declared")]
            for f in doc.get("files", [])], "No files declared.")
        if diff is None:
            diff_html = "<p class='docket-diff docket-empty'>Revision 1: nothing before it to compare with.</p>"
        else:
            diff_html = _table("docket-diff", ["op", "path", "old", "new"], [
                [esc(c["op"]), f"<code>{esc(c['path'])}</code>", _cell(c.get("old")), _cell(c.get("new"))]
                for c in diff["changes"]], f"{diff['from']} to {diff['to']}: no changes in content.")
            diff_html = f"<p>{esc(diff['from'])} → {esc(diff['to'])}</p>{diff_html}"
        return (f"<div class='docket-request-view' data-ref='{esc(ref)}'>"
                f"<h2 class='docket-request-title'>{esc(ref)}: {esc(title)}</h2>{facts_html}"
                f"<h3>Files</h3>{files}<h3>Changes since the previous revision</h3>{diff_html}"
                f"<h3>Transfer and QA</h3>{self.steps_html(doc, history)}"
                f"<h3>Comments</h3>{comments_html(comments)}</div>")

    def steps_html(self, doc: dict[str, Any], history: list[dict[str, Any]]) -> str:
        """Each of transfer and QA: its state now, and its runs from the history."""
        esc = html.escape
        rows = []
        for step in ("transfer", "qa"):
            state = (doc.get("steps") or {}).get(step) or {}
            runs = [h for h in history if h["kind"] == "step" and h["step"] == step]
            last = "; ".join(f"{h['at'][:16].replace('T', ' ')} {h['to']}"
                             + (f"/{h['outcome']}" if h["outcome"] else "") + f" by {h['actor']}"
                             for h in runs[-3:])
            rows.append([f"<b>{step}</b>", f"<span class='docket-step-{step}'>{esc(step_label(state))}</span>",
                         _cell(state.get("comment"), 300), esc(last) or "<span class='docket-none'>—</span>"])
        return _table("docket-steps", ["step", "state", "summary", "recent changes"], rows, "")

    # -- acting ----------------------------------------------------------------------------------

    def decide(self, action: Action) -> dict[str, Any] | None:
        """Take ``action`` on the revision on screen; the core checks it again and may refuse."""
        if self.request_id is None:
            return None
        text = self.comment_text.value.strip() or None
        fields = [self.field.value] if (self.field.value and action.deciding and text) else None
        ref = f"{self.request_id}.{self.revision}"
        try:
            result = self.docket.review(ref, action.to, comment=text, fields=fields, origin="review notebook",
                                        accept_licence=action.to == "approved" and self.accept_licence.value)
        except DocketError as exc:
            self.say_error(exc)
            return None
        self.comment_text.value = ""
        done, now = result.get("action", result["review_state"]), result["review_state"]
        self.say(f"{ref}: {done}" + (f" (now {now})" if done != now else ""), "ok")
        self.refresh()
        return result

    def add_comment(self) -> dict[str, Any] | None:
        """Post the comment box (about the chosen field, or replying to a comment)."""
        if self.request_id is None:
            return None
        ref = f"{self.request_id}.{self.revision}"
        try:
            result = self.docket.comment(ref, self.comment_text.value, field=self.field.value or None,
                                         reply_to=self.reply_to.value or None, origin="review notebook")
        except DocketError as exc:
            self.say_error(exc)
            return None
        self.comment_text.value = ""
        self.say(f"comment #{result['comment']} added to {ref}", "ok")
        self.open(self.request_id, keep_message=True)
        return result

    def say(self, text: str, kind: str) -> None:
        self.message.value = f"<p class='docket-desk-{kind}'>{html.escape(text)}</p>"

    def say_error(self, exc: DocketError) -> None:
        """docket's own message (and the rule that refused), as the CLI would print it."""
        rule = getattr(exc, "rule", None)
        extra = f" [{rule}]" if rule else ""
        self.say(f"{type(exc).__name__}: {exc.message}{extra}", "refused")


def licence_html(licence: Any) -> str:
    """The licence as the reviewer needs it: which SPDX licence, or that approving it means
    accepting a licence that is not on the SPDX list (rule licence-accepted)."""
    if not isinstance(licence, str) or not licence.strip():
        return ""
    found = spdx.lookup(licence)
    if found is not None:
        return (f"<span class='docket-licence-spdx'>{html.escape(licence)} "
                f"<small>(SPDX {html.escape(found.id)}: {html.escape(found.name)})</small></span>")
    return (f"<span class='docket-licence-other'>{html.escape(_cell_text(licence, 300))} <b style='color:#9a6700'>"
            "⚠ not on the SPDX licence list: approving it means accepting this licence (tick the box "
            "below)</b></span>")


def _cell_text(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def comments_html(comments: list[dict[str, Any]]) -> str:
    """The comments as threads: each reply under the comment it answers."""
    esc = html.escape
    children: dict[int | None, list[dict[str, Any]]] = {}
    ids = {c["id"] for c in comments}
    for c in comments:
        parent = c["parent"] if c["parent"] in ids else None
        children.setdefault(parent, []).append(c)

    def thread(parent: int | None, depth: int) -> str:
        items = []
        for c in children.get(parent, []):
            about = f" on <code>{esc(c['field'])}</code>" if c["field"] else ""
            items.append(f"<li class='docket-comment' data-id='{c['id']}'><b>#{c['id']} {esc(c['author'])}</b> "
                         f"({esc(c['role'])}, rev {c['revision']}, {esc(c['at'][:16].replace('T', ' '))}){about}:"
                         f" {esc(c['text'])}{thread(c['id'], depth + 1) if depth < 20 else ''}</li>")
        return f"<ul>{''.join(items)}</ul>" if items else ""

    return f"<div class='docket-comments'>{thread(None, 0) or '<p>No comments yet.</p>'}</div>"


def page_request_id(query: str | None = None) -> str | None:
    """``?id=`` of the page address under Voila (``$QUERY_STRING``); anything else is refused."""
    from urllib.parse import parse_qsl

    raw = (os.environ.get("QUERY_STRING", "") if query is None else query).removeprefix("?")
    if not raw:
        return None
    if len(raw) > MAX_QUERY:
        raise BadInput("the page address is too long")
    pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=4)
    if len(pairs) != 1 or pairs[0][0] != "id" or not ID_PATTERN.fullmatch(pairs[0][1]):
        raise BadInput("this page takes one parameter, ?id=<request id> (e.g. ?id=ocean-0007)")
    return pairs[0][1]


def review_desk(instance: str | None = None, request_id: str | None = None,
                key_file: str | None = None) -> W.Widget:
    """The review page for the notebook's parameters (see :func:`docket.desk.open_desk`), or a
    message saying why it cannot be shown (no instance, a refused key, a provider's key)."""
    try:
        request_id = request_id or page_request_id()
        docket = open_desk(instance, key_file, source="review notebook")
        return ReviewDesk(docket, request_id).widget
    except DocketError as exc:
        return error_widget(exc)
