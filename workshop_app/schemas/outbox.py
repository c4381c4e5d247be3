"""What the API shows of the outbox: the email and where its sending stands."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from workshop_app.models.outbox import EmailStatus


class OutboxEmailRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    to: str
    subject: str
    status: EmailStatus
    error: str | None
    created_at: datetime
    sent_at: datetime | None
