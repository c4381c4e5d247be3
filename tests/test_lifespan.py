"""The lifespan: startup order and state, refusals that name the setting, seeding, the
schema branch, and a shutdown that drains the queued events before disposing the engine."""

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from sqlalchemy import event, text
from sqlmodel import SQLModel

import workshop_app.migrations
from workshop_app import lifespan as lifespan_module
from workshop_app import main
from workshop_app.config import Settings
from workshop_app.database import create_engine, create_schema
from workshop_app.dependencies import SessionDep
from workshop_app.event_relay import EventRelay
from workshop_app.events import DomainEvent, UserRegistered
from workshop_app.lifespan import StartupError, lifespan
from workshop_app.mail import MemoryMailer
from workshop_app.main import create_app
from workshop_app.services.event_store import record_event
from workshop_app.worker import BackgroundWorker

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("clean_env")]

PASSWORD_URL = "postgresql+asyncpg://orders:pw-123@db/orders"


@pytest.fixture
async def aiosqlite_threads_finished():
    """After a failed connect aiosqlite's worker thread reports to the loop: keep it open."""
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "_connection_worker_thread" in thread.name for thread in threading.enumerate()
    ):
        await asyncio.sleep(0.01)


def file_settings(database: Path, **overrides) -> Settings:
    """A file database (rows survive the app), no rate limit, and a relay loop that waits an
    hour between runs, so only startup, the routes and shutdown dispatch events."""
    values = {
        "environment": "test",
        "database_url": f"sqlite+aiosqlite:///{database}",
        "rate_limit_enabled": False,
        "event_relay_interval_seconds": 3600,
    }
    return Settings(**{**values, **overrides})


def with_probes(app: FastAPI) -> FastAPI:
    """Test-only routes: what the lifespan handed the request, and an event to queue."""

    @app.get("/probe")
    async def probe(request: Request) -> dict:
        engine = request.state.engine
        async with engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            return {
                "state_keys": sorted(request.scope["state"]),
                "app_name": request.app.state.settings.app_name,
                "tables": sorted(tables.scalars()),
            }

    @app.post("/queue-event")
    async def queue_event(session: SessionDep) -> dict:
        """Record an event and dispatch nothing: it waits for the relay."""
        row = await record_event(session, UserRegistered(user_id=1, email="ada@example.com"))
        return {"id": row.id}

    return app


def query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


async def refused(app: FastAPI) -> StartupError:
    """Start ``app``, expect the lifespan to refuse, return its error."""
    with pytest.raises(StartupError) as caught:
        async with LifespanManager(app):
            pytest.fail("startup should have failed")
    return caught.value


def watch_disposal(monkeypatch) -> list:
    """Record every engine the lifespan disposes (hooked where the engine is created)."""
    disposed: list = []
    real_create_engine = lifespan_module.create_engine

    def create_engine(settings):
        engine = real_create_engine(settings)
        event.listen(engine.sync_engine, "engine_disposed", disposed.append)
        return engine

    monkeypatch.setattr(lifespan_module, "create_engine", create_engine)
    return disposed


# --- startup -------------------------------------------------------------------------


def test_the_factory_imports_this_lifespan_and_defines_none():
    assert main.lifespan is lifespan
    assert "asynccontextmanager" not in Path(main.__file__).read_text()


async def test_startup_runs_in_order_and_shutdown_in_reverse(monkeypatch, tmp_path):
    timeline: list[str] = []

    def record(name, real):
        async def step(*args, **kwargs):
            timeline.append(name)
            return await real(*args, **kwargs)

        monkeypatch.setattr(lifespan_module, name, step)

    for name in ("ping", "create_schema", "load_seed_data"):
        record(name, getattr(lifespan_module, name))
    real_build = lifespan_module.build_app_events

    def build_app_events(settings, engine, worker, *, instance):
        events = real_build(settings, engine, worker, instance=instance)
        event.listen(engine.sync_engine, "engine_disposed", lambda _: timeline.append("dispose"))
        relay_type = type(events.relay)

        def start():
            timeline.append("relay.start")
            relay_type.start(events.relay)

        async def stop(timeout):
            timeline.append(f"relay.stop({timeout:g})")
            return await relay_type.stop(events.relay, timeout)

        monkeypatch.setattr(events.relay, "start", start)
        monkeypatch.setattr(events.relay, "stop", stop)
        return events

    monkeypatch.setattr(lifespan_module, "build_app_events", build_app_events)
    app = with_probes(
        create_app(
            file_settings(tmp_path / "app.db", seed_demo_data=True, shutdown_timeout_seconds=2)
        )
    )

    async with LifespanManager(app) as manager:
        timeline.append("serving")
        assert sorted(manager._state) == ["engine", "events", "worker"]

    assert timeline == [
        "ping",
        "create_schema",
        "load_seed_data",
        "relay.start",
        "serving",
        "relay.stop(2)",
        "dispose",
    ]


