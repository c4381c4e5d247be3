"""In-process cases: every app called through httpx's ``ASGITransport``, no network.

Each case is an operation repeated ``batch`` times in a row; one sample is the
mean time of that batch, in microseconds. Every repetition runs one batch of
every case, in round-robin order (rotated by one case per repetition), so the
noise of a shared machine spreads over all cases instead of hitting one.

The client's own work (building the request, ``ASGITransport``, reading the
response) is in every HTTP case. ``raw ASGI`` measures exactly that plus the
least an app can do, so ``case - raw`` is what the app itself costs.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    nullcontext,
    redirect_stderr,
)
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from bare_app import create_bare_app, create_bare_read_app, raw_app
from base_http_middleware import (
    BaseAccessLogMiddleware,
    BaseRateLimitMiddleware,
    BaseRequestIdMiddleware,
)
from bench_config import (
    AUTH_HEADERS,
    UNREACHABLE_RATE_LIMIT,
    app_settings,
    prepare_database,
    silence_app_logs,
)
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp

from workshop_app.database import create_engine
from workshop_app.main import create_app
from workshop_app.middleware import (
    AccessLogMiddleware,
    RateLimitMiddleware,
    RequestIdMiddleware,
)
from workshop_app.models import User
from workshop_app.schemas import UserCreate
from workshop_app.services import UserService

Operation = Callable[[int], Awaitable[None]]
LIVE = "/health/live"
# The rate limiter exempts the health paths; the cases that measure it turn that off,
# and give it a limit no benchmark reaches, so it does its whole work on every request.
LIMITER = {"requests": UNREACHABLE_RATE_LIMIT, "window_seconds": 60.0, "exempt_paths": ()}


class BenchmarkError(RuntimeError):
    """A case answered something other than what it measures (a 404, a 429...)."""


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    baseline: str | None  # the case this one is divided by
    batch: int  # operations per sample
    operation: Operation
    target: tuple[str, float] | None = None  # ("<=", 1.3): ratio <= 1.3; (">", 1.0): ratio > 1
    target_text: str = ""
    # Entered and left inside every timed batch: what it sets up and tears down is counted.
    around: Callable[[], AbstractAsyncContextManager[None]] = nullcontext


def bare_with(*middleware: tuple[type, dict]) -> FastAPI:
    """The bare app with ``middleware`` added in this order (the last one outermost)."""
    app = create_bare_app()
    for cls, options in middleware:
        app.add_middleware(cls, **options)
    return app


def pure_stack() -> FastAPI:
    """The app's three middleware, in ``register_middleware``'s order, around the bare app."""
    return bare_with(
        (RateLimitMiddleware, LIMITER), (AccessLogMiddleware, {}), (RequestIdMiddleware, {})
    )


def base_http_stack() -> FastAPI:
    """The same three as ``BaseHTTPMiddleware`` twins, in the same order."""
    return bare_with(
        (BaseRateLimitMiddleware, LIMITER),
        (BaseAccessLogMiddleware, {}),
        (BaseRequestIdMiddleware, {}),
    )


class _RecordAsIs(QueueHandler):
    """Queue the record itself: the JSON is built in the listener's thread, off the loop
    (the standard ``prepare`` formats the message on the caller's side)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


@asynccontextmanager
async def queued_app_logs() -> AsyncIterator[None]:
    """The app's JSON handler behind a ``QueueHandler`` + ``QueueListener``, the usual advice
    for keeping log I/O off the event loop. The listener is stopped before the batch ends,
    which waits until every queued line is written: the writing is in the sample."""
    logger = logging.getLogger("workshop_app")
    handlers = logger.handlers[:]
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(lines, *handlers, respect_handler_level=True)
    logger.handlers[:] = [_RecordAsIs(lines)]
    listener.start()
    try:
        yield
    finally:
        listener.stop()
        logger.handlers[:] = handlers


def expect(status: int, response: httpx.Response) -> None:
    if response.status_code != status:
        raise BenchmarkError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )


