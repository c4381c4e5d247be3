"""Tests for the pure ASGI middleware: request id, access log, rate limit, and their order.

Each middleware runs on a small bare Starlette app, so these tests do not depend on main.py;
one test at the end checks the wiring inside the real create_app().
"""

import asyncio
import importlib
import io
import json
import logging
import re
import sys
import types
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlmodel import SQLModel
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from workshop_app.logging_config import JsonFormatter, configure_logging, log_failure
from workshop_app.middleware import register_middleware
from workshop_app.middleware.access_log import AccessLogMiddleware
from workshop_app.middleware.rate_limit import (
    Decision,
    InMemoryRateLimitStore,
    RateLimitMiddleware,
)
from workshop_app.middleware.request_id import RequestIdMiddleware
from workshop_app.request_context import get_request_id, is_valid_request_id, request_id_var

HEX32 = re.compile(r"[0-9a-f]{32}")
ACCESS_LOGGER = "workshop_app.access"


class FakeClock:
    """A monotonic clock the test moves by hand, so refill is exact without sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def echo_request_id(request: Request) -> JSONResponse:
    return JSONResponse({"contextvar": get_request_id(), "state": request.state.request_id})


async def ok(request: Request) -> PlainTextResponse:
    await asyncio.sleep(0)  # yield to the loop, so concurrent requests interleave
    return PlainTextResponse("ok")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def make_app(*middleware: Middleware, **kwargs: object) -> Starlette:
    """A bare app; Starlette's `middleware=` list runs first-outermost."""
    routes = [
        Route("/", ok),
        Route("/echo", echo_request_id),
        Route("/boom", boom),
        Route("/health/live", ok),
    ]
    return Starlette(routes=routes, middleware=list(middleware), **kwargs)


