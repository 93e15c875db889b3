"""The pictures of the provider's page, drawn with matplotlib as inline SVG.

Two pictures, each only where it helps: how many problems each column has (so a provider sees at
once which columns to open first), and where the failing values of numeric columns lie against
the range the schema allows (so "75.2 above its maximum" is seen next to the 60 it should not
pass). Both are drawn from what the report holds (its per-column ``counts`` and the values of its
listed locations) and, for the allowed range, the request's Table Schema when the page has the
request: the data files are never read again, so a page can be made from a report alone.

The SVG is inline (no file, nothing fetched), its text kept as text (``svg.fonttype = none``:
selectable, scalable, and matplotlib escapes it as XML), mathtext off (a ``$`` in a column name
is a dollar sign, not a formula), ids salted so the same report gives the same page, and each
picture carries an ``aria-label`` that says in words what it shows.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from docket.reports.model import Problem

#: Checks whose failing values are identifiers or whole rows, not measurements: their values
#: have no distribution worth drawing.
KEY_CHECKS = frozenset({"table.primary-key", "table.unique", "table.foreign-key", "table.duplicate-row"})
WHOLE_FILE = "\0whole"  # the bar of a file's problems that no column has (encoding, ragged rows)
MAX_BARS = 25  # columns in the per-column picture (the most troubled ones)
MAX_STRIPS = 8  # numeric columns in the values picture
COLOURS = {"error": "#b3261e", "warn": "#a15c00", "band": "#2e7d32"}
_RC = {"svg.fonttype": "none", "svg.hashsalt": "docket-report", "text.parse_math": False,
       "font.size": 9, "font.family": "sans-serif", "axes.spines.top": False,
       "axes.spines.right": False}


@dataclass(frozen=True)
class Picture:
    """An inline SVG and what it shows, in words (its accessible name)."""

    svg: str
    description: str
    banded: bool = False  # the picture shades an allowed range (its caption should say so)


def _svg(fig: Any, description: str, banded: bool = False) -> Picture:
    """The figure as an ``<svg>`` element to put in a page: no XML prolog or DOCTYPE (whose DTD
    address nothing should ever fetch), no metadata block, and an accessible name."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = text.replace("<svg", f'<svg role="img" aria-label="{escape(description, quote=True)}"', 1)
    return Picture(svg=text, description=description, banded=banded)


def _label(file: str | None, column: str, several: bool, t: Mapping[str, str]) -> str:
    shown = column if column.strip() else t["blank_name"]
    return f"{file}: {shown}" if several and file else shown


def problems_per_column(problems: list[Problem], several_files: bool, t: Mapping[str, str]) -> Picture | None:
    """Errors and warnings per column (all occurrences: the report's ``counts``), or None when no
    error or warning is about a column or a file."""
    bars: dict[tuple[str | None, str], list[int]] = {}
    for p in problems:
        if p.status not in ("error", "warn"):
            continue
        slot = 0 if p.status == "error" else 1
        if p.counts:
            for column, count in p.counts.items():
                bars.setdefault((p.file, column), [0, 0])[slot] += count
        elif p.file is not None and p.count:
            bars.setdefault((p.file, WHOLE_FILE), [0, 0])[slot] += p.count
    if not bars:
        return None
    ranked = sorted(bars.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:MAX_BARS]
    labels = [_label(file, t["whole_file"] if col == WHOLE_FILE else col, several_files, t)
              for (file, col), _ in ranked]
    errors = [v[0] for _, v in ranked]
    warnings = [v[1] for _, v in ranked]

    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7, 0.6 + 0.32 * len(ranked)))
        ax = fig.add_subplot()
        y = list(range(len(ranked)))[::-1]
        ax.barh(y, errors, color=COLOURS["error"], label=t["errors"])
        ax.barh(y, warnings, left=errors, color=COLOURS["warn"], hatch="//", edgecolor="white",
                label=t["warnings"])
        for yi, e, w in zip(y, errors, warnings, strict=True):
            ax.text(e + w, yi, f" {e + w}", va="center")
        ax.set_yticks(y, labels)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(t["per_column_axis"])
        ax.set_xlim(0, max(e + w for e, w in zip(errors, warnings, strict=True)) * 1.15)
        if any(warnings) and any(errors):
            ax.legend(loc="lower right", frameon=False)
        words = "; ".join(f"{label}: {t['errors']} {e}, {t['warnings']} {w}"
                          for label, e, w in zip(labels, errors, warnings, strict=True))
        return _svg(fig, f"{t['per_column_title']}. {words}")


