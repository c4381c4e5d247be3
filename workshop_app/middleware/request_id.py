"""Give every request an id that logs, error bodies and the client can quote.

Pure ASGI (not BaseHTTPMiddleware) so the contextvar set here is visible to the
endpoint, to the inner middleware and to the 500 handler: one id, end to end.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Explicit ASCII ranges and a length cap: an incoming id ends up in log lines and
# response headers, so CR/LF, control characters and megabyte strings are refused.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def get_request_id() -> str | None:
    """The current request's id, or None outside a request."""
    return request_id_var.get()


def is_valid_request_id(value: str | None) -> bool:
    """True if a client-supplied id is safe to keep, log and echo."""
    return value is not None and _VALID_REQUEST_ID.fullmatch(value) is not None


class RequestIdMiddleware:
    """Accept a safe incoming request id or make one; expose it and echo it back."""

    def __init__(self, app: ASGIApp, header_name: str = "X-Request-ID") -> None:
        self.app = app
        self.header_name = header_name
        self._header_key = header_name.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = self._incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[self.header_name] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # Keep the id set: Starlette's ServerErrorMiddleware sits outside every user
            # middleware and builds the 500 response only after the exception has left us.
            raise
        else:
            request_id_var.reset(token)

    def _incoming_id(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == self._header_key:
                candidate = value.decode("latin-1")
                return candidate if is_valid_request_id(candidate) else None
        return None
