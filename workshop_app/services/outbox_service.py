"""The outbox: emails the app owes, recorded in the caller's transaction before any sending.

Queuing an email is a database write, not a network call: it commits or rolls back with
the user it belongs to, so there is never a welcome email for a user who was not created,
nor a created user whose email was forgotten. Sending happens later (``workshop_app.tasks``).
"""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.exceptions import NotFoundError
from workshop_app.models import OutboxEmail, User


class OutboxService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def queue_welcome_email(self, user: User) -> OutboxEmail:
        """Add a ``pending`` welcome email for ``user``; flushed, so it has an id."""
        email = OutboxEmail(
            user_id=user.id,
            to=user.email,
            subject="Welcome to the Orders API",
            body=f"Hello {user.full_name}, your account is ready.",
        )
        self.session.add(email)
        await self.session.flush()
        return email

    async def queue_order_cancelled_email(self, user: User, order_id: int) -> OutboxEmail:
        """Add a ``pending`` email telling ``user`` their order was cancelled, unless one is
        already queued: an order is cancelled once, so a redelivered event sends nothing new."""
        subject = f"Your order {order_id} was cancelled"
        query = select(OutboxEmail).where(OutboxEmail.user_id == user.id)
        existing = (await self.session.exec(query.where(OutboxEmail.subject == subject))).first()
        if existing is not None:
            return existing
        email = OutboxEmail(
            user_id=user.id,
            to=user.email,
            subject=subject,
            body=f"Hello {user.full_name}, your order {order_id} is cancelled.",
        )
        self.session.add(email)
        await self.session.flush()
        return email

    async def list_for_user(self, user_id: int) -> Sequence[OutboxEmail]:
        """The user's emails, oldest first; 404 for a user who does not exist."""
        if await self.session.get(User, user_id) is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        query = select(OutboxEmail).where(OutboxEmail.user_id == user_id)
        return (await self.session.exec(query.order_by(col(OutboxEmail.id)))).all()
