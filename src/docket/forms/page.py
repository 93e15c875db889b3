"""The request page: a rendered form wired to an instance's store, as the Voila notebook shows it.

``notebooks/request.ipynb`` is one call of :func:`request_page`. The page serves exactly one
instance: the one ``docket serve`` was started on, which reaches the kernel as
``DOCKET_INSTANCE`` in the server's environment. Nothing a visitor sends can name another
folder: the URL (Voila puts its query string in the kernel's ``QUERY_STRING``) may only carry
``lang``, ``form`` and ``id``, each checked against a strict pattern and then against what this
instance offers; any other parameter, a repeated one, or an over-long query is refused on the
page, before the instance is opened. Refusing rather than ignoring matters: a visitor following a
link made for another instance (``?instance=...&id=ocean-0001``) must not silently edit this
instance's ``ocean-0001`` instead.

The page opens the instance's store as it is and never creates or migrates one: a SQLite file that
does not exist, or a store not at the newest migration, is an error on the page (``docket serve``
brings the store up to date when it starts). A submit stores the request through the core API
with the provider as the acting agent (so PROV records them); with a link, or after a first
submit, the next submit is a new revision.

Opened with a provider's link, the page is their desk for that one request (:mod:`docket.forms.status`
draws it): its status and QA summary, the reviewer's comments as threads with a reply box each
(and beside the fields they name), and a notice of what its review state lets them do. One button
sends a draft for review: the form's own "Submit for review" (it refuses an incomplete request,
naming every missing field; a draft sent back with "request changes" goes back as it is, or with
the provider's edits as a new revision). A link
that does not open (wrong, expired, revoked, or not even shaped like one) is the one message of
:data:`docket.people.links.REFUSED_LINK`: nothing tells a guesser which of these it was, and the
link itself is never written back into the page.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import ipywidgets as W

from docket.canonical import digest
from docket.drafts import title_of
from docket.errors import BadInput, DocketError, InstanceError, NotFound, Problem, Refused
from docket.forms import status
from docket.forms.bbox_map import use_tiles
from docket.forms.definition import list_forms, load_form, localize, request_part
from docket.forms.renderer import FormView, css_name, nearest
from docket.forms.upload_field import show_placed
from docket.uploads.locations import check_locations
from docket.uploads.store import Placement
from docket.validation import json_path

DEFAULT_FORM = "ingest-request"
INSTANCE_VARIABLE = "DOCKET_INSTANCE"
#: The only query parameters the page reads, and what each must look like before it is used.
PARAMETERS: dict[str, re.Pattern[str]] = {
    "lang": re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?"),
    "form": re.compile(r"[a-z][a-z0-9-]{0,63}"),  # a form name: a slug, so never a path
    # A provider's secret link (docket.people.secrets): the only way to open a stored request on
    # the page. Request ids are sequential; without the link they open nothing.
    "link": re.compile(r"dl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}"),
}
_WHAT = {"lang": "language code (e.g. en, fr)", "form": "form name", "link": "link (ask the data centre for a new one)"}
#: Longer query strings are refused unread: three short parameters never need more.
MAX_QUERY = 512


def query_parameters(query: str | None = None) -> dict[str, str]:
    """The page URL's query parameters, checked: only ``lang``, ``form`` and ``link``, each once.

    ``query`` defaults to Voila's ``QUERY_STRING``. Raises :class:`BadInput` listing every
    problem (unknown, repeated, blank or malformed parameters) so the page can say what is wrong
    without having opened anything; a malformed ``link`` is :func:`refused_link` instead, as a
    wrong one is (its value is a secret, and its shape is no business of a guesser).
    """
    raw = os.environ.get("QUERY_STRING", "") if query is None else query
    raw = raw.removeprefix("?")
    if len(raw) > MAX_QUERY:
        raise BadInput(f"the page address is too long ({len(raw)} characters after '?'; at most {MAX_QUERY})")
    problems: list[Problem] = []
    found: dict[str, str] = {}
    bad_link = False
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=len(PARAMETERS) * 2)
    except ValueError:
        raise BadInput("the page address has too many parameters (only lang, form and link)") from None
    for name, value in pairs:
        shown = name[:40]
        if name not in PARAMETERS:
            problems.append(Problem(f"?{shown}", "is not a parameter of this page (only lang, form and link)"))
        elif name in found:
            problems.append(Problem(f"?{name}", "is given more than once"))
        elif not PARAMETERS[name].fullmatch(value):
            if name == "link":
                bad_link = True  # refused below with the one message, whatever else is wrong
            else:
                problems.append(Problem(f"?{name}", f"{value[:40]!r} is not a valid {_WHAT[name]}"))
        else:
            found[name] = value
    if bad_link:
        raise refused_link()
    if problems:
        raise BadInput("this page address cannot be opened", problems)
    return found


def refused_link() -> Refused:
    """The page's only answer to a link that does not open: the same words as a wrong, expired or
    revoked one (:data:`~docket.people.links.REFUSED_LINK`), no id, no detail, never the link."""
    from docket.people.links import REFUSED_LINK

    return Refused(REFUSED_LINK, rule="valid-link")


def served_docket() -> Any:
    """The instance the server was started on (``$DOCKET_INSTANCE``), its store opened as it is.

    Never creates anything: no instance folder (``Instance.find``, not ``create``), no SQLite
    file (one that is missing is an error here, where opening it would make an empty one), no
    migration (a store behind the code is an error; ``docket serve`` and ``docket db upgrade``
    migrate).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from docket.api import Docket
    from docket.instance import Instance

    root = os.environ.get(INSTANCE_VARIABLE)
    if not root:
        raise InstanceError(f"no docket instance: start the page with `docket serve` (it sets {INSTANCE_VARIABLE})")
    instance = Instance.find(root)
    url = instance.store_url()
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InstanceError(f"the store URL of {instance.root} is not usable") from exc
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not Path(database).is_file():
        raise InstanceError(f"the store of {instance.root} does not exist; the page never creates one "
                            "(start it with `docket serve`, which prepares the store)")
    # The public page: nobody signs in; a provider's link opens their request (RequestPage).
    docket = Docket(instance, migrate=False, anonymous=True, source="form page")
    try:
        if docket.store.current() != docket.store.head():
            raise InstanceError(f"the store of {instance.root} is not at the newest migration "
                                "(run `docket db upgrade`, or restart `docket serve`)")
    except BaseException:
        docket.close()
        raise
    return docket


