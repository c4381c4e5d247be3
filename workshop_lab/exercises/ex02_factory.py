"""Exercise of notebook 02 (application factory and health): the app's lifespan.

The learner writes the lifespan that ``main.py`` then holds: make this app's engine from
the settings the app was built with, prove the database answers, yield the engine as the
state, and dispose of it on every way out. The check plugs it into
``FastAPI(lifespan=...)`` next to the health router and runs real apps:

* one on a working SQLite file: it starts, both probes answer (several readiness probes
  at once), the engine in the state is this app's own, built by ``create_engine`` (SQLite's
  foreign keys on), still open while the app runs and disposed at shutdown;
* one whose database file cannot be opened: the startup must fail with the database's
  error (not be swallowed, not be skipped) and the engine must be disposed all the same;
* two at once, each on its own file: two engines, each on its app's database, both
  disposed, and neither is the engine of an app that ran before.

Engines are watched through SQLAlchemy's class-level events (a disposal, a connection
attempt), so a disposal is seen even for the engine of a startup that failed, which no
request ever gets to see.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ..client import app_client
from ._base import (
    Exercise,
    ExerciseFailed,
    article,
    entered_lifespan,
    require_arguments,
    require_lifespan,
)

NOTEBOOK_ID = "02_factory"

LIFESPAN_STARTER = '''\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

# TODO: import create_engine and ping from workshop_app.database


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AsyncEngine]]:
    """Open this app's engine, prove the database answers, dispose of it at the end."""
    # TODO: take the settings this app was built with (create_app keeps them on app.state)
    # TODO: create this app's engine from them
    # TODO: ping it: a database that does not answer must stop the startup
    # TODO: yield the state, a dict that holds the engine under "engine"
    # TODO: dispose of the engine at shutdown, and also when the ping fails
    yield {}
'''

LIFESPAN_SOLUTION = '''\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.config import Settings
from workshop_app.database import create_engine, ping


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AsyncEngine]]:
    """Open this app's engine, prove the database answers, dispose of it at the end."""
    settings: Settings = app.state.settings  # the app's own, not get_settings()
    engine = create_engine(settings)  # a new engine at every startup of every app
    try:
        await ping(engine)  # raises when the database does not answer: no startup
        yield {"engine": engine}  # each request gets a copy, as request.state
    finally:
        await engine.dispose()  # after the last request, or right after a failed ping
