"""``docket doctor``: check an instance, and repair what is safe to repair.

An instance is a store and a folder of files that must agree: every revision's digest matches its
document, every step in the history has its PROV bundle, every stored file is where the resource
registry says with the bytes transfer measured, and nothing lies in ``files/`` that the store does
not know. Crashes, disks and people break that agreement in a few known ways; each way is one
named check here (a small registry, like :mod:`docket.checks.registry`), yielding
:class:`Finding` objects: a severity, where, what, and, when a repair is safe, the repair itself.

What ``--fix`` repairs, and why only that:

* the store's migrations are applied (what opening the instance would do anyway);
* leftovers of unfinished transfers (``files/**/.docket-*``, the transfer layer's contract) are
  cleared by the transfer step's own sweep (:func:`docket.steps.transfer.sweep_leftovers`),
  which keeps what a live transfer holds (its lock) and finishes, rather than deletes, a staging
  folder whose attempt was already recorded;
* registry rows whose file vanished are marked ``missing`` (QA and ``docket show`` then say so
  instead of trusting a file that is not there); a ``missing`` row whose file came back with the
  measured bytes is marked ``stored`` again; a row whose file is not at its recorded location but
  at the instance's own place for it, with the measured bytes (the instance folder moved), gets
  its location updated;
* orphans in ``files/`` (no request, revision or registry row explains them) are never deleted:
  empty folders are removed, anything with bytes in it is *moved* to
  ``files/.docket-orphans/<UTC time>/`` (same file system, so an atomic rename however large; a
  person decides later). It is inside ``files/`` rather than beside it because ``files/`` is often
  a volume of its own and a copy across volumes could fill the smaller one; the transfer sweep
  keeps ``.docket-`` names it does not make, so it never touches the quarantine. Orphans changed
  in the last :data:`GRACE_SECONDS` are left alone (someone may be copying them in right now)
  unless ``--force``;
* nothing else. A store with no tables beside a ``files/`` that holds requests' files is not
  upgraded (that would start an empty instance over the real one's files), and a missing SQLite
  file is not recreated.

Content that disagrees with its digest, its PROV or its registry row is reported, never "fixed":
the store is the record, and rewriting a digest would hide tampering as well as repair a fault.
Every repair is one row of the audit log (action ``doctor:<check>``), so it is known who repaired
what, when and from where.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from docket.errors import BadInput, DocketError
from docket.store import tables

if TYPE_CHECKING:  # pragma: no cover
    from docket.api import Actor, Docket

SEVERITIES = ("error", "warn", "info")
#: Prefix of every leftover of an unfinished transfer under ``files/`` (the transfer contract).
LEFTOVER_PREFIX = ".docket-"
#: Where orphans are moved, inside ``files/`` (never a leftover itself).
QUARANTINE = ".docket-orphans"
#: Orphans changed more recently than this (seconds) may be being copied in: left alone.
GRACE_SECONDS = 3600.0
_CHUNK = 1 << 20


@dataclass
class Finding:
    """One thing doctor found: how bad, where, what, and what ``--fix`` does (or did) about it."""

    check: str
    severity: str
    where: str
    what: str
    request_id: str | None = None
    #: What ``--fix`` would do, in words; ``None`` when nothing is safe to do automatically.
    fix: str | None = None
    #: After ``--fix``: what was done (or why the repair failed, in ``fix_error``).
    repaired: str | None = None
    fix_error: str | None = None
    repair: Callable[[Context], dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    @property
    def fixable(self) -> bool:
        return self.repair is not None

    @property
    def open(self) -> bool:
        """Still a problem: an error or warning that was not repaired."""
        return self.severity in ("error", "warn") and self.repaired is None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "where": self.where, "what": self.what,
                "request_id": self.request_id, "fixable": self.fixable, "fix": self.fix,
                "repaired": self.repaired, "fix_error": self.fix_error}


@dataclass
class Report:
    """The findings of one run, in check order."""

    findings: list[Finding]
    fixed: bool

    @property
    def healthy(self) -> bool:
        return not any(f.open for f in self.findings)

    def as_list(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.findings]


@dataclass(frozen=True)
class DoctorCheck:
    """A named check: ``run(context)`` yields findings; ``title`` says what it looks at."""

    id: str
    title: str
    run: Callable[[Context], Iterable[Finding]]


_CHECKS: dict[str, DoctorCheck] = {}


def check(check_id: str, title: str) -> Callable[[Callable[[Context], Iterable[Finding]]], Callable]:
    """Register a check function under ``check_id`` (ids are unique); run order is registration order."""

    def add(func: Callable[[Context], Iterable[Finding]]) -> Callable:
        if check_id in _CHECKS:
            raise BadInput(f"doctor check {check_id!r} is already registered")
        _CHECKS[check_id] = DoctorCheck(check_id, title, func)
        return func

    return add


def all_checks() -> list[DoctorCheck]:
    return list(_CHECKS.values())


@dataclass
class Context:
    """What a check needs: the instance, the options of this run, and the store read once."""

    docket: Docket
    actor: Actor
    quick: bool = False
    force: bool = False
    progress: bool = False
    grace: float = GRACE_SECONDS
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _requests: dict[str, Any] | None = None
    _revisions: dict[str, set[int]] | None = None

    @property
    def files_dir(self) -> Path:
        return self.docket.instance.files_dir

    def requests(self) -> dict[str, Any]:
        """Every request row by id (read again after a repair changed the store)."""
        if self._requests is None:
            with self.docket.store.connect() as conn:
                self._requests = {r.id: r for r in conn.execute(select(tables.requests)).all()}
        return self._requests

    def revisions(self) -> dict[str, set[int]]:
        """The revision numbers each request has."""
        if self._revisions is None:
            r = tables.revisions
            out: dict[str, set[int]] = defaultdict(set)
            with self.docket.store.connect() as conn:
                for request_id, rev in conn.execute(select(r.c.request_id, r.c.revision)):
                    out[request_id].add(rev)
            self._revisions = dict(out)
        return self._revisions

    def audit(self, check_id: str, request_id: str | None, detail: dict[str, Any],
              write: Callable[[Any], None] | None = None) -> None:
        """Record a repair in the audit log, with the store change ``write(conn)`` if any, in one
        transaction: the log never claims a repair the store does not show, nor the reverse."""
        from docket.api import now

        with self.docket.store.transaction() as conn:
            if write is not None:
                write(conn)
            self.docket._audit(conn, self.actor, f"doctor:{check_id}", request_id, detail, None, now())

    def transfer_running(self, request_id: str | None) -> bool:
        row = self.requests().get(request_id) if request_id else None
        return bool(row and (row.steps or {}).get("transfer", {}).get("status") == "in-progress")

    def age(self, path: Path) -> float:
        """Seconds since anything in ``path`` (a file, or a folder and all inside it) changed."""
        return self.started.timestamp() - _newest_mtime(path)

    def rel(self, path: Path) -> str:
        """A path as a person reads it: relative to the instance folder when inside it."""
        try:
            return str(path.relative_to(self.docket.instance.root))
        except ValueError:
            return str(path)

    def quarantine(self, path: Path) -> Path:
        """Where an orphan at ``path`` goes: the same place under ``.docket-orphans/<time>/``."""
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        return self.files_dir / QUARANTINE / stamp / path.relative_to(self.files_dir)


# --------------------------------------------------------------------------------- running


def _acting(docket: Docket, fix: bool) -> Actor:
    """Who runs the doctor: the signed-in account; ``--fix`` needs a data manager. A store from
    before accounts existed (migration 0004) has nobody to sign in as: there the OS user who can
    open it acts, as a data manager, and the repair that migrates it brings the accounts."""
    from docket.api import Actor, default_actor

    try:
        current = docket.store.current()
    except (DocketError, SQLAlchemyError):
        current = None
    if current is None or current < "0004":
        return Actor(default_actor(), "data-manager")
    if fix:
        return docket.staff_actor("doctor --fix")
    caller = docket.caller
    return Actor.of_account(caller.account) if caller.account is not None else Actor(caller.who, caller.role)


def run(docket: Docket, *, fix: bool = False, quick: bool = False, force: bool = False,
        progress: bool = False, only: Iterable[str] | None = None, actor: Actor | None = None,
        grace: float = GRACE_SECONDS) -> Report:
    """Run the checks (``only`` these ids, else all) and, with ``fix``, each finding's repair.

    A check's repairs run right after it, before the next check: the migration check comes first,
    so with ``fix`` the later checks read a store that has every table. A check that cannot run
    (a store too damaged to answer) becomes an error finding rather than stopping the others.
    """
    selected = all_checks()
    if only is not None:
        wanted = list(only)
        unknown = [c for c in wanted if c not in _CHECKS]
        if unknown:
            raise BadInput(f"unknown doctor check {', '.join(unknown)} (known: {', '.join(_CHECKS)})")
        selected = [c for c in selected if c.id in wanted]
    # Who acts is known only once the store is known to be there and readable: asking earlier
    # would create a missing SQLite file, or fail on a damaged one before it is reported.
    from docket.api import Actor

    ctx = Context(docket, actor or Actor("docket doctor", "data-manager"), quick=quick, force=force,
                  progress=progress, grace=grace)
    findings: list[Finding] = []
    reachable = _probe(ctx)
    if reachable is not None:
        return Report([reachable], fixed=fix)
    ctx.actor = actor or _acting(docket, fix)
    for chk in selected:
        try:
            found = list(chk.run(ctx))
        except (SQLAlchemyError, DocketError, OSError) as exc:  # e.g. a table or folder it cannot read
            where = "files/" if isinstance(exc, OSError) else "store"
            found = [Finding(chk.id, "error", where, f"the check could not run: {_reason(exc)}")]
        if fix:
            for finding in found:
                if finding.repair is None:
                    continue
                try:
                    result = finding.repair(ctx)
                    finding.repaired = result.get("done", finding.fix)
                except (OSError, SQLAlchemyError, DocketError) as exc:
                    finding.fix_error = _reason(exc)
            ctx._requests = ctx._revisions = None  # a repair may have changed what later checks read
        findings.extend(found)
    return Report(findings, fixed=fix)


def repairs(docket: Docket) -> list[dict[str, Any]]:
    """Every repair doctor made in this instance, oldest first: who, when, from where, what."""
    a = tables.audit_log
    with docket.store.connect() as conn:
        rows = conn.execute(select(a).where(a.c.action.like("doctor:%")).order_by(a.c.id)).all()
    return [{"at": _iso(r.at), "actor": r.actor, "role": r.role, "check": r.action.split(":", 1)[1],
             "request_id": r.request_id, "origin": r.origin, "detail": r.detail} for r in rows]


def _probe(ctx: Context) -> Finding | None:
    """A store that cannot even be read is the one finding worth making."""
    url = ctx.docket.store.engine.url
    if ctx.docket.store.dialect == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        # Connecting would create an empty database in its place; an unmounted volume or a
        # deleted file must be restored, not replaced.
        return Finding("store.integrity", "error", url.database,
                       "the store's SQLite file does not exist (deleted, moved, or its volume is not "
                       "mounted); restore it from a backup. Nothing was created in its place")
    try:
        with ctx.docket.store.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, DocketError) as exc:
        return Finding("store.integrity", "error", ctx.docket.store.engine.url.render_as_string(hide_password=True),
                       f"the store cannot be read: {_reason(exc)}")
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DocketError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------------- the store


@check("store.migration", "the store's Alembic migration is the newest this docket knows")
def check_migration(ctx: Context) -> Iterator[Finding]:
    store = ctx.docket.store
    current, head = store.current(), store.head()
    if current == head:
        return
    from alembic.script import ScriptDirectory

    from docket.store import alembic_config

    known = current is None or ScriptDirectory.from_config(alembic_config()).get_revision(current) is not None
    where = store.engine.url.render_as_string(hide_password=True)
    if not known:
        yield Finding("store.migration", "error", where,
                      f"the store is at migration {current}, which this docket ({head} newest) does not "
                      "know: a newer docket wrote it; upgrade docket, do not use this one on it")
        return

    if current is None and any(not p.name.startswith(LEFTOVER_PREFIX) for p in _listing(ctx.files_dir)):
        yield Finding("store.migration", "error", where,
                      "the store has no tables, yet files/ holds requests' files: this store is not the "
                      "instance's (wrong URL or schema?) or it was lost; restore it from a backup rather "
                      "than create an empty one")
        return

    def repair(ctx: Context) -> dict[str, Any]:
        ctx.docket.upgrade_store()  # with the admin account a store from before 0004 lacks
        ctx.audit("store.migration", None, {"from": current, "to": store.current()})
        return {"done": f"upgraded from {current or '(empty)'} to {store.current()}"}

    yield Finding("store.migration", "error", where,
                  f"the store is at migration {current or '(none: no tables)'}, the newest is {head}",
                  fix="apply the missing migrations (docket db upgrade)", repair=repair)


@check("store.integrity", "the database file is sound (SQLite) or every table answers (PostgreSQL)")
def check_integrity(ctx: Context) -> Iterator[Finding]:
    store = ctx.docket.store
    where = store.engine.url.render_as_string(hide_password=True)
    with store.connect() as conn:
        if store.dialect == "sqlite":
            pragma = "quick_check" if ctx.quick else "integrity_check"
            lines = [r[0] for r in conn.exec_driver_sql(f"PRAGMA {pragma}").all()]
            if lines != ["ok"]:
                shown = "; ".join(lines[:5]) + (f" (and {len(lines) - 5} more)" if len(lines) > 5 else "")
                yield Finding("store.integrity", "error", where,
                              f"SQLite {pragma} failed: {shown}; restore the store from a backup "
                              "(or try '.recover' of the sqlite3 shell on a copy)")
            for table, rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check").all():
                yield Finding("store.integrity", "error", f"{table} row {rowid}",
                              f"refers to a row of {parent} that does not exist")
        present = set(inspect(conn).get_table_names(schema=store.schema))
        for table in tables.metadata.sorted_tables:
            if table.name not in present:
                yield Finding("store.integrity", "error", f"table {table.name}",
                              "the table is missing" + ("" if ctx.docket.store.current() == store.head()
                                                        else " (the store is behind: see store.migration)"))
                continue
            try:
                # On PostgreSQL a failed statement spoils the transaction: read in a savepoint.
                with conn.begin_nested() if store.dialect == "postgresql" else nullcontext():
                    conn.execute(select(table).limit(1)).all()
            except SQLAlchemyError as exc:
                yield Finding("store.integrity", "error", f"table {table.name}",
                              f"the table cannot be read: {_reason(exc)}")


# --------------------------------------------------------------------------------- records


@check("records.revisions", "revisions are numbered 1..N and each one's digest matches its document and PROV")
def check_revisions(ctx: Context) -> Iterator[Finding]:
    from docket.api import record_digest

    requests = ctx.requests()
    submitted = _submission_digests(ctx)
    seen: dict[str, list[int]] = defaultdict(list)
    r = tables.revisions
    query = select(r.c.request_id, r.c.revision, r.c.document, r.c.digest).order_by(r.c.request_id, r.c.revision)
    with ctx.docket.store.connect() as conn:
        for request_id, rev, document, stored in conn.execution_options(yield_per=500).execute(query):
            seen[request_id].append(rev)
            where = f"{request_id}.{rev}"
            if not isinstance(document, dict):
                yield Finding("records.revisions", "error", where, "the stored document is not a JSON object",
                              request_id)
                continue
            if document.get("id") != request_id or document.get("revision") != rev:
                yield Finding("records.revisions", "error", where,
                              f"the document says it is {document.get('id')}.{document.get('revision')}",
                              request_id)
            actual = record_digest(document)
            if actual != stored:
                yield Finding("records.revisions", "error", where,
                              f"the document's digest is {actual} but {stored} was stored with it: the "
                              "content changed after it was written (restore it from a backup)", request_id)
            recorded = submitted.get((request_id, rev))
            if recorded is not None and recorded != stored:
                yield Finding("records.revisions", "error", where,
                              f"the revision's digest {stored} is not the {recorded} its PROV submission "
                              "bundle recorded", request_id)
    for request_id, row in requests.items():
        revs = seen.get(request_id, [])
        expected = list(range(1, row.revision + 1))
        if revs != expected:
            missing = sorted(set(expected) - set(revs))
            extra = sorted(set(revs) - set(expected))
            what = "; ".join(filter(None, [
                f"revision{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} missing" if missing else "",
                f"revision{'s' if len(extra) > 1 else ''} {', '.join(map(str, extra))} beyond the "
                f"current one ({row.revision})" if extra else "",
            ]))
            yield Finding("records.revisions", "error", request_id,
                          f"revisions are not 1..{row.revision}: {what}", request_id)


def _submission_digests(ctx: Context) -> dict[tuple[str, int], str]:
    """The content digest each revision's submission bundle bound (``var:digest``)."""
    p = tables.prov_bundles
    out: dict[tuple[str, int], str] = {}
    with ctx.docket.store.connect() as conn:
        for request_id, n, bindings in conn.execute(
            select(p.c.request_id, p.c.n, p.c.bindings).where(p.c.step == "request")
        ):
            value = _bound(bindings, "digest")
            if isinstance(value, str):
                out[(request_id, n)] = value
    return out


