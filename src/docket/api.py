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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from docket import __version__, access
from docket.access import ANONYMOUS, Caller
from docket.canonical import digest
from docket.documents import check_json_value, check_text, load_json_file
from docket.drafts import check_complete, provider_key, provider_of, title_of, validate_draft
from docket.errors import BadInput, Conflict, NotFound, Refused
from docket.instance import Instance
from docket.people import accounts, links
from docket.people.actor import Actor
from docket.people.keyfiles import admin_key_path, default_key, write_key_file
from docket.provenance import identifiers as ids
from docket.provenance.recorder import Id, Recorder, Uri
from docket.steps.context import MAX_REVISION, StepContext, now, parse_ref
from docket.store import Store, tables
from docket.transfer.credentials import strip_passwords
from docket.uploads.locations import check_locations
from docket.validation import SchemaSet, record_only_fields
from docket.workflow import (
    STEPS,
    StepChange,
    acts_as,
    check_review_transition,
    check_step_change,
    initial_steps,
    step_filter,
)


def default_actor() -> str:
    """Who is acting when nobody says: ``$DOCKET_USER``, else the operating-system user."""
    try:
        return os.environ.get("DOCKET_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container
        return "unknown"


_ORIGIN = f"{socket.gethostname()} pid {os.getpid()}"


class Docket:
    """One instance of docket: its configuration, store, schemas and PROV templates, and who is
    calling (:attr:`caller`).

    The caller signs in with an API key (``key=``, else ``$DOCKET_API_KEY``, else the key file
    ``docket init`` wrote for the OS user who created the instance, when this OS user owns it and
    nobody else can read it), or comes with a provider's secret ``link=``; ``anonymous=True``
    (the public form page) uses neither. The role always comes from the account.
    """

    def __init__(self, instance: Instance, *, migrate: bool = True, key: str | None = None,
                 link: str | None = None, anonymous: bool = False, source: str | None = None) -> None:
        self.instance = instance
        self.config = instance.config
        self.store = Store(instance.store_url(), instance.config.store_schema)
        self.schemas = SchemaSet(instance.schemas_dir)
        self.recorder = Recorder(self.config.base_uri, instance.templates_dir)
        self._counter_upsert: Any = None
        # what docket adds to a shown record (and ``show --json`` its comment thread): never content
        self._record_only = record_only_fields(self.schemas) | {"comments"}
        self._source = source or _ORIGIN
        self._credentials = (key, link, anonymous)
        self._caller: Caller | None = None
        if migrate:
            self.upgrade_store()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Docket:
        return cls(Instance.find(path), **kwargs)

    @classmethod
    def init(cls, path: str | os.PathLike[str], *, admin: str | None = None, **kwargs: Any) -> Docket:
        """A new instance, its store, and its first account: an admin (named ``admin``, else the
        OS user) whose key is written to ``keys/admin.key``, readable only by the creating user."""
        instance = Instance.create(path, **kwargs)
        docket = cls(instance, migrate=False, anonymous=True)
        docket.store.upgrade()
        at = now()
        with docket.store.transaction() as conn:
            account, key = accounts.add(conn, admin or default_actor(), "admin", email=None, expires=None,
                                        created_by="docket init", at=at)
            docket._audit(conn, Actor.of_account(account), "user:add", None,
                          {"account": account.name, "role": "admin"}, None, at)
        write_key_file(admin_key_path(instance.root), key)
        docket._credentials = (key, None, False)
        return docket

    def upgrade_store(self) -> tuple[str | None, str | None]:
        """Bring the store to the newest migration; returns (before, after). A store from before
        accounts (migration 0004) gets the admin ``docket init`` would have made, with its key
        file, so the data manager who owns the instance is not locked out of it."""
        before = self.store.current()
        if before == self.store.head():  # the usual case: nothing to do, nothing to ask again
            return before, before
        self.store.upgrade()
        if before is None or before < "0004":
            self._ensure_admin()
        return before, self.store.current()

    def _ensure_admin(self) -> None:
        a = tables.accounts
        with self.store.connect() as conn:
            if conn.execute(select(func.count()).select_from(a)).scalar():
                return
        at = now()
        try:
            with self.store.transaction() as conn:
                if conn.execute(select(func.count()).select_from(a)).scalar():
                    return
                account, key = accounts.add(conn, default_actor(), "admin", email=None, expires=None,
                                            created_by="docket upgrade", at=at)
                self._audit(conn, Actor.of_account(account), "user:add", None,
                            {"account": account.name, "role": "admin", "why": "store upgraded to accounts"}, None, at)
        except IntegrityError:  # another process made it at the same moment
            return
        write_key_file(admin_key_path(self.instance.root), key)

    def as_key(self, key: str) -> Docket:
        """The same instance, store and schemas, called by the holder of ``key``."""
        return self._as((key, None, False))

    def as_link(self, link: str) -> Docket:
        """The same instance, called by a provider with their request's secret link."""
        return self._as((None, link, False))

    def anonymously(self) -> Docket:
        return self._as((None, None, True))

    def _as(self, credentials: tuple[str | None, str | None, bool]) -> Docket:
        other = copy.copy(self)
        other._credentials, other._caller = credentials, None
        return other

    @property
    def caller(self) -> Caller:
        """Who is calling, resolved (and the key or link checked) on first use."""
        if self._caller is None:
            self._caller = self._sign_in()
        return self._caller

    def _sign_in(self) -> Caller:
        key, link, anonymous = self._credentials
        if key is None and link is None and not anonymous:
            key = default_key(self.instance.root)
        if key is None and link is None:
            return Caller(source=self._source)
        with self.store.connect() as conn:
            delay = accounts.failure_delay(conn, self._source)
        accounts.slow_down(delay)  # repeated failures from this source wait, found or not
        at = now()
        try:
            with self.store.transaction() as conn:
                if key is not None:
                    return Caller(account=accounts.authenticate(conn, key, source=self._source, at=at),
                                  source=self._source)
                return Caller(link_request=links.resolve(conn, link, at=at), source=self._source)
        except Refused as exc:
            with self.store.transaction() as conn:
                accounts.note_failure(conn, self._source, at)
                self._audit(conn, Actor(ANONYMOUS, "provider"), "refused:sign-in", None,
                            {"rule": exc.rule, "with": "key" if key is not None else "link"}, None, at)
            raise

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

    def _readable_row(self, conn: Connection, request_id: str) -> Any:
        """The request's row, if the caller may see it (staff, or its provider)."""
        row = self._request_row(conn, request_id)
        with self._refusals_audited("read", request_id):
            access.check_read(self.caller, row)
        return row

    @contextmanager
    def _refusals_audited(self, action: str, request_id: str | None) -> Iterator[None]:
        """Every refusal is an audit row (who, what, which rule, from where), written in a
        transaction of its own since the refused operation's is rolled back. The caller is signed
        in first, outside any transaction of the operation (SQLite has one writer at a time)."""
        self.caller  # noqa: B018 - signs in; a wrong key is refused (and audited) once, here
        try:
            yield
        except Refused as exc:
            caller = self.caller if self._caller is not None else Caller(source=self._source)
            actor = (Actor.of_account(caller.account) if caller.account is not None
                     else Actor(caller.who, caller.role if caller.role != ANONYMOUS else "provider"))
            with self.store.transaction() as conn:
                self._audit(conn, actor, f"refused:{action}", request_id,
                            {"rule": exc.rule, "message": exc.message, "caller": caller.role}, None, now())
            raise

    def _rows_of(self, table: Any, ref: str) -> list[Any]:
        """All rows of ``table`` that belong to a request (which must exist), oldest first."""
        request_id, _ = parse_ref(ref)
        with self.store.connect() as conn:
            self._readable_row(conn, request_id)
            return conn.execute(select(table).where(table.c.request_id == request_id).order_by(table.c.id)).all()

    def get(self, ref: str, revision: int | None = None) -> dict[str, Any]:
        """The document of a request (its current revision, or the one asked for)."""
        request_id, rev = parse_ref(ref)
        rev = revision or rev
        if rev is not None and not 0 < rev <= MAX_REVISION:
            raise NotFound(f"request {request_id} has no revision {rev}")
        with self.store.connect() as conn:
            row = self._readable_row(conn, request_id)
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
        caller = self.caller
        with self._refusals_audited("list", None):
            access.check_signed_in(caller, "listing requests")
        if not caller.is_staff:  # a provider lists their own requests (by account or link)
            query = query.where(tables.requests.c.id == caller.link_request) if caller.account is None else query
        with self.store.connect() as conn:
            rows = conn.execute(query).all()
        if not caller.is_staff:
            rows = [r for r in rows if access.visible(caller, r)][:limit]
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
        # The conversation is part of the history: each comment a row (kind "comment").
        said = [{"at": _iso(c.created_date), "revision": c.revision, "kind": "comment", "step": None,
                 "from": None, "to": f"#{c.id}" + (f" on {c.field}" if c.field else "")
                 + (f" (reply to #{c.parent_id})" if c.parent_id else ""), "outcome": None,
                 "actor": c.author, "role": c.role, "comment": c.text}
                for c in self._rows_of(tables.comments, request_id)]
        transitions = sorted(transitions + said, key=lambda r: _instant(r["at"]))  # stable: ties keep order
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
        """The audit log (of one request, or all): staff only."""
        with self._refusals_audited("audit", request_id and parse_ref(request_id)[0]):
            if not self.caller.is_staff:
                access.check_signed_in(self.caller, "reading the audit log")
                raise access.refuse("staff-only", f"{self.caller.who} may not read the audit log")
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
            row = self._readable_row(conn, request_id)
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

    def export(self, ref: str, fmt: str) -> bytes:
        """The request's metadata in a standard format (iso19139, datacite, eml, schemaorg, dcat),
        validated before it is returned (see :mod:`docket.exporters`)."""
        from docket.exporters import export

        return export(self, ref, fmt)

    # -- writing -----------------------------------------------------------------------------

    def submit(
        self,
        document: dict[str, Any] | str | os.PathLike[str],
        *,
        origin: str | None = None,
        write: Callable[[Connection, str, int], None] | None = None,
        state: str = "submitted",
        place: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Store a new request (revision 1, review state ``submitted``) and its PROV.

        ``state="draft"`` stores it as a draft instead (e.g. a record brought in from another
        catalogue by ``docket import-metadata``, which its owner or a data manager checks and then
        submits); staff and providers alike may do so, since a draft decides nothing. A draft
        sends no "submitted" notification. No other state can be given: approval is a decision.

        Anyone may submit: a provider's account owns what it submits; staff (and the anonymous
        form page or e-mail) submit on behalf of the provider the request names, who owns it.
        Returns ``{"id", "revision", "digest"}``, plus ``"warnings"`` (``[{"field", "message"}]``)
        when a password was taken out of a URL, and for an anonymous submitter the provider's
        secret ``"link"`` (shown this once). Invalid input raises before anything is written.
        ``write(conn, id, revision)`` adds a caller's own rows to the same transaction.
        """
        received = now()  # the submission activity starts here, before loading and validation
        if state not in ("submitted", "draft"):
            raise BadInput(f"a new request starts as 'submitted' or 'draft', not {state!r}")
        # A password in a URL is taken out before anything (validation messages included) sees it.
        doc, warnings = strip_passwords(self._load(document))
        validated = now()
        if state == "draft":  # a draft may still lack fields; what it holds is checked (docket.drafts)
            validate_draft(self.schemas, doc, "request")
        else:
            self.schemas.validate("request", doc, "request")
        check_locations(doc, self.instance)  # never transferable: refused now, not after approval
        caller = self.caller
        actor = self._actor(doc)
        project = doc.get("project") or self.config.project
        steps = doc.get("steps") or initial_steps()
        if steps != initial_steps() and not caller.is_manager:
            # Steps are workflow state: only a data manager (e.g. migrating records from another
            # system) may bring a request in with steps already done.
            with self._refusals_audited("submit", None):
                raise access.refuse("staff-only", f"{caller.who} ({caller.role}) may not submit a request whose "
                                                  "steps are already set; leave out 'steps', docket sets them")
        at = now()
        link = None
        with self.store.transaction() as conn:
            number = self._next_number(conn, project)
            request_id = f"{project}-{number:04d}"
            if place is not None:  # e.g. uploaded files moved to inbox/<id>/ (docket.uploads.Placement)
                doc = place(doc, request_id)
            record = self._record(doc, request_id, 1, state, steps, actor, at, created=(actor.label, at))
            title = self._title(doc)
            conn.execute(tables.requests.insert(), {
                "id": request_id, "project": project, "number": number, "revision": 1,
                "review_state": state, "title": title, "provider": provider_key(doc),
                "steps": steps, "version": 1, "created_date": at, "last_modified_date": at,
                # an anonymous draft that names nobody yet is owned by its link alone
                "owner": (caller.owner_value(provider_of(doc)) if provider_key(doc)
                          or (caller.account is not None and caller.account.role == "provider") else None),
                "submitted_by": caller.account.person_id if caller.account is not None else None,
            })
            if caller.account is None:  # the page or a provider by e-mail: their way back in
                link = links.mint(conn, request_id, at=at, days=links.link_days(self.config))
            content_digest = self._write_revision(conn, record, actor, at)
            self._history(conn, request_id, 1, "review", None, "draft" if state == "submitted" else None, state, None,
                          actor, at, state, also=[("step", "request", "open", "closed", "done", None)])
            self._audit(conn, actor, "submit", request_id, {"revision": 1, "digest": content_digest}, origin, at)
            self._record_prov(conn, request_id, "request", "submission",
                              self._submission_values(record, None, content_digest, started=received,
                                                      validated=validated, from_state=None))
            if write is not None:
                write(conn, request_id, 1)
            if state == "submitted":
                self._notify(conn, "submitted", request_id, 1, record, at)
        if link is not None and self._caller is not None and self._caller.account is None:
            self._caller = Caller(link_request=request_id, source=self._source)  # may read what it sent
        return {"id": request_id, "revision": 1, "digest": content_digest, **_warned(warnings),
                **({"link": link, "link_url": links.url(self.config, link)} if link else {})}

    def revise(
        self,
        request_id: str,
        document: dict[str, Any] | str | os.PathLike[str],
        *,
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
        if minor:  # an approved record stays approved: it must stay complete
            self.schemas.validate("request", doc, "request")
        else:  # the new revision is a draft, which may still lack fields (docket.drafts)
            validate_draft(self.schemas, doc, "request")
        check_locations(doc, self.instance)  # never transferable: refused now, not after approval
        actor = self._actor(doc)
        at = now()
        with self._refusals_audited("revise", request_id), self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            access.check_edit(self.caller, row)
            if minor and row.review_state == "approved" and not self.caller.is_manager:
                raise access.refuse("minor-by-staff", f"{self.caller.who} may not declare a minor edit: an "
                                                      "approved record stays approved only for a data manager")
            _expect_revision(row, expected_revision, self._last_writer(conn, row))
            if row.review_state == "retired":
                raise Refused(f"{request_id} is retired and cannot be edited (rule retired-final)",
                              rule="retired-final")
            state = row.review_state if (minor and row.review_state == "approved") else "draft"
            revision = row.revision + 1
            created = conn.execute(select(tables.revisions.c.document).where(
                tables.revisions.c.request_id == request_id, tables.revisions.c.revision == row.revision)).scalar_one()
            steps, reopened = (row.steps, []) if state != "draft" else _reopened(row.steps)
            record = self._record(doc, request_id, revision, state, steps, actor, at,
                                  created=(created["created_by"], created["created_date"]))
            named = {"provider": provider_key(doc)} if not row.provider and provider_key(doc) else {}
            if row.owner is None and named:  # a draft begun without naming its provider
                named["owner"] = self.caller.owner_value(provider_of(doc))
            self._update_request(conn, row, revision=revision, review_state=state,
                                 title=self._title(doc), **named,
                                 steps=record["steps"], at=at)
            content_digest = self._write_revision(conn, record, actor, at)
            if state != row.review_state:
                self._history(conn, request_id, revision, "review", None, row.review_state, state, None, actor, at,
                              "new revision", also=[("step", step, old, "open", None, "new revision")
                                                    for step, old in reopened])
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
        comment: str | None = None,
        fields: list[str] | None = None,
        expected_revision: int | None = None,
        origin: str | None = None,
        accept_licence: bool = False,
    ) -> dict[str, Any]:
        """Move the review state, as the caller's role allows.

        Decisions (``approved``, ``rejected``, ``request-changes``) are staff's, never on a request
        the caller owns or submitted; ``request-changes`` sends a submitted request back to draft
        with the comment, attached to the ``fields`` (JSON paths) it names. Its provider (or a data
        manager) submits a draft, withdraws, and reopens a rejected request; a data manager
        retires. ``ID.N`` (or ``expected_revision``) decides on revision N only: if the request
        moved on, or someone decided first, it is a conflict (exit 4) naming who.

        licence-accepted: a revision whose licence is not on the SPDX list (free text) is approved
        only with ``accept_licence`` -- the reviewer accepts that licence, and the acceptance is part
        of the approval (a history row ``licence``/``accepted``, the audit detail and the decision's
        ``dkt:acceptedLicence`` in PROV).
        """
        started = now()  # the review activity starts with the reviewer's call
        request_id, rev = parse_ref(request_id)
        if accept_licence and to_state != "approved":
            raise BadInput(f"--accept-licence accepts a licence when approving, not when moving to {to_state!r}")
        expected_revision = expected_revision or rev
        if comment is not None:
            check_text(comment, "the comment")
        for path in fields or ():
            check_text(path, "--field")
        changes = to_state == "request-changes"
        at = now()
        with self._refusals_audited("review", request_id), self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            read = now()  # when the revision under review was read (the usage)
            caller = self.caller
            access.check_signed_in(caller, f"moving {row.id}")
            target = "draft" if changes else to_state
            deciding = changes or target in ("approved", "rejected")
            if deciding:
                access.check_decision(caller, row, to_state)
                if not caller.is_staff:
                    raise access.refuse("review-roles", f"{caller.who} ({caller.role}) may not decide on "
                                                        f"{row.id}: decisions are a reviewer's or a data manager's")
                self._check_undecided(conn, row, expected_revision)
            elif target == "retired":
                access.check_staff(caller, f"retire {row.id}")
            else:
                access.check_provider_move(caller, row, target)
            _expect_revision(row, expected_revision, self._last_writer(conn, row))
            role = "provider" if caller.link_request == row.id else caller.role
            check_review_transition(row.review_state, target, role)
            if target == "submitted":  # the review queue holds complete requests only
                stored = conn.execute(select(tables.revisions.c.document).where(
                    tables.revisions.c.request_id == row.id, tables.revisions.c.revision == row.revision)).scalar_one()
                check_complete(self.schemas, {k: v for k, v in stored.items() if k not in self._record_only}, row.id)
            accepted = self._licence_accepted(conn, row, accept_licence) if target == "approved" else None
            if (target == "rejected" or deciding and target == "draft") and not comment:
                raise BadInput(f"{'a rejection' if target == 'rejected' else 'a request for changes'} needs a "
                               "comment (-m) that tells the provider what to change")
            if fields and not comment:
                raise BadInput("--field attaches the comment to a field: give the comment with -m")
            actor = self._actor(None, row)
            label = "request-changes" if deciding and target == "draft" else target
            self._history(conn, request_id, row.revision, "review", None, row.review_state, target, None, actor, at,
                          comment, also=[("licence", None, None, "accepted", None, accepted)] if accepted else [])
            steps = copy.deepcopy(row.steps)
            step_outcome = {"approved": ("closed", "accepted"), "rejected": ("action-required", None)}.get(target)
            if label == "request-changes":
                step_outcome = ("action-required", None)
            if target == "submitted" and steps.get("review", {}).get("status") != "open":
                step_outcome = ("open", None)  # resubmitted: the review waits again
            if step_outcome:
                old = steps["review"]["status"]
                steps["review"] = {"status": step_outcome[0], **({"outcome": step_outcome[1]} if step_outcome[1] else {})}
                if comment:
                    steps["review"]["comment"] = comment
                self._history(conn, request_id, row.revision, "step", "review", old, step_outcome[0],
                              step_outcome[1], actor, at, comment)
            self._update_request(conn, row, review_state=target, steps=steps, at=at)
            self._audit(conn, actor, "review", request_id, {"from": row.review_state, "to": target,
                                                           **({"action": label} if label != target else {}),
                                                           **({"licence_accepted": accepted} if accepted else {})},
                        origin, at)
            if comment and deciding:  # the reviewer's words start (or join) the conversation
                for path in fields or [None]:
                    self._add_comment(conn, request_id, row.revision, comment, path, None, actor, at)
            n = self._next_step_n(conn, request_id, "review")
            self._record_prov(conn, request_id, "review", "review", {
                "activity": Id(ids.step_id(request_id, "review", n)),
                "request": Id(ids.revision_id(request_id, row.revision)),
                "revision": row.revision,
                "decision": Id(ids.step_node(request_id, "review", n, "decision")),
                # the state is the decision's (a revision entity keeps its attributes for ever)
                "fromState": row.review_state, "toState": target, "comment": comment,
                "acceptedLicence": accepted,  # a licence not on the SPDX list, accepted by this approval
                # the review step, when this decision moved it (approval closes it)
                "stepStatus": step_outcome[0] if step_outcome else None,
                "outcome": step_outcome[1] if step_outcome else None,
                **self._agent_values("reviewer", actor), **self._software_values(),
                "startTime": started, "usedTime": read, "endTime": now(),  # end: just before the commit
            }, n=n)
            event = {"approved": "approved", "rejected": "rejected", "request-changes": "changes-requested",
                     "submitted": "submitted"}.get(label)
            if event:
                self._notify(conn, event, request_id, row.revision, None, at, comment=comment, fields=fields)
        return {"id": request_id, "revision": row.revision, "review_state": target,
                **({"action": label} if label != target else {})}

    def _licence_accepted(self, conn: Connection, row: Any, accept: bool) -> str | None:
        """licence-accepted: the licence of the revision being approved, when it is not on the SPDX
        list and the reviewer accepts it (None for an SPDX licence, or none); refused otherwise."""
        from docket.vocabularies import spdx

        stored = conn.execute(select(tables.revisions.c.document).where(
            tables.revisions.c.request_id == row.id, tables.revisions.c.revision == row.revision)).scalar_one()
        admin = (stored.get("metadata") or {}).get("dataset_administrative") or {}
        licence = admin.get("licence")
        if not isinstance(licence, str) or not licence.strip() or spdx.is_spdx(licence):
            return None
        if not accept:
            shown = licence if len(licence) <= 80 else licence[:80] + "…"
            raise access.refuse("licence-accepted", f"{row.id}.{row.revision} has the licence {shown!r}, which is "
                                                    "not on the SPDX licence list: approve it with --accept-licence "
                                                    "if you accept that licence, or ask the provider for an SPDX one")
        return licence

    def _check_undecided(self, conn: Connection, row: Any, expected_revision: int | None) -> None:
        """decided-once: a decision on a revision someone already decided is a conflict naming them."""
        if row.review_state not in ("approved", "rejected"):
            return
        h = tables.status_history
        last = conn.execute(select(h.c.actor, h.c.at, h.c.to_state).where(
            h.c.request_id == row.id, h.c.kind == "review").order_by(h.c.id.desc()).limit(1)).first()
        who = f" by {last.actor} at {_iso(last.at)}" if last is not None else ""
        raise Conflict(f"{row.id}.{row.revision} was already {row.review_state}{who}; "
                       "nothing was changed (rule decided-once)")

    def _last_writer(self, conn: Connection, row: Any) -> str | None:
        """Who wrote the request's current revision, for a conflict message."""
        v = tables.revisions
        return conn.execute(select(v.c.created_by).where(v.c.request_id == row.id,
                                                         v.c.revision == row.revision)).scalar()

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
        to the same transaction. Returns the step instance id. ``actor`` is for the steps
        (:mod:`docket.steps`), which were authorised when they started and may run in a worker on
        the signed-in person's behalf; without it the caller must be a data manager.
        """
        request_id, _ = parse_ref(request_id)
        if actor is None:  # a person changing a step by hand: a data manager, as signed in
            with self._refusals_audited(f"step:{step}", request_id):
                access.check_staff(self.caller, f"change the {step} step")
            actor = self._actor(None)
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

    def transfer(self, request_id: str, *, progress: bool = False) -> dict[str, Any]:
        """Fetch the request's files into the instance (see :mod:`docket.steps.transfer`), as the
        signed-in data manager."""
        from docket.steps.transfer import run_transfer

        return run_transfer(StepContext(self, self.staff_actor("transfer", request_id)), request_id, progress=progress)

    def qa(self, request_id: str, *, checks: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
        """Run the QA notebook on the request's stored files and record it (see :mod:`docket.steps.qa`)."""
        from docket.steps.qa import run_qa

        # The notebook's kernel signs in as the person running QA, with the key they used.
        key = self._credentials[0] if isinstance(self._credentials[0], str) else None
        return run_qa(StepContext(self, self.staff_actor("qa", request_id), key), request_id, checks=checks,
                      progress=progress)

    def publish(self, ref: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Publish the request's current revision as its next version (see
        :mod:`docket.steps.publication`): validated exports in ``published/<id>/<rev>/``, the
        identifier (a DOI registered by a ``doi`` job, or the instance's own URL), the
        publications row, history, PROV, the search index and the ``published`` mails. A data
        manager's work; refused (exit 3, audited) unless approved with transfer and QA done.
        ``dry_run`` checks and builds everything and says what would happen, changing nothing."""
        from docket.steps.publication import run_publication

        request_id, _ = parse_ref(ref)
        actor = self.staff_actor("publication", request_id)
        with self._refusals_audited("publish", request_id):
            return run_publication(StepContext(self, actor), ref, dry_run=dry_run)

    def archive(self, ref: str) -> dict[str, Any]:
        """Archive the request's published current revision as a BagIt bag with an RO-Crate (see
        :mod:`docket.steps.archive`) at ``[archive] location``, and record it (archives row,
        history, audit, PROV). A data manager's work; refused (exit 3, audited) unless published
        and not archived yet."""
        from docket.steps.archive import run_archive

        request_id, _ = parse_ref(ref)
        actor = self.staff_actor("archive", request_id)
        with self._refusals_audited("archive", request_id):
            return run_archive(StepContext(self, actor), ref)

    def verify_archive(self, ref: str | None = None) -> dict[str, Any]:
        """Re-check the fixity of the request's bags (``ID`` or ``ID.REV``), or of every archive
        of the instance when ``ref`` is None (a scheduled job's work); each check is recorded
        (``verified_date``/``verified_ok``, an audit row). The summary names every file that
        changed, went missing or appeared; callers decide what a failure means (the CLI: exit 1)."""
        from docket.steps.archive import verify_archives

        request_id = parse_ref(ref)[0] if ref is not None else None
        actor = self.staff_actor("archive verification", request_id)
        return verify_archives(StepContext(self, actor), ref)

    def publications(self, ref: str) -> list[dict[str, Any]]:
        """Every published version of a request, oldest first: version, revision, identifier
        (DOI or URL), status (``pending`` while a DOI waits for DataCite, ``findable``), exports."""
        return [
            {"id": r.request_id, "revision": r.revision, "version": r.version, "identifier": r.identifier,
             "identifier_type": r.identifier_type, "status": r.status, "exports": r.exports,
             "published_by": r.published_by, "published_date": _iso(r.published_date),
             "updated_date": _iso(r.updated_date)}
            for r in sorted(self._rows_of(tables.publications, ref), key=lambda r: r.version)
        ]

    def staff_actor(self, what: str, request_id: str | None = None) -> Actor:
        """The signed-in data manager who starts a step (refused, and audited, for anyone else)."""
        with self._refusals_audited(f"step:{what}", request_id and parse_ref(request_id)[0]):
            access.check_staff(self.caller, f"run {what}")
        return self._actor(None)

    # -- conversation ------------------------------------------------------------------------

    def comment(self, ref: str, text: str, *, field: str | None = None, reply_to: int | None = None,
                origin: str | None = None) -> dict[str, Any]:
        """A comment on a request (on revision N with ``ID.N``), about a ``field`` (JSON path) or a
        reply to comment ``reply_to``: from staff or the request's provider. Part of its history."""
        request_id, rev = parse_ref(ref)
        check_text(text, "the comment")
        if not text.strip():
            raise BadInput("a comment needs some text")
        if field is not None:
            check_text(field, "--field")
        at = now()
        with self._refusals_audited("comment", request_id), self.store.transaction() as conn:
            row = self._request_row(conn, request_id)
            access.check_comment(self.caller, row)
            if rev is not None and not 0 < rev <= row.revision:
                raise NotFound(f"request {request_id} has no revision {rev}")
            if reply_to is not None:
                c = tables.comments
                parent = conn.execute(select(c.c.request_id, c.c.field).where(c.c.id == reply_to)).first()
                if parent is None or parent.request_id != request_id:
                    raise NotFound(f"{request_id} has no comment {reply_to} (docket show {request_id} lists them)")
                field = field or parent.field
            actor = self._actor(None, row)
            comment_id = self._add_comment(conn, request_id, rev or row.revision, text, field, reply_to, actor, at)
            self._audit(conn, actor, "comment", request_id, {"comment": comment_id, "reply_to": reply_to}, origin, at)
            if reply_to is None and self.caller.is_staff:
                self._notify(conn, "commented", request_id, row.revision, None, at, comment=text,
                             fields=[field] if field else None)
        return {"id": request_id, "comment": comment_id, "revision": rev or row.revision}

    def comments(self, ref: str) -> list[dict[str, Any]]:
        """A request's comments, oldest first, each with its replies' ids (``parent`` for a reply)."""
        rows = self._rows_of(tables.comments, ref)
        return [{"id": r.id, "revision": r.revision, "parent": r.parent_id, "field": r.field, "text": r.text,
                 "author": r.author, "role": r.role, "at": _iso(r.created_date)} for r in rows]

    def _add_comment(self, conn: Connection, request_id: str, revision: int, text: str, field: str | None,
                     parent: int | None, actor: Actor, at: datetime) -> int:
        c = tables.comments
        return int(conn.execute(c.insert().returning(c.c.id), {
            "request_id": request_id, "revision": revision, "parent_id": parent, "field": field, "text": text,
            "author": actor.label, "role": actor.role, "person_id": str(actor.prov_id), "created_date": at,
        }).scalar_one())

    # -- people ------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, *, email: str | None = None, orcid: str | None = None,
                 expires: str | datetime | None = None) -> dict[str, Any]:
        """A new account (admin only); the result holds its API key, shown this once."""
        at = now()
        with self._refusals_audited("user:add", None):
            access.check_admin(self.caller, "add accounts")
        when = accounts.parse_expiry(expires, at)
        with self.store.transaction() as conn:
            account, key = accounts.add(conn, name, role, email=email, orcid=orcid, expires=when,
                                        created_by=self.caller.who, at=at)
            self._audit(conn, self._actor(None), "user:add", None, {"account": name, "role": role}, None, at)
        return {**account.as_dict(), "key": key}

    def users(self) -> list[dict[str, Any]]:
        with self._refusals_audited("user:list", None):
            access.check_admin(self.caller, "list accounts")
        with self.store.connect() as conn:
            return accounts.listing(conn)

    def set_user_status(self, name: str, enabled: bool) -> dict[str, Any]:
        """Disable (every key stops working at once) or enable an account; admin only."""
        at = now()
        with self._refusals_audited("user:status", None):
            access.check_admin(self.caller, "disable or enable accounts")
            if not enabled and self.caller.account is not None and self.caller.account.name == name:
                raise access.refuse("admin-only", "an admin may not disable their own account")
        with self.store.transaction() as conn:
            account = accounts.set_status(conn, name, "active" if enabled else "disabled")
            self._audit(conn, self._actor(None), "user:enable" if enabled else "user:disable", None,
                        {"account": name}, None, at)
        return account.as_dict()

    def new_key(self, name: str | None = None, *, expires: str | datetime | None = None) -> dict[str, Any]:
        """A new key for the caller's own account (or, for an admin, anyone's); shown this once."""
        at = now()
        caller = self.caller
        with self._refusals_audited("key:new", None):
            access.check_signed_in(caller, "making a key")
            if caller.account is None:
                raise access.refuse("signed-in", "a provider's link cannot make keys")
            if name is not None and name != caller.account.name:
                access.check_admin(caller, "make keys for other accounts")
        when = accounts.parse_expiry(expires, at)
        with self.store.transaction() as conn:
            account = accounts.by_name(conn, name or caller.account.name)
            key = accounts.new_key(conn, account, expires=when, at=at)
            self._audit(conn, self._actor(None), "key:new", None, {"account": account.name,
                                                                    "key": key.rsplit("_", 1)[0] + "_…"}, None, at)
        return {"account": account.name, "key": key, "expires": when.isoformat() if when else None}

    def revoke_key(self, prefix: str) -> dict[str, Any]:
        """Revoke a key by its prefix: the caller's own, or (admin) anyone's; at once."""
        at = now()
        caller = self.caller
        with self._refusals_audited("key:revoke", None):
            access.check_signed_in(caller, "revoking a key")
        with self._refusals_audited("key:revoke", None), self.store.transaction() as conn:
            k = tables.api_keys
            owner = conn.execute(select(k.c.account_id).where(
                k.c.prefix == prefix.removeprefix("dk_").split("_", 1)[0].rstrip("…"))).scalar()
            if caller.account is None or owner != caller.account.id:
                access.check_admin(caller, "revoke other people's keys")
            result = accounts.revoke_key(conn, prefix, at)
            self._audit(conn, self._actor(None), "key:revoke", None, result, None, at)
        return result

    def new_link(self, ref: str) -> dict[str, Any]:
        """A new secret link for a request's provider (data managers; e.g. a lost mail)."""
        request_id, _ = parse_ref(ref)
        at = now()
        with self._refusals_audited("link:new", request_id), self.store.transaction() as conn:
            self._request_row(conn, request_id)
            access.check_staff(self.caller, "make links")
            secret = links.mint(conn, request_id, at=at, days=links.link_days(self.config))
            self._audit(conn, self._actor(None), "link:new", request_id, {}, None, at)
        return {"id": request_id, "link": secret, "link_url": links.url(self.config, secret)}

    def revoke_links(self, ref: str) -> dict[str, Any]:
        request_id, _ = parse_ref(ref)
        at = now()
        with self._refusals_audited("link:revoke", request_id), self.store.transaction() as conn:
            self._request_row(conn, request_id)
            access.check_staff(self.caller, "revoke links")
            count = links.revoke(conn, request_id, at=at)
            self._audit(conn, self._actor(None), "link:revoke", request_id, {"revoked": count}, None, at)
        return {"id": request_id, "revoked": count}

    def doctor(self, *, fix: bool = False, **options: Any) -> Any:
        """Check the instance and, with ``fix``, repair what is safe (see :mod:`docket.doctor`).

        Open the instance with ``migrate=False`` to see an old store as it is: opening migrates it.
        """
        from docket.doctor import run

        return run(self, fix=fix, **options)

    # -- internals --------------------------------------------------------------------------

    def _actor(self, doc: dict[str, Any] | None, row: Any = None) -> Actor:
        """The caller as history and PROV name them: the account's person; for a provider's link
        or an anonymous submission, the provider the request names."""
        caller = self.caller
        if caller.account is not None:
            return Actor.of_account(caller.account)
        if doc is None and row is not None:
            doc = self._current_document(row)
        if doc is None or not provider_of(doc).get("name"):  # (a draft that names nobody yet)
            return Actor(caller.who, "provider")
        return Actor.provider_of(doc)

    def _current_document(self, row: Any) -> dict[str, Any] | None:
        with self.store.connect() as conn:
            return conn.execute(select(tables.revisions.c.document).where(
                tables.revisions.c.request_id == row.id, tables.revisions.c.revision == row.revision)).scalar()

    def _notify(self, conn: Connection, event: str, request_id: str, revision: int, record: dict | None,
                at: datetime, *, comment: str | None = None, fields: list[str] | None = None,
                attachments: list[str] | None = None) -> None:
        """Queue the mails an event sends, in the event's own transaction (see :mod:`docket.notify`)."""
        from docket.notify import queue_event

        if record is None:
            record = conn.execute(select(tables.revisions.c.document).where(
                tables.revisions.c.request_id == request_id, tables.revisions.c.revision == revision)).scalar()
        provider = record.get("provider", {}) if isinstance(record, dict) else {}
        queue_event(conn, self.config, event, request_id=request_id, revision=revision,
                    title=self._title(record), provider_email=provider.get("email"),
                    provider_name=provider.get("name"), language=record.get("language") or self.config.languages[0],
                    comment=comment, fields=fields, at=at, attachments=attachments)

    def _title(self, doc: dict[str, Any]) -> str:
        return title_of(doc, self.config.languages)  # "" for a draft without a title yet

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
            # a draft's files may still be half described: only those with a name and a location
            for f in record.get("files", []) if isinstance(f, dict) and f.get("name") and f.get("location")
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
                f"{var}Orcid": Uri(orcid) if orcid else None,
                # prov:hadRole of the association: the workflow role the person acted in
                f"{var}Role": Id(f"{ids.VOCAB_PREFIX}:{acts_as(actor.role)}")}

    def _software_values(self) -> dict[str, Any]:
        return {"software": Id(ids.software_id()), "softwareVersion": __version__}

    def _submission_values(self, record: dict, previous: int | None, content_digest: str, *,
                           started: datetime, validated: datetime, from_state: str | None) -> dict[str, Any]:
        """The submission template's values. The review state the submission left the request in
        is the activity's (``toState``), not the revision entity's: an entity's attributes hold for
        its whole life, and the revision is later approved or rejected."""
        request_id, revision = record["id"], record["revision"]
        schema = record["schema"]
        provider = provider_of(record)  # a draft may name nobody yet: "provider not yet named"
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
            **self._agent_values("provider", Actor(provider.get("name") or provider.get("email") or "provider not yet named",
                                                   "provider", provider.get("email"), provider.get("orcid"))),
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


def _reopened(steps: dict[str, dict]) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """The steps of a new revision in draft: review, transfer, QA, publication and archive open
    again (its files and metadata may differ, so what was checked of the last one does not hold
    for it; an earlier publication stays published), except a step running right now. Returns
    the steps and the (step, old status) pairs that changed."""
    out = copy.deepcopy(steps)
    changed = []
    for step, state in steps.items():
        if step == "request" or state.get("status") in ("open", "in-progress"):
            continue
        out[step] = {"status": "open"}
        changed.append((step, state.get("status", "open")))
    return out, changed


def _warned(warnings: list[dict[str, str]]) -> dict[str, Any]:
    """``{"warnings": [...]}`` when there are any, so a clean result keeps its old shape."""
    return {"warnings": warnings} if warnings else {}


def _expect_revision(row: Any, expected: int | None, writer: str | None = None) -> None:
    if expected is not None and row.revision != expected:
        by = f" ({writer} wrote revision {row.revision})" if writer else ""
        raise Conflict(f"{row.id} is at revision {row.revision}, not {expected}: someone changed it first{by}")


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

