"""Exercises of notebook 05 (dependency injection): a unit of work, a class, an override.

Every check runs the learner's code inside a real FastAPI app and judges what happened:
rows in a database, statuses, the connections left in the pool, what one request saw while
another was in flight. The checks import ``workshop_app`` modules when they run, never at
import time, so the learner's workspace copy is the one used. No ``from __future__ import
annotations``: the checks' endpoints are introspected by FastAPI at runtime.
"""

import asyncio
import contextlib
import inspect
import json
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.params import Depends as DependsParam
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from starlette.applications import Starlette

from ..client import app_client
from ..depgraph import find_route
from ._base import Exercise, ExerciseFailed, call_factory

NOTEBOOK_ID = "05_dependencies"

# --- 05.unit_of_work ------------------------------------------------------------------------

UNIT_STARTER = '''\
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from workshop_app.dependencies import EngineDep


async def get_connection(engine: EngineDep) -> AsyncIterator[AsyncConnection]:
    """One connection and one transaction per request: commit on success, else roll back."""
    connection = await engine.connect()
    yield connection
    # TODO: commit when the endpoint succeeded
    # TODO: when the endpoint raised: roll back, and let its exception go on to the client
    # TODO: in every case, give the connection back to the pool


# TODO: a failed COMMIT must reach the client as an error, not as a 200
ConnectionDep = Annotated[AsyncConnection, Depends(get_connection)]
'''

UNIT_SOLUTION = '''\
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from workshop_app.dependencies import EngineDep


async def get_connection(engine: EngineDep) -> AsyncIterator[AsyncConnection]:
    """One connection and one transaction per request: commit on success, else roll back."""
    connection = await engine.connect()  # a local: each request has its own
    try:
        yield connection
        await connection.commit()
    except Exception:
        await connection.rollback()  # after a failed COMMIT too: nothing half-done stays
        raise  # the endpoint's error (or the commit's) still becomes the response
    finally:
        await connection.close()  # back to the pool, whatever happened


# scope="function": the COMMIT runs before the response is sent, so its failure is a 500.
ConnectionDep = Annotated[AsyncConnection, Depends(get_connection, scope="function")]
'''

_SCHEMA = (
    "CREATE TABLE authors (id INTEGER PRIMARY KEY)",
    # DEFERRED: checked at COMMIT, so an INSERT for a missing author fails only there.
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, author_id INTEGER NOT NULL "
    "REFERENCES authors (id) DEFERRABLE INITIALLY DEFERRED)",
    "INSERT INTO authors (id) VALUES (1)",
)
_INSERT = text("INSERT INTO notes (body, author_id) VALUES (:body, :author)")
OVERLAP_WAIT = 1.0  # seconds an overlapping request waits for the other one
SQLITE_BUSY_TIMEOUT = 0.5  # a connection left holding the write lock fails fast, not in 5 s

_SAME_WAY = (
    "Keep the connection in a local variable of the dependency function: each call has its "
    "own, so each request has its own. A module variable, a class attribute or a default "
    "argument is shared by every request in flight."
)


def _enable_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _declared(candidate: Any) -> tuple[Any, DependsParam]:
    """The alias's dependency callable and its ``Depends``; a hint for anything else."""
    if get_origin(candidate) is not Annotated:
        if callable(candidate) and not isinstance(candidate, type):
            raise ExerciseFailed(
                f"You passed {getattr(candidate, '__name__', 'a function')}; pass the alias "
                "ConnectionDep instead: how it is declared (its Depends) decides when the "
                "clean-up runs, and the check needs to see that too."
            )
        raise ExerciseFailed(
            f"Expected the Annotated alias ConnectionDep, got {type(candidate).__name__}. "
            "Run the cell that defines it, then check ConnectionDep."
        )
    depends = [meta for meta in get_args(candidate)[1:] if isinstance(meta, DependsParam)]
    if not depends:
        raise ExerciseFailed(
            "ConnectionDep has no Depends(...) in its Annotated metadata, so FastAPI would "
            "read the parameter from the request instead of calling your dependency."
        )
    declared = depends[-1]
    call = declared.dependency or get_args(candidate)[0]
    target = call if inspect.isfunction(call) else getattr(call, "__call__", None)  # noqa: B004
    if inspect.iscoroutinefunction(target):
        raise ExerciseFailed(
            "get_connection returns its connection, so nothing of yours runs after the "
            "endpoint: no commit, no rollback, and the connection never goes back to the pool. "
            "Hand the connection over with yield instead."
        )
    if inspect.isgeneratorfunction(target):
        raise ExerciseFailed(
            "get_connection is a plain `def` generator: FastAPI would run it in a worker "
            "thread, where the connection's coroutines cannot be awaited. Write it with "
            "`async def`."
        )
    return call, declared


