"""Shared pytest fixtures."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings, get_settings
from workshop_app.database import create_engine, create_schema


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (SQLAlchemy's async is asyncio)."""
    return "asyncio"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Hide the developer's WORKSHOP_* settings and .env file; reset the settings cache."""
    for field in Settings.model_fields:
        monkeypatch.delenv(f"WORKSHOP_{field.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def app_settings(clean_env: None) -> Settings:
    """Settings for an isolated app: in-memory SQLite, test environment."""
    return Settings(environment="test", database_url="sqlite+aiosqlite:///:memory:")


@asynccontextmanager
async def lifespan_client(
    app: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's lifespan running (stack notes 5 and 18)."""
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
async def engine() -> AsyncIterator[AsyncEngine]:
    """An in-memory database with every table, for tests below the HTTP layer."""
    engine = create_engine(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
