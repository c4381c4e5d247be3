"""The ``users`` table: who places orders.

``password_hash`` is internal: it is stored here and never leaves the API, because no
response schema (``workshop_app.schemas``) has such a field.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from workshop_app.models.base import ID_TYPE, UTCDateTime, utc_now


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    # unique=True creates a UNIQUE index: the database refuses a second row with the
    # same email even when two requests race past an "is it taken?" check.
    email: str = Field(max_length=320, unique=True, index=True)
    full_name: str = Field(max_length=200)
    is_active: bool = True
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
