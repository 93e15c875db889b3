"""``docket import``: filled offline forms into the store, once each, all checked before any write.

Two phases. First every candidate (see :mod:`docket.offline.sources`) is read, parsed, its digest
verified (:mod:`docket.offline.envelope`) and its data validated against the instance's form and
request schema — nothing is written while anything is still being checked, so a bad file can
never leave half an import behind. Then each form that passed is stored with one call of the
core API (one transaction each: record, history, audit row, PROV).

Idempotency: each form is keyed on the digest of the canonical JSON of its filled data (for a
form that changes an existing request, of that request's id and the data). The key is the
primary key of a row in the ``imports`` table, written in the same transaction as the record, so
the index of imported forms can never disagree with the records, and two imports of the same form
racing each other store it once (the loser's transaction fails on the key and stores nothing).
The audit row's origin also names the key and the source, for people reading the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from docket.api import Docket, now, resolve_locations
from docket.canonical import canonical_json, digest
from docket.errors import BadInput, DocketError, NotFound, Problem
from docket.forms.definition import clean, list_forms, load_form
from docket.offline.envelope import FORM_KEY, KNOWN_KEYS, verify
from docket.offline.sources import Item, walk_paths
from docket.store import tables

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30
MAX_NESTING = 64
INT64_MAX = (1 << 63) - 1
ORIGIN_PREFIX = "import:"
REFUSED = ("refused", "altered")


@dataclass
class Outcome:
    """What happened to one candidate form."""

    source: str
    status: str  # imported, already-imported, refused, altered, skipped (and "ready" in between)
    message: str = ""
    problems: list[Problem] = field(default_factory=list)
    form: str | None = None
    filled: str | None = None  # "sealed" or "filled-by-hand"
    key: str | None = None
    id: str | None = None
    revision: int | None = None
    target: str | None = None  # the request a merge form changes
    document: dict[str, Any] | None = field(default=None, repr=False)
    expected_revision: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "status": self.status}
        for name in ("id", "revision", "form", "filled", "message"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        if self.key:
            out["digest"] = self.key
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out

    def line(self) -> str:
        label = self.status.replace("-", " ")
        ref = f" -> {self.id}.{self.revision}" if self.id else ""
        text = f"{label:<17} {self.source}{ref}"
        if self.message:
            text += f": {self.message}"
        for problem in self.problems:
            text += f"\n    - {problem}"
        return text


@dataclass
class ImportReport:
    outcomes: list[Outcome]

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def any_refused(self) -> bool:
        return self.count(*REFUSED) > 0

    @property
    def exit_code(self) -> int:
        return 1 if self.any_refused else 0

    def summary(self) -> dict[str, int]:
        return {
            "imported": self.count("imported"),
            "already_imported": self.count("already-imported"),
            "refused": self.count(*REFUSED),
            "altered": self.count("altered"),
            "skipped": self.count("skipped"),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "items": [o.as_dict() for o in self.outcomes]}

    def text(self) -> str:
        s = self.summary()
        lines = [o.line() for o in self.outcomes]
        lines.append(
            f"{s['imported']} imported, {s['already_imported']} already imported, "
            f"{s['refused']} refused ({s['altered']} altered), {s['skipped']} skipped"
        )
        return "\n".join(lines)


# -- parsing ------------------------------------------------------------------------------------


class _Duplicate(Exception):
    pass


class _Constant(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Constant(name)


def parse_form_json(raw: bytes, where: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, nesting within reason.

    Stricter than ``json.loads`` because the digest must mean one thing: with duplicate keys two
    readers could see two different forms behind one digest.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"is not UTF-8 text (byte {exc.start} is not valid UTF-8)") from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except _Duplicate as exc:
        raise BadInput(f"is not valid for docket: the key {exc.args[0]!r} appears twice in one object") from None
    except _Constant as exc:
        raise BadInput(f"is not valid JSON: {exc.args[0]} is not a JSON number") from None
    except RecursionError:
        raise BadInput(f"is nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise BadInput(f"is not valid JSON: {exc}") from None
    _check_values(value)
    try:
        canonical_json(value)
    except UnicodeEncodeError:
        raise BadInput("contains text that is not valid Unicode (an unpaired surrogate such as \\ud800)") from None
    return value


def _check_values(value: Any) -> None:
    """Depth and integer range, iteratively (a recursive walk is what deep input would break)."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "$")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_NESTING:
            raise BadInput(f"is nested more than {MAX_NESTING} levels deep (at {where})")
        if isinstance(node, dict):
            stack.extend((v, depth + 1, where) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, where) for v in node)
        elif isinstance(node, int) and not isinstance(node, bool) and not -INT64_MAX - 1 <= node <= INT64_MAX:
            raise BadInput(f"holds an integer too large to store ({str(node)[:20]}..., more than 2^63-1)")


