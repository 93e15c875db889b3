"""Labels and help beside the values of an exported form, for a person filling it by hand.

The JSON export writes, before each field's key, a key ``"//<key>"`` holding the field's label,
what it accepts (required, a date as YYYY-MM-DD, the allowed values...) and its help, in the
form's language; the notebook writes the same words as a comment after each line of its fill-in
cell. The words come from :mod:`docket.messages.fields`, as on the page.

Those keys are notes, never data: the importer drops every ``"//..."`` key of ``data`` before
anything reads it (:func:`docket.messages.portable.strip_annotations`), whatever it holds.
"""

from __future__ import annotations

from typing import Any

from docket.messages.fields import annotation
from docket.messages.portable import ANNOTATION, star

INLINE_WIDTH = 70  # a dict or list of plain values shorter than this stays on one line


def field_specs(form: Any) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Starred path -> (path, spec) of every field of ``form``."""
    return {star(path): (path, spec) for path, spec in form.iter_fields()}


def notes(form: Any, language: str) -> dict[str, str]:
    """Starred path -> the one-line note of the field there, in ``language``."""
    return {key: annotation(form, path, spec, language).replace("\n", " ")
            for key, (path, spec) in field_specs(form).items()}


def annotated(value: Any, field_notes: dict[str, str], path: tuple = ()) -> Any:
    """``value`` (a form's blank) with a ``"//key"`` note before each field's key."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            note = field_notes.get(star((*path, key)))
            if note:
                out[f"{ANNOTATION}{key}"] = note
            out[key] = annotated(item, field_notes, (*path, key))
        return out
    if isinstance(value, list):
        return [annotated(item, field_notes, (*path, "*")) for item in value]
    return value


def annotated_blank(form: Any, language: str) -> dict[str, Any]:
    """The form's blank with its notes in ``language``: the ``data`` of a JSON export."""
    return annotated(form.blank(), notes(form, language))


def python_literal(value: Any, field_notes: dict[str, str], path: tuple = (), depth: int = 0) -> str:
    """``value`` as Python source, one field a line, each followed by ``# its note``.

    ``ast.literal_eval`` of the result is ``value`` (tests hold this); notes are comments, so
    they cannot change what the provider's cell holds.
    """
    short = repr(value)
    plain = not any(isinstance(v, dict | list) for v in (value.values() if isinstance(value, dict) else
                                                          value if isinstance(value, list) else []))
    if not isinstance(value, dict | list) or not value or (plain and len(short) <= INLINE_WIDTH):
        return short
    pad = "    " * (depth + 1)
    lines = ["{" if isinstance(value, dict) else "["]
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        here = (*path, key) if key is not None else (*path, "*")
        body = python_literal(item, field_notes, here, depth + 1)
        text = f"{pad}{key!r}: {body}," if key is not None else f"{pad}{body},"
        note = field_notes.get(star(here)) if key is not None else None
        if note:
            first, sep, rest = text.partition("\n")
            text = f"{first}  # {_comment(note)}{sep}{rest}"
        lines.append(text)
    lines.append("    " * depth + ("}" if isinstance(value, dict) else "]"))
    return "\n".join(lines)


def _comment(text: str) -> str:
    return " ".join(text.split())
