"""Work that runs after the response: send an outbox email, build an order report.

Each function does the work of one row that its caller (the worker, ``worker.py``) has
claimed, and records how it ended on the row: ``sent``/``ready``, or ``pending`` again with
the error and a time for the next attempt (doubling each time), or ``failed`` once the
attempts are spent, for a person to act on. The work itself (the send, the CSV) is cut off
after ``timeout_seconds``, less than the lease, and that counts as a failure: a hung provider
must not hold the worker's pass, nor outlive the claim. A failure is logged with the request
id of the request that queued the work. A database error (reading or settling the row) is
raised to the worker, which logs it: the row waits for the worker's loop.

Sending is idempotent: the email's id travels as the message's idempotency key, so a mail
provider drops the repeat of a send whose outcome a crash lost. Each function opens its OWN
session: the request's session was committed and closed before the response went out.
"""

import asyncio
import csv
import io
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.logging_config import describe_error, log_failure
from workshop_app.mail import Mailer, Message
from workshop_app.models import (
    EmailStatus,
    Order,
    OrderLine,
    OrderReport,
    OutboxEmail,
    ReportStatus,
)
from workshop_app.models.base import utc_now
from workshop_app.services.work_queue import Work, settle

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Claim:
    """Who holds the rows (one name per claim: the worker's and a number), how long a row's
    work may take, and how a failure is retried."""

    instance: str
    max_attempts: int = 5
    backoff_seconds: float = 1.0  # before the second attempt; doubling after each failure
    timeout_seconds: float = 15.0  # less than the lease: the work ends before the claim does


async def send_email(engine: AsyncEngine, mailer: Mailer, email_id: int, *, claim: Claim) -> bool:
    """Send a claimed outbox email and record the outcome; True if it was sent."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        email = await session.get(OutboxEmail, email_id)
    if email is None:
        return False  # deleted with its user
    message = Message(
        to=email.to,
        subject=email.subject,
        body=email.body,
        idempotency_key=f"outbox-email-{email_id}",
    )
    try:
        await _within(claim.timeout_seconds, mailer.send(message))
    except Exception as exc:
        await _failed(engine, OutboxEmail, email_id, email.attempts, exc, claim)
        return False
    return await settle(
        engine,
        OutboxEmail,
        email_id,
        instance=claim.instance,
        status=EmailStatus.SENT,
        sent_at=utc_now(),
        error=None,
    )


async def build_order_report(engine: AsyncEngine, report_id: int, *, claim: Claim) -> bool:
    """Fill a claimed report with its CSV and mark it ``ready``; True if it is."""
    failure: Exception | None = None
    async with AsyncSession(engine, expire_on_commit=False) as session:
        report = await session.get(OrderReport, report_id)
        if report is None:
            return False
        try:
            text = await _within(claim.timeout_seconds, orders_csv(session, report.user_id))
        except Exception as exc:
            failure = exc
    if failure is not None:  # outside the session: its connection is back in the pool
        await _failed(engine, OrderReport, report_id, report.attempts, failure, claim)
        return False
    return await settle(
        engine,
        OrderReport,
        report_id,
        instance=claim.instance,
        status=ReportStatus.READY,
        csv=text,
        error=None,
    )


async def _failed(
    engine: AsyncEngine, model: Work, row_id: int, attempt: int, exc: Exception, claim: Claim
) -> None:
    """Record the failure: ``pending`` again after a backoff, or ``failed`` for good."""
    log_failure(logger, exc, "Work on %s %s failed", model.__tablename__, row_id, row_id=row_id)
    statuses = EmailStatus if model is OutboxEmail else ReportStatus
    gave_up = attempt >= claim.max_attempts
    backoff = timedelta(seconds=claim.backoff_seconds * 2 ** (attempt - 1))
    await settle(
        engine,
        model,
        row_id,
        instance=claim.instance,
        status=statuses.FAILED if gave_up else statuses.PENDING,
        error=describe_error(exc),
        next_attempt_at=None if gave_up else utc_now() + backoff,
    )


async def _within(seconds: float, work: Awaitable[T]) -> T:
    """Await ``work`` for at most ``seconds``; then raise a ``TimeoutError`` saying so."""
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            return await work
    except TimeoutError:
        if not limit.expired():
            raise  # the work's own timeout, with its own message
        raise TimeoutError(f"not finished within {seconds:g} s") from None


async def orders_csv(session: AsyncSession, user_id: int) -> str:
    """One line per order of the user, oldest first: id, status, line count, total."""
    query = (
        select(Order.id, Order.status, func.count(col(OrderLine.id)), Order.total_cents)
        .join(OrderLine, col(OrderLine.order_id) == col(Order.id))
        .where(Order.user_id == user_id)
        .group_by(col(Order.id))
        .order_by(col(Order.id))
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["order_id", "status", "lines", "total_cents"])
    for order_id, status, lines, total_cents in (await session.exec(query)).all():
        writer.writerow([order_id, str(status), lines, total_cents])
    return buffer.getvalue()
