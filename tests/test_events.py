"""Domain events: recorded in the request's transaction, dispatched only after the commit,
each handler isolated from the others, the API that shows them, and the app's subscribers.

The relay itself (claiming, the loop, shutdown) is tested in test_event_relay.py.
"""

import json
import logging
from typing import Any

import api_helpers
import pytest
from api_helpers import KEY, error_of, make_order, make_user
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app import event_handlers, lifespan
from workshop_app.config import Settings
from workshop_app.dependencies import get_outbox_service
from workshop_app.event_bus import EventBus
from workshop_app.event_relay import EventRelay
from workshop_app.events import (
    DomainEvent,
    OrderCancelled,
    OrderPlaced,
    UserRegistered,
    load_event,
)
from workshop_app.mail import MemoryMailer
from workshop_app.main import create_app
from workshop_app.models import AuditEntry, OutboxEmail, StoredEvent, User
from workshop_app.schemas import OrderCreate, UserCreate
from workshop_app.services import OrderService, UserService, record_event
from workshop_app.worker import BackgroundWorker

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases]

app_settings = api_helpers.app_settings
cheap_password_hashing = api_helpers.cheap_password_hashing


class Recorder:
    """A handler that remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[DomainEvent] = []

    async def __call__(self, event: DomainEvent) -> None:
        self.seen.append(event)


async def explode(event: DomainEvent) -> None:
    raise ConnectionError("statistics backend down\nsecond line")


@pytest.fixture(autouse=True)
def built(monkeypatch: pytest.MonkeyPatch) -> list[event_handlers.AppEvents]:
    """Every AppEvents a lifespan builds during the test, so a test can reach the app's bus
    (to subscribe a handler) and its engine."""
    built: list[event_handlers.AppEvents] = []

    def build(settings: Settings, engine, worker, *, instance: str) -> event_handlers.AppEvents:
        built.append(event_handlers.build_app_events(settings, engine, worker, instance=instance))
        return built[-1]

    monkeypatch.setattr(lifespan, "build_app_events", build)
    return built


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def app(app_settings: Settings, mailer: MemoryMailer):
    # The loop's interval is long: every dispatch here comes from the request's task.
    app = create_app(app_settings.model_copy(update={"event_relay_interval_seconds": 60}))
    app.state.mailer = mailer
    return app


@pytest.fixture
async def api(app, client_for):
    # raise_app_exceptions stays True: a background task that raised would raise here.
    async with client_for(app) as client:
        yield client


async def events_of(api) -> list[dict[str, Any]]:
    response = await api.get("/events", headers=KEY)
    assert response.status_code == 200
    return response.json()["items"]


# --- the events themselves ---------------------------------------------------------------


def test_events_are_frozen_and_round_trip_through_their_stored_json():
    event = OrderPlaced(order_id=3, user_id=1, total_cents=999)
    with pytest.raises(ValueError):
        event.total_cents = 0  # type: ignore[misc]
    assert load_event("order.placed", event.model_dump_json()) == event
    assert {UserRegistered.name, OrderPlaced.name, OrderCancelled.name} == {
        "user.registered",
        "order.placed",
        "order.cancelled",
    }


def test_an_unknown_event_name_is_a_lookup_error():
    with pytest.raises(LookupError, match="'order.refunded'"):
        load_event("order.refunded", "{}")


# --- the bus -----------------------------------------------------------------------------


async def test_publish_runs_the_matching_handlers_in_order():
    bus, calls = EventBus(), []

    def handler(label: str):
        async def run(event: DomainEvent) -> None:
            calls.append((label, event.name))

        return run

    bus.subscribe(DomainEvent, handler("every"), name="every")
    bus.subscribe(OrderPlaced, handler("placed"), name="placed")
    bus.subscribe(UserRegistered, handler("registered"), name="registered")
    assert await bus.publish(OrderPlaced(order_id=1, user_id=1, total_cents=1)) == {}
    assert calls == [("every", "order.placed"), ("placed", "order.placed")]
    assert bus.handler_names(OrderPlaced) == ["every", "placed"]


async def test_a_failing_handler_stops_neither_the_others_nor_the_caller(caplog):
    bus, before, after = EventBus(), Recorder(), Recorder()
    bus.subscribe(DomainEvent, before, name="before")
    bus.subscribe(DomainEvent, explode, name="explode")
    bus.subscribe(DomainEvent, after, name="after")
    event = UserRegistered(user_id=1, email="ada@example.com")
    with caplog.at_level(logging.ERROR, logger="workshop_app.event_bus"):
        failures = await bus.publish(event)
    assert failures == {"explode": "ConnectionError: statistics backend down"}
    assert before.seen == [event] and after.seen == [event]
    [record] = caplog.records
    assert record.fields["handler"] == "explode"
    assert record.fields["event_id"] == str(event.event_id) and record.exc_info


async def test_publish_only_runs_the_handlers_still_owed():
    bus, first, second = EventBus(), Recorder(), Recorder()
    bus.subscribe(DomainEvent, first, name="first")
    bus.subscribe(DomainEvent, second, name="second")
    await bus.publish(UserRegistered(user_id=1, email="a@example.com"), only=["second"])
    assert (len(first.seen), len(second.seen)) == (0, 1)


def test_a_handler_name_is_unique_and_defaults_to_the_function_name():
    bus = EventBus()
    assert bus.subscribe(DomainEvent, explode) == "explode"
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe(OrderPlaced, Recorder(), name="explode")


@pytest.fixture
async def file_engine(tmp_path):
    from workshop_app.database import create_engine, create_schema

    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/app.db"))
    await create_schema(engine)
    yield engine
    await engine.dispose()


# --- recorded in the transaction, dispatched after the commit ----------------------------


async def test_services_record_their_events_in_the_callers_transaction(engine):
    async with AsyncSession(engine, expire_on_commit=False) as session:
        users, orders = UserService(session), OrderService(session)
        user = await users.create(
            UserCreate(email="ada@example.com", full_name="A", password="long enough")
        )
        lines = [{"sku": "KB", "quantity": 2, "unit_price_cents": 500}]
        placed = await orders.create(user.id, OrderCreate.model_validate({"lines": lines}))
        await orders.cancel(placed.order.id)
        rows = (await session.exec(select(StoredEvent).order_by(col(StoredEvent.id)))).all()
        assert [row.name for row in rows] == ["user.registered", "order.placed", "order.cancelled"]
        assert json.loads(rows[1].payload) | {"event_id": None, "occurred_at": None} == {
            "event_id": None,
            "occurred_at": None,
            "order_id": placed.order.id,
            "user_id": user.id,
            "total_cents": 1000,
        }
        await session.rollback()  # the caller owns the transaction: the events go with it
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(StoredEvent))).all() == []


async def test_no_event_is_dispatched_for_a_rolled_back_transaction(file_engine):
    engine = file_engine  # a second connection can read while the transaction is open
    bus, seen = EventBus(), Recorder()
    bus.subscribe(DomainEvent, seen)
    relay = EventRelay(engine, bus, instance="test")
    async with AsyncSession(engine) as session:
        await record_event(session, UserRegistered(user_id=1, email="ghost@example.com"))
        assert await relay.dispatch_pending() == 0  # not committed: not visible, not sent
        await session.rollback()
    assert await relay.dispatch_pending() == 0
    assert seen.seen == []


async def test_an_event_is_dispatched_once_after_the_commit(engine):
    bus, seen = EventBus(), Recorder()
    bus.subscribe(DomainEvent, seen)
    relay = EventRelay(engine, bus, instance="test")
    event = UserRegistered(user_id=1, email="ada@example.com")
    async with AsyncSession(engine) as session:
        await record_event(session, event)
        await session.commit()
    assert await relay.dispatch_pending() == 1
    assert await relay.dispatch_pending() == 0  # dispatched rows are not sent again
    assert seen.seen == [event]


async def test_a_failed_request_dispatches_nothing(app, client_for, mailer, built):
    class BrokenOutbox:
        async def queue_welcome_email(self, user: User) -> None:
            raise RuntimeError("outbox table locked")  # after the service recorded the event

    seen = Recorder()
    app.dependency_overrides[get_outbox_service] = lambda: BrokenOutbox()
    async with client_for(app, raise_app_exceptions=False) as api:
        built[0].bus.subscribe(DomainEvent, seen, name="seen")
        response = await api.post("/users", json=api_helpers.user_body(), headers=KEY)
        error_of(response, 500, "INTERNAL_ERROR")
        assert await built[0].relay.dispatch_pending() == 0
        events = await events_of(api)
        stats = (await api.get("/events/stats", headers=KEY)).json()
    assert seen.seen == [] and mailer.sent == [] and events == []
    assert stats == {"handled": {}}


async def test_handlers_run_after_the_commit_and_see_the_committed_rows(
    app_settings, client_for, built, tmp_path
):
    """A handler reading the database on its own connection finds the new user: with a
    file database, a row not committed yet would be invisible to it."""
    found: list[str | None] = []

    async def look_up(event: UserRegistered) -> None:
        async with AsyncSession(built[0].relay.engine) as session:
            user = await session.get(User, event.user_id)
            found.append(user.email if user else None)

    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    app = create_app(app_settings.model_copy(update={"database_url": url}))
    async with client_for(app) as client:
        built[0].bus.subscribe(UserRegistered, look_up)
        await make_user(client)
    assert found == ["ada@example.com"]


# --- through the API -----------------------------------------------------------------------


async def test_each_event_is_dispatched_right_after_its_response(api, mailer):
    ada = await make_user(api)
    order = await make_order(api, ada["id"], ("KB-1", 2, 4999))
    assert (await api.post(f"/orders/{order['id']}/cancel", headers=KEY)).status_code == 200
    events = await events_of(api)
    assert [(e["name"], e["status"], e["attempts"]) for e in events] == [
        ("user.registered", "dispatched", 1),
        ("order.placed", "dispatched", 1),
        ("order.cancelled", "dispatched", 1),
    ]
    placed = events[1]
    assert {k: placed["payload"][k] for k in ("order_id", "user_id", "total_cents")} == {
        "order_id": order["id"],
        "user_id": ada["id"],
        "total_cents": 9998,
    }
    assert placed["failed_handlers"] == [] and placed["error"] is None
    stats = await api.get("/events/stats", headers=KEY)
    assert stats.json() == {
        "handled": {"order.cancelled": 1, "order.placed": 1, "user.registered": 1}
    }
    assert [m.subject for m in mailer.sent] == [
        "Welcome to the Orders API",
        f"Your order {order['id']} was cancelled",
    ]


async def test_the_audit_log_has_one_line_per_event(api, built):
    ada = await make_user(api)
    await make_order(api, ada["id"], ("KB-1", 1, 250))
    async with AsyncSession(built[0].relay.engine) as session:
        entries = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    assert [(e.event_name, e.summary) for e in entries] == [
        ("user.registered", "User 1 registered as ada@example.com"),
        ("order.placed", "Order 1 placed by user 1: 250 cents"),
    ]


async def test_a_failing_handler_leaves_the_response_and_the_other_handlers_alone(
    api, built, caplog
):
    seen = Recorder()
    built[0].bus.subscribe(DomainEvent, explode, name="explode")
    built[0].bus.subscribe(DomainEvent, seen, name="seen")
    with caplog.at_level(logging.ERROR, logger="workshop_app.event_bus"):
        # raise_app_exceptions is True: an exception escaping the task would raise here.
        response = await api.post(
            "/users", json=api_helpers.user_body(), headers={**KEY, "X-Request-ID": "ev-1"}
        )
    assert response.status_code == 201
    assert [e.name for e in seen.seen] == ["user.registered"]
    [event] = await events_of(api)
    assert (event["status"], event["failed_handlers"]) == ("pending", ["explode"])
    stats = (await api.get("/events/stats", headers=KEY)).json()
    assert stats == {"handled": {"user.registered": 1}}  # the app's own handlers ran
    [record] = [r for r in caplog.records if r.name == "workshop_app.event_bus"]
    assert record.fields["request_id"] == "ev-1" and record.fields["handler"] == "explode"


async def test_a_handler_that_fails_is_retried_alone_then_left_failed(
    app_settings, client_for, built
):
    attempts: list[str] = []

    async def flaky(event: DomainEvent) -> None:
        attempts.append(event.name)
        raise ConnectionError("still down")

    seen = Recorder()
    settings = app_settings.model_copy(
        update={"event_relay_interval_seconds": 60, "event_max_attempts": 3}
    )
    async with client_for(create_app(settings)) as client:
        relay = built[0].relay
        built[0].bus.subscribe(DomainEvent, flaky)
        built[0].bus.subscribe(DomainEvent, seen, name="seen")
        await make_user(client)
        [event] = await events_of(client)  # tried once, right after the response
        assert (event["status"], event["attempts"]) == ("pending", 1)
        assert event["failed_handlers"] == ["flaky"]
        assert event["error"] == "flaky: ConnectionError: still down"
        assert await relay.dispatch_pending() == 0  # its backoff (60 s) has not passed
        for _ in range(2):
            async with relay.engine.begin() as connection:  # let the backoff pass
                await connection.execute(update(StoredEvent).values(next_attempt_at=None))
            await relay.dispatch_pending()
        [event] = await events_of(client)
        failed = await client.get("/events", params={"status": "failed"}, headers=KEY)
        stats = (await client.get("/events/stats", headers=KEY)).json()
    assert (event["status"], event["attempts"], event["failed_handlers"]) == (
        "failed",
        3,
        ["flaky"],
    )
    assert [e["id"] for e in failed.json()["items"]] == [event["id"]]
    # Only the failed handler was retried: the others ran once.
    assert attempts == ["user.registered"] * 3
    assert len(seen.seen) == 1 and stats == {"handled": {"user.registered": 1}}


async def test_a_redelivered_cancellation_sends_one_email_and_logs_one_line(engine):
    mailer = MemoryMailer()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(User(email="ada@example.com", full_name="Ada", password_hash="x"))
        await session.commit()
    event = OrderCancelled(order_id=7, user_id=1)
    worker = BackgroundWorker(engine, mailer, instance="test")
    audit, email = event_handlers.AuditLog(engine), event_handlers.CancellationEmail(engine, worker)
    for _ in range(2):  # at-least-once: the same event arrives twice
        await audit(event)
        await email(event)
    async with AsyncSession(engine) as session:
        assert len((await session.exec(select(AuditEntry))).all()) == 1
        [row] = (await session.exec(select(OutboxEmail))).all()
    assert (row.subject, row.status) == ("Your order 7 was cancelled", "sent")
    assert [m.to for m in mailer.sent] == ["ada@example.com"]


async def test_a_cancellation_for_a_deleted_user_is_skipped(engine):
    mailer = MemoryMailer()
    worker = BackgroundWorker(engine, mailer, instance="test")
    await event_handlers.CancellationEmail(engine, worker)(OrderCancelled(order_id=1, user_id=9))
    assert mailer.sent == []


@pytest.mark.parametrize("path", ["/events", "/events/stats"])
async def test_the_event_endpoints_require_the_api_key(api, path):
    error_of(await api.get(path), 401, "UNAUTHORIZED")


async def test_an_unknown_status_filter_is_a_422(api):
    response = await api.get("/events", params={"status": "sent"}, headers=KEY)
    error_of(response, 422, "VALIDATION_ERROR")
