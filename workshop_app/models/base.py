"""Column types shared by the tables: UTC timestamps and status columns.

SQLite has no timezone-aware timestamp type: a datetime written with ``+00:00`` comes
back naive. ``UTCDateTime`` stores UTC and hands back aware UTC datetimes on every
database, so an API never answers ``...+00:00`` after a POST and a bare time after a GET.
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime:
    """Default factory for ``created_at`` columns."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; UTC text on SQLite; aware on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Refusing a naive datetime: pass an aware one, e.g. in UTC.")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def status_type(statuses: type[StrEnum], constraint: str) -> Enum:
    """A status column: a VARCHAR with a CHECK of the allowed values.

    Not a PostgreSQL ENUM type, which needs migrations of its own to gain a value; and it
    stores the values ("paid"), not the member names ("PAID").
    """
    return Enum(
        statuses,
        name=constraint,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )
