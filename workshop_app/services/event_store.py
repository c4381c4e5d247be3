"""Domain events in the database: recorded with the change, then claimed and settled.

``record_event`` is how a service announces what happened: it adds a ``pending`` row to
``stored_events`` on the same session as the change, and flushes but never commits. The
event therefore commits or rolls back with the change; nobody is told before the commit.

The relay (``workshop_app.event_relay``) works the rows on the engine, one short
transaction per step, so no lock or connection is held while the handlers run:
``claim_events`` takes a few for a while (a lease: several relays share the table, and the
rows of a relay that died return to the others when its lease ends), ``renew_event`` starts
an event's lease again right before its handlers run, and ``settle_event`` writes how each
went, only for the relay that still holds it.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.events import DomainEvent
from workshop_app.models import EventStatus, StoredEvent
from workshop_app.services.work_queue import fail_spent, lease_clock

logger = logging.getLogger(__name__)

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


def _claimable(now: Any, max_attempts: int) -> ColumnElement[bool]:
    """Pending and due (a retry waits for its ``next_attempt_at``), or claimed under a lease
    that ended: the relay that held it stopped before it settled the row. Either way with an
    attempt left."""
    due = or_(col(StoredEvent.next_attempt_at).is_(None), col(StoredEvent.next_attempt_at) <= now)
    return and_(
        or_(and_(col(StoredEvent.status) == EventStatus.PENDING, due), _abandoned(now)),
        col(StoredEvent.attempts) < max_attempts,
    )


def _abandoned(now: Any) -> ColumnElement[bool]:
    return and_(
        col(StoredEvent.status) == EventStatus.DISPATCHING, col(StoredEvent.lease_until) < now
    )


def _spent(now: Any, max_attempts: int) -> ColumnElement[bool]:
    """No attempt left and no live lease, yet not settled: the last relay to claim it stopped
    or crashed mid-dispatch (a failure it survived is written ``failed``)."""
    return and_(
        or_(col(StoredEvent.status) == EventStatus.PENDING, _abandoned(now)),
        col(StoredEvent.attempts) >= max_attempts,
    )


async def claim_events(
    engine: AsyncEngine, *, instance: str, lease_seconds: float, limit: int, max_attempts: int
) -> list[Row]:
    """Claim up to ``limit`` events, oldest first, for ``lease_seconds``; return them. First
    mark ``failed`` the events claimed ``max_attempts`` times that never finished.

    One UPDATE whose subquery picks the rows ``FOR UPDATE SKIP LOCKED``: on PostgreSQL two
    relays claim at once without waiting for each other and never get the same row (SQLite
    has no such clause and needs none: its writers take turns).
    """
    now = lease_clock(engine)  # the database's on PostgreSQL: one clock for every host
    spent = _spent(now, max_attempts)
    async with engine.connect() as connection:  # look before writing: idle loops never lock
        anything = select(StoredEvent.id).where(or_(_claimable(now, max_attempts), spent))
        if (await connection.execute(anything.limit(1))).first() is None:
            return []
    claimable = (
        select(StoredEvent.id)
        .where(_claimable(now, max_attempts))
        .order_by(col(StoredEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(StoredEvent)
        .where(col(StoredEvent.id).in_(claimable.scalar_subquery()))
        .values(
            status=EventStatus.DISPATCHING,
            attempts=col(StoredEvent.attempts) + 1,
            claimed_at=now,
            claimed_by=instance,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        .returning(
            StoredEvent.id, StoredEvent.name, StoredEvent.payload,
            StoredEvent.attempts, StoredEvent.failed_handlers,
        )
    )  # fmt: skip
    async with engine.begin() as connection:
        reason = "the relay stopped or crashed mid-dispatch"
        await fail_spent(connection, StoredEvent, spent, max_attempts, reason=reason, log=logger)
        return sorted((await connection.execute(claim)).all(), key=lambda row: row.id)


async def renew_event(
    engine: AsyncEngine, event_id: int, *, instance: str, lease_seconds: float
) -> bool:
    """Start a claimed event's lease again, right before its handlers run: a batch is worked
    one event after another, and the last must not lose its lease while it waits. False when
    the claim is no longer this relay's (the lease ran out and another relay took it)."""
    statement = (
        update(StoredEvent)
        .where(col(StoredEvent.id) == event_id)
        .where(col(StoredEvent.status) == EventStatus.DISPATCHING)
        .where(col(StoredEvent.claimed_by) == instance)
        .values(lease_until=lease_clock(engine) + timedelta(seconds=lease_seconds))
    )
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount == 1


async def settle_event(
    engine: AsyncEngine,
    event_id: int,
    status: EventStatus,
    *,
    instance: str,
    failed_handlers: str | None = None,
    error: str | None = None,
    dispatched_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Write the outcome of an event this instance claimed, and end its lease. False when
    the claim was no longer ours: the lease ran out and another relay took the event over."""
    outcome = (
        update(StoredEvent)
        .where(col(StoredEvent.id) == event_id)
        .where(col(StoredEvent.status) == EventStatus.DISPATCHING)
        .where(col(StoredEvent.claimed_by) == instance)
        .values(
            status=status,
            failed_handlers=failed_handlers,
            error=error[:500] if error else None,
            dispatched_at=dispatched_at,
            next_attempt_at=next_attempt_at,
            lease_until=None,
        )
    )
    async with engine.begin() as connection:
        return (await connection.execute(outcome)).rowcount == 1


async def count_unfinished(engine: AsyncEngine) -> int:
    """Events not dispatched yet: pending, or claimed and not finished."""
    query = select(func.count()).where(col(StoredEvent.status).in_(UNFINISHED))
    async with engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()
