"""Shared fixtures: fresh instances on SQLite and, where a server is reachable, PostgreSQL.

PostgreSQL tests read ``DOCKET_TEST_DATABASE_URL``; each test gets a schema of its own, dropped
after, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import docket
from docket.api import Docket

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_URL = os.environ.get("DOCKET_TEST_DATABASE_URL")
PG_SKIP = "DOCKET_TEST_DATABASE_URL is not set; PostgreSQL tests need a server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


@pytest.fixture(autouse=True)
def _no_ambient_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name their instance; none may pick one up from the developer's environment."""
    for var in ("DOCKET_INSTANCE", "DOCKET_DATABASE_URL", "DOCKET_USER", "DOCKET_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = f"docket_test_{uuid.uuid4().hex[:12]}"
    yield schema
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def instance_dir(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Path:
    """A new instance folder on the parametrised backend; returns its path."""
    folder = tmp_path / "inst"
    kwargs: dict = {"project": "ocean", "base_uri": "https://data.example.org/ocean/",
                    "local_roots": ["inbox", str(EXAMPLES)]}
    if backend == "postgresql":
        kwargs.update(store_url=PG_URL, store_schema=request.getfixturevalue("pg_schema"))
    docket.init(folder, **kwargs).close()
    return folder


@pytest.fixture
def dk(instance_dir: Path) -> Iterator[Docket]:
    d = docket.open(instance_dir)
    yield d
    d.close()


def example_requests() -> list[Path]:
    return sorted((EXAMPLES / "requests").glob("*.json"))


def invalid_examples() -> list[Path]:
    return sorted(p for p in (EXAMPLES / "invalid").glob("*.json") if p.name != "expected.json")
