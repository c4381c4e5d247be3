"""What the API accepts and returns for users: separate from the ``users`` table.

A request model lists what a client may send (never ``id`` or ``password_hash``); a
response model lists what a client may see. Used as ``response_model``, ``UserRead``
filters a ``User`` row down to its fields, so an internal column cannot leak.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from workshop_app.schemas.common import JsonBool

# Shape only; whether the mailbox exists is for a confirmation email to find out.
# The characters are listed rather than written `\s`: clients validate the documented
# pattern with other regex engines, which disagree about U+0085 and U+FEFF.
EMAIL_PATTERN = r"^[^@\s\u0085\ufeff]+@[^@\s\u0085\ufeff]+\.[^@\s\u0085\ufeff]+$"
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=EMAIL_PATTERN),
]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserCreate(BaseModel):
    email: Email
    full_name: FullName
    # SecretStr: shows as '**********' in reprs, logs and tracebacks.
    password: SecretStr = Field(min_length=8, max_length=128)


class UserUpdate(BaseModel):
    """PATCH body: only the fields the client sent are changed (``exclude_unset``)."""

    full_name: FullName | None = None
    is_active: JsonBool | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime
