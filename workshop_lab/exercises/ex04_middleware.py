"""Exercises of notebook 04 (the middleware chain): a timing middleware, then its place.

The checks import the app's middleware when they run, not when this module loads: the
notebook rewrites and reloads those modules, and a check must use the classes of the same
generation as the error envelope and the request-id contextvar.

The timing check runs the learner's class the way production does: overlapping requests
(one instance serves them all), a route that fails, lifespan and websocket scopes, and
times compared with what the client measured. Each likely mistake gets its own hint.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from ..client import app_client
from ..notebook import capture_logs
from ._base import Exercise, ExerciseFailed, plain_result

NOTEBOOK_ID = "04_middleware"
HEADER = "X-Process-Time"
SLOW_SECONDS = 0.05  # the sequential slow route sleeps this long before it answers
OVERLAP_SECONDS = 0.15  # the overlapping slow request runs at least this long
WAIT_SECONDS = 1.0  # how long a request may take to get through the middleware to its route
REQUEST_SECONDS = 1.5  # how long any request of the check may take, start to end
# Some clocks tick coarsely (time.monotonic() on Windows: about 15 ms) and a value may be
# rounded for display ("0.05"): a header may exceed what the client measured by this much.
ROUNDING = 0.02

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

        start = time.perf_counter()  # a local: one instance serves every request at once

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
    """register_middleware's stack plus a timing middleware. Two lines are misplaced."""
    app.add_middleware(timing_middleware)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            requests=settings.rate_limit_requests,
            window_seconds=settings.rate_limit_window_seconds,
            trust_forwarded_for=settings.trust_forwarded_for,
        )
    app.add_middleware(RequestIdMiddleware)
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
    """register_middleware's stack plus a timing middleware, added innermost first."""
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            requests=settings.rate_limit_requests,
            window_seconds=settings.rate_limit_window_seconds,
            trust_forwarded_for=settings.trust_forwarded_for,
        )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(timing_middleware)  # outermost: it times everything, 429s included
