"""What the API shows of the stored events and of the in-memory statistics."""

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from workshop_app.models.event import EventStatus


def _from_json_text(value: object) -> object:
    """The table keeps JSON as text; the API shows it as JSON (``None`` as ``[]``)."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


class StoredEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    payload: Annotated[dict[str, Any], BeforeValidator(_from_json_text)]
    status: EventStatus
    attempts: int
    failed_handlers: Annotated[list[str], BeforeValidator(_from_json_text)]
    error: str | None
    created_at: datetime
    dispatched_at: datetime | None


class EventStats(BaseModel):
    handled: dict[str, int] = Field(
        description="Events handled since the app started, per event name (reset on restart)."
    )
