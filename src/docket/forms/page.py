"""The request page: a rendered form wired to an instance's store, as the Voila notebook shows it.

``notebooks/request.ipynb`` is one call of :func:`request_page`. Its parameters (papermill) win;
those left as ``None`` come from the page's URL (Voila puts the query string in the kernel's
``QUERY_STRING``: ``?lang=fr&id=ocean-0007&form=file-resubmission``), then from defaults. A
submit stores the request through the core API with the provider as the acting agent (so PROV
records them); with a request id, or after a first submit, the next submit is a new revision.
"""

from __future__ import annotations

import html
import os
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as W

from docket.errors import DocketError
from docket.forms.definition import load_form, localize
from docket.forms.renderer import FormView
from docket.text import pick

DEFAULT_FORM = "ingest-request"


def query_parameters(query: str | None = None) -> dict[str, str]:
    """The page URL's query parameters (first value of each), from Voila's ``QUERY_STRING``."""
    raw = os.environ.get("QUERY_STRING", "") if query is None else query
    return {k: v[0] for k, v in parse_qs(raw.lstrip("?"), keep_blank_values=False).items() if v}


class RequestPage:
    """The form, a language selector, and what happens on submit."""

    def __init__(self, docket: Any, form_name: str, language: str | None, request_id: str | None) -> None:
        self.docket = docket
        self.form = load_form(form_name, docket)
        languages = self.form.languages
        wanted = language or next((x for x in docket.config.languages if x in languages), languages[0])
        self.language = wanted if wanted in languages else languages[0]
        self.request_id: str | None = None
        self.revision: int | None = None
        existing = data = None
        if request_id:
            existing = docket.get(request_id)
            self.request_id, self.revision = existing["id"], existing["revision"]
            data = self.form.from_record(existing)
        self.view = FormView(
            self.form, language=self.language, content_languages=docket.config.languages, data=data,
            existing=existing, on_submit=self.store, describe_result=self.describe,
        )
        names = self.form.ui.get("language_names", {})
        self.selector = W.Dropdown(options=[(names.get(x, x), x) for x in languages], value=self.language,
                                   layout=W.Layout(width="12em"))
        self.selector.add_class("docket-language")
        self.selector.observe(lambda change: self.set_language(change["new"]), names="value")
        self.header = W.HTML()
        self.header.add_class("docket-header")
        self.set_language(self.language)
        children: list[W.Widget] = [W.HBox([self.selector]), self.header]
        if self.form.mode == "merge" and existing is None:
            # A merge form needs a request to merge into; show why rather than a dead form.
            notice = W.HTML(f"<p class='docket-status-bad'>{html.escape(self.view.text('needs_request'))}</p>")
            notice.add_class("docket-needs-request")
            self.view.submit_button.disabled = True
            children.append(notice)
        children.append(self.view.widget)
        self.widget = W.VBox(children)
        self.widget.add_class("docket-page")

    def set_language(self, language: str) -> None:
        self.language = language
        self.view.set_language(language)
        if self.selector.value != language:
            self.selector.value = language
        title = html.escape(localize(self.form.title, language))
        text = html.escape(localize(self.form.description, language))
        editing = ""
        if self.request_id:
            editing = (f"<p class='docket-editing'>{html.escape(self.view.text('editing', 'Editing request'))} "
                       f"<b>{html.escape(self.request_id)}</b> ({html.escape(self.view.text('summary_revision'))}"
                       f" {self.revision})</p>")
        self.header.value = f"<h2 class='docket-title'>{title}</h2><p class='docket-help'>{text}</p>{editing}"

    def store(self, document: dict[str, Any]) -> dict[str, Any]:
        """Submit (first time) or revise (an opened or just-submitted request) the document."""
        from docket.api import Actor

        provider = document["provider"]
        actor = Actor(provider["name"], "provider", provider.get("email"), provider.get("orcid"))
        origin = f"voila form {self.form.name}"
        if self.request_id is None:
            result = self.docket.submit(document, actor=actor, origin=origin)
        else:
            result = self.docket.revise(self.request_id, document, actor=actor,
                                        expected_revision=self.revision, origin=origin)
        self.request_id, self.revision = result["id"], result["revision"]
        record = self.docket.get(result["id"])
        self.view.existing = record  # a further submit is a new revision of this request
        self.set_language(self.language)
        return {**result, "record": record}

    def describe(self, result: dict[str, Any], language: str) -> str:
        """The summary shown after a submit: the new id, revision, state, title and files."""
        record = result["record"]
        t = self.view.text
        esc = html.escape
        heading = t("revised") if result["revision"] > 1 else t("stored")
        title = pick(record["metadata"]["project_descriptive"]["title"], [language, *self.docket.config.languages])
        files = "".join(f"<li>{esc(f['name'])}</li>" for f in record.get("files", []))
        ref = f"{record['id']}.{record['revision']}"
        rows = [
            (t("summary_id"), f"<b class='docket-request-id'>{esc(record['id'])}</b>"),
            (t("summary_revision"), f"<span class='docket-request-revision'>{record['revision']}</span>"),
            (t("summary_state"), esc(record["review_state"])),
            (t("summary_title"), esc(title)),
            (t("summary_files"), f"<ul>{files}</ul>"),
        ]
        table = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td>{v}</td></tr>"
                        for k, v in rows)
        return (f"<div class='docket-summary' data-id='{esc(record['id'])}' data-ref='{esc(ref)}'>"
                f"<h3>{esc(heading)}: {esc(ref)}</h3><table>{table}</table>"
                f"<p class='docket-help'>{esc(t('summary_edit'))} <code>?id={esc(record['id'])}</code></p></div>")


def request_page(
    instance: str | None = None,
    form: str | None = None,
    language: str | None = None,
    request_id: str | None = None,
    query: str | None = None,
) -> W.Widget:
    """The page's widget; any docket error becomes a readable message on the page instead."""
    import docket

    params = query_parameters(query)
    instance = instance or params.get("instance") or os.environ.get("DOCKET_INSTANCE")
    form = form or params.get("form") or DEFAULT_FORM
    language = language or params.get("lang") or params.get("language")
    request_id = request_id or params.get("id")
    try:
        if not instance:
            raise DocketError("no docket instance: start the page with `docket serve` or set DOCKET_INSTANCE")
        page = RequestPage(docket.open(instance), form, language, request_id)
    except DocketError as exc:
        problems = "".join(f"<li>{html.escape(str(p))}</li>" for p in exc.problems)
        message = W.HTML(f"<p class='docket-page-error'><b>docket:</b> {html.escape(exc.message)}</p><ul>{problems}</ul>")
        message.add_class("docket-page-error")
        return message
    return page.widget
