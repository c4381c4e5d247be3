"""Rows of background work, claimed by one worker at a time: outbox emails, order reports.

Each table has the columns of ``ClaimedWork``. A worker claims a ``pending`` row that is due
and not held by a live lease, does the work, and settles the row (only while the claim is
still its own). The claim is one UPDATE, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL when
it picks several rows: workers in several processes never take the same row, and the rows
of a worker that died return to the others when its lease ends.
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from workshop_app.models import OrderReport, OutboxEmail
from workshop_app.models.base import utc_now

Work = type[OutboxEmail] | type[OrderReport]


def _claimable(model: Work, now: Any) -> ColumnElement[bool]:
    """Pending, due (after a failure, a retry waits), and not held by a live lease."""
    return and_(
        col(model.status) == "pending",
        or_(col(model.next_attempt_at).is_(None), col(model.next_attempt_at) <= now),
        or_(col(model.lease_until).is_(None), col(model.lease_until) < now),
    )


def _claim(model: Work, now: Any, *, instance: str, lease_seconds: float) -> Any:
    return update(model).values(
        claimed_by=instance,
        lease_until=now + timedelta(seconds=lease_seconds),
        attempts=col(model.attempts) + 1,
    )


async def claim(
    engine: AsyncEngine, model: Work, row_id: int, *, instance: str, lease_seconds: float
) -> bool:
    """Claim one row; False if it is not claimable (done, not due, or held)."""
    now = utc_now()
    statement = _claim(model, now, instance=instance, lease_seconds=lease_seconds).where(
        col(model.id) == row_id, _claimable(model, now)
    )
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount == 1


async def claim_due(
    engine: AsyncEngine, model: Work, *, instance: str, lease_seconds: float, limit: int
) -> list[int]:
    """Claim up to ``limit`` claimable rows, oldest first; their ids. Looks before it
    writes: an idle worker, every second, must not queue for the database's write lock."""
    now = utc_now()
    async with engine.connect() as connection:
        anything = select(model.id).where(_claimable(model, now)).limit(1)
        if (await connection.execute(anything)).first() is None:
            return []
    picked = (
        select(model.id)
        .where(_claimable(model, now))
        .order_by(col(model.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        _claim(model, now, instance=instance, lease_seconds=lease_seconds)
        .where(col(model.id).in_(picked.scalar_subquery()))
        .returning(col(model.id))
    )
    async with engine.begin() as connection:
        return sorted((await connection.execute(statement)).scalars())


async def renew(
    engine: AsyncEngine, model: Work, row_id: int, *, instance: str, lease_seconds: float
) -> bool:
    """Start a claimed row's lease again, right before its work starts: the rows of a batch
    are worked one after another, and the last must not lose its lease while it waits. False
    when the claim is no longer this worker's (the lease ran out and another took the row)."""
    statement = (
        update(model)
        .where(col(model.id) == row_id, col(model.claimed_by) == instance)
        .where(col(model.lease_until).is_not(None))
        .values(lease_until=utc_now() + timedelta(seconds=lease_seconds))
    )
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount == 1


async def settle(
    engine: AsyncEngine, model: Work, row_id: int, *, instance: str, **values: Any
) -> bool:
    """Write the outcome of a row this worker holds, and end its lease. False when the lease
    ran out and another worker took the row over: its outcome wins."""
    statement = (
        update(model)
        .where(col(model.id) == row_id, col(model.claimed_by) == instance)
        .where(col(model.lease_until).is_not(None))
        .values(**values, lease_until=None)
    )
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount == 1
