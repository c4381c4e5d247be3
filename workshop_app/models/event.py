"""The ``stored_events`` table: the transactional outbox of domain events.

A service inserts the event in the same transaction as the change it describes, so the
event exists if and only if the change committed: a rolled-back order leaves no
``order.placed`` behind, and a crash after the commit cannot lose one. The relay
(``workshop_app.event_relay``) claims ``pending`` rows for a while (``ClaimedWork``: a lease
another instance may take over only once it expires), hands them to the bus and records
how it went: ``dispatched``, back to ``pending`` with the handlers still owed, or
``failed`` once ``event_max_attempts`` is spent, for a person to look at.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from workshop_app.models.base import ID_TYPE, ClaimedWork, UTCDateTime, status_type, utc_now


class EventStatus(StrEnum):
    PENDING = "pending"
    DISPATCHING = "dispatching"  # claimed by a relay (until its lease ends), handlers running
    DISPATCHED = "dispatched"
    FAILED = "failed"


class StoredEvent(ClaimedWork, table=True):
    __tablename__ = "stored_events"
    # The relay's query: the oldest pending rows first.
    __table_args__ = (sa.Index("ix_stored_events_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    name: str = Field(max_length=100)
    payload: str  # the event's JSON, event_id included
    status: EventStatus = Field(
        default=EventStatus.PENDING, sa_type=status_type(EventStatus, "ck_stored_events_status")
    )
    # JSON list of the handlers that failed last time: a retry runs only those.
    failed_handlers: str | None = None
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
