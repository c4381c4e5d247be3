"""Work that runs after the response: send an outbox email, build an order report.

Each task opens its OWN session from the engine: the request's session was committed
and closed before the response went out. Each task records how it ended on its row
(``sent``/``ready`` or ``failed`` with the error) and logs a failure with the request id
of the request that scheduled it, instead of raising: an exception would stop the tasks
queued after it, and nobody is left to answer.
"""

import csv
import io
import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
from workshop_app.request_context import get_request_id

logger = logging.getLogger(__name__)


async def send_email(engine: AsyncEngine, mailer: Mailer, email_id: int) -> None:
    """Send one ``pending`` outbox email; mark it ``sent``, or ``failed`` with the error."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        email = await session.get(OutboxEmail, email_id)
        if email is None or email.status != EmailStatus.PENDING:
            return  # deleted with its user, or already handled
        try:
            await mailer.send(Message(to=email.to, subject=email.subject, body=email.body))
        except Exception as exc:
            email.status, email.error = EmailStatus.FAILED, _describe(exc)
            _log_failure("Sending outbox email", email_id, exc)
        else:
            email.status, email.sent_at = EmailStatus.SENT, utc_now()
        session.add(email)
        await session.commit()


async def build_order_report(engine: AsyncEngine, report_id: int) -> None:
    """Fill a ``pending`` report with its CSV and mark it ``ready``, or ``failed``."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        report = await session.get(OrderReport, report_id)
        if report is None or report.status != ReportStatus.PENDING:
            return
        try:
            text = await orders_csv(session, report.user_id)
        except Exception as exc:
            await session.rollback()  # a failed query may leave the transaction unusable
            report.status, report.error = ReportStatus.FAILED, _describe(exc)
            _log_failure("Building order report", report_id, exc)
        else:
            report.status, report.csv = ReportStatus.READY, text
        session.add(report)
        await session.commit()


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


def _describe(exc: Exception) -> str:
    """What is stored in ``error``: the type and the first line, bounded to the column."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:500]


def _log_failure(action: str, row_id: int, exc: Exception) -> None:
    request_id = get_request_id()  # the scheduling request's: tasks run in its context
    logger.error(
        "%s %s failed (request_id=%s)",
        action,
        row_id,
        request_id,
        exc_info=exc,
        extra={"fields": {"request_id": request_id, "row_id": row_id}},
    )