class _UnitOfWorkLab:
    """The check's app: a notes table in a SQLite file, and the learner's ConnectionDep."""

    def __init__(self, alias: Any, database: Path) -> None:
        self.url = f"sqlite+aiosqlite:///{database.as_posix()}"
        self.engine: AsyncEngine | None = None
        self.received: list[Any] = []  # every object the endpoints were given
        self.escaped: list[BaseException] = []  # exceptions that left the app (the 500s)
        self.arrived = 0
        self.both_in = asyncio.Event()
        self.first_done = asyncio.Event()
        self.app = self._build(alias)

    def _build(self, alias: Any) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
            engine = create_async_engine(self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
            event.listen(engine.sync_engine, "connect", _enable_foreign_keys)
            async with engine.begin() as connection:
                for statement in _SCHEMA:
                    await connection.execute(text(statement))
            self.engine = engine
            yield {"engine": engine}

        app = FastAPI(lifespan=lifespan)

        @app.post("/notes")
        async def add_note(connection: alias, body: str, author: int = 1) -> dict[str, str]:
            if self._usable(connection):
                await connection.execute(_INSERT, {"body": body, "author": author})
            return {"saved": body}

        @app.post("/notes/conflict")
        async def add_then_conflict(connection: alias, body: str) -> dict[str, str]:
            if self._usable(connection):
                await connection.execute(_INSERT, {"body": body, "author": 1})
            raise HTTPException(409, "The note conflicts with another one.")

        @app.post("/notes/overlap")
        async def overlapping(connection: alias, body: str, fail: bool = False) -> dict[str, str]:
            self._usable(connection)
            self.arrived += 1
            if self.arrived == 2:
                self.both_in.set()
            await asyncio.wait_for(self.both_in.wait(), OVERLAP_WAIT)
            if fail:  # the second request writes once the first has answered
                await asyncio.wait_for(self.first_done.wait(), OVERLAP_WAIT)
            await connection.execute(_INSERT, {"body": body, "author": 1})
            if fail:
                raise HTTPException(409, "The note conflicts with another one.")
            return {"saved": body}

        return app

    def _usable(self, connection: Any) -> bool:
        self.received.append(connection)
        return isinstance(connection, AsyncConnection) and connection.engine is self.engine

    async def asgi(self, scope: dict, receive: Any, send: Any) -> None:
        """The app, keeping what escaped it: ServerErrorMiddleware re-raises after its 500."""
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope["type"] != "http":
                raise
            self.escaped.append(exc)

    async def stored(self) -> list[str]:
        assert self.engine is not None
        async with self.engine.connect() as connection:
            result = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
            return list(result.scalars())

    def checked_out(self) -> int:
        assert self.engine is not None
        return self.engine.pool.checkedout()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Give back what a wrong solution kept, so nothing leaks past the check."""
        for connection in self.received:
            if isinstance(connection, AsyncConnection) and not connection.closed:
                # Already broken by the learner's code: then there is nothing to give back.
                with contextlib.suppress(Exception):
                    await connection.close()
        if self.engine is not None:
            await self.engine.dispose()


def _crash(request: str, lab: _UnitOfWorkLab) -> ExerciseFailed:
    exc = lab.escaped[-1] if lab.escaped else None
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else "no exception was kept"
    if exc is not None and "no such table" in str(exc):
        return ExerciseFailed(
            f"{request} answered 500 ({detail}): the connection does not reach the app's "
            "database. Take the engine the lifespan created (EngineDep), not a new one."
        )
    return ExerciseFailed(f"{request} answered 500 ({detail[:300]}). Fix that error first.")


def _first_checks(lab: _UnitOfWorkLab, request: str) -> None:
    """What the endpoint was given: an AsyncConnection of the app's own engine."""
    given = lab.received[-1] if lab.received else None
    if not isinstance(given, AsyncConnection):
        raise ExerciseFailed(
            f"For {request} the endpoint was given an object of type {type(given).__name__}, "
            "not an AsyncConnection: yield the connection itself."
        )
    if given.engine is not lab.engine:
        raise ExerciseFailed(
            f"The connection of {request} comes from another engine than the app's: take the "
            "engine the lifespan created (EngineDep), so every request shares its one pool. "
            "A new engine per request (or per process) is a new pool, and a new database for "
            "an in-memory URL."
        )


async def _sequential_probes(client: httpx.AsyncClient, lab: _UnitOfWorkLab, scope: Any) -> None:
    request = "POST /notes?body=first"
    response = await client.post("/notes", params={"body": "first"})
    if response.status_code == 500:
        raise _crash(request, lab)
    _first_checks(lab, request)
    if "first" not in await lab.stored():
        raise ExerciseFailed(
            f"{request} answered {response.status_code}, but its note is not in the table: "
            "nothing committed the transaction once the endpoint had returned."
        )
    if lab.checked_out():
        raise ExerciseFailed(
            f"After {request}, its connection is still checked out of the pool: give it back "
            "when the request is over. One leaked connection per request empties the pool."
        )

    request = "POST /notes/conflict?body=second (the endpoint raises HTTPException(409))"
    response = await client.post("/notes/conflict", params={"body": "second"})
    if response.status_code == 500:
        raise ExerciseFailed(
            f"{request} answered 500, not 409: your dependency caught the endpoint's exception "
            "and did not raise it again, so FastAPI had no response to send. Roll back, then "
            "let the exception go on."
        )
    if response.status_code != 409:
        raise ExerciseFailed(f"{request} answered {response.status_code}; expected 409.")
    if "second" in await lab.stored():
        raise ExerciseFailed(
            f"{request} failed, yet its note was saved: when the endpoint raises, roll back "
            "instead of committing (code in `finally` runs on failures too)."
        )
    if lab.checked_out():
        raise ExerciseFailed(
            f"After {request}, its connection is still checked out: the exception comes out "
            "of the `yield`, so plain code after it never runs. Give the connection back in "
            "code that runs whatever happened."
        )

    request = "POST /notes?body=third&author=42 (no author 42: the COMMIT fails)"
    escaped_before = len(lab.escaped)
    response = await client.post("/notes", params={"body": "third", "author": 42})
    if response.status_code != 500:
        if scope != "function":
            raise ExerciseFailed(
                f"{request} answered {response.status_code}: the client was told it worked, "
                "then the COMMIT failed after the response had been sent. Declare "
                "ConnectionDep with the scope that closes a dependency before the response."
            )
        raise ExerciseFailed(
            f"{request} answered {response.status_code} although its COMMIT failed: your "
            "dependency caught the commit's error and did not raise it again."
        )
    if len(lab.escaped) > escaped_before and "FOREIGN KEY" not in str(lab.escaped[-1]):
        raise _crash(request, lab)
    if lab.checked_out():
        raise ExerciseFailed(
            f"After {request}, its connection is still checked out: a failed COMMIT raises "
            "from your clean-up code, and the connection must go back to the pool anyway."
        )
    request = "POST /notes?body=fourth (after the failed COMMIT)"
    response = await client.post("/notes", params={"body": "fourth"})
    if response.status_code != 200 or "fourth" not in await lab.stored():
        raise ExerciseFailed(
            f"{request} answered {response.status_code} and its note is not saved: the "
            "connection went back to the pool with the failed transaction still open (SQLite "
            "keeps it open after a failed COMMIT), and the next request that got it failed. "
            "Roll back when anything fails, the commit included."
        )


async def _overlap_probe(client: httpx.AsyncClient, lab: _UnitOfWorkLab) -> None:
    given_before = len(lab.received)
    escaped_before = len(lab.escaped)
    first = asyncio.create_task(client.post("/notes/overlap", params={"body": "A"}))
    second = asyncio.create_task(
        client.post("/notes/overlap", params={"body": "B", "fail": "true"})
    )
    first_response = await first
    lab.first_done.set()
    second_response = await second
    given = lab.received[given_before:]
    timeouts = [e for e in lab.escaped[escaped_before:] if isinstance(e, TimeoutError)]
    if timeouts or len(given) < 2:
        raise ExerciseFailed(
            "Two overlapping requests could not both reach their endpoint: your dependency "
            "makes requests take turns (a lock, or one connection kept for everyone). Each "
            "request needs its own connection, and nothing held across the yield."
        )
    if given[0] is given[1]:
        raise ExerciseFailed(
            "Two requests in flight at the same time were given the same connection object. "
            + _SAME_WAY
        )
    stored = await lab.stored()
    if first_response.status_code != 200 or "A" not in stored:
        fate = "saved" if "A" in stored else "lost"
        raise ExerciseFailed(
            "Two overlapping requests, A succeeding and B failing: A answered "
            f"{first_response.status_code} and its note was {fate}. "
            "One request's clean-up acted on the other's connection. " + _SAME_WAY
        )
    if second_response.status_code != 409 or "B" in stored or lab.checked_out():
        raise ExerciseFailed(
            "Two overlapping requests, A succeeding and B failing: B answered "
            f"{second_response.status_code} (expected 409), its note was "
            f"{'saved' if 'B' in stored else 'not saved'}, and {lab.checked_out()} connection(s) "
            "stayed checked out. " + _SAME_WAY
        )


async def verify_unit_of_work(candidate: Any) -> None:
    _, declared = _declared(candidate)
    folder = Path(tempfile.mkdtemp(prefix="workshop-uow-"))
    lab = _UnitOfWorkLab(candidate, folder / "notes.db")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a leaked connection's warning is our hint
            async with app_client(lab.asgi) as client:
                await _sequential_probes(client, lab, declared.scope)
                await _overlap_probe(client, lab)
    finally:
        await lab.close()
        shutil.rmtree(folder, ignore_errors=True)


# --- 05.pagination -------------------------------------------------------------------------

PAGINATION_STARTER = '''\
class PageParams:
    """Page-number pagination for list endpoints: ?page=2&size=25."""

    def __init__(self, page: int = 1, size: int = 10) -> None:
        # TODO: bounds: page from 1 to 1000, size from 1 to 50, answered with 422 otherwise
        self.page = page
        self.size = size

    # TODO: an `offset` property: how many items come before this page
'''

PAGINATION_SOLUTION = '''\
from typing import Annotated

from fastapi import Query

MAX_PAGE = 1000  # OFFSET reads and discards every row before the page: deep pages are slow


class PageParams:
    """Page-number pagination for list endpoints: ?page=2&size=25."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number.")] = 1,
        size: Annotated[int, Query(ge=1, le=50, description="Items per page.")] = 10,
    ) -> None:
        self.page = page  # on the instance: FastAPI builds one per request
        self.size = size

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.page - 1) * self.size
'''

_MISSING = object()


def _pagination_app(candidate: type) -> tuple[FastAPI, list[Any], dict[str, Any]]:
    """One route that keeps the instance FastAPI built, and one that overlaps two requests."""
    built: list[Any] = []
    overlap: dict[str, Any] = {"arrived": 0, "both_in": asyncio.Event()}
    app = FastAPI()

    @app.get("/items")
    async def items(params: Annotated[Any, Depends(candidate)]) -> dict[str, bool]:
        built.append(params)
        return {"ok": True}

    @app.get("/overlap")
    async def overlapping(params: Annotated[Any, Depends(candidate)]) -> dict[str, Any]:
        overlap["arrived"] += 1
        if overlap["arrived"] == 2:
            overlap["both_in"].set()
        await asyncio.wait_for(overlap["both_in"].wait(), OVERLAP_WAIT)
        read = {name: getattr(params, name, None) for name in ("page", "size", "offset")}
        return {name: value if isinstance(value, int) else None for name, value in read.items()}

    return app, built, overlap


def _fields(response: httpx.Response) -> list[str]:
    """The `loc` of each validation error in FastAPI's default 422 body, as "query.page"."""
    try:
        return [".".join(str(part) for part in e["loc"]) for e in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return []


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    try:
        return await client.get(url)
    except Exception as exc:  # raised inside the learner's __init__
        raise ExerciseFailed(
            f"GET {url} crashed: PageParams raised {type(exc).__name__}: {exc}. Do not "
            "validate by hand: declare the bounds on the parameters, and FastAPI answers 422 "
            "before your class is even called."
        ) from None


def _check_class(candidate: Any) -> None:
    if inspect.isclass(candidate):
        return
    if inspect.isfunction(candidate):
        raise ExerciseFailed(
            f"{candidate.__name__} is a function. FastAPI would accept it, but this exercise "
            "is a class: `class PageParams:` whose __init__ takes page and size."
        )
    if type(candidate).__module__ != "builtins":
        raise ExerciseFailed(
            "You passed an instance; pass the class itself: "
            "check('05.pagination', PageParams) - no parentheses. FastAPI builds one per request."
        )
    raise ExerciseFailed(
        f"Expected the class PageParams, got {type(candidate).__name__}. "
        "Write `class PageParams:` whose __init__ takes page and size."
    )


def _check_values(params: Any, page: int, size: int, query: str) -> None:
    got = {name: getattr(params, name, _MISSING) for name in ("page", "size")}
    missing = [name for name, value in got.items() if value is _MISSING]
    if missing:
        raise ExerciseFailed(
            f"The PageParams instance has no attribute {missing[0]!r}: keep each value the "
            "request gave on the instance, under the same name."
        )
    if got != {"page": page, "size": size}:
        raise ExerciseFailed(
            f"GET /items{query} built PageParams with page={got['page']!r}, size={got['size']!r}; "
            f"expected page={page}, size={size}. The __init__ parameters must be named page and "
            "size (their names are the query parameters), with defaults 1 and 10."
        )


def _check_offset(params: Any, expected: int, query: str) -> None:
    offset = getattr(params, "offset", _MISSING)
    if offset is _MISSING:
        raise ExerciseFailed(
            "PageParams has no `offset`: add a property that says how many items come before "
            "the page, so a list endpoint can pass it to OFFSET."
        )
    if callable(offset):
        raise ExerciseFailed(
            "`offset` is a method, so params.offset is a bound method, not a number: make it "
            "a property."
        )
    if offset != expected:
        raise ExerciseFailed(
            f"For GET /items{query}, offset is {offset!r}; expected {expected}: "
            "page 1 starts at item 0, and each earlier page holds `size` items."
        )


# (query, page, size, offset): defaults, ordinary values, and each bound that is allowed.
_VALID = (
    ("", 1, 10, 0),
    ("?page=3&size=20", 3, 20, 40),
    ("?page=2&size=5", 2, 5, 5),
    ("?size=1", 1, 1, 0),
    ("?page=7&size=3", 7, 3, 18),
    ("?page=1000&size=50", 1000, 50, 49950),
)

# (query, field that must be rejected, hint when it is accepted)
_OUT_OF_BOUNDS = (
    ("?page=0", "page", "Pages count from 1: page needs a lower bound of 1."),
    ("?page=-2", "page", "A negative page would be a negative OFFSET: bound page from below."),
    (
        "?page=1001",
        "page",
        "OFFSET reads and discards every row before the page: cap page at 1000.",
    ),
    ("?size=0", "size", "A page of 0 items makes no sense: size needs a lower bound of 1."),
    (
        "?size=51",
        "size",
        "Without an upper bound, ?size=1000000 loads a whole table: cap it at 50.",
    ),
    ("?page=two", "page", "page must be declared as an int, so FastAPI parses and checks it."),
)

_VALID_EDGE = {
    "?size=1": "size may be 1: its lower bound is inclusive (ge, not gt).",
    "?page=1000&size=50": "page may be 1000 and size 50: the upper bounds are inclusive "
    "(le, not lt).",
}


async def _check_overlap(client: httpx.AsyncClient) -> None:
    """Two requests in flight at once; each must read the values it sent."""
    queries = {"?page=2&size=5": (2, 5, 5), "?page=7&size=3": (7, 3, 18)}
    tasks = {q: asyncio.create_task(client.get(f"/overlap{q}")) for q in queries}
    for query, (page, size, offset) in queries.items():
        response = await tasks[query]
        if response.status_code != 200:
            raise ExerciseFailed(
                f"Two overlapping requests: GET /items{query} answered {response.status_code}."
            )
        seen = response.json()
        if seen != {"page": page, "size": size, "offset": offset}:
            raise ExerciseFailed(
                f"Two requests in flight at the same time: GET /items{query} read page="
                f"{seen['page']}, size={seen['size']}, offset={seen['offset']} from its "
                "PageParams, which are the other request's values. The values are stored on "
                "the class, which every request shares: keep them on the instance (self), "
                "of which FastAPI builds one per request."
            )


async def verify_pagination(candidate: Any) -> None:
    _check_class(candidate)
    app, built, _ = _pagination_app(candidate)
    async with app_client(app, raise_app_exceptions=True) as client:
        for query, page, size, offset in _VALID:
            response = await _get(client, f"/items{query}")
            if response.status_code == 422 and query == "":
                fields = ", ".join(_fields(response)) or "a parameter"
                raise ExerciseFailed(
                    f"GET /items with no query string answered 422 for {fields}: every "
                    "parameter needs a default (page = 1, size = 10); a parameter that is not a "
                    "plain int or str is read from the request body instead of the query."
                )
            if response.status_code != 200:
                because = _VALID_EDGE.get(query, "it is within bounds.")
                raise ExerciseFailed(
                    f"GET /items{query} answered {response.status_code}, but {because}"
                )
            _check_values(built[-1], page, size, query)
            _check_offset(built[-1], offset, query)
        for query, field, hint in _OUT_OF_BOUNDS:
            response = await _get(client, f"/items{query}")
            if response.status_code != 422:
                raise ExerciseFailed(
                    f"GET /items{query} answered {response.status_code}; expected 422. {hint}"
                )
            if f"query.{field}" not in _fields(response):
                raise ExerciseFailed(
                    f"GET /items{query} answered 422 but did not name query.{field} "
                    f"(it named {', '.join(_fields(response)) or 'nothing'})."
                )
        await _check_overlap(client)


# --- 05.override_caller --------------------------------------------------------------------

OVERRIDE_STARTER = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.dependencies import Caller
from workshop_app.main import create_app


def fake_caller() -> Caller:
    return Caller(name="test-user", auth_scheme="api_key")


def create_test_app() -> FastAPI:
    """A fresh real app, where every request is made by test-user: no key needed."""
    app = create_app(Settings(log_level="WARNING", rate_limit_enabled=False))
    # TODO: make FastAPI call fake_caller wherever this app depends on get_caller
    # (import get_caller from workshop_app.dependencies)
    return app
'''

OVERRIDE_SOLUTION = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.dependencies import Caller, get_caller
from workshop_app.main import create_app


def fake_caller() -> Caller:
    return Caller(name="test-user", auth_scheme="api_key")


def create_test_app() -> FastAPI:
    """A fresh real app, where every request is made by test-user: no key needed."""
    app = create_app(Settings(log_level="WARNING", rate_limit_enabled=False))
    # Keyed by the original function; FastAPI looks it up on every request.
    app.dependency_overrides[get_caller] = fake_caller
    return app
'''

TEST_USER = {"name": "test-user", "auth_scheme": "api_key"}


def _walk(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _route_get_caller(app: Starlette) -> Callable[..., Any] | None:
    """The get_caller function that GET /me really depends on."""
    try:
        route = find_route(app, "/me", "GET")  # type: ignore[arg-type]
    except LookupError:
        raise ExerciseFailed(
            "The app has no GET /me route: build it with create_app(...) from "
            "workshop_app.main, which mounts the /me router."
        ) from None
    for sub in _walk(route.dependant):
        if getattr(sub.call, "__name__", None) == "get_caller":
            return sub.call
    return None


def _check_module_untouched(real: Callable[..., Any] | None) -> None:
    """Replacing the module's function changes no route already built, and leaks."""
    import workshop_app.dependencies as dependencies

    current = getattr(dependencies, "get_caller", None)
    if (
        real is not None
        and current is not real
        and getattr(current, "__name__", "") != "get_caller"
    ):
        dependencies.get_caller = real  # put it back for the rest of the kernel
        raise ExerciseFailed(
            "workshop_app.dependencies.get_caller was replaced by another function: routes "
            "keep the function they were built with, so GET /me never sees it, and every "
            "app built afterwards in this kernel would. (The check put the original back.) "
            "Tell this one app which replacement to use instead."
        )


def _check_overrides(app: Starlette) -> None:
    """Name the usual wrong keys and values before sending a request."""
    overrides: dict[Any, Any] = getattr(app, "dependency_overrides", {})
    real = _route_get_caller(app)
    _check_module_untouched(real)
    if not overrides:
        raise ExerciseFailed(
            "app.dependency_overrides is empty, so GET /me still asks for a key: this app "
            "must know that fake_caller replaces the caller dependency."
        )
    for key, value in overrides.items():
        if isinstance(key, str):
            raise ExerciseFailed(
                f"The key {key!r} is a string; FastAPI matches the dependency function object "
                "itself, the one the route was built with."
            )
        if get_origin(key) is Annotated:
            raise ExerciseFailed(
                "The key is an Annotated alias (CallerDep?); FastAPI matches the function "
                "inside the alias's Depends(...), not the alias."
            )
        if getattr(key, "__name__", None) == "Caller":
            raise ExerciseFailed(
                "The key is the Caller class, which is what the dependency returns; the key "
                "must be the dependency function itself."
            )
        if not callable(value):
            raise ExerciseFailed(
                f"The override for {getattr(key, '__name__', key)!r} is a "
                f"{type(value).__name__}, not a function: FastAPI calls the override on every "
                "request, so store the function itself, not the result of calling it."
            )
        if getattr(key, "__name__", None) == "get_caller" and key is not real:
            raise ExerciseFailed(
                "Your get_caller is not the function the app uses: it comes from an older "
                "import of workshop_app.dependencies. Re-run the cell that imports it (after "
                "lab.reload_app() or a %%writefile), then build the app again."
            )


async def verify_override(candidate: Any) -> None:
    app = call_factory(
        candidate,
        "create_test_app",
        "05.override_caller",
        how="build it with create_app(...) and return it.",
    )
    _check_overrides(app)
    again = candidate()
    if again is app:
        raise ExerciseFailed(
            "create_test_app() returned the same app object twice: tests that share one app "
            "share its overrides, so one test's fake leaks into the next. Build a fresh app "
            "in every call."
        )
    async with app_client(app) as client:
        anonymous = await client.get("/me")
        wrong_key = await client.get("/me", headers={"X-API-Key": "not-the-key"})
    if anonymous.status_code == 401:
        raise ExerciseFailed(
            "GET /me without a key still answered 401, so get_caller ran: the override must "
            "be keyed by get_caller itself (from workshop_app.dependencies), not by one of "
            "its sub-dependencies or another function."
        )
    if anonymous.status_code != 200:
        raise ExerciseFailed(
            f"GET /me answered {anonymous.status_code}: {anonymous.text[:200]}. The override "
            "must return a Caller, e.g. Caller(name='test-user', auth_scheme='api_key')."
        )
    if anonymous.json() != TEST_USER:
        raise ExerciseFailed(
            f"GET /me returned {json.dumps(anonymous.json())}; expected {json.dumps(TEST_USER)}."
        )
    if wrong_key.status_code != 200:
        raise ExerciseFailed(
            f"With a wrong X-API-Key, GET /me answered {wrong_key.status_code}: the override "
            "should replace the whole check, headers included."
        )
    from workshop_app.config import Settings
    from workshop_app.main import create_app

    async with app_client(create_app(Settings(log_level="WARNING"))) as client:
        untouched = await client.get("/me")
    if untouched.status_code != 401:
        raise ExerciseFailed(
            f"An app built with create_app() outside your function answered GET /me without a "
            f"key with {untouched.status_code}: your change reached every app, not only the "
            "test app. Override the dependency on the app create_test_app returns."
        )


EXERCISES = (
    Exercise(
        id="05.unit_of_work",
        notebook_id=NOTEBOOK_ID,
        title="A transaction per request",
        instructions=(
            "Complete get_connection, a yield dependency: one connection from the app's engine "
            "per request, committed when the endpoint succeeds, rolled back when it raises "
            "(the exception still reaches the client), always given back to the pool; and "
            "declare ConnectionDep so that a failed COMMIT is an error response. The check "
            "mounts ConnectionDep on an app with a notes table and sends a success, a failing "
            "endpoint, a failing COMMIT and two overlapping requests."
        ),
        starter=UNIT_STARTER,
        solution=UNIT_SOLUTION,
        name="ConnectionDep",
        verify=verify_unit_of_work,
        success="Commits, rollbacks, a failed COMMIT and overlapping requests all behave.",
        hints=(
            "Picture the request as a `with` block around the endpoint: something must happen "
            "when it ends normally, something else when it ends with an exception, and one "
            "thing in both cases. Then ask when it must happen for the client to hear about a "
            "failed commit.",
            "Read the sections '`yield` dependencies: set up, hand over, clean up' and 'When "
            "the code after `yield` runs'; get_session in dependencies.py (section 'Step 1: "
            "settings, engine, session') follows the same pattern with a session, and 'A "
            "failed COMMIT can leave its transaction open' shows why it rolls back.",
        ),
    ),
    Exercise(
        id="05.pagination",
        notebook_id=NOTEBOOK_ID,
        title="Page-number pagination",
        instructions=(
            "Write a class PageParams for Depends(): query parameters page (1 to 1000, default "
            "1) and size (1 to 50, default 10), out-of-bounds values answered with 422, and an "
            "`offset` property equal to (page - 1) * size. The check tries defaults, several "
            "values, every bound, and two requests in flight at once."
        ),
        starter=PAGINATION_STARTER,
        solution=PAGINATION_SOLUTION,
        name="PageParams",
        verify=verify_pagination,
        success="Defaults, values, offsets, every bound and overlapping requests behave.",
        hints=(
            "FastAPI reads a class's __init__ like an endpoint: each parameter's name, default "
            "and declared bounds become a query parameter and its 422. And it builds a new "
            "instance for every request.",
            "Read the section 'A class as a dependency: pagination with bounds': Pagination in "
            "dependencies.py declares its bounds the same way.",
        ),
    ),
    Exercise(
        id="05.override_caller",
        notebook_id=NOTEBOOK_ID,
        title="Override the caller in a test",
        instructions=(
            "Complete create_test_app(): return a fresh real app (create_app) with the caller "
            "dependency overridden, so GET /me answers 200 "
            '{"name": "test-user", "auth_scheme": "api_key"} without any key, while apps '
            "built elsewhere still ask for one."
        ),
        starter=OVERRIDE_STARTER,
        solution=OVERRIDE_SOLUTION,
        name="create_test_app",
        verify=verify_override,
        success="GET /me answers as test-user, with no key and with a wrong one; other apps "
        "still ask for a key.",
        hints=(
            "Before it calls a dependency, FastAPI looks in a dict on the app for a "
            "replacement, keyed by the very function the route was built with.",
            "Read the section 'Overriding a dependency in a test'.",
        ),
    ),
)
