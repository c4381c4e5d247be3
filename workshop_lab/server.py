"""Serve an app with uvicorn on a free local port, for as long as a block runs.

``ASGITransport`` calls the app in-process, which hides what only a server does:
the socket, the headers it adds, when the client really gets the response. To see
those, ``serve`` runs uvicorn in a thread of the kernel (its own event loop) and
always stops it, whatever happens in the block, so a failing cell never leaves a
server holding a port. The port is chosen by the system (bind to port 0) and
bound before uvicorn starts, so there is no race with another process for it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import uvicorn

HOST = "127.0.0.1"


class _StartupWatch:
    """ASGI wrapper that keeps the exception the app's lifespan startup raised, if any.

    uvicorn only logs it and ends ``Server.run``; the caller deserves the reason.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.error = self.error or exc
            raise


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """The thread's target; uvicorn ends a failed startup with ``sys.exit(3)``, kept quiet here."""
    with suppress(SystemExit):
        server.run(sockets=[sock])


async def _wait_until_started(
    server: uvicorn.Server, thread: threading.Thread, watch: _StartupWatch, deadline: float
) -> None:
    while not server.started:
        if not thread.is_alive():
            reason = f": {type(watch.error).__name__}: {watch.error}" if watch.error else ""
            raise RuntimeError(f"The server stopped during startup{reason}") from watch.error
        if time.monotonic() > deadline:
            raise TimeoutError("The server did not start in time.")
        await asyncio.sleep(0.01)


async def _wait_until_ready(url: str, ready_path: str, deadline: float) -> None:
    """Poll the readiness probe, as an orchestrator would before sending traffic."""
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while True:
            with suppress(httpx.TransportError):
                if (await client.get(ready_path)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"GET {ready_path} did not answer 200 in time.")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def serve(
    app: Any,
    *,
    ready_path: str | None = "/health/ready",
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    log_level: str = "warning",
) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on ``127.0.0.1:<free port>``; yield its base URL.

    Returns once the server answers ``ready_path`` with 200 (``None``: once it
    listens). On leaving the block, even by an exception, the server is asked to
    exit (``should_exit``), finishes its requests within ``shutdown_timeout``
    seconds, and its thread is joined. Startup failures raise ``RuntimeError``
    with the app's own exception as the cause.
    """
    watch = _StartupWatch(app)
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle's algorithm).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        watch,
        lifespan="on",
        log_config=None,  # leave the kernel's logging alone
        log_level=log_level,
        access_log=False,  # the app writes its own access log
        timeout_graceful_shutdown=shutdown_timeout,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=_run, args=(server, sock), name="workshop-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        await _wait_until_started(server, thread, watch, deadline)
        if ready_path is not None:
            await _wait_until_ready(url, ready_path, deadline)
        yield url
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, shutdown_timeout + 5)
        sock.close()
        if thread.is_alive():  # pragma: no cover - uvicorn ignored should_exit
            raise RuntimeError("The server did not stop; its thread is still running.")
