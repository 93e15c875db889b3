"""Field-level differences between two revisions of a request (``docket diff``).

A change is ``{op, path, old, new}``: ``op`` is ``added``, ``removed``, ``changed`` or ``moved``;
``path`` is a JSON path in the notation of docket's validation errors
(:func:`docket.documents.json_path`: ``$.metadata.project_descriptive.title.en``,
``$.files[2].size``, ``$["odd key"]``). ``old`` and ``new`` are the JSON values (``None`` on the
side where there is nothing: the path of a removed value is its place in the old revision, of any
other its place in the new one).

What is compared is the request's content: the document as the provider wrote it, plus the schema
it was validated against (``schema``: a revision validated against another version of docket's
schemas is a real difference). Left out are the fields docket keeps about the record rather than in
it (:data:`NOT_CONTENT`): ``id`` and ``revision`` (they name the revisions compared, so they always
differ), ``review_state`` and ``steps`` (workflow state: it moves without a new revision, and the
current revision is read with its live state), ``measured`` (what transfer and QA measured of the
files, not what the provider declared), ``created_by``/``created_date`` (the same for every
revision of a request) and ``last_modified_by``/``last_modified_date`` (they change on every
write; ``docket history`` says who made each revision and when).

Lists are compared by position, except ``files``, Table Schema ``fields`` and a Data Package's
``resources``, whose items have unique names: there items are matched by ``name``, so an inserted file is one ``added`` and not a
cascade of changes to the files after it. An item whose place among the others changed (a swap,
a column moved) is ``moved`` (``old`` and ``new`` are its old and new paths); an item that is
renamed is the old name ``removed`` and the new one ``added``. If a list's names are missing or
not unique it is compared by position.

Numbers compare by value (``1`` equals ``1.0``), but ``true`` is not ``1`` and ``"1"`` is not ``1``.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from docket.documents import json_path

#: Record fields that are not the request's content (see the module's documentation for why).
NOT_CONTENT = frozenset({
    "id", "revision", "review_state", "steps", "measured",
    "created_by", "created_date", "last_modified_by", "last_modified_date",
})

#: Lists whose items are matched by their ``name`` (when every item has a unique one).
MATCHED_BY_NAME = frozenset({"files", "fields", "resources"})  # resources: a Data Package's

OPS = ("added", "removed", "changed", "moved")


@dataclass(frozen=True)
class Change:
    op: str
    path: str
    old: Any = None
    new: Any = None
    #: the names of the ``files``/``fields`` items the path goes through (for people; not in JSON)
    items: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "old": self.old, "new": self.new}


def content(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a stored record that :func:`diff` compares."""
    return {k: v for k, v in record.items() if k not in NOT_CONTENT}


def diff(old: Any, new: Any) -> list[Change]:
    """Every difference from ``old`` to ``new`` (two JSON values), in document order."""
    out: list[Change] = []
    _walk(old, new, (), (), out)
    return out


def diff_records(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The differences in content between two stored records (revisions)."""
    return diff(content(old), content(new))


# ------------------------------------------------------------------------------------ walking


def _kind(value: Any) -> str:
    if value is None or isinstance(value, (bool, str, dict, list)):
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _walk(a: Any, b: Any, parts: tuple, items: tuple[str, ...], out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key, value in a.items():
            if key in b:
                _walk(value, b[key], (*parts, key), items, out)
            else:
                out.append(Change("removed", json_path((*parts, key)), value, None, items))
        for key, value in b.items():
            if key not in a:
                out.append(Change("added", json_path((*parts, key)), None, value, items))
    elif isinstance(a, list) and isinstance(b, list):
        if parts and parts[-1] in MATCHED_BY_NAME and _named(a) and _named(b):
            _walk_named(a, b, parts, items, out)
        else:
            for i in range(max(len(a), len(b))):
                if i >= len(b):
                    out.append(Change("removed", json_path((*parts, i)), a[i], None, items))
                elif i >= len(a):
                    out.append(Change("added", json_path((*parts, i)), None, b[i], items))
                else:
                    _walk(a[i], b[i], (*parts, i), items, out)
    elif _kind(a) != _kind(b) or a != b:
        out.append(Change("changed", json_path(parts), a, b, items))


def _named(values: list) -> bool:
    names = [v.get("name") if isinstance(v, dict) else None for v in values]
    return all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _walk_named(a: list, b: list, parts: tuple, items: tuple[str, ...], out: list[Change]) -> None:
    old_at = {item["name"]: i for i, item in enumerate(a)}
    new_at = {item["name"]: j for j, item in enumerate(b)}
    # Items kept in the same order relative to each other are not "moved": the longest run of
    # common items whose old places increase along the new order stays, the others moved.
    common = [item["name"] for item in b if item["name"] in old_at]
    stay = _increasing(common, [old_at[n] for n in common])
    for j, item in enumerate(b):
        name = item["name"]
        here = (*parts, j)
        if name not in old_at:
            out.append(Change("added", json_path(here), None, item, (*items, name)))
            continue
        if name not in stay:
            out.append(Change("moved", json_path(here), json_path((*parts, old_at[name])), json_path(here),
                              (*items, name)))
        _walk(a[old_at[name]], item, here, (*items, name), out)
    for i, item in enumerate(a):
        if item["name"] not in new_at:
            out.append(Change("removed", json_path((*parts, i)), item, None, (*items, item["name"])))


def _increasing(names: list[str], places: list[int]) -> set[str]:
    """The names of a longest strictly increasing subsequence of ``places`` (O(n log n))."""
    tails: list[int] = []  # tails[k]: the smallest last place of an increasing run of length k+1
    tail_at: list[int] = []  # ... and that element's index in ``places``
    before = [-1] * len(places)
    for i, place in enumerate(places):
        k = bisect_left(tails, place)
        if k == len(tails):
            tails.append(place)
            tail_at.append(i)
        else:
            tails[k] = place
            tail_at[k] = i
        before[i] = tail_at[k - 1] if k else -1
    keep: set[str] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep.add(names[i])
        i = before[i]
    return keep


# ------------------------------------------------------------------------------------ showing


def short(value: Any, width: int = 60) -> str:
    """A value as JSON on one line, cut to ``width`` characters (``...`` marks the cut)."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 3] + "..."


def describe(change: Change, width: int = 60) -> str:
    """One line for people: ``changed  $.files[1].size (soil_samples.csv)  896 -> 900``."""
    where = change.path + (f" ({' / '.join(change.items)})" if change.items else "")
    if change.op == "changed":
        what = f"{short(change.old, width)} -> {short(change.new, width)}"
    elif change.op == "added":
        what = short(change.new, width)
    elif change.op == "removed":
        what = short(change.old, width)
    else:  # moved
        what = f"from {change.old}"
    return f"{change.op:<8} {where}  {what}"


def as_result(old: dict[str, Any], new: dict[str, Any], changes: list[Change]) -> dict[str, Any]:
    """What ``Docket.diff`` returns and ``docket diff --json`` prints."""
    return {"from": f"{old['id']}.{old['revision']}", "to": f"{new['id']}.{new['revision']}",
            "changes": [c.as_dict() for c in changes]}


def render(old: dict[str, Any], new: dict[str, Any], changes: list[Change], width: int = 60) -> str:
    """The text of ``docket diff``: a header naming the two revisions, then one line per change."""
    header = f"{old['id']}.{old['revision']} -> {new['id']}.{new['revision']}: "
    header += f"{len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "no changes"
    if old["id"] != new["id"]:
        header += " (two different requests)"
    return "\n".join([header, *(f"  {describe(c, width)}" for c in changes)])