def client_for(app: Callable, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


@pytest.fixture
def access_caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return caplog


# --- request id -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc-123", "A.b_c-9", "x", "a" * 64, "0f" * 16])
def test_valid_request_ids(value: str) -> None:
    assert is_valid_request_id(value)


@pytest.mark.parametrize(
    "value",
    [None, "", "a" * 65, "abc def", "abc\r\nX-Evil: 1", "abc\n", "ab\x00c", "été", "a/b", "a;b"],
)
def test_invalid_request_ids(value: str | None) -> None:
    assert not is_valid_request_id(value)


@pytest.mark.anyio
async def test_valid_incoming_id_is_kept_echoed_and_visible_in_endpoint() -> None:
    app = make_app(Middleware(RequestIdMiddleware))
    async with client_for(app) as client:
        response = await client.get("/echo", headers={"X-Request-ID": "client-id_1.2"})
    assert response.headers["X-Request-ID"] == "client-id_1.2"
    assert response.json() == {"contextvar": "client-id_1.2", "state": "client-id_1.2"}


@pytest.mark.anyio
async def test_missing_id_is_generated_as_32_hex_and_unique_per_request() -> None:
    app = make_app(Middleware(RequestIdMiddleware))
    async with client_for(app) as client:
        first = await client.get("/echo")
        second = await client.get("/echo")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(HEX32.fullmatch(i) for i in ids)
    assert ids[0] != ids[1]
    assert first.json()["contextvar"] == ids[0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "hostile",
    [
        b"",
        b"a" * 65,
        b"x" * 100_000,
        b"abc\r\nSet-Cookie: session=stolen",
        b"abc\x07bell",
        "\u00e9t\u00e9".encode(),
        b"\xff\xfe",
        b"spaces are not allowed",
    ],
)
async def test_hostile_id_is_replaced_never_echoed_nor_logged(
    hostile: bytes, access_caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app) as client:
        response = await client.get("/echo", headers=[(b"X-Request-ID", hostile)])
    replaced = response.headers["X-Request-ID"]
    assert HEX32.fullmatch(replaced)
    assert response.json()["contextvar"] == replaced
    assert response.headers.get_list("X-Request-ID") == [replaced]
    [record] = access_records(access_caplog)
    assert record.fields["request_id"] == replaced
    line = JsonFormatter().format(record)
    if hostile:
        assert hostile.decode("latin-1") not in line


@pytest.mark.anyio
async def test_endpoint_set_id_header_is_replaced_not_duplicated() -> None:
    async def sets_header(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Request-ID": "from-endpoint"})

    app = Starlette(routes=[Route("/", sets_header)], middleware=[Middleware(RequestIdMiddleware)])
    async with client_for(app) as client:
        response = await client.get("/", headers={"X-Request-ID": "real"})
    assert response.headers.get_list("X-Request-ID") == ["real"]


@pytest.mark.anyio
async def test_contextvar_is_reset_after_a_successful_request() -> None:
    app = make_app(Middleware(RequestIdMiddleware))
    assert get_request_id() is None
    async with client_for(app) as client:
        response = await client.get("/echo", headers={"X-Request-ID": "scoped"})
    assert response.json()["contextvar"] == "scoped"
    assert get_request_id() is None  # ASGITransport runs the app in this very task


@pytest.mark.anyio
async def test_500_handler_outside_user_middleware_still_sees_the_id() -> None:
    # Stack note 19: the Exception handler runs in ServerErrorMiddleware, outside our
    # middleware, after the exception has left it. The id must still be readable there.
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        request_id = get_request_id()
        return JSONResponse(
            {"request_id": request_id, "state": request.state.request_id},
            status_code=500,
            headers={"X-Request-ID": request_id or ""},
        )

    app = make_app(Middleware(RequestIdMiddleware), exception_handlers={Exception: on_error})
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.json() == {"request_id": "trace-500", "state": "trace-500"}
    assert response.headers["X-Request-ID"] == "trace-500"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "factory",
    [
        RequestIdMiddleware,
        AccessLogMiddleware,
        lambda app: RateLimitMiddleware(app, requests=1, window_seconds=1),
    ],
    ids=["request_id", "access_log", "rate_limit"],
)
async def test_non_http_scopes_pass_through_untouched(factory: Callable) -> None:
    seen: list[dict] = []

    async def inner(scope, receive, send) -> None:
        seen.append(dict(scope))

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    middleware = factory(inner)
    for _ in range(3):  # a rate limiter must not count these either
        await middleware(scope, None, None)
    assert seen == [scope] * 3
    assert "state" not in scope


# --- access log -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_one_access_line_per_request_with_exact_shape(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app) as client:
        response = await client.get("/", headers={"X-Request-ID": "log-me"})
        await client.post("/missing")
    first, second = access_records(access_caplog)
    assert first.levelno == logging.INFO
    assert set(first.fields) == {"method", "path", "status", "duration_ms", "request_id", "client"}
    assert first.fields["method"] == "GET"
    assert first.fields["path"] == "/"
    assert first.fields["status"] == response.status_code == 200
    assert first.fields["request_id"] == "log-me"
    assert first.fields["client"] == "127.0.0.1"
    assert isinstance(first.fields["duration_ms"], float)
    assert first.fields["duration_ms"] >= 0
    assert (second.fields["method"], second.fields["status"]) == ("POST", 404)
    assert HEX32.fullmatch(second.fields["request_id"])


@pytest.mark.anyio
async def test_access_line_formats_as_one_json_object(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app) as client:
        await client.get("/", headers={"X-Request-ID": "json-line"})
    [record] = access_records(access_caplog)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["level"] == "INFO"
    assert payload["logger"] == ACCESS_LOGGER
    assert payload["message"] == "GET / 200"
    assert payload["request_id"] == "json-line"
    assert payload["status"] == 200
    assert payload["client"] == "127.0.0.1"


@pytest.mark.anyio
async def test_query_strings_headers_and_bodies_are_never_logged(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app) as client:
        await client.post(
            "/?api_key=s3cret-query",
            headers={"Authorization": "Bearer s3cret-header", "Cookie": "sid=s3cret-cookie"},
            content=b"password=s3cret-body",
        )
    [record] = access_records(access_caplog)
    assert record.fields["path"] == "/"
    line = JsonFormatter().format(record)
    assert "s3cret" not in line
    assert "s3cret" not in access_caplog.text


@pytest.mark.anyio
async def test_crash_is_logged_once_as_500_and_reraised(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/boom", headers={"X-Request-ID": "crash-1"})
    [record] = access_records(access_caplog)
    assert record.fields["status"] == 500
    assert record.fields["request_id"] == "crash-1"
    assert record.fields["path"] == "/boom"


@pytest.mark.anyio
async def test_crash_client_sees_500_and_log_agrees(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware))
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    [record] = access_records(access_caplog)
    assert record.fields["status"] == 500
    assert HEX32.fullmatch(record.fields["request_id"])


def background_app(task: Callable[[], object]) -> Starlette:
    async def answer_then_work(request: Request) -> PlainTextResponse:
        return PlainTextResponse("accepted", background=BackgroundTask(task))

    return Starlette(
        routes=[Route("/", answer_then_work)],
        middleware=[Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware)],
    )