def _bound(bindings: Any, name: str) -> Any:
    """The first value bound to ``name`` in PROV-Template bindings JSON (``None`` if unbound)."""
    try:
        entry = bindings["var"][name][0]
    except (KeyError, IndexError, TypeError):
        return None
    return entry.get("@value", entry.get("@id")) if isinstance(entry, dict) else entry


@check("records.history", "every request has its history, and its current state is the history's last word")
def check_history(ctx: Context) -> Iterator[Finding]:
    h = tables.status_history
    rows: dict[str, list[Any]] = defaultdict(list)
    with ctx.docket.store.connect() as conn:
        for row in conn.execute(select(h).order_by(h.c.request_id, h.c.id)):
            rows[row.request_id].append(row)
    for request_id, req in ctx.requests().items():
        history = rows.get(request_id)
        if not history:
            yield Finding("records.history", "error", request_id,
                          "the request has no status history at all (not even its submission)", request_id)
            continue
        reviews = [r for r in history if r.kind == "review"]
        if reviews and reviews[-1].to_state != req.review_state:
            yield Finding("records.history", "error", request_id,
                          f"the review state is {req.review_state} but the history's last review moved it "
                          f"to {reviews[-1].to_state}", request_id)
        elif not reviews:
            yield Finding("records.history", "error", request_id,
                          "the history has no review-state row (a submission always writes one)", request_id)
        last_step: dict[str, Any] = {}
        for r in history:
            if r.kind == "step" and r.step:
                last_step[r.step] = r
        for step, r in last_step.items():
            state = (req.steps or {}).get(step, {})
            if (state.get("status"), state.get("outcome")) != (r.to_state, r.outcome):
                now = state.get("status", "?") + (f"/{state['outcome']}" if state.get("outcome") else "")
                then = r.to_state + (f"/{r.outcome}" if r.outcome else "")
                yield Finding("records.history", "error", f"{request_id} step {step}",
                              f"the step is {now} but the history's last row for it says {then}", request_id)


