"""The table models. Importing this package registers every table on ``SQLModel.metadata``.

Tables describe storage; the API's request and response shapes live in
``workshop_app.schemas``, so a column added here never reaches a client by accident.
"""

from workshop_app.models.audit import AuditEntry
from workshop_app.models.event import EventStatus, StoredEvent
from workshop_app.models.order import Order, OrderLine, OrderStatus
from workshop_app.models.outbox import EmailStatus, OutboxEmail
from workshop_app.models.report import OrderReport, ReportStatus
from workshop_app.models.user import User

__all__ = [
    "AuditEntry",
    "EmailStatus",
    "EventStatus",
    "Order",
    "OrderLine",
    "OrderReport",
    "OrderStatus",
    "OutboxEmail",
    "ReportStatus",
    "StoredEvent",
    "User",
]