@pytest.mark.anyio
async def test_duration_ends_at_the_last_byte_not_after_background_tasks(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    async def slow_task() -> None:
        await asyncio.sleep(0.5)

    async with client_for(background_app(slow_task)) as client:
        response = await client.get("/")
    assert response.status_code == 200
    [record] = access_records(access_caplog)  # written once the task is done, though
    assert record.fields["status"] == 200
    assert record.fields["duration_ms"] < 400  # the request alone takes a few ms


@pytest.mark.anyio
async def test_background_crash_after_a_complete_response_logs_what_the_client_got(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing_task() -> None:
        raise RuntimeError("task failed")

    async with client_for(background_app(failing_task)) as client:
        with pytest.raises(RuntimeError, match="task failed"):
            await client.get("/")
    [record] = access_records(access_caplog)
    assert record.fields["status"] == 200


@pytest.mark.anyio
async def test_client_is_null_when_the_server_gives_none(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = AccessLogMiddleware(make_app())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": None,
        "server": ("test", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    assert sent[0]["status"] == 200
    [record] = access_records(access_caplog)
    assert record.fields["client"] is None
    assert record.fields["request_id"] is None  # no RequestIdMiddleware outside it here


def test_json_formatter_merges_fields_and_exceptions() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("workshop_app.test").makeRecord(
            "workshop_app.test",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("job",),
            exc_info=__import__("sys").exc_info(),
            extra={"fields": {"job_id": 7}},
        )
    payload = json.loads(JsonFormatter().format(record))
    assert payload["message"] == "failed job"
    assert payload["level"] == "ERROR"
    assert payload["job_id"] == 7
    assert "ValueError: bad" in payload["exc_info"]
    assert re.match(r"\d{4}-\d\d-\d\dT", payload["timestamp"])


def test_configure_logging_is_idempotent_and_writes_json_lines() -> None:
    logger = logging.getLogger("workshop_app")
    before = (list(logger.handlers), logger.level)
    stream = io.StringIO()
    try:
        configure_logging("debug", stream)
        configure_logging("info", stream)
        ours = [h for h in logger.handlers if h.get_name() == "workshop_app.json"]
        assert len(ours) == 1
        # The handler filters, the logger passes everything: other handlers may want more.
        assert logger.level == logging.DEBUG
        assert ours[0].level == logging.INFO
        logging.getLogger("workshop_app.test").debug("hidden")
        logging.getLogger("workshop_app.test").info("shown", extra={"fields": {"n": 1}})
    finally:
        logger.handlers[:] = before[0]
        logger.setLevel(before[1])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["n"] == 1


# --- rate limit -------------------------------------------------------------------------------


def limited_app(
    clock: FakeClock, *, requests: int = 3, window_seconds: float = 30.0, **options: object
) -> Starlette:
    return make_app(
        Middleware(RequestIdMiddleware),
        Middleware(
            RateLimitMiddleware,
            requests=requests,
            window_seconds=window_seconds,
            clock=clock,
            **options,
        ),
    )


def limit_headers(response: httpx.Response) -> tuple[str, str, str]:
    h = response.headers
    return h["RateLimit-Limit"], h["RateLimit-Remaining"], h["RateLimit-Reset"]


@pytest.mark.anyio
async def test_exactly_m_allowed_then_429_with_exact_headers() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=3, window_seconds=30)) as client:
        responses = [await client.get("/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    # 3 tokens refilling at 0.1/s: each spent token takes 10 s to come back.
    assert [limit_headers(r) for r in responses] == [
        ("3", "2", "10"),
        ("3", "1", "20"),
        ("3", "0", "30"),
        ("3", "0", "30"),
    ]
    assert "Retry-After" not in responses[0].headers
    assert responses[3].headers["Retry-After"] == "10"


@pytest.mark.anyio
async def test_429_body_is_the_error_envelope_with_the_request_id() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=1)) as client:
        await client.get("/")
        response = await client.get("/", headers={"X-Request-ID": "too-many"})
    assert response.status_code == 429
    assert response.headers["X-Request-ID"] == "too-many"
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["request_id"] == "too-many"
    assert "30" in error["message"]


@pytest.mark.anyio
async def test_tokens_refill_with_time() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=3, window_seconds=30)) as client:
        for _ in range(3):
            assert (await client.get("/")).status_code == 200
        clock.advance(9.9)
        early = await client.get("/")
        clock.advance(0.1)
        refilled = await client.get("/")
        after_refill = await client.get("/")
        clock.advance(1000)
        full = await client.get("/")
    assert early.status_code == 429
    assert early.headers["Retry-After"] == "1"  # 0.1 s left, rounded up, never 0
    assert refilled.status_code == 200
    assert limit_headers(refilled) == ("3", "0", "30")
    assert after_refill.status_code == 429
    assert after_refill.headers["Retry-After"] == "10"
    assert full.status_code == 200
    assert limit_headers(full) == ("3", "2", "10")  # capped at capacity, not 100 tokens


