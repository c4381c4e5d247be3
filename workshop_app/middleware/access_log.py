"""Exactly one structured access-log line per request, even when the app crashes.

Only method, path, status, duration, request id and client host are logged:
query strings, headers and bodies can carry secrets (tokens, API keys), so
they never reach the log.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workshop_app.middleware.request_id import get_request_id


class AccessLogMiddleware:
    """Time the request and log it at INFO with ``extra={"fields": {...}}``."""

    def __init__(self, app: ASGIApp, logger_name: str = "workshop_app.access") -> None:
        self.app = app
        self.logger = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except Exception:
            status = 500  # the request failed, whatever was sent before the crash
            raise
        finally:
            self._log(scope, status, time.perf_counter() - start)

    def _log(self, scope: Scope, status: int, elapsed: float) -> None:
        client = scope.get("client")
        fields = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "request_id": get_request_id(),
            "client": client[0] if client else None,
        }
        self.logger.info(
            "%s %s %s", fields["method"], fields["path"], status, extra={"fields": fields}
        )
