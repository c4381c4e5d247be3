"""The toolkit's in-process client runs the lifespan, and its sync bridge works in a loop."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request

from workshop_lab.client import app_client, call, run_sync
from workshop_lab.display import response_html, response_text, show


def lifespan_app(events: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.append("startup")
        yield {"greeting": "from the lifespan"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    async def state(request: Request) -> dict[str, str]:
        return {"greeting": request.state.greeting}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


@pytest.mark.anyio
async def test_lifespan_runs_and_its_state_reaches_requests():
    events: list[str] = []
    async with app_client(lifespan_app(events)) as client:
        assert events == ["startup"]
        response = await client.get("/state")
    assert response.json() == {"greeting": "from the lifespan"}
    assert events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_each_request_gets_its_own_copy_of_the_state_like_uvicorn():
    app = lifespan_app([])

    @app.get("/remember")
    async def remember(request: Request) -> dict[str, bool]:
        seen_before = hasattr(request.state, "mark")
        request.state.mark = True
        return {"seen_before": seen_before}

    async with app_client(app) as client:
        first = (await client.get("/remember")).json()
        second = (await client.get("/remember")).json()
        greeting = (await client.get("/state")).json()
    assert first == second == {"seen_before": False}
    assert greeting == {"greeting": "from the lifespan"}


@pytest.mark.anyio
async def test_plain_asgi_transport_skips_the_lifespan():
    # The trap the toolkit exists for: no startup, so no state.
    events: list[str] = []
    transport = httpx.ASGITransport(app=lifespan_app(events))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(AttributeError):
            await client.get("/state")
    assert events == []


@pytest.mark.anyio
async def test_unhandled_errors_come_back_as_a_500_like_a_real_server():
    async with app_client(lifespan_app([])) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text


@pytest.mark.anyio
async def test_unhandled_errors_can_be_raised_instead():
    async with app_client(lifespan_app([]), raise_app_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="secret internals"):
            await client.get("/boom")


def test_call_outside_a_loop():
    response = call(lifespan_app([]), "GET", "/state")
    assert response.status_code == 200


@pytest.mark.anyio
async def test_call_inside_a_running_loop_like_a_widget_callback():
    # asyncio.run would raise here ("cannot be called from a running event loop").
    with pytest.raises(RuntimeError):
        coro = asyncio.sleep(0)
        try:
            asyncio.run(coro)
        finally:
            coro.close()
    response = call(lifespan_app([]), "GET", "/state", repeat=3)
    assert response.json() == {"greeting": "from the lifespan"}


@pytest.mark.anyio
async def test_run_sync_hands_back_exceptions():
    async def fail() -> None:
        raise ValueError("from the worker")

    with pytest.raises(ValueError, match="from the worker"):
        run_sync(fail())


def test_call_rejects_zero_repeats():
    with pytest.raises(ValueError):
        call(lifespan_app([]), "GET", "/state", repeat=0)


def make_response(status: int, **kwargs) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://t/x"), **kwargs)


def test_response_text_shows_status_key_headers_and_pretty_json():
    response = make_response(
        429,
        json={"error": {"code": "RATE_LIMITED"}},
        headers={"Retry-After": "3", "X-Request-ID": "abc", "Server": "noise"},
    )
    text = response_text(response)
    assert text.splitlines()[0] == "HTTP/1.1 429 Too Many Requests"
    assert "retry-after: 3" in text and "x-request-id: abc" in text
    assert "server" not in text
    assert '"code": "RATE_LIMITED"' in text
    assert repr(show(response)) == text


def test_response_html_escapes_and_names_the_status():
    response = make_response(404, text="<script>alert(1)</script>")
    page = response_html(response)
    assert "404 Not Found" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_show_can_pick_headers():
    response = make_response(200, headers={"Server": "uvicorn"}, text="ok")
    assert "server: uvicorn" in repr(show(response, headers=["Server"]))


def test_long_bodies_are_cut():
    response = make_response(200, text="x" * 5000)
    assert "more characters" in response_text(response)