@pytest.mark.anyio
async def test_concurrent_requests_admit_exactly_the_limit() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=5, window_seconds=60)) as client:
        responses = await asyncio.gather(*(client.get("/") for _ in range(20)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 15


@pytest.mark.anyio
async def test_forwarded_for_is_ignored_unless_trusted() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=1)) as client:
        first = await client.get("/", headers={"X-Forwarded-For": "203.0.113.1"})
        second = await client.get("/", headers={"X-Forwarded-For": "203.0.113.2"})
    assert (first.status_code, second.status_code) == (200, 429)  # both are 127.0.0.1


@pytest.mark.anyio
async def test_trusted_forwarded_for_uses_the_proxy_appended_address() -> None:
    clock = FakeClock()
    app = limited_app(clock, requests=1, trust_forwarded_for=True)
    async with client_for(app) as client:
        a = await client.get("/", headers={"X-Forwarded-For": "spoof, 203.0.113.1"})
        b = await client.get("/", headers={"X-Forwarded-For": "spoof, 203.0.113.2"})
        a_again = await client.get("/", headers={"X-Forwarded-For": "other, 203.0.113.1"})
        direct = await client.get("/")
    assert [r.status_code for r in (a, b, a_again, direct)] == [200, 200, 429, 200]


def test_client_key_falls_back_to_unknown_without_a_client() -> None:
    middleware = RateLimitMiddleware(make_app(), requests=1, window_seconds=1)
    assert middleware.client_key({"headers": [], "client": None}) == "unknown"
    assert middleware.client_key({"headers": [], "client": ("10.0.0.9", 1)}) == "10.0.0.9"


@pytest.mark.anyio
async def test_health_probes_are_exempt_and_spend_nothing() -> None:
    clock = FakeClock()
    async with client_for(limited_app(clock, requests=1)) as client:
        probes = [await client.get("/health/live") for _ in range(3)]
        regular = await client.get("/")
    assert [r.status_code for r in probes] == [200, 200, 200]
    assert "RateLimit-Limit" not in probes[0].headers
    assert regular.status_code == 200


@pytest.mark.parametrize("options", [{"requests": 0}, {"window_seconds": 0}])
def test_invalid_limits_are_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        RateLimitMiddleware(make_app(), **({"requests": 1, "window_seconds": 1.0} | options))


@pytest.mark.anyio
async def test_store_decisions() -> None:
    store = InMemoryRateLimitStore()
    hit = {"capacity": 2, "refill_per_second": 0.5}
    first = await store.hit("k", now=0.0, **hit)
    second = await store.hit("k", now=0.0, **hit)
    denied = await store.hit("k", now=1.0, **hit)
    other = await store.hit("other", now=1.0, **hit)
    assert first == Decision(allowed=True, limit=2, remaining=1, reset_after=2.0, retry_after=0.0)
    assert second == Decision(allowed=True, limit=2, remaining=0, reset_after=4.0, retry_after=0.0)
    assert denied == Decision(allowed=False, limit=2, remaining=0, reset_after=3.0, retry_after=1.0)
    assert other.allowed and other.remaining == 1


@pytest.mark.anyio
async def test_store_sweeps_full_buckets_but_keeps_draining_ones() -> None:
    store = InMemoryRateLimitStore(sweep_interval=60)
    await store.hit("idle", capacity=2, refill_per_second=1.0, now=0.0)  # full again at 1
    await store.hit("busy", capacity=100, refill_per_second=0.5, now=59.0)  # full at 61
    assert len(store) == 2
    await store.hit("new", capacity=2, refill_per_second=1.0, now=60.0)
    assert len(store) == 2  # idle forgotten, busy kept, new added
    again = await store.hit("busy", capacity=100, refill_per_second=0.5, now=60.0)
    assert again.remaining == 98  # busy's history survived the sweep


