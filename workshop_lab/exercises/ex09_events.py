"""Exercise of notebook 09 (events): write an event handler, and subscribe it.

The learner writes ``OrderConfirmation``, a handler of ``OrderPlaced`` that queues the
customer's confirmation email in the outbox of notebook 08 in a session of its own, at most
once per order, commits and sends it; and ``subscribe(bus, engine, mailer)``, which
subscribes it to the app's bus under a stable name.

The check builds the app's events (``build_app_events``: audit log, statistics, cancellation
email, relay) on a SQLite file of its own, lets the learner subscribe, places three orders
for two customers, commits, and runs the relay until nothing is due, retries included. It
reads the OUTCOME of every ``order.placed`` event in ``stored_events`` and the side effect:
the outbox rows and the mailbox. Then the same events are delivered again, with the same
``event_id``, first to the same handler object, then to a new one built as after a
restart: delivery is at-least-once, and each customer must still get one email per order.
The sessions the handler opens are watched: one session used for two events, or a session
that writes and never commits, gets a hint of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import inspect
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._base import (
    Exercise,
    ExerciseFailed,
    Person,
    add_users,
    describe_error,
    is_coroutine_function,
    learner_module,
    learner_settings,
    plain_result,
    require_arguments,
    scratch_database_url,
)

NOTEBOOK_ID = "09_events"
EXERCISE_ID = "09.order_confirmation"
HANDLER_NAME = "order_confirmation"
MAX_ATTEMPTS = 3
INTERVAL = 0.001  # the relay's backoff base: retries are due after 1 ms, then 2 ms
RETRY_WAIT = 0.01  # how long the check waits between two relay passes (past any backoff)
STRAY_SECONDS = 1.0  # how long work started and not awaited by the handler may take

STARTER = '''\
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.event_bus import EventBus
from workshop_app.events import OrderPlaced
from workshop_app.mail import Mailer

# You will also need: select (sqlmodel), AsyncSession (sqlmodel.ext.asyncio.session),
# OutboxEmail and User (workshop_app.models), send_email (workshop_app.tasks).


def confirmation_subject(order_id: int) -> str:
    return f"Your order {order_id} is confirmed"


class OrderConfirmation:
    """On OrderPlaced: one confirmation email per order, however often the event arrives,
    queued in the outbox of notebook 08 and sent."""

    def __init__(self, engine: AsyncEngine, mailer: Mailer) -> None:
        self.engine = engine
        self.mailer = mailer

    async def __call__(self, event: OrderPlaced) -> None:
        """Queue and send the confirmation of event.order_id, unless it is queued already."""
        # TODO 1: in a session of the handler's own, read the customer (event.user_id) and
        #         look for their email with the confirmation subject in the outbox; queue
        #         one if there is none.
        # TODO 2: commit, then send the email with send_email (it sends a pending one only).


def subscribe(bus: EventBus, engine: AsyncEngine, mailer: Mailer) -> None:
    """Called once at startup with the app's bus, engine and mailer."""
    # TODO 3: subscribe an OrderConfirmation to OrderPlaced, named "order_confirmation".
'''

SOLUTION = '''\
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.event_bus import EventBus
from workshop_app.events import OrderPlaced
from workshop_app.mail import Mailer
from workshop_app.models import OutboxEmail, User
from workshop_app.tasks import send_email


def confirmation_subject(order_id: int) -> str:
    return f"Your order {order_id} is confirmed"


class OrderConfirmation:
    """On OrderPlaced: one confirmation email per order, however often the event arrives,
    queued in the outbox of notebook 08 and sent."""

    def __init__(self, engine: AsyncEngine, mailer: Mailer) -> None:
        self.engine = engine
        self.mailer = mailer

    async def __call__(self, event: OrderPlaced) -> None:
        """Queue and send the confirmation of event.order_id, unless it is queued already."""
        subject = confirmation_subject(event.order_id)
        # Its own session: the request's transaction is over, and nobody commits for us.
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            user = await session.get(User, event.user_id)
            if user is None:
                return  # deleted since: nobody to write to
            query = select(OutboxEmail).where(
                OutboxEmail.user_id == user.id, OutboxEmail.subject == subject
            )
            email = (await session.exec(query)).first()
            if email is None:  # the first delivery; a redelivery finds it and adds nothing
                email = OutboxEmail(
                    user_id=user.id,
                    to=user.email,
                    subject=subject,
                    body=f"Hello {user.full_name}, we received your order {event.order_id}.",
                )
                session.add(email)
                await session.commit()
        await send_email(self.engine, self.mailer, email.id)  # a sent one is left alone


