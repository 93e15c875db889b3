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
with the provider as the acting agent (so PROV records them); with a request id, or after a first
submit, the next submit is a new revision.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import ipywidgets as W

from docket.errors import BadInput, DocketError, InstanceError, NotFound, Problem
from docket.forms.definition import list_forms, load_form, localize
from docket.forms.renderer import FormView
from docket.text import pick

DEFAULT_FORM = "ingest-request"
INSTANCE_VARIABLE = "DOCKET_INSTANCE"
#: The only query parameters the page reads, and what each must look like before it is used.
PARAMETERS: dict[str, re.Pattern[str]] = {
    "lang": re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?"),
    "form": re.compile(r"[a-z][a-z0-9-]{0,63}"),  # a form name: a slug, so never a path
    "id": re.compile(r"[a-z][a-z0-9-]{1,31}-[0-9]{4,12}"),  # <project>-<number>, as Docket.submit makes them
}
_WHAT = {"lang": "language code (e.g. en, fr)", "form": "form name", "id": "request id (e.g. ocean-0007)"}
#: Longer query strings are refused unread: three short parameters never need more.
MAX_QUERY = 512


def query_parameters(query: str | None = None) -> dict[str, str]:
    """The page URL's query parameters, checked: only ``lang``, ``form`` and ``id``, each once.

    ``query`` defaults to Voila's ``QUERY_STRING``. Raises :class:`BadInput` listing every
    problem (unknown, repeated, blank or malformed parameters) so the page can say what is wrong
    without having opened anything.
    """
    raw = os.environ.get("QUERY_STRING", "") if query is None else query
    raw = raw.removeprefix("?")
    if len(raw) > MAX_QUERY:
        raise BadInput(f"the page address is too long ({len(raw)} characters after '?'; at most {MAX_QUERY})")
    problems: list[Problem] = []
    found: dict[str, str] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=len(PARAMETERS) * 2)
    except ValueError:
        raise BadInput("the page address has too many parameters (only lang, form and id)") from None
    for name, value in pairs:
        shown = name[:40]
        if name not in PARAMETERS:
            problems.append(Problem(f"?{shown}", "is not a parameter of this page (only lang, form and id)"))
        elif name in found:
            problems.append(Problem(f"?{name}", "is given more than once"))
        elif not PARAMETERS[name].fullmatch(value):
            problems.append(Problem(f"?{name}", f"{value[:40]!r} is not a valid {_WHAT[name]}"))
        else:
            found[name] = value
    if problems:
        raise BadInput("this page address cannot be opened", problems)
    return found


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
    docket = Docket(instance, migrate=False)
    try:
        if docket.store.current() != docket.store.head():
            raise InstanceError(f"the store of {instance.root} is not at the newest migration "
                                "(run `docket db upgrade`, or restart `docket serve`)")
    except BaseException:
        docket.close()
        raise
    return docket


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
        # A password taken out of a URL was not stored: the provider must know the transfer will
        # need the data centre's own credentials for that host.
        warnings = "".join(f"<li>{esc(w['message'])}</li>" for w in result.get("warnings", []))
        notes = f"<ul class='docket-warnings'>{warnings}</ul>" if warnings else ""
        return (f"<div class='docket-summary' data-id='{esc(record['id'])}' data-ref='{esc(ref)}'>"
                f"<h3>{esc(heading)}: {esc(ref)}</h3><table>{table}</table>{notes}"
                f"<p class='docket-help'>{esc(t('summary_edit'))} <code>?id={esc(record['id'])}</code></p></div>")


def request_page(form: str | None = None, language: str | None = None, request_id: str | None = None,
                 query: str | None = None) -> W.Widget:
    """The page's widget for the served instance; any docket error becomes a message on the page.

    ``form``, ``language`` and ``request_id`` are the notebook's papermill parameters; those left
    as ``None`` come from the URL (``query``, default ``$QUERY_STRING``). There is deliberately no
    way to pass an instance: it is the server's (:func:`served_docket`). Every value is checked
    before use: the form must be one of this instance's forms, the language one of the form's,
    the id a request id of the usual shape (and then one this instance holds).
    """
    docket = None
    try:
        params = query_parameters(query)
        form = form or params.get("form") or DEFAULT_FORM
        language = language or params.get("lang")
        request_id = request_id or params.get("id")
        for name, value in (("form", form), ("lang", language), ("id", request_id)):
            if value is not None and not PARAMETERS[name].fullmatch(value):
                raise BadInput(f"{value[:40]!r} is not a valid {_WHAT[name]}")
        docket = served_docket()
        forms = list_forms(docket)
        if form not in forms:
            raise NotFound(f"no form {form!r} (forms: {', '.join(forms) or 'none'})")
        languages = load_form(form, docket).languages
        if language is not None and language not in languages:
            raise NotFound(f"the form {form} is not written in {language!r} (languages: {', '.join(languages)})")
        page = RequestPage(docket, form, language, request_id)
    except DocketError as exc:
        if docket is not None:
            docket.close()
        problems = "".join(f"<li>{html.escape(str(p))}</li>" for p in exc.problems)
        message = W.HTML(f"<p class='docket-page-error'><b>docket:</b> {html.escape(exc.message)}</p><ul>{problems}</ul>")
        message.add_class("docket-page-error")
        return message
    return page.widget
