"""The business rules: what the app allows, whoever asks (a router, a script, a test).

A service takes an ``AsyncSession``, works with the table models, and raises the domain
errors of ``workshop_app.exceptions``. It imports nothing from FastAPI or Starlette
(``tests/test_layering.py`` checks it), so the same rules run behind an endpoint, in a
command-line tool or in a cron job. It flushes but never commits: whoever opened the
session owns the transaction (the request's session dependency, or the script).
"""

from workshop_app.services.event_store import list_events, record_event
from workshop_app.services.order_service import (
    IllegalTransitionError,
    OrderDetails,
    OrderDraft,
    OrderRule,
    OrderService,
    OrderTooLargeError,
)
from workshop_app.services.outbox_service import OutboxService
from workshop_app.services.report_service import ReportService
from workshop_app.services.user_service import EmailTakenError, UserService

__all__ = [
    "EmailTakenError",
    "IllegalTransitionError",
    "OrderDetails",
    "OrderDraft",
    "OrderRule",
    "OrderService",
    "OrderTooLargeError",
    "OutboxService",
    "ReportService",
    "UserService",
    "list_events",
    "record_event",
]