async def test_the_state_reaches_every_request(client_for, app_settings):
    app = with_probes(create_app(app_settings))

    async with client_for(app) as client:
        body = (await client.get("/probe")).json()

    assert {"engine", "events"} <= set(body["state_keys"])
    assert body["app_name"] == app_settings.app_name
    assert body["tables"] == sorted(SQLModel.metadata.tables)
    assert "stored_events" in body["tables"]


async def test_the_mailer_requests_use_is_the_one_the_handlers_get(client_for, app_settings):
    preset = create_app(app_settings)
    preset.state.mailer = mailbox = MemoryMailer()
    bare = create_app(app_settings)

    async with client_for(preset), client_for(bare):
        assert preset.state.mailer is mailbox  # a provider's client set before start is kept
        assert isinstance(bare.state.mailer, MemoryMailer)  # else one per app, made at start


async def test_logs_start_and_both_shutdown_steps(client_for, app_settings, caplog):
    with caplog.at_level(logging.INFO, logger="workshop_app"):
        async with client_for(create_app(app_settings)):
            assert any(m.startswith("Started Orders API 1.0.0 (test) as ") for m in caplog.messages)

    tail = caplog.messages[-3:]
    assert tail == [
        "Event relay stopped, 0 event(s) left pending",
        "Database engine disposed",
        "Stopped Orders API",
    ]


# --- startup failures ----------------------------------------------------------------


@pytest.mark.usefixtures("aiosqlite_threads_finished")
@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:////nonexistent-workshop-dir/app.db",
        "postgresql+asyncpg://orders:pw-123@127.0.0.1:1/orders",
    ],
)
async def test_an_unreachable_database_stops_startup_naming_the_setting(url):
    error = await refused(create_app(Settings(database_url=url)))

    assert isinstance(error, RuntimeError)  # what uvicorn and older callers catch
    assert "Check WORKSHOP_DATABASE_URL" in str(error)
    assert "pw-123" not in str(error)
    assert error.__cause__ is not None


@pytest.mark.usefixtures("aiosqlite_threads_finished")
async def test_the_startup_error_names_the_cause_and_the_variable():
    url = "sqlite+aiosqlite:////nonexistent-workshop-dir/app.db"

    error = await refused(create_app(Settings(database_url=url)))

    assert str(error) == (
        "Cannot reach the database at startup (OperationalError: unable to open database file). "
        f"Check WORKSHOP_DATABASE_URL (currently '{url}')."
    )


async def test_a_missing_driver_is_reported_as_such(monkeypatch):
    def no_driver(settings):
        raise ModuleNotFoundError("No module named 'asyncpg'", name="asyncpg")

    monkeypatch.setattr(lifespan_module, "create_engine", no_driver)

    message = str(await refused(create_app(Settings(database_url=PASSWORD_URL))))

    assert message.startswith("Cannot create the database engine at startup (ModuleNotFoundError")
    assert "No module named 'asyncpg'" in message
    assert "postgresql+asyncpg://orders:***@db/orders" in message


async def test_a_password_in_the_driver_message_is_masked(monkeypatch):
    def refuses(settings):
        raise ConnectionError("login orders:pw-123 refused")

    monkeypatch.setattr(lifespan_module, "create_engine", refuses)

    message = str(await refused(create_app(Settings(database_url=PASSWORD_URL))))

    assert "(ConnectionError: login orders:*** refused)" in message
    assert "pw-123" not in message


