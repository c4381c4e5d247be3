"""Exercise of notebook 10 (lifespan): a startup step that refuses a read-only database.

A read-only database (a volume mounted read-only, a URL that points at a read replica)
passes every probe the app has: the ping is a ``SELECT 1``, readiness answers 200, and the
first write answers 500. The learner wraps the app's lifespan in one of their own that runs
a write which changes nothing (``WRITE_PROBE``) on the app's engine before the ``yield``,
and raises the app's ``StartupError`` naming ``WORKSHOP_DATABASE_URL`` (never the password),
from the database's error, when the database refuses it.

The check installs the learner's lifespan on real apps, on four databases:

* a writable SQLite file, and an in-memory database (which a second engine would not
  see, and which dies with its one connection): the app starts, serves a write, and the
  probe leaves no table and no row behind; at shutdown the relay stops before the engine
  is disposed, both after the last request;
* the same file opened read-only (``?mode=ro``), and a "read replica": a PostgreSQL URL
  with a password, as production has, whose engine the check serves from the read-only
  file (the workshop has no PostgreSQL server: while that app runs, the check wraps
  ``workshop_app.lifespan.create_engine``, and puts it back afterwards). Its URL says
  nothing about being read-only, so only a write can tell. Both must refuse to start with
  a ``StartupError`` that names the setting, hides the password and keeps the database's
  error as its cause.

After every app, every database connection opened while it ran must be closed: a refused
startup still disposes the engine, and the probe's connection goes back to the pool.
Connections, disposals, statements and errors are watched through SQLAlchemy's
class-level events; a statement is attributed to the task that ran it, so the relay's own
writes are told apart from the probe's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool
from sqlalchemy.util import greenlet_spawn
from starlette.applications import Starlette

from ..client import app_client
from ._base import (
    Exercise,
    ExerciseFailed,
    article,
    describe_error,
    entered_lifespan,
    learner_app,
    require_lifespan,
)

NOTEBOOK_ID = "10_lifespan"
SETTING = "WORKSHOP_DATABASE_URL"
REPLICA_PASSWORD = "replica-pa55"
# Port 1 on this machine: nothing listens there, so an engine made from this URL (instead of
# the app's) fails at once, without waiting for a server or a name lookup.
REPLICA_URL = f"postgresql+asyncpg://reader:{REPLICA_PASSWORD}@127.0.0.1:1/orders"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
KEY = {"X-API-Key": "check-key"}
NAME = "lifespan_with_write_check"

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
        # TODO: run WRITE_PROBE in a transaction on this app's engine (it is in the state).
        # TODO: when the database refuses it, raise the app's StartupError (it is in
        #       workshop_app.lifespan, like State) from the database's error, with a
        #       message that names WORKSHOP_DATABASE_URL and shows the URL without its
        #       password (app.state.settings.database_url holds it).
        yield state
'''

SOLUTION = '''\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from workshop_app.lifespan import StartupError, State, lifespan

WRITE_PROBE = text("UPDATE users SET id = id WHERE 1 = 0")  # a write that changes no row


@asynccontextmanager
async def lifespan_with_write_check(app: FastAPI) -> AsyncIterator[State]:
    """The app's lifespan, plus: refuse to start on a database that cannot be written."""
    async with lifespan(app) as state:  # its shutdown runs however this block is left
        try:
            async with state["engine"].begin() as connection:
                await connection.execute(WRITE_PROBE)  # matches no row: nothing changes
        except DBAPIError as exc:  # the database refused the write
            url = make_url(app.state.settings.database_url)
            shown = url.render_as_string(hide_password=True)
            raise StartupError(
                "The database refuses writes (a read replica? a read-only volume?). "
                f"Check WORKSHOP_DATABASE_URL (currently {shown!r})."
            ) from exc
        yield state
