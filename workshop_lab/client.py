"""Talk to an app in-process, the way the notebooks and the checks do.

``httpx.ASGITransport`` alone never sends the ASGI lifespan events, so an app
whose engine or state is created at startup would fail on its first request.
``asgi_lifespan.LifespanManager`` runs startup and shutdown, and the transport
must wrap ``manager.app`` (not the bare app) for the lifespan state to reach
``request.state``. One more difference from a real server is smoothed over:
asgi-lifespan hands every request the *same* state dict, while uvicorn gives
each request a shallow copy, so a value one request stores in its state would
leak into the next. ``_copy_state_per_request`` restores the server behaviour.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from asgi_lifespan import LifespanManager

T = TypeVar("T")

BASE_URL = "http://workshop.test"


def _build_app(app_or_settings: Any) -> Any:
    """Accept an ASGI app, a Settings object, or None (the default settings)."""
    if callable(app_or_settings):
        return app_or_settings
    from workshop_app.main import create_app  # imported late: notebooks reload it

    return create_app(app_or_settings)


class _InFlight:
    """Count the requests the app is still handling, so shutdown can wait for them.

    A real server's graceful shutdown stops accepting, waits for the requests it is
    serving (background tasks included), and only then runs the lifespan's shutdown. A
    notebook may start requests as tasks and leave the ``async with`` block before they
    end; without this the engine would be disposed under them and their work lost.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.running: dict[int, str] = {}
        self.idle = asyncio.Event()
        self.idle.set()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = id(scope)
        self.running[key] = f"{scope['method']} {scope['path']}"
        self.idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            del self.running[key]
            if not self.running:
                self.idle.set()

    async def wait(self, timeout: float) -> list[str]:
        """Wait until no request runs; return the ones still running after ``timeout``."""
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except TimeoutError:
            return sorted(self.running.values())
        return []


def _copy_state_per_request(app: Any) -> Any:
    async def app_with_own_state(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return app_with_own_state


@asynccontextmanager
async def app_client(
    app: Any = None,
    *,
    raise_app_exceptions: bool = False,
    startup_timeout: float = 10,
    shutdown_timeout: float = 10,
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an ``httpx.AsyncClient`` wired to ``app`` with its lifespan running.

    ``app`` may be an ASGI app, a ``Settings`` instance (passed to ``create_app``)
    or ``None`` for the default settings. By default an unhandled exception comes
    back as the app's own 500 response, as it would from a real server; pass
    ``raise_app_exceptions=True`` to have it re-raised here instead.

    Leaving the block shuts the app down like a server would: requests still running
    (started as tasks, say) finish first. Any still running after ``shutdown_timeout``
    seconds are named in a ``RuntimeError`` raised once the app has shut down.
    """
    asgi_app = _copy_state_per_request(_build_app(app))
    unfinished: list[str] = []
    async with LifespanManager(asgi_app, startup_timeout=startup_timeout) as manager:
        in_flight = _InFlight(manager.app)
        transport = httpx.ASGITransport(app=in_flight, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            try:
                yield client
            finally:
                unfinished = await in_flight.wait(shutdown_timeout)
    if unfinished:
        raise RuntimeError(
            f"{len(unfinished)} request(s) still running {shutdown_timeout} s after the "
            f"client block ended, when the app was shut down: {', '.join(unfinished)}"
        )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside Jupyter.

    Widget callbacks and plain cells run inside the kernel's already-running
    event loop, where ``asyncio.run`` raises. Rather than patching that loop
    (nest-asyncio changes it for the whole kernel), we run the coroutine in a
    fresh loop on a short-lived worker thread and wait for it. This is the one
    place in the toolkit that bridges sync and async.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)

    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=worker, name="workshop-run-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _request(app: Any, method: str, url: str, repeat: int, kwargs: dict) -> httpx.Response:
    async with app_client(app) as client:
        for _ in range(repeat - 1):
            await client.request(method, url, **kwargs)
        return await client.request(method, url, **kwargs)


def call(app: Any, method: str, url: str, *, repeat: int = 1, **kwargs: Any) -> httpx.Response:
    """Make one request (or ``repeat`` in a row) synchronously; return the last response.

    For widget buttons and quick cells. Each call runs the app's lifespan once,
    so the app starts and stops around the requests.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    return run_sync(_request(app, method, url, repeat, kwargs))