# --------------------------------------------------------------------------------- PROV


@check("prov.bundles", "each step in the history has its PROV bundle, which parses and re-expands from its bindings")
def check_prov(ctx: Context) -> Iterator[Finding]:
    from docket.provenance import identifiers as ids

    p, h = tables.prov_bundles, tables.status_history
    history: dict[str, list[Any]] = defaultdict(list)
    with ctx.docket.store.connect() as conn:
        for row in conn.execute(select(h.c.request_id, h.c.kind, h.c.step, h.c.to_state, h.c.at)
                                .order_by(h.c.request_id, h.c.id)):
            history[row.request_id].append(row)
    context = ids.context(ctx.docket.config.base_uri)
    stale_templates = 0
    requests = ctx.requests()
    seen: set[str] = set()
    with ctx.docket.store.connect() as conn:
        # Bundles are the big rows: streamed one request at a time, never all in memory.
        stream = conn.execution_options(yield_per=500).execute(select(p).order_by(p.c.request_id, p.c.id))
        for request_id, group in groupby(stream, key=lambda r: r.request_id):
            req = requests.get(request_id)
            if req is None:
                continue  # a foreign-key violation; store.integrity reports it
            seen.add(request_id)
            rows = list(group)
            for finding in _prov_of(ctx, request_id, req, rows, history.get(request_id, []), context):
                if finding is None:
                    stale_templates += 1
                else:
                    yield finding
    for request_id in requests.keys() - seen:
        yield Finding("prov.bundles", "error", request_id,
                      "the request has no PROV bundle at all (not even its submission)", request_id)
    if stale_templates:
        yield Finding("prov.bundles", "info", "prov_templates",
                      f"{stale_templates} bundle{'s were' if stale_templates > 1 else ' was'} made by an "
                      "earlier version of a template, so could not be re-expanded (only parsed)")


