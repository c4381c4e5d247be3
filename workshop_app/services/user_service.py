"""Users: unique emails, hashed passwords, and the list with its filters.

Emails are compared lower-cased: ``Ada@Example.com`` and ``ada@example.com`` reach the
same mailbox, so they are the same account. The password is stored only as a salted
scrypt hash, computed in a worker thread because hashing is slow on purpose and would
otherwise stall every request on the event loop.
"""

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.events import UserRegistered
from workshop_app.exceptions import ConflictError, NotFoundError
from workshop_app.models import User
from workshop_app.schemas import UserCreate, UserUpdate
from workshop_app.services.event_store import record_event

# scrypt cost: 2**14 x 8 x 1 needs 16 MiB and tens of milliseconds per hash, which is the
# point: a stolen table costs an attacker that much for every guess.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LENGTH = 2**14, 8, 1, 32


class EmailTakenError(ConflictError):
    code = "EMAIL_TAKEN"
    default_message = "A user with this email already exists."


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash``: the parameters travel with the hash, so they can grow."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` produced ``stored``; False for any other value, malformed included."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:  # not six fields, not numbers, not base64, parameters scrypt refuses
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_LENGTH)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, data: UserCreate) -> User:
        """Refuse a taken email (409 ``EMAIL_TAKEN``), hash the password, add the user,
        and record ``UserRegistered`` in the same transaction."""
        email = data.email.lower()
        if await self._find_by_email(email) is not None:
            raise EmailTakenError(f"A user with the email {email} already exists.")
        password_hash = await asyncio.to_thread(hash_password, data.password.get_secret_value())
        user = User(email=email, full_name=data.full_name, password_hash=password_hash)
        self.session.add(user)
        try:
            await self.session.flush()  # assigns the id; the UNIQUE index has the last word
        except IntegrityError as exc:
            # Two requests raced past the check above: the database refused the second.
            await self.session.rollback()
            raise EmailTakenError(f"A user with the email {email} already exists.") from exc
        await record_event(self.session, UserRegistered(user_id=user.id, email=user.email))
        return user

    async def get(self, user_id: int) -> User:
        user = await self.session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        return user

    async def list(
        self,
        *,
        limit: int,
        offset: int,
        email_contains: str | None = None,
        is_active: bool | None = None,
    ) -> tuple[Sequence[User], int]:
        """One page of users in id order, and how many match in all."""
        conditions = []
        if email_contains:
            # autoescape: a client's "%" or "_" is a character to find, not a wildcard.
            conditions.append(col(User.email).contains(email_contains.lower(), autoescape=True))
        if is_active is not None:
            conditions.append(col(User.is_active) == is_active)
        total = (
            await self.session.exec(select(func.count()).select_from(User).where(*conditions))
        ).one()
        query = select(User).where(*conditions).order_by(col(User.id)).limit(limit).offset(offset)
        return (await self.session.exec(query)).all(), total

    async def update(self, user_id: int, data: UserUpdate) -> User:
        """Change only the fields given a value: absent or ``null`` leaves a field as it is
        (both columns are required, so ``null`` cannot mean "clear it")."""
        user = await self.get(user_id)
        user.sqlmodel_update(data.model_dump(exclude_unset=True, exclude_none=True))
        self.session.add(user)
        await self.session.flush()
        return user

    async def delete(self, user_id: int) -> None:
        """Delete the user; the database deletes their orders (ON DELETE CASCADE)."""
        user = await self.get(user_id)
        await self.session.delete(user)
        await self.session.flush()

    async def _find_by_email(self, email: str) -> User | None:
        return (await self.session.exec(select(User).where(User.email == email))).first()