class RequestPage:
    """The form, a language selector, and what happens on submit; with a link, the provider's desk.

    Opened with a provider's secret link (``link``), the page edits that request only and shows,
    above the form, its status panel and the reviewer's comments (each thread with a reply box, each
    comment that names a field also beside that field), and below the form a notice of what the
    review state allows. A draft is sent for review by the form's one "Submit for review" button
    (:meth:`store`): an earlier, separate "Resubmit" button did almost the same and confused
    providers. Every button does its work once: it is disabled while it works and the kernel
    ignores a click that arrives after the work made it pointless.
    """

    def __init__(self, docket: Any, form_name: str, language: str | None, link: str | None) -> None:
        request_id = None
        if link:  # the provider's own request, and only it
            docket = docket.as_link(link)
            request_id = docket.caller.link_request
        self.docket = docket
        self.linked = request_id is not None
        self.form = load_form(form_name, docket)
        languages = self.form.languages
        wanted = language or next((x for x in docket.config.languages if x in languages), languages[0])
        self.language = wanted if wanted in languages else languages[0]
        self.request_id: str | None = None
        self.revision: int | None = None
        self.record: dict[str, Any] | None = None
        self.comments: list[dict[str, Any]] = []
        self.busy = False
        self.qa: dict[str, Any] | None = None
        self.saved: dict[str, Any] | None = None  # what the last save on this page stored
        existing = data = None
        if request_id:
            existing = docket.get(request_id)
            self.request_id, self.revision, self.record = existing["id"], existing["revision"], existing
            data = self.form.from_record(existing)
        self.view = FormView(
            self.form, language=self.language, content_languages=docket.config.languages, data=data,
            existing=existing, on_submit=self.store, describe_result=self.describe, on_save=self.save_draft,
        )
        use_tiles(self.view, docket.config)  # the spatial map over the instance's own tiles, if any
        names = self.form.ui.get("language_names", {})
        self.selector = W.Dropdown(options=[(names.get(x, x), x) for x in languages], value=self.language,
                                   layout=W.Layout(width="auto"), style={"description_width": "initial"})
        self.selector.add_class("docket-language")
        self.header = W.HTML()
        self.header.add_class("docket-header")
        # The provider's desk: drawn by show_request() once there is a request to show.
        self.panel = W.HTML()
        self.panel.add_class("docket-panel")
        self.thread_box = W.VBox()
        self.thread_box.add_class("docket-threads")
        # Each thread's reply box, kept across redraws (a language switch keeps what was typed).
        self.replies: dict[int, tuple[W.Textarea, W.Button, W.HTML]] = {}
        self.answered: set[int] = set()  # threads whose box was just sent (and emptied)
        self.field_notes: list[tuple[W.Box, W.HTML]] = []
        self.notice = W.HTML()
        self.notice.add_class("docket-action-note")
        # The provider's secret link after a first save, for drafts.js (kept in the tab, put in the
        # address): hidden, and emptied by the next save. Never written for a page opened by link.
        self.link_box = W.HTML(layout=W.Layout(display="none"))
        self.link_box.add_class("docket-draft-link")
        self.actions = W.VBox([self.notice, self.link_box])
        self.actions.add_class("docket-actions")
        if self.request_id:
            self.load_conversation()
        self.set_language(self.language)
        self.selector.observe(lambda change: self.set_language(change["new"]), names="value")
        children: list[W.Widget] = [W.HBox([self.selector]), self.header, self.panel, self.thread_box]
        if self.form.mode == "merge" and existing is None:
            # A merge form needs a request to merge into; show why rather than a dead form.
            notice = W.HTML(f"<p class='docket-status-bad'>{html.escape(self.view.text('needs_request'))}</p>")
            notice.add_class("docket-needs-request")
            self.view.submit_button.disabled = self.view.save_button.disabled = True
            children.append(notice)
        if self.record is not None and self.record["review_state"] == "retired":
            self.view.submit_button.disabled = True  # the core refuses it too (rule retired-final)
            self.view.save_button.disabled = True
        # QA's metadata checks live, the checklist on top, each file row's check/fill tools.
        from docket.forms.checklist import attach
        from docket.forms.file_tools import FileTools

        self.checks = attach(self.view, docket.config.severities)
        self.file_tools = FileTools(self.view, docket)
        children += [self.checks.checklist, self.view.widget, self.actions]
        self.widget = W.VBox(children)
        self.widget.add_class("docket-page")

    def set_language(self, language: str) -> None:
        self.language = language
        self.view.set_language(language)
        if self.selector.value != language:
            self.selector.value = language
        self.selector.description = self.view.text("language", "Language")  # its visible label
        title = html.escape(localize(self.form.title, language))
        text = html.escape(localize(self.form.description, language))
        editing = ""
        if self.request_id:
            editing = (f"<p class='docket-editing'>{html.escape(self.view.text('editing', 'Editing request'))} "
                       f"<b>{html.escape(self.request_id)}</b> ({html.escape(self.view.text('summary_revision'))}"
                       f" {self.revision})</p>")
        # lang: page.js makes it the page's <html lang> (screen readers pick their voice by it).
        self.header.value = (f"<h2 class='docket-title' lang='{html.escape(language)}'>{title}</h2>"
                             f"<p class='docket-help'>{text}</p>{editing}")
        self.show_request()

    # -- the provider's desk ------------------------------------------------------------------

    def load_conversation(self) -> None:
        """Read the request, its comments and QA summary again (after any change)."""
        assert self.request_id is not None
        self.record = self.docket.get(self.request_id)
        self.revision = self.record["revision"]
        self.comments = self.docket.comments(self.request_id)
        self.qa = status.qa_summary(self.docket, self.record)

    def show_request(self) -> None:
        """Draw the panel, the threads, the notes beside the fields and the actions, in the page
        language, from what :meth:`load_conversation` read."""
        if self.record is None:
            return
        t = self.view.text
        self.panel.value = status.PANEL_STYLE + status.status_html(self.record, self.qa, t)
        self.show_threads()
        self.show_field_notes()
        self.show_actions()

    def show_threads(self) -> None:
        t = self.view.text
        heading = W.HTML(f"<h3>{html.escape(t('comments', 'Comments'))}</h3>")
        boxes: list[W.Widget] = [heading]
        groups = status.threads(self.comments)
        if not groups:
            empty = W.HTML(f"<p class='docket-help docket-no-comments'>{html.escape(t('no_comments', 'No comments yet.'))}</p>")
            boxes.append(empty)
        for root, replies in groups:
            label = self.view.label_of(root["field"]) if root.get("field") else None
            body = W.HTML(status.thread_html(root, replies, t, field_label=label))
            text, button, said = self.reply_box(root["id"])
            text.placeholder = t("reply_placeholder", "Your answer")
            button.description = t("reply", "Reply")
            box = W.VBox([body, text, W.HBox([button, said])])
            box.add_class("docket-thread")
            box.add_class(f"docket-thread-{root['id']}")
            boxes.append(box)
        self.thread_box.children = tuple(boxes)

    def reply_box(self, root_id: int) -> tuple[W.Textarea, W.Button, W.HTML]:
        """The answer box, button and message line of thread ``root_id`` (made on first use)."""
        if root_id not in self.replies:
            text = W.Textarea(rows=2, continuous_update=False, layout=W.Layout(width="90%"))
            text.add_class("docket-reply-text")
            button = W.Button(icon="reply", layout=W.Layout(width="auto"))
            button.add_class("docket-reply")
            said = W.HTML()
            said.add_class("docket-reply-status")
            button.on_click(lambda _b: self.reply(root_id, text, button, said))
            text.observe(lambda change: change["new"] and self.answered.discard(root_id), names="value")
            self.replies[root_id] = (text, button, said)
        return self.replies[root_id]

    def show_field_notes(self) -> None:
        """Each comment that names a field, shown under that field (or the nearest enclosing one
        the form shows); the field is outlined so a provider scrolling the form sees it."""
        for box, note in self.field_notes:
            box.children = tuple(c for c in box.children if c is not note)
            box.remove_class("docket-commented")
        self.field_notes = []
        fields = {json_path(f.path): f for f in self.view.walk()}
        for where, items in status.by_field(self.comments).items():
            field = nearest(fields, where)
            if field is None:
                continue  # a path this form does not show: the thread above still has it
            note = W.HTML(status.field_note_html(items, self.view.text))
            note.add_class("docket-reviewer-note")
            note.add_class(f"docket-comment-for-{css_name(field.path)}")
            field.box.children = (*field.box.children, note)
            field.box.add_class("docket-commented")
            self.field_notes.append((field.box, note))

    def show_actions(self) -> None:
        """A notice of what the review state lets the provider do next: a draft is sent with
        "Submit for review"; saving a submitted (or approved, or rejected) request sends it back
        to draft."""
        t = self.view.text
        state = self.record["review_state"] if self.record else None
        notes = []
        if state in ("submitted", "approved", "rejected"):
            words = t("edit_to_draft", "Saving changes sends this request back to draft: you then resubmit it with "
                                       "“Submit for review”.")
            if state == "submitted":  # the two buttons, and what each does to the review queue
                words = t("edit_submitted", words)
            notes.append(f"<p class='docket-notice docket-edit-to-draft'>{html.escape(words)}</p>")
        elif state == "draft":
            words = t("draft_resubmit", "This request is a draft: the data centre reviews it only after you send it "
                                        "with “Submit for review”.")
            notes.append(f"<p class='docket-notice docket-draft-note'>{html.escape(words)}</p>")
        elif state == "retired":
            notes.append(f"<p class='docket-notice'>{html.escape(t('state_note_retired', status.STATE_NOTES['retired']))}</p>")
        self.notice.value = "".join(notes)

    def reply(self, root_id: int, text: W.Textarea, button: W.Button, said: W.HTML) -> None:
        """Answer a thread (``comment(id, text, reply_to=root)``), once per click of a filled box."""
        words = (text.value or "").strip()
        if self.busy or button.disabled or not words:
            if not words and not self.busy and root_id not in self.answered:
                said.value = f"<span class='docket-status-bad'>{html.escape(self.view.text('reply_empty', 'Write your answer first.'))}</span>"
            return  # (a click queued behind a sent answer finds the box emptied: nothing to say)
        self.busy = True
        button.disabled = True
        try:
            self.docket.comment(self.request_id, words, reply_to=root_id, origin=f"voila form {self.form.name}")
        except DocketError as exc:
            said.value = f"<span class='docket-status-bad'>{html.escape(exc.message)}</span>"
            button.disabled = False
            return
        finally:
            self.busy = False
        text.value = ""
        said.value = ""
        self.answered.add(root_id)  # until the provider types again
        button.disabled = False  # the box stays for the next answer; a queued click finds it empty
        self.load_conversation()
        self.show_request()  # a new thread box: the answer appears in it

    # -- submit ------------------------------------------------------------------------------

    def store(self, document: dict[str, Any], state: str = "submitted") -> dict[str, Any]:
        """"Submit for review" (``state="submitted"``) or "Save draft" (``"draft"``) the document.

        A new form is ``submit``-ted in that state (a draft may be incomplete: :mod:`docket.drafts`);
        its result carries the provider's secret link, shown once and handed to drafts.js. An
        existing request gets a new revision when its content changed (a draft: saving a submitted
        request sends it back to draft, as the page says); "Submit for review" then moves the draft
        to ``submitted`` -- revise and resubmit in one action. A click whose content and wanted state
        are what the store holds already (a double click, two clicks queued behind a busy kernel)
        stores nothing: one submission, and the last summary stays.
        """
        origin = f"voila form {self.form.name}"
        existing = self.view.existing
        current = self.record["review_state"] if self.record else None
        same = (self.request_id is not None and existing is not None
                and digest(document) == digest(request_part(existing)))
        if same and (state == "draft" or current != "draft"):
            if (self.saved is not None and self.saved["revision"] == self.revision
                    and self.saved["record"]["review_state"] == current):
                return self.saved  # the click after a save: its summary stays as it was
            return {"id": self.request_id, "revision": self.revision, "unchanged": True, "record": existing}
        self.link_box.value = ""  # handed to drafts.js once, after the save that made the link
        # Uploaded files move from inbox/uploads/<upload>/ to inbox/<request-id>/ as the request is
        # stored (back again if storing fails); unusable locations are refused first (docket.uploads).
        check_locations(document, self.docket.instance, confine=True)
        with Placement(self.docket.instance.root) as placed:
            if self.request_id is None:  # anonymous: the result has the provider's link
                result = self.docket.submit(document, origin=origin, state=state, place=placed.into)
            elif same:  # an unchanged draft: only its state moves
                result = {"id": self.request_id, "revision": self.revision, "as_is": True}
            else:
                result = self.docket.revise(self.request_id, placed.into(document, self.request_id),
                                            expected_revision=self.revision, origin=origin)
        show_placed(self.view, placed)  # the form shows where the files went
        self.request_id, self.revision = result["id"], result["revision"]
        if state == "submitted" and existing is not None:
            again = self._sent_before()  # "Resubmitted" only for what the reviewers saw already
            try:
                self.docket.review(self.request_id, "submitted", expected_revision=self.revision, origin=origin)
                result = {**result, "resubmitted": again}
            except DocketError as exc:
                if same:
                    raise  # nothing was stored: the refusal is the whole answer
                result = {**result, "not_submitted": exc.message}  # the new revision stays a draft
        self.load_conversation()
        record = self.record
        self.view.existing = record  # a further save is a new revision of this request
        self.set_language(self.language)
        self.saved = {**result, "record": record, "before": current}
        if result.get("link"):
            self.link_box.value = f"<span data-docket-link='{html.escape(result['link'])}'></span>"
        return self.saved

    def _sent_before(self) -> bool:
        """Whether this request was ever submitted for review (a draft the reviewer sent back with
        "request changes", or one saved back to draft), as against a draft never sent yet."""
        return any(h["kind"] == "review" and h["to"] == "submitted" for h in self.docket.history(self.request_id))

    def save_draft(self, document: dict[str, Any]) -> dict[str, Any]:
        """"Save draft": store what is filled in, complete or not (the form checked only what is
        there); a submitted request goes back to draft, which the page says."""
        return self.store(document, state="draft")

    def describe(self, result: dict[str, Any], language: str) -> str:
        """The summary shown after a submit: the new id, revision, state, title and files."""
        record = result["record"]
        t = self.view.text
        esc = html.escape
        if result.get("unchanged"):
            heading = t("unchanged", "Nothing changed: no new revision")
        elif result.get("as_is") and result.get("resubmitted"):  # the draft as it was, sent again
            heading = t("resubmitted", "Resubmitted for review.").rstrip(".")
        elif result.get("as_is"):  # a draft never sent before, sent as it was saved
            heading = t("submitted_as_is", "Submitted for review.").rstrip(".")
        else:
            heading = t("revised") if result["revision"] > 1 else t("stored")
        # A request the reviewers saw before (a draft sent back with "request changes", one saved
        # back to draft, or a submitted one revised) is back in the review queue: say so.
        resent = bool(result.get("resubmitted")) and not result.get("unchanged")
        # A draft may have no title or files yet (docket.drafts).
        title = title_of(record, [language, *self.docket.config.languages])
        files = "".join(f"<li>{esc(str(f['name']))}</li>" for f in record.get("files", [])
                        if isinstance(f, dict) and f.get("name"))
        ref = f"{record['id']}.{record['revision']}"
        rows = [
            (t("summary_id"), f"<b class='docket-request-id'>{esc(record['id'])}</b>"),
            (t("summary_revision"), f"<span class='docket-request-revision'>{record['revision']}</span>"),
            (t("summary_state"), esc(status.state_words(record["review_state"], t))),
            (t("summary_title"), esc(title)),
            (t("summary_files"), f"<ul>{files}</ul>"),
        ]
        table = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td>{v}</td></tr>"
                        for k, v in rows)
        # A password taken out of a URL was not stored: the provider must know the transfer will
        # need the data centre's own credentials for that host.
        warnings = "".join(f"<li>{esc(w['message'])}</li>" for w in result.get("warnings", []))
        notes = f"<ul class='docket-warnings'>{warnings}</ul>" if warnings else ""
        if result.get("not_submitted"):
            why = t("not_submitted", "Your changes are saved as a draft, but the draft could not be submitted "
                                     "for review:")
            notes += (f"<p class='docket-status-bad docket-not-submitted'>{esc(why)} "
                      f"{esc(result['not_submitted'])}</p>")
        if resent and not result.get("as_is"):  # (as it was: the heading says it already)
            notes += (f"<p class='docket-status-ok docket-resubmitted'>"
                      f"{esc(t('resubmitted', 'Resubmitted for review.'))}</p>")
        if record["review_state"] == "draft" and not result.get("unchanged"):
            back = t("back_to_draft", "Your changes are saved; the request is now a draft. Send it back for review "
                                      "with “Submit for review” when you are done.")
            if result.get("before") == "draft":
                back = t("saved_draft", "Your changes are saved in the draft. Send it for review with “Submit for "
                                        "review” when you are done.")
            elif result.get("before") is None:
                back = t("draft_saved_new", "Your draft is saved. Keep the link below: it is your way back to this "
                                            "draft. Submit it for review when it is complete.")
            notes += f"<p class='docket-notice docket-back-to-draft'>{esc(back)}</p>"
            lacking = self._still_missing()
            if lacking:  # an incomplete draft: what stands between it and the review queue
                items = "".join(f"<li>{esc(w)}</li>" for w in lacking)
                todo = t("draft_missing", "Still to fill before you can submit it for review:")
                notes += f"<div class='docket-notice docket-draft-missing'>{esc(todo)}<ul>{items}</ul></div>"
        marked = " class='docket-resubmitted'" if resent and result.get("as_is") else ""
        return (f"<div class='docket-summary' data-id='{esc(record['id'])}' data-ref='{esc(ref)}'>"
                f"<h3{marked}>{esc(heading)} ({esc(ref)})</h3><table>{table}</table>{notes}"
                f"{self._link_note(result.get('link'))}</div>")

    def _still_missing(self) -> list[str]:
        """The fields the form still needs before "Submit for review", by their labels."""
        words = [self.view.label_of(p.where) for p in self.view.problems]
        return list(dict.fromkeys(w for w in words if w))

    def _link_note(self, link: str | None) -> str:
        """The provider's secret link, in the summary of the first submit only (the one result
        that carries it; it is mailed to them too): later saves' summaries do not repeat it."""
        if not link:
            return ""
        from docket.people.links import url

        address = html.escape(url(self.docket.config, link))
        return (f"<p class='docket-help docket-link'>{html.escape(self.view.text('summary_edit'))} "
                f"<a href='{address}'><code>{address}</code></a></p>")


