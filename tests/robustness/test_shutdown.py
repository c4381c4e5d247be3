"""Shutting down with work in flight: it finishes before the lifespan ends, or it is reported.

Tested here: Starlette background tasks attached to responses, and requests still running
when the client block ends. The app's lifespan disposes the engine
on shutdown, so any work that outlived it would fail or vanish; these tests record the
order of events and the rows written to prove that neither happens:

* under the toolkit client (``lab.app_client``), gathered requests and their background
  tasks finish before the lifespan's shutdown starts;
* requests still running when the ``async with`` block ends are waited for, like a real
  server's graceful shutdown; any still running after ``shutdown_timeout`` are reported by
  name instead of being dropped silently;
* under a real uvicorn server, background work of answered requests finishes before the
  lifespan's shutdown.

Queued domain events have their shutdown guarantees tested beside the relay: drained at
shutdown, and what a timeout leaves stays pending and goes out at the next start
(tests/test_lifespan.py, tests/test_event_relay.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from robustness_helpers import AUTH, build_app
from sqlalchemy import text
from starlette.background import BackgroundTask

from workshop_app.dependencies import SessionDep
from workshop_lab import app_client

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("clean_env")]


class Timeline(list[str]):
    """What happened, in order: responses, finished tasks, commits, shutdown, disposal."""

    def all_before(self, prefix: str, entry: str) -> bool:
        cut = self.index(entry)
        return all(i < cut for i, e in enumerate(self) if e.startswith(prefix))


def app_with_work(database_url: str, timeline: Timeline, *, task_seconds: float = 0.1) -> FastAPI:
    """The real app plus routes that leave work running: a background task, a slow write."""
    app = build_app(database_url=database_url)
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with startup(app) as state:
            engine = state["engine"]
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE IF NOT EXISTS work (n INTEGER)"))
            yield state
            timeline.append("shutdown begins")
        timeline.append("engine disposed")

    app.router.lifespan_context = lifespan

    @app.post("/work/{n}")
    async def work_in_background(n: int, request: Request) -> JSONResponse:
        engine = request.state.engine

        async def finish() -> None:
            await asyncio.sleep(task_seconds)
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO work VALUES (:n)"), {"n": n})
            timeline.append(f"task {n} done")

        timeline.append(f"respond {n}")
        return JSONResponse({"n": n}, background=BackgroundTask(finish))

    @app.post("/slow-write/{n}")
    async def slow_write(n: int, session: SessionDep) -> dict:
        await session.exec(text("INSERT INTO work VALUES (:n)").bindparams(n=n))
        await asyncio.sleep(task_seconds)  # holds its connection, mid-transaction
        timeline.append(f"write {n} done")
        return {"n": n}

    return app


def rows(database: Path) -> list[int]:
    with sqlite3.connect(database) as connection:
        return sorted(n for (n,) in connection.execute("SELECT n FROM work"))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A file database, so the rows can be counted after the engine is gone."""
    return tmp_path / "work.db"


def url(database: Path) -> str:
    return f"sqlite+aiosqlite:///{database}"


async def test_background_tasks_finish_before_the_lifespan_shuts_down(database: Path) -> None:
    timeline = Timeline()
    async with app_client(app_with_work(url(database), timeline)) as client:
        responses = await asyncio.gather(
            *(client.post(f"/work/{n}", headers=AUTH) for n in range(10))
        )
    assert [response.status_code for response in responses] == [200] * 10
    assert timeline.all_before("task ", "shutdown begins")
    assert timeline[-2:] == ["shutdown begins", "engine disposed"]
    assert rows(database) == list(range(10))


async def test_the_engine_is_disposed_after_in_flight_requests_commit(database: Path) -> None:
    timeline = Timeline()
    async with app_client(app_with_work(url(database), timeline)) as client:
        responses = await asyncio.gather(
            *(client.post(f"/slow-write/{n}", headers=AUTH) for n in range(8))
        )
    assert [response.status_code for response in responses] == [200] * 8
    assert timeline.all_before("write ", "engine disposed")
    assert rows(database) == list(range(8))


async def test_requests_still_running_when_the_block_ends_finish_first(database: Path) -> None:
    """A notebook that starts requests as tasks and leaves the block does not lose them."""
    timeline = Timeline()
    async with app_client(app_with_work(url(database), timeline)) as client:
        started = [
            asyncio.create_task(client.post(f"/{kind}/{n}", headers=AUTH))
            for n, kind in enumerate(["work", "slow-write"] * 3)
        ]
        await asyncio.sleep(0)  # the requests are running, none has finished
    assert all(task.done() for task in started)
    assert [task.result().status_code for task in started] == [200] * 6
    assert timeline.all_before("task ", "shutdown begins")
    assert timeline.all_before("write ", "shutdown begins")
    assert rows(database) == list(range(6))


async def test_work_still_running_at_the_timeout_is_reported_not_dropped(database: Path) -> None:
    timeline = Timeline()
    app = app_with_work(url(database), timeline, task_seconds=30)
    with pytest.raises(
        RuntimeError, match=r"1 request\(s\) still running .*POST /slow-write/7"
    ) as caught:
        async with app_client(app, shutdown_timeout=0.2) as client:
            running = asyncio.create_task(client.post("/slow-write/7", headers=AUTH))
            await asyncio.sleep(0.05)
    assert "shut down" in str(caught.value)
    assert timeline[-2:] == ["shutdown begins", "engine disposed"]  # shut down all the same
    running.cancel()
    with pytest.raises((asyncio.CancelledError, Exception)):
        await running


async def test_a_real_server_finishes_background_work_before_its_lifespan_ends(
    database: Path,
) -> None:
    """uvicorn answers first and runs the task after (the response is sent before the
    background tasks start), then shuts down."""
    timeline = Timeline()
    app = app_with_work(url(database), timeline, task_seconds=0.3)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        responses = await asyncio.gather(
            *(client.post(f"/work/{n}", headers=AUTH) for n in range(5))
        )
    assert [response.status_code for response in responses] == [200] * 5
    assert not any(entry.startswith("task ") for entry in timeline)  # answered, still working
    server.should_exit = True
    await serving
    assert timeline.all_before("task ", "shutdown begins")
    assert timeline[-2:] == ["shutdown begins", "engine disposed"]
    assert rows(database) == list(range(5))