def _prov_of(ctx: Context, request_id: str, req: Any, rows: list[Any], history: list[Any],
             context: dict[str, str]) -> Iterator[Finding | None]:
    """The findings of one request's bundles; ``None`` for a bundle whose template changed since
    it was made (it is parsed, but cannot be re-expanded: the old template text is gone)."""
    from prov.model import ProvDocument

    from docket.provenance import identifiers as ids
    from docket.provenance.template import Bindings, expand

    recorder = ctx.docket.recorder
    numbers = sorted(r.n for r in rows if r.step == "request")
    if numbers != list(range(1, req.revision + 1)):
        missing = sorted(set(range(1, req.revision + 1)) - set(numbers))
        if missing:
            yield Finding("prov.bundles", "error", request_id,
                          f"no submission bundle for revision{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(map(str, missing))}", request_id)
    # Every write that adds history adds, in the same transaction, one bundle whose activity
    # runs from (at the latest) that instant to just before the commit: a history row in no such
    # bundle's span is a step whose provenance was lost. (docket 0.1's activities started and
    # ended at the history's instant; they fit too.) Review-state rows are written by reviews
    # and by submissions and revisions.
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in rows:
        end = _as_time(_bound(r.bindings, "endTime"))
        if end is not None:
            start = _as_time(_bound(r.bindings, "startTime")) or end
            spans[r.step].append((start, end))

    def recorded(at: datetime, steps: tuple[str, ...]) -> bool:
        return any(start <= at <= end for step in steps for start, end in spans.get(step, ()))

    for hr in history:
        at = _utc(hr.at)
        if hr.kind == "step" and hr.step:
            if hr.to_state == "in-progress":
                continue  # by design no bundle: the activity is recorded once, when it ends
            if not recorded(at, (hr.step,)):
                yield Finding("prov.bundles", "error", f"{request_id} step {hr.step} at {at.isoformat()}",
                              f"the history records the {hr.step} step but no {hr.step} PROV bundle "
                              "was recorded with it", request_id)
        elif not recorded(at, ("review", "request")):
            yield Finding("prov.bundles", "error", f"{request_id} review at {at.isoformat()}",
                          "the history records a review-state change but no PROV bundle was recorded "
                          "with it", request_id)
    for r in rows:
        where = f"{request_id} bundle {r.step}/{r.n}"
        if r.bundle_id != ids.bundle_id(request_id, r.step, r.n):
            yield Finding("prov.bundles", "error", where,
                          f"its id is {r.bundle_id}, not {ids.bundle_id(request_id, r.step, r.n)}", request_id)
        try:
            stored = ProvDocument.deserialize(content=json.dumps(r.bundle), format="json")
        except Exception as exc:  # prov raises many kinds on bad input; all mean "does not parse"
            yield Finding("prov.bundles", "error", where,
                          f"the stored bundle is not valid PROV-JSON: {type(exc).__name__}: {exc}", request_id)
            continue
        found = [b for b in stored.bundles if _expand_qname(str(b.identifier), context) ==
                 _expand_qname(r.bundle_id, context)]
        if not found:
            yield Finding("prov.bundles", "error", where,
                          f"the stored PROV-JSON holds no bundle {r.bundle_id}", request_id)
            continue
        if ctx.quick:
            continue
        try:
            template, template_digest = recorder.template(r.template)
        except DocketError:
            yield None
            continue
        if template_digest != r.template_digest:
            yield None  # the template was edited since: its old text is gone
            continue
        try:
            again = expand(template, Bindings.from_json(r.bindings)).document
        except Exception as exc:  # bad bindings surface as any of prov's or docket's errors
            yield Finding("prov.bundles", "error", where,
                          f"its stored bindings no longer expand its template {r.template}: {exc}", request_id)
            continue
        if again != stored:
            yield Finding("prov.bundles", "error", where,
                          f"expanding template {r.template} with the stored bindings does not give the "
                          "stored bundle: one of them changed after it was written", request_id)


