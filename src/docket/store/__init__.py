"""The store: SQLAlchemy engine, Alembic migrations and transactions.

SQLite (WAL, ``synchronous=FULL`` so that an accepted request survives a power cut) is the
embedded default; PostgreSQL is selected by URL and runs the same code. An optional schema name
puts every table of an instance in its own PostgreSQL schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    StatementError,
)

from docket.canonical import stored_json
from docket.errors import BadInput, DocketError, StoreUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x646F636B6574  # "docket": the advisory lock migrations hold on PostgreSQL
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _on_sqlite_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("docket_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _unavailable(store: Store, exc: BaseException) -> StoreUnavailable:
    reason = _describe(exc)
    if "readonly" in reason or "read-only" in reason:
        return StoreUnavailable(f"the store {store.url} is read-only for this user ({reason}); nothing was changed")
    return StoreUnavailable(f"the store is unavailable ({store.dialect}): {reason}")


def _ours(exc: StatementError) -> BaseException:
    """docket's own error raised while SQLAlchemy bound a value (e.g. :func:`stored_json` on
    SQLite, which wraps it; psycopg lets it through as it is): the same error on both stores."""
    return exc.orig if isinstance(exc.orig, DocketError) else exc


def _describe(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__


@lru_cache(maxsize=1)
def _head() -> str | None:
    """The newest migration; read once per process (the scripts do not change while it runs)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class Store:
    """An engine bound to one database (and optionally one PostgreSQL schema)."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        # One strict JSON writer for every JSON column on both dialects (see canonical.stored_json).
        kwargs: dict = {"future": True, "json_serializer": stored_json}
        if schema:
            if not _SCHEMA_NAME.match(schema):
                raise BadInput(f"store schema {schema!r} must be a plain lower-case SQL name")
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise BadInput(f"store URL {url!r} is not usable: {_describe(exc)}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _on_sqlite_connect)
            # pysqlite's own transaction handling defers BEGIN; take it over so a write
            # transaction is one real BEGIN ... COMMIT (see SQLAlchemy's pysqlite notes).
            event.listen(self.engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
            # Writers take the write lock at BEGIN (no lock upgrade dead-ends); readers don't.
            event.listen(self.engine, "begin", _sqlite_begin)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc
        except StatementError as exc:
            raise _ours(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(docket_write=True)
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc
        except StatementError as exc:
            raise _ours(exc) from None

    def create_schema(self) -> None:
        if not self.schema:
            return
        plain = create_engine(self.url, future=True)
        try:
            with plain.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        except (OperationalError, DBAPIError) as exc:
            raise StoreUnavailable(f"cannot create schema {self.schema}: {_describe(exc)}") from exc
        finally:
            plain.dispose()

    def head(self) -> str | None:
        return _head()

    def current(self) -> str | None:
        with self.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self) -> None:
        """Bring the database to the newest migration (creating it when empty)."""
        self.create_schema()
        try:
            with self.engine.connect() as conn:
                conn.execution_options(docket_write=True)  # SQLite: BEGIN IMMEDIATE, one migrator
                with conn.begin():
                    if self.dialect == "postgresql":
                        # Several clients may open an old database at once: one migrates, the
                        # others wait for it and then find nothing left to do.
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                    command.upgrade(alembic_config(conn), "head")
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc

    def ensure_current(self) -> None:
        if self.current() != self.head():
            self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()
