"""Column types shared by the tables: UTC timestamps and status columns; constraint names.

SQLite has no timezone-aware timestamp type: a datetime written with ``+00:00`` comes
back naive. ``UTCDateTime`` stores UTC and hands back aware UTC datetimes on every
database, so an API never answers ``...+00:00`` after a POST and a bare time after a GET.

Ids are 64-bit on every database, and every constraint gets a predictable name, so a
later migration can drop or change it by name (SQLite's batch mode needs the name).
``ClaimedWork`` holds the columns every row of background work needs once several
instances share the work (notebook 13).
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Enum, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Set before any table is declared: every table module imports this one first. CHECK
# constraints are named by hand (ck_<table>_<what>), so they need no rule here.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# PostgreSQL's SERIAL is 32-bit: a busy table runs out at 2**31 rows, and an id the API
# accepts (up to 2**63 - 1) fails to convert instead of being "not found". SQLite numbers
# rows only through a column declared exactly INTEGER PRIMARY KEY (64-bit already).
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


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


class ClaimedWork(SQLModel):
    """The columns of a row that workers claim before they do its work: who holds it and
    until when (a lease: a claim that ends by itself when its instance dies), how often it
    was tried, and when it may be tried again (backoff after a failure)."""

    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
