"""Exercise of notebook 09 (events): subscribe a new handler and watch it fire.

The learner's ``subscribe(bus)`` adds ``flag_big_order`` to the app's bus. The check
builds the app's real events (``build_app_events``: audit log, statistics, cancellation
email, relay) on a fresh in-memory database, lets the learner subscribe, places a big
and a small order through ``OrderService`` (which records ``OrderPlaced`` in the
transaction), commits and runs the relay: the handler must have fired for the big
order only, next to the app's own handlers, under a stable name.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "09_events"
HANDLER_NAME = "big_orders"
BIG = [{"sku": "TV-55", "quantity": 2, "unit_price_cents": 6000}]  # 120.00
SMALL = [{"sku": "CB-3", "quantity": 3, "unit_price_cents": 500}]  # 15.00

STARTER = '''\
from workshop_app.event_bus import EventBus
from workshop_app.events import OrderPlaced

big_orders: list[int] = []


async def flag_big_order(event: OrderPlaced) -> None:
    """Remember every order of 100.00 or more, for a person to look at."""
    if event.total_cents >= 10_000:
        big_orders.append(event.order_id)


def subscribe(bus: EventBus) -> None:
    """Called once at startup with the app's bus."""
    # TODO: subscribe flag_big_order to OrderPlaced, under the name "big_orders".
'''

SOLUTION = '''\
from workshop_app.event_bus import EventBus
from workshop_app.events import OrderPlaced

big_orders: list[int] = []


async def flag_big_order(event: OrderPlaced) -> None:
    """Remember every order of 100.00 or more, for a person to look at."""
    if event.total_cents >= 10_000:
        big_orders.append(event.order_id)


def subscribe(bus: EventBus) -> None:
    """Called once at startup with the app's bus."""
    # The function itself (not a call), its event type, and a name that never changes.
    bus.subscribe(OrderPlaced, flag_big_order, name="big_orders")
'''


def _big_orders(candidate: Any) -> list[int]:
    log = getattr(candidate, "__globals__", {}).get("big_orders")
    if not isinstance(log, list):
        raise ExerciseFailed("Keep the module-level list big_orders: the check reads it.")
    return log


def _check_names(bus: Any) -> None:
    """Which event types a handler named like ours went to."""
    events = importlib.import_module("workshop_app.events")
    placed = bus.handler_names(events.OrderPlaced)
    registered = bus.handler_names(events.UserRegistered)
    own = {"audit_log", "statistics", "cancellation_email"}
    added = [name for name in placed + registered if name not in own]
    if not added:
        raise ExerciseFailed(
            "No handler was subscribed: flag_big_order never runs. In subscribe(), call "
            'bus.subscribe(OrderPlaced, flag_big_order, name="big_orders").'
        )
    if HANDLER_NAME not in added:
        raise ExerciseFailed(
            f"A handler was subscribed as {added[0]!r}; name it {HANDLER_NAME!r}. The name is "
            "what a stored event keeps in failed_handlers for a retry, so it must be "
            'stable: pass name="big_orders" rather than relying on the function\'s name.'
        )
    if HANDLER_NAME in registered:
        raise ExerciseFailed(
            "big_orders also receives UserRegistered events (you subscribed it to "
            "DomainEvent, or to UserRegistered), which have no total_cents: subscribe it "
            "to OrderPlaced only."
        )
    if HANDLER_NAME not in placed:
        raise ExerciseFailed("Subscribe big_orders to OrderPlaced: that event carries the total.")


async def _place_orders(engine: Any) -> tuple[int, int]:
    """A user, a big and a small order, committed: two OrderPlaced events are pending."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    models = importlib.import_module("workshop_app.models")
    schemas = importlib.import_module("workshop_app.schemas")
    services = importlib.import_module("workshop_app.services")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = models.User(email="ada@example.com", full_name="Ada", password_hash="x")
        session.add(user)
        await session.flush()
        orders = services.OrderService(session)
        big = await orders.create(user.id, schemas.OrderCreate.model_validate({"lines": BIG}))
        small = await orders.create(user.id, schemas.OrderCreate.model_validate({"lines": SMALL}))
        await session.commit()
    return big.order.id, small.order.id


async def verify_subscribe(candidate: Any) -> None:
    if not callable(candidate) or inspect.isclass(candidate):
        raise ExerciseFailed(
            "Pass the function subscribe (not its result): lab.check('09.subscribe_handler', "
            "subscribe)."
        )
    log = _big_orders(candidate)
    log.clear()
    config = importlib.import_module("workshop_app.config")
    database = importlib.import_module("workshop_app.database")
    subscribers = importlib.import_module("workshop_app.event_handlers")
    mail = importlib.import_module("workshop_app.mail")
    settings = config.Settings(database_url="sqlite+aiosqlite:///:memory:", log_level="WARNING")
    engine = database.create_engine(settings)
    try:
        await database.create_schema(engine)
        events = subscribers.build_app_events(settings, engine, mail.MemoryMailer())
        try:
            result = candidate(events.bus)
        except ValueError as exc:  # the bus refuses a second handler with the same name
            raise ExerciseFailed(f"bus.subscribe refused it: {exc} Subscribe it once.") from None
        except TypeError as exc:
            raise ExerciseFailed(
                f"subscribe(bus) raised TypeError ({exc}). Pass the handler itself, not a "
                'call: bus.subscribe(OrderPlaced, flag_big_order, name="big_orders").'
            ) from None
        if inspect.isawaitable(result):
            result.close()
            raise ExerciseFailed("Keep subscribe a plain def: subscribing does not await.")
        _check_names(events.bus)
        big, small = await _place_orders(engine)
        await events.relay.dispatch_pending()
    finally:
        await engine.dispose()
    if log.count(big) > 1:
        raise ExerciseFailed(f"flag_big_order ran {log.count(big)} times for one order; once.")
    if small in log:
        raise ExerciseFailed("The small order (15.00) was flagged: keep the 10_000 cents test.")
    if log != [big]:
        raise ExerciseFailed(
            "flag_big_order was subscribed but big_orders stayed empty: keep the handler "
            "appending event.order_id for totals of 10_000 cents or more."
        )
    if events.statistics.snapshot() != {"order.placed": 2}:
        raise ExerciseFailed("The app's own handlers did not all run: do not unsubscribe them.")


EXERCISES = (
    Exercise(
        id="09.subscribe_handler",
        notebook_id=NOTEBOOK_ID,
        title="Subscribe a new handler",
        instructions=(
            "Complete subscribe(bus): subscribe flag_big_order to OrderPlaced under the name "
            "'big_orders'. The check builds the app's events on a fresh database, calls "
            "subscribe(bus), places a 120.00 and a 15.00 order, commits and runs the relay: "
            "the handler must flag the big order only, next to the app's own handlers."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="subscribe",
        verify=verify_subscribe,
        success=(
            "flag_big_order fired once, after the commit, for the 120.00 order only; the audit "
            "log and the statistics handled both orders as before."
        ),
    ),
)
