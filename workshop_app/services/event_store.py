"""Record domain events in the caller's transaction, and list them for the API.

``record_event`` is how a service announces what happened: it adds a ``pending`` row to
``stored_events`` on the same session as the change, and flushes but never commits. The
event therefore commits or rolls back with the change; nobody is told before the commit.
The relay dispatches the row afterwards (``workshop_app.event_relay``).
"""

from collections.abc import Sequence

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.events import DomainEvent
from workshop_app.models import EventStatus, StoredEvent


async def record_event(session: AsyncSession, event: DomainEvent) -> StoredEvent:
    """Add ``event`` as a ``pending`` row of the session's transaction; flushed, so it has an id."""
    row = StoredEvent(name=event.name, payload=event.model_dump_json())
    session.add(row)
    await session.flush()
    return row


async def list_events(
    session: AsyncSession, *, limit: int, offset: int, status: EventStatus | None = None
) -> tuple[Sequence[StoredEvent], int]:
    """One page of stored events in the order they were recorded, and how many match."""
    conditions = [col(StoredEvent.status) == status] if status is not None else []
    count = select(func.count()).select_from(StoredEvent).where(*conditions)
    total = (await session.exec(count)).one()
    query = select(StoredEvent).where(*conditions).order_by(col(StoredEvent.id))
    return (await session.exec(query.limit(limit).offset(offset))).all(), total
