"""The ``order_reports`` table: a CSV of a user's orders, built after the response.

The request inserts the row as ``pending`` and answers 202 with its URL; a worker claims
it (``ClaimedWork``), fills ``csv`` and marks it ``ready``, or, once its attempts are spent,
records the error as ``failed``. A client polls the row, so it always learns how the work
ended, even when the process that took it crashed.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from workshop_app.models.base import ID_TYPE, ClaimedWork, UTCDateTime, status_type, utc_now


class ReportStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class OrderReport(ClaimedWork, table=True):
    __tablename__ = "order_reports"
    # The worker's query, every second: the oldest pending rows first.
    __table_args__ = (sa.Index("ix_order_reports_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True, sa_type=ID_TYPE)
    status: ReportStatus = Field(
        default=ReportStatus.PENDING,
        sa_type=status_type(ReportStatus, "ck_order_reports_status"),
    )
    csv: str | None = None
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