'''


# --- 04.timing_middleware: what was passed ---------------------------------------------------


def _timing_factory(candidate: Any) -> Callable[[Any], Any]:
    """What builds the middleware around an app: a class, or a function of the app alone."""
    if isinstance(candidate, type):
        if issubclass(candidate, BaseHTTPMiddleware):
            raise ExerciseFailed(
                f"{candidate.__name__} subclasses BaseHTTPMiddleware: it works, but it runs the "
                "rest of the app in another task (context variables set there are lost) and "
                "costs a task and a memory channel per request. Write it as pure ASGI, like the "
                "middleware of this notebook."
            )
        return candidate
    if inspect.isfunction(candidate):
        parameters = list(inspect.signature(candidate).parameters)
        if len(parameters) == 1 and not inspect.iscoroutinefunction(candidate):
            return candidate  # a factory: def timing(app) -> ASGI app; pure ASGI as well
        if len(parameters) == 2:
            raise ExerciseFailed(
                f"{candidate.__name__}({', '.join(parameters)}) is the "
                "`@app.middleware('http')` style, which FastAPI runs on BaseHTTPMiddleware. "
                "Write a pure ASGI middleware class: built around the app, called with scope, "
                "receive and send."
            )
    if callable(candidate) and hasattr(candidate, "app"):
        raise ExerciseFailed(
            "You passed a middleware object; pass the class itself, without parentheses: "
            "Starlette builds one object around the app."
        )
    raise ExerciseFailed(
        f"Expected the class TimingMiddleware, got {type(candidate).__name__} "
        f"({candidate!r:.60}). Pass the class the exercise cell defines."
    )


def _name(factory: Callable[[Any], Any]) -> str:
    return getattr(factory, "__name__", "your middleware")


def _build(factory: Callable[[Any], Any], app: Any) -> Any:
    try:
        middleware = factory(app)
    except TypeError as exc:
        raise ExerciseFailed(
            f"Building {_name(factory)} around the app failed ({exc}). Starlette builds a "
            "middleware with the wrapped app as its only positional argument."
        ) from None
    if not callable(middleware):
        raise ExerciseFailed(
            f"{_name(factory)}(app) gave {type(middleware).__name__}, which cannot be called "
            "with scope, receive and send."
        )
    return middleware


async def _call(middleware: Any, scope: dict, receive: Any, send: Any) -> None:
    """Run the learner's middleware once; a call that gives nothing to await is named."""
    result = middleware(scope, receive, send)
    if not inspect.isawaitable(result):
        raise ExerciseFailed(
            f"Calling your middleware returned {result!r:.40}, not something to "
            "await: a server awaits its ASGI app, so the call must be a coroutine function."
        )
    await result


class _Inner:
    """Stands in front of the wrapped app: was it called, and was the call awaited?

    Calls are told apart by path, because the check's requests overlap. A coroutine that
    was created and never awaited is closed here, so a missing ``await`` gives a hint
    instead of a "coroutine was never awaited" warning.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[dict[str, Any]] = []

    def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        call: dict[str, Any] = {"awaited": False, "path": scope.get("path"), "seen": False}

        async def run() -> None:
            call["awaited"] = True
            await self.app(scope, receive, send)

        call["coroutine"] = run()
        self.calls.append(call)
        return call["coroutine"]

    def problem(self, path: str | None, what: str) -> ExerciseFailed | None:
        """What went wrong with the calls for ``path`` since the last look, if anything."""
        calls = [c for c in self.calls if c["path"] == path and not c["seen"]]
        for call in calls:
            call["seen"] = True
            if not call["awaited"]:
                call["coroutine"].close()
        if not calls:
            return ExerciseFailed(f"For {what} your middleware never called the wrapped app")
        if not any(call["awaited"] for call in calls):
            return ExerciseFailed(
                f"For {what} your middleware called the wrapped app without awaiting it, so "
                "the app never ran: calling an async function only creates a coroutine."
            )
        if len(calls) > 1:
            return ExerciseFailed(
                f"For {what} your middleware called the wrapped app {len(calls)} times: the "
                "request would be handled twice. Call it once."
            )
        return None


# --- 04.timing_middleware: scopes that are not HTTP ------------------------------------------

# The scope, what the server sends in, and one message the wrapped app sends back out.
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


async def _run_other_scope(
    factory: Callable[[Any], Any], kind: str
) -> tuple[_Inner, list[dict], BaseException | None]:
    """One non-HTTP scope through a fresh middleware: the stand-in app, what reached the
    server, and what the middleware raised (if anything)."""
    scope, incoming, outgoing = _OTHER_SCOPES[kind]
    sent: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await receive()
        await send(copy.deepcopy(outgoing))  # a copy: the middleware may change it

    async def receive() -> dict:
        return dict(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    inner = _Inner(app)
    middleware = _build(factory, inner)
    try:
        await _call(middleware, copy.deepcopy(scope), receive, send)
    except ExerciseFailed:
        raise
    except Exception as exc:
        return inner, sent, exc
    return inner, sent, None


async def _passes_other_scopes_through(factory: Callable[[Any], Any]) -> None:
    """A lifespan or websocket scope must reach the wrapped app, its messages unchanged."""
    for kind, (scope, _, outgoing) in _OTHER_SCOPES.items():
        inner, sent, error = await _run_other_scope(factory, kind)
        problem = inner.problem(scope.get("path"), f"a {kind!r} scope")
        if error is not None:
            raise ExerciseFailed(
                f"On a {kind!r} scope your middleware raised {type(error).__name__}: {error}. "
                "Only HTTP scopes have a method, headers and a response to time: hand every "
                "other scope to the wrapped app unchanged."
            )
        if problem is not None and not inner.calls:
            consequence = (
                "the server's startup would never run"
                if kind == "lifespan"
                else "websockets would never connect"
            )
            raise ExerciseFailed(
                f"{problem.hint}: {consequence}. Pass scopes that are not HTTP on to the app "
                "unchanged."
            )
        if problem is not None:
            raise problem
        if sent != [outgoing]:
            raise ExerciseFailed(
                f"For a {kind!r} scope the messages changed on the way out (the app sent "
                f"{outgoing}, the server got {sent}). Change only HTTP responses."
            )


# --- 04.timing_middleware: HTTP requests -----------------------------------------------------


class _Boom(RuntimeError):
    """What the check's failing route raises; it must reach the server."""


class _Harness:
    """The check's app with the learner's middleware outermost, and probes around it."""

    def __init__(self, factory: Callable[[Any], Any], *, requests: int) -> None:
        from workshop_app.error_handlers import register_error_handlers
        from workshop_app.middleware import RateLimitMiddleware, RequestIdMiddleware

        self.slow_entered = asyncio.Event()
        self.release = asyncio.Event()
        self.escaped: list[BaseException | None] = []  # what left the learner's middleware
        self.started: list[str] = []  # paths of the responses that left it
        app = FastAPI()
        register_error_handlers(app)
        # No 500 handler: an exception goes on to the server (the check), unlogged.
        app.exception_handlers.pop(Exception, None)
        harness = self

        @app.get("/slow")
        async def slow() -> dict[str, bool]:
            await asyncio.sleep(SLOW_SECONDS)
            return {"ok": True}

        @app.get("/fast")
        async def fast() -> dict[str, bool]:
            return {"ok": True}

        @app.get("/held")
        async def held() -> dict[str, bool]:
            harness.slow_entered.set()
            await harness.release.wait()
            return {"ok": True}

        app.add_middleware(RateLimitMiddleware, requests=requests, window_seconds=60)
        app.add_middleware(RequestIdMiddleware)
        app.add_middleware(self._wrap, factory=factory)
        self.built = time.perf_counter()
        # Built now, not on the first request, so a broken __init__ fails here, plainly.
        app.middleware_stack = app.build_middleware_stack()
        self.app = app

    def _wrap(self, app: Any, factory: Callable[[Any], Any]) -> Any:
        self.inner = _Inner(app)
        middleware = _build(factory, self.inner)

        async def outer(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await _call(middleware, scope, receive, send)
                return

            async def watched_send(message: dict) -> None:
                if message["type"] == "http.response.start":
                    self.started.append(scope["path"])
                await send(message)

            try:
                await _call(middleware, scope, receive, watched_send)
            except BaseException as exc:
                self.escaped.append(exc)
                raise
            self.escaped.append(None)

        return outer

    async def get(self, client: Any, path: str) -> tuple[Any, float]:
        """One request: the response and how long the client waited for it."""
        begin = time.perf_counter()
        try:
            response = await asyncio.wait_for(client.get(path), REQUEST_SECONDS)
        except ExerciseFailed:
            raise
        except TimeoutError:
            raise ExerciseFailed(
                f"GET {path} got no response within {REQUEST_SECONDS} s: something in your "
                "middleware waits and never resumes (a lock another scope keeps, an event "
                "nobody sets). Pass each request on to the app as soon as it arrives."
            ) from None
        except Exception:
            self.explain(path)
            if self.escaped[-1:] == [None]:  # it returned normally, yet no response came
                self.require_response(path)
            raise
        wall = time.perf_counter() - begin
        self.explain(path)
        self.require_response(path)
        return response, wall

    def require_response(self, path: str) -> None:
        if path not in self.started:
            raise ExerciseFailed(
                f"For GET {path} the app answered, but no response reached the client: your "
                "send wrapper must pass every message on, after adding the header to the first."
            )
        self.started.remove(path)

    def explain(self, path: str) -> None:
        """Say so when the learner's middleware did not run the app once, awaited."""
        problem = self.inner.problem(path, f"GET {path}")
        if problem is not None and "never called" in problem.hint:
            raise ExerciseFailed(
                f"{problem.hint}, so the route never ran. Time the request, but let the app "
                "answer it."
            )
        if problem is not None:
            raise problem


def _seconds(response: Any, what: str) -> float:
    """The header as a number of seconds, or a hint naming what is wrong with it."""
    values = response.headers.get_list(HEADER)
    if not values:
        if what.startswith("the 200"):
            raise ExerciseFailed(
                f"No {HEADER} header on {what}. Headers can only be added to the message that "
                "starts the response: give the app a send function of your own and add the "
                "header to that message as it passes."
            )
        raise ExerciseFailed(
            f"{HEADER} is on the 200 response but missing on {what}. Add it to every "
            "response, whatever its status: errors need timing too."
        )
    if len(values) > 1:
        raise ExerciseFailed(
            f"{what[:1].upper()}{what[1:]} has {len(values)} {HEADER} headers "
            f"({', '.join(values)}). Add it once, on the message that starts the response, "
            "replacing any value already there."
        )
    try:
        seconds = float(values[0])
    except ValueError:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {values[0]!r}, not a number. Send seconds as a plain "
            "number without a unit, such as 0.001234."
        ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {values[0]}: a duration is never negative. Subtract the "
            "start time from the time the response starts, not the other way round."
        )
    return seconds


def _duration(harness: _Harness, response: Any, wall: float, what: str) -> float:
    """The header's seconds, which cannot exceed what the client waited for the response."""
    seconds = _seconds(response, what)
    if seconds <= wall + ROUNDING:
        return seconds
    age = time.perf_counter() - harness.built
    if seconds <= age + ROUNDING:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {seconds:g} s, but the client waited only {wall:.4f} s "
            f"for it, while your middleware has existed for {age:.4f} s: the clock started "
            "once, when the middleware was built, not when each request arrived."
        )
    if seconds / 1000 <= wall + ROUNDING:
        raise ExerciseFailed(
            f"{HEADER} on {what} is {seconds:g}, about a thousand times the {wall:.4f} s the "
            "client waited for it: the header is in seconds, not milliseconds."
        )
    raise ExerciseFailed(
        f"{HEADER} on {what} is {seconds:g}, far more than the {wall:.4f} s the client waited "
        "for it: that is a clock reading, not a duration. Send the time elapsed since this "
        "request entered your middleware."
    )


async def _times_responses(factory: Callable[[Any], Any]) -> None:
    """A 200 from a slow route, a 404 and a 429 from the rate limiter, one after another."""
    harness = _Harness(factory, requests=2)
    async with app_client(harness.app, raise_app_exceptions=True) as client:
        ok, ok_wall = await harness.get(client, "/slow")
        missing, missing_wall = await harness.get(client, "/missing")
        limited, limited_wall = await harness.get(client, "/slow")  # over the limit of 2
    statuses = (ok.status_code, missing.status_code, limited.status_code)
    if statuses != (200, 404, 429):
        raise ExerciseFailed(
            f"The check's app answered {statuses}, expected (200, 404, 429). Your middleware "
            "must not change statuses or bodies: forward every message to the server."
        )
    what = f"the 200 response (its route sleeps {SLOW_SECONDS} s)"
    seconds = _duration(harness, ok, ok_wall, what)
    _duration(harness, missing, missing_wall, "the 404 response")
    _duration(harness, limited, limited_wall, "the 429 response from the rate limiter")
    if seconds < SLOW_SECONDS * 0.75:
        raise ExerciseFailed(
            f"{HEADER} is {seconds:g} on a request whose route sleeps {SLOW_SECONDS} s: the "
            "clock stopped before the app ran. Read it when the response starts, as that "
            "message passes through your send wrapper."
        )


async def _times_overlapping_requests(factory: Callable[[Any], Any]) -> None:
    """A slow request still running while a fast one comes and goes: each keeps its time."""
    harness = _Harness(factory, requests=10)
    async with app_client(harness.app, raise_app_exceptions=True) as client:
        slow = asyncio.create_task(harness.get(client, "/held"))
        try:
            try:
                await asyncio.wait_for(harness.slow_entered.wait(), WAIT_SECONDS)
            except TimeoutError:
                raise ExerciseFailed(
                    f"A request did not reach its route within {WAIT_SECONDS} s of entering your "
                    "middleware: pass each request on to the app as soon as it arrives."
                ) from None
            await asyncio.sleep(OVERLAP_SECONDS)
            try:
                fast, fast_wall = await asyncio.wait_for(harness.get(client, "/fast"), WAIT_SECONDS)
            except TimeoutError:
                raise ExerciseFailed(
                    "While a slow request was still running, a fast one could not get through "
                    f"your middleware within {WAIT_SECONDS} s: requests wait for each other (a "
                    "lock?), so one slow request would stall every client. Requests must run "
                    "side by side, each with values of its own."
                ) from None
        finally:
            harness.release.set()
            await asyncio.wait({slow}, timeout=WAIT_SECONDS)
            slow.cancel()  # if it is stuck in the learner's middleware; a no-op when done
            outcome = (await asyncio.gather(slow, return_exceptions=True))[0]
    if isinstance(outcome, BaseException):
        raise outcome
    held, held_wall = outcome
    fast_seconds = _duration(harness, fast, fast_wall, "a fast request")
    held_seconds = _duration(harness, held, held_wall, "the slow request")
    if held_seconds < OVERLAP_SECONDS * 0.75:
        raise ExerciseFailed(
            f"Two overlapping requests: the slow one ran at least {OVERLAP_SECONDS} s but got "
            f"{HEADER}: {held_seconds:g}, about the time since the fast one "
            f"({fast_seconds:g} s) arrived. The start time is shared by all requests (kept on "
            "self or on the class): one middleware object serves every request at once, so "
            "each request needs its own."
        )


async def _lets_exceptions_through(factory: Callable[[Any], Any]) -> None:
    """A route that raises: the exception must reach the server, which logs it."""
    harness = _Harness(factory, requests=10)

    @harness.app.get("/boom")
    async def boom() -> None:
        raise _Boom("the check's route failed on purpose")

    async with app_client(harness.app, raise_app_exceptions=True) as client:
        try:
            await client.get("/boom")
        except _Boom:
            harness.explain("/boom")
            return
        except Exception:
            harness.explain("/boom")
            if harness.escaped and harness.escaped[-1] is not None:
                raise  # the learner's own error: the toolkit names it
    raise ExerciseFailed(
        "A route raised an exception and your middleware swallowed it: the server never "
        "learns that the request failed, so nothing logs the traceback. Time it if you "
        "like, but let the exception go on up."
    )


async def verify_timing_middleware(candidate: Any) -> None:
    factory = _timing_factory(candidate)
    await _passes_other_scopes_through(factory)
    await _times_responses(factory)
    await _times_overlapping_requests(factory)
    await _lets_exceptions_through(factory)


# --- 04.middleware_order ----------------------------------------------------------------------

# Several settings, so that values copied from one run cannot pass: (requests, window, trust).
_ORDER_PROBES = (
    {"rate_limit_requests": 1, "rate_limit_window_seconds": 60.0},
    {"rate_limit_requests": 3, "rate_limit_window_seconds": 30.0, "trust_forwarded_for": True},
    {"rate_limit_requests": 1, "rate_limit_enabled": False},
)


def _order_app(candidate: Any, settings: Any, timing: type) -> FastAPI:
    from workshop_app.error_handlers import register_error_handlers

    app = FastAPI()
    register_error_handlers(app)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    plain_result(
        candidate(app, settings, timing),
        "register_middleware_with_timing is a coroutine function, but add_middleware is "
        "a plain call and create_app does not await: make it a plain function.",
    )
    return app


def _check_stack(app: FastAPI, settings: Any, timing: type) -> None:
    from workshop_app.middleware import (
        AccessLogMiddleware,
        RateLimitMiddleware,
        RequestIdMiddleware,
    )

    added = [m.cls for m in app.user_middleware]
    expected = [RequestIdMiddleware, AccessLogMiddleware, timing]
    if settings.rate_limit_enabled:
        expected.append(RateLimitMiddleware)
    elif RateLimitMiddleware in added:
        raise ExerciseFailed(
            "With rate_limit_enabled = False your function still adds RateLimitMiddleware: "
            "the setting turns the limiter off, as in register_middleware."
        )
    for cls in expected:
        name = "timing_middleware" if cls is timing else cls.__name__
        count = added.count(cls)
        if count == 0:
            raise ExerciseFailed(f"{name} is never added to the app.")
        if count > 1:
            raise ExerciseFailed(
                f"{name} is added {count} times: every request would pass it {count} times. "
                "Add each middleware once."
            )


def _stack_without(app: FastAPI, timing: type) -> list[tuple[type, dict[str, Any]]]:
    """The user middleware, outermost first, with what each instance was configured with."""
    return [(m.cls, dict(m.kwargs)) for m in app.user_middleware if m.cls is not timing]


def _same_as_register_middleware(app: FastAPI, settings: Any, timing: type) -> None:
    """Apart from the timing middleware, the stack is the module's own register_middleware."""
    from workshop_app.middleware import register_middleware

    reference = FastAPI()
    register_middleware(reference, settings)
    want, got = _stack_without(reference, timing), _stack_without(app, timing)
    if [cls for cls, _ in got] != [cls for cls, _ in want]:
        names = " > ".join(cls.__name__ for cls, _ in want)
        raise ExerciseFailed(
            f"Apart from the timing middleware, the stack should be register_middleware's, "
            f"outermost first: {names}."
        )
    for (cls, kwargs), (_, wanted) in zip(got, want, strict=True):
        if kwargs != wanted:
            raise ExerciseFailed(
                f"{cls.__name__} is configured with {kwargs}; register_middleware gives it "
                f"{wanted} for the same settings. Take every value from settings."
            )


async def _behaves(app: FastAPI, settings: Any) -> None:
    """Rejected requests are timed, carry their id, and are logged with it."""
    limit = settings.rate_limit_requests
    window = settings.rate_limit_window_seconds
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    with capture_logs("workshop_app.access") as records:
        async with app_client(app, raise_app_exceptions=True) as client:
            responses = [await client.get("/hello", headers=forwarded) for _ in range(limit + 1)]
            other_client = await client.get("/hello", headers={"X-Forwarded-For": "203.0.113.8"})
    statuses = [r.status_code for r in responses]
    if not settings.rate_limit_enabled:
        if 429 in statuses:
            raise ExerciseFailed("With rate_limit_enabled = False a request still got a 429.")
        return
    if statuses != [200] * limit + [429]:
        raise ExerciseFailed(
            f"With rate_limit_requests = {limit}, {limit + 1} requests answered {statuses}: "
            f"the limiter should let {limit} through, then answer 429. It must take its "
            "limit from the settings it is given."
        )
    limited = responses[-1]
    if HEADER not in limited.headers:
        raise ExerciseFailed(
            "The 429 has no X-Process-Time: the timing middleware sits inside the rate "
            "limiter, so a rejected request never reaches it. The last middleware added is "
            "the outermost."
        )
    if "X-Request-ID" not in limited.headers:
        raise ExerciseFailed(
            "The 429 has no X-Request-ID: RequestIdMiddleware sits inside the rate limiter, "
            "which answers before an id exists. The last middleware added is the outermost."
        )
    expected_retry = str(math.ceil(window / limit))
    if limited.headers.get("Retry-After") != expected_retry:
        raise ExerciseFailed(
            f"With {limit} request(s) per {window:g} s the 429 says Retry-After: "
            f"{limited.headers.get('Retry-After')}, not {expected_retry}: the limiter must "
            "take its window from the settings it is given."
        )
    if settings.trust_forwarded_for and other_client.status_code == 429:
        raise ExerciseFailed(
            "trust_forwarded_for is on, yet a request from another client (another "
            "X-Forwarded-For address set by the proxy) got a 429: the limiter ignored the "
            "setting and keyed every request on the proxy's address."
        )
    logged = [getattr(r, "fields", {}) for r in records][: limit + 1]
    if [f.get("status") for f in logged] != statuses:
        raise ExerciseFailed(
            f"The access log has statuses {[f.get('status') for f in logged]} for responses "
            f"{statuses}: AccessLogMiddleware sits inside the rate limiter, so 429s are never "
            "logged. The last middleware added is the outermost."
        )
    ids = [f.get("request_id") for f in logged]
    if ids != [r.headers.get("X-Request-ID") for r in responses]:
        raise ExerciseFailed(
            f"The access log lines carry request ids {ids[-2:]}, not the ids of the "
            "responses: AccessLogMiddleware sits outside RequestIdMiddleware, so the id is "
            "already gone when the line is written."
        )


async def verify_middleware_order(candidate: Any) -> None:
    from workshop_app.config import Settings

    if isinstance(candidate, type) or not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function register_middleware_with_timing, got "
            f"{type(candidate).__name__}. Pass the function itself, without parentheses."
        )
    timing = EXERCISES[0].load(TIMING_SOLUTION)  # the reference, whatever the learner wrote
    for probe in _ORDER_PROBES:
        settings = Settings(environment="test", log_level="WARNING", **probe)
        app = _order_app(candidate, settings, timing)
        _check_stack(app, settings, timing)
        await _behaves(app, settings)
        _same_as_register_middleware(app, settings, timing)


EXERCISES = (
    Exercise(
        id="04.timing_middleware",
        notebook_id=NOTEBOOK_ID,
        title="Timing middleware",
        instructions=(
            "Write TimingMiddleware, a pure ASGI middleware class (not BaseHTTPMiddleware) that "
            "adds X-Process-Time to every HTTP response: the seconds from the request entering "
            "it to the response starting, as a plain number such as 0.001234. Non-HTTP scopes "
            "(lifespan, websocket) pass through untouched, and an exception from the app goes "
            "on up. The check puts it outermost on an app with the request-id and rate-limit "
            "middleware: a 200, a 404, a 429, two overlapping requests and a failing route."
        ),
        starter=TIMING_STARTER,
        solution=TIMING_SOLUTION,
        name="TimingMiddleware",
        verify=verify_timing_middleware,
        success=(
            "X-Process-Time is right on the 200, the 404, the 429 and on overlapping requests; "
            "other scopes and the app's exceptions pass through."
        ),
        hints=(
            "A middleware sees the response only through the send function it hands to the "
            "app. One middleware object serves every request at the same time, so a start "
            "time must belong to the request, not to the object. Anything that is not an HTTP "
            "request, and any exception from the app, goes through you unchanged.",
            'The section "Middleware is an ASGI app around an ASGI app" shows the three places '
            'a middleware acts; "1. Request id: middleware/request_id.py" wraps send the same '
            "way.",
        ),
    ),
    Exercise(
        id="04.middleware_order",
        notebook_id=NOTEBOOK_ID,
        title="Place it in the chain",
        instructions=(
            "Fix register_middleware_with_timing(app, settings, timing_middleware) so that every "
            "response, the 429 included, has X-Request-ID and X-Process-Time, and every request, "
            "the 429 included, gets an access-log line carrying its request id. Apart from the "
            "timing middleware the stack must be register_middleware's. The check passes a "
            "reference timing middleware and tries several settings."
        ),
        starter=ORDER_STARTER,
        solution=ORDER_SOLUTION,
        name="register_middleware_with_timing",
        verify=verify_middleware_order,
        success="The 429 is timed, has its request id and is logged with it, for every setting.",
        hints=(
            "Each add_middleware wraps everything added before it, and a layer only sees what "
            "the layers outside it let through: a request the rate limiter refuses never "
            "reaches anything inside it.",
            'The sections "4. Wiring: middleware/__init__.py and main.py", "The onion, '
            'recorded" and "The wrong order" show the order, and what breaks when it is '
            "reversed.",
        ),
    ),
)
