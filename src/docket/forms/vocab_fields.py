"""Fields that offer a vocabulary: an SPDX licence, keywords from a thesaurus, a unit, suggestions.

Registered with :func:`docket.forms.renderer.register` under the ``renderer`` names a form
definition uses; the ``widget`` of each spec stays what the data's shape is (``text`` or
``tags``), so the offline notebook, the JSON export and ``docket import`` read and check these
fields exactly as before. Every value stays possible: a vocabulary suggests, the core decides.

* ``"renderer": "licence"`` -- a searchable pick list of the SPDX License List (common data
  licences first) that also takes any other text; under it, which SPDX licence the value is, or
  that a licence not on the list must be accepted by the reviewer (rule ``licence-accepted``).
* ``"renderer": "keywords"`` -- the comma-separated keywords, plus a search box whose pick list
  is the instance's thesaurus (``[vocabularies] keywords`` in docket.toml) in the page language,
  synonyms included; picking a suggestion (or pressing Enter on any text) adds it.
* ``"renderer": "unit"`` -- a unit with the UDUNITS-2 pick list; an unknown unit is a warning
  under the field, never an error.
* ``"renderer": "suggest"`` -- a text with the spec's ``suggestions`` as its pick list, also
  listed in the help text (column formats, media types).

The served page finds its instance through ``DOCKET_INSTANCE`` (as :mod:`docket.forms.page`
does); a program rendering a form itself gives a thesaurus with :func:`use_thesaurus`.
"""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_string import TextStyle

from docket.errors import DocketError
from docket.forms.definition import localize
from docket.forms.renderer import Field, css_name, register
from docket.vocabularies import spdx, units
from docket.vocabularies.thesaurus import Thesaurus, configured

#: Words of these fields, per language; a form's ``ui.text`` may override any of them.
TEXTS: dict[str, dict[str, str]] = {
    "licence_placeholder": {"en": "Search the SPDX list, e.g. CC-BY-4.0",
                            "fr": "Cherchez dans la liste SPDX, p. ex. CC-BY-4.0",
                            "de": "In der SPDX-Liste suchen, z. B. CC-BY-4.0"},
    "licence_help": {"en": "Pick a licence of the SPDX list (common data licences first), or type another "
                           "licence (its name or URL): a licence not on the SPDX list must be accepted by "
                           "the reviewer.",
                     "fr": "Choisissez une licence de la liste SPDX (les licences de données courantes "
                           "d'abord), ou saisissez-en une autre (nom ou URL) : une licence hors de la liste "
                           "SPDX doit être acceptée par le relecteur.",
                     "de": "Wählen Sie eine Lizenz der SPDX-Liste (gängige Datenlizenzen zuerst) oder geben "
                           "Sie eine andere ein (Name oder URL): Eine Lizenz außerhalb der SPDX-Liste muss "
                           "die Prüfung akzeptieren."},
    "licence_spdx": {"en": "SPDX licence", "fr": "Licence SPDX", "de": "SPDX-Lizenz"},
    "licence_other": {"en": "Other licence: not on the SPDX list. It is kept as you typed it, and the "
                            "reviewer must accept it before the request is approved.",
                      "fr": "Autre licence : hors de la liste SPDX. Elle est gardée telle que saisie, et le "
                            "relecteur doit l'accepter avant que la demande soit acceptée.",
                      "de": "Andere Lizenz: nicht in der SPDX-Liste. Sie bleibt wie eingegeben, und die "
                            "Prüfung muss sie akzeptieren, bevor der Antrag angenommen wird."},
    "keywords_help": {"en": "Separate keywords with commas, or add them one at a time in the search box, which "
                            "suggests the thesaurus's terms; your own keywords are welcome too.",
                      "fr": "Séparez les mots-clés par des virgules, ou ajoutez-les un par un dans la zone de "
                            "recherche, qui propose les termes du thésaurus ; vos propres mots-clés sont "
                            "aussi acceptés.",
                      "de": "Schlagwörter durch Kommas trennen oder einzeln im Suchfeld hinzufügen, das die "
                            "Begriffe des Thesaurus vorschlägt; eigene Schlagwörter sind ebenso möglich."},
    "keywords_free_help": {"en": "Separate keywords with commas.",
                           "fr": "Séparez les mots-clés par des virgules.",
                           "de": "Schlagwörter durch Kommas trennen."},
    "keywords_search": {"en": "Add a keyword: type to see suggestions from {title}",
                        "fr": "Ajouter un mot-clé : tapez pour voir les suggestions de {title}",
                        "de": "Schlagwort hinzufügen: tippen für Vorschläge aus {title}"},
    "keywords_known": {"en": "From {title}:", "fr": "Du thésaurus {title} :", "de": "Aus {title}:"},
    "keywords_free": {"en": "Your own:", "fr": "Les vôtres :", "de": "Eigene:"},
    "keywords_unavailable": {"en": "Suggestions are unavailable ({why}); type your keywords.",
                             "fr": "Suggestions indisponibles ({why}) ; saisissez vos mots-clés.",
                             "de": "Keine Vorschläge verfügbar ({why}); geben Sie Ihre Schlagwörter ein."},
    "unit_placeholder": {"en": "e.g. degC, m s-1, umol kg-1", "fr": "p. ex. degC, m s-1, umol kg-1",
                         "de": "z. B. degC, m s-1, umol kg-1"},
    "unit_help": {"en": "A UDUNITS-2 unit as CF uses them (pick from the list or type one).",
                  "fr": "Une unité UDUNITS-2, comme les utilise CF (choisissez dans la liste ou saisissez-la).",
                  "de": "Eine UDUNITS-2-Einheit, wie CF sie verwendet (aus der Liste wählen oder eingeben)."},
    "unit_known": {"en": "UDUNITS-2 reads it as {definition}", "fr": "UDUNITS-2 la lit comme {definition}",
                   "de": "UDUNITS-2 liest sie als {definition}"},
    "unit_unknown": {"en": "Warning: {value} is not a UDUNITS-2 unit; check it (you may keep it if your "
                           "community uses it).",
                     "fr": "Attention : {value} n'est pas une unité UDUNITS-2 ; vérifiez-la (vous pouvez la "
                           "garder si votre communauté l'emploie).",
                     "de": "Warnung: {value} ist keine UDUNITS-2-Einheit; bitte prüfen (Sie können sie "
                           "behalten, wenn Ihre Fachgemeinschaft sie verwendet)."},
    "suggested": {"en": "Suggested values: {values}.", "fr": "Valeurs proposées : {values}.",
                  "de": "Vorgeschlagene Werte: {values}."},
}

