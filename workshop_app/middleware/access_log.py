"""Exactly one structured access-log line per request, even when the app crashes.

Only method, path, status, duration, request id and client host are logged:
query strings, headers and bodies can carry secrets (tokens, API keys), so
they never reach the log.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workshop_app.logging_config import printable
from workshop_app.request_context import get_request_id


class AccessLogMiddleware:
    """Log each request at INFO with ``extra={"fields": {...}}`` once the app is done with it.

    The duration runs to the last byte of the response, like a web server's request
    time: background tasks that run after the response do not inflate it.
    """

    def __init__(self, app: ASGIApp, logger_name: str = "workshop_app.access") -> None:
        self.app = app
        self.logger = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500
        start = time.perf_counter()
        end: float | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status, end
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                end = time.perf_counter()  # last byte out; background tasks run after this

        try:
            await self.app(scope, receive, send_with_status)
        except Exception:
            if end is None:  # the client got no complete response: that is a 500
                status = 500
            raise
        finally:
            self._log(scope, status, (end or time.perf_counter()) - start)

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
            "%s %s %s", fields["method"], printable(scope["path"]), status, extra={"fields": fields}
        )
