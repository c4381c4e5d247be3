"""One JSON object per log line, so log collectors can index fields, not parse prose.

Structured fields travel on the record as ``extra={"fields": {...}}``; the
formatter merges them into the line. Everything else is standard ``logging``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from workshop_app.request_context import get_request_id

_HANDLER_NAME = "workshop_app.json"


def printable(text: str) -> str:
    """Escape control characters, so a hostile URL cannot start a forged log line.

    Use it for client-controlled text in a log *message*; JSON fields are already safe.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def describe_error(exc: BaseException) -> str:
    """The type and the first line of the message, bounded: what a row or an API shows."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:200]


def log_failure(
    logger: logging.Logger, exc: BaseException, message: str, *args: object, **fields: object
) -> None:
    """Log ``exc`` with its traceback, ``fields`` and the id of the request that caused it
    (``None`` outside one): tasks and event handlers run in their request's context."""
    request_id = get_request_id()
    logger.error(
        message + " (request_id=%s)",
        *args,
        request_id,
        exc_info=exc,
        extra={"fields": {**fields, "request_id": request_id}},
    )


class JsonFormatter(logging.Formatter):
    """Render a record as a single-line JSON object (level, logger, message, fields)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send ``workshop_app.*`` logs at ``level`` and above as JSON to ``stream`` (stderr).

    The level is set on our handler, not on the logger: the logger lets every
    record through, so a test or notebook can attach its own handler at another
    level without fighting this one. Idempotent: calling it again replaces its
    own handler instead of adding a second one (duplicate lines). Records still
    propagate, so pytest's caplog and a root configuration keep working.
    """
    logger = logging.getLogger("workshop_app")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level.upper() if isinstance(level, str) else level)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