STYLE = """<style>
.docket-form .docket-vocab-ok { color: #1a7f37; font-size: 0.9em; }
.docket-form .docket-warning { color: #9a6700; font-size: 0.9em; }
.docket-form .docket-keyword-search { margin-top: 2px; }
</style>"""


def text(field: Field, key: str, language: str | None = None, **values: Any) -> str:
    """The words ``key`` in the page language (the form's ``ui.text`` first, then :data:`TEXTS`)."""
    lang = language or field.view.language
    words = localize(field.view.texts.get(key), lang) or localize(TEXTS.get(key), lang)
    try:
        return words.format(**values) if values else words
    except (KeyError, IndexError, ValueError):
        return words


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


def _combobox(field: Field, options: list[str], extra_class: str) -> W.Combobox:
    """A text input with a pick list (an HTML datalist: typing filters it, any text is kept)."""
    box = W.Combobox(options=options, ensure_option=False, continuous_update=False,
                     layout=field.view.shared("plain", W.Layout), style=field.view.shared("plain", TextStyle))
    box.add_class("docket-input")
    box.add_class(extra_class)
    return box


class _NotedField(Field):
    """A field whose note also carries a status line (which licence, which unit) under the help."""

    status_html = ""

    def status(self) -> str:
        """The HTML status line for the current value (empty when there is nothing to say)."""
        return ""

    def render_note(self) -> None:
        """The base note (help, then errors) with the status line between them."""
        self.status_html = self.status()
        help_html = f"<div class='docket-help'>{_esc(self.help_text)}</div>" if self.help_text else ""
        errors = "<br>".join(_esc(m) for m in self.errors)
        status = STYLE + self.status_html if self.status_html else ""
        value = f"{help_html}{status}<div class='docket-error docket-error-{css_name(self.path)}'>{errors}</div>"
        if self.note.value != value:
            self.note.value = value

    def _changed(self, change: dict[str, Any]) -> None:
        super()._changed(change)
        if self.status() != self.status_html:
            self.render_note()

    def relabel(self, language: str) -> None:
        super().relabel(language)
        self.render_note()