async def test_a_schema_failure_stops_startup_and_disposes_the_engine(monkeypatch, app_settings):
    disposed = watch_disposal(monkeypatch)

    async def broken_create_schema(engine):
        raise PermissionError("permission denied for schema public")

    monkeypatch.setattr(lifespan_module, "create_schema", broken_create_schema)

    error = await refused(create_app(app_settings))

    assert str(error).startswith(
        "Cannot create the tables at startup (PermissionError: permission denied"
    )
    assert len(disposed) == 1


async def test_a_seed_failure_names_its_setting_and_disposes_the_engine(monkeypatch, app_settings):
    disposed = watch_disposal(monkeypatch)

    async def broken_seed(session):
        raise ValueError("Seed order o-9 names an unknown user 'nobody@example.com'.")

    monkeypatch.setattr(lifespan_module, "load_seed_data", broken_seed)
    settings = app_settings.model_copy(update={"seed_demo_data": True})

    error = await refused(create_app(settings))

    assert str(error) == (
        "Cannot load the demo data at startup (ValueError: Seed order o-9 names an unknown "
        "user 'nobody@example.com'.). "
        "Fix the files in data/seed, or set WORKSHOP_SEED_DEMO_DATA=false."
    )
    assert len(disposed) == 1


# --- seeding -------------------------------------------------------------------------


async def test_seeding_when_configured_is_idempotent_across_starts(tmp_path, caplog):
    database = tmp_path / "seeded.db"
    counts = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM orders)"

    with caplog.at_level(logging.INFO, logger="workshop_app"):
        async with LifespanManager(create_app(file_settings(database, seed_demo_data=True))):
            pass
        first = query(database, counts)
        async with LifespanManager(create_app(file_settings(database, seed_demo_data=True))):
            pass

    assert query(database, counts) == first
    users, orders = first[0]
    assert users > 0 and orders > 0
    demo = [message for message in caplog.messages if message.startswith("Demo data")]
    assert demo == [
        f"Demo data: {users} users and {orders} orders added, 0 users and 0 orders already there",
        f"Demo data: 0 users and 0 orders added, {users} users and {orders} orders already there",
    ]


async def test_no_demo_data_unless_asked(tmp_path):
    database = tmp_path / "empty.db"

    async with LifespanManager(create_app(file_settings(database))):
        pass

    assert query(database, "SELECT count(*) FROM users") == [(0,)]


# --- the schema branch ---------------------------------------------------------------


async def test_migrations_own_the_schema_an_unmigrated_database_refuses_to_start(tmp_path):
    database = tmp_path / "unmigrated.db"

    error = await refused(create_app(file_settings(database, auto_create_schema=False)))

    message = str(error)
    assert message.startswith("Cannot verify the schema at startup (RuntimeError: ")
    assert "alembic upgrade head" in message
    assert "WORKSHOP_AUTO_CREATE_SCHEMA is false" in message
    assert query(database, "SELECT name FROM sqlite_master WHERE type = 'table'") == []


async def test_migrations_own_the_schema_create_schema_is_not_called(monkeypatch, tmp_path):
    settings = file_settings(tmp_path / "migrated.db", auto_create_schema=False)
    engine = create_engine(settings)
    await create_schema(engine)  # stands in for `alembic upgrade head`
    await engine.dispose()
    checked, created = [], []

    async def schema_is_current(engine):
        checked.append(engine)

    async def must_not_run(engine):
        created.append(engine)

    monkeypatch.setattr(workshop_app.migrations, "require_current_schema", schema_is_current)
    monkeypatch.setattr(lifespan_module, "create_schema", must_not_run)

    async with LifespanManager(create_app(settings)):
        pass

    assert (len(checked), created) == (1, [])


# --- shutdown ------------------------------------------------------------------------


