"""Request and response models: the API's contract, kept apart from the tables."""

from workshop_app.schemas.common import Page
from workshop_app.schemas.event import EventStats, StoredEventRead
from workshop_app.schemas.order import OrderCreate, OrderLineCreate, OrderLineRead, OrderRead
from workshop_app.schemas.outbox import OutboxEmailRead
from workshop_app.schemas.report import ReportRead
from workshop_app.schemas.user import UserCreate, UserRead, UserUpdate

__all__ = [
    "EventStats",
    "OrderCreate",
    "OrderLineCreate",
    "OrderLineRead",
    "OrderRead",
    "OutboxEmailRead",
    "Page",
    "ReportRead",
    "StoredEventRead",
    "UserCreate",
    "UserRead",
    "UserUpdate",
]