class LicenceField(_NotedField):
    """An SPDX licence from a searchable pick list, or any other licence as free text."""

    def make_input(self) -> W.Widget:
        # "CC-BY-4.0 — Creative Commons Attribution 4.0 International": found by its id or its
        # name; a pick stores the identifier alone (see _changed).
        self.by_label = {f"{i} — {spdx.lookup(i).name}": i for i in spdx.choices()}
        w = _combobox(self, list(self.by_label), "docket-licence")
        w.add_class(f"docket-field-{css_name(self.path)}")
        w.observe(self._changed, names="value")
        return w

    def _changed(self, change: dict[str, Any]) -> None:
        picked = self.by_label.get(change.get("new"))
        if picked is not None:
            self.input.value = picked  # observed again, as the identifier
            return
        super()._changed(change)

    def relabel(self, language: str) -> None:
        super().relabel(language)
        if not self.spec.get("placeholder"):
            self.input.placeholder = text(self, "licence_placeholder", language)
        if not self.spec.get("help"):
            self.help_text = text(self, "licence_help", language)
            self.render_note()

    def status(self) -> str:
        value = self.input.value.strip() if isinstance(self.input.value, str) else ""
        if not value:
            return ""
        found = spdx.lookup(value)
        path = css_name(self.path)
        if found is None and qa_notes_shown(self.view):
            return ""  # the live QA note (metadata.licence) says it under the field already
        if found is None:
            return f"<div class='docket-warning docket-licence-other docket-warning-{path}'>⚠ " \
                   f"{_esc(text(self, 'licence_other'))}</div>"
        note = f" (deprecated: {_esc(found.id)})" if found.deprecated else ""
        return (f"<div class='docket-vocab-ok docket-licence-spdx docket-vocab-{path}'>✓ "
                f"{_esc(text(self, 'licence_spdx'))} <b>{_esc(found.id)}</b>: {_esc(found.name)}{note}</div>")


class UnitField(_NotedField):
    """A column's unit, with the UDUNITS-2 pick list; an unknown unit is a warning only."""

    def make_input(self) -> W.Widget:
        w = _combobox(self, list(units.suggestions()), "docket-unit")
        w.add_class(f"docket-field-{css_name(self.path)}")
        w.observe(self._changed, names="value")
        return w

    def relabel(self, language: str) -> None:
        super().relabel(language)
        if not self.spec.get("placeholder"):
            self.input.placeholder = text(self, "unit_placeholder", language)
        if not self.spec.get("help"):
            self.help_text = text(self, "unit_help", language)
            self.render_note()

    def status(self) -> str:
        value = self.input.value.strip() if isinstance(self.input.value, str) else ""
        if not value:
            return ""
        verdict = units.check(value)
        path = css_name(self.path)
        if not verdict.ok and qa_notes_shown(self.view):
            return ""  # the live QA note (metadata.units) says it under the field already
        if verdict.ok:
            return (f"<div class='docket-vocab-ok docket-unit-known docket-vocab-{path}'>✓ "
                    f"{_esc(text(self, 'unit_known', definition=verdict.definition))}</div>")
        shown = repr(value[:60])
        return (f"<div class='docket-warning docket-unit-unknown docket-warning-{path}'>⚠ "
                f"{_esc(text(self, 'unit_unknown', value=shown))}</div>")


class SuggestField(Field):
    """A text whose usual values (the spec's ``suggestions``) are a pick list and in the help."""

    def make_input(self) -> W.Widget:
        values = [str(v) for v in self.spec.get("suggestions", [])][:500]
        w = _combobox(self, values, "docket-suggest")
        w.add_class(f"docket-field-{css_name(self.path)}")
        w.observe(self._changed, names="value")
        return w

    def relabel(self, language: str) -> None:
        super().relabel(language)
        values = self.input.options
        if values:
            listed = ", ".join(values[:30]) + (", …" if len(values) > 30 else "")
            self.help_text = f"{self.help_text} {text(self, 'suggested', language, values=listed)}".strip()
            self.render_note()


