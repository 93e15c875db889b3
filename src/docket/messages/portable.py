"""What the page, the importer, the CLI and the offline notebook must compute the same way.

This module is copied, as source text, into every exported notebook (:mod:`docket.offline.notebook`),
which runs in a provider's own Jupyter without docket. So it imports the standard library only,
and docket imports it too: the cleaning of blank inputs, the e-mail and ORCID checks, the
mapping of a JSON Schema error to a message id and its values, docket's own cross-field rules
for a request, the order in which problems are listed (the page's order) and the words that
name a field. One source text, so the page and the notebook cannot drift apart.

A *problem* here is ``(path, message_id, values)``: ``path`` the list of keys and indexes,
``values`` display-ready strings filled into the message catalogue's text for ``message_id``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ANNOTATION = "//"  # keys of the JSON export beginning with this are labels and help, not data
SHOWN_CHARS = 80  # a value quoted in a message is cut here: messages are shown, values are hostile
KNOWN_FORMATS = ("email", "orcid", "date", "date-time", "time", "uri")
KNOWN_TYPES = ("integer", "number", "string", "boolean", "array", "object")


# -- formats ------------------------------------------------------------------------------------


def is_email(value: object) -> bool:
    """Stricter than jsonschema's default (which only looks for an @): a domain with a dot."""
    return not isinstance(value, str) or bool(EMAIL.match(value))


def orcid_checksum_ok(orcid: str) -> bool:
    """ISO 7064 11-2 check digit of an ORCID iD, as ORCID documents it."""
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def is_orcid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = ORCID.match(value)
    return bool(match) and orcid_checksum_ok(match.group(1))


# -- paths and values ---------------------------------------------------------------------------


def json_path(parts: Any) -> str:
    """``$.files[0].name`` from keys and indexes (as :func:`docket.documents.json_path`)."""
    import json

    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif IDENTIFIER.match(str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=True)}]"
    return out


def parse_path(where: str) -> list[Any]:
    """The keys and indexes of a JSON path written by :func:`json_path` (``$.a[0].b``)."""
    import json

    parts: list[Any] = []
    for m in re.finditer(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]', where):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(json.loads(m.group(3)))
    return parts


def star(parts: Any) -> str:
    """A path with every row index as ``*`` and joined with dots: ``files.*.name``."""
    return ".".join("*" if isinstance(p, int) or p == "*" else str(p) for p in parts)


def shown(value: Any) -> str:
    """A value as a message quotes it: text in quotes, cut to a readable length."""
    if isinstance(value, str):
        text = value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 1] + "…"
        return "'" + "".join(ch if ch.isprintable() else "?" for ch in text) + "'"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    return type(value).__name__


# -- cleaning -----------------------------------------------------------------------------------


def is_blank(value: Any) -> bool:
    return value is None or value == {} or value == [] or (isinstance(value, str) and not value.strip())


def clean_value(value: Any, keep_empty: Any = (), path: tuple = ()) -> Any:
    """Drop what a provider left empty, so that a blank input means "not given".

    Empty strings, ``None``, empty lists and empty objects disappear from objects (so an empty
    optional section such as ``dataset_structural: {"fields": []}`` is simply not given);
    blank strings disappear from lists of strings; strings are stripped. Items of lists of
    objects are never dropped, so ``$.files[1]`` always names the second row a person sees.
    An object whose starred path (``provider``, ``files.*.checksum``) is in ``keep_empty``
    stays as ``{}`` when empty: a required object, whose missing fields are then each named.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            here = (*path, key)
            item = clean_value(item, keep_empty, here)
            if not is_blank(item):
                out[key] = item
            elif item == {} and star(here) in keep_empty:
                out[key] = {}
        return out
    if isinstance(value, list):
        items = [clean_value(v, keep_empty, (*path, "*")) for v in value]
        if all(not isinstance(v, dict) for v in items):
            return [v for v in items if not is_blank(v)]
        return [{} if v is None else v for v in items]
    if isinstance(value, str):
        return value.strip()
    return value


def strip_annotations(value: Any, limit: int = 100_000) -> Any:
    """``value`` without the ``"//..."`` keys the JSON export writes beside each field.

    Those keys carry labels and help for a person filling the file in an editor; what they hold
    is never read. Iterative, with a bound on the nodes visited, since the file is hostile.
    """
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    seen = 0
    while stack:
        node, parent, key = stack.pop()
        seen += 1
        if seen > limit:
            raise ValueError(f"the data has more than {limit} values")
        if isinstance(node, dict):
            copy: Any = {}
            for k, v in node.items():
                if isinstance(k, str) and k.startswith(ANNOTATION):
                    continue
                copy[k] = None
                stack.append((v, copy, k))
        elif isinstance(node, list):
            copy = [None] * len(node)
            stack.extend((v, copy, i) for i, v in enumerate(node))
        else:
            copy = node
        parent[key] = copy
    return root[0]


# -- JSON Schema errors as message ids ------------------------------------------------------------


def describe(error: Any) -> tuple[list[Any], str, dict[str, str]]:
    """``(path, message_id, values)`` of a jsonschema ``ValidationError``.

    The path names the offending field itself (a missing property's own path, not its
    parent's); the id names the kind of problem (``required``, ``format.date``, ``type.integer``,
    ``enum``...), so each place that shows it words it from the one catalogue, in its language.
    """
    path = list(error.absolute_path)
    kind = error.validator
    limit = error.validator_value
    instance = error.instance
    value = {"value": shown(instance)}
    if kind in ("oneOf", "anyOf") and error.context:
        # The alternative that got furthest says why ("title": a string, or per language).
        best = max(error.context, key=lambda e: len(list(e.absolute_path)))
        return describe(best)
    if kind == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        if match:
            return [*path, match.group(1)], "required", {}
        return path, "required", {}
    if kind in ("additionalProperties", "unevaluatedProperties"):
        match = re.search(r"\('(.+)' (?:was|were) unexpected\)", error.message)
        if match:
            names = match.group(1).split("', '")
            if len(names) == 1:
                return [*path, names[0]], "unknown_field", {}
            return path, "unknown_fields", {"names": ", ".join(shown(n) for n in names[:20])}
    if kind == "format":
        fmt = str(limit)
        return path, f"format.{fmt}" if fmt in KNOWN_FORMATS else "format", {**value, "format": fmt}
    if kind == "type":
        expected = limit if isinstance(limit, str) else " / ".join(map(str, limit))
        mid = f"type.{expected}" if expected in KNOWN_TYPES else "type"
        return path, mid, {**value, "expected": expected}
    if kind == "enum":
        return path, "enum", {**value, "allowed": ", ".join(str(v) for v in limit)}
    if kind == "const":
        return path, "const", {**value, "expected": shown(limit)}
    if kind == "pattern":
        return path, "pattern", {**value, "pattern": str(limit)}
    if kind in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        size = len(instance) if isinstance(instance, str | list | dict) else 0
        return path, kind, {"limit": str(limit), "size": str(size)}
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return path, kind, {**value, "limit": str(limit)}
    if kind == "uniqueItems":
        return path, "uniqueItems", {}
    return path, "schema", {"detail": str(error.message)[:300]}


# -- docket's own rules for a request -----------------------------------------------------------


def dig(doc: Any, *keys: str) -> Any:
    """The value at ``keys`` below ``doc``, or None where a step is missing or not an object
    (rules read partial, hostile documents: they look before they leap)."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def coverage_problems(doc: Any) -> list[tuple[list[Any], str, dict[str, str]]]:
    """A coverage that ends before it starts, or whose south lies north of its north."""
    out = []
    coverage = ["metadata", "experiment_contextual"]
    start = _date(dig(doc, *coverage, "temporal_coverage", "start"))
    end = _date(dig(doc, *coverage, "temporal_coverage", "end"))
    if start and end and end < start:
        out.append(([*coverage, "temporal_coverage", "end"], "end_before_start",
                    {"end": end.isoformat(), "start": start.isoformat()}))
    south = dig(doc, *coverage, "spatial_coverage", "south")
    north = dig(doc, *coverage, "spatial_coverage", "north")
    if _is_number(south) and _is_number(north) and south > north:
        out.append(([*coverage, "spatial_coverage", "south"], "south_north_of_north",
                    {"south": str(south), "north": str(north)}))
    return out


