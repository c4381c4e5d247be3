"""What the API shows of a report: its status, and the CSV once it is ``ready``."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from workshop_app.models.report import ReportStatus


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: ReportStatus
    csv: str | None
    error: str | None
    created_at: datetime
