"""Exercise of notebook 10 (lifespan): a startup check that refuses a read-only database.

The learner wraps the app's lifespan in one of their own that runs a write which changes
nothing (``WRITE_PROBE``) before the ``yield``. The check installs it on two real apps:
one on a writable SQLite file, which must start, serve and stop as before; one on the
same file opened read-only (``?mode=ro``), which must refuse to start with a
``RuntimeError`` that names ``WORKSHOP_DATABASE_URL`` and keeps the driver's error as
its cause. Without the check that app starts, passes its readiness probe, and answers
500 to the first write: the check shows the learner exactly that.
"""

from __future__ import annotations

import inspect
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ..client import app_client
from ._base import Exercise, ExerciseFailed, StateSpy

NOTEBOOK_ID = "10_lifespan"
SETTING = "WORKSHOP_DATABASE_URL"

STARTER = '''\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from workshop_app.lifespan import State, lifespan

WRITE_PROBE = text("UPDATE users SET id = id WHERE 1 = 0")  # a write that changes no row


@asynccontextmanager
async def lifespan_with_write_check(app: FastAPI) -> AsyncIterator[State]:
    """The app's lifespan, plus: refuse to start on a database that cannot be written."""
    async with lifespan(app) as state:
        # TODO: run WRITE_PROBE in a transaction on state["engine"]; when it fails,
        # raise a RuntimeError that names WORKSHOP_DATABASE_URL.
        yield state
'''

SOLUTION = '''\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from workshop_app.lifespan import State, lifespan

WRITE_PROBE = text("UPDATE users SET id = id WHERE 1 = 0")  # a write that changes no row


@asynccontextmanager
async def lifespan_with_write_check(app: FastAPI) -> AsyncIterator[State]:
    """The app's lifespan, plus: refuse to start on a database that cannot be written."""
    async with lifespan(app) as state:
        try:
            async with state["engine"].begin() as connection:
                await connection.execute(WRITE_PROBE)
        except Exception as exc:
            raise RuntimeError(
                "The database refuses writes (a read replica? a read-only volume?): "
                "check WORKSHOP_DATABASE_URL."
            ) from exc
        yield state  # leaving `async with lifespan(app)` above also runs its shutdown
'''


def _new_user(email: str) -> dict[str, str]:
    return {"email": email, "full_name": "Check", "password": "correct horse"}


def _validate(candidate: Any) -> None:
    """A lifespan is a function that takes the app and returns an async context manager."""
    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app; pass the lifespan function itself: "
            "check('10.startup_check', lifespan_with_write_check) - no parentheses."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function lifespan_with_write_check, got {type(candidate).__name__}."
        )
    made = candidate(Starlette())  # an @asynccontextmanager function runs nothing yet
    if inspect.isasyncgen(made):
        raise ExerciseFailed(
            "lifespan_with_write_check is an async generator, not a context manager: "
            "put @asynccontextmanager on the line above `async def`."
        )
    if inspect.iscoroutine(made):
        made.close()  # never awaited on purpose
        raise ExerciseFailed(
            "lifespan_with_write_check is a plain `async def` that returns: a lifespan "
            "yields its state once, between startup and shutdown, under @asynccontextmanager."
        )
    if not hasattr(made, "__aenter__"):
        raise ExerciseFailed(
            f"lifespan_with_write_check(app) returned a {type(made).__name__}, not an async "
            "context manager: decorate it with @asynccontextmanager and `yield state`."
        )


def _app(candidate: Any, database_url: str) -> Starlette:
    from workshop_app.config import Settings  # imported late: the notebook rewrites them
    from workshop_app.main import create_app

    settings = Settings(
        environment="test",
        database_url=database_url,
        rate_limit_enabled=False,
        log_level="CRITICAL",  # the read-only app logs its failed writes: not the point here
        event_relay_interval_seconds=3600,
    )
    app = create_app(settings)
    app.router.lifespan_context = candidate
    return app


def _key(app: Starlette) -> dict[str, str]:
    return {"X-API-Key": app.state.settings.api_key.get_secret_value()}


