"""The ``outbox_emails`` table: every email the app owes someone, written before it is sent.

The row is inserted in the request's own transaction, as ``pending``, so a crash, a
restart or a failing mail server after the response can lose the sending but never the
email: the row says what is still owed. A worker claims it (``ClaimedWork``), sends it,
and marks it ``sent``; a failure leaves it ``pending`` until its next attempt, and
``failed`` with the error once the attempts are spent, for a person to act on.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from workshop_app.models.base import ID_TYPE, ClaimedWork, UTCDateTime, status_type, utc_now


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxEmail(ClaimedWork, table=True):
    __tablename__ = "outbox_emails"
    # The worker's query, every second: the oldest pending rows first.
    __table_args__ = (sa.Index("ix_outbox_emails_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True, sa_type=ID_TYPE)
    to: str = Field(max_length=320)
    subject: str = Field(max_length=200)
    body: str
    status: EmailStatus = Field(
        default=EmailStatus.PENDING,
        sa_type=status_type(EmailStatus, "ck_outbox_emails_status"),
    )
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
