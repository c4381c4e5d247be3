"""The app's event handlers, and the one function that wires bus, handlers and relay.

- ``audit_log``: one ``audit_entries`` row per event, written once even when an event is
  delivered twice (UNIQUE ``event_id``): at-least-once delivery, idempotent handler.
- ``statistics``: in-memory counters per event name, for ``GET /events/stats``; they
  start at zero with every app (a process restart resets them, the audit log does not).
- ``cancellation_email``: on ``OrderCancelled``, queue the customer's email in the
  outbox of notebook 08 and send it; at most one email per order, however often the
  event arrives.

Each handler opens its own session: it runs after the request's transaction committed,
and one handler's failure must not roll back another's work.
"""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings
from workshop_app.event_bus import EventBus
from workshop_app.event_relay import EventRelay
from workshop_app.events import DomainEvent, OrderCancelled, OrderPlaced, UserRegistered
from workshop_app.models import AuditEntry, User
from workshop_app.services import OutboxService
from workshop_app.worker import BackgroundWorker


def summarize(event: DomainEvent) -> str:
    """One line a person can read in the audit log."""
    match event:
        case UserRegistered():
            return f"User {event.user_id} registered as {event.email}"
        case OrderPlaced():
            total = f"{event.total_cents} cent{'' if event.total_cents == 1 else 's'}"
            return f"Order {event.order_id} placed by user {event.user_id}: {total}"
        case OrderCancelled():
            return f"Order {event.order_id} of user {event.user_id} cancelled"
    return event.name


class AuditLog:
    """Write each event to the audit log (``audit_entries``) once."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def __call__(self, event: DomainEvent) -> None:
        event_id = str(event.event_id)
        async with AsyncSession(self.engine) as session:
            query = select(AuditEntry.id).where(AuditEntry.event_id == event_id)
            if (await session.exec(query)).first() is not None:
                return  # a redelivery: already logged
            entry = AuditEntry(
                event_id=event_id,
                event_name=event.name,
                summary=summarize(event),
                occurred_at=event.occurred_at,
            )
            session.add(entry)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # a concurrent delivery logged it first: same outcome


class EventStatistics:
    """How many events of each name this app has handled since it started: in memory, per
    instance (each counts its own), and a redelivered event counts again."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    async def __call__(self, event: DomainEvent) -> None:
        self._counts[event.name] += 1

    def snapshot(self) -> dict[str, int]:
        """The counters, sorted by event name (a stable order for clients and tests)."""
        return dict(sorted(self._counts.items()))


class CancellationEmail:
    """Tell the customer their order was cancelled, through the outbox of notebook 08."""

    def __init__(self, engine: AsyncEngine, worker: BackgroundWorker) -> None:
        self.engine = engine
        self.worker = worker

    async def __call__(self, event: OrderCancelled) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            user = await session.get(User, event.user_id)
            if user is None:
                return  # deleted since: nobody to write to
            email = await OutboxService(session).queue_order_cancelled_email(user, event.order_id)
            await session.commit()
        # Records 'sent' or a failure on the outbox row itself; a failed send is the
        # worker's to retry, so this handler has done its job either way.
        await self.worker.send_email(email.id)


def register_subscribers(
    bus: EventBus, engine: AsyncEngine, worker: BackgroundWorker
) -> EventStatistics:
    """Subscribe the app's handlers, in the order they run; return the statistics."""
    statistics = EventStatistics()
    bus.subscribe(DomainEvent, AuditLog(engine), name="audit_log")
    bus.subscribe(DomainEvent, statistics, name="statistics")
    bus.subscribe(OrderCancelled, CancellationEmail(engine, worker), name="cancellation_email")
    return statistics


@dataclass(frozen=True, slots=True)
class AppEvents:
    """What an app keeps for its events: the bus, the relay, the statistics."""

    bus: EventBus
    relay: EventRelay
    statistics: EventStatistics


def build_app_events(
    settings: Settings, engine: AsyncEngine, worker: BackgroundWorker, *, instance: str
) -> AppEvents:
    """A bus with the app's subscribers and a relay configured from ``settings``.

    The lifespan calls it once, starts ``relay``, stores the result in the lifespan state
    as ``"events"``, and awaits ``relay.stop(settings.shutdown_timeout_seconds)`` on shutdown.
    """
    bus = EventBus()
    statistics = register_subscribers(bus, engine, worker)
    relay = EventRelay(
        engine,
        bus,
        instance=instance,
        lease_seconds=settings.lease_seconds,
        interval=settings.event_relay_interval_seconds,
        max_attempts=settings.event_max_attempts,
    )
    return AppEvents(bus=bus, relay=relay, statistics=statistics)
