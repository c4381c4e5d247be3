"""Exercises of notebook 02 (application factory and health): a test-configured app.

The check builds the learner's app twice and runs both at once, the way two tests
in one process would: each must start, answer its probes, skip the rate limiter
and keep its data to itself.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ..client import app_client
from ._base import Exercise, ExerciseFailed, StateSpy

NOTEBOOK_ID = "02_factory"

TEST_APP_STARTER = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.main import create_app


def build_test_app() -> FastAPI:
    """A fresh app for one test: test environment, its own database, no rate limit."""
    settings = Settings()  # TODO: configure these settings for tests
    return create_app(settings)
'''

TEST_APP_SOLUTION = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.main import create_app


def build_test_app() -> FastAPI:
    """A fresh app for one test: test environment, its own database, no rate limit."""
    settings = Settings(
        environment="test",
        database_url="sqlite+aiosqlite:///:memory:",  # a new, empty database per engine
        rate_limit_enabled=False,  # a test may send as many requests as it likes
        log_level="WARNING",  # no access-log line per request in the test output
    )
    return create_app(settings)
'''

PROBES = {"/health/live": {"status": "ok"}, "/health/ready": {"status": "ready", "database": "ok"}}


def _build(candidate: Any) -> Starlette:
    """Call the learner's function once and make sure it returned an app."""
    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app object; pass the function itself: "
            "check('02.test_app', build_test_app) - no parentheses. Each test calls it."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function build_test_app, got {type(candidate).__name__}. "
            "Define it with `def build_test_app() -> FastAPI:`."
        )
    try:
        app = candidate()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()[:2]
        )
        raise ExerciseFailed(f"Settings(...) rejected a value ({problems}).") from None
    if inspect.iscoroutine(app):
        app.close()  # never awaited on purpose: avoid a "never awaited" warning
        raise ExerciseFailed(
            "build_test_app is `async def`, so calling it returns a coroutine, not an app. "
            "Make it a plain `def`: create_app is not async."
        )
    if app is None:
        raise ExerciseFailed(
            "build_test_app() returned None: end it with `return create_app(settings)`."
        )
    if inspect.isfunction(app):
        raise ExerciseFailed(
            f"build_test_app() returned the function {app.__name__} instead of an app: "
            "call it, `return create_app(settings)`."
        )
    if not isinstance(app, Starlette):
        raise ExerciseFailed(
            f"build_test_app() returned a {type(app).__name__}, not an app: "
            "return create_app(settings)."
        )
    return app


def _settings_of(app: Starlette) -> Any:
    settings = getattr(app.state, "settings", None)
    if settings is None or not hasattr(settings, "rate_limit_enabled"):
        raise ExerciseFailed(
            "The app has no app.state.settings, so it was not built by create_app: "
            "`return create_app(settings)` gives it the middleware, error handlers, "
            "routers and lifespan of the real app (a bare FastAPI() has none of them)."
        )
    return settings


def _is_process_settings(settings: Any) -> bool:
    """Whether the app got the cached, environment-derived settings of the process."""
    from workshop_app.config import get_settings  # the learner's current module

    try:
        return settings is get_settings()
    except ValidationError:  # the environment itself is invalid: not what we were given
        return False


def _check_settings(settings: Any) -> None:
    if _is_process_settings(settings):
        raise ExerciseFailed(
            "The app uses the process-wide get_settings(), read once from the environment "
            "and cached: you called create_app() without settings. Pass the test's own "
            "Settings(...) so no environment variable can change what the test runs against."
        )
    if settings.environment != "test":
        raise ExerciseFailed(
            f"app.state.settings.environment is {settings.environment!r}: pass "
            'Settings(environment="test", ...) so the app (and its logs) say they run under tests.'
        )
    if settings.rate_limit_enabled:
        raise ExerciseFailed(
            f"The rate limiter is on ({settings.rate_limit_requests} requests per "
            f"{settings.rate_limit_window_seconds:g} s): a test that sends more gets 429s "
            "that have nothing to do with what it tests. Pass rate_limit_enabled=False."
        )