async def test_shutdown_dispatches_the_queued_events_then_disposes_the_engine(
    tmp_path, client_for, caplog
):
    database = tmp_path / "events.db"
    app = with_probes(create_app(file_settings(database)))

    with caplog.at_level(logging.INFO, logger="workshop_app"):
        async with client_for(app) as client:
            queued = [(await client.post("/queue-event")).json()["id"] for _ in range(3)]
            pending = query(database, "SELECT count(*) FROM stored_events WHERE status = 'pending'")
            assert pending == [(3,)]  # the loop waits an hour: only shutdown can send them

    assert query(database, "SELECT id, status FROM stored_events ORDER BY id") == [
        (event_id, "dispatched") for event_id in queued
    ]
    assert query(database, "SELECT count(*) FROM audit_entries") == [(3,)]
    stopped = caplog.messages.index("Event relay stopped, 0 event(s) left pending")
    assert stopped < caplog.messages.index("Database engine disposed")


async def test_events_left_at_a_shutdown_timeout_go_out_at_the_next_start(
    tmp_path, client_for, monkeypatch, caplog
):
    database = tmp_path / "events.db"
    real_build = lifespan_module.build_app_events

    async def stuck(event: DomainEvent) -> None:
        await asyncio.sleep(60)  # a handler that outlives any shutdown timeout

    def build_with_a_stuck_handler(settings, engine, worker, *, instance):
        events = real_build(settings, engine, worker, instance=instance)
        events.bus.subscribe(DomainEvent, stuck, name="stuck")
        return events

    monkeypatch.setattr(lifespan_module, "build_app_events", build_with_a_stuck_handler)
    first = with_probes(
        # the handlers' time limit (half the lease) is longer than the shutdown's
        create_app(file_settings(database, shutdown_timeout_seconds=0.2, lease_seconds=0.6))
    )
    with caplog.at_level(logging.WARNING, logger="workshop_app"):
        async with client_for(first) as client:
            await client.post("/queue-event")
    assert "1 event(s) left unfinished at shutdown; a relay dispatches them later" in (
        caplog.messages
    )
    [(status,)] = query(database, "SELECT status FROM stored_events")
    assert status in ("pending", "dispatching")  # not dispatched, and not lost

    monkeypatch.setattr(lifespan_module, "build_app_events", real_build)
    await asyncio.sleep(0.6)  # the stopped relay's lease ends
    async with client_for(create_app(file_settings(database))):
        pass  # the next relay takes the claim over; its shutdown drain dispatches it

    assert query(database, "SELECT status FROM stored_events") == [("dispatched",)]
    assert query(database, "SELECT count(*) FROM audit_entries") == [(1,)]


async def test_the_relay_and_the_worker_share_one_shutdown_timeout(monkeypatch, app_settings):
    """Each stop takes all the time it is given, as with work that will not finish: the
    shutdown still ends after shutdown_timeout_seconds, not once per stop."""
    given: dict[str, float] = {}

    def uses_all_its_time(name: str):
        async def stop(self, timeout: float) -> int:
            given[name] = timeout
            await asyncio.sleep(timeout)
            return 0

        return stop

    monkeypatch.setattr(EventRelay, "stop", uses_all_its_time("relay"))
    monkeypatch.setattr(BackgroundWorker, "stop", uses_all_its_time("worker"))
    settings = app_settings.model_copy(update={"shutdown_timeout_seconds": 0.4})
    async with LifespanManager(create_app(settings)):
        started = time.monotonic()
    took = time.monotonic() - started
    # The worker is given what the relay left of the one deadline (before: 0.4 s each).
    assert given["relay"] == 0.4 and given["worker"] < 0.05
    assert took >= 0.4


async def test_a_failing_relay_stop_still_disposes_the_engine(monkeypatch, app_settings):
    disposed = watch_disposal(monkeypatch)
    real_build = lifespan_module.build_app_events

    def build_with_a_broken_stop(settings, engine, worker, *, instance):
        events = real_build(settings, engine, worker, instance=instance)

        async def stop(timeout):
            await type(events.relay).stop(events.relay, timeout)
            raise ConnectionError("database went away during shutdown")

        monkeypatch.setattr(events.relay, "stop", stop)
        return events

    monkeypatch.setattr(lifespan_module, "build_app_events", build_with_a_broken_stop)

    with pytest.raises(ConnectionError, match="went away"):
        async with LifespanManager(create_app(app_settings)):
            pass

    assert len(disposed) == 1
