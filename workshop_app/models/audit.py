"""The ``audit_entries`` table, the audit log: one line per domain event, written by
the audit subscriber.

Delivery is at-least-once (a relay that crashes after the handlers ran dispatches the
event again), so ``event_id`` is UNIQUE: the second delivery finds its line already there
and the log still says each thing happened once.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from workshop_app.models.base import ID_TYPE, UTCDateTime, utc_now


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    event_id: str = Field(max_length=36, unique=True)
    event_name: str = Field(max_length=100)
    summary: str = Field(max_length=500)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