async def _writable_app_works(candidate: Any, database: Path) -> None:
    app = _app(candidate, f"sqlite+aiosqlite:///{database}")
    spy = StateSpy(app)
    try:
        async with app_client(spy) as client:
            await client.get("/health/live")
            engine = (spy.state or {}).get("engine")
            if not isinstance(engine, AsyncEngine) or "events" not in (spy.state or {}):
                keys = sorted(spy.state or {})
                raise ExerciseFailed(
                    f"request.state holds {keys}, without the app's engine and events: "
                    "`yield state`, the state you got from `async with lifespan(app) as state`."
                )
            created = await client.post(
                "/users", json=_new_user("first@example.com"), headers=_key(app)
            )
    except ExerciseFailed:
        raise
    except Exception as exc:
        if spy.state is None:
            raise ExerciseFailed(
                f"Your lifespan refused to start on a WRITABLE database: {_describe(exc)}. "
                "Only a failing WRITE_PROBE may stop the start."
            ) from None
        raise ExerciseFailed(
            f"The app on a writable database started, then failed at shutdown: {_describe(exc)}"
        ) from None
    if created.status_code != 201:
        raise ExerciseFailed(
            f"On a writable database POST /users answered {created.status_code}: "
            f"{created.text[:200]}"
        )
    extra = _tables(database) - _expected_tables()
    if extra:
        raise ExerciseFailed(
            f"Your probe left {sorted(extra)} in the database: a startup check must change "
            "nothing. Use WRITE_PROBE, an UPDATE that matches no row."
        )


async def _read_only_app_refuses(candidate: Any, database: Path) -> None:
    app = _app(candidate, f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true")
    spy = StateSpy(app)
    outcome: dict[str, httpx.Response] = {}
    try:
        async with app_client(spy) as client:
            outcome["ready"] = await client.get("/health/ready")
            outcome["write"] = await client.post(
                "/users", json=_new_user("second@example.com"), headers=_key(app)
            )
    except Exception as exc:
        if spy.state is not None:
            raise ExerciseFailed(
                "The app started on the read-only database, served requests, and only raised "
                f"at shutdown ({_describe(exc)}): your check runs after the `yield`. Move it "
                "before, so it runs at startup."
            ) from None
        _judge_refusal(exc)
        return
    ready, write = outcome["ready"], outcome["write"]
    raise ExerciseFailed(
        f"The app started on a read-only database: GET /health/ready answered "
        f"{ready.status_code}, then POST /users answered {write.status_code}. Before the "
        'yield, run WRITE_PROBE in `async with state["engine"].begin() as connection:` and '
        f"raise a RuntimeError naming {SETTING} when it fails."
    )


def _judge_refusal(exc: BaseException) -> None:
    if not isinstance(exc, RuntimeError):
        raise ExerciseFailed(
            f"It refused to start, but with the driver's own error ({_describe(exc)}): an "
            f"operator cannot tell which setting to fix. Catch it and `raise RuntimeError("
            f'"... {SETTING} ...") from exc`.'
        )
    if SETTING not in str(exc):
        raise ExerciseFailed(
            f"It refused to start with RuntimeError({str(exc)[:150]!r}), which does not name "
            f"the setting to fix: mention {SETTING} in the message."
        )
    if exc.__cause__ is None:
        raise ExerciseFailed(
            "Right message, but the driver's error is gone: write `raise RuntimeError(...) "
            "from exc`, so the traceback still shows why the write failed."
        )


def _describe(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in names}


def _expected_tables() -> set[str]:
    from sqlmodel import SQLModel

    return set(SQLModel.metadata.tables)


async def verify_startup_check(candidate: Any) -> None:
    _validate(candidate)
    with tempfile.TemporaryDirectory(prefix="workshop-10-") as folder:
        database = Path(folder) / "orders.db"
        await _writable_app_works(candidate, database)  # also creates the tables
        await _read_only_app_refuses(candidate, database)


EXERCISES = (
    Exercise(
        id="10.startup_check",
        notebook_id=NOTEBOOK_ID,
        title="Refuse to start on a read-only database",
        instructions=(
            "Complete lifespan_with_write_check(app): inside `async with lifespan(app) as "
            'state`, before the yield, run WRITE_PROBE in a transaction on state["engine"]; '
            f"when it fails, raise a RuntimeError naming {SETTING}, from the driver's error."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="lifespan_with_write_check",
        verify=verify_startup_check,
        success=(
            "A writable database starts and serves as before; a read-only one stops the app "
            "at startup with a message that names the setting."
        ),
    ),
)
