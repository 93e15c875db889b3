"""One catalogue of problem messages per language, for every place a provider reads them.

The page (:class:`~docket.forms.renderer.FormView`), the offline notebook, ``docket import``'s
report and the CLI word a problem the same way: a :class:`~docket.errors.Problem` carries a
message *id* (``required``, ``format.date``, ``end_before_start``...) and its *values*, derived
from the problem itself (:func:`docket.messages.portable.describe`), and each place renders it
from the catalogue of its language: ``en.json``, ``fr.json``, ``de.json`` beside this file.
Every catalogue has the same ids (``tests/test_messages.py`` holds this); a language without a
catalogue, or an id missing from one, falls back to English, then to the problem's own text.

    >>> message("format.date", "fr", value="'31/05/2024'")
    "'31/05/2024' n'est pas une date : écrivez-la AAAA-MM-JJ, p. ex. 2024-05-31"

See docs/messages.md.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

from docket.errors import BadInput, Problem
from docket.messages.portable import render

LANGUAGES = ("en", "fr", "de")
HERE = Path(__file__).parent


@cache
def catalogue(language: str) -> dict[str, str]:
    """The messages of ``language`` (a copy is not made: do not change what is returned)."""
    code = normalise(language)
    if code not in LANGUAGES:
        code = "en"
    data = json.loads((HERE / f"{code}.json").read_text(encoding="utf-8"))
    if code != "en":  # an id a translator has not done yet still says something
        data = {**catalogue("en"), **data}
    return data


def normalise(language: Any) -> str:
    """``fr-CH``, ``FR`` and ``fr_CH`` are ``fr``."""
    return str(language or "en").strip().lower().replace("_", "-").split("-")[0]


def supported(language: str) -> str:
    """``language`` as a catalogue language, or :class:`BadInput` listing the ones there are
    (for a ``--lang`` given by hand: a typo must not silently give English)."""
    code = normalise(language)
    if code not in LANGUAGES:
        raise BadInput(f"no messages in language {language!r} (there are: {', '.join(LANGUAGES)})")
    return code


def ids() -> list[str]:
    """Every message id (the English catalogue's, which every other one must match)."""
    return sorted(catalogue("en"))


def message(problem_or_id: Problem | str, language: str = "en", **values: Any) -> str:
    """The text of a problem (or of a message id with ``values``) in ``language``.

    A problem without an id (one raised by code that words its own message) keeps its text.
    """
    if isinstance(problem_or_id, Problem):
        if not problem_or_id.id:
            return problem_or_id.message
        merged = {**problem_or_id.values, **{k: str(v) for k, v in values.items()}}
        return render(catalogue(language), problem_or_id.id, merged, problem_or_id.message)
    return render(catalogue(language), problem_or_id, {k: str(v) for k, v in values.items()})


def problem(where: str, message_id: str, **values: Any) -> Problem:
    """A :class:`Problem` worded from the catalogue (its message in English)."""
    shown = {k: str(v) for k, v in values.items()}
    return Problem(where, message(message_id, "en", **shown), message_id, shown)


def translated(problems: list[Problem], language: str) -> list[Problem]:
    """``problems`` with each message in ``language`` (ids, values and paths kept)."""
    return [dataclasses.replace(p, message=message(p, language)) for p in problems]