@pytest.fixture
def dropped_app_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget workshop_app.* as lab.reload_app() does; everything is put back afterwards.

    The package object itself survives a reload, still holding attributes that point at
    the previous generation of its submodules: the trap this fixture recreates.
    """
    import workshop_app

    for name, value in vars(workshop_app).copy().items():
        if isinstance(value, types.ModuleType):
            monkeypatch.setattr(workshop_app, name, value)
    for name in [n for n in sys.modules if n.startswith("workshop_app.")]:
        if not name.startswith("workshop_lab"):
            monkeypatch.delitem(sys.modules, name)
    # main imports the models: their tables must be declarable again, as after reload_app(),
    # and afterwards the restored model classes get their own tables back.
    saved_tables = list(SQLModel.metadata.tables.values())
    SQLModel.metadata.clear()
    yield
    SQLModel.metadata.clear()
    for table in saved_tables:
        SQLModel.metadata._add_table(table.name, table.schema, table)


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:This declarative base already contains")
@pytest.mark.parametrize(
    "first_import", ["workshop_app.error_handlers", "workshop_app.middleware", "workshop_app.main"]
)
async def test_a_429_after_a_reload_has_the_request_id_whatever_is_imported_first(
    first_import: str, dropped_app_modules: None
) -> None:
    importlib.import_module(first_import)
    from workshop_app.middleware import RateLimitMiddleware, RequestIdMiddleware

    app = make_app(
        Middleware(RequestIdMiddleware),
        Middleware(RateLimitMiddleware, requests=1, window_seconds=60),
    )
    async with client_for(app) as client:
        await client.get("/")
        limited = await client.get("/", headers={"X-Request-ID": "after-reload"})
    assert limited.status_code == 429
    assert limited.json()["error"]["request_id"] == "after-reload"


# --- order ------------------------------------------------------------------------------------


def settings_for(**overrides: object):
    from workshop_app.config import Settings

    return Settings(**overrides)


def test_register_middleware_builds_the_onion_outside_in() -> None:
    app = Starlette()
    register_middleware(app, settings_for(rate_limit_requests=7))
    # Starlette inserts each added middleware at index 0: this list reads outermost first.
    assert [m.cls for m in app.user_middleware] == [
        RequestIdMiddleware,
        AccessLogMiddleware,
        RateLimitMiddleware,
    ]
    assert app.user_middleware[2].kwargs["requests"] == 7


def test_rate_limit_can_be_disabled() -> None:
    app = Starlette()
    register_middleware(app, settings_for(rate_limit_enabled=False))
    assert [m.cls for m in app.user_middleware] == [RequestIdMiddleware, AccessLogMiddleware]


@pytest.mark.anyio
async def test_429_carries_a_request_id_and_is_logged(
    access_caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()
    register_middleware(app, settings_for(rate_limit_requests=1, rate_limit_window_seconds=60))
    async with client_for(app) as client:
        await client.get("/")
        limited = await client.get("/")
    assert limited.status_code == 429
    request_id = limited.headers["X-Request-ID"]
    assert HEX32.fullmatch(request_id)
    assert limited.json()["error"]["request_id"] == request_id
    statuses = [(r.fields["status"], r.fields["request_id"]) for r in access_records(access_caplog)]
    assert len(statuses) == 2
    assert statuses[1] == (429, request_id)


@pytest.mark.anyio
async def test_create_app_wires_the_middleware(access_caplog: pytest.LogCaptureFixture) -> None:
    from asgi_lifespan import LifespanManager

    from workshop_app.main import create_app

    app = create_app(settings_for(rate_limit_requests=1, environment="test"))
    async with LifespanManager(app) as manager, client_for(manager.app) as client:
        probes = [await client.get("/health/live") for _ in range(3)]
        response = await client.get("/health/live", headers={"X-Request-ID": "probe-1"})
    assert [p.status_code for p in probes] == [200, 200, 200]  # exempt from the limit
    assert response.headers["X-Request-ID"] == "probe-1"
    records = access_records(access_caplog)
    assert len(records) == 4
    assert records[-1].fields["request_id"] == "probe-1"
    assert records[-1].fields["path"] == "/health/live"


def test_printable_escapes_control_characters_only() -> None:
    from workshop_app.logging_config import printable

    assert printable("/users/1") == "/users/1"
    assert printable("/a\r\nFAKE 200\x1b[31m") == "/a\\r\\nFAKE 200\\x1b[31m"
    assert printable("/caf\u00e9") == "/caf\u00e9"


def test_log_failure_writes_the_traceback_the_fields_and_the_request_that_caused_it():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("workshop_app.tests.failure")
    log.addHandler(handler)
    token = request_id_var.set("req-7")
    try:
        try:
            raise ValueError("bad")
        except ValueError as exc:
            log_failure(log, exc, "Work on %s %s failed", "outbox_emails", 3, row_id=3)
    finally:
        request_id_var.reset(token)
        log.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    payload = json.loads(line)
    assert payload["message"] == "Work on outbox_emails 3 failed (request_id=req-7)"
    assert (payload["level"], payload["row_id"], payload["request_id"]) == ("ERROR", 3, "req-7")
    assert "ValueError: bad" in payload["exc_info"]
