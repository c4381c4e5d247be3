"""The notebook-03 exercise checks name each likely mistake precisely.

tests/test_exercises.py already proves that every starter fails and every solution
passes; here each wrong attempt a learner is likely to write gets its own hint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import exercise_helpers
import pytest
from starlette.datastructures import MutableHeaders
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse

from workshop_lab.exercises import check, get_exercise

TIMING = "04.timing_middleware"
ORDER = "04.middleware_order"


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def hint_for(exercise_id: str, candidate: Any) -> str:
    result = check(exercise_id, candidate)
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


class SyncCall:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        return self.app(scope, receive, send)


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
    "sync-call": (SyncCall, "__call__ is not `async def`"),
    "no-app-argument": (NoAppArgument, "`def __init__(self, app):`"),
    "crashes-on-lifespan": (ReadsMethodFirst, "On a 'lifespan' scope your middleware raised"),
    "drops-lifespan": (DropsOtherScopes, "called the wrapped app 0 times"),
    "stamps-websocket-accept": (StampsEveryScope, "messages changed on the way out"),
    "answers-itself": (AnswersItself, "must not change statuses or bodies"),
    "only-successes": (OnlySuccesses, "missing on the 404 response"),
    "milliseconds": (Milliseconds, "not milliseconds and not a raw clock reading"),
    "clock-reading": (ClockReading, "not milliseconds and not a raw clock reading"),
    "negative": (Negative, "a duration is never negative"),
    "unit-suffix": (WithUnit, "not a number"),
    "twice": (Twice, "has 2 X-Process-Time headers"),
    "measured-before-the-app": (MeasuredBeforeTheApp, "the clock stopped before the app ran"),
}


@pytest.mark.parametrize(("candidate", "hint"), TIMING_CASES.values(), ids=TIMING_CASES.keys())
def test_timing_hints(candidate: Any, hint: str) -> None:
    assert hint in hint_for(TIMING, candidate)


def test_a_correct_variant_passes() -> None:
    assert check(TIMING, _Timing).passed is True


# --- 04.middleware_order ------------------------------------------------------------------------


def ordered(*names: str, requests: int | None = None) -> Callable[..., None]:
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
            elif name == "rate":
                app.add_middleware(
                    RateLimitMiddleware,
                    requests=requests or settings.rate_limit_requests,
                    window_seconds=settings.rate_limit_window_seconds,
                )
            elif name == "log":
                app.add_middleware(AccessLogMiddleware)
            elif name == "id":
                app.add_middleware(RequestIdMiddleware, header_name=settings.request_id_header)

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
    "hard-coded-limit": (
        ordered("rate", "log", "id", "timing", requests=100),
        "requests=settings.rate_limit_requests",
    ),
    "async-function": (async_register, "make it a plain `def`"),
    "a-class": (BaseTiming, "Expected the function register_middleware_with_timing"),
}


@pytest.mark.parametrize(("candidate", "hint"), ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_order_hints(candidate: Any, hint: str) -> None:
    assert hint in hint_for(ORDER, candidate)


@pytest.mark.parametrize(
    "candidate",
    [ordered("rate", "log", "id", "timing"), ordered("rate", "timing", "log", "id")],
    ids=["timing-outermost", "timing-between"],
)
def test_any_order_with_timing_outside_the_rate_limiter_passes(candidate: Any) -> None:
    assert check(ORDER, candidate).passed is True


def test_reusing_register_middleware_passes() -> None:
    assert check(ORDER, reuses_register_middleware).passed is True
