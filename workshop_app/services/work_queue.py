"""Rows of background work, claimed by one worker at a time: outbox emails, order reports.

Each table has the columns of ``ClaimedWork``. A worker claims a ``pending`` row that is due,
not held by a live lease and claimed fewer than ``max_attempts`` times, does the work, and
settles the row (only while the claim is still its own). The claim is one UPDATE, with ``FOR
UPDATE SKIP LOCKED`` on PostgreSQL when it picks several rows: workers in several processes
never take the same row, and the rows of a worker that died return to the others when its
lease ends. ``attempts`` counts claims, so a row whose work kills every worker that takes it
stops at ``max_attempts``: the claim marks it ``failed``, for a person. Leases are written
and compared with one clock (``lease_clock``): on PostgreSQL the database's, not each host's.
"""

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select

from workshop_app.models import OrderReport, OutboxEmail, StoredEvent
from workshop_app.models.base import utc_now

logger = logging.getLogger(__name__)

Work = type[OutboxEmail] | type[OrderReport]


def lease_clock(engine: AsyncEngine) -> Any:
    """The time leases are written and compared with: on PostgreSQL the database's ``now()``,
    since instances on several hosts share it and their own clocks drift apart (a host whose
    clock runs ahead would take live leases); on SQLite, which lives on one host, the host's."""
    return func.now() if engine.dialect.name == "postgresql" else utc_now()


def _claimable(model: Work, now: Any, max_attempts: int) -> ColumnElement[bool]:
    """Pending, due (after a failure, a retry waits), not held by a live lease, and with an
    attempt left."""
    return and_(
        col(model.status) == "pending",
        or_(col(model.next_attempt_at).is_(None), col(model.next_attempt_at) <= now),
        or_(col(model.lease_until).is_(None), col(model.lease_until) < now),
        col(model.attempts) < max_attempts,
    )


def _spent(model: Work, now: Any, max_attempts: int) -> ColumnElement[bool]:
    """Pending with no attempt left and no live lease: the last claim never settled the row
    (its worker stopped or crashed mid-work; a failure it survived is written ``failed``)."""
    return and_(
        col(model.status) == "pending",
        or_(col(model.lease_until).is_(None), col(model.lease_until) < now),
        col(model.attempts) >= max_attempts,
    )


async def fail_spent(
    connection: AsyncConnection,
    model: Work | type[StoredEvent],
    spent: ColumnElement[bool],
    max_attempts: int,
    *,
    reason: str,
    log: logging.Logger,
) -> None:
    """Mark ``failed`` the rows of ``model`` that are ``spent`` (claimed ``max_attempts``
    times, never settled), saying why in ``error`` and in one log line: work for a person."""
    error = f"gave up after {max_attempts} attempts; the last one did not finish ({reason})"
    statement = (
        update(model)
        .where(spent)
        .values(status="failed", error=error, lease_until=None, next_attempt_at=None)
        .returning(col(model.id))
    )
    if failed := sorted((await connection.execute(statement)).scalars()):
        fields = {"table": model.__tablename__, "row_ids": failed}
        message = "Gave up on %s %s: claimed %d times, never finished; left 'failed'"
        log.error(message, model.__tablename__, failed, max_attempts, extra={"fields": fields})


def _claim(model: Work, now: Any, *, instance: str, lease_seconds: float) -> Any:
    return update(model).values(
        claimed_by=instance,
        lease_until=now + timedelta(seconds=lease_seconds),
        attempts=col(model.attempts) + 1,
    )


async def claim(
    engine: AsyncEngine,
    model: Work,
    row_id: int,
    *,
    instance: str,
    lease_seconds: float,
    max_attempts: int,
) -> bool:
    """Claim one row; False if it is not claimable (done, not due, held, or spent)."""
    now = lease_clock(engine)
    statement = _claim(model, now, instance=instance, lease_seconds=lease_seconds).where(
        col(model.id) == row_id, _claimable(model, now, max_attempts)
    )
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount == 1


async def claim_due(
    engine: AsyncEngine,
    model: Work,
    *,
    instance: str,
    lease_seconds: float,
    limit: int,
    max_attempts: int,
) -> list[int]:
    """Claim up to ``limit`` claimable rows, oldest first; their ids. First mark ``failed``
    the rows whose attempts are spent. Looks before it writes: an idle worker, every
    second, must not queue for the database's write lock."""
    now = lease_clock(engine)
    claimable, spent = _claimable(model, now, max_attempts), _spent(model, now, max_attempts)
    async with engine.connect() as connection:
        anything = select(model.id).where(or_(claimable, spent)).limit(1)
        if (await connection.execute(anything)).first() is None:
            return []
    picked = (
        select(model.id)
        .where(claimable)
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
        reason = "the worker stopped or crashed mid-work"
        await fail_spent(connection, model, spent, max_attempts, reason=reason, log=logger)
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
        .values(lease_until=lease_clock(engine) + timedelta(seconds=lease_seconds))
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
