"""The Python API of docket: one object per instance, with every operation the CLI offers.

``docket.open(path)`` returns a :class:`Docket`. Each operation validates first and then writes
everything that belongs together (record, status history, files, audit row and the step's PROV
bundle) in one transaction, so a crash leaves either the old state or the new one.
"""

from __future__ import annotations

import copy
import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from docket import __version__
from docket.canonical import digest
from docket.documents import check_json_value, check_text, load_json_file
from docket.errors import BadInput, Conflict, NotFound, Refused
from docket.instance import Instance
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id, Recorder, Uri
from docket.store import Store, tables
from docket.text import pick
from docket.transfer.credentials import strip_passwords
from docket.validation import SchemaSet, record_only_fields
from docket.workflow import (
    STEPS,
    StepChange,
    check_review_transition,
    check_role,
    check_step_change,
    initial_steps,
    step_filter,
)


def now() -> datetime:
    return datetime.now(UTC)


def default_actor() -> str:
    """Who is acting when nobody says: ``$DOCKET_USER``, else the operating-system user."""
    try:
        return os.environ.get("DOCKET_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container
        return "unknown"


_ORIGIN = f"{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class Actor:
    """Someone (or something) acting on a request, in a role."""

    name: str
    role: str = "data-manager"
    email: str | None = None
    orcid: str | None = None

    def __post_init__(self) -> None:
        # Stored in text columns and PROV: a NUL or a lone surrogate would be kept by one store
        # and refused by the other (or fail to encode), so it is a refusal before either sees it.
        for what in ("name", "role", "email", "orcid"):
            value = getattr(self, what)
            if isinstance(value, str):
                check_text(value, f"the actor's {what}")

    @property
    def label(self) -> str:
        return self.email or self.orcid or self.name

    @property
    def prov_id(self) -> str:
        return ids.person_id(self.email, self.orcid, self.name)


MAX_REVISION = 2**31 - 1  # the revision columns are 32-bit on both stores


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``ocean-0007`` or ``ocean-0007.2`` -> (id, revision or None).

    A reference no request can have (a NUL, a lone surrogate, a revision beyond the column) is
    not found here, before a store is asked: SQLite and PostgreSQL would fail on it differently.
    """
    if not isinstance(ref, str) or "\x00" in ref or not ref.isascii() and _unencodable(ref):
        raise NotFound(f"no request {ref!r} in this instance")
    base, dot, rev = ref.rpartition(".")
    if dot and rev.isascii() and rev.isdigit() and base:
        if len(rev) > 10 or int(rev) > MAX_REVISION:
            raise NotFound(f"request {base} has no revision {rev[:20]}")
        return base, int(rev)
    return ref, None


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Docket:
    """One instance of docket: its configuration, store, schemas and PROV templates."""

    def __init__(self, instance: Instance, *, migrate: bool = True) -> None:
        self.instance = instance
        self.config = instance.config
        self.store = Store(instance.store_url(), instance.config.store_schema)
        self.schemas = SchemaSet(instance.schemas_dir)
        self.recorder = Recorder(self.config.base_uri, instance.templates_dir)
        self._counter_upsert: Any = None
        self._record_only = record_only_fields(self.schemas)
        if migrate:
            self.store.ensure_current()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Docket:
        return cls(Instance.find(path), **kwargs)

    @classmethod
    def init(cls, path: str | os.PathLike[str], **kwargs: Any) -> Docket:
        instance = Instance.create(path, **kwargs)
        docket = cls(instance, migrate=False)
        docket.store.upgrade()
        return docket

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> Docket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def _request_row(self, conn: Connection, request_id: str) -> Any:
        row = conn.execute(select(tables.requests).where(tables.requests.c.id == request_id)).first()
        if row is None:
            raise NotFound(f"no request {request_id!r} in this instance")
        return row

    def _rows_of(self, table: Any, ref: str) -> list[Any]:
        """All rows of ``table`` that belong to a request (which must exist), oldest first."""
        request_id, _ = parse_ref(ref)
        with self.store.connect() as conn:
            self._request_row(conn, request_id)
            return conn.execute(select(table).where(table.c.request_id == request_id).order_by(table.c.id)).all()

    def get(self, ref: str, revision: int | None = None) -> dict[str, Any]:
        """The document of a request (its current revision, or the one asked for)."""
        request_id, rev = parse_ref(ref)
        rev = revision or rev
        if rev is not None and not 0 < rev <= MAX_REVISION:
            raise NotFound(f"request {request_id} has no revision {rev}")
        with self.store.connect() as conn:
            row = self._request_row(conn, request_id)
            rev = rev or row.revision
            doc = conn.execute(
                select(tables.revisions.c.document).where(
                    tables.revisions.c.request_id == request_id, tables.revisions.c.revision == rev
                )
            ).scalar()
        if doc is None:
            raise NotFound(f"request {request_id} has no revision {rev} (it has 1 to {row.revision})")
        if rev == row.revision:
            # The stored revision is immutable; its live workflow state is kept on the request,
            # and what docket measured of its files in the resource registry.
            # (The audit fields stay the revision's: who changed the content, and when; state
            # changes are in the history.)
            doc = {**doc, "review_state": row.review_state, "steps": row.steps}
            measured = self._measured(request_id, rev)
            if measured:
                doc["measured"] = measured
        return doc

    def _measured(self, request_id: str, revision: int) -> dict[str, dict[str, Any]]:
        """Per file, the technical metadata docket measured (transfer, QA), or why it could not."""
        f = tables.files
        with self.store.connect() as conn:
            rows = conn.execute(select(f).where(
                f.c.request_id == request_id, f.c.revision == revision, f.c.status != "declared"
            ).order_by(f.c.id)).all()
        keys = ("status", "location", "size", "md5", "sha256", "media_type", "encoding", "rows", "detail")
        return {r.name: {k: getattr(r, k) for k in keys if getattr(r, k) is not None} for r in rows}

    def list(self, status: str | None = None, limit: int | None = None, *, step: str | None = None,
             step_status: str | None = None) -> list[dict[str, Any]]:
        """One summary per request, newest first; ``status`` filters on the review state.

        ``step`` with ``step_status`` keeps the requests whose step is in that status
        (``in-progress``, ``closed``...) or closed with that outcome (``rejected``, ``failed``,
        ``done``...); unknown names are bad input naming the allowed ones.
        """
        wanted = step_filter(step, step_status)
        query = select(tables.requests).order_by(tables.requests.c.created_date.desc(), tables.requests.c.number.desc())
        if status:
            query = query.where(tables.requests.c.review_state == status)
        if limit is not None and not 0 < limit <= MAX_REVISION:
            # SQLite reads LIMIT -1 as "no limit" and overflows past 64 bits; PostgreSQL refuses
            # both: one rule here instead.
            raise BadInput(f"the limit must be a whole number from 1 to {MAX_REVISION}, not {limit}")
        if limit and wanted is None:
            query = query.limit(limit)
        with self.store.connect() as conn:
            rows = conn.execute(query).all()
        if wanted is not None:  # the steps are JSON: filtered here, the same on every store
            rows = [r for r in rows if wanted((r.steps or {}).get(step) or {"status": "open"})][:limit]
        return [
            {
                "id": r.id,
                "revision": r.revision,
                "review_state": r.review_state,
                "title": r.title,
                "provider": r.provider,
                "steps": r.steps,
                "created_date": _iso(r.created_date),
                "last_modified_date": _iso(r.last_modified_date),
            }
            for r in rows
        ]

    def history(self, request_id: str) -> list[dict[str, Any]]:
        """Every transition of a request, oldest first: who, when, from, to, comment.

        Every revision is a row too (``kind`` ``revision``, ``from``/``to`` the refs of the
        revisions before and after, ``minor`` for a declared minor edit), even one that left the
        review state where it was: merged in time order, before the state changes it made.
        """
        rows = self._rows_of(tables.status_history, request_id)
        transitions = [
            {
                "at": _iso(r.at),
                "revision": r.revision,
                "kind": r.kind,
                "step": r.step,
                "from": r.from_state,
                "to": r.to_state,
                "outcome": r.outcome,
                "actor": r.actor,
                "role": r.role,
                "comment": r.comment,
            }
            for r in rows
        ]
        return _merge_in_time(self._revision_rows(parse_ref(request_id)[0]), transitions)

    def _revision_rows(self, request_id: str) -> list[dict[str, Any]]:
        """One history row per revision: who wrote it (and in which role, from the audit log)."""
        v, a = tables.revisions, tables.audit_log
        with self.store.connect() as conn:
            revisions = conn.execute(select(v.c.revision, v.c.created_by, v.c.created_date)
                                     .where(v.c.request_id == request_id).order_by(v.c.revision)).all()
            writes = conn.execute(select(a.c.role, a.c.detail).where(
                a.c.request_id == request_id, a.c.action.in_(("submit", "revise"))).order_by(a.c.id)).all()
        how = {w.detail.get("revision"): w for w in writes if isinstance(w.detail, dict)}
        return [
            {
                "at": _iso(r.created_date), "revision": r.revision, "kind": "revision", "step": None,
                "from": f"{request_id}.{r.revision - 1}" if r.revision > 1 else None,
                "to": f"{request_id}.{r.revision}", "outcome": None, "actor": r.created_by,
                "role": how[r.revision].role if r.revision in how else None, "comment": None,
                "minor": bool(r.revision in how and how[r.revision].detail.get("minor")),
            }
            for r in revisions
        ]

    def diff(self, ref_a: str, ref_b: str | None = None) -> dict[str, Any]:
        """Field-level differences in content from revision ``ref_a`` to ``ref_b`` (see
        :mod:`docket.diff`): ``{"from", "to", "changes": [{op, path, old, new}, ...]}``.

        Without ``ref_b``: ``ID`` is its current revision against the one before, ``ID.N`` revision
        N against N-1. Any two revisions may be compared, of one request or of two.
        """
        from docket.diff import as_result, diff_records

        old, new = self.revision_pair(ref_a, ref_b)
        return as_result(old, new, diff_records(old, new))

    def revision_pair(self, ref_a: str, ref_b: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two revisions :meth:`diff` compares, older first as given."""
        if ref_b is not None:
            return self.get(ref_a), self.get(ref_b)
        new = self.get(ref_a)
        if new["revision"] == 1:
            raise BadInput(f"{new['id']}.1 is the first revision of {new['id']}: there is none before it "
                           "to compare with (give two: docket diff ID.1 ID.2)")
        return self.get(new["id"], new["revision"] - 1), new

    def audit(self, request_id: str | None = None) -> list[dict[str, Any]]:
        a = tables.audit_log
        query = select(a).order_by(a.c.id)
        if request_id:
            query = query.where(a.c.request_id == parse_ref(request_id)[0])
        with self.store.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"at": _iso(r.at), "actor": r.actor, "role": r.role, "action": r.action,
             "request_id": r.request_id, "origin": r.origin, "detail": r.detail}
            for r in rows
        ]

    def files(self, request_id: str) -> list[dict[str, Any]]:
        """The resource registry rows of the request's current revision."""
        request_id, _ = parse_ref(request_id)
        f = tables.files
        with self.store.connect() as conn:
            row = self._request_row(conn, request_id)
            rows = conn.execute(
                select(f).where(f.c.request_id == request_id, f.c.revision == row.revision).order_by(f.c.id)
            ).all()
        return [
            {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in r._mapping.items() if k != "id"}
            for r in rows
        ]

    # -- provenance ------------------------------------------------------------------------

    def prov_bundles(self, request_id: str) -> list[dict[str, Any]]:
        """The request's PROV bundles in order, each with the template and bindings behind it."""
        rows = self._rows_of(tables.prov_bundles, request_id)
        return [
            {"bundle_id": r.bundle_id, "step": r.step, "n": r.n, "template": r.template,
             "template_digest": r.template_digest, "bundle": r.bundle, "bindings": r.bindings,
             "created_date": _iso(r.created_date)}
            for r in rows
        ]

    def prov(self, request_id: str):  # -> prov.model.ProvDocument
        """The request's own PROV document: every bundle, plus each bundle described as an entity."""
        from docket.provenance.document import assemble

        return assemble(self.prov_bundles(request_id), self.config.base_uri)

    def export_prov(self, request_id: str, fmt: str = "json") -> bytes:
        from docket.provenance.document import picture
        from docket.provenance.export import get, serialize

        serializer = get(fmt)  # an unknown format is bad usage, whatever the id
        if not serializer.readable:  # a picture (dot, svg, html): the request's story as one graph
            context = ({"request_id": request_id, "languages": list(self.config.languages)}
                       if serializer.contextual else {})
            return serialize(picture(self.prov_bundles(request_id)), fmt, **context)
        return serialize(self.prov(request_id), fmt)

    # -- writing -----------------------------------------------------------------------------

    def submit(
        self,
        document: dict[str, Any] | str | os.PathLike[str],
        *,
        actor: Actor | None = None,
        origin: str | None = None,
        write: Callable[[Connection, str, int], None] | None = None,
    ) -> dict[str, Any]:
        """Store a new request (revision 1, review state ``submitted``) and its PROV.

        Returns ``{"id", "revision", "digest"}``, plus ``"warnings"`` (``[{"field", "message"}]``)
        when a password was taken out of a URL. Invalid input raises before anything is written.
        ``write(conn, id, revision)`` adds a caller's own rows to the same transaction.
        """
        received = now()  # the submission activity starts here, before loading and validation
        # A password in a URL is taken out before anything (validation messages included) sees it.
        doc, warnings = strip_passwords(self._load(document))
        validated = now()
        self.schemas.validate("request", doc, "request")
        actor = self._acting(doc, actor)
        project = doc.get("project") or self.config.project
        steps = doc.get("steps") or initial_steps()
        if steps != initial_steps() and actor.role != "data-manager":
            # Steps are workflow state: only a data manager (e.g. migrating records from another
            # system) may bring a request in with steps already done.
            raise Refused(f"role {actor.role} may not submit a request whose steps are already set; "
                          "leave out 'steps', docket sets them")
        at = now()
        with self.store.transaction() as conn:
            number = self._next_number(conn, project)
            request_id = f"{project}-{number:04d}"
            record = self._record(doc, request_id, 1, "submitted", steps, actor, at, created=(actor.label, at))
            title = self._title(doc)
            conn.execute(tables.requests.insert(), {
                "id": request_id, "project": project, "number": number, "revision": 1,
                "review_state": "submitted", "title": title, "provider": doc["provider"].get("email") or doc["provider"]["name"],
                "steps": steps, "version": 1, "created_date": at, "last_modified_date": at,
            })
            content_digest = self._write_revision(conn, record, actor, at)
            self._history(conn, request_id, 1, "review", None, "draft", "submitted", None, actor, at, "submitted",
                          also=[("step", "request", "open", "closed", "done", None)])
            self._audit(conn, actor, "submit", request_id, {"revision": 1, "digest": content_digest}, origin, at)
            self._record_prov(conn, request_id, "request", "submission",
                              self._submission_values(record, None, content_digest, started=received,
                                                      validated=validated, from_state=None))
            if write is not None:
                write(conn, request_id, 1)
        return {"id": request_id, "revision": 1, "digest": content_digest, **_warned(warnings)}

    def revise(
        self,
        request_id: str,
        document: dict[str, Any] | str | os.PathLike[str],
        *,
        actor: Actor | None = None,
        expected_revision: int | None = None,
        minor: bool = False,
        origin: str | None = None,
        write: Callable[[Connection, str, int], None] | None = None,
    ) -> dict[str, Any]:
        """A new revision of a request's document, in ``draft`` (a declared minor edit of an
        approved record keeps its state). The earlier revision is never changed.
        """
        request_id, _ = parse_ref(request_id)
        received = now()  # the submission activity starts here, before loading and validation
        # A record as `docket show --json` prints it may come back edited: what docket adds to a
        # request (id, revision, states, steps, audit fields) is docket's, not the editor's.
        doc = {k: v for k, v in self._load(document).items() if k not in self._record_only}
        doc, warnings = strip_passwords(doc)  # as in submit: never stored, never echoed
        validated = now()
        self.schemas.validate("request", doc, "request")
        actor = self._acting(doc, actor)
        at = now()
        with self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            _expect_revision(row, expected_revision)
            if row.review_state == "retired":
                raise Refused(f"{request_id} is retired and cannot be edited")
            state = row.review_state if (minor and row.review_state == "approved") else "draft"
            revision = row.revision + 1
            created = conn.execute(select(tables.revisions.c.document).where(
                tables.revisions.c.request_id == request_id, tables.revisions.c.revision == row.revision)).scalar_one()
            record = self._record(doc, request_id, revision, state, row.steps, actor, at,
                                  created=(created["created_by"], created["created_date"]))
            self._update_request(conn, row, revision=revision, review_state=state,
                                 title=self._title(doc),
                                 steps=record["steps"], at=at)
            content_digest = self._write_revision(conn, record, actor, at)
            if state != row.review_state:
                self._history(conn, request_id, revision, "review", None, row.review_state, state, None, actor, at,
                              "new revision")
            self._audit(conn, actor, "revise", request_id, {"revision": revision, "minor": minor}, origin, at)
            self._record_prov(conn, request_id, "request", "submission",
                              self._submission_values(record, revision - 1, content_digest, started=received,
                                                      validated=validated, from_state=row.review_state))
            if write is not None:
                write(conn, request_id, revision)
        return {"id": request_id, "revision": revision, "digest": content_digest, **_warned(warnings)}

    def review(
        self,
        request_id: str,
        to_state: str,
        *,
        actor: Actor | None = None,
        comment: str | None = None,
        expected_revision: int | None = None,
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Move the review state (submit, approve, reject, withdraw, retire), by role."""
        started = now()  # the review activity starts with the reviewer's call
        request_id, _ = parse_ref(request_id)
        actor = actor or Actor(default_actor(), "reviewer")
        if comment is not None:
            check_text(comment, "the comment")
        at = now()
        with self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            read = now()  # when the revision under review was read (the usage)
            _expect_revision(row, expected_revision)
            check_review_transition(row.review_state, to_state, actor.role)
            if to_state == "rejected" and not comment:
                raise BadInput("a rejection needs a comment that tells the provider what to change")
            self._history(conn, request_id, row.revision, "review", None, row.review_state, to_state, None, actor, at, comment)
            steps = copy.deepcopy(row.steps)
            step_outcome = {"approved": ("closed", "accepted"), "rejected": ("action-required", None)}.get(to_state)
            if step_outcome:
                old = steps["review"]["status"]
                steps["review"] = {"status": step_outcome[0], **({"outcome": step_outcome[1]} if step_outcome[1] else {})}
                if comment:
                    steps["review"]["comment"] = comment
                self._history(conn, request_id, row.revision, "step", "review", old, step_outcome[0],
                              step_outcome[1], actor, at, comment)
            self._update_request(conn, row, review_state=to_state, steps=steps, at=at)
            self._audit(conn, actor, "review", request_id, {"from": row.review_state, "to": to_state}, origin, at)
            n = self._next_step_n(conn, request_id, "review")
            self._record_prov(conn, request_id, "review", "review", {
                "activity": Id(ids.step_id(request_id, "review", n)),
                "request": Id(ids.revision_id(request_id, row.revision)),
                "revision": row.revision,
                "decision": Id(ids.step_node(request_id, "review", n, "decision")),
                # the state is the decision's (a revision entity keeps its attributes for ever)
                "fromState": row.review_state, "toState": to_state, "comment": comment,
                # the review step, when this decision moved it (approval closes it)
                "stepStatus": step_outcome[0] if step_outcome else None,
                "outcome": step_outcome[1] if step_outcome else None,
                **self._agent_values("reviewer", actor), **self._software_values(),
                "startTime": started, "usedTime": read, "endTime": now(),  # end: just before the commit
            }, n=n)
        return {"id": request_id, "revision": row.revision, "review_state": to_state}

    def set_step(
        self,
        request_id: str,
        step: str,
        status: str,
        outcome: str | None = None,
        *,
        actor: Actor | None = None,
        comment: str | None = None,
        prov_values: dict[str, Any] | None = None,
        origin: str | None = None,
        write: Any = None,
    ) -> dict[str, Any]:
        """Change one step's status, and record it in PROV with that step's template.

        ``prov_values`` binds the template's variables beyond those docket fills itself (or is a
        function of the step instance number ``n`` returning them, for ids that contain it);
        ``write(conn, request_row)`` lets a caller add its own rows (e.g. the resource registry)
        to the same transaction. Returns the step instance id.
        """
        request_id, _ = parse_ref(request_id)
        actor = actor or Actor("docket", "system")
        if comment is not None:
            check_text(comment, "the comment")
        change = StepChange(step, status, outcome)
        at = now()
        with self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            check_step_change(change, actor.role, row.review_state, row.steps)
            steps = copy.deepcopy(row.steps)
            old = steps.get(step, {}).get("status")
            steps[step] = {"status": status, **({"outcome": outcome} if outcome else {}),
                           **({"comment": comment} if comment else {})}
            self._update_request(conn, row, steps=steps, at=at)
            self._history(conn, request_id, row.revision, "step", step, old, status, outcome, actor, at, comment)
            self._audit(conn, actor, f"step:{step}", request_id, {"status": status, "outcome": outcome}, origin, at)
            if write is not None:
                write(conn, row)
            n = self._next_step_n(conn, request_id, step)
            values = {
                "activity": Id(ids.step_id(request_id, step, n)),
                "request": Id(ids.revision_id(request_id, row.revision)),
                "revision": row.revision,
                "stepStatus": status, "outcome": outcome, "startTime": at,
                **self._software_values(),
                **((prov_values(n) if callable(prov_values) else prov_values) or {}),
            }
            values["endTime"] = now()  # just before the commit, whatever the step measured
            self._record_prov(conn, request_id, step, STEPS[step], values, n=n)
        return {"id": request_id, "step": step, "n": n, "status": status, "outcome": outcome,
                "activity": ids.step_id(request_id, step, n)}

    def transfer(self, request_id: str, *, actor: Actor | None = None, progress: bool = False) -> dict[str, Any]:
        """Fetch the request's files into the instance (see :mod:`docket.steps.transfer`)."""
        from docket.steps.transfer import run_transfer

        return run_transfer(self, request_id, actor=actor, progress=progress)

    def qa(self, request_id: str, *, checks: list[str] | None = None, actor: Actor | None = None,
           progress: bool = False) -> dict[str, Any]:
        """Run the QA notebook on the request's stored files and record it (see :mod:`docket.steps.qa`)."""
        from docket.steps.qa import run_qa

        return run_qa(self, request_id, checks=checks, actor=actor, progress=progress)

    def doctor(self, *, fix: bool = False, **options: Any) -> Any:
        """Check the instance and, with ``fix``, repair what is safe (see :mod:`docket.doctor`).

        Open the instance with ``migrate=False`` to see an old store as it is: opening migrates it.
        """
        from docket.doctor import run

        return run(self, fix=fix, **options)

    # -- internals --------------------------------------------------------------------------

    def _acting(self, doc: dict[str, Any], actor: Actor | None) -> Actor:
        """Who stores a request document: the caller's actor, else its provider."""
        if actor is None:
            provider = doc["provider"]
            actor = Actor(provider["name"], "provider", provider.get("email"), provider.get("orcid"))
        check_role(actor.role)
        return actor

    def _title(self, doc: dict[str, Any]) -> str:
        return pick(doc["metadata"]["project_descriptive"]["title"], self.config.languages)

    def _load(self, document: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
        """The request document, held to the rules of :mod:`docket.documents` whichever way it came.

        A file is refused when larger than ``[limits] max_request_bytes`` before it is read; a
        dict (the form page, a Python caller) gets the same checks — size as canonical JSON,
        depth, NaN/Infinity, NUL, lone surrogates, over-long integers — so that no store ever sees
        a value one of SQLite and PostgreSQL would keep and the other refuse.
        """
        bounds = {"max_depth": self.config.limit("max_json_depth"),
                  "max_int_digits": self.config.limit("max_json_int_digits")}
        if isinstance(document, dict):
            check_json_value(document, "request", max_bytes=self.config.limit("max_request_bytes"), **bounds)
            return document
        if not isinstance(document, str | os.PathLike):
            raise BadInput(f"a request is a dict or the path of a JSON file, not a {type(document).__name__}")
        path = Path(document)
        doc = load_json_file(path, "request", max_bytes=self.config.limit("max_request_bytes"), **bounds)
        if not isinstance(doc, dict):
            raise BadInput(f"{path}: a request must be a JSON object, not {type(doc).__name__}")
        return resolve_locations(doc, path.parent)

    def _record(self, doc: dict, request_id: str, revision: int, state: str, steps: dict, actor: Actor,
                at: datetime, created: tuple[str, Any]) -> dict[str, Any]:
        record = {k: v for k, v in doc.items() if k != "steps"}
        record.update(
            id=request_id, revision=revision, project=request_id.rsplit("-", 1)[0], review_state=state, steps=steps,
            schema=self.schemas.provenance("request"),
            created_by=created[0], created_date=_iso(created[1]),
            last_modified_by=actor.label, last_modified_date=_iso(at),
        )
        # The body was validated as a request just before; what docket adds is checked here.
        self.schemas.validate("record#/$defs/envelope", record, f"record {request_id}.{revision}")
        return record

    def _next_number(self, conn: Connection, project: str) -> int:
        if self._counter_upsert is None:  # built once: SQLAlchemy then reuses its compiled form
            c = tables.counters
            ins = (postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert)(c)
            self._counter_upsert = ins.values(last_number=1).on_conflict_do_update(
                index_elements=[c.c.project], set_={"last_number": c.c.last_number + 1}
            ).returning(c.c.last_number)
        return int(conn.execute(self._counter_upsert, {"project": project}).scalar_one())

    def _next_step_n(self, conn: Connection, request_id: str, step: str) -> int:
        p = tables.prov_bundles
        current = conn.execute(
            select(func.max(p.c.n)).where(p.c.request_id == request_id, p.c.step == step)
        ).scalar()
        return int(current or 0) + 1

    def _update_request(self, conn: Connection, row: Any, *, at: datetime, **values: Any) -> None:
        r = tables.requests
        result = conn.execute(
            update(r).where(r.c.id == row.id, r.c.version == row.version)
            .values(version=row.version + 1, last_modified_date=at, **values)
        )
        if result.rowcount != 1:
            raise Conflict(f"{row.id} was changed by someone else while this change was made; try again")

    def _write_revision(self, conn: Connection, record: dict, actor: Actor, at: datetime) -> str:
        """Insert the revision and its declared files; returns the content digest."""
        content_digest = record_digest(record)
        conn.execute(tables.revisions.insert(), {
            "request_id": record["id"], "revision": record["revision"], "document": record,
            "schema_id": record["schema"]["id"], "schema_version": record["schema"]["version"],
            "digest": content_digest, "created_by": actor.label, "created_date": at,
        })
        rows = [
            {"request_id": record["id"], "revision": record["revision"], "name": f["name"], "source": f["location"],
             "size": f.get("size"), "md5": f.get("md5"), "sha256": f.get("sha256"),
             "media_type": f.get("media_type"), "encoding": f.get("encoding"), "rows": f.get("rows"),
             "status": "declared", "updated_date": at}
            for f in record["files"]
        ]
        if rows:
            conn.execute(tables.files.insert(), rows)
        return content_digest

    def _history(self, conn: Connection, request_id: str, revision: int, kind: str, step: str | None,
                 old: str | None, new: str, outcome: str | None, actor: Actor, at: datetime,
                 comment: str | None, also: list[tuple] = ()) -> None:
        """Rows of status history; ``also`` adds more (kind, step, from, to, outcome, comment) rows
        by the same actor at the same time, in one statement."""
        rows = [(kind, step, old, new, outcome, comment), *also]
        conn.execute(tables.status_history.insert(), [
            {"request_id": request_id, "revision": revision, "kind": k, "step": st, "from_state": o,
             "to_state": n, "outcome": out, "actor": actor.label, "role": actor.role, "comment": c, "at": at}
            for k, st, o, n, out, c in rows
        ])

    def _audit(self, conn: Connection, actor: Actor, action: str, request_id: str | None, detail: dict,
               origin: str | None, at: datetime) -> None:
        conn.execute(tables.audit_log.insert(), {
            "at": at, "actor": actor.label, "role": actor.role, "action": action, "request_id": request_id,
            "origin": origin or _ORIGIN, "detail": detail,
        })

    def _agent_values(self, var: str, actor: Actor) -> dict[str, Any]:
        """A person's variables: the opaque identifier, name, e-mail and ORCID IRI (``xsd:anyURI``:
        an IRI ending in digits cannot be a PROV-XML identifier, so it is an attribute)."""
        orcid = ids.orcid_uri(actor.orcid)
        return {var: Id(actor.prov_id), f"{var}Name": actor.name, f"{var}Email": actor.email,
                f"{var}Orcid": Uri(orcid) if orcid else None}

    def _software_values(self) -> dict[str, Any]:
        return {"software": Id(ids.software_id()), "softwareVersion": __version__}

    def _submission_values(self, record: dict, previous: int | None, content_digest: str, *,
                           started: datetime, validated: datetime, from_state: str | None) -> dict[str, Any]:
        """The submission template's values. The review state the submission left the request in
        is the activity's (``toState``), not the revision entity's: an entity's attributes hold for
        its whole life, and the revision is later approved or rejected."""
        request_id, revision = record["id"], record["revision"]
        schema = record["schema"]
        provider = record["provider"]
        revision_id = ids.revision_id(request_id, revision)
        return {
            "activity": Id(ids.step_id(request_id, "request", revision)),
            "request": Id(revision_id),
            "previous": Id(ids.revision_id(request_id, previous)) if previous else None,
            "revision": revision,
            "title": self._title(record),
            "digest": content_digest,
            "digestChecksum": Id(ids.child(revision_id, "sha256")),
            "digestChecksumRef": Id(ids.child(revision_id, "sha256")),
            "fromState": from_state,
            "toState": record["review_state"],
            "validatedTime": validated,
            "schema": Id(ids.schema_id(schema["version"])),
            "schemaVersion": schema["version"],
            **self._agent_values("provider", Actor(provider["name"], "provider", provider.get("email"),
                                                   provider.get("orcid"))),
            **self._software_values(),
            "startTime": started,  # received, before validation
            "endTime": now(),  # the revision is written: just before the commit
        }

    def _record_prov(self, conn: Connection, request_id: str, step: str, template: str, values: dict[str, Any],
                     n: int | None = None) -> None:
        n = n or (values["revision"] if step == "request" else self._next_step_n(conn, request_id, step))
        expanded = self.recorder.expand(template, request_id, step, n, values)
        try:
            conn.execute(tables.prov_bundles.insert(), {
                "request_id": request_id, "step": step, "n": n, "bundle_id": expanded.bundle_id,
                "template": expanded.template, "template_digest": expanded.template_digest,
                "bundle": expanded.bundle, "bindings": expanded.bindings, "created_date": now(),
            })
        except IntegrityError as exc:
            raise Conflict(f"{request_id}: step {step} #{n} was recorded by someone else first; try again") from exc


def _warned(warnings: list[dict[str, str]]) -> dict[str, Any]:
    """``{"warnings": [...]}`` when there are any, so a clean result keeps its old shape."""
    return {"warnings": warnings} if warnings else {}


def _expect_revision(row: Any, expected: int | None) -> None:
    if expected is not None and row.revision != expected:
        raise Conflict(f"{row.id} is at revision {row.revision}, not {expected}: someone changed it first")


def resolve_locations(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative file locations in a request file are relative to that file (as in a Frictionless
    descriptor); store them as absolute ``file:`` URLs so they mean the same thing later."""
    files = doc.get("files")
    if not isinstance(files, list):
        return doc
    out = []
    for entry in files:
        loc = entry.get("location") if isinstance(entry, dict) else None
        if isinstance(loc, str) and loc and "://" not in loc and not loc.startswith("/") and ":" not in loc[:3]:
            entry = {**entry, "location": (folder / loc).resolve().as_uri()}
        out.append(entry)
    return {**doc, "files": out}


def record_digest(record: dict[str, Any]) -> str:
    """Digest of a revision's content (without the audit fields, which change on every write)."""
    skip = {"created_by", "created_date", "last_modified_by", "last_modified_date"}
    return digest({k: v for k, v in record.items() if k not in skip})


def _merge_in_time(revisions: list[dict[str, Any]], transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transitions in their own order, each revision placed before the first transition that
    is not earlier than it (the state changes its write made come after it)."""
    out: list[dict[str, Any]] = []
    pending = list(revisions)
    for row in transitions:
        while pending and _instant(pending[0]["at"]) <= _instant(row["at"]):
            out.append(pending.pop(0))
        out.append(row)
    return out + pending


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite gives back naive datetimes; they were stored as UTC
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value

