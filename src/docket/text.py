"""Multilingual text helpers: a text is a string or a mapping of language code to string."""

from __future__ import annotations

from typing import Any


def pick(text: Any, languages: list[str] | None = None) -> str:
    """The text in the first available preferred language (or any), for lists and labels."""
    if isinstance(text, str):
        return text
    if isinstance(text, dict) and text:
        for lang in languages or []:
            if isinstance(text.get(lang), str):
                return text[lang]
        first = next(iter(text.values()))
        return first if isinstance(first, str) else ""
    return ""
