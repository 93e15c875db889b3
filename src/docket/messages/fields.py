"""A form's fields in words and in page order: what every problem list and offline export needs.

The page, the offline notebook and the JSON export all name a field by its label (``File 2 ›
File name``, not ``$.files[1].name``), list problems in the order the fields appear on the page,
and describe what a field accepts (a date as YYYY-MM-DD, one of the allowed values...). These
tables are built here from the form definition alone, so the page and the exports agree; the
notebook receives them as data and runs the same :mod:`docket.messages.portable` functions.
"""

from __future__ import annotations

from typing import Any

from docket.errors import Problem
from docket.forms.definition import localize, split_path
from docket.messages import message
from docket.messages.portable import label_of, order_key, parse_path, star

# Widgets whose values have a format the schema may not state itself ("url" is not one: a
# location may also be a path, and the schema says what it accepts).
WIDGET_FORMATS = {"date": "date", "email": "email", "orcid": "orcid"}


def _cache(form: Any, key: tuple) -> tuple[dict, bool]:
    store = form.__dict__.setdefault("_message_tables", {})
    hit = key in store
    if not hit:
        store[key] = {}
    return store[key], hit


def field_table(form: Any, language: str) -> dict[str, dict[str, Any]]:
    """Starred path (``files.*.name``) -> ``{"label", "widget", "row_label"}`` in ``language``;
    a section's path has its title, with the widget ``section``."""
    table, hit = _cache(form, ("fields", language))
    if not hit:
        for section in form.sections():  # names a place no field covers (a whole section)
            if section.get("path"):
                table[star(split_path(section["path"]))] = {
                    "label": localize(section.get("title"), language), "widget": "section", "row_label": ""}
        for path, spec in form.iter_fields():
            table[star(path)] = {
                "label": localize(spec.get("label"), language),
                "widget": spec.get("widget", "text"),
                "row_label": localize(spec.get("row_label"), language),
            }
    return table


def ranks(form: Any) -> dict[str, int]:
    """Starred path -> its position on the page (sections, then fields depth first)."""
    table, hit = _cache(form, ("ranks",))
    if not hit:
        for n, (path, _spec) in enumerate(form.iter_fields()):
            for end in range(1, len(path) + 1):  # a section's path ranks with its first field
                table.setdefault(star(path[:end]), n)
    return table


def where_words(form: Any, where: str, language: str) -> str:
    """The words naming the field at JSON path ``where`` (``""`` when it is no field's)."""
    return label_of(parse_path(where), field_table(form, language))


def page_order(form: Any, problems: list[Problem], prefix: str = "$") -> list[Problem]:
    """``problems`` in the order their fields appear on the page (stable for equal places).

    ``prefix`` is the JSON path of the form's data in the paths (``$.data`` in an import report).
    """
    table = ranks(form)

    def key(p: Problem) -> tuple:
        if not p.where.startswith(prefix):
            return ((-1, 0, p.where),)
        return order_key(parse_path("$" + p.where[len(prefix):]), table)

    return sorted(problems, key=key)


def needs_value(form: Any, path: list[Any]) -> bool:
    """Whether ``path`` needs a value whatever else is filled: the schema requires its key and
    every enclosing object up to the nearest list row (or the root), so the page, the offline
    notebook and the JSON export mark only what is required. The start of an optional period is
    required once a period is given, not before: no mark. A row's own required keys are marked: a
    row exists because someone added it, and rows are never dropped (see
    :func:`docket.forms.definition.clean`). Here, not in the renderer, since the offline exports
    must not load ipywidgets."""
    parts = ["*" if isinstance(p, int) else p for p in path]
    start = max((i + 1 for i, p in enumerate(parts) if p == "*"), default=0)
    if not parts or parts[-1] == "*":
        return False
    return all(form.is_required(parts[:i]) for i in range(start + 1, len(parts) + 1))


def hints(form: Any, path: list[str], spec: dict[str, Any], language: str) -> list[str]:
    """What a field accepts, in words: required, its format, its allowed values, its shape."""
    out: list[str] = []
    try:
        node = form.schema_at(path)
        required = needs_value(form, path)
        options = form.options(path)
    except Exception:  # noqa: BLE001 - a corner of an override schema docket cannot resolve
        node, required, options = {}, False, []
    widget = spec.get("widget", "text")
    if required:
        out.append(message("hint.required", language))
    fmt = node.get("format") or WIDGET_FORMATS.get(widget)
    kind = node.get("type")
    if fmt in ("date", "date-time", "email", "orcid", "uri"):
        out.append(message(f"hint.{fmt}", language))
    elif kind in ("integer", "number") or widget in ("integer", "number"):
        out.append(message(f"hint.{kind if kind in ('integer', 'number') else widget}", language))
    if options:
        names = spec.get("option_labels", {})
        shown = [f"{v}" + (f" ({label})" if (label := localize(names.get(str(v)), language)) and label != str(v)
                           else "") for v in options]
        out.append(message("hint.allowed", language, values=", ".join(shown)))
    if widget == "multilingual":
        out.append(message("hint.languages", language, languages=", ".join(form.languages)))
    elif widget == "tags":
        out.append(message("hint.list", language))
    elif widget == "repeat":
        keys = ", ".join(sub.get("key", "") for sub in form.subfields(spec))
        out.append(message("hint.rows", language, keys=keys))
    return out


def annotation(form: Any, path: list[str], spec: dict[str, Any], language: str) -> str:
    """One line for a person filling the field by hand: label, what it accepts, help."""
    label = localize(spec.get("label"), language) or str(path[-1])
    parts = [label]
    accepts = hints(form, path, spec, language)
    if accepts:
        parts.append("; ".join(accepts))
    help_text = localize(spec.get("help"), language)
    if help_text:
        parts.append(help_text)
    return " — ".join(parts)