async def _aiosqlite_threads_finished() -> None:
    """After a failed connect aiosqlite's worker thread reports to the loop: let it, first."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(
        "_connection_worker_thread" in thread.name for thread in threading.enumerate()
    ):
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _started(app: Starlette) -> AsyncIterator[tuple[httpx.AsyncClient, StateSpy]]:
    spy = StateSpy(app)
    try:
        async with app_client(spy, raise_app_exceptions=True) as client:
            yield client, spy
    except ExerciseFailed:
        raise
    except Exception as exc:
        if spy.state is not None:  # it started: the error came from a request, not startup
            raise
        await _aiosqlite_threads_finished()
        raise ExerciseFailed(f"The app did not start: {exc}") from None


async def _check_probes(client: httpx.AsyncClient) -> None:
    for path, expected in PROBES.items():
        response = await client.get(path)
        if response.status_code != 200 or response.json() != expected:
            raise ExerciseFailed(
                f"GET {path} answered {response.status_code} {response.text[:200]}, expected "
                f"200 {expected}. Keep the app's own routers: build it with create_app."
            )
    response = await client.get("/openapi.json")
    if "ratelimit-limit" in response.headers:
        raise ExerciseFailed(
            f"GET /openapi.json came back with RateLimit-Limit: "
            f"{response.headers['ratelimit-limit']}: the rate limiter still runs. "
            "Pass rate_limit_enabled=False."
        )


def _engine(spy: StateSpy) -> AsyncEngine:
    engine = (spy.state or {}).get("engine")
    if not isinstance(engine, AsyncEngine):
        raise ExerciseFailed(
            "No engine reached request.state: keep create_app's lifespan, which opens it."
        )
    return engine


async def _check_own_database(first: AsyncEngine, second: AsyncEngine) -> None:
    """A table created through one app must not exist for the other."""
    table = f"check_{uuid.uuid4().hex[:12]}"
    async with first.begin() as connection:
        await connection.execute(text(f'CREATE TABLE "{table}" (id INTEGER)'))
    try:
        async with second.connect() as connection:
            seen = await connection.run_sync(
                lambda sync: sqlalchemy_inspect(sync).get_table_names()
            )
    finally:
        async with first.begin() as connection:
            await connection.execute(text(f'DROP TABLE "{table}"'))
    if table in seen:
        url = first.url.render_as_string(hide_password=True)
        raise ExerciseFailed(
            f"Two apps from build_test_app() share one database ({url}): a table created "
            "by one test shows up in the next. Give every app its own: "
            "sqlite+aiosqlite:///:memory: is new and empty for each engine."
        )


async def verify_test_app(candidate: Any) -> None:
    first = _build(candidate)
    _check_settings(_settings_of(first))
    second = _build(candidate)
    if second is first:
        raise ExerciseFailed(
            "Two calls of build_test_app() returned the same app object: tests would share "
            "its rate-limit buckets, overrides and state. Call create_app(...) inside the "
            "function, not once at module level."
        )
    async with AsyncExitStack() as stack:
        client_1, spy_1 = await stack.enter_async_context(_started(first))
        client_2, spy_2 = await stack.enter_async_context(_started(second))
        for client in (client_1, client_2):
            await _check_probes(client)
        await _check_own_database(_engine(spy_1), _engine(spy_2))


EXERCISES = (
    Exercise(
        id="02.test_app",
        notebook_id=NOTEBOOK_ID,
        title="A test-configured app",
        instructions=(
            "Write build_test_app() -> FastAPI. It returns create_app(settings) with "
            'Settings for tests: environment="test", a database of its own (new and empty '
            "for every app) and the rate limiter off. Every call returns a new app."
        ),
        starter=TEST_APP_STARTER,
        solution=TEST_APP_SOLUTION,
        name="build_test_app",
        verify=verify_test_app,
        success=(
            "Two apps from it start side by side, answer their probes, skip the rate limiter "
            "and keep their databases apart."
        ),
    ),
)
