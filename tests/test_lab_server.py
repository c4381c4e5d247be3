"""lab.serve: a real uvicorn server that is ready when the block starts and gone after it."""

from __future__ import annotations

import statistics
import threading
import time
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from workshop_lab.servers import serve

pytestmark = pytest.mark.anyio


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "workshop-uvicorn" and t.is_alive()]


def probe_app(*, ready: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/health/ready")
    async def health_ready(response: Response) -> dict[str, str]:
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "starting"}

    @app.get("/client")
    async def client(request: Request) -> dict[str, str]:
        assert request.client is not None
        return {"host": request.client.host}

    return app


async def _refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as client:
            await client.get("/health/ready")
    except httpx.ConnectError:
        return True
    return False


async def test_serves_over_real_http_and_stops_after_the_block() -> None:
    async with serve(probe_app()) as url:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/client")
        assert response.json() == {"host": "127.0.0.1"}
        assert response.headers["server"] == "uvicorn"  # added by the server, not the app
        assert "date" in response.headers
    assert _server_threads() == []
    assert await _refused(url)


async def test_an_error_in_the_block_still_stops_the_server() -> None:
    with pytest.raises(LookupError):
        async with serve(probe_app()) as url:
            raise LookupError("the cell failed")
    assert _server_threads() == []
    assert await _refused(url)


async def test_a_startup_failure_raises_with_the_apps_reason() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        raise RuntimeError("database not migrated")
        yield

    with pytest.raises(RuntimeError, match="during startup: RuntimeError: database not migrated"):
        async with serve(FastAPI(lifespan=lifespan), log_level="critical"):
            pytest.fail("the block must not run")  # pragma: no cover
    assert _server_threads() == []


async def test_it_waits_for_readiness_and_gives_up_in_time() -> None:
    with pytest.raises(TimeoutError, match="GET /health/ready did not answer 200"):
        async with serve(probe_app(ready=False), startup_timeout=0.5):
            pytest.fail("the block must not run")  # pragma: no cover
    assert _server_threads() == []


async def test_without_a_ready_path_it_only_waits_for_the_socket() -> None:
    async with (
        serve(probe_app(ready=False), ready_path=None) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/health/ready")).status_code == 503


async def test_responses_do_not_wait_for_a_delayed_ack() -> None:
    """Without TCP_NODELAY every response waits ~40 ms (Nagle + delayed ACK). The median of
    20 is compared, not the sum: a busy moment on this machine slows a few, not most."""
    async with serve(probe_app()) as url, httpx.AsyncClient(base_url=url) as client:
        await client.get("/client")
        times = []
        for _ in range(20):
            started = time.perf_counter()
            await client.get("/client")
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.03, f"per request: {sorted(times)}"