'''


@dataclass(frozen=True)
class _Database:
    label: str
    url: str  # what the app's settings say
    engine_url: str | None = None  # what the app's engine really opens, when it differs
    password: str | None = None


class _Watch:
    """What happens to the databases while the check runs, in order."""

    def __init__(self) -> None:
        self.lifespan_task: asyncio.Task[Any] | None = None
        self.timeline: list[tuple[str, Any]] = []
        # (DBAPI connection, pool entry) pairs, kept so that the ids stay unique
        self.opened: list[tuple[Any, Any]] = []
        self.closed: set[int] = set()
        self.made: list[AsyncEngine] = []  # engines the app's own lifespan created

    def mark(self, what: str, detail: Any = None) -> None:
        self.timeline.append((what, detail))

    def _in_lifespan(self) -> bool:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return False
        return task is not None and task is self.lifespan_task

    def _on_connect(self, connection: Any, entry: Any) -> None:
        self.opened.append((connection, entry))

    def _on_close(self, connection: Any, _record: Any = None) -> None:
        self.closed.add(id(connection))

    def _on_dispose(self, engine: Engine) -> None:
        self.mark("dispose", engine)

    def _on_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split(None, 1)
        if self._in_lifespan() and words and words[0].upper() in WRITES:
            self.mark("write", (conn.engine, statement))

    def _on_error(self, context: Any) -> None:
        if self._in_lifespan():
            self.mark("error", (context.engine, context.original_exception))

    @contextmanager
    def listening(self) -> Iterator[_Watch]:
        # Class-level listeners: they see every pool and engine, including one that the
        # learner's code made and never handed over.
        listeners = [
            (Pool, "connect", self._on_connect),
            (Pool, "close", self._on_close),
            (Pool, "close_detached", self._on_close),
            (Engine, "engine_disposed", self._on_dispose),
            (Engine, "before_cursor_execute", self._on_execute),
            (Engine, "handle_error", self._on_error),
        ]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        try:
            yield self
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)

    def still_open(self) -> list[tuple[Any, Any]]:
        return [(c, entry) for c, entry in self.opened if id(c) not in self.closed]

    async def close_leftovers(self) -> int:
        """Close what the candidate left open (aiosqlite's threads would keep the process
        alive, and SQLAlchemy would warn when it finds them later); return how many."""
        left = self.still_open()
        for connection, entry in left:
            # The pool entry's public invalidate() closes the DBAPI connection and tells
            # the pool, so nothing is left for the garbage collector to find. A connection
            # that is already broken has nothing more to close.
            with suppress(Exception):
                await greenlet_spawn(entry.invalidate)
            self.closed.add(id(connection))
        return len(left)

    def since(self, start: int) -> list[tuple[str, Any]]:
        return self.timeline[start:]


def _database_error(exc: BaseException | None) -> BaseException | None:
    """The database's own error in ``exc`` or its causes (a wrapper around it is fine)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DBAPIError | sqlite3.Error):
            return exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def _is_startup_error(exc: BaseException) -> bool:
    # By name and module, not by identity: a reloaded module defines the class again.
    return any(
        cls.__name__ == "StartupError" and cls.__module__ == "workshop_app.lifespan"
        for cls in type(exc).__mro__
    )


def _installed(candidate: Any, watch: _Watch) -> Any:
    """The learner's lifespan, unchanged, run the way Starlette runs one."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        watch.lifespan_task = asyncio.current_task()
        async with entered_lifespan(candidate, app, NAME) as state:
            yield state

    return lifespan


@contextmanager
def _app_engines(watch: _Watch, database: _Database) -> Iterator[None]:
    """Record the engines the app's lifespan makes; for the replica, open the read-only
    file behind the PostgreSQL URL the settings show."""
    import workshop_app.lifespan as module  # imported late: the notebook rewrites it

    real = getattr(module, "create_engine", None)
    if real is None:  # a lifespan module without it: nothing to record or redirect
        yield
        return

    def create_engine(settings: Any) -> AsyncEngine:
        if database.engine_url is not None:
            settings = settings.model_copy(update={"database_url": database.engine_url})
        engine = real(settings)
        watch.made.append(engine)
        return engine

    module.create_engine = create_engine
    try:
        yield
    finally:
        module.create_engine = real


class _Spy:
    """ASGI wrapper: keeps the state the first request saw, marks when it came, and notes
    when the app's relay is asked to stop and when it has stopped."""

    def __init__(self, app: Any, watch: _Watch) -> None:
        self.app = app
        self.watch = watch
        self.state: dict[str, Any] | None = None
        self.relay_was_running: bool | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.state is None:
            self.state = dict(scope.get("state") or {})
            self.watch.mark("first request")
            self._follow_the_relay()
        await self.app(scope, receive, send)

    def _follow_the_relay(self) -> None:
        relay = getattr(self.state.get("events"), "relay", None)
        if relay is None or not callable(getattr(relay, "stop", None)):
            return
        self.relay_was_running = bool(getattr(relay, "running", True))
        stop, watch = relay.stop, self.watch

        async def followed_stop(*args: Any, **kwargs: Any) -> Any:
            watch.mark("relay stopping")
            try:
                return await stop(*args, **kwargs)
            finally:
                watch.mark("relay stopped")

        relay.stop = followed_stop


def _app(candidate: Any, database: _Database, watch: _Watch) -> Starlette:
    app = learner_app(
        database_url=database.url,
        api_key=KEY["X-API-Key"],
        event_relay_interval_seconds=3600,  # the relay only runs at start and at stop
    )
    app.router.lifespan_context = _installed(candidate, watch)
    return app


def _new_user(email: str) -> dict[str, str]:
    return {"email": email, "full_name": "Check", "password": "correct horse"}


def _disposed(entries: list[tuple[str, Any]], engine: AsyncEngine) -> list[int]:
    return [
        index
        for index, (what, detail) in enumerate(entries)
        if what == "dispose" and detail is engine.sync_engine
    ]


def _index(entries: list[tuple[str, Any]], what: str) -> int | None:
    return next((index for index, (seen, _) in enumerate(entries) if seen == what), None)


def _own_engine_failed(watch: _Watch, start: int) -> BaseException | None:
    """An error at startup on an engine the app's lifespan did not make."""
    if not watch.made:
        return None
    made = {id(engine.sync_engine) for engine in watch.made}
    for what, detail in watch.since(start):
        if what == "error" and id(detail[0]) not in made:
            return detail[1]
    return None


async def _leak_check(watch: _Watch, database: _Database, *, refused: bool) -> None:
    left = await watch.close_leftovers()
    if not left:
        return
    when = "The startup was refused, as it should be, but" if refused else "After shutdown,"
    raise ExerciseFailed(
        f"{when} {left} database connection(s) on {database.label} were still open. A "
        "connection taken from the pool and never given back cannot be closed by "
        "disposing of the engine, and an engine nobody disposes keeps its connections "
        "until the process exits. Run the probe on the app's own engine, in a block that "
        "gives the connection back however it ends."
    )


def _require_running_state(spy: _Spy, watch: _Watch, start: int, database: _Database) -> None:
    state = spy.state or {}
    engine = state.get("engine")
    if not isinstance(engine, AsyncEngine) or "events" not in state:
        raise ExerciseFailed(
            f"request.state holds {sorted(map(str, state))}, without the app's engine and "
            "events: yield the state you got from the app's lifespan, unchanged."
        )
    if watch.made and not any(engine is made for made in watch.made):
        raise ExerciseFailed(
            "The engine in request.state is not the one the app's lifespan created: the "
            "requests would use an engine that nobody disposes at shutdown. Yield the state "
            "you got from the app's lifespan, unchanged."
        )
    if spy.relay_was_running is False:
        raise ExerciseFailed(
            f"On {database.label} the app's lifespan had already shut down (its relay "
            "stopped, its engine disposed) when the first request arrived: the state is "
            "yielded after the app's lifespan was left. Yield it while the app's lifespan "
            "is still running, so its shutdown comes after the last request."
        )
    first = _index(watch.since(start), "first request")
    if _disposed(watch.since(start)[:first], engine):
        raise ExerciseFailed(
            f"On {database.label} the app's engine was disposed during startup, before the "
            "first request: the app's lifespan disposes of it at shutdown, after the relay "
            "stopped. (An in-memory database dies with its connection: disposing of it "
            "throws the tables away.)"
        )


def _require_shutdown_order(spy: _Spy, watch: _Watch, start: int) -> None:
    entries = watch.since(start)
    engine = (spy.state or {})["engine"]
    stopping, stopped = _index(entries, "relay stopping"), _index(entries, "relay stopped")
    disposals = _disposed(entries, engine)
    if stopping is None or stopped is None:
        raise ExerciseFailed(
            "The app shut down, but its event relay was never stopped: the app's lifespan "
            "was entered and never left. Its shutdown stops the relay, then disposes of the "
            "engine."
        )
    if any(index < stopped for index in disposals):
        raise ExerciseFailed(
            "At shutdown the app's engine was disposed before the relay had stopped: the "
            "relay's last drain dispatches the queued events through that engine. Leave "
            "the closing to the app's lifespan: it stops what it started in reverse order, "
            "relay first, engine last."
        )
    if not disposals:
        raise ExerciseFailed(
            "The app shut down, but its engine was never disposed: its pooled connections "
            "stay open until the process exits."
        )


async def _check_leftovers(client: httpx.AsyncClient, engine: AsyncEngine) -> list[str]:
    """What the probe may have left: tables the models do not declare, rows in users."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    async with engine.connect() as connection:
        names = await connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        extra = sorted({name for (name,) in names} - set(SQLModel.metadata.tables))
    problems = [f"the table(s) {extra}"] if extra else []
    listed = await client.get("/users", headers=KEY)
    total = listed.json().get("total") if listed.status_code == 200 else None
    if total != 1:
        problems.append(f"{total} users where the check created 1")
    return problems


async def _serves(candidate: Any, database: _Database, watch: _Watch) -> None:
    """A writable database: the app starts, serves a write, leaves nothing behind, and
    shuts down in reverse order."""
    app = _app(candidate, database, watch)
    spy = _Spy(app, watch)
    start = len(watch.timeline)
    try:
        with _app_engines(watch, database):
            async with app_client(spy) as client:
                await client.get("/health/live")
                _require_running_state(spy, watch, start, database)
                created = await client.post(
                    "/users", json=_new_user("one@example.com"), headers=KEY
                )
                if created.status_code != 201:
                    raise ExerciseFailed(
                        f"On {database.label} POST /users answered {created.status_code}: "
                        f"{created.text[:200]}"
                    )
                left = await _check_leftovers(client, spy.state["engine"])
    except ExerciseFailed:
        await watch.close_leftovers()
        raise
    except Exception as exc:
        await watch.close_leftovers()
        if spy.state is not None:
            raise ExerciseFailed(
                f"The app on {database.label} served its requests, then failed at shutdown: "
                f"{describe_error(exc)}"
            ) from None
        hint = (
            f"Your lifespan refused to start on {database.label}, which is WRITABLE: "
            f"{describe_error(exc)}. Only a write that the database refuses may stop the start."
        )
        if _own_engine_failed(watch, start) is not None:
            hint += (
                " The failing statement ran on an engine of your own, not the app's: a new "
                "engine opens new connections, and an in-memory database exists only in the "
                "app's one connection. Probe with the engine in the state."
            )
        raise ExerciseFailed(hint) from None
    if left:
        raise ExerciseFailed(
            f"Your probe changed {database.label}: it left {' and '.join(left)}. A startup "
            "check must change nothing. Use WRITE_PROBE, an UPDATE that matches no row."
        )
    _require_shutdown_order(spy, watch, start)
    await _leak_check(watch, database, refused=False)


def _started_anyway(
    database: _Database, watch: _Watch, start: int, outcome: dict[str, httpx.Response]
) -> str:
    entries = watch.since(start)
    first = _index(entries, "first request")
    before, after = entries[:first], entries[first:]
    seen = (
        f"GET /health/ready answered {outcome['ready'].status_code}, then POST /users "
        f"answered {outcome['write'].status_code}"
    )
    errors = [detail[1] for what, detail in before if what == "error"]
    writes = [detail[1] for what, detail in before if what == "write"]
    if errors:
        return (
            f"Your probe failed on {database.label} ({describe_error(errors[0])}), but the error "
            f"was caught and the app started anyway: {seen}. Logging the error, or carrying "
            "on, sends traffic to an app whose every write fails; the failure must leave the "
            "lifespan, so the server refuses to start."
        )
    if writes:
        statement = " ".join(writes[0].split())[:80]
        return (
            f"Your startup write ({statement!r}) succeeded on {database.label}, which refuses "
            f"writes, and the app started: {seen}. It did not write to the database's own "
            "tables (a TEMP table lives outside them). Probe with WRITE_PROBE."
        )
    if any(what in ("write", "error") for what, _ in after):
        return (
            f"The app started on {database.label} and served requests ({seen}); your write "
            "only ran at shutdown, after the yield. Everything before the yield is startup: "
            "probe there."
        )
    what = database.label
    if database.engine_url is not None:
        shown = make_url(database.url).render_as_string(hide_password=True)
        what += f", whose URL ({shown}) looks like any writable database"
    return (
        f"The app started on {what}: {seen}. Nothing wrote to the database before the "
        "yield: the ping only reads, so it cannot tell, and neither can the URL. Before the "
        "state is handed out, run a write that changes nothing on the app's engine."
    )


def _judge_refusal(exc: BaseException, database: _Database, watch: _Watch, start: int) -> None:
    database_error = _database_error(exc)
    tried = any(what in ("write", "error") for what, _ in watch.since(start))
    if not _is_startup_error(exc):
        if database_error is exc:
            raise ExerciseFailed(
                f"It refused to start on {database.label}, but with the database's own error "
                f"({describe_error(exc)}): an operator reading it cannot tell which setting to "
                f"fix. Catch it and raise the app's StartupError, which names {SETTING}."
            )
        raise ExerciseFailed(
            f"It refused to start on {database.label} with {article(type(exc).__name__)}, not a "
            "StartupError. Every startup failure of this app is a StartupError "
            "(workshop_app.lifespan), the one type a deploy script or a test looks for: "
            "raise that."
        )
    message = str(exc)
    if SETTING not in message:
        raise ExerciseFailed(
            f"It refused to start on {database.label} with StartupError({message[:150]!r}), "
            f"which does not name the setting to fix: mention {SETTING} in the message."
        )
    if database.password and database.password in message:
        raise ExerciseFailed(
            f"It refused to start on {database.label}, and the message shows the password of "
            f"its URL: startup errors end up in logs that many people read. Show the URL with "
            "its password masked (SQLAlchemy's URL can render itself that way)."
        )
    if database_error is None:
        if not tried:
            raise ExerciseFailed(
                f"It refused to start on {database.label}, but nothing tried to write first: "
                "a decision taken from the URL cannot see a read replica or a volume mounted "
                "read-only. Refuse when a write fails, from the database's error."
            )
        raise ExerciseFailed(
            f"Right refusal on {database.label}, but the database's error is gone from it: "
            "raise the StartupError from the database's error, so the traceback still shows "
            "why the write failed."
        )


async def _refuses(candidate: Any, database: _Database, watch: _Watch) -> None:
    """A database that refuses writes: the app must not start, and must leave nothing open."""
    app = _app(candidate, database, watch)
    spy = _Spy(app, watch)
    start = len(watch.timeline)
    outcome: dict[str, httpx.Response] = {}
    try:
        with _app_engines(watch, database):
            async with app_client(spy) as client:
                outcome["ready"] = await client.get("/health/ready")
                outcome["write"] = await client.post(
                    "/users", json=_new_user("two@example.com"), headers=KEY
                )
    except ExerciseFailed:
        await watch.close_leftovers()
        raise
    except Exception as exc:
        if spy.state is not None:
            await watch.close_leftovers()
            raise ExerciseFailed(
                f"The app started on {database.label}, served requests, and only raised at "
                f"shutdown ({describe_error(exc)}): your check runs after the yield. Everything "
                "before the yield is startup: probe there."
            ) from None
        try:
            _judge_refusal(exc, database, watch, start)
        except ExerciseFailed:
            await watch.close_leftovers()
            raise
        await _leak_check(watch, database, refused=True)
        return
    await watch.close_leftovers()
    raise ExerciseFailed(_started_anyway(database, watch, start, outcome))


async def verify_startup_check(candidate: Any) -> None:
    require_lifespan(candidate, NAME, "10.startup_check", awaits="the probe awaits the database")
    with tempfile.TemporaryDirectory(prefix="workshop-10-") as folder:
        root = Path(folder)
        writable = root / "orders.db"
        read_only = f"sqlite+aiosqlite:///file:{writable.as_posix()}?mode=ro&uri=true"
        databases = [
            _Database("a writable SQLite file", f"sqlite+aiosqlite:///{writable.as_posix()}"),
            _Database("an in-memory database", "sqlite+aiosqlite:///:memory:"),
        ]
        refusing = [
            _Database("the same file opened read-only (?mode=ro)", read_only),
            _Database(
                "a read replica",
                REPLICA_URL,
                engine_url=read_only,
                password=REPLICA_PASSWORD,
            ),
        ]
        with _Watch().listening() as watch:
            for database in databases:  # the first one also creates the file's tables
                await _serves(candidate, database, watch)
            for database in refusing:
                await _refuses(candidate, database, watch)


EXERCISES = (
    Exercise(
        id="10.startup_check",
        notebook_id=NOTEBOOK_ID,
        title="Refuse to start on a read-only database",
        instructions=(
            "Complete lifespan_with_write_check(app): inside the app's lifespan, before the "
            "yield, run WRITE_PROBE in a transaction on the app's engine; when the database "
            f"refuses it, raise the app's StartupError naming {SETTING} (password masked), "
            "from the database's error. The check runs it on a writable file, an in-memory "
            "database, a read-only file and a read replica with a password in its URL."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="lifespan_with_write_check",
        verify=verify_startup_check,
        success=(
            "Writable databases start, serve and shut down in order; a read-only file and a "
            "read replica stop the app at startup with a StartupError that names the setting, "
            "hides the password and leaves no connection open."
        ),
        hints=(
            "A read-only database answers every read, so only a write can tell: one that "
            "changes nothing, on the engine the app will use, before the state is handed out. "
            "When the database refuses it, the app must not start, and the message is for an "
            "operator: which setting to fix, and never the password. Whatever you open, the "
            "app's lifespan around you still closes on the way out.",
            'The section "Step 2: a lifespan for production" shows _startup_step and '
            "_startup_failure, which turn a failed step into a StartupError with the URL "
            'masked; "A read-only database passes every probe" shows what you guard against.',
        ),
    ),
)