def get(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> Operation:
    async def operation(_: int) -> None:
        expect(200, await client.get(path, headers=headers))

    return operation


def new_user(tag: str, n: int) -> dict[str, str]:
    """A valid ``UserCreate`` body with an email no other operation uses."""
    return {
        "email": f"bench-{tag}-{n}@example.com",
        "full_name": "Benchmark User",
        "password": "correct horse battery staple",
    }


async def start(stack: AsyncExitStack, app: ASGIApp) -> httpx.AsyncClient:
    """Run ``app``'s lifespan and return a client whose transport wraps ``manager.app``."""
    manager = await stack.enter_async_context(LifespanManager(app))
    transport = httpx.ASGITransport(app=manager.app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://bench.test")
    )


async def build_cases(stack: AsyncExitStack, workdir: Path, *, quick: bool) -> list[Case]:
    # Operations per sample: about 0.1 s per batch. Creating a user hashes its password
    # with scrypt (~40 ms of CPU, by design), so those batches are short.
    cheap, database, hashing = (20, 5, 2) if quick else (300, 100, 8)
    settings = app_settings(prepare_database(workdir / "inprocess.db"))
    # Opened first so it is closed last, after every lifespan has logged its shutdown.
    log_sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115

    with redirect_stderr(log_sink):  # the lifespan's "Started" line, logged before we can
        full = await start(stack, create_app(settings))
    silence_app_logs(log_sink, settings.log_level)
    clients = {
        "raw": await start(stack, raw_app),
        "bare": await start(stack, create_bare_app()),
        "request_id": await start(stack, bare_with((RequestIdMiddleware, {}))),
        "access_log": await start(stack, bare_with((AccessLogMiddleware, {}))),
        "rate_limit": await start(stack, bare_with((RateLimitMiddleware, LIMITER))),
        "pure": await start(stack, pure_stack()),
        "base_http": await start(stack, base_http_stack()),
    }

    engine = create_engine(settings)
    stack.push_async_callback(engine.dispose)
    created = await full.post("/users", json=new_user("read", 0), headers=AUTH_HEADERS)
    expect(201, created)
    user_id = created.json()["id"]
    password_hash = await _stored_hash(engine, user_id)
    bare_read = await start(stack, create_bare_read_app(engine))

    async def read_statements(_: int) -> None:
        """What ``GET /users/{id}`` sends to the database: the SELECT by key, COMMIT."""
        async with AsyncSession(engine, expire_on_commit=False) as session:
            if await session.get(User, user_id) is None:
                raise BenchmarkError(f"user {user_id} vanished")
            await session.commit()

    async def read_service(_: int) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await UserService(session).get(user_id)
            await session.commit()

    async def write_statements(n: int) -> None:
        """What ``POST /users`` sends to the database: the email check, the INSERT, COMMIT."""
        body = new_user("statements", n)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            taken = await session.exec(select(User).where(User.email == body["email"]))
            if taken.first() is not None:
                raise BenchmarkError(f"{body['email']} exists already")
            session.add(
                User(email=body["email"], full_name=body["full_name"], password_hash=password_hash)
            )
            await session.commit()

    async def write_service(n: int) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await UserService(session).create(UserCreate(**new_user("service", n)))
            await session.commit()

    async def write_stack(n: int) -> None:
        expect(201, await full.post("/users", json=new_user("stack", n), headers=AUTH_HEADERS))

    user_path = f"/users/{user_id}"
    return [
        Case("raw", "raw ASGI callable (ceiling)", "bare", cheap,
             get(clients["raw"], LIVE)),
        Case("bare", "bare FastAPI app", None, cheap, get(clients["bare"], LIVE)),
        Case("request_id", "bare + request id", "bare", cheap,
             get(clients["request_id"], LIVE)),
        Case("access_log", "bare + access log", "bare", cheap,
             get(clients["access_log"], LIVE)),
        Case("rate_limit", "bare + rate limit", "bare", cheap,
             get(clients["rate_limit"], LIVE)),
        Case("pure_three", "bare + all three, pure ASGI", "bare", cheap,
             get(clients["pure"], LIVE)),
        Case("base_http_three", "bare + all three, BaseHTTPMiddleware", "pure_three",
             cheap, get(clients["base_http"], LIVE),
             (">", 1.0), "pure ASGI faster than BaseHTTPMiddleware"),
        Case("full_app", "full app (create_app)", "bare", cheap, get(full, LIVE),
             ("<=", 1.3), "full stack latency <= 1.3x the bare app's"),
        Case("full_app_queued_log", "full app, JSON log through a QueueHandler", "full_app",
             cheap, get(full, LIVE), around=queued_app_logs),
        Case("read_statements", "read: session.get + commit", None, database,
             read_statements),
        Case("read_service", "read: UserService.get", "read_statements", database,
             read_service),
        Case("read_bare", "read: GET /users/{id}, bare FastAPI + SQLModel", "read_statements",
             database, get(bare_read, user_path)),
        Case("read_stack", "read: GET /users/{id}, full app", "read_bare", database,
             get(full, user_path, AUTH_HEADERS),
             ("<=", 1.1), "a read by id <= 1.1x the bare FastAPI + SQLModel route"),
        Case("write_statements", "write: session.add + commit", None, database,
             write_statements),
        Case("write_service", "write: UserService.create", "write_statements", hashing,
             write_service),
        Case("write_stack", "write: POST /users, full app", "write_statements", hashing,
             write_stack),
    ]  # fmt: skip


async def _stored_hash(engine: AsyncEngine, user_id: int) -> str:
    """A real password hash, computed once, so the statements case inserts a realistic row."""
    async with AsyncSession(engine) as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user.password_hash


async def measure(cases: list[Case], repetitions: int) -> dict[str, dict[str, list[float]]]:
    """Per case, one sample per repetition, in round-robin order, in µs per operation.

    ``wall`` is the latency a caller sees. ``cpu`` is the CPU time this process
    spent (all its threads, aiosqlite's included): other processes on the machine
    barely move it, so it cross-checks a ratio that the noise may have bent.
    """
    for case in cases:  # warm caches, pools and lazily built routes before timing
        for n in range(max(3, case.batch // 10)):
            await case.operation(-1 - n)
    samples = {case.id: {"wall": [], "cpu": []} for case in cases}
    counter = 0
    for repetition in range(repetitions):
        shift = repetition % len(cases)
        for case in cases[shift:] + cases[:shift]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            async with case.around():
                for _ in range(case.batch):
                    counter += 1
                    await case.operation(counter)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            samples[case.id]["wall"].append(wall / case.batch * 1e6)
            samples[case.id]["cpu"].append(cpu / case.batch * 1e6)
    return samples


async def run(workdir: Path, *, repetitions: int, quick: bool) -> tuple[list[Case], dict]:
    async with AsyncExitStack() as stack:
        cases = await build_cases(stack, workdir, quick=quick)
        samples = await measure(cases, repetitions)
    return cases, samples
