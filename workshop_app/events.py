"""Domain events: facts the business rules record, for other parts of the app to react to.

An event is named in the past tense (``OrderCancelled``): it already happened and cannot be
refused, only reacted to. Events are frozen pydantic models, so the payload stored in the
``stored_events`` table is their JSON and the relay rebuilds the same event from it;
``event_id`` travels with the event, which lets a handler tell a redelivery from a new event.
No FastAPI, no database: services create events, the bus hands them to subscribers.
"""

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from workshop_app.models.base import utc_now


class DomainEvent(BaseModel):
    """Base of every event; a subclass sets ``name``, the key stored with its payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utc_now)


class UserRegistered(DomainEvent):
    name: ClassVar[str] = "user.registered"
    user_id: int
    email: str


class OrderPlaced(DomainEvent):
    name: ClassVar[str] = "order.placed"
    order_id: int
    user_id: int
    total_cents: int


class OrderCancelled(DomainEvent):
    name: ClassVar[str] = "order.cancelled"
    order_id: int
    user_id: int


# Stored rows name their event; a renamed class keeps its `name`, so old rows still load.
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    event_type.name: event_type for event_type in (UserRegistered, OrderPlaced, OrderCancelled)
}


def load_event(name: str, payload: str) -> DomainEvent:
    """Rebuild a stored event from its name and JSON payload; ``LookupError`` for a
    name no class claims (a row written by a newer version of the app, say)."""
    try:
        event_type = EVENT_TYPES[name]
    except KeyError:
        raise LookupError(f"No event class is named {name!r}.") from None
    return event_type.model_validate_json(payload)
