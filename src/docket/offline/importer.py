"""``docket import``: filled offline forms into the store, once each, one form at a time.

One pass over the candidates (:mod:`docket.offline.sources`, a generator): each is read, parsed
(:func:`docket.documents.parse_json`: bounded, strict), its digest verified
(:mod:`docket.offline.envelope`), its data validated against the instance's form and request
schema, and — when it passed — stored at once with one call of the core API, in its own
transaction (record, history, audit row, PROV). Only then is the next candidate read, so an import
holds one form in memory, whatever the number or size of its inputs.

Each form stands alone. A form that is refused — by the checks, or by the store itself (a
PostgreSQL ``DataError`` for a value the schema allows but a column does not) — is reported with
its reason; its transaction is rolled back, and the forms before and after it are imported as if
it were not there. Running the import again imports nothing twice and refuses the same form for
the same reason.

Idempotency: each form is keyed on the digest of the canonical JSON of its filled data (for a
form that changes an existing request, of that request's id and the data). The key is the
primary key of a row in the ``imports`` table, written in the same transaction as the record, so
the index of imported forms can never disagree with the records, and two imports of the same form
racing each other store it once (the loser's transaction fails on the key and stores nothing).
The audit row's origin also names the key and the source, for people reading the log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from docket.api import Docket, now, resolve_locations
from docket.canonical import digest
from docket.documents import json_path, parse_json
from docket.errors import BadInput, DocketError, NotFound, Problem
from docket.forms.definition import clean, list_forms, load_form
from docket.messages import problem as catalogued
from docket.messages import translated
from docket.messages.fields import page_order
from docket.messages.portable import strip_annotations
from docket.offline.envelope import FORM_KEY, KNOWN_KEYS, verify
from docket.offline.sources import Item, Limits, printable, walk_paths
from docket.store import tables

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
    sender: str | None = None  # the From of the e-mail the form came in

    def as_dict(self, language: str = "en") -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "status": self.status}
        for name in ("sender", "id", "revision", "form", "filled", "message"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        if self.key:
            out["digest"] = self.key
        if self.problems:
            out["problems"] = [p.as_dict() for p in translated(self.problems, language)]
        return out

    def line(self, language: str = "en") -> str:
        """The outcome in the report; problems worded as the page words them, in ``language``."""
        label = self.status.replace("-", " ")
        ref = f" -> {self.id}.{self.revision}" if self.id else ""
        sender = f" (from {self.sender})" if self.sender else ""
        text = f"{label:<17} {self.source}{sender}{ref}"
        if self.message:
            text += f": {self.message}"
        for problem in translated(self.problems, language):
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

    def as_dict(self, language: str = "en") -> dict[str, Any]:
        return {**self.summary(), "items": [o.as_dict(language) for o in self.outcomes]}

    def text(self, language: str = "en") -> str:
        s = self.summary()
        lines = [o.line(language) for o in self.outcomes]
        lines.append(
            f"{s['imported']} imported, {s['already_imported']} already imported, "
            f"{s['refused']} refused ({s['altered']} altered), {s['skipped']} skipped"
        )
        return "\n".join(lines)


# -- parsing ------------------------------------------------------------------------------------


def parse_form_json(raw: bytes, where: str = "the form", *, max_depth: int = 64,
                    max_int_digits: int = 300) -> Any:
    """The form's JSON by docket's one strict reader (:func:`docket.documents.parse_json`: UTF-8,
    no duplicate keys — the digest must mean one thing —, no NaN/Infinity/1e400, NUL or lone
    surrogate, bounded depth), plus the one rule of the store: integers within 64 bits."""
    value = parse_json(raw, where, max_depth=max_depth, max_int_digits=max_int_digits)
    _check_integers(value, where)
    return value


def _check_integers(value: Any, where: str) -> None:
    """Integers the store can hold, iteratively (parse_json has bounded the depth already)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, int) and not isinstance(node, bool) and not -INT64_MAX - 1 <= node <= INT64_MAX:
            spot = json_path(path)
            message = f"holds an integer too large to store ({str(node)[:20]}..., more than 2^63-1)"
            raise BadInput(f"{where}: {spot}: {message}", [Problem(spot, message)])


# -- checking -----------------------------------------------------------------------------------


def _under_data(problems: list[Problem]) -> list[Problem]:
    """Form paths (``$.provider.email``) as paths in the file (``$.data.provider.email``)."""
    return [dataclasses.replace(p, where="$.data" + p.where[1:]) if p.where.startswith("$") else p
            for p in problems]


