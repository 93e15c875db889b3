"""What a step is given to do its work: the :class:`StepContext`, and the helpers steps share.

The steps (transfer, QA, publication, ...) are below :mod:`docket.api`: the API orchestrates (it
signs the caller in, checks who may start a step, opens one transaction per step) and hands the
step a :class:`StepContext`: the store, the PROV recorder, the instance and its settings, and the
person the step acts for. A step never imports the API, so the API can import the steps without
a circle, and a step can be run by anything that offers the few operations of :class:`StepHost`
(a Dask worker opens the instance itself and builds its own context).

``now``, ``parse_ref`` and ``MAX_REVISION`` live here rather than in the API for the same reason;
:mod:`docket.api` re-exports them (and :class:`~docket.people.actor.Actor`) under their old names.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from docket.errors import Conflict, NotFound
from docket.people.actor import Actor

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import Connection

    from docket.instance import Config, Instance
    from docket.provenance.recorder import Recorder
    from docket.store import Store

__all__ = ["MAX_REVISION", "Actor", "StepContext", "StepHost", "now", "parse_ref"]

MAX_REVISION = 2**31 - 1  # the revision columns are 32-bit on both stores


def now() -> datetime:
    """The time every record of docket is stamped with: aware, UTC."""
    return datetime.now(UTC)


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


class StepHost(Protocol):
    """The operations of the API object (:class:`docket.api.Docket`) that steps use.

    Reading (``get``, ``files``, ``history``, ``prov_bundles``, ``list``) goes through the
    caller's access rules like any reader's; writing goes through ``set_step`` (one transaction:
    status, history, audit, the step's own rows and its PROV bundle) or, for a step that records
    more than one transition (transfer's ``in-progress``), through the row helpers below, which
    :class:`StepContext` wraps so that a step names none of them itself.
    """

    instance: Instance
    config: Config
    store: Store
    recorder: Recorder

    def get(self, ref: str, revision: int | None = None) -> dict[str, Any]: ...
    def files(self, request_id: str) -> list[dict[str, Any]]: ...
    def history(self, request_id: str) -> list[dict[str, Any]]: ...
    def prov_bundles(self, request_id: str) -> list[dict[str, Any]]: ...
    def list(self, status: str | None = None, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]: ...
    def set_step(self, request_id: str, step: str, status: str, outcome: str | None = None, *,
                 actor: Actor | None = None, comment: str | None = None, prov_values: Any = None,
                 origin: str | None = None, write: Any = None) -> dict[str, Any]: ...
    def _request_row(self, conn: Connection, request_id: str) -> Any: ...
    def _update_request(self, conn: Connection, row: Any, *, at: datetime, **values: Any) -> None: ...
    def _history(self, conn: Connection, request_id: str, revision: int, kind: str, step: str | None,
                 old: str | None, new: str, outcome: str | None, actor: Actor, at: datetime,
                 comment: str | None, also: list[tuple] = ()) -> None: ...
    def _audit(self, conn: Connection, actor: Actor, action: str, request_id: str | None, detail: dict,
               origin: str | None, at: datetime) -> None: ...
    def _notify(self, conn: Connection, event: str, request_id: str, revision: int, record: dict | None,
                at: datetime, *, comment: str | None = None, fields: list[str] | None = None,
                attachments: list[str] | None = None) -> None: ...
    def _agent_values(self, var: str, actor: Actor) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StepContext:
    """One run of a step: the instance it runs on (``host``) and the person it acts for.

    ``actor`` was authorised by whoever built the context (the API checks the signed-in data
    manager; a batch worker gets the person the command line checked), so a step records it
    without checking again. ``key`` is the API key that person signed in with, for work that
    runs in another process as them (the QA notebook's kernel); it is never recorded.
    """

    host: StepHost
    actor: Actor
    key: str | None = None

    @classmethod
    def of(cls, host: StepHost, actor: Actor | None = None, key: str | None = None) -> StepContext:
        """A context on ``host`` for ``actor`` (docket itself, ``system``, when nobody is named)."""
        return cls(host, actor or Actor.system(), key)

    # -- what the step reads ---------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.host.store

    @property
    def config(self) -> Config:
        return self.host.config

    @property
    def instance(self) -> Instance:
        return self.host.instance

    @property
    def recorder(self) -> Recorder:
        return self.host.recorder

    # -- what the step writes (each inside the caller's transaction ``conn``) -------------------

    def set_step(self, request_id: str, step: str, status: str, outcome: str | None = None, *,
                 comment: str | None = None, prov_values: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
                 write: Callable[[Connection, Any], None] | None = None) -> dict[str, Any]:
        """Change the step's status as this context's actor, with its PROV and the step's own rows
        (``write(conn, request_row)``), in one transaction (:meth:`docket.api.Docket.set_step`)."""
        return self.host.set_step(request_id, step, status, outcome, actor=self.actor, comment=comment,
                                  prov_values=prov_values, write=write)

    def request_row(self, conn: Connection, request_id: str) -> Any:
        return self.host._request_row(conn, request_id)

    def update_request(self, conn: Connection, row: Any, *, at: datetime, **values: Any) -> None:
        """Update the request's row if nobody changed it since ``row`` was read (else Conflict)."""
        self.host._update_request(conn, row, at=at, **values)

    def history(self, conn: Connection, request_id: str, revision: int, step: str, old: str | None, new: str,
                outcome: str | None, at: datetime, comment: str | None = None) -> None:
        """One row of step history by this context's actor."""
        self.host._history(conn, request_id, revision, "step", step, old, new, outcome, self.actor, at, comment)

    def audit(self, conn: Connection, action: str, request_id: str | None, detail: dict[str, Any],
              at: datetime | None = None) -> None:
        self.host._audit(conn, self.actor, action, request_id, detail, None, at or now())

    def notify(self, conn: Connection, event: str, request_id: str, revision: int, *,
               record: dict[str, Any] | None = None, comment: str | None = None,
               attachments: list[str] | None = None) -> None:
        """Queue the mails ``event`` sends, in the step's own transaction (see :mod:`docket.notify`);
        ``attachments`` are files under the instance's ``runs/``."""
        self.host._notify(conn, event, request_id, revision, record, now(), comment=comment,
                          attachments=attachments)

    def begin(self, request_id: str, revision: int, step: str, *, what: str, busy: str,
              detail: dict[str, Any]) -> None:
        """Record ``step`` as ``in-progress`` (history, audit) in a transaction of its own.

        No PROV bundle: the step's activity is recorded once, when it ends, with its start time;
        the in-progress row is what shows a run that is going (or one that never ended). Conflict
        when the request was revised since revision ``revision`` was read (``what`` names the
        step in that message) or when the step is in progress already (``busy`` says so).
        """
        from docket.workflow import StepChange, check_step_change

        at = now()
        with self.store.transaction() as conn:
            row = self.request_row(conn, request_id)
            check_step_change(StepChange(step, "in-progress"), self.actor.role, row.review_state, row.steps)
            if row.revision != revision:
                raise Conflict(f"{request_id} was revised (now revision {row.revision}) while its {what} "
                               "started; try again")
            steps = copy.deepcopy(row.steps)
            old = steps.get(step, {}).get("status")
            if old == "in-progress":
                raise Conflict(busy)
            steps[step] = {"status": "in-progress"}
            self.update_request(conn, row, steps=steps, at=at)
            self.history(conn, request_id, row.revision, step, old, "in-progress", None, at)
            self.audit(conn, f"step:{step}", request_id, {"status": "in-progress", **detail}, at)

    def agent_values(self, var: str) -> dict[str, Any]:
        """The template variables naming this context's actor as ``var`` (person, name, e-mail,
        ORCID, role)."""
        return self.host._agent_values(var, self.actor)