def declared_fields(request: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The request's Table Schema fields by name (a schema, or every resource of a package)."""
    structural = ((request or {}).get("metadata") or {}).get("dataset_structural") or {}
    if not isinstance(structural, Mapping):
        return {}
    schemas = [structural] + [r.get("schema") for r in structural.get("resources") or []
                              if isinstance(r, Mapping)]
    fields: dict[str, Mapping[str, Any]] = {}
    for schema in schemas:
        for f in (schema or {}).get("fields") or [] if isinstance(schema, Mapping) else []:
            if isinstance(f, Mapping) and isinstance(f.get("name"), str):
                fields.setdefault(f["name"], f)
    return fields


_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def _number(value: Any) -> float | None:
    """A finite number from a listed value (``"75.2"``, ``130``), or None."""
    if isinstance(value, bool):
        return None
    if not (isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value))):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _bound(constraints: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        number = _number(constraints.get(key))
        if number is not None:
            return number
    return None


def failing_values(problems: list[Problem], fields: Mapping[str, Mapping[str, Any]], several_files: bool,
                   t: Mapping[str, str]) -> Picture | None:
    """The failing values of numeric columns against their allowed range, or None when there are
    none. A column is numeric when the schema declares it ``number`` or ``integer``; without a
    schema, when most of its listed failing values are numbers."""
    columns: dict[tuple[str | None, str], dict[str, Any]] = {}
    for p in problems:
        if p.status not in ("error", "warn") or p.id in KEY_CHECKS:
            continue
        for place in p.places:
            if place.column is None or place.row in (None, 0):
                continue
            entry = columns.setdefault((p.file, place.column), {"points": {}, "seen": 0})
            entry["seen"] += 1
            number = _number(place.value)
            if number is not None:
                entry["points"].setdefault((place.row, number), p.status)
    strips = []
    for (file, column), entry in columns.items():
        declared = fields.get(column)
        if declared is not None:
            numeric = declared.get("type") in ("number", "integer")
        else:
            numeric = len(entry["points"]) * 2 > entry["seen"]
        if numeric and entry["points"]:
            constraints = (declared or {}).get("constraints") or {}
            strips.append((file, column, entry["points"],
                           _bound(constraints, "minimum", "exclusiveMinimum"),
                           _bound(constraints, "maximum", "exclusiveMaximum")))
    if not strips:
        return None
    strips = strips[:MAX_STRIPS]

    import matplotlib
    from matplotlib.figure import Figure

    words = []
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7, 0.35 + 0.8 * len(strips)))
        axes = fig.subplots(len(strips), 1, squeeze=False)[:, 0]
        for ax, (file, column, points, low, high) in zip(axes, strips, strict=True):
            values = [v for _, v in points]
            span = [*values] + [b for b in (low, high) if b is not None]
            lo, hi = min(span), max(span)
            pad = (hi - lo) * 0.08 or max(abs(hi), 1.0) * 0.1
            ax.set_xlim(lo - pad, hi + pad)
            if low is not None or high is not None:
                ax.axvspan(low if low is not None else lo - pad, high if high is not None else hi + pad,
                           color=COLOURS["band"], alpha=0.15, label=t["allowed"], linewidth=0)
                for b in (low, high):
                    if b is not None:
                        ax.axvline(b, color=COLOURS["band"], linewidth=1)
            for i, ((_row, value), status) in enumerate(sorted(points.items())):
                ax.plot([value], [(i % 3 - 1) * 0.25], marker="o" if status == "error" else "s",
                        color=COLOURS[status], linestyle="none", markersize=6)
            ax.set_ylim(-1, 1)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            label = _label(file, column, several_files, t)
            ax.set_title(label, loc="left", fontsize=9)
            allowed = _range_words(low, high, t)
            words.append(f"{label}: {', '.join(f'{v:g}' for v in sorted(values))}{allowed}")
        fig.tight_layout()
        banded = any(low is not None or high is not None for *_, low, high in strips)
        return _svg(fig, f"{t['values_title']}. {'; '.join(words)}", banded)


def _range_words(low: float | None, high: float | None, t: Mapping[str, str]) -> str:
    if low is None and high is None:
        return ""
    return f" ({t['allowed']} {'' if low is None else f'{low:g}'} – {'' if high is None else f'{high:g}'})"