def _expand_qname(name: str, context: dict[str, str]) -> str:
    prefix, sep, local = name.partition(":")
    return context[prefix] + local if sep and prefix in context else name


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------------- files


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, names in os.walk(path):
            for name in dirs + names:
                with suppress(FileNotFoundError):
                    newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
    return newest


def _has_bytes(path: Path) -> bool:
    """Whether a folder holds anything but (nested) empty folders."""
    return any(names for _f, _d, names in os.walk(path))


def _safe_now(ctx: Context, path: Path, request_id: str | None) -> str | None:
    """Why ``path`` must be left alone for now (a transfer may still be writing it), or None."""
    if ctx.force:
        return None
    if ctx.transfer_running(request_id):
        return f"the transfer of {request_id} is in progress; --force if it is not"
    age = ctx.age(path)
    if age < ctx.grace:
        return f"changed {int(age // 60)} min ago, maybe by a transfer still running; --force if none is"
    return None


@check("files.leftovers", "no leftovers of unfinished transfers (.docket-* under files/)")
def check_leftovers(ctx: Context) -> Iterator[Finding]:
    """Leftovers are found and cleared by the transfer step's own sweep, not by rules of doctor's.

    The transfer layer knows what its leftovers mean: a live attempt holds a lock on its staging
    folder (kept, whatever its age), a partial file or an uncommitted staging folder is rubbish,
    and a staging folder whose attempt *committed* holds files the registry already calls stored,
    which must be renamed into place, never deleted. Doctor reports what a dry run of that sweep
    says and, with ``--fix``, runs it and writes one audit row per leftover it cleared.
    """
    from docket.steps.transfer import sweep_leftovers

    root = ctx.files_dir
    if not root.is_dir():
        def create(ctx: Context) -> dict[str, Any]:
            root.mkdir()
            ctx.audit("files.leftovers", None, {"created": str(root)})
            return {"done": "created the empty folder"}

        yield Finding("files.leftovers", "error", ctx.rel(root), "the instance has no files/ folder (transfers "
                      "would create it; an unmounted volume?)", fix="create it", repair=create)
        return
    quarantine = root / QUARANTINE
    if quarantine.is_dir():
        kept = sum(len(n) for _f, _d, n in os.walk(quarantine))
        if kept:
            yield Finding("files.leftovers", "info", ctx.rel(quarantine),
                          f"{kept} orphan file{'s' if kept > 1 else ''} kept by an earlier doctor --fix; "
                          "look at them and delete them by hand when sure")
    swept: dict[Path, str] = {}

    def sweep(ctx: Context) -> dict[Path, str]:
        """Run the real sweep once, for every fixable finding; audit each thing it cleared."""
        if not swept:
            for item in sweep_leftovers(ctx.docket):
                swept[item.path] = item.action
                if item.action in ("removed", "completed"):
                    ctx.audit("files.leftovers", item.request_id,
                              {"path": str(item.path), "kind": item.kind, "action": item.action})
        return swept

    for item in sweep_leftovers(ctx.docket, dry_run=True):
        if item.path == quarantine:
            continue
        what = {"partial": "a partial file of an unfinished transfer",
                "staging": "the staging folder of an unfinished transfer"}.get(
            item.kind, "a .docket- name that docket does not make; kept (look at it)")
        if item.action == "in-use":
            yield Finding("files.leftovers", "info", ctx.rel(item.path), f"{what}, held by a transfer running now",
                          item.request_id)
            continue
        if item.action not in ("to-remove", "to-complete"):
            yield Finding("files.leftovers", "warn", ctx.rel(item.path), what, item.request_id)
            continue
        if item.action == "to-complete":
            what = ("the staging folder of a transfer that was recorded but whose files were never moved "
                    "into place (a crash just after the commit)")
            fix = "move its recorded files into place"
        else:
            fix = "remove it"

        def repair(ctx: Context, path: Path = item.path) -> dict[str, Any]:
            action = sweep(ctx).get(path)
            if action not in ("removed", "completed"):
                raise DocketError(f"the sweep did not clear it ({action or 'gone already'})")
            return {"done": {"removed": "removed", "completed": "moved its files into place"}[action]}

        yield Finding("files.leftovers", "warn", ctx.rel(item.path), what, item.request_id, fix=fix, repair=repair)


