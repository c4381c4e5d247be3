"""Many requests at once, through the whole app: limits hold, races resolve, failures roll back.

* N concurrent requests against a rate limit of M admit exactly M.
* N concurrent sign-ups with one email (in any letter case) create one user; every other
  request gets a 409 envelope, never a 500 and never a second row. On a file database
  in WAL mode several connections really write at once; in memory they share one.
* A request that fails after writing leaves nothing behind: neither when the endpoint
  raises after its writes nor when the commit itself is refused by the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from robustness_helpers import AUTH, assert_envelope, build_app
from sqlalchemy import text
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.dependencies import SessionDep
from workshop_app.models import Order, OrderLine, User
from workshop_app.services import user_service
from workshop_lab import app_client

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("clean_env")]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Races need requests in flight together, not 16 MiB of scrypt each."""
    monkeypatch.setattr(user_service, "SCRYPT_N", 2**8)


def wal_database(folder: Path) -> str:
    """A file database switched to WAL (the mode persists in the file): readers never block
    the writer, so concurrent requests interleave inside their transactions."""
    path = folder / "race.db"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["file-wal", "memory"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "sqlite+aiosqlite:///:memory:"
    return wal_database(tmp_path)


async def count_rows(app: FastAPI, model: type) -> int:
    """Count through the running app's own engine (an in-memory database lives only there)."""
    async with AsyncSession(app.state.engine_for_tests) as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


def expose_engine(app: FastAPI) -> FastAPI:
    """Keep the engine the lifespan opened on ``app.state``, so the test can read the rows."""
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with startup(app) as state:
            app.state.engine_for_tests = state["engine"]
            yield state

    app.router.lifespan_context = lifespan
    return app


# --- the rate limit --------------------------------------------------------------------


@pytest.mark.parametrize(("requests", "limit"), [(1, 1), (10, 3), (50, 1), (120, 60), (200, 7)])
async def test_n_concurrent_requests_against_a_limit_of_m_admit_exactly_m(
    requests: int, limit: int
) -> None:
    app = build_app(
        rate_limit_enabled=True, rate_limit_requests=limit, rate_limit_window_seconds=3600
    )
    async with app_client(app) as client:
        responses = await asyncio.gather(
            *(client.get("/users" if i % 2 else "/me", headers=AUTH) for i in range(requests))
        )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == Counter({200: min(limit, requests), 429: max(0, requests - limit)})
    for response in responses:
        if response.status_code == 429:
            assert assert_envelope(response)["code"] == "RATE_LIMITED"


# --- one email, many sign-ups ------------------------------------------------------------

CASINGS = ["{}@example.com", "{}@Example.com", "{}@EXAMPLE.COM", " {}@example.com "]


@pytest.mark.parametrize(("emails", "signups"), [(1, 2), (1, 12), (1, 40), (20, 60)])
async def test_concurrent_signups_create_one_user_per_email_and_lose_none(
    database_url: str, emails: int, signups: int
) -> None:
    """Each email (in any letter case) gets exactly one 201; every 201 is a user that exists."""
    app = expose_engine(build_app(database_url=database_url))
    bodies = [
        {
            "email": CASINGS[(i // emails) % len(CASINGS)].format(f"racer{i % emails}"),
            "full_name": f"Racer {i}",
            "password": f"pw-{i:08d}",
        }
        for i in range(signups)
    ]
    async with app_client(app) as client:
        responses = await asyncio.gather(
            *(client.post("/users", json=body, headers=AUTH) for body in bodies)
        )
        statuses = Counter(response.status_code for response in responses)
        assert statuses == Counter({201: emails, 409: signups - emails}), statuses
        for response in responses:
            if response.status_code == 409:
                assert assert_envelope(response)["code"] == "EMAIL_TAKEN"
        created = [response.json() for response in responses if response.status_code == 201]
        reread = await asyncio.gather(
            *(client.get(f"/users/{user['id']}", headers=AUTH) for user in created)
        )
        assert [response.status_code for response in reread] == [200] * len(created)
        assert sorted(user["email"] for user in created) == sorted(
            f"racer{i}@example.com" for i in range(emails)
        )
        assert await count_rows(app, User) == emails


# --- a failing request writes nothing -----------------------------------------------------


def add_failing_routes(app: FastAPI) -> FastAPI:
    """Routes that write through the app's own request session and then fail."""

    @app.post("/test/write-then-raise")
    async def write_then_raise(session: SessionDep) -> dict:
        user = User(
            email=f"ghost-{uuid.uuid4().hex}@example.com", full_name="Ghost", password_hash="!"
        )
        session.add(user)
        await session.flush()
        order = Order(user_id=user.id, total_cents=500)
        session.add(order)
        await session.flush()
        session.add(OrderLine(order_id=order.id, sku="GHOST", quantity=1, unit_price_cents=500))
        await session.flush()
        raise RuntimeError("failed after writing a user, an order and its line")

    @app.post("/test/commit-refused")
    async def commit_refused(session: SessionDep) -> dict:
        # Deferred foreign keys are checked at COMMIT: every statement succeeds, the commit
        # fails, after the endpoint has returned and before the response is sent.
        await session.exec(text("PRAGMA defer_foreign_keys = ON"))
        user = User(
            email=f"orphan-{uuid.uuid4().hex}@example.com", full_name="O", password_hash="!"
        )
        session.add(user)
        await session.flush()
        session.add(Order(user_id=user.id, total_cents=0))
        session.add(OrderLine(order_id=999_999, sku="ORPHAN", quantity=1, unit_price_cents=0))
        return {"written": "a user, an order and a line without its order"}

    return app


@pytest.mark.parametrize("route", ["/test/write-then-raise", "/test/commit-refused"])
async def test_a_failing_request_rolls_back_all_it_wrote_and_nothing_else(
    database_url: str, route: str
) -> None:
    """Five failing requests run at the same time as five good sign-ups: the failures leave
    no row behind, and every sign-up that was answered 201 is still there."""
    app = expose_engine(add_failing_routes(build_app(database_url=database_url)))
    async with app_client(app) as client:
        before = {m: await count_rows(app, m) for m in (User, Order, OrderLine)}
        good = [
            {"email": f"good{i}@example.com", "full_name": "Good", "password": "pw-good-01"}
            for i in range(5)
        ]
        responses = await asyncio.gather(
            *(client.post(route, headers=AUTH) for _ in range(5)),
            *(client.post("/users", json=body, headers=AUTH) for body in good),
        )
        failed, signed_up = responses[:5], responses[5:]
        assert [response.status_code for response in failed] == [500] * 5
        for response in failed:
            assert assert_envelope(response)["code"] == "INTERNAL_ERROR"
        assert [response.status_code for response in signed_up] == [201] * 5
        after = {m: await count_rows(app, m) for m in (User, Order, OrderLine)}
        assert after == {**before, User: before[User] + 5}


async def test_an_order_the_database_refuses_leaves_no_order_and_no_lines(
    database_url: str,
) -> None:
    """Through the real API: lines whose total the service refuses, or whose price is too big
    for a 64-bit column, never leave an order or a line behind."""
    app = expose_engine(build_app(database_url=database_url))
    async with app_client(app) as client:
        body = {"email": "buyer@example.com", "full_name": "Buyer", "password": "pw-buyer-1"}
        user = (await client.post("/users", json=body, headers=AUTH)).json()
        hostile_lines = [
            [{"sku": "A", "quantity": 10_000, "unit_price_cents": 2**62}],
            [{"sku": "A", "quantity": 1, "unit_price_cents": 2**63}],
            [{"sku": "A", "quantity": 1, "unit_price_cents": 1}] * 49
            + [{"sku": "B", "quantity": 1, "unit_price_cents": 10**30}],
        ]
        for lines in hostile_lines:
            response = await client.post(
                f"/users/{user['id']}/orders", json={"lines": lines}, headers=AUTH
            )
            assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
            assert_envelope(response)
        assert await count_rows(app, Order) == 0
        assert await count_rows(app, OrderLine) == 0