def request_page(form: str | None = None, language: str | None = None, link: str | None = None,
                 query: str | None = None) -> W.Widget:
    """The page's widget for the served instance; any docket error becomes a message on the page.

    ``form``, ``language`` and ``link`` are the notebook's papermill parameters; those left
    as ``None`` come from the URL (``query``, default ``$QUERY_STRING``). There is deliberately no
    way to pass an instance: it is the server's (:func:`served_docket`). Every value is checked
    before use: the form must be one of this instance's forms, the language one of the form's,
    the link one of this instance's live links (it opens its own request, nothing else).
    """
    docket = None
    try:
        params = query_parameters(query)
        form = form or params.get("form") or DEFAULT_FORM
        language = language or params.get("lang")
        link = link or params.get("link")
        for name, value in (("form", form), ("lang", language), ("link", link)):
            if value is not None and not PARAMETERS[name].fullmatch(value):
                if name == "link":
                    raise refused_link()  # never echoed, even from a notebook parameter
                raise BadInput(f"{value[:40]!r} is not a valid {_WHAT[name]}")
        docket = served_docket()
        forms = list_forms(docket)
        if form not in forms:
            raise NotFound(f"no form {form!r} (forms: {', '.join(forms) or 'none'})")
        languages = load_form(form, docket).languages
        if language is not None and language not in languages:
            raise NotFound(f"the form {form} is not written in {language!r} (languages: {', '.join(languages)})")
        page = RequestPage(docket, form, language, link)
    except DocketError as exc:
        if docket is not None:
            docket.close()
        problems = "".join(f"<li>{html.escape(str(p))}</li>" for p in exc.problems)
        message = W.HTML(f"<p class='docket-page-error'><b>docket:</b> {html.escape(exc.message)}</p><ul>{problems}</ul>")
        message.add_class("docket-page-error")
        return message
    return page.widget
