"""The quality report as one HTML page for the data provider: ``render(report, language=...)``.

The page is what a provider is sent when QA has run: a summary per file, every failing check
with what was expected, what was found, where (row, column, value) and what to do, pictures
where they help, in the provider's language (:mod:`docket.reports.messages`). It is one
self-contained file: inline CSS, inline SVG, no script, nothing fetched (a Content-Security-
Policy forbids it, so even a mail client that opens it offline shows it whole), printable.

Everything from the data (values, column and file names, the checks' texts) goes through
Jinja2's autoescaping, so a CSV value ``<script>`` is shown as text, never run. The renderer
reads nothing but the report and, when given, the request (for its title, provider and the
Table Schema's allowed ranges): it works on any report JSON, from ``docket qa`` or ``docket
check --output``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from docket.reports.messages import choose_language, messages, supported
from docket.reports.model import build_page
from docket.reports.plots import declared_fields, failing_values, problems_per_column
from docket.text import pick


@cache
def _environment() -> Any:
    """The Jinja2 environment of the page: autoescape always on, and an undefined name in the
    template is an error (a typo must not silently print nothing)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("docket.reports", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _about_request(request: Mapping[str, Any] | None, language: str) -> dict[str, Any]:
    """Who and what the page is about, from the request: its title in the page's language (or
    the closest one the provider wrote), its provider's name, id and revision."""
    if not request:
        return {"id": None, "revision": None, "title": None, "title_lang": language, "provider": None}
    descriptive = (request.get("metadata") or {}).get("project_descriptive") or {}
    provider = request.get("provider") or {}
    title = pick(descriptive.get("title"), [language, "en", "fr", "de"])
    title_lang = language
    if isinstance(descriptive.get("title"), Mapping) and language not in descriptive["title"]:
        title_lang = next((k for k, v in descriptive["title"].items() if v == title), language)
    return {
        "id": request.get("id"), "revision": request.get("revision"), "title": title or None,
        "title_lang": title_lang,
        "provider": provider.get("name") if isinstance(provider, Mapping) else None,
    }


def render(report: Mapping[str, Any], *, language: str, request: Mapping[str, Any] | None = None) -> str:
    """The provider's page of ``report`` (a quality report's JSON) in ``language`` (en, fr, de).

    ``request``, the checked request's document, adds its title and provider and the allowed
    ranges of numeric columns to the pictures. An unknown language is refused (``BadInput``).
    """
    from markupsafe import Markup

    language = supported(language)
    t = messages(language)
    page = build_page(report, request)
    several = sum(1 for line in page.lines if line.name is not None) > 1
    pictures = []
    per_column = problems_per_column(page.problems, several, t)
    if per_column is not None:
        pictures.append({"title": t["per_column_title"], "caption": t["per_column_caption"],
                         "svg": Markup(per_column.svg)})
    values = failing_values(page.problems, declared_fields(request), several, t)
    if values is not None:
        caption = t["values_caption"] + (" " + t["band_caption"] if values.banded else "")
        pictures.append({"title": t["values_title"], "caption": caption,
                         "svg": Markup(values.svg)})
    return _environment().get_template("report.html").render(
        lang=language, t=t, page=page, about=_about_request(request, language), several=several,
        pictures=pictures,
    )


def write_html(report: Mapping[str, Any], path: str | Path, *, request: Mapping[str, Any] | None = None,
               language: str | None = None, languages: Iterable[str] = ()) -> tuple[Path, str]:
    """Render ``report`` and write it to ``path`` (UTF-8); returns the path and the language used:
    ``language`` if given, else the provider's as :func:`choose_language` tells it from the
    request and the instance's configured ``languages``."""
    chosen = supported(language) if language else choose_language(request, languages)
    path = Path(path)
    path.write_text(render(report, language=chosen, request=request), encoding="utf-8")
    return path, chosen