def file_name_problems(doc: Any) -> list[tuple[list[Any], str, dict[str, str]]]:
    """The same file name given to two files of one request."""
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        return []
    out = []
    seen: set[str] = set()
    for i, entry in enumerate(files):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                out.append((["files", i, "name"], "duplicate_file_name", {"name": shown(name)}))
            seen.add(name)
    return out


# -- words: messages, labels, page order ----------------------------------------------------------


def render(catalogue: dict[str, str], message_id: str, values: dict[str, str], fallback: str = "") -> str:
    """The catalogue's text for ``message_id`` with ``values`` filled in (``fallback`` when the
    id is unknown or its text names a value that is missing)."""
    template = catalogue.get(message_id)
    if not isinstance(template, str):
        return fallback or message_id
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return fallback or template


def order_key(parts: list[Any], ranks: dict[str, int]) -> tuple:
    """Where a problem at ``parts`` comes on the page: fields in the order the page shows them
    (``ranks``: starred path -> position), rows by their index, unknown keys last by name."""
    key: list[tuple[int, int, str]] = []
    for n, part in enumerate(parts):
        if isinstance(part, int):
            key.append((0, part, ""))
            continue
        rank = ranks.get(star([*parts[:n], part]))
        key.append((rank, 0, "") if rank is not None else (1 << 30, 0, str(part)))
    return tuple(key)


def label_of(parts: list[Any], fields: dict[str, dict[str, Any]]) -> str:
    """``File 2 › File name`` for ``files[1].name``: where a problem is, in words.

    ``fields`` maps each starred path of the form to ``{"label", "widget", "row_label"}`` in
    the page's language. The nearest enclosing field is named with the groups around it; a
    repeatable group is named by its row (``File 2``), except when the problem is the list's own.
    """

    def spec_at(prefix: list[Any]) -> dict[str, Any] | None:
        if prefix and isinstance(prefix[-1], int):  # a row: its repeatable group's spec
            spec = fields.get(star(prefix[:-1]))
            return spec if spec and spec.get("widget") == "repeat" else None
        spec = fields.get(star(prefix))
        return spec if spec and spec.get("widget") != "section" else None

    end = len(parts)
    while end > 0 and spec_at(parts[:end]) is None:
        end -= 1
    words: list[str] = []
    for n in range(1, end + 1):
        spec = spec_at(parts[:n])
        if spec is None:
            continue
        part = parts[n - 1]
        if isinstance(part, int):
            text = f"{spec.get('row_label') or spec.get('label') or ''} {part + 1}".strip()
        elif spec.get("widget") == "repeat" and n < end:
            continue  # the list is named by its row
        else:
            text = spec.get("label") or ""
        if text and (not words or words[-1] != text):
            words.append(text)
    if not words:  # no field: the section that holds the place (a whole required section)
        for n in range(len(parts), 0, -1):
            spec = fields.get(star(parts[:n]))
            if spec and spec.get("widget") == "section":
                return spec.get("label") or ""
    return " › ".join(words)
