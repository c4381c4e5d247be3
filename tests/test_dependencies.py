"""The dependency layer: caching, yield cleanup, the session, auth, pagination, overrides.

Most tests build a small FastAPI app so they exercise FastAPI's machinery and our
dependencies without depending on the rest of `main.py`; the last ones go through
`create_app` to prove the real lifespan feeds the chain.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from workshop_app.config import Settings
from workshop_app.database import create_engine
from workshop_app.dependencies import (
    Caller,
    CallerDep,
    PaginationDep,
    SessionDep,
    SettingsDep,
    get_caller,
    get_settings_dep,
)
from workshop_app.error_handlers import register_error_handlers
from workshop_app.exceptions import ConflictError
from workshop_app.main import create_app
from workshop_app.routers import me

pytestmark = pytest.mark.anyio

API_KEY = "t3st-key-9f8e7d"


@pytest.fixture
def settings(clean_env: None) -> Settings:
    return Settings(environment="test", api_key=SecretStr(API_KEY))


def small_app(settings: Settings, lifespan=None) -> FastAPI:
    """Just enough app for a dependency: settings on app.state, the error envelope, /me."""
    app = FastAPI(lifespan=lifespan)
    app.state.settings = settings
    register_error_handlers(app)
    app.include_router(me.router, prefix="/me")
    return app


# --- per-request caching ----------------------------------------------------


def _cache_app(calls: list[str], *, use_cache: bool) -> FastAPI:
    def shared() -> object:
        calls.append("shared")
        return object()

    def left(value: Annotated[object, Depends(shared)]) -> object:
        return value

    def right(value: Annotated[object, Depends(shared, use_cache=use_cache)]) -> object:
        return value

    app = FastAPI()

    @app.get("/")
    def endpoint(
        a: Annotated[object, Depends(left)], b: Annotated[object, Depends(right)]
    ) -> dict[str, bool]:
        return {"same_object": a is b}

    return app


async def test_a_shared_dependency_runs_once_per_request(client_for) -> None:
    calls: list[str] = []
    async with client_for(_cache_app(calls, use_cache=True)) as client:
        first = await client.get("/")
        assert calls == ["shared"]
        second = await client.get("/")
    assert calls == ["shared", "shared"]  # cached within a request, not across requests
    assert first.json() == second.json() == {"same_object": True}


async def test_use_cache_false_runs_the_dependency_again(client_for) -> None:
    calls: list[str] = []
    async with client_for(_cache_app(calls, use_cache=False)) as client:
        response = await client.get("/")
    assert calls == ["shared", "shared"]
    assert response.json() == {"same_object": False}


# --- yield dependencies -----------------------------------------------------


def _yield_app(events: list[str]) -> FastAPI:
    async def inner() -> AsyncIterator[str]:
        events.append("inner: setup")
        try:
            yield "inner"
        except ConflictError:
            events.append("inner: saw the error")
            raise
        finally:
            events.append("inner: cleanup")

    async def outer(value: Annotated[str, Depends(inner)]) -> AsyncIterator[str]:
        events.append("outer: setup")
        yield value
        events.append("outer: cleanup")

    app = FastAPI()
    register_error_handlers(app)

    @app.get("/ok")
    async def ok(value: Annotated[str, Depends(outer)]) -> dict[str, str]:
        events.append("endpoint")
        return {"value": value}

    @app.get("/fail")
    async def fail(value: Annotated[str, Depends(inner)]) -> None:
        events.append("endpoint")
        raise ConflictError("no")

    return app


async def test_yield_cleanup_runs_in_reverse_order(client_for) -> None:
    events: list[str] = []
    async with client_for(_yield_app(events)) as client:
        response = await client.get("/ok")
    assert response.json() == {"value": "inner"}
    assert events == [
        "inner: setup",
        "outer: setup",
        "endpoint",
        "outer: cleanup",
        "inner: cleanup",
    ]


async def test_yield_dependency_sees_the_endpoint_error(client_for) -> None:
    events: list[str] = []
    async with client_for(_yield_app(events)) as client:
        response = await client.get("/fail")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    assert events == ["inner: setup", "endpoint", "inner: saw the error", "inner: cleanup"]


async def test_scope_function_exits_before_the_response_body(client_for) -> None:
    events: list[str] = []

    async def per_request() -> AsyncIterator[None]:
        yield
        events.append("request-scope exit")

    async def per_function() -> AsyncIterator[None]:
        yield
        events.append("function-scope exit")

    app = FastAPI()

    @app.get("/stream")
    async def stream(
        _r: Annotated[None, Depends(per_request)],
        _f: Annotated[None, Depends(per_function, scope="function")],
    ) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            events.append("body sent")
            yield b"data"

        return StreamingResponse(body())

    async with client_for(app) as client:
        response = await client.get("/stream")
    assert response.text == "data"
    assert events == ["function-scope exit", "body sent", "request-scope exit"]


# --- the database session ---------------------------------------------------

ITEMS = sa.Table(
    "dep_test_items",
    sa.MetaData(),  # private metadata: SQLModel's global metadata stays untouched
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as conn:
        await conn.run_sync(ITEMS.metadata.create_all)
    yield engine
    await engine.dispose()


def _session_app(settings: Settings, engine: AsyncEngine) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        yield {"engine": engine}

    app = small_app(settings, lifespan)

    @app.post("/items/{name}")
    async def add(name: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        await session.exec(ITEMS.insert().values(name=name))
        if fail:
            raise ConflictError("Rejected after the insert.")
        return {"added": name}

    @app.post("/commit-fails/{name}")
    async def commit_fails(name: str, session: SessionDep) -> dict[str, str]:
        await session.exec(ITEMS.insert().values(name=name))

        def refuse(_session: object) -> None:
            raise RuntimeError("commit refused")

        event.listen(session.sync_session, "before_commit", refuse)
        return {"added": name}

    @app.get("/same-session")
    async def same_session(a: SessionDep, b: SessionDep, request: Request) -> dict[str, bool]:
        return {"same": a is b, "bound_to_lifespan_engine": a.bind is request.state.engine}

    return app


async def _names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(ITEMS.c.name).order_by(ITEMS.c.id))).scalars())


async def test_session_commits_when_the_endpoint_succeeds(settings, engine, client_for) -> None:
    async with client_for(_session_app(settings, engine)) as client:
        response = await client.post("/items/apple")
    assert response.status_code == 200
    assert await _names(engine) == ["apple"]


async def test_session_rolls_back_when_the_endpoint_raises(settings, engine, client_for) -> None:
    async with client_for(_session_app(settings, engine)) as client:
        assert (await client.post("/items/kept")).status_code == 200
        response = await client.post("/items/dropped", params={"fail": True})
    assert response.status_code == 409
    assert await _names(engine) == ["kept"]


async def test_failed_commit_is_an_error_response_not_a_200(settings, engine, client_for) -> None:
    """scope="function" commits before the response exists, so the client hears about it."""
    async with client_for(_session_app(settings, engine), raise_app_exceptions=False) as client:
        response = await client.post("/commit-fails/ghost")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert await _names(engine) == []


# A deferred foreign key is checked at COMMIT, not at INSERT: a realistic failed commit.
FK_METADATA = sa.MetaData()
USERS = sa.Table("dep_users", FK_METADATA, sa.Column("id", sa.Integer, primary_key=True))
ORDERS = sa.Table(
    "dep_orders",
    FK_METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "user_id",
        sa.ForeignKey("dep_users.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
)


@pytest.mark.parametrize("url", ["memory", "file"])
async def test_a_failed_commit_is_rolled_back(settings, client_for, tmp_path, url) -> None:
    """SQLite keeps the transaction open after a failed COMMIT; the next request must not
    inherit the rejected row (on a file database the pool hands the connection on)."""
    database_url = (
        "sqlite+aiosqlite:///:memory:"
        if url == "memory"
        else f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    )
    engine = create_engine(settings.model_copy(update={"database_url": database_url}))
    async with engine.begin() as conn:
        await conn.run_sync(FK_METADATA.create_all)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        yield {"engine": engine}

    app = small_app(settings, lifespan)

    @app.post("/orders")
    async def add(user_id: int, session: SessionDep) -> dict[str, int]:
        await session.exec(ORDERS.insert().values(user_id=user_id))
        return {"user_id": user_id}

    @app.get("/orders/count")
    async def count(session: SessionDep) -> dict[str, int]:
        total = await session.exec(sa.select(sa.func.count()).select_from(ORDERS))
        return {"count": total.scalar_one()}

    try:
        async with client_for(app, raise_app_exceptions=False) as client:
            rejected = await client.post("/orders", params={"user_id": 42})
            counted = await client.get("/orders/count")
    finally:
        await engine.dispose()
    assert rejected.status_code == 500
    assert counted.status_code == 200
    assert counted.json() == {"count": 0}


async def test_one_session_per_request_from_the_lifespan_engine(
    settings, engine, client_for
) -> None:
    async with client_for(_session_app(settings, engine)) as client:
        response = await client.get("/same-session")
    assert response.json() == {"same": True, "bound_to_lifespan_engine": True}


async def test_session_without_lifespan_state_fails_loudly(settings) -> None:
    app = small_app(settings)

    @app.get("/needs-db")
    async def needs_db(session: SessionDep) -> None:
        return None

    transport = httpx.ASGITransport(app=app)  # no LifespanManager: no engine in state
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="lifespan"):
            await client.get("/needs-db")


# --- the current caller -----------------------------------------------------


def _assert_no_key_leak(response: httpx.Response, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())


async def test_missing_credentials_is_a_401_envelope(settings, client_for) -> None:
    async with client_for(small_app(settings)) as client:
        response = await client.get("/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert "X-API-Key" in error["message"]
    assert "APIKey" in response.headers["www-authenticate"]
    assert "Bearer" in response.headers["www-authenticate"]
    _assert_no_key_leak(response, API_KEY)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "wrong-key"},
        {"Authorization": "Bearer wrong-key"},
        {"X-API-Key": API_KEY[:-1]},  # a prefix of the right key is still wrong
        {"Authorization": f"Basic {API_KEY}"},  # right secret, wrong scheme
    ],
    ids=["header", "bearer", "prefix", "basic-scheme"],
)
async def test_wrong_credentials_are_rejected(settings, client_for, headers) -> None:
    async with client_for(small_app(settings)) as client:
        response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    _assert_no_key_leak(response, API_KEY, "wrong-key")


async def test_non_ascii_key_is_a_401_not_a_500(settings, client_for) -> None:
    async with client_for(small_app(settings)) as client:
        response = await client.get("/me", headers={"X-API-Key": "cl\xe9".encode("latin-1")})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("headers", "auth_scheme"),
    [
        ({"X-API-Key": API_KEY}, "api_key"),
        ({"Authorization": f"Bearer {API_KEY}"}, "bearer"),
    ],
    ids=["x-api-key", "bearer"],
)
async def test_right_key_identifies_the_caller(settings, client_for, headers, auth_scheme) -> None:
    async with client_for(small_app(settings)) as client:
        response = await client.get("/me", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"name": "api-client", "auth_scheme": auth_scheme}
    _assert_no_key_leak(response, API_KEY)


async def test_x_api_key_is_checked_before_bearer(settings, client_for) -> None:
    headers = {"X-API-Key": "wrong-key", "Authorization": f"Bearer {API_KEY}"}
    async with client_for(small_app(settings)) as client:
        response = await client.get("/me", headers=headers)
    assert response.status_code == 401


async def test_openapi_documents_both_schemes(settings, client_for) -> None:
    async with client_for(small_app(settings)) as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"] == {
        "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "BearerToken": {"type": "http", "scheme": "bearer"},
    }
    # A list of alternatives: either scheme is enough.
    assert schema["paths"]["/me"]["get"]["security"] == [{"ApiKeyHeader": []}, {"BearerToken": []}]
    assert "401" in schema["paths"]["/me"]["get"]["responses"]


# --- dependency_overrides ---------------------------------------------------


async def test_override_the_caller(settings, client_for) -> None:
    app = small_app(settings)
    app.dependency_overrides[get_caller] = lambda: Caller(name="test-user", auth_scheme="bearer")
    async with client_for(app) as client:
        response = await client.get("/me")  # no credentials at all
    assert response.status_code == 200
    assert response.json() == {"name": "test-user", "auth_scheme": "bearer"}
    app.dependency_overrides.clear()
    async with client_for(app) as client:
        assert (await client.get("/me")).status_code == 401


async def test_override_settings_reaches_the_caller_check(settings, client_for) -> None:
    """Overriding one link changes everything downstream of it."""
    other = Settings(environment="test", api_key=SecretStr("other-key"))
    app = small_app(settings)
    app.dependency_overrides[get_settings_dep] = lambda: other
    async with client_for(app) as client:
        accepted = await client.get("/me", headers={"X-API-Key": "other-key"})
        rejected = await client.get("/me", headers={"X-API-Key": API_KEY})
    assert (accepted.status_code, rejected.status_code) == (200, 401)


# --- pagination -------------------------------------------------------------


@pytest.fixture
def pagination_app(settings: Settings) -> FastAPI:
    app = small_app(settings)

    @app.get("/page")
    async def page(pagination: PaginationDep) -> dict[str, int]:
        return {"limit": pagination.limit, "offset": pagination.offset}

    return app


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"limit": 20, "offset": 0}),
        ({"limit": 1}, {"limit": 1, "offset": 0}),
        ({"limit": 100, "offset": 40}, {"limit": 100, "offset": 40}),
    ],
)
async def test_pagination_accepts_bounds(pagination_app, client_for, params, expected) -> None:
    async with client_for(pagination_app) as client:
        response = await client.get("/page", params=params)
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"limit": "ten"}, "query.limit"),
    ],
)
async def test_pagination_rejects_out_of_bounds(pagination_app, client_for, params, field) -> None:
    async with client_for(pagination_app) as client:
        response = await client.get("/page", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]


# --- through the real app factory -------------------------------------------


async def test_create_app_lifespan_feeds_settings_and_session(settings, client_for) -> None:
    app = create_app(settings)

    @app.get("/_probe")
    async def probe(
        app_settings: SettingsDep, session: SessionDep, request: Request
    ) -> dict[str, object]:
        one = (await session.exec(sa.select(sa.literal(1)))).scalar_one()
        return {
            "settings_from_create_app": app_settings is settings,
            "engine_from_lifespan": session.bind is request.state.engine,
            "one": one,
        }

    async with client_for(app) as client:
        response = await client.get("/_probe")
    assert response.json() == {
        "settings_from_create_app": True,
        "engine_from_lifespan": True,
        "one": 1,
    }


async def test_me_through_create_app(settings, client_for) -> None:
    async with client_for(create_app(settings)) as client:
        denied = await client.get("/me")
        allowed = await client.get("/me", headers={"X-API-Key": API_KEY})
    assert denied.status_code == 401
    # The real middleware stamps the envelope and the header with the same request id.
    assert denied.json()["error"]["request_id"] == denied.headers["x-request-id"]
    assert allowed.status_code == 200
    assert allowed.json() == {"name": "api-client", "auth_scheme": "api_key"}
    _assert_no_key_leak(allowed, API_KEY)


async def test_caller_dep_in_a_new_route(settings, client_for) -> None:
    """What later routers do: declare CallerDep, get a 401 for free."""
    app = small_app(settings)

    @app.get("/private")
    async def private(caller: CallerDep) -> dict[str, str]:
        return {"hello": caller.name}

    async with client_for(app) as client:
        assert (await client.get("/private")).status_code == 401
        response = await client.get("/private", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.json() == {"hello": "api-client"}