class KeywordsField(Field):
    """Comma-separated keywords (the ``tags`` shape), and a search box over the thesaurus."""

    def make_input(self) -> W.Widget:
        placeholder = localize(self.spec.get("placeholder"), self.view.language)
        w = W.Text(placeholder=placeholder, continuous_update=False, **self.view.looks(TextStyle))
        w.add_class("docket-input")
        w.add_class(f"docket-field-{css_name(self.path)}")
        w.observe(self._changed, names="value")
        self.thesaurus, self.problem = _thesaurus_of(self.view)
        self.choices: dict[str, str] = {}  # text shown in the pick list -> the keyword it adds
        self.search = _combobox(self, [], "docket-keyword-search")
        self.search.add_class(f"docket-suggest-{css_name(self.path)}")
        self.search.observe(self._picked, names="value")
        if self.thesaurus is None:
            self.search.layout = W.Layout(display="none")
        self.known = self.view.html("docket-keywords-known")
        return w

    def layout(self) -> W.Box:
        return self.view.vbox([self.label, self.input, self.search, self.known, self.note])

    def relabel(self, language: str) -> None:
        super().relabel(language)
        if self.thesaurus is not None:
            pairs = self.thesaurus.suggestions(language)
            self.choices = dict(pairs)
            self.search.options = [shown for shown, _ in pairs]
            self.search.placeholder = text(self, "keywords_search", language, title=self.thesaurus.title)
        if not self.spec.get("help"):
            key = "keywords_help" if self.thesaurus is not None else "keywords_free_help"
            self.help_text = text(self, key, language)
            if self.problem:
                self.help_text += " " + text(self, "keywords_unavailable", language, why=self.problem)
            self.render_note()
        self.show_known()

    def _picked(self, change: dict[str, Any]) -> None:
        """A suggestion picked (or a text entered) in the search box: add it, empty the box."""
        picked = str(change.get("new") or "").strip()
        if not picked or self.view.loading:
            return
        keyword = self.choices.get(picked)
        if keyword is None and self.thesaurus is not None:
            concept = self.thesaurus.find(picked)
            keyword = concept.label(self.view.language) if concept is not None else picked
        keyword = (keyword or picked)[:100]
        current = self.value()
        if keyword.casefold() not in {k.casefold() for k in current}:
            self.input.value = ", ".join([*current, keyword])  # -> _changed -> refresh
        with self.view.quiet():
            self.search.value = ""

    def _changed(self, change: dict[str, Any]) -> None:
        super()._changed(change)
        self.show_known()

    def set_value(self, value: Any) -> None:
        super().set_value(value)
        self.show_known()

    def show_known(self) -> None:
        """Which keywords are the thesaurus's and which the provider's own."""
        if self.thesaurus is None:
            return
        known, free = [], []
        for keyword in self.value():
            (known if self.thesaurus.find(keyword) is not None else free).append(keyword)
        parts = []
        if known:
            parts.append(f"<span class='docket-vocab-ok'>{_esc(text(self, 'keywords_known', title=self.thesaurus.title))}"
                         f" {_esc(', '.join(known))}</span>")
        if free:
            parts.append(f"<span class='docket-help'>{_esc(text(self, 'keywords_free'))} {_esc(', '.join(free))}</span>")
        value = STYLE + "<div class='docket-keywords-sorted'>" + " · ".join(parts) + "</div>" if parts else ""
        if self.known.value != value:
            self.known.value = value


def qa_notes_shown(view: Any) -> bool:
    """Whether the page runs the QA checks live (docket.forms.checklist.LiveChecks), which put
    the licence and unit warnings under these fields in QA's own words: then the fields do not
    repeat them, and show only what QA does not (which SPDX licence, how UDUNITS-2 reads a unit)."""
    try:
        from docket.forms.checklist import LiveChecks
    except ImportError:  # pragma: no cover - a renderer without live checks
        return False
    return any(isinstance(getattr(hook, "__self__", None), LiveChecks) for hook in getattr(view, "on_refresh", ()))


def _thesaurus_of(view: Any) -> tuple[Thesaurus | None, str]:
    """The thesaurus of ``view`` (:func:`use_thesaurus`), else of the served instance
    (``DOCKET_INSTANCE``); ``(None, why)`` when a configured one cannot be read."""
    given = getattr(view, "thesaurus", None)
    if isinstance(given, Thesaurus):
        return given, ""
    root = os.environ.get("DOCKET_INSTANCE")
    if not root:
        return None, ""
    try:
        from docket.instance import Instance

        return configured(Instance.find(root)), ""
    except DocketError as exc:
        return None, exc.message


def use_thesaurus(view: Any, thesaurus: Thesaurus | None) -> None:
    """Give a rendered form's keyword fields ``thesaurus`` (or none) as their suggestions."""
    view.thesaurus = thesaurus
    for field in view.walk():
        if isinstance(field, KeywordsField):
            field.thesaurus, field.problem = thesaurus, ""
            field.search.layout = W.Layout(display=None if thesaurus is not None else "none")
            field.relabel(view.language)


register("licence", LicenceField)
register("keywords", KeywordsField)
register("unit", UnitField)
register("suggest", SuggestField)
