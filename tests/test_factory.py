"""The app factory, two apps side by side, the database helpers and the health probes."""

import asyncio
import logging
import shutil
import threading
import time
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import Request
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import SQLModel

from workshop_app import main
from workshop_app.config import Settings, get_settings
from workshop_app.database import create_engine, ping
from workshop_app.main import create_app

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
async def aiosqlite_threads_finished():
    """Wait for aiosqlite worker threads before the test's event loop closes.

    After a failed connect, aiosqlite stops its worker thread without awaiting it;
    the thread then reports to the loop, which must still be open.
    """
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "_connection_worker_thread" in thread.name for thread in threading.enumerate()
    ):
        await asyncio.sleep(0.01)


def add_probe(app):
    """A test-only route that reports what the lifespan handed to the request."""

    @app.get("/probe")
    async def probe(request: Request) -> dict:
        engine = request.state.engine
        async with engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            return {
                "app_name": request.app.state.settings.app_name,
                "engine_id": id(engine),
                "tables": sorted(tables.scalars()),
            }

    @app.post("/probe/table/{name}")
    async def make_table(request: Request, name: str) -> dict:
        async with request.state.engine.begin() as connection:
            await connection.execute(text(f'CREATE TABLE "{name}" (id INTEGER)'))
        return {"created": name}

    return app


def test_metadata_comes_from_settings():
    settings = Settings(app_name="Billing API", app_version="3.1.4", app_description="Bills.")

    app = create_app(settings)

    assert (app.title, app.version, app.description) == ("Billing API", "3.1.4", "Bills.")
    info = app.openapi()["info"]
    assert (info["title"], info["version"], info["description"]) == (
        "Billing API",
        "3.1.4",
        "Bills.",
    )
    assert app.state.settings is settings


def test_without_settings_the_cached_process_settings_are_used(monkeypatch):
    monkeypatch.setenv("WORKSHOP_APP_NAME", "From Environment")

    app = create_app()

    assert app.title == "From Environment"
    assert app.state.settings is get_settings()


def test_module_has_no_app_and_uvicorn_factory_loads():
    assert not hasattr(main, "app")
    assert "uvicorn workshop_app.main:create_app --factory" in main.__doc__

    config = uvicorn.Config("workshop_app.main:create_app", factory=True, log_config=None)
    config.load()

    assert config.loaded is True


def test_middleware_then_error_handlers_then_routers(monkeypatch, app_settings):
    calls = []
    monkeypatch.setattr(main, "register_middleware", lambda app, s: calls.append(("mw", s)))
    monkeypatch.setattr(main, "register_error_handlers", lambda app: calls.append(("errors",)))
    monkeypatch.setattr(main, "register_routers", lambda app: calls.append(("routers",)))

    create_app(app_settings)

    assert calls == [("mw", app_settings), ("errors",), ("routers",)]


def test_malformed_database_url_refuses_to_build_the_app(monkeypatch):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", "postgresql://orders:pw-123@db/orders")

    with pytest.raises(ValidationError, match="WORKSHOP_DATABASE_URL must be an async"):
        create_app()


@pytest.mark.anyio
async def test_health_live_and_ready(client):
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "ok"})


def test_health_routes_are_documented(app_settings):
    paths = create_app(app_settings).openapi()["paths"]

    live, ready = paths["/health/live"]["get"], paths["/health/ready"]["get"]
    assert (live["summary"], live["tags"]) == ("Liveness probe", ["health"])
    assert (ready["summary"], ready["tags"]) == ("Readiness probe", ["health"])
    assert live["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Liveness"
    }
    assert ready["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }


@pytest.mark.anyio
async def test_two_apps_in_one_process_share_no_state(client_for):
    app_a = add_probe(create_app(Settings(app_name="A", rate_limit_enabled=False)))
    app_b = add_probe(create_app(Settings(app_name="B", rate_limit_enabled=False)))

    async with client_for(app_a) as client_a, client_for(app_b) as client_b:
        await client_a.post("/probe/table/only_in_a")
        seen_by_a = (await client_a.get("/probe")).json()
        seen_by_b = (await client_b.get("/probe")).json()

    assert app_a.state.settings is not app_b.state.settings
    assert (seen_by_a["app_name"], seen_by_b["app_name"]) == ("A", "B")
    assert seen_by_a["engine_id"] != seen_by_b["engine_id"]
    schema = set(SQLModel.metadata.tables)  # created in both by the lifespan
    extra_a, extra_b = set(seen_by_a["tables"]) - schema, set(seen_by_b["tables"]) - schema
    assert (extra_a, extra_b) == ({"only_in_a"}, set())


@pytest.mark.anyio
async def test_two_apps_keep_separate_rate_limit_buckets(client_for):
    app_a = add_probe(create_app(Settings(app_name="A", rate_limit_requests=1)))
    app_b = add_probe(create_app(Settings(app_name="B", rate_limit_requests=1)))

    async with client_for(app_a) as client_a, client_for(app_b) as client_b:
        statuses_a = [(await client_a.get("/probe")).status_code for _ in range(2)]
        status_b = (await client_b.get("/probe")).status_code

    assert (statuses_a, status_b) == ([200, 429], 200)


@pytest.mark.anyio
@pytest.mark.usefixtures("aiosqlite_threads_finished")
async def test_readiness_is_503_when_the_database_goes_away(client_for, tmp_path, caplog):
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{db_dir}/app.db"))

    @app.get("/break-database")
    async def break_database(request: Request) -> dict:
        await request.state.engine.dispose()  # drop pooled connections...
        shutil.rmtree(db_dir)  # ...so the next connect cannot open the file
        return {}

    async with client_for(app) as client:
        assert (await client.get("/health/ready")).status_code == 200
        await client.get("/break-database")
        with caplog.at_level(logging.WARNING, logger="workshop_app"):
            response = await client.get("/health/ready")

    error = response.json()["error"]
    assert response.status_code == 503
    assert error["code"] == "NOT_READY"
    assert error["message"] == "The database is not reachable."
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "sqlite" not in response.text.lower() and "unable" not in response.text.lower()
    assert any(record.exc_info for record in caplog.records)  # the cause is logged, not sent


@pytest.mark.anyio
async def test_sqlite_connections_enforce_foreign_keys(app_settings):
    engine = create_engine(app_settings)
    try:
        async with engine.connect() as connection:
            enabled = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await engine.dispose()

    assert enabled == 1


@pytest.mark.anyio
async def test_ping_times_out_instead_of_hanging():
    class HangingEngine:
        @asynccontextmanager
        async def connect(self):
            await asyncio.sleep(60)
            yield

    with pytest.raises(TimeoutError):
        await ping(HangingEngine(), timeout=0.05)  # type: ignore[arg-type]