'''

READY = {"status": "ready", "database": "ok"}


class _EngineWatch:
    """Every engine disposal and every connection attempt while the check runs."""

    def __init__(self) -> None:
        self.disposed: list[Engine] = []
        self.attempted: list[str] = []

    def _on_dispose(self, engine: Engine) -> None:
        self.disposed.append(engine)

    def _on_connect(self, dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        self.attempted.append(str(cargs[0]) if cargs else str(cparams.get("database")))

    @contextmanager
    def listening(self) -> Iterator[_EngineWatch]:
        # Class-level listeners: they see every engine, including one the learner's code
        # made and never handed over (the engine of a startup that failed).
        event.listen(Engine, "engine_disposed", self._on_dispose)
        event.listen(Engine, "do_connect", self._on_connect)
        try:
            yield self
        finally:
            event.remove(Engine, "engine_disposed", self._on_dispose)
            event.remove(Engine, "do_connect", self._on_connect)

    def was_disposed(self, engine: AsyncEngine) -> bool:
        return any(seen is engine.sync_engine for seen in self.disposed)

    def disposed_on(self, database: Path) -> bool:
        return any(_same_file(seen.url.database, database) for seen in self.disposed)


def _same_file(path: str | None, database: Path) -> bool:
    if not path or path == ":memory:":
        return False
    return Path(path).resolve() == database.resolve()


def _require_lifespan(candidate: Any) -> None:
    """Catch the shapes FastAPI cannot use, or uses only through a deprecated path."""
    require_lifespan(candidate, "lifespan", "02.lifespan", awaits="startup awaits the ping")
    require_arguments(
        candidate,
        (Starlette(),),
        "FastAPI calls the lifespan with one argument, the app: give it one parameter, "
        "`app: FastAPI` (that is also where this app's settings are).",
    )


def _observed(candidate: Any, seen: dict[str, Any], watch: _EngineWatch) -> Any:
    """The learner's lifespan, unchanged, remembering what it yields and when."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with entered_lifespan(candidate, app, "lifespan") as state:
            if state is not None and not isinstance(state, Mapping):
                raise _not_a_mapping(state)  # before the server tries to merge it
            seen["state"] = state
            seen["attempts_at_startup"] = list(watch.attempted)
            yield state

    return lifespan


def _not_a_mapping(state: Any) -> ExerciseFailed:
    return ExerciseFailed(
        f"Your lifespan yields {article(type(state).__name__)}: the server merges the yielded "
        "value into every request's state, so it must be a dict, holding the engine under the "
        'key "engine".'
    )


def _app(
    candidate: Any, database: Path, name: str, watch: _EngineWatch
) -> tuple[Starlette, dict[str, Any]]:
    """A live app with the learner's lifespan, the health router and its own settings."""
    from fastapi import FastAPI

    from workshop_app.config import Settings  # imported late: the notebook writes them
    from workshop_app.routers.health import router

    seen: dict[str, Any] = {}
    app = FastAPI(title=name, lifespan=_observed(candidate, seen, watch))
    app.state.settings = Settings(
        app_name=name, environment="test", database_url=f"sqlite+aiosqlite:///{database}"
    )
    app.include_router(router, prefix="/health")
    return app, seen


def _caused_by_the_database(exc: BaseException) -> bool:
    """Whether the database's own error is ``exc`` or among its causes (a wrapper is fine)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError | sqlite3.Error | OSError | TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


async def _aiosqlite_threads_finished() -> None:
    """After a failed connect aiosqlite's worker thread reports to the loop: let it, first."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(
        "_connection_worker_thread" in thread.name for thread in threading.enumerate()
    ):
        await asyncio.sleep(0.01)


def _engine_in(
    seen: dict[str, Any], database: Path, earlier: list[AsyncEngine], process_database: str | None
) -> AsyncEngine:
    """The engine this app's lifespan yielded, after checking it is this app's own."""
    state = seen.get("state")
    if state is None:
        raise ExerciseFailed(
            "Your lifespan yields nothing, so request.state stays empty and GET "
            "/health/ready fails: yield the state, a dict that holds the engine."
        )
    if not isinstance(state, Mapping):
        raise _not_a_mapping(state)
    if "engine" not in state:
        shown = f"a state with only {sorted(map(str, state))}" if state else "an empty state"
        raise ExerciseFailed(
            f"Your lifespan yields {shown}: request.state has no engine, so GET "
            '/health/ready fails with a 500. Yield the engine under the key "engine".'
        )
    doubled = [key for key, value in state.items() if key == "settings" or _is_settings(value)]
    if doubled:
        raise ExerciseFailed(
            f"The state also holds the settings (under {doubled[0]!r}): they already live on "
            "app.state.settings, from the moment create_app builds the app. The lifespan's "
            "state is for what startup opens and shutdown closes: here, the engine."
        )
    engine = state["engine"]
    if not isinstance(engine, AsyncEngine):
        raise ExerciseFailed(
            f'state["engine"] is {article(type(engine).__name__)}, not an AsyncEngine: put the '
            "engine itself in the state (a connection would be one connection shared by every "
            "request at once)."
        )
    if any(engine is other for other in earlier):
        raise ExerciseFailed(
            "This app got the same engine as an app that ran before it: the engine is made "
            "once and kept for the whole process. Make a new one at every startup, from the "
            "settings of the app that is starting."
        )
    if not _same_file(engine.url.database, database):
        actual = engine.url.database
        where = ""
        if actual == process_database:
            where = " (the database of get_settings(), the process-wide settings)"
        raise ExerciseFailed(
            f"This app was built with the database {database.name!r}, but the engine in its "
            f"state opens {actual!r}{where}. Create the engine from the settings this app was "
            "built with (create_app keeps them on the app), not from the process-wide "
            "settings or a fixed URL."
        )
    return engine


def _is_settings(value: Any) -> bool:
    from workshop_app.config import Settings

    return isinstance(value, Settings)


def _process_database() -> str | None:
    """The database of ``get_settings()``, to recognise an engine made from it."""
    from workshop_app.config import get_settings

    try:
        return make_url(get_settings().database_url).database
    except Exception:  # an invalid environment: no engine could have come from it
        return None


async def _probe(client: httpx.AsyncClient, name: str) -> None:
    live = await client.get("/health/live")
    if live.status_code != 200:
        raise ExerciseFailed(
            f"{name}: GET /health/live answered {live.status_code} {live.text[:200]}: "
            "liveness needs nothing from the lifespan, so the app itself is broken."
        )
    readies = await asyncio.gather(*(client.get("/health/ready") for _ in range(3)))
    for ready in readies:
        if ready.status_code != 200 or ready.json() != READY:
            raise ExerciseFailed(
                f"{name}: GET /health/ready answered {ready.status_code} {ready.text[:200]}, "
                f"expected 200 {READY}: the engine in the state cannot reach the app's "
                "database."
            )


async def _foreign_keys_on(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def _one_app(candidate: Any, root: Path, watch: _EngineWatch) -> AsyncEngine:
    database = root / "orders.db"
    app, seen = _app(candidate, database, "Check: one app", watch)
    async with app_client(app, raise_app_exceptions=True) as client:
        engine = _engine_in(seen, database, [], _process_database())
        await _probe(client, "One app on a working database")
        if not await _foreign_keys_on(engine):
            raise ExerciseFailed(
                "The engine does not enforce SQLite's foreign keys: it was not built by "
                "workshop_app.database.create_engine, which switches them on for every "
                "connection and picks the pool that suits the database."
            )
        if watch.was_disposed(engine):
            raise ExerciseFailed(
                "The engine was disposed while the app was still running: everything before "
                "the yield is startup, everything after it is shutdown. Dispose of it after "
                "the last request, not at startup."
            )
    if not watch.was_disposed(engine):
        raise ExerciseFailed(
            "The app shut down, but its engine was never disposed (is the disposal awaited?): "
            "its pooled connections stay open until the process exits, and every app a test "
            "suite starts leaks one more pool."
        )
    return engine


async def _unreachable(
    candidate: Any, root: Path, watch: _EngineWatch, earlier: list[AsyncEngine]
) -> None:
    database = root / "no-such-folder" / "orders.db"  # SQLite cannot create the folder
    app, seen = _app(candidate, database, "Check: unreachable database", watch)
    try:
        async with app_client(app, raise_app_exceptions=True):
            pass
    except ExerciseFailed:
        raise
    except Exception as exc:
        await _aiosqlite_threads_finished()
        if "state" not in seen and not _caused_by_the_database(exc):
            raise  # the learner's own error: the check names it and where it was raised
    if "state" in seen:  # it started (and may have failed later, at shutdown)
        _engine_in(seen, database, earlier, _process_database())  # its own engine?
        if not any(_same_file(path, database) for path in seen["attempts_at_startup"]):
            raise ExerciseFailed(
                "An app whose database cannot be opened started anyway: nothing tried to "
                "reach the database before the yield (a ping after it runs at shutdown; a "
                "coroutine function that is not awaited does not run at all). Ping the "
                "engine during startup."
            )
        raise ExerciseFailed(
            "An app whose database cannot be opened started anyway: the ping failed, but its "
            "error was caught, so the server would send traffic to an app whose every request "
            "fails. Let the error leave the lifespan: a failed startup is what stops a server."
        )
    if not watch.disposed_on(database):
        raise ExerciseFailed(
            "When the ping fails the startup stops, as it should, but the engine is never "
            "disposed: code after the yield runs only at a normal shutdown. Make the disposal "
            "run on every way out of the lifespan, including an error from the ping."
        )


async def _two_apps(
    candidate: Any, root: Path, watch: _EngineWatch, earlier: list[AsyncEngine]
) -> None:
    names = ("billing.db", "shipping.db")
    apps = [_app(candidate, root / name, f"Check: {name}", watch) for name in names]
    engines: list[AsyncEngine] = []
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(app_client(app, raise_app_exceptions=True))
            for app, _ in apps
        ]
        for (_, seen), name in zip(apps, names, strict=True):
            engines.append(_engine_in(seen, root / name, earlier + engines, _process_database()))
        await asyncio.gather(
            *(
                _probe(client, f"Two apps at once, {name}")
                for client, name in zip(clients, names, strict=True)
            )
        )
    if not all(watch.was_disposed(engine) for engine in engines):
        raise ExerciseFailed(
            "Two apps shut down, but not both engines were disposed: each app disposes of "
            "the engine its own startup made."
        )


async def verify_lifespan(candidate: Any) -> None:
    _require_lifespan(candidate)
    with (
        tempfile.TemporaryDirectory(prefix="workshop-02-") as folder,
        _EngineWatch().listening() as watch,
    ):
        root = Path(folder)
        first = await _one_app(candidate, root, watch)
        await _unreachable(candidate, root, watch, [first])
        await _two_apps(candidate, root, watch, [first])


EXERCISES = (
    Exercise(
        id="02.lifespan",
        notebook_id=NOTEBOOK_ID,
        title="The app's lifespan",
        instructions=(
            "Write lifespan(app), an async context manager: create the engine from the "
            "settings this app was built with, ping it, yield the state (a dict with the "
            "engine under 'engine'), and dispose of the engine at shutdown, also when the "
            "ping fails. The check plugs it into FastAPI(lifespan=...) next to the health "
            "router and runs real apps: on a working database, on one that cannot be "
            "opened, and two at once."
        ),
        starter=LIFESPAN_STARTER,
        solution=LIFESPAN_SOLUTION,
        name="lifespan",
        verify=verify_lifespan,
        success=(
            "It starts on a working database and both probes answer; a database that cannot "
            "be opened stops the startup; every engine is the app's own and is disposed, "
            "at shutdown or after a failed ping."
        ),
        hints=(
            "Startup is everything before the yield, shutdown everything after it. The "
            "engine belongs to one app, so it is made from that app's own settings at each "
            "startup; the database must answer before the state is handed out; and the "
            "cleanup has to run however the lifespan is left, even half-way through startup.",
            'The section "The lifespan: startup, state, shutdown" of this notebook shows where '
            "the settings and the engine live, the order of the steps, and what still has to "
            "run when the ping raises.",
        ),
    ),
)
