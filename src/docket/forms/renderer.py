"""One renderer for every form definition: ipywidgets with live validation.

The renderer knows widgets, not requests: it reads a :class:`~docket.forms.definition.Form`,
builds one field object per UI spec, gathers their values into the form's data, and validates
that data with the form's own schema (the core's schemas) after every change. A field shows the
problems whose JSON path is its own as soon as it has been touched (after a submit attempt,
every field shows them), so the form and ``docket import`` always say the same thing.

Every input carries stable CSS classes derived from its JSON path (``docket-field-provider-email``,
``docket-field-files-1-name``, ``docket-error-provider-email``...) so a browser test, or a data
centre's style sheet, can find it. See docs/forms.md.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

from docket import messages
from docket.errors import DocketError, Problem
from docket.forms.definition import Form, localize, split_path
from docket.messages import fields as message_fields
from docket.messages.fields import needs_value
from docket.validation import json_path

STYLE = """<style>
.docket-form { max-width: 960px; font-family: system-ui, sans-serif; }
.docket-form .docket-section { border-top: 1px solid #d0d7de; padding: 10px 0 14px 0; margin-top: 6px; }
.docket-form .docket-section-title h3 { margin: 4px 0; }
.docket-form .docket-help { color: #57606a; font-size: 0.9em; }
.docket-form .docket-label { font-weight: 600; }
.docket-form .docket-field { width: 100%; margin: 2px 0; }
.docket-form .docket-input { width: calc(100% - 12px); max-width: 100%; box-sizing: border-box; }
.docket-form .widget-datepicker.docket-input, .docket-form .widget-dropdown.docket-input { width: 18em; }
.docket-form .docket-error { color: #b3261e; font-size: 0.9em; }
.docket-form .docket-invalid input, .docket-form .docket-invalid textarea,
.docket-form .docket-invalid select { border-color: #b3261e !important; background: #fff5f5; }
.docket-form .docket-group { border-left: 3px solid #eaeef2; padding-left: 10px; }
.docket-form .docket-row { border: 1px dashed #d0d7de; padding: 6px; margin: 4px 0; }
.docket-form .docket-status-ok { color: #1a7f37; }
.docket-form .docket-status-bad { color: #b3261e; }
.docket-form input::placeholder, .docket-form textarea::placeholder { color: #6e7781; font-style: italic; opacity: 1; }
.docket-form .docket-required-mark { color: #b3261e; }
.docket-form .docket-problems li[data-path] { cursor: pointer; text-decoration: underline dotted; }
.docket-form :focus-visible { outline: 2px solid #0969da; outline-offset: 1px; }
</style>"""


def css_name(path: list[Any]) -> str:
    """The CSS class suffix of a JSON path: ``["files", 0, "name"]`` -> ``files-0-name``."""
    return "-".join(re.sub(r"[^A-Za-z0-9_-]", "_", str(p)) for p in path)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


class Field:
    """A single input bound to one JSON path of the form's data."""

    #: The box's class when a value is required (see :func:`needs_value`); page.js reads it.
    required_class = "docket-required"

    def __init__(self, view: FormView, spec: dict[str, Any], path: list[Any]) -> None:
        self.view = view
        self.spec = spec
        self.path = path
        self.touched = False
        self.required = needs_value(view.form, path)
        self.errors: list[str] = []  # the messages this field shows now
        self.help_text = ""
        self.label = view.html("docket-label")
        self.note = view.html("docket-note")  # help text and errors, under the input
        self.input = self.make_input()
        self.box = self.layout()
        self.box.add_class("docket-field")
        self.box.add_class(f"docket-box-{css_name(path)}")
        if self.required:  # page.js mirrors it as aria-required on the box's own input(s)
            self.box.add_class(self.required_class)

    # -- building ------------------------------------------------------------------------

    def make_input(self) -> W.Widget:
        widget = self.spec.get("widget", "text")
        placeholder = localize(self.spec.get("placeholder"), self.view.language)
        if widget == "textarea":
            w: W.Widget = W.Textarea(placeholder=placeholder, continuous_update=False, rows=3,
                                     **self.view.looks(TextStyle))
        elif widget == "date":
            w = W.DatePicker(**self.view.looks(DescriptionStyle))
        elif widget == "select":
            w = W.Dropdown(options=self._options(self.view.language), value=None,
                           **self.view.looks(DescriptionStyle))
        elif widget == "checkbox":
            w = W.Checkbox(value=False, indent=False, **self.view.looks(CheckboxStyle))
        else:
            w = W.Text(placeholder=placeholder, continuous_update=False, **self.view.looks(TextStyle))
        w.add_class("docket-input")
        w.add_class(f"docket-field-{css_name(self.path)}")
        w.observe(self._changed, names="value")
        return w

    def layout(self) -> W.Box:
        return self.view.vbox([self.label, self.input, self.note])

    def _options(self, language: str) -> list[tuple[str, Any]]:
        names = self.spec.get("option_labels", {})
        values = self.view.form.options([p if isinstance(p, str) else "*" for p in self.path])
        return [("—", None)] + [(localize(names.get(str(v), str(v)), language) or str(v), v) for v in values]

    def relabel(self, language: str) -> None:
        text = localize(self.spec.get("label"), language) or str(self.path[-1])
        # The mark is for the eye; assistive technology hears aria-required (page.js).
        mark = " <span class='docket-required-mark' aria-hidden='true'>*</span>" if self.required else ""
        # A <label>: page.js ties it to the input (for=, aria-labelledby), so a click on it focuses the input.
        self.label.value = f"<label class='docket-label-text'>{_esc(text)}</label>{mark}"
        if self.spec.get("placeholder") is not None and hasattr(self.input, "placeholder"):
            self.input.placeholder = localize(self.spec.get("placeholder"), language)
        if isinstance(self.input, W.Checkbox):
            self.input.description = text
            self.label.value = ""
        help_text = localize(self.spec.get("help"), language)
        if self.spec.get("widget") == "tags" and not help_text:
            help_text = localize(self.view.texts.get("tags_help"), language)
        self.help_text = help_text
        self.render_note()
        if isinstance(self.input, W.Dropdown):
            current = self.input.value
            self.input.options = self._options(language)
            self.input.value = current

    # -- values --------------------------------------------------------------------------

    def _changed(self, change: dict[str, Any]) -> None:
        if self.view.loading:
            return
        self.__dict__.pop("_unshown", None)  # the person chose: a loaded value it cannot show is gone
        self.touched = True
        self.view.refresh()

    def value(self) -> Any:
        v = self.input.value
        widget = self.spec.get("widget", "text")
        if widget == "date":  # a loaded text that is no date stays, so the page names it as wrong
            return v.isoformat() if isinstance(v, date) else self.__dict__.get("_unshown")
        if widget == "select" and v is None:  # likewise a value that is not an option
            return self.__dict__.get("_unshown")
        if widget == "checkbox":
            return True if v else None
        if widget == "tags":
            return [t.strip() for t in re.split(r"[,;\n]", v or "") if t.strip()]
        if widget in ("integer", "number"):
            return _number(v, widget)
        if widget == "bound":
            return _bound(v)
        return v

    def set_value(self, value: Any) -> None:
        widget = self.spec.get("widget", "text")
        if widget == "date":
            # Only YYYY-MM-DD is a date (as JSON Schema's "date", offline and in the importer);
            # anything else is kept as it came, so the page says what is wrong with it (and
            # which format it wants) instead of silently dropping it.
            self.__dict__.pop("_unshown", None)
            try:
                if value and not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
                    raise ValueError(value)
                self.input.value = date.fromisoformat(value) if value else None
            except (TypeError, ValueError):
                self.input.value = None
                self._unshown = value
        elif widget == "checkbox":
            self.input.value = bool(value)
        elif widget == "select":
            known = value in [v for _, v in self.input.options]
            self.input.value = value if known else None
            self.__dict__.pop("_unshown", None)
            if not known and value is not None:  # kept, so the page lists the allowed values
                self._unshown = value
        elif widget == "tags":
            self.input.value = ", ".join(str(v) for v in value) if isinstance(value, list) else (value or "")
        elif value is None:
            self.input.value = ""
        else:
            self.input.value = str(value)

    # -- errors --------------------------------------------------------------------------

    def is_touched(self) -> bool:
        return self.touched

    def show(self, messages: list[str]) -> None:
        visible = messages if (self.view.attempted or self.is_touched()) else []
        if visible != self.errors:
            self.errors = visible
            self.render_note()
        if visible:
            self.box.add_class("docket-invalid")
        else:
            self.box.remove_class("docket-invalid")

    def render_note(self) -> None:
        """One HTML widget for help and errors: fewer widgets, a faster page."""
        help_html = f"<div class='docket-help'>{_esc(self.help_text)}</div>" if self.help_text else ""
        errors = "<br>".join(_esc(m) for m in self.errors)
        value = f"{help_html}<div class='docket-error docket-error-{css_name(self.path)}'>{errors}</div>"
        if self.note.value != value:
            self.note.value = value

    def walk(self) -> Iterator[Field]:
        yield self


def _bound(text: Any) -> Any:
    """A Table Schema minimum or maximum: a number when it reads as one (for numeric columns),
    else the text as typed (a date or time bound), so editing a record keeps ``0`` a number."""
    if not isinstance(text, str) or not text.strip():
        return None
    s = text.strip()
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", s):
        return float(s)
    return s


def _number(text: Any, kind: str) -> Any:
    """Parse a typed number; keep what does not parse, so the schema names it as wrong."""
    if not isinstance(text, str) or not text.strip():
        return None
    s = text.strip().replace(",", ".") if kind == "number" else text.strip()
    try:
        return int(s) if kind == "integer" or re.fullmatch(r"[+-]?\d+", s) else float(s)
    except ValueError:
        return text.strip()


class MultilingualField(Field):
    """One input per content language; the value is ``{"en": ..., "fr": ...}``."""

    required_class = "docket-required-one"  # one language is enough: no input is required by itself

    def relabel(self, language: str) -> None:
        super().relabel(language)
        if self.required and len(self.view.content_languages) > 1:
            hint = localize(self.view.texts.get("one_language"), language) or "One language is enough."
            self.help_text = f"{self.help_text} {hint}".strip()
            self.render_note()

    def make_input(self) -> W.Widget:
        multiline = bool(self.spec.get("multiline"))
        self.inputs: dict[str, W.Widget] = {}
        rows = []
        for lang in self.view.content_languages:
            cls = W.Textarea if multiline else W.Text
            w = cls(continuous_update=False, description=lang, style=self.view.shared("narrow", TextStyle,
                    description_width="2.5em"))
            if multiline:
                w.rows = 3
            w.add_class("docket-input")
            w.add_class(f"docket-field-{css_name([*self.path, lang])}")
            w.observe(self._changed, names="value")
            self.inputs[lang] = w
            rows.append(w)
        box = self.view.vbox(rows)
        box.add_class(f"docket-field-{css_name(self.path)}")
        return box

    def value(self) -> Any:
        return {lang: w.value for lang, w in self.inputs.items()}

    def set_value(self, value: Any) -> None:
        if isinstance(value, str):
            value = {self.view.content_languages[0]: value}
        value = value if isinstance(value, dict) else {}
        for lang, w in self.inputs.items():
            w.value = value.get(lang, "") or ""
        extra = [lang for lang in value if lang not in self.inputs]
        if extra:  # a stored text in a language the instance no longer shows: keep it visible
            for lang in extra:
                w = W.Text(value=value[lang], description=lang, continuous_update=False)
                w.add_class(f"docket-field-{css_name([*self.path, lang])}")
                w.observe(self._changed, names="value")
                self.inputs[lang] = w
            self.input.children = tuple(self.inputs.values())


class GroupField(Field):
    """A composite of fields (a contact = name + email + ORCID), one JSON object."""

    def __init__(self, view: FormView, spec: dict[str, Any], path: list[Any], removable: bool = False) -> None:
        self.removable = removable
        super().__init__(view, spec, path)
        self.box.add_class("docket-group")

    def make_input(self) -> W.Widget:
        self.extra: dict[str, Any] = {}
        self.children = [self.view.build(sub, [*self.path, *split_path(sub["key"])])
                         for sub in self.view.form.subfields(self.spec)]
        kids = [c.box for c in self.children]
        if self.removable:
            self.remove = W.Button(icon="trash", layout=self.view.shared("button", W.Layout, width="auto",
                                   align_self="flex-start"), style=self.view.shared("button", W.ButtonStyle))
            self.remove.add_class("docket-remove")
            self.remove.add_class(f"docket-remove-{css_name(self.path)}")
            self.remove.on_click(lambda _b: self.view.remove_row(self))
            kids.append(self.remove)
        if self.spec.get("copy_from"):  # "Same as me": the dataset contact copies the provider
            self.copy = W.Button(icon="clone", layout=self.view.shared("button", W.Layout, width="auto",
                                 align_self="flex-start"), style=self.view.shared("button", W.ButtonStyle))
            self.copy.add_class("docket-copy")
            self.copy.add_class(f"docket-copy-{css_name(self.path)}")
            self.copy.on_click(lambda _b: self.copy_from(self.spec["copy_from"]))
            kids.insert(0, self.copy)
        return self.view.vbox(kids)

    def copy_from(self, source: str) -> None:
        """Fill this group from the group at ``source`` (its keys that this group shows), as
        one edit: the copied values are then this group's, to change like any typed value."""
        value = self.view.field(source).value()
        with self.view.quiet():
            for child in self.children:
                v: Any = value
                for key in child.path[len(self.path):]:
                    v = v.get(key) if isinstance(v, dict) else None
                child.set_value(v)
                child.touched = True
        self.touched = True
        self.view.refresh()

    def relabel(self, language: str) -> None:
        text = localize(self.spec.get("label"), language)
        if self.removable:
            text = f"{localize(self.spec.get('row_label'), language) or text} {int(self.path[-1]) + 1}"
            self.remove.description = localize(self.view.texts.get("remove"), language)
        if self.spec.get("copy_from"):
            self.copy.description = localize(self.spec.get("copy_label"), language) or "Same as me"
        self.label.value = f"<b class='docket-label-text'>{_esc(text)}</b>" if text else ""
        self.help_text = localize(self.spec.get("help"), language)
        self.render_note()
        for child in self.children:
            child.relabel(language)

    def value(self) -> dict[str, Any]:
        return _overlay(self.extra, [(c.path[len(self.path):], c.value()) for c in self.children])

    def set_value(self, value: Any) -> None:
        value = value if isinstance(value, dict) else {}
        self.extra = _uncovered(value, [c.path[len(self.path):] for c in self.children])
        for child in self.children:
            v: Any = value
            for key in child.path[len(self.path):]:
                v = v.get(key) if isinstance(v, dict) else None
            child.set_value(v)

    def is_touched(self) -> bool:
        return self.touched or any(c.is_touched() for c in self.children)

    def walk(self) -> Iterator[Field]:
        yield self
        for child in self.children:
            yield from child.walk()


class RepeatField(Field):
    """A repeatable group (authors, files, Table Schema columns) with add and remove."""

    def make_input(self) -> W.Widget:
        self.rows: list[GroupField] = []
        self.rows_box = self.view.vbox([])
        self.add = W.Button(icon="plus", layout=self.view.shared("button", W.Layout, width="auto",
                            align_self="flex-start"), style=self.view.shared("button", W.ButtonStyle))
        self.add.add_class("docket-add")
        self.add.add_class(f"docket-add-{css_name(self.path)}")
        self.add.on_click(lambda _b: self.add_row())
        for _ in range(int(self.spec.get("rows", 0))):
            self._append()
        return self.view.vbox([self.rows_box, self.add])

    def _append(self) -> GroupField:
        row = GroupField(self.view, self.spec, [*self.path, len(self.rows)], removable=True)
        row.box.add_class("docket-row")
        self.rows.append(row)
        self.rows_box.children = tuple(r.box for r in self.rows)
        return row

    def add_row(self) -> GroupField:
        row = self._append()
        row.relabel(self.view.language)
        self.touched = True
        self.view.refresh()
        return row

    def remove_at(self, index: int) -> None:
        values = [r.value() for r in self.rows]
        touched = [r.is_touched() for r in self.rows]
        del values[index], touched[index]
        self.rows = []
        for _ in values:
            self._append()
        self.rows_box.children = tuple(r.box for r in self.rows)
        with self.view.quiet():
            for row, v, t in zip(self.rows, values, touched, strict=True):
                row.set_value(v)
                row.touched = t
                row.relabel(self.view.language)
        self.touched = True
        self.view.refresh()

    def relabel(self, language: str) -> None:
        super().relabel(language)
        self.add.description = localize(self.spec.get("add_label"), language) or "+"
        for row in self.rows:
            row.relabel(language)

    def value(self) -> list[Any]:
        return [r.value() for r in self.rows]

    def set_value(self, value: Any) -> None:
        value = value if isinstance(value, list) else []
        self.rows = []
        for _ in value:
            self._append()
        self.rows_box.children = tuple(r.box for r in self.rows)
        for row, v in zip(self.rows, value, strict=True):
            row.set_value(v)
            row.relabel(self.view.language)

    def is_touched(self) -> bool:
        return self.touched or any(r.is_touched() for r in self.rows)

    def walk(self) -> Iterator[Field]:
        yield self
        for row in self.rows:
            yield from row.walk()


FIELD_CLASSES: dict[str, type[Field]] = {
    "multilingual": MultilingualField,
    "group": GroupField,
    "repeat": RepeatField,
}


def register(widget: str, cls: type[Field]) -> None:
    """Add or replace the field class that renders ``widget`` (a plug-in point)."""
    FIELD_CLASSES[widget] = cls


class _Quiet:
    def __init__(self, view: FormView) -> None:
        self.view = view

    def __enter__(self) -> None:
        self.depth = self.view.loading
        self.view.loading = True

    def __exit__(self, *exc: object) -> None:
        self.view.loading = self.depth


class FormView:
    """A rendered form: its widget tree, its data, live errors, and submit.

    ``on_submit(document)`` receives the request document (already valid) and returns what to
    report (e.g. ``{"id", "revision"}``); it is not called while any problem remains. A
    :class:`DocketError` it raises is shown with its problems, and nothing is reported stored.
    """

    def __init__(
        self,
        form: Form,
        *,
        language: str = "en",
        content_languages: list[str] | None = None,
        data: dict[str, Any] | None = None,
        existing: dict[str, Any] | None = None,
        on_submit: Callable[[dict[str, Any]], Any] | None = None,
        describe_result: Callable[[Any, str], str] | None = None,
        on_save: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.form = form
        self.texts = form.ui.get("text", {})
        self.language = language
        self.content_languages = list(content_languages or form.languages)
        self.existing = existing
        self.on_submit = on_submit
        self.describe_result = describe_result
        self.on_save = on_save  # "Save draft": stores what is there, complete or not (save_draft)
        self.attempted = False
        self.loading = True
        self.problems: list[Problem] = []
        self.result: Any = None
        self.extra: dict[str, Any] = {}
        self._shared: dict[tuple[str, type], Any] = {}
        self.section_widgets: list[tuple[dict[str, Any], W.HTML]] = []
        self.fields: list[Field] = []
        #: Called with the view after every refresh (live quality checks, the checklist: see
        #: docket.forms.checklist); a hook must not raise.
        self.on_refresh: list[Callable[[FormView], None]] = []
        sections = []
        for section in form.sections():
            base = split_path(section.get("path", ""))
            heading = self.html("docket-section-title")
            kids = [heading]
            for spec in section.get("fields", []):
                field = self.build(spec, base + split_path(spec["key"]))
                self.fields.append(field)
                kids.append(field.box)
            box = self.vbox(kids)
            box.add_class("docket-section")
            box.add_class(f"docket-section-{section.get('id', css_name(base))}")
            self.section_widgets.append((section, heading))
            sections.append(box)
        self.submit_button = W.Button(button_style="primary", icon="paper-plane")
        self.submit_button.add_class("docket-submit")
        self.submit_button.on_click(lambda _b: self.submit())
        # "Save draft" beside it, when the page can keep drafts (on_save): see save_draft().
        self.save_button = W.Button(icon="save", layout=W.Layout(display=None if on_save else "none"))
        self.save_button.add_class("docket-save-draft")
        self.save_button.on_click(lambda _b: self.save_draft())
        self.buttons = W.HBox([self.save_button, self.submit_button])
        self.buttons.add_class("docket-buttons")
        self.status = W.HTML()
        self.status.add_class("docket-status")
        self.widget = W.VBox([W.HTML(STYLE), *sections, self.buttons, self.status])
        self.widget.add_class("docket-form")
        self.widget.add_class(f"docket-form-{form.name}")
        if data:
            self.set_data(data)
        self.set_language(language)
        self.loading = False
        self.refresh()

    # -- structure -----------------------------------------------------------------------

    def shared(self, name: str, cls: type, **traits: Any) -> Any:
        """One Layout or Style model shared by many widgets: each model is a message and an
        object in the browser, and a form has hundreds of widgets."""
        key = (name, cls)
        if key not in self._shared:
            self._shared[key] = cls(**traits)
        return self._shared[key]

    def looks(self, style: type) -> dict[str, Any]:
        """The shared plain layout and a shared style of class ``style``, as keyword arguments."""
        return {"layout": self.shared("plain", W.Layout), "style": self.shared("plain", style)}

    def vbox(self, children: list[W.Widget]) -> W.VBox:
        return W.VBox(children, layout=self.shared("plain", W.Layout))

    def html(self, css_class: str) -> W.HTML:
        w = W.HTML(layout=self.shared("plain", W.Layout), style=self.shared("html", HTMLStyle))
        w.add_class(css_class)
        return w

    def build(self, spec: dict[str, Any], path: list[Any]) -> Field:
        # ``renderer`` names a registered field class that draws a spec whose data shape stays its
        # ``widget`` (e.g. a "group" drawn with a map: "renderer": "bbox").
        cls = FIELD_CLASSES.get(spec.get("renderer", "")) or FIELD_CLASSES.get(spec.get("widget", "text"), Field)
        return cls(self, spec, path)

    def walk(self) -> Iterator[Field]:
        for field in self.fields:
            yield from field.walk()

    def field(self, path: str | list[Any]) -> Field:
        """The field at ``provider.email`` / ``files.0.name`` / ``["files", 0, "name"]``."""
        parts = path if isinstance(path, list) else [int(p) if p.isdigit() else p for p in split_path(path)]
        for field in self.walk():
            if field.path == parts:
                return field
        raise KeyError(f"form {self.form.name} has no field {'.'.join(map(str, parts))}")

    def remove_row(self, row: GroupField) -> None:
        repeat = self.field(row.path[:-1])
        assert isinstance(repeat, RepeatField)
        repeat.remove_at(int(row.path[-1]))

    def quiet(self) -> _Quiet:
        """A context in which value changes do not count as edits (prefilling, rebuilding)."""
        return _Quiet(self)

    # -- language ------------------------------------------------------------------------

    def text(self, key: str, default: str = "") -> str:
        return localize(self.texts.get(key), self.language) or default

    def formatted(self, key: str, default: str, **values: Any) -> str:
        """The page text ``key`` filled with ``values``; ``default`` (the built-in wording) when
        the form's own text does not fit them (an override naming a placeholder that is not there)."""
        template = self.text(key, default)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return default.format(**values)

    def set_language(self, language: str) -> None:
        """Relabel everything (titles, labels, help, options, buttons) in ``language``."""
        self.language = language
        with self.quiet():
            for section, heading in self.section_widgets:
                title = _esc(localize(section.get("title"), language))
                help_text = _esc(localize(section.get("help"), language))
                heading.value = f"<h3>{title}</h3><div class='docket-help'>{help_text}</div>"
            for field in self.fields:
                field.relabel(language)
        self.submit_button.description = self.text(self.form.ui.get("submit", "submit"), "Submit")
        if self.on_save is not None:  # beside "Save draft", the button says where the request goes
            self.submit_button.description = self.text("submit_for_review", self.submit_button.description)
        self.save_button.description = self.text("save_draft", "Save draft")
        if not self.loading:
            self.refresh()

    # -- data and validation -------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        """The form's data as the widgets hold it (blank inputs still present), plus what the
        loaded document held that the form does not show (kept, never silently dropped)."""
        return _overlay(self.extra, [(f.path, f.value()) for f in self.fields])

    def set_data(self, data: dict[str, Any]) -> None:
        self.extra = _uncovered(data, [f.path for f in self.fields])
        with self.quiet():
            for field in self.fields:
                v: Any = data
                for key in field.path:
                    v = v.get(key) if isinstance(v, dict) else None
                field.set_value(v)
            for field in self.fields:
                field.relabel(self.language)

    def message(self, problem: Problem) -> str:
        """A problem's message in the page language, from the one catalogue of messages
        (:mod:`docket.messages`: the words the offline notebook, ``docket import`` and the CLI
        use too). A problem without a message id (worded by code of its own) may still be
        translated by a pattern in the form's ``ui.messages``; else it keeps its words."""
        if problem.id:
            return messages.message(problem, self.language)
        for entry in self.form.ui.get("messages", []):
            match = re.match(entry.get("match", "(?!)"), problem.message)
            if match:
                template = localize(entry.get("text"), self.language)
                try:
                    return template.format(**match.groupdict())
                except (KeyError, IndexError, ValueError):
                    return problem.message
        return problem.message

    def refresh(self) -> list[Problem]:
        """Validate the current data and show each problem at its field."""
        self.problems = self.form.problems(self.data())
        fields = list(self.walk())
        by_path = {json_path(f.path): f for f in fields}
        shown: dict[int, list[str]] = {id(f): [] for f in fields}
        for problem in self.problems:
            field = nearest(by_path, problem.where)
            if field is not None:
                shown[id(field)].append(self.message(problem))
        for field in fields:
            field.show(shown[id(field)])
        for hook in self.on_refresh:
            hook(self)
        return self.problems

    def label_of(self, where: str) -> str:
        """``File 2 › File name`` for ``$.files[1].name``: where a problem is, in words (the
        same words the offline notebook uses: :func:`docket.messages.fields.where_words`)."""
        return message_fields.where_words(self.form, where, self.language) or where

    # -- submit --------------------------------------------------------------------------

    def submit(self) -> Any:
        """Store the request if the whole form is valid; else list every problem. Returns
        what ``on_submit`` returned, or None when nothing was stored."""
        self.attempted = True
        problems = self.refresh()
        if problems:
            self._show_problems(self.text("errors", "Please correct:"), problems)
            return None
        document = self.form.to_request(self.data(), self.existing)
        if self.on_submit is None:
            self.result = document
            self._set_status("ok", "")
            return document
        return self._store(self.on_submit, document)

    def save_draft(self) -> Any:
        """Store what is filled in as a draft, complete or not: only what is wrong in it (a bad
        e-mail, a wrong type, a value too long) stops it, never what is still missing
        (:func:`docket.drafts.form_draft_problems`). Returns what ``on_save`` returned, or None."""
        from docket.drafts import form_draft_problems, has_content

        if self.on_save is None:
            return None
        self.refresh()
        if not has_content(self.form.clean(self.data())):
            empty = self.text("draft_empty", "Nothing to save yet: fill in at least one field.")
            self._set_status("bad", f"<p class='docket-draft-empty'>{_esc(empty)}</p>")
            return None
        problems = form_draft_problems(self.form, self.data())
        if problems:
            by_path = {json_path(f.path): f for f in self.walk()}
            for problem in problems:  # show each at its field, leaving untouched empty ones quiet
                field = nearest(by_path, problem.where)
                if field is not None:
                    field.touched = True
            self.refresh()
            self._show_problems(self.text("draft_errors", "The draft was not saved. Please correct:"), problems)
            return None
        return self._store(self.on_save, self.form.to_request(self.data(), self.existing))

    def _store(self, action: Callable[[dict[str, Any]], Any], document: dict[str, Any]) -> Any:
        """Run ``action`` (submit or save) with both buttons disabled, and report the outcome."""
        try:
            self.submit_button.disabled = self.save_button.disabled = True
            result = action(document)
        except DocketError as exc:
            self._show_problems(exc.message, exc.problems)
            return None
        finally:
            self.submit_button.disabled = self.save_button.disabled = False
        self.result = result
        text = self.describe_result(result, self.language) if self.describe_result else _esc(str(result))
        self._set_status("ok", text)
        return result

    def _show_problems(self, heading: str, problems: list[Problem]) -> None:
        """The refused-submit list: in page order, each problem named by its field's label.

        The JSON path stays in ``data-path`` only; ``data-field`` names the CSS class of the
        nearest field's input, which problems.js (or page.js) focuses when the item is clicked.
        """
        by_path = {json_path(f.path): f for f in self.walk()}
        items = []
        for p in message_fields.page_order(self.form, problems):
            words = message_fields.where_words(self.form, p.where, self.language)
            field = nearest(by_path, p.where) if p.where.startswith("$") else None
            target = f" data-field='docket-field-{_esc(css_name(field.path))}'" if field is not None else ""
            name = f"<b>{_esc(words)}</b>: " if words else ""
            # tabindex: Enter reaches it; no role (a role="link" item is no longer a list item).
            items.append(f"<li data-path='{_esc(p.where)}'{target} tabindex='0'>"
                         f"{name}{_esc(self.message(p))}</li>")
        self._set_status("bad", f"<p>{_esc(heading)}</p><ul class='docket-problems'>{''.join(items)}</ul>")

    def _set_status(self, kind: str, body: str) -> None:
        self.status.remove_class("docket-status-ok")
        self.status.remove_class("docket-status-bad")
        self.status.add_class(f"docket-status-{kind}")
        self.status.value = body


def _uncovered(value: dict[str, Any], covered: list[list[Any]]) -> dict[str, Any]:
    """What of ``value`` lies outside every ``covered`` path (keys a form does not show)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        below = [p[1:] for p in covered if p and p[0] == key]
        if not below:
            out[key] = copy.deepcopy(item)
        elif all(below) and isinstance(item, dict):
            rest = _uncovered(item, below)
            if rest:
                out[key] = rest
    return out


def _overlay(base: dict[str, Any], values: list[tuple[list[Any], Any]]) -> dict[str, Any]:
    """``base`` (deep-copied) with each value set at its path."""
    out = copy.deepcopy(base)
    for path, value in values:
        target = out
        for key in path[:-1]:
            nxt = target.get(key)
            if not isinstance(nxt, dict):
                nxt = target[key] = {}
            target = nxt
        target[path[-1]] = value
    return out


def nearest(fields: dict[str, Any], where: str) -> Any:
    """The field whose JSON path is ``where`` or its nearest enclosing one (``fields`` maps JSON
    paths to fields): where a problem, a finding or a reviewer's comment is shown."""
    path = where
    while path:
        if path in fields:
            return fields[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return None
        path = path[:cut]
    return None


def render(form: Form, **kwargs: Any) -> FormView:
    """Render ``form`` as ipywidgets; see :class:`FormView` for the keyword arguments."""
    return FormView(form, **kwargs)


# Field classes kept in their own modules register themselves when imported (after everything
# above exists, so they can subclass it).
from docket.forms import (  # noqa: E402
    bbox_map,  # noqa: F401  "renderer": "bbox", the spatial coverage map
    upload_field,  # noqa: F401  "renderer": "upload", a file's location + upload
    vocab_fields,  # noqa: F401  "renderer": licence, keywords, unit, suggest
)