class Importer:
    """Checks and stores filled forms for one instance (forms are loaded once per run)."""

    def __init__(self, d: Docket) -> None:
        self.d = d
        self._forms: dict[str, Any] = {}
        self.index: dict[str, tuple[str, int]] = {}

    def form_words(self) -> tuple[str, ...]:
        """What marks mail as meant for docket: "docket", and each form's name and titles."""
        words = {"docket"}
        for name in list_forms(self.d):
            words.update({name.lower(), name.replace("-", " ").lower()})
            try:
                form = self.form(name)
            except DocketError:  # a broken form is reported when a form names it, not here
                continue
            if form is not None:
                words.update(t.strip().lower() for t in form.title.values() if len(t.strip()) >= 6)
        return tuple(sorted(words))

    def process(self, item: Item) -> Outcome:
        """Check one candidate and, when it passed, store it in its own transaction.

        The outcome is final; the document is dropped once stored, so the report keeps only
        what it prints and the import holds one form at a time.
        """
        out = self.check(item)
        out.sender = item.sender
        item.data = None  # parsed: the bytes go now, not when the next input has been read
        if out.status == "ready":
            self.store(out)
        out.document = None
        return out

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
        except DocketError as exc:
            return Outcome(item.source, "refused", exc.message, [p for p in exc.problems if p.where])
        except SQLAlchemyError as exc:
            return Outcome(item.source, "refused", f"the store could not be read to check it: {store_reason(exc)}")
        except RecursionError:  # only with [limits] max_json_depth set far above its default
            return Outcome(item.source, "refused", "is nested too deeply to check (lower [limits] max_json_depth)")

    def _check(self, item: Item) -> Outcome:
        assert item.data is not None
        envelope = parse_form_json(item.data, "the form", max_depth=self.d.config.limit("max_json_depth"),
                                   max_int_digits=self.d.config.limit("max_json_int_digits"))
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
        problems = [catalogued(json_path([k]), "offline_unknown_key") for k in envelope if k not in KNOWN_KEYS]
        data = envelope.get("data")
        if not isinstance(data, dict):
            problems.append(catalogued("$.data", "offline_data_object", kind=type(data).__name__))
        if problems:
            return self._refuse(out, problems)
        try:  # the "//<field>" notes of the JSON export: never read, dropped before anything
            data = strip_annotations(data)
        except ValueError as exc:
            return self._refuse(out, [Problem("$.data", str(exc))])
        target = envelope.get("request")
        if form.mode == "merge" and isinstance(target, str) and target.strip():
            key = digest({"request": target.strip(), "data": clean(data)})
        else:
            key = digest(clean(data))
        if self._lookup(key):  # it was valid when it was stored; say so without checking again
            out.status, out.key = "already-imported", key
            out.id, out.revision = self.index[key]
            return out
        problems = page_order(form, _under_data(form.problems(data)), "$.data")
        existing = None
        if form.mode == "merge":
            if not isinstance(target, str) or not target.strip():
                problems.insert(0, catalogued("$.request", "request_required"))
            else:
                try:
                    existing = self.d.get(target.strip())
                    out.target, out.expected_revision = existing["id"], existing["revision"]
                except NotFound:
                    problems.insert(0, catalogued("$.request", "request_unknown", request=repr(target.strip()[:80])))
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
        except DocketError as exc:
            out.status, out.message, out.problems = "refused", exc.message, _under_data(exc.problems)
            return
        except SQLAlchemyError as exc:
            # One form's store error is that form's: its transaction was rolled back when it left
            # the ``with``, and the next form starts on a clean connection.
            if isinstance(exc, IntegrityError) and self._lookup_quietly(out.key):
                out.status = "already-imported"  # another import stored the same form first
                out.id, out.revision = self.index[out.key]
                return
            out.status = "refused"
            out.message = f"the store refused it, so nothing of it was stored: {store_reason(exc)}"
            return
        out.status, out.id, out.revision = "imported", result["id"], result["revision"]
        # A password taken out of a URL: stored without it, and the data manager is told where.
        out.message = "; ".join(w["message"] for w in result.get("warnings", []))
        self.index[out.key] = (out.id, out.revision)

    def _lookup_quietly(self, key: str) -> tuple[str, int] | None:
        try:
            return self._lookup(key)
        except SQLAlchemyError:
            return None


def store_reason(exc: SQLAlchemyError) -> str:
    """The database's own first line about a failed statement, fit to show and to store."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return printable(reason[0] if reason else type(exc).__name__, 300)


def max_upload_bytes(d: Docket, override: int | None = None) -> int:
    """The size limit of one file, message or attachment: ``--max-bytes``, else docket.toml."""
    if override is not None:
        if override <= 0:
            raise BadInput(f"--max-bytes must be a positive number of bytes, not {override}")
        return override
    return d.config.limit("max_upload_bytes")


def import_paths(d: Docket, paths: list[str | Path], *, max_bytes: int | None = None) -> ImportReport:
    """Import every filled form found in ``paths``, one at a time; see the module docstring."""
    importer = Importer(d)
    limits = Limits(upload_bytes=max_upload_bytes(d, max_bytes), form_bytes=d.config.limit("max_form_bytes"),
                    mime_parts=d.config.limit("max_mime_parts"),
                    mime_depth=d.config.limit("max_mime_depth"), form_words=importer.form_words())
    return ImportReport([importer.process(item) for item in walk_paths([str(p) for p in paths], limits)])
