"""Domain events in the database: recorded with the change, then claimed and settled.

``record_event`` is how a service announces what happened: it adds a ``pending`` row to
``stored_events`` on the same session as the change, and flushes but never commits. The
event therefore commits or rolls back with the change; nobody is told before the commit.

The relay (``workshop_app.event_relay``) works the rows on the engine, one short
transaction per step, so no lock or connection is held while the handlers run:
``pending_event_ids`` finds them, ``claim_event`` takes one (``pending -> dispatching``
with one conditional UPDATE: of two relays that see the same row, only one gets it, on
SQLite and on PostgreSQL alike), and ``settle_event`` writes how it went.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.events import DomainEvent
from workshop_app.models import EventStatus, StoredEvent
from workshop_app.models.base import utc_now

UNFINISHED = (EventStatus.PENDING, EventStatus.DISPATCHING)


async def record_event(session: AsyncSession, event: DomainEvent) -> StoredEvent:
    """Add ``event`` as a ``pending`` row of the session's transaction; flushed, so it has an id."""
    row = StoredEvent(name=event.name, payload=event.model_dump_json())
    session.add(row)
    await session.flush()
    return row


async def list_events(
    session: AsyncSession, *, limit: int, offset: int, status: EventStatus | None = None
) -> tuple[Sequence[StoredEvent], int]:
    """One page of stored events in the order they were recorded, and how many match."""
    conditions = [col(StoredEvent.status) == status] if status is not None else []
    count = select(func.count()).select_from(StoredEvent).where(*conditions)
    total = (await session.exec(count)).one()
    query = select(StoredEvent).where(*conditions).order_by(col(StoredEvent.id))
    return (await session.exec(query.limit(limit).offset(offset))).all(), total


async def pending_event_ids(engine: AsyncEngine, *, after: int, limit: int) -> list[int]:
    """Ids of up to ``limit`` pending events after ``after``, oldest first, that are due:
    a retry waits for its ``next_attempt_at``."""
    due = or_(
        col(StoredEvent.next_attempt_at).is_(None),
        col(StoredEvent.next_attempt_at) <= utc_now(),
    )
    query = (
        select(StoredEvent.id)
        .where(col(StoredEvent.status) == EventStatus.PENDING, col(StoredEvent.id) > after)
        .where(due)
        .order_by(col(StoredEvent.id))
        .limit(limit)
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query)).scalars())


async def claim_event(engine: AsyncEngine, event_id: int) -> Row | None:
    """``pending -> dispatching`` if the row is still pending; None if another relay won."""
    claim = (
        update(StoredEvent)
        .where(col(StoredEvent.id) == event_id)
        .where(col(StoredEvent.status) == EventStatus.PENDING)
        .values(
            status=EventStatus.DISPATCHING,
            attempts=col(StoredEvent.attempts) + 1,
            claimed_at=utc_now(),
        )
        .returning(
            StoredEvent.id, StoredEvent.name, StoredEvent.payload,
            StoredEvent.attempts, StoredEvent.failed_handlers,
        )
    )  # fmt: skip
    async with engine.begin() as connection:
        return (await connection.execute(claim)).first()


async def settle_event(
    engine: AsyncEngine,
    event_id: int,
    status: EventStatus,
    *,
    failed_handlers: str | None = None,
    error: str | None = None,
    dispatched_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Write the outcome of a claimed event (only while it is still ``dispatching``)."""
    outcome = (
        update(StoredEvent)
        .where(col(StoredEvent.id) == event_id)
        .where(col(StoredEvent.status) == EventStatus.DISPATCHING)
        .values(
            status=status,
            failed_handlers=failed_handlers,
            error=error[:500] if error else None,
            dispatched_at=dispatched_at,
            next_attempt_at=next_attempt_at,
        )
    )
    async with engine.begin() as connection:
        await connection.execute(outcome)


async def count_unfinished(engine: AsyncEngine) -> int:
    """Events not dispatched yet: pending, or claimed and not finished."""
    query = select(func.count()).where(col(StoredEvent.status).in_(UNFINISHED))
    async with engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()


async def release_stale_claims(engine: AsyncEngine, *, claimed_before: datetime) -> int:
    """Put back to ``pending`` the rows claimed before ``claimed_before`` and never settled:
    their relay died mid-dispatch. Returns how many."""
    release = (
        update(StoredEvent)
        .where(col(StoredEvent.status) == EventStatus.DISPATCHING)
        .where(col(StoredEvent.claimed_at) < claimed_before)
        .values(status=EventStatus.PENDING)
    )
    async with engine.begin() as connection:
        return (await connection.execute(release)).rowcount
