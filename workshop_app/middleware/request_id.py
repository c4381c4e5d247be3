"""Give every request an id that logs, error bodies and the client can quote.

Pure ASGI (not BaseHTTPMiddleware) so the context variable set here is seen by the inner
middleware, the endpoint and the error handlers, the 500 handler included: one id, end
to end. ``async def`` code sees it directly; a ``def`` endpoint or dependency, which
FastAPI runs in a worker thread, gets a copy of the context and sees it too.
"""

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workshop_app.request_context import REQUEST_ID_HEADER, is_valid_request_id, request_id_var

_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")


class RequestIdMiddleware:
    """Accept a safe incoming request id or make one; expose it and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
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


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            candidate = value.decode("latin-1")
            return candidate if is_valid_request_id(candidate) else None
    return None