# -- checking -----------------------------------------------------------------------------------


def _under_data(problems: list[Problem]) -> list[Problem]:
    """Form paths (``$.provider.email``) as paths in the file (``$.data.provider.email``)."""
    return [Problem("$.data" + p.where[1:] if p.where.startswith("$") else p.where, p.message) for p in problems]


class Importer:
    """Checks and stores filled forms for one instance (forms are loaded once per run)."""

    def __init__(self, d: Docket) -> None:
        self.d = d
        self._forms: dict[str, Any] = {}
        self.index: dict[str, tuple[str, int]] = {}

    def _lookup(self, key: str) -> tuple[str, int] | None:
        """The request an offline form with this key was imported as, if it was."""
        if key in self.index:
            return self.index[key]
        i = tables.imports
        with self.d.store.connect() as conn:
            row = conn.execute(select(i.c.request_id, i.c.revision).where(i.c.key == key)).first()
        if row is not None:
            self.index[key] = (row.request_id, int(row.revision))
        return self.index.get(key)

    def form(self, name: Any) -> Any | None:
        if not isinstance(name, str):
            return None
        if name not in self._forms:
            try:
                self._forms[name] = load_form(name, self.d)
            except NotFound:
                self._forms[name] = None
        return self._forms[name]

    def exported_from(self, form: Any | None, version: Any) -> Any | None:
        """The definition an envelope was exported from: today's form, or a kept earlier version."""
        if form is None or version == form.version or not isinstance(version, str):
            return form
        key = f"{form.name}@{version}"
        if key not in self._forms:
            try:
                self._forms[key] = load_form(form.name, self.d, version=version)
            except NotFound:
                self._forms[key] = form  # unknown version: verify names the mismatch
        return self._forms[key]

    def check(self, item: Item) -> Outcome:
        """Everything short of writing: the outcome is ``ready`` (with its document) or final."""
        if item.skipped:
            return Outcome(item.source, "skipped", item.skipped)
        if item.refused or item.data is None:
            return Outcome(item.source, "refused", item.refused or "nothing to read")
        try:
            return self._check(item)
        except RecursionError:
            return Outcome(item.source, "refused", f"is nested more than {MAX_NESTING} levels deep")
        except DocketError as exc:
            return Outcome(item.source, "refused", exc.message, exc.problems)

    def _check(self, item: Item) -> Outcome:
        assert item.data is not None
        envelope = parse_form_json(item.data, item.source)
        if not isinstance(envelope, dict) or FORM_KEY not in envelope:
            return Outcome(item.source, "refused",
                           f"is not a docket offline form (no {FORM_KEY!r} envelope); export one with "
                           "'docket form export', or submit a bare request with 'docket submit'")
        name = envelope.get(FORM_KEY)
        form = self.form(name)
        # A form exported before the form changed is checked against the version it names;
        # its data is then validated against today's form and schema like any other.
        verdict = verify(envelope, self.exported_from(form, envelope.get("form_version")))
        if not verdict.ok:
            return Outcome(item.source, "altered", verdict.message, form=name if isinstance(name, str) else None)
        if form is None:
            return Outcome(item.source, "refused",
                           f"there is no form {name!r} in this instance (forms: {', '.join(list_forms(self.d))})")
        out = Outcome(item.source, "ready", form=form.name, filled=verdict.status)
        problems = [Problem(f"$.{k}", "is not a known field of an offline form")
                    for k in envelope if k not in KNOWN_KEYS]
        data = envelope.get("data")
        if not isinstance(data, dict):
            problems.append(Problem("$.data", f"must be an object, not {type(data).__name__}"))
        if problems:
            return self._refuse(out, problems)
        target = envelope.get("request")
        if form.mode == "merge" and isinstance(target, str) and target.strip():
            key = digest({"request": target.strip(), "data": clean(data)})
        else:
            key = digest(clean(data))
        if self._lookup(key):  # it was valid when it was stored; say so without checking again
            out.status, out.key = "already-imported", key
            out.id, out.revision = self.index[key]
            return out
        problems = _under_data(form.problems(data))
        existing = None
        if form.mode == "merge":
            if not isinstance(target, str) or not target.strip():
                problems.append(Problem("$.request", "is required: the id of the request this form changes"))
            else:
                try:
                    existing = self.d.get(target.strip())
                    out.target, out.expected_revision = existing["id"], existing["revision"]
                except NotFound:
                    problems.append(Problem("$.request", f"there is no request {target.strip()!r} in this instance"))
        if problems:
            return self._refuse(out, problems)
        document = form.to_request(data, existing)
        # A new-request form's schema is the request schema, so its problems above were these;
        # a form that changes a request is checked again as the whole request it makes.
        problems = self.d.schemas.problems(form.target, document) if form.mode == "merge" else []
        if problems:
            return self._refuse(out, problems, f"the new revision of {out.target} would not be a valid request")
        out.key = key
        out.document = resolve_locations(document, item.folder) if item.folder else document
        return out

    @staticmethod
    def _refuse(out: Outcome, problems: list[Problem], message: str | None = None) -> Outcome:
        out.status = "refused"
        n = len(problems)
        out.message = message or f"{n} error{'s' if n != 1 else ''}; nothing was stored"
        out.problems = problems
        return out

    def store(self, out: Outcome) -> None:
        """Write one checked form (``ready``), or mark it already imported."""
        assert out.key is not None and out.document is not None
        if self._lookup(out.key):
            out.status = "already-imported"
            out.id, out.revision = self.index[out.key]
            return
        origin = f"{ORIGIN_PREFIX}{out.key} {out.source}"[:300]

        def remember(conn: Connection, request_id: str, revision: int) -> None:
            # In the record's own transaction: a form imported twice at once is stored once.
            conn.execute(tables.imports.insert(), {"key": out.key, "request_id": request_id, "revision": revision,
                                                   "source": out.source, "imported_date": now()})

        try:
            if out.target:
                result = self.d.revise(out.target, out.document, expected_revision=out.expected_revision,
                                       origin=origin, write=remember)
            else:
                result = self.d.submit(out.document, origin=origin, write=remember)
        except IntegrityError:
            if self._lookup(out.key):  # another import stored the same form first
                out.status = "already-imported"
                out.id, out.revision = self.index[out.key]
                return
            raise
        except DocketError as exc:
            out.status, out.message, out.problems = "refused", exc.message, _under_data(exc.problems)
            return
        out.status, out.id, out.revision = "imported", result["id"], result["revision"]
        self.index[out.key] = (out.id, out.revision)


def max_upload_bytes(d: Docket, override: int | None = None) -> int:
    """The size limit of one file or attachment: ``--max-bytes``, else docket.toml, else 1 GiB."""
    if override is not None:
        if override <= 0:
            raise BadInput(f"--max-bytes must be a positive number of bytes, not {override}")
        return override
    value = d.config.limits.get("max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BadInput(f"[limits] max_upload_bytes in docket.toml must be a positive integer, not {value!r}")
    return value


def import_paths(d: Docket, paths: list[str | Path], *, max_bytes: int | None = None) -> ImportReport:
    """Import every filled form found in ``paths``; see the module docstring."""
    limit = max_upload_bytes(d, max_bytes)
    items = walk_paths([str(p) for p in paths], limit)
    importer = Importer(d)
    outcomes = [importer.check(item) for item in items]  # phase 1: nothing written yet
    for out in outcomes:  # phase 2
        if out.status == "ready":
            importer.store(out)
    return ImportReport(outcomes)
