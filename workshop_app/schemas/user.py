"""What the API accepts and returns for users: separate from the ``users`` table.

A request model lists what a client may send (never ``id`` or ``password_hash``); a
response model lists what a client may see. Used as ``response_model``, ``UserRead``
filters a ``User`` row down to its fields, so an internal column cannot leak.
"""

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from workshop_app.schemas.common import JsonBool

# An email address as the email-validator library reads it (RFC 5322 and its successors,
# international domains included): a bad one is refused with a sentence a person can read,
# and OpenAPI documents the field as `format: email`. Syntax only, no DNS lookup: whether
# the mailbox exists is for a confirmation email to find out.
Email = Annotated[EmailStr, StringConstraints(strip_whitespace=True)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PASSWORD_LENGTH = (8, 128)


def _password_length(password: SecretStr) -> SecretStr:
    """Pydantic counts a SecretStr's length in "items"; a person reads characters."""
    shortest, longest = PASSWORD_LENGTH
    length = len(password.get_secret_value())
    if length < shortest:
        raise PydanticCustomError(
            "string_too_short",
            "String should have at least {min_length} characters",
            {"min_length": shortest},
        )
    if length > longest:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": longest},
        )
    return password


# SecretStr: shows as '**********' in reprs, logs and tracebacks. The lengths are checked
# above and documented here, so OpenAPI still tells clients the rule.
Password = Annotated[
    SecretStr,
    AfterValidator(_password_length),
    Field(json_schema_extra={"minLength": PASSWORD_LENGTH[0], "maxLength": PASSWORD_LENGTH[1]}),
]


class UserCreate(BaseModel):
    email: Email
    full_name: FullName
    password: Password


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