@check("files.orphans", "everything in files/ belongs to a request, a revision and a registry row")
def check_orphans(ctx: Context) -> Iterator[Finding]:
    root = ctx.files_dir
    if not root.is_dir():
        return
    requests, revisions = ctx.requests(), ctx.revisions()
    f = tables.files
    rows: dict[tuple[str, int, str], str] = {}
    with ctx.docket.store.connect() as conn:
        for request_id, rev, name, status in conn.execute(select(f.c.request_id, f.c.revision, f.c.name, f.c.status)):
            rows[(request_id, rev, name)] = status
    for entry in _entries(root):
        if entry.name not in requests:
            yield from _orphan(ctx, entry, None, "no request has this id")
            continue
        for sub in _entries(entry):
            if not (sub.name.isdigit() and int(sub.name) in revisions.get(entry.name, set())):
                yield from _orphan(ctx, sub, entry.name, f"request {entry.name} has no revision {sub.name}")
                continue
            for item in _entries(sub):
                key = (entry.name, int(sub.name), item.name)
                if item.is_dir() and not item.is_symlink():
                    yield from _orphan(ctx, item, entry.name, "a revision's folder holds files, not folders")
                elif key not in rows:
                    yield from _orphan(ctx, item, entry.name,
                                       f"{entry.name}.{sub.name} declares no file named {item.name!r}")
                elif rows[key] in ("declared", "failed"):
                    yield Finding("files.orphans", "warn", ctx.rel(item),
                                  f"the registry says {rows[key]}, yet the file is here: a transfer that stopped "
                                  f"before recording it? run 'docket transfer {entry.name}' again", entry.name)


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _entries(folder: Path) -> list[Path]:
    """A folder's entries, leftovers aside (``files.leftovers`` reports those)."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith(LEFTOVER_PREFIX))


def _orphan(ctx: Context, path: Path, request_id: str | None, why: str) -> Iterator[Finding]:
    folder = path.is_dir() and not path.is_symlink()
    kind = "folder" if folder else "file"
    wait = _safe_now(ctx, path, request_id)
    if folder and not _has_bytes(path):
        what = f"an empty folder nothing refers to ({why})"
        fix = "remove it (it is empty)"

        def repair(ctx: Context) -> dict[str, Any]:
            if _has_bytes(path):  # something arrived since the check: leave it for the next run
                raise FileExistsError(f"{path} is no longer empty; left as it is")
            shutil.rmtree(path)  # nothing but empty folders in it
            ctx.audit("files.orphans", request_id, {"removed": str(path), "kind": "empty folder"})
            return {"done": "removed the empty folder"}
    else:
        what = f"an orphan {kind} ({why})"
        target = ctx.quarantine(path)
        fix = f"move it to {ctx.rel(target)} (nothing is deleted)"

        def repair(ctx: Context) -> dict[str, Any]:
            target.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(target):
                raise FileExistsError(f"{target} already exists")
            os.rename(path, target)  # same file system: atomic, whatever the size
            ctx.audit("files.orphans", request_id, {"moved": str(path), "to": str(target), "kind": kind})
            return {"done": f"moved to {ctx.rel(target)}"}
    if wait:
        yield Finding("files.orphans", "warn", ctx.rel(path), f"{what} (left alone: {wait})", request_id)
    else:
        yield Finding("files.orphans", "warn", ctx.rel(path), what, request_id, fix=fix, repair=repair)


@check("files.registry", "each stored file of the resource registry is on disk with the size and sha256 measured")
def check_registry(ctx: Context) -> Iterator[Finding]:
    f = tables.files
    with ctx.docket.store.connect() as conn:
        rows = conn.execute(select(f).where(f.c.status.in_(("stored", "missing"))).order_by(f.c.id)).all()
    todo = [r for r in rows if r.location]
    total = sum(r.size or 0 for r in todo) if not ctx.quick else 0
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="doctor: hashing files",
               disable=not ctx.progress or ctx.quick)
    try:
        for row in rows:
            yield from _registry_row(ctx, row, bar)
    finally:
        bar.close()


def _registry_row(ctx: Context, row: Any, bar: tqdm) -> Iterator[Finding]:
    where = f"{row.request_id}.{row.revision}/{row.name}"
    if not row.location:
        yield Finding("files.registry", "error", where, f"the registry says {row.status} but gives no location",
                      row.request_id)
        return
    recorded = Path(row.location)
    expected = ctx.files_dir / row.request_id / str(row.revision) / row.name
    here = recorded if os.path.lexists(recorded) else expected if os.path.lexists(expected) else None
    if here is not None and not here.is_file():
        yield Finding("files.registry", "error", where, f"{here} is not a regular file", row.request_id)
        return
    matches: bool | None = None  # None: not hashed (quick); the size alone was compared
    problem = None
    if here is not None:
        size = here.stat().st_size
        if size != row.size:
            problem = f"{here} has {size} bytes, transfer measured {row.size}"
        elif not ctx.quick:
            sha = _sha256(here, bar)
            matches = sha == row.sha256
            if not matches:
                problem = f"{here} has sha256 {sha}, transfer measured {row.sha256}"
    if row.status == "missing":
        if here is None:
            yield Finding("files.registry", "warn", where,
                          f"recorded as missing since {_iso(row.updated_date)}; transfer the request again "
                          "to restore it", row.request_id)
        elif problem is None and matches:
            yield Finding("files.registry", "info", where,
                          f"recorded as missing, but {here} is back with the measured bytes", row.request_id,
                          fix="mark it stored again", repair=_set_status(row, "stored", None, here))
        else:
            yield Finding("files.registry", "warn", where,
                          f"recorded as missing; {here} is there but "
                          + (problem or "was not hashed (--quick)") + "; transfer the request again", row.request_id)
        return
    if here is None:
        waiting = sorted(expected.parent.glob(f"{LEFTOVER_PREFIX}staging-*/{_glob_escape(row.name)}"))
        if waiting:
            yield Finding("files.registry", "error", where,
                          f"not in place yet: the transfer that recorded it left it in {ctx.rel(waiting[0].parent)} "
                          "(files.leftovers moves it into place)", row.request_id)
            return
        detail = (f"{recorded} was not found by docket doctor on {ctx.started.date().isoformat()}; "
                  "transfer the request again to restore it")
        yield Finding("files.registry", "error", where, f"the registry says stored at {recorded}, which does not exist",
                      row.request_id, fix="mark the registry row missing (QA and show then say so)",
                      repair=_set_status(row, "missing", detail, None))
        return
    if problem:
        yield Finding("files.registry", "error", where,
                      f"{problem}: the bytes changed after transfer (restore the file, or transfer the request "
                      "again)", row.request_id)
        return
    if here != recorded:
        if matches:
            yield Finding("files.registry", "warn", where,
                          f"recorded at {recorded}, which is gone, but found with the measured bytes at {here} "
                          "(the instance folder moved?)", row.request_id,
                          fix="record the new location", repair=_set_status(row, row.status, row.detail, here))
        else:
            yield Finding("files.registry", "warn", where,
                          f"recorded at {recorded}, which is gone; {here} has the measured size (not hashed: "
                          "--quick); run doctor without --quick to repair the location", row.request_id)


def _set_status(row: Any, status: str, detail: str | None, location: Path | None) -> Callable[[Context], dict]:
    def repair(ctx: Context) -> dict[str, Any]:
        from docket.api import now

        f = tables.files
        values: dict[str, Any] = {"status": status, "detail": detail, "updated_date": now()}
        if location is not None:
            values["location"] = str(location)

        def write(conn: Any) -> None:
            done = conn.execute(update(f).where(f.c.id == row.id, f.c.status == row.status,
                                                f.c.location == row.location).values(**values))
            if done.rowcount != 1:
                from docket.errors import Conflict

                raise Conflict(f"{row.request_id}.{row.revision}/{row.name} changed while doctor ran; run it again")

        ctx.audit("files.registry", row.request_id, {
            "file": f"{row.request_id}.{row.revision}/{row.name}", "status": [row.status, status],
            "location": [row.location, values.get("location", row.location)]}, write)
        changed = f"status {row.status} -> {status}" if status != row.status else f"location -> {location}"
        return {"done": changed}

    return repair


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _sha256(path: Path, bar: tqdm) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


def _iso(value: Any) -> str:
    return _utc(value).isoformat() if isinstance(value, datetime) else str(value)


# ------------------------------------------------------------------------ the instance's settings
# A thesaurus or a tile server is read only when someone opens a form: a wrong one would be found by
# a provider (as "suggestions unavailable") rather than by the data centre that configured it.

KEYWORDS = "config.keywords"
MAP_TILES = "config.map_tiles"


@check(KEYWORDS, "the keyword thesaurus docket.toml names ([vocabularies] keywords) loads")
def check_keywords(ctx: Context) -> Iterator[Finding]:
    """Load the configured thesaurus with the form's own loader (same bounds, same messages), not
    through its cache: what doctor reports is the file as it is now."""
    from docket.vocabularies.thesaurus import configured_path, load

    toml = ctx.docket.instance.root / "docket.toml"
    try:
        path = configured_path(ctx.docket.instance)
    except DocketError as exc:  # the setting itself ("must be a table", "unknown setting")
        yield Finding(KEYWORDS, "error", ctx.rel(toml), exc.message.removeprefix(f"{toml} "))
        return
    if path is None:
        return
    where = f"docket.toml [vocabularies] keywords ({ctx.rel(path)})"
    try:
        thesaurus = load(path)
    except DocketError as exc:
        yield Finding(KEYWORDS, "error", where,
                      f"{exc.message}; the request form offers no keyword suggestions until it is fixed")
        return
    names = sum(len(c.labels) + sum(map(len, c.synonyms.values())) for c in thesaurus.concepts)
    yield Finding(KEYWORDS, "info", where,
                  f"thesaurus {thesaurus.title!r}: {len(thesaurus.concepts)} concepts, {names} labels and synonyms")


@check(MAP_TILES, "[form] map_tiles is a tile URL template with {z}, {x} and {y} (never fetched)")
def check_map_tiles(ctx: Context) -> Iterator[Finding]:
    """The form's own reading of ``[form] map_tiles`` and its companions (shape only: nothing is
    fetched). The map widget's module is imported only when there is a map setting to read."""

    table = (ctx.docket.config.extra or {}).get("form")
    if table is None or (isinstance(table, dict) and not any(k.startswith("map_") for k in table)):
        return
    from docket.forms.bbox_map import tile_settings

    try:
        tile_settings(ctx.docket.config)
    except DocketError as exc:
        yield Finding(MAP_TILES, "error", "docket.toml", exc.message.removeprefix("docket.toml").lstrip(": "))
