"""The notebook-04 exercise checks reject each likely mistake, and say which one it is.

tests/test_exercises.py already proves that every starter fails and every solution
passes; here each wrong attempt a learner is likely to write gets its own hint, correct
attempts in other styles pass, and every check stays under 3 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, ClassVar

import exercise_helpers
import pytest
from exercise_helpers import timed_check
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse

from workshop_app.config import Settings
from workshop_lab.exercises import check, get_exercise

TIMING = "04.timing_middleware"
ORDER = "04.middleware_order"

progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def hint_for(exercise_id: str, candidate: Any) -> str:
    result = timed_check(exercise_id, candidate)
    assert result.passed is False, f"{candidate!r} passed"
    assert result.hint
    return result.hint


# --- 04.timing_middleware: candidates, each wrong in one way -----------------------------------


class _Timing:
    """A correct pure ASGI timing middleware whose pieces the broken variants override."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def value(self, start: float, message: dict) -> str | None:
        return f"{time.perf_counter() - start:.6f}"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                value = self.value(start, message)
                if value is not None:
                    MutableHeaders(scope=message)["X-Process-Time"] = value
            await send(message)

        await self.app(scope, receive, send_with_time)


class OnlySuccesses(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        return super().value(start, message) if message["status"] < 400 else None


class Milliseconds(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        return f"{(time.perf_counter() - start) * 1000:.3f}"


class ClockReading(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        return f"{time.time():.6f}"


class Negative(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        return f"{start - time.perf_counter():.6f}"


class WithUnit(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        return f"{time.perf_counter() - start:.6f}s"


class Twice(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        headers = MutableHeaders(scope=message)
        for _ in range(2):  # append adds a header line each time; item assignment replaces
            headers.append("X-Process-Time", f"{time.perf_counter() - start:.6f}")
        return None


class MeasuredBeforeTheApp:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        elapsed = time.perf_counter() - start  # nothing happened in between

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Process-Time"] = f"{elapsed:.6f}"
            await send(message)

        await self.app(scope, receive, send_with_time)


class StartOnSelf:
    """Works one request at a time; overlapping requests overwrite each other's start."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.start = 0.0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.start = time.perf_counter()

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - self.start
                MutableHeaders(scope=message)["X-Process-Time"] = f"{elapsed:.6f}"
            await send(message)

        await self.app(scope, receive, send_with_time)


class StartOnTheClass(StartOnSelf):
    started: ClassVar[dict[str, float]] = {}  # one dict for every instance and request

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.started["start"] = time.perf_counter()

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - self.started["start"]
                MutableHeaders(scope=message)["X-Process-Time"] = f"{elapsed:.6f}"
            await send(message)

        await self.app(scope, receive, send_with_time)


class SerializedWithALock(StartOnSelf):
    """ "Fixes" the shared start time by letting one request through at a time."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.lock = asyncio.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.lock:
            await super().__call__(scope, receive, send)


class LocksEveryScope(SerializedWithALock):
    """The lifespan scope takes the lock too, and keeps it for as long as the app runs."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async with self.lock:
            await StartOnSelf.__call__(self, scope, receive, send)


class ClockStartedInInit(_Timing):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.start = time.perf_counter()

    def value(self, start: float, message: dict) -> str | None:
        return f"{time.perf_counter() - self.start:.6f}"


class SwallowsErrors(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        with contextlib.suppress(Exception):  # "the middleware must never crash"
            await super().__call__(scope, receive, send)


class AnswersErrorsItself(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception:
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)


class NoAwait(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.app(scope, receive, send)  # creates a coroutine; nothing runs


class NoAwaitForLifespan(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class CallsTheAppTwice(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)
        if scope["type"] == "http":
            await self.app(scope, receive, send)


class DropsMessages(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def keep(message: dict) -> None:
            pass  # stamps nothing, forwards nothing

        await self.app(scope, receive, keep)


class RewritesStatus(_Timing):
    def value(self, start: float, message: dict) -> str | None:
        message["status"] = 200
        return super().value(start, message)


class ReadsMethodFirst(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        scope["method"]  # KeyError on a lifespan scope
        await super().__call__(scope, receive, send)


class DropsOtherScopes(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await super().__call__(scope, receive, send)


class StampsEveryScope:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def send_with_time(message: dict) -> None:
            if "headers" in message:
                MutableHeaders(scope=message)["X-Process-Time"] = "0.000001"
            await send(message)

        await self.app(scope, receive, send_with_time)


class AnswersItself(_Timing):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse("hi", headers={"X-Process-Time": "0.1"})
        await response(scope, receive, send)


class SyncCallReturningNothing:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.app(scope, receive, send).close()


class NoAppArgument:
    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        raise AssertionError("never built")


class BaseTiming(BaseHTTPMiddleware):
    async def dispatch(self, request: Any, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Process-Time"] = f"{time.perf_counter() - start:.6f}"
        return response


async def add_process_time(request: Any, call_next: Any) -> Any:
    return await call_next(request)


async def _inner_app(scope: dict, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


TIMING_CASES: dict[str, tuple[Any, str]] = {
    "starter": (
        get_exercise(TIMING).load(get_exercise(TIMING).starter),
        "No X-Process-Time header on the 200 response",
    ),
    "instance": (_Timing(_inner_app), "pass the class itself"),
    "dispatch-function": (add_process_time, "`@app.middleware('http')` style"),
    "number": (42, "Expected the class TimingMiddleware, got int"),
    "base-http-middleware": (BaseTiming, "subclasses BaseHTTPMiddleware"),
    "sync-call-returning-none": (SyncCallReturningNothing, "returned None, not something"),
    "no-app-argument": (NoAppArgument, "the wrapped app as its only positional argument"),
    "crashes-on-lifespan": (ReadsMethodFirst, "On a 'lifespan' scope your middleware raised"),
    "drops-lifespan": (DropsOtherScopes, "the server's startup would never run"),
    "no-await-for-lifespan": (NoAwaitForLifespan, "'lifespan' scope your middleware called"),
    "stamps-websocket-accept": (StampsEveryScope, "messages changed on the way out"),
    "answers-itself": (AnswersItself, "never called the wrapped app, so the route never ran"),
    "no-await": (NoAwait, "called the wrapped app without awaiting it"),
    "calls-the-app-twice": (CallsTheAppTwice, "called the wrapped app 2 times"),
    "drops-messages": (DropsMessages, "no response reached the client"),
    "rewrites-status": (RewritesStatus, "must not change statuses or bodies"),
    "only-successes": (OnlySuccesses, "missing on the 404 response"),
    "milliseconds": (Milliseconds, "in seconds, not milliseconds"),
    "clock-reading": (ClockReading, "a clock reading, not a duration"),
    "negative": (Negative, "a duration is never negative"),
    "unit-suffix": (WithUnit, "not a number"),
    "twice": (Twice, "The 200 response (its route sleeps 0.05 s) has 2 X-Process-Time"),
    "measured-before-the-app": (MeasuredBeforeTheApp, "the clock stopped before the app ran"),
    "clock-started-in-init": (ClockStartedInInit, "when the middleware was built"),
    "start-on-self": (StartOnSelf, "The start time is shared by all requests"),
    "start-on-the-class": (StartOnTheClass, "The start time is shared by all requests"),
    "serialized-with-a-lock": (SerializedWithALock, "requests wait for each other"),
    "locks-every-scope": (LocksEveryScope, "GET /slow got no response within 1.5 s"),
    "swallows-errors": (SwallowsErrors, "your middleware swallowed it"),
    "answers-errors-itself": (AnswersErrorsItself, "your middleware swallowed it"),
}


@pytest.mark.parametrize(("candidate", "hint"), TIMING_CASES.values(), ids=TIMING_CASES.keys())
def test_timing_hints(candidate: Any, hint: str) -> None:
    assert hint in hint_for(TIMING, candidate)


# --- 04.timing_middleware: correct in other styles than lab.solution ---------------------------


class RawHeaders:
    """Nanosecond clock, raw header tuples, keyword argument with a default."""

    def __init__(self, app: Any, header: bytes = b"x-process-time") -> None:
        self.app = app
        self.header = header

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started_ns = time.perf_counter_ns()

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                seconds = (time.perf_counter_ns() - started_ns) / 1e9
                message["headers"] = [*message.get("headers", []), (self.header, b"%.9f" % seconds)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            raise  # e.g. a metric for failures here; the error goes on up


def timing_factory(app: Any) -> Any:
    """A function that builds the middleware: Starlette accepts any callable of the app."""

    async def middleware(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        scope.setdefault("state", {})["timing_start"] = start = time.monotonic()

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Process-Time"] = str(time.monotonic() - start)
            await send(message)

        await app(scope, receive, send_with_time)

    return middleware


@pytest.mark.parametrize(
    "candidate", [_Timing, RawHeaders, timing_factory], ids=["mutable-headers", "raw", "factory"]
)
def test_correct_timing_in_other_styles_passes(candidate: Any) -> None:
    result = timed_check(TIMING, candidate)
    assert result.passed is True, result.hint


def test_the_timing_solution_passes_quickly() -> None:
    exercise = get_exercise(TIMING)
    assert timed_check(TIMING, exercise.load(exercise.solution)).passed is True


def test_the_timing_messages_do_not_give_the_code_away() -> None:
    """A hint names the mistake; the solution is one lab.solution() away, not in the hint."""
    for candidate, _ in TIMING_CASES.values():
        hint = check(TIMING, candidate).hint or ""
        for code in ("MutableHeaders", "perf_counter", "self.app(scope", '["type"]'):
            assert code not in hint, (candidate, hint)
    assert all("lab.solution" not in h and "def " not in h for h in get_exercise(TIMING).hints)


# --- 04.middleware_order ------------------------------------------------------------------------


def ordered(
    *names: str,
    requests: int | None = None,
    window: float | None = None,
    trust: bool | None = None,
    honour_enabled: bool = True,
    **extra: Any,
) -> Callable[..., None]:
    """A register function adding the named middleware in this order (first = innermost)."""
    from workshop_app.middleware import (
        AccessLogMiddleware,
        RateLimitMiddleware,
        RequestIdMiddleware,
    )

    def register_middleware_with_timing(app: Any, settings: Any, timing_middleware: type) -> None:
        for name in names:
            if name == "timing":
                app.add_middleware(timing_middleware)
            elif name == "rate" and (settings.rate_limit_enabled or not honour_enabled):
                app.add_middleware(
                    RateLimitMiddleware,
                    requests=requests or settings.rate_limit_requests,
                    window_seconds=window or settings.rate_limit_window_seconds,
                    trust_forwarded_for=(settings.trust_forwarded_for if trust is None else trust),
                    **extra,
                )
            elif name == "log":
                app.add_middleware(AccessLogMiddleware)
            elif name == "id":
                app.add_middleware(RequestIdMiddleware)

    return register_middleware_with_timing


def reuses_register_middleware(app: Any, settings: Any, timing_middleware: type) -> None:
    from workshop_app.middleware import register_middleware

    register_middleware(app, settings)
    app.add_middleware(timing_middleware)


async def async_register(app: Any, settings: Any, timing_middleware: type) -> None:
    return None


ORDER_CASES: dict[str, tuple[Any, str]] = {
    "starter": (
        get_exercise(ORDER).load(get_exercise(ORDER).starter),
        "the timing middleware sits inside the rate limiter",
    ),
    "log-outside-id": (
        ordered("rate", "id", "log", "timing"),
        "AccessLogMiddleware sits outside RequestIdMiddleware",
    ),
    "id-inside-rate-limit": (
        ordered("id", "rate", "log", "timing"),
        "The 429 has no X-Request-ID",
    ),
    "log-inside-rate-limit": (ordered("log", "rate", "id", "timing"), "429s are never logged"),
    "missing-access-log": (ordered("rate", "id", "timing"), "AccessLogMiddleware is never added"),
    "missing-timing": (ordered("rate", "log", "id"), "timing_middleware is never added"),
    "added-twice": (ordered("rate", "log", "id", "id", "timing"), "added 2 times"),
    "limit-copied-from-one-run": (
        ordered("rate", "log", "id", "timing", requests=1),
        "take its limit from the settings",
    ),
    "hard-coded-limit": (
        ordered("rate", "log", "id", "timing", requests=100),
        "take its limit from the settings",
    ),
    "hard-coded-window": (
        ordered("rate", "log", "id", "timing", window=60),
        "take its window from the settings",
    ),
    "forwarded-for-ignored": (
        ordered("rate", "log", "id", "timing", trust=False),
        "the limiter ignored the setting",
    ),
    "enabled-ignored": (
        ordered("rate", "log", "id", "timing", honour_enabled=False),
        "still adds RateLimitMiddleware",
    ),
    "configured-differently": (
        ordered("rate", "log", "id", "timing", exempt_paths=()),
        "register_middleware gives it",
    ),
    "async-function": (async_register, "make it a plain function"),
    "a-class": (BaseTiming, "Expected the function register_middleware_with_timing"),
}


@pytest.mark.parametrize(("candidate", "hint"), ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_order_hints(candidate: Any, hint: str) -> None:
    assert hint in hint_for(ORDER, candidate)


@pytest.mark.parametrize(
    "candidate",
    [
        ordered("rate", "log", "id", "timing"),
        ordered("rate", "timing", "log", "id"),
        ordered("rate", "log", "timing", "id"),
        reuses_register_middleware,
    ],
    ids=["timing-outermost", "timing-outside-the-limiter", "timing-inside-the-id", "reuse"],
)
def test_any_order_with_timing_outside_the_rate_limiter_passes(candidate: Any) -> None:
    result = timed_check(ORDER, candidate)
    assert result.passed is True, result.hint


@pytest.mark.parametrize(
    "settings",
    [
        Settings(rate_limit_requests=7, rate_limit_window_seconds=11),
        Settings(trust_forwarded_for=True),
        Settings(rate_limit_enabled=False),
    ],
    ids=["limits", "forwarded-for", "disabled"],
)
def test_the_solution_is_register_middleware_plus_timing(settings: Settings) -> None:
    """The solution copies register_middleware's lines: it must not drift from the module."""
    from workshop_app.middleware import register_middleware

    exercise = get_exercise(ORDER)
    timing = get_exercise(TIMING).load(get_exercise(TIMING).solution)
    reference, solved = FastAPI(), FastAPI()
    register_middleware(reference, settings)
    exercise.load(exercise.solution)(solved, settings, timing)
    assert solved.user_middleware[0].cls is timing
    mine = [(m.cls, m.args, m.kwargs) for m in solved.user_middleware[1:]]
    assert mine == [(m.cls, m.args, m.kwargs) for m in reference.user_middleware]


def test_the_order_messages_do_not_give_the_code_away() -> None:
    for candidate, _ in ORDER_CASES.values():
        hint = check(ORDER, candidate).hint or ""
        assert "add_middleware(" not in hint and "settings.rate_limit" not in hint, hint
