"""Exercises of notebook 03 (the middleware chain): a timing middleware, then its place.

The checks import the reference app's middleware when they run, not when this module
loads: the notebook rewrites and reloads those modules, and the check must use the
classes of the same generation as the error envelope and the request-id contextvar.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
from typing import Any

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from ..client import app_client
from ..notebook import capture_logs
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "04_middleware"
HEADER = "X-Process-Time"
SLOW_SECONDS = 0.02  # the check's endpoint sleeps this long before it answers
TOO_LONG_SECONDS = 10.0  # no request in the check takes this long: larger means wrong units

TIMING_STARTER = '''\
from starlette.types import ASGIApp, Receive, Scope, Send


class TimingMiddleware:
    """Add X-Process-Time (seconds as a plain number, e.g. "0.001234") to HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO: for "http" scopes only, start a clock, wrap `send`, and add the header
        # when the "http.response.start" message passes through your wrapper.
        # Other scopes ("lifespan", "websocket") go to self.app untouched.
        await self.app(scope, receive, send)
'''

TIMING_SOLUTION = '''\
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TimingMiddleware:
    """Add X-Process-Time (seconds as a plain number, e.g. "0.001234") to HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()

        async def send_with_time(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - start
                MutableHeaders(scope=message)["X-Process-Time"] = f"{elapsed:.6f}"
            await send(message)

        await self.app(scope, receive, send_with_time)
'''

ORDER_STARTER = '''\
from starlette.applications import Starlette

from workshop_app.config import Settings
from workshop_app.middleware import (
    AccessLogMiddleware,
    RateLimitMiddleware,
    RequestIdMiddleware,
)


def register_middleware_with_timing(
    app: Starlette, settings: Settings, timing_middleware: type
) -> None:
    """The stack of this notebook plus a timing middleware. Two lines are misplaced."""
    app.add_middleware(timing_middleware)
    app.add_middleware(
        RateLimitMiddleware,
        requests=settings.rate_limit_requests,
        window_seconds=settings.rate_limit_window_seconds,
        trust_forwarded_for=settings.trust_forwarded_for,
    )
    app.add_middleware(RequestIdMiddleware, header_name=settings.request_id_header)
    app.add_middleware(AccessLogMiddleware)
'''

ORDER_SOLUTION = '''\
from starlette.applications import Starlette

from workshop_app.config import Settings
from workshop_app.middleware import (
    AccessLogMiddleware,
    RateLimitMiddleware,
    RequestIdMiddleware,
)


def register_middleware_with_timing(
    app: Starlette, settings: Settings, timing_middleware: type
) -> None:
    """The stack of this notebook plus a timing middleware, added innermost first."""
    app.add_middleware(
        RateLimitMiddleware,
        requests=settings.rate_limit_requests,
        window_seconds=settings.rate_limit_window_seconds,
        trust_forwarded_for=settings.trust_forwarded_for,
    )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware, header_name=settings.request_id_header)
    app.add_middleware(timing_middleware)  # outermost: it times everything, 429s included
'''

_PURE_ASGI_SHAPE = (
    "Write a class with `__init__(self, app)` and `async def __call__(self, scope, receive, "
    "send)`, as RequestIdMiddleware does."
)


# --- 04.timing_middleware -------------------------------------------------------------------


def _timing_class(candidate: Any) -> type:
    """The candidate must be a pure ASGI middleware class; say precisely what it is instead."""
    if not isinstance(candidate, type):
        if hasattr(candidate, "app") and callable(candidate):
            raise ExerciseFailed(
                "You passed a middleware instance; pass the class itself: "
                "lab.check('04.timing_middleware', TimingMiddleware) - no parentheses."
            )
        if inspect.isfunction(candidate):
            parameters = list(inspect.signature(candidate).parameters)
            if len(parameters) == 2:
                raise ExerciseFailed(
                    f"{candidate.__name__}({', '.join(parameters)}) is the "
                    "`@app.middleware('http')` style, which FastAPI runs through "
                    f"BaseHTTPMiddleware. {_PURE_ASGI_SHAPE}"
                )
        raise ExerciseFailed(
            f"Expected the class TimingMiddleware, got {type(candidate).__name__} "
            f"({candidate!r:.60}). {_PURE_ASGI_SHAPE}"
        )
    if issubclass(candidate, BaseHTTPMiddleware):
        raise ExerciseFailed(
            f"{candidate.__name__} subclasses BaseHTTPMiddleware: it works, but it runs the "
            "rest of the app in another task (contextvars set there are lost) and costs a task "
            f"and a memory channel per request. Make it pure ASGI. {_PURE_ASGI_SHAPE}"
        )
    if not inspect.iscoroutinefunction(candidate.__call__):
        raise ExerciseFailed(
            f"{candidate.__name__}.__call__ is not `async def`: the server awaits it. "
            f"{_PURE_ASGI_SHAPE}"
        )
    return candidate


def _build(cls: type, app: Any) -> Any:
    try:
        return cls(app)
    except TypeError as exc:
        raise ExerciseFailed(
            f"{cls.__name__}(app) failed: {exc}. Starlette builds a middleware with the "
            "wrapped app as its only positional argument: `def __init__(self, app):`."
        ) from None


# Scopes that are not HTTP requests: the scope, what the server sends in, and one message
# the wrapped app sends back out.
_OTHER_SCOPES = {
    "lifespan": (
        {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
        {"type": "lifespan.startup"},
        {"type": "lifespan.startup.complete"},
    ),
    "websocket": (
        {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "root_path": "",
            "headers": [],
            "client": ("127.0.0.1", 50000),
            "server": ("workshop.test", 80),
            "subprotocols": [],
        },
        {"type": "websocket.connect"},
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
    ),
}


async def _run_other_scope(cls: type, kind: str) -> tuple[int, list[dict]]:
    """Send one non-HTTP scope through the middleware: (calls of the wrapped app, messages out)."""
    scope, incoming, outgoing = _OTHER_SCOPES[kind]
    calls: list[str] = []
    sent: list[dict] = []

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        await receive()
        await send(copy.deepcopy(outgoing))  # a copy: the middleware may mutate what it gets

    async def receive() -> dict:
        return dict(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    await _build(cls, inner)(dict(scope), receive, send)
    return len(calls), sent


async def _passes_other_scopes_through(cls: type) -> None:
    """A lifespan or websocket scope must reach the wrapped app, its messages unchanged."""
    for kind, (_, _, outgoing) in _OTHER_SCOPES.items():
        try:
            calls, sent = await _run_other_scope(cls, kind)
        except ExerciseFailed:
            raise
        except Exception as exc:
            raise ExerciseFailed(
                f"On a {kind!r} scope your middleware raised {type(exc).__name__}: {exc}. "
                "Only HTTP scopes have a method, headers to time and a response start: begin "
                '`__call__` with `if scope["type"] != "http": await self.app(scope, receive, '
                "send); return`."
            ) from None
        if calls != 1:
            consequence = (
                "the server's startup would never run"
                if kind == "lifespan"
                else "websockets would never connect"
            )
            raise ExerciseFailed(
                f"For a {kind!r} scope your middleware called the wrapped app {calls} times, "
                f"not once: {consequence}. Pass non-HTTP scopes on untouched: "
                "`await self.app(scope, receive, send)`."
            )
        if sent != [outgoing]:
            raise ExerciseFailed(
                f"For a {kind!r} scope the messages changed on the way out (the app sent "
                f"{outgoing}, the server got {sent}). Wrap `send` for HTTP scopes only."
            )


def _timing_app(cls: type) -> FastAPI:
    """A small app with the real request-id and rate-limit middleware, ``cls`` outermost."""
    from workshop_app.error_handlers import register_error_handlers
    from workshop_app.middleware import RateLimitMiddleware, RequestIdMiddleware

    app = FastAPI()
    register_error_handlers(app)

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(SLOW_SECONDS)
        return {"ok": True}

    app.add_middleware(RateLimitMiddleware, requests=2, window_seconds=60)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(cls)
    return app


def _process_time(response: Any, what: str) -> float:
    """The header as seconds, or a hint saying what is wrong with it."""
    values = response.headers.get_list(HEADER)
    if not values:
        if what.startswith("the 200"):
            raise ExerciseFailed(
                f"No {HEADER} header on {what}. In `__call__`, wrap `send`: when a message "
                'of type "http.response.start" passes, add the header to it, e.g. '
                f'`MutableHeaders(scope=message)["{HEADER}"] = f"{{elapsed:.6f}}"`, '
                "then forward the message."
            )
        raise ExerciseFailed(
            f"{HEADER} is on the 200 response but missing on {what}. Add it to every "
            '"http.response.start" message, whatever its status: errors need timing too.'
        )
    if len(values) > 1:
        raise ExerciseFailed(
            f"{what} has {len(values)} {HEADER} headers ({', '.join(values)}). Add it once, "
            "on the http.response.start message only (set it, do not append per message)."
        )
    try:
        seconds = float(values[0])
    except ValueError:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {values[0]!r}, not a number. Send seconds as a plain "
            "number without a unit, e.g. '0.001234' (f\"{elapsed:.6f}\")."
        ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {values[0]}: a duration is never negative. Compute "
            "`time.perf_counter() - start`, with `start` taken before calling the app."
        )
    if seconds > TOO_LONG_SECONDS:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {values[0]}, but that request took about "
            f"{SLOW_SECONDS} s. Send a duration in seconds (`time.perf_counter() - start`), "
            "not milliseconds and not a raw clock reading."
        )
    return seconds


async def verify_timing_middleware(candidate: Any) -> None:
    cls = _timing_class(candidate)
    await _passes_other_scopes_through(cls)
    async with app_client(_timing_app(cls), raise_app_exceptions=True) as client:
        ok = await client.get("/slow")
        missing = await client.get("/missing")
        limited = await client.get("/slow")  # the third request: over the limit of 2
    statuses = (ok.status_code, missing.status_code, limited.status_code)
    if statuses != (200, 404, 429):
        raise ExerciseFailed(
            f"The check's app answered {statuses}, expected (200, 404, 429). Your middleware "
            "must not change statuses or bodies: forward every message to `send`."
        )
    seconds = _process_time(ok, f"the 200 response (its endpoint sleeps {SLOW_SECONDS} s)")
    if seconds < SLOW_SECONDS * 0.75:
        raise ExerciseFailed(
            f"{HEADER} is {seconds:g} on a request whose endpoint sleeps {SLOW_SECONDS} s: "
            "the clock stopped before the app ran. Take `start` before `await self.app(...)` "
            "and compute the elapsed time inside your send wrapper, when the "
            "http.response.start message passes."
        )
    _process_time(missing, "the 404 response")
    _process_time(limited, "the 429 response from the rate limiter")


# --- 04.middleware_order ----------------------------------------------------------------------


def _order_app(candidate: Any, timing: type) -> tuple[FastAPI, Any]:
    from workshop_app.config import Settings
    from workshop_app.error_handlers import register_error_handlers

    if isinstance(candidate, type) or not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function register_middleware_with_timing, got "
            f"{type(candidate).__name__}. Pass the function itself, without parentheses."
        )
    settings = Settings(rate_limit_requests=1, rate_limit_window_seconds=60, log_level="WARNING")
    app = FastAPI()
    register_error_handlers(app)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    result = candidate(app, settings, timing)
    if inspect.iscoroutine(result):
        result.close()  # never awaited on purpose: avoid a "never awaited" warning
        raise ExerciseFailed(
            "register_middleware_with_timing is `async def`; add_middleware is a plain call, "
            "so make it a plain `def`."
        )
    return app, settings


def _check_stack(app: FastAPI, timing: type) -> None:
    from workshop_app.middleware import (
        AccessLogMiddleware,
        RateLimitMiddleware,
        RequestIdMiddleware,
    )

    added = [m.cls for m in app.user_middleware]
    for cls in (RequestIdMiddleware, AccessLogMiddleware, RateLimitMiddleware, timing):
        name = "timing_middleware" if cls is timing else cls.__name__
        count = added.count(cls)
        if count == 0:
            raise ExerciseFailed(f"{name} is never added: call app.add_middleware({name}, ...).")
        if count > 1:
            raise ExerciseFailed(
                f"{name} is added {count} times: every request would pass it {count} times. "
                "Add each middleware once."
            )


async def verify_middleware_order(candidate: Any) -> None:
    timing = EXERCISES[0].load(TIMING_SOLUTION)  # the reference, whatever the learner wrote
    app, settings = _order_app(candidate, timing)
    _check_stack(app, timing)
    header = settings.request_id_header
    with capture_logs("workshop_app.access") as records:
        async with app_client(app, raise_app_exceptions=True) as client:
            ok = await client.get("/hello")
            limited = await client.get("/hello")
    if (ok.status_code, limited.status_code) != (200, 429):
        raise ExerciseFailed(
            f"Two requests with rate_limit_requests=1 answered {ok.status_code} and "
            f"{limited.status_code}, expected 200 then 429. Configure RateLimitMiddleware "
            "from settings: requests=settings.rate_limit_requests, "
            "window_seconds=settings.rate_limit_window_seconds."
        )
    if HEADER not in limited.headers:
        raise ExerciseFailed(
            "The 429 has no X-Process-Time: the timing middleware sits inside the rate "
            "limiter, so a rejected request never reaches it. The last middleware added is "
            "the outermost: add timing_middleware after RateLimitMiddleware."
        )
    if header not in limited.headers:
        raise ExerciseFailed(
            f"The 429 has no {header}: RequestIdMiddleware sits inside the rate limiter. "
            "Add it after RateLimitMiddleware, so it wraps it."
        )
    logged = [getattr(r, "fields", {}) for r in records]
    if [f.get("status") for f in logged] != [200, 429]:
        raise ExerciseFailed(
            f"The access log has {len(logged)} line(s) with statuses "
            f"{[f.get('status') for f in logged]}, expected [200, 429]: AccessLogMiddleware "
            "sits inside the rate limiter, so 429s are never logged. Add it after "
            "RateLimitMiddleware."
        )
    ids = [f.get("request_id") for f in logged]
    if ids != [ok.headers[header], limited.headers[header]]:
        raise ExerciseFailed(
            f"The access log lines carry request ids {ids}, not the ids of the responses: "
            "AccessLogMiddleware sits outside RequestIdMiddleware, so the id is already gone "
            "when the line is written. Add RequestIdMiddleware after AccessLogMiddleware."
        )


EXERCISES = (
    Exercise(
        id="04.timing_middleware",
        notebook_id=NOTEBOOK_ID,
        title="Timing middleware",
        instructions=(
            "Write TimingMiddleware, a pure ASGI middleware class (not BaseHTTPMiddleware) that "
            "adds X-Process-Time to every HTTP response: the seconds from the request entering "
            "it to the response starting, as a plain number such as 0.001234. Non-HTTP scopes "
            "(lifespan, websocket) pass through untouched. The check puts it outermost on an app "
            "with the request-id and rate-limit middleware and looks at a 200, a 404 and a 429."
        ),
        starter=TIMING_STARTER,
        solution=TIMING_SOLUTION,
        name="TimingMiddleware",
        verify=verify_timing_middleware,
        success="X-Process-Time is on the 200, the 404 and the 429; other scopes pass through.",
    ),
    Exercise(
        id="04.middleware_order",
        notebook_id=NOTEBOOK_ID,
        title="Place it in the chain",
        instructions=(
            "Fix register_middleware_with_timing(app, settings, timing_middleware) so that every "
            "response, the 429 included, has X-Request-ID and X-Process-Time, and every request, "
            "the 429 included, gets an access-log line carrying its request id. The check "
            "passes a reference timing middleware and sends two requests with a limit of 1."
        ),
        starter=ORDER_STARTER,
        solution=ORDER_SOLUTION,
        name="register_middleware_with_timing",
        verify=verify_middleware_order,
        success="The 429 is timed, has its request id and is logged with it.",
    ),
)