def subscribe(bus: EventBus, engine: AsyncEngine, mailer: Mailer) -> None:
    """Called once at startup with the app's bus, engine and mailer."""
    # The object itself (its __call__ is the handler), and a name that never changes.
    bus.subscribe(OrderPlaced, OrderConfirmation(engine, mailer), name="order_confirmation")
'''

HINTS = (
    "A handler runs after the request is over, so it owns its whole unit of work: it opens "
    "it, writes, and makes the write last. And the same event can reach it twice: before it "
    "acts, it looks for a trace of having done it already, somewhere that outlives the "
    "process.",
    'Reread "The audit log: a handler with a session of its own" (its own session, '
    'idempotent) and "The cancellation email" (the same shape, through the outbox); "The '
    'bus" says what subscribing takes.',
)


ADA = Person(3, "Ada", "ada@example.com")
GRACE = Person(5, "Grace", "grace@example.com")
# Two customers, three orders: Ada has two, so "an email for this customer" is not enough.
ORDERS = (
    (ADA, {"sku": "TV-55", "quantity": 2, "unit_price_cents": 6000}),
    (GRACE, {"sku": "CB-3", "quantity": 3, "unit_price_cents": 500}),
    (ADA, {"sku": "KB-1", "quantity": 1, "unit_price_cents": 4200}),
)


def _subject(order_id: int) -> str:
    return f"Your order {order_id} is confirmed"


@dataclass
class Watch:
    """What the learner's handler did, delivery by delivery."""

    delivery: int | None = None  # the delivery under way, while the handler runs
    deliveries: int = 0
    sessions: dict[int, list[Any]] = field(default_factory=dict)  # delivery -> sessions
    committed: list[Any] = field(default_factory=list)  # sessions that committed in a delivery
    errors: list[str] = field(default_factory=list)  # what the handler raised, in order
    engine: Any = None  # the check's engine (its sync face, which the ORM events see)
    elsewhere: bool = False  # did the handler use a session on another database?

    def began(self, session: Any, _transaction: Any, connection: Any) -> None:
        if self.delivery is not None and connection.engine is not self.engine:
            self.elsewhere = True
        if self.delivery is not None:
            used = self.sessions.setdefault(self.delivery, [])
            if not any(other is session for other in used):
                used.append(session)

    def commit(self, session: Any) -> None:
        if self.delivery is not None:
            self.committed.append(session)

    def shared_session(self) -> bool:
        """Did one session object serve two deliveries?"""
        seen: list[Any] = []
        for used in self.sessions.values():
            if any(session is other for session in used for other in seen):
                return True
            seen.extend(used)
        return False


class _Watched:
    """The learner's handler, unchanged, with each call noted as one delivery."""

    def __init__(self, handler: Any, watch: Watch) -> None:
        self.handler = handler
        self.watch = watch

    async def __call__(self, event: Any) -> None:
        self.watch.deliveries += 1
        self.watch.delivery = self.watch.deliveries
        try:
            # Awaited exactly as the bus awaits it: a plain def fails here the same way.
            await self.handler(event)
        except Exception as exc:
            self.watch.errors.append(describe_error(exc))
            raise
        finally:
            self.watch.delivery = None


@contextlib.contextmanager
def _watching_sessions(watch: Watch) -> Iterator[None]:
    """Note every ORM session that begins or commits while the handler runs."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_begin", watch.began)
    event.listen(Session, "after_commit", watch.commit)
    try:
        yield
    finally:
        event.remove(Session, "after_begin", watch.began)
        event.remove(Session, "after_commit", watch.commit)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The relay logs each failing handler with its traceback: the hint says it instead."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _all_handler_names(bus: Any) -> dict[str, list[str]]:
    """Event name -> the handlers an event of that name goes to."""
    events = importlib.import_module("workshop_app.events")
    return {name: bus.handler_names(cls) for name, cls in events.EVENT_TYPES.items()}


def _require_subscribe(candidate: Any) -> None:
    if inspect.isclass(candidate) or not callable(candidate):
        raise ExerciseFailed(
            "Pass the function subscribe, the one the app calls at startup with its bus, "
            "engine and mailer (not the handler class, not a result): "
            f'lab.check("{EXERCISE_ID}", subscribe).'
        )
    require_arguments(
        candidate,
        (object(), object(), object()),
        "Keep the starter's signature, subscribe(bus, engine, mailer): the app calls it "
        "with its bus, its engine and its mailer.",
    )


def _subscribe(candidate: Any, settings: Any, engine: Any, mailer: Any, watch: Watch) -> Any:
    """The app's events with the learner's handler subscribed (and watched)."""
    handlers = importlib.import_module("workshop_app.event_handlers")
    events = handlers.build_app_events(settings, engine, mailer)
    own = {name for names in _all_handler_names(events.bus).values() for name in names}
    try:
        result = candidate(events.bus, engine, mailer)
    except ValueError as exc:  # the bus refuses a second handler under one name
        raise ExerciseFailed(f"The bus refused a subscription ({exc}): subscribe once.") from None
    plain_result(
        result,
        "Keep subscribe a plain def: subscribing awaits nothing, and the app calls it "
        "without await, so the body of an async subscribe never runs.",
    )
    receivers = _all_handler_names(events.bus)
    added = sorted({name for names in receivers.values() for name in names} - own)
    if not added:
        raise ExerciseFailed(
            "subscribe() subscribed nothing to the bus, so no handler of yours ever runs (TODO 3)."
        )
    if len(added) > 1:
        raise ExerciseFailed(
            f"subscribe() subscribed {len(added)} handlers ({', '.join(added)}): subscribe one, "
            "once. Two subscriptions deliver every event to it twice."
        )
    if added[0] != HANDLER_NAME:
        raise ExerciseFailed(
            f"Your handler is subscribed as {added[0]!r}; name it {HANDLER_NAME!r}. A stored "
            "event keeps the names of its failed handlers for the retry, so the name is given "
            "explicitly and never changes (a class or a function gets renamed one day)."
        )
    others = sorted(name for name, names in receivers.items() if HANDLER_NAME in names)
    others = [name for name in others if name != "order.placed"]
    if others:
        raise ExerciseFailed(
            f"Your handler also receives {' and '.join(others)} events, which are not orders "
            "being placed: subscribe it to OrderPlaced only (DomainEvent would mean every "
            "event)."
        )
    if HANDLER_NAME not in receivers["order.placed"]:
        raise ExerciseFailed("Subscribe your handler to OrderPlaced: that is the event it handles.")
    for index, subscription in enumerate(events.bus._subscriptions):
        if subscription.name == HANDLER_NAME:
            watched = _Watched(subscription.handler, watch)
            events.bus._subscriptions[index] = dataclasses.replace(subscription, handler=watched)
    return events


async def _place_orders(engine: Any) -> list[tuple[int, Person]]:
    """Two customers and three orders, committed: three ``order.placed`` events pending."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    schemas = importlib.import_module("workshop_app.schemas")
    services = importlib.import_module("workshop_app.services")
    placed = []
    async with AsyncSession(engine, expire_on_commit=False) as session:
        add_users(session, (ADA, GRACE))
        await session.flush()
        orders = services.OrderService(session)
        for customer, line in ORDERS:
            body = schemas.OrderCreate.model_validate({"lines": [line]})
            placed.append(((await orders.create(customer.id, body)).order.id, customer))
        await session.commit()
    return placed


async def _events(engine: Any) -> list[Any]:
    from sqlalchemy import text

    query = text(
        "SELECT id, payload, status, attempts, failed_handlers, error FROM stored_events "
        "WHERE name = 'order.placed' ORDER BY id"
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def _outbox(engine: Any) -> list[Any]:
    from sqlmodel import select
    from sqlmodel.ext.asyncio.session import AsyncSession

    models = importlib.import_module("workshop_app.models")
    async with AsyncSession(engine) as session:
        return list((await session.exec(select(models.OutboxEmail))).all())


async def _let_strays_finish(before: set[asyncio.Task]) -> None:
    """Work the handler started and did not await: let it end before anything is counted."""
    strays = {task for task in asyncio.all_tasks() - before if not task.done()}
    strays.discard(asyncio.current_task())
    if strays:
        await asyncio.wait(strays, timeout=STRAY_SECONDS)


async def _dispatch(relay: Any, engine: Any, before: set[asyncio.Task]) -> None:
    """Relay passes until no event is pending: the first attempt and every retry."""
    for _ in range(MAX_ATTEMPTS + 1):
        await relay.dispatch_pending()
        await _let_strays_finish(before)
        if not any(row.status == "pending" for row in await _events(engine)):
            return
        await asyncio.sleep(RETRY_WAIT)


def _learner_error(row: Any) -> str:
    """This handler's part of the row's ``error`` ("name: Type: message; ...")."""
    for part in (row.error or "").split("; "):
        if part.startswith(f"{HANDLER_NAME}: "):
            return part.removeprefix(f"{HANDLER_NAME}: ")
    return row.error or "an error"


def _emails_for(order_id: int, customer: Person, mailer: Any, outbox: list[Any]) -> tuple:
    """(messages sent to the customer, outbox rows queued) for one order's confirmation."""
    subject = _subject(order_id)
    sent = [m for m in mailer.sent if m.subject == subject]
    queued = [e for e in outbox if e.subject == subject]
    return sent, queued


def _failure_hint(
    row: Any, order_id: int, customer: Person, sent: int, watched: Any, redelivered: bool
) -> str:
    if watched.watch.elsewhere and HANDLER_NAME in (row.error or ""):
        return (
            "Your handler opened a session on another database than the engine subscribe() "
            "receives (an engine from an earlier cell?), where the check's rows are not: it "
            f"raised {_learner_error(row)} for order {order_id}, and after {MAX_ATTEMPTS} "
            "attempts the event ended 'failed'. Use the engine subscribe() receives."
        )
    return _failure_told(row, order_id, customer, sent, watched.handler, redelivered)


def _failure_told(
    row: Any, order_id: int, customer: Person, sent: int, handler: Any, redelivered: bool
) -> str:
    error = _learner_error(row)
    failed_handlers = json.loads(row.failed_handlers) if row.failed_handlers else []
    if HANDLER_NAME not in failed_handlers and HANDLER_NAME not in (row.error or ""):
        return (
            f"The event of order {order_id} ended {row.status!r} because one of the app's own "
            f"handlers failed ({row.error}). If you edited event_handlers.py, "
            'lab.restore("workshop_app/event_handlers.py") puts it back.'
        )
    if not is_coroutine_function(handler) and error.startswith("TypeError") and "await" in error:
        done = f"; {customer.name} got {sent} email(s) for that order" if sent else ""
        return (
            "Your handler is a plain def. The bus calls it, which runs its body, then awaits "
            f"what it returned, None, and that raises {error}. So every delivery counted as a "
            f"failure: the relay tried order {order_id}'s event {MAX_ATTEMPTS} times and left "
            f"it 'failed'{done}. The bus awaits its handlers: write yours as a coroutine "
            "function (for a class, its __call__)."
        )
    if redelivered:
        return (
            f"Delivered a second time (the same event, the same event_id), your handler raised "
            f"{error} for order {order_id}, and after {MAX_ATTEMPTS} attempts the event ended "
            "'failed'. A redelivery is normal (delivery is at-least-once): for an event it has "
            "handled already, a handler has nothing left to do, and returns normally."
        )
    told = (
        f"Your handler raised {error} for order {order_id}. Raising tells the relay the work "
        f"was not done, so it ran the handler again after a backoff: {MAX_ATTEMPTS} attempts, "
        "then it left the event 'failed' for a person."
    )
    if sent > 1:
        told += (
            f" Yet the work was done every time: {customer.name} got {sent} emails for that "
            "one order."
        )
    elif sent == 1:
        told += (
            f" Yet the work was done: {customer.name} got the email, and support will now "
            "chase an order that went fine."
        )
    return told + _expired_note(error) + " Let the handler raise only when its work failed."


def _expired_note(error: str) -> str:
    if not any(word in error for word in ("DetachedInstanceError", "MissingGreenlet")):
        return ""
    return (
        " That error is an object read after its session committed or closed: a commit "
        "expires what the session loaded, unless the session is told not to."
    )


def _expect_dispatched(
    rows: list[Any],
    placed: list[tuple[int, Person]],
    mailer: Any,
    outbox: list[Any],
    events: Any,
    watch: Watch,
    redelivered: bool,
) -> None:
    """Every event ended dispatched, at the first attempt."""
    watched = next(s.handler for s in events.bus._subscriptions if s.name == HANDLER_NAME)
    by_order = {json.loads(row.payload)["order_id"]: row for row in rows}
    for order_id, customer in placed:
        row = by_order[order_id]
        if row.status != "dispatched":
            sent, _ = _emails_for(order_id, customer, mailer, outbox)
            hint = _failure_hint(row, order_id, customer, len(sent), watched, redelivered)
            raise ExerciseFailed(hint)
    if watch.errors and not redelivered:
        first = watch.errors[0]
        raise ExerciseFailed(
            f"The events ended 'dispatched', but only on a retry: the first delivery of each "
            f"raised {first}, so every confirmation waited for the relay's backoff (in "
            f"production, seconds; after {MAX_ATTEMPTS} such failures, 'failed')."
            + _expired_note(first)
        )


def _expect_emails(
    placed: list[tuple[int, Person]], mailer: Any, outbox: list[Any], watch: Watch
) -> None:
    ours = {_subject(order_id) for order_id, _ in placed}
    strangers = [e.subject for e in outbox if e.subject not in ours]
    strangers += [m.subject for m in mailer.sent if m.subject not in ours]
    if strangers:
        raise ExerciseFailed(
            f"Your handler queued or sent {strangers[0]!r}: build the subject with the "
            "starter's confirmation_subject, which names the order of the event."
        )
    got_something = False
    for order_id, customer in placed:
        sent, queued = _emails_for(order_id, customer, mailer, outbox)
        got_something = got_something or bool(sent or queued)
        wrong = [e.to for e in queued if e.to != customer.email]
        wrong += [m.to for m in sent if m.to != customer.email]
        if wrong:
            raise ExerciseFailed(
                f"Order {order_id} is {customer.name}'s ({customer.email}), but its "
                f"confirmation went to {wrong[0]}: take the customer from the event's user_id."
            )
        if len(queued) > 1 or len(sent) > 1:
            raise ExerciseFailed(
                f"One delivery of order {order_id}'s event queued {len(queued)} email(s) and "
                f"sent {len(sent)}: one email, queued once and sent once."
            )
    if not got_something:
        raise ExerciseFailed(_nothing_written(watch))
    for order_id, customer in placed:
        sent, queued = _emails_for(order_id, customer, mailer, outbox)
        if not queued:
            if sent:
                raise ExerciseFailed(
                    f"{customer.name} got the email for order {order_id}, but the outbox has "
                    "no row for it: queue it in the outbox first, so it is recorded (and "
                    "found again by a redelivery), then send it."
                )
            raise ExerciseFailed(
                f"{customer.name}'s order {order_id} got no confirmation, while others did. "
                "Look at how your handler decides it has handled an event already: it must "
                "be about this order, not any email of the customer."
            )
        if not sent:
            raise ExerciseFailed(
                f"The email for order {order_id} is queued ({str(queued[0].status)!r}) but was "
                "never sent: once it is committed, hand it to the outbox's sender of "
                "notebook 08, which marks it sent."
            )
        if str(queued[0].status) != "sent":
            raise ExerciseFailed(
                f"The email for order {order_id} went out, but its outbox row still says "
                f"{str(queued[0].status)!r}: send it through the outbox's sender of notebook "
                "08, which records it on the row (else a resend job sends it again)."
            )


def _nothing_written(watch: Watch) -> str:
    if watch.elsewhere:
        return (
            "Every order.placed event ended 'dispatched', but no confirmation email is in the "
            "database the check gave subscribe(): your handler opened its session on another "
            "database (an engine from an earlier cell?). Use the engine subscribe() receives."
        )
    opened = [session for used in watch.sessions.values() for session in used]
    if not opened:
        return (
            "Every order.placed event ended 'dispatched' (your handler returned without an "
            "error), but it opened no session on the database and no email went out: the "
            "handler does nothing yet (TODOs 1 and 2)."
        )
    if not watch.committed:
        return (
            "Every order.placed event ended 'dispatched', but no confirmation email is in "
            "the database: your handler's session never committed, so what it wrote was "
            "rolled back when the session closed. A service flushes and lets the request "
            "commit; a handler runs after the request's transaction is over, and nobody "
            "commits for it."
        )
    return (
        "Every order.placed event ended 'dispatched', and your handler committed a session, "
        "but no confirmation email is in the database: does it add the email it builds to "
        "that session before the commit?"
    )


async def _redeliver(engine: Any) -> None:
    """The rows go back to pending, as a relay that died after the handlers ran leaves them
    once they are released: the same events, the same event_ids, delivered again."""
    from sqlalchemy import text

    release = text(
        "UPDATE stored_events SET status = 'pending', failed_handlers = NULL, "
        "next_attempt_at = NULL, error = NULL WHERE name = 'order.placed'"
    )
    async with engine.begin() as connection:
        await connection.execute(release)


def _expect_once(
    placed: list[tuple[int, Person]], mailer: Any, outbox: list[Any], restarted: bool
) -> None:
    for order_id, customer in placed:
        sent, queued = _emails_for(order_id, customer, mailer, outbox)
        if len(sent) <= 1 and len(queued) <= 1:
            continue
        what = f"{len(sent)} emails" if len(sent) > 1 else f"{len(queued)} outbox rows"
        if restarted:
            raise ExerciseFailed(
                "Delivered again to the same handler object, the events were recognised; but "
                "after a restart (a new handler object, as after the crash that causes a "
                f"redelivery) order {order_id} got a second email ({what} in all). Your "
                "handler remembers what it handled in memory, and a crash forgets it: look "
                "for what the first delivery left in the database."
            )
        raise ExerciseFailed(
            "The same events were delivered a second time, with the same event_id (what a "
            "relay that died after your handler ran, before it marked the row, does once the "
            f"claim is released), and {customer.name} now has {what} for order {order_id}. "
            "Delivery is at-least-once: before it acts, a handler makes sure this order has "
            "not had its email already."
        )


async def _run(candidate: Any, url: str, watch: Watch) -> None:
    database = learner_module("database")
    mail = learner_module("mail")
    settings = learner_settings(
        database_url=url,
        event_relay_interval_seconds=INTERVAL,
        event_max_attempts=MAX_ATTEMPTS,
    )
    engine = database.create_engine(settings)
    watch.engine = engine.sync_engine
    before = asyncio.all_tasks()
    try:
        await database.create_schema(engine)
        mailer = mail.MemoryMailer()
        events = _subscribe(candidate, settings, engine, mailer, watch)
        placed = await _place_orders(engine)
        await _dispatch(events.relay, engine, before)
        outbox = await _outbox(engine)
        rows = await _events(engine)
        _expect_dispatched(rows, placed, mailer, outbox, events, watch, redelivered=False)
        _expect_emails(placed, mailer, outbox, watch)
        if events.statistics.snapshot().get("order.placed") != len(placed):
            raise ExerciseFailed(
                "The app's own handlers did not all run once per event: keep them subscribed."
            )
        if watch.shared_session():
            raise ExerciseFailed(
                "Your handler used one session for several events (a session kept on the "
                "handler, or opened once in subscribe). A session is one unit of work: after "
                "a failed delivery it must be rolled back before anything else can use it, "
                "and it keeps the rows it loaded, so the next event may read stale data. "
                "Open a session for each event, as the audit log does."
            )
        for restarted in (False, True):
            # The same handler object first; then a new one, as after the crash and restart.
            if restarted:
                events = _subscribe(candidate, settings, engine, mailer, watch)
            await _redeliver(engine)
            await _dispatch(events.relay, engine, before)
            outbox = await _outbox(engine)
            _expect_once(placed, mailer, outbox, restarted)
            rows = await _events(engine)
            _expect_dispatched(rows, placed, mailer, outbox, events, watch, redelivered=True)
    finally:
        await _let_strays_finish(before)
        await engine.dispose()


async def verify_order_confirmation(candidate: Any) -> None:
    _require_subscribe(candidate)
    watch = Watch()
    with scratch_database_url("check-09-") as url, _watching_sessions(watch), _quiet_logs():
        await _run(candidate, url, watch)


EXERCISES = (
    Exercise(
        id=EXERCISE_ID,
        notebook_id=NOTEBOOK_ID,
        title="An order confirmation, once per order",
        instructions=(
            "Write OrderConfirmation, a handler of OrderPlaced that queues the customer's "
            "confirmation email in the outbox in a session of its own (at most one per "
            "order), commits and sends it, and subscribe(bus, engine, mailer), which "
            "subscribes it as 'order_confirmation'. The check places three orders for two "
            "customers, runs the relay, reads the events' outcome and the emails, then "
            "delivers the same events again, also after a restart."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="subscribe",
        verify=verify_order_confirmation,
        success=(
            "Each order.placed event was dispatched once, each customer got one email per "
            "order, sent through the outbox, and a redelivery of the same events, even after a "
            "restart, sent nothing new."
        ),
        hints=HINTS,
    ),
)
