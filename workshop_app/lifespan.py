"""What runs before the first request and after the last: the app's lifespan.

Startup opens the engine, proves the database answers, prepares the schema, loads the
demo data when asked, connects the shared rate-limit store when there is one, and starts
the background worker and the event relay. Each step that fails stops the server with a
``StartupError`` naming the setting to fix (password masked), instead of a 500 on the first
request. Shutdown runs in reverse: drain the queued events and work (within one
``shutdown_timeout_seconds`` for both), close the store, then dispose the engine. What the
app needs at run time is *yielded* as the state, which the server copies into every
``request.state``: nothing lives in module globals, so two apps never share it.
"""

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import TypedDict

from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings
from workshop_app.database import create_engine, create_schema, ping
from workshop_app.event_handlers import AppEvents, build_app_events
from workshop_app.logging_config import configure_logging
from workshop_app.seed import load_seed_data
from workshop_app.worker import BackgroundWorker

logger = logging.getLogger(__name__)


class State(TypedDict):
    """Lifespan state; the server hands every request a shallow copy as ``request.state``.
    The settings are not in it: they belong to the app (``app.state.settings``)."""

    engine: AsyncEngine
    events: AppEvents
    worker: BackgroundWorker


class StartupError(RuntimeError):
    """The app refused to start; the message says what failed and which setting to fix."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """Start everything in order, yield the state, stop everything in reverse order."""
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    async with AsyncExitStack() as on_shutdown:  # runs its callbacks last-in, first-out
        with _startup_step("create the database engine", settings):
            engine = create_engine(settings)
        on_shutdown.push_async_callback(_dispose, engine)
        with _startup_step("reach the database", settings):
            await ping(engine)
        await _prepare_schema(engine, settings)
        if settings.seed_demo_data:
            with _startup_step("load the demo data", settings, fix=_SEED_FIX):
                await _seed(engine)
        store = getattr(app.state, "rate_limit_store", None)
        if store is not None:
            with _startup_step("reach the rate-limit store", settings, fix=_STORE_FIX):
                await store.connect()
            on_shutdown.push_async_callback(store.close)
        instance = instance_name()
        worker = BackgroundWorker(
            engine,
            app.state.mailer,
            instance=instance,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.task_max_attempts,
            interval=settings.worker_interval_seconds,
        )
        events = build_app_events(settings, engine, worker, instance=instance)
        worker.start()  # both do what is due, from one interval after the start
        events.relay.start()
        on_shutdown.push_async_callback(
            _stop_background, events, worker, settings.shutdown_timeout_seconds
        )
        logger.info(
            "Started %s %s (%s) as %s",
            settings.app_name,
            settings.app_version,
            settings.environment,
            instance,
        )
        yield {"engine": engine, "events": events, "worker": worker}
    logger.info("Stopped %s", settings.app_name)


async def _prepare_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Create missing tables, or, when migrations own them, require the current revision."""
    if settings.auto_create_schema:
        with _startup_step("create the tables", settings):
            await create_schema(engine)
        return
    # Imported here: Alembic is only needed when migrations own the schema (notebook 12).
    from workshop_app.migrations import require_current_schema

    with _startup_step("verify the schema", settings, fix=_MIGRATIONS_FIX):
        await require_current_schema(engine)


async def _seed(engine: AsyncEngine) -> None:
    """Load the demo rows in a session of their own, committed before the first request."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        report = await load_seed_data(session)
        await session.commit()
    logger.info(
        "Demo data: %d users and %d orders added, %d users and %d orders already there",
        report.users_added,
        report.orders_added,
        report.users_skipped,
        report.orders_skipped,
    )


def instance_name() -> str:
    """Who holds a claim on a row of work: unique across hosts, processes and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def _stop_background(events: AppEvents, worker: BackgroundWorker, timeout: float) -> None:
    """Stop the relay, then the worker, each draining what is queued, within ``timeout``
    seconds in all (the relay first: its handlers may queue work). One deadline: an
    orchestrator kills the process once its grace period ends. What is left stays pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        left = await events.relay.stop(timeout=timeout)
        logger.info("Event relay stopped, %d event(s) left pending", left)
    finally:
        await worker.stop(timeout=max(0.0, deadline - loop.time()))


async def _dispose(engine: AsyncEngine) -> None:
    await engine.dispose()
    logger.info("Database engine disposed")


_SEED_FIX = "Fix the files in data/seed, or set WORKSHOP_SEED_DEMO_DATA=false."
_STORE_FIX = "Check WORKSHOP_RATE_LIMIT_STORE_URL, or leave it empty for the in-memory store."
_MIGRATIONS_FIX = "WORKSHOP_AUTO_CREATE_SCHEMA is false: the tables come from migrations only."


@contextmanager
def _startup_step(action: str, settings: Settings, *, fix: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into a ``StartupError`` naming the setting to fix."""
    try:
        yield
    except Exception as exc:
        raise StartupError(_startup_failure(action, settings, exc, fix)) from exc


def _startup_failure(action: str, settings: Settings, exc: Exception, fix: str | None) -> str:
    """Say what failed and what to change, without ever showing the password."""
    url = make_url(settings.database_url)
    # SQLAlchemy wraps the driver's error; its first line is the useful part.
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    cause = f"{type(exc).__name__}: {reason[0][:300]}" if reason else type(exc).__name__
    if url.password:
        cause = cause.replace(url.password, "***")
    if fix is None:
        shown = url.render_as_string(hide_password=True)
        fix = f"Check WORKSHOP_DATABASE_URL (currently {shown!r})."
    return f"Cannot {action} at startup ({cause}). {fix}"
