"""The app's three middleware rewritten on ``BaseHTTPMiddleware``, for comparison only.

Each class does what its pure ASGI twin in ``workshop_app.middleware`` does, with
the same helpers (request-id validation, the token-bucket store, the error
envelope, the access-log fields), so a difference in time is the cost of the
``dispatch``/``call_next`` machinery: a new task, a memory channel, and a
``Response`` object rebuilt per layer per request. They read ``scope`` directly
where the pure versions do, instead of building ``request.url``, so no extra work
is charged to them that a careful author would avoid.

Two behaviours differ by construction. ``call_next`` returns when the response
*starts*, so the access log wraps the body iterator to stop its clock at the last
byte, as a careful author would. A contextvar set by the endpoint is invisible
here (``call_next`` runs the endpoint in a task of its own, on a copy of the context);
none of the fields below needs one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from workshop_app.error_handlers import app_error_response
from workshop_app.exceptions import RateLimitedError
from workshop_app.middleware.rate_limit import InMemoryRateLimitStore, _whole_seconds
from workshop_app.request_context import (
    REQUEST_ID_HEADER,
    get_request_id,
    is_valid_request_id,
    request_id_var,
)


class BaseRequestIdMiddleware(BaseHTTPMiddleware):
    """Twin of ``RequestIdMiddleware``: accept a safe id or make one, expose it, echo it."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        request_id = incoming if is_valid_request_id(incoming) else uuid.uuid4().hex
        request.scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        # On an exception the id stays set, as in the pure version, for the 500 handler.
        response = await call_next(request)
        request_id_var.reset(token)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response


class BaseAccessLogMiddleware(BaseHTTPMiddleware):
    """Twin of ``AccessLogMiddleware``: one line with the same fields, timed to the last byte."""

    def __init__(self, app: ASGIApp, logger_name: str = "workshop_app.access") -> None:
        super().__init__(app)
        self.logger = logging.getLogger(logger_name)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            self._log(request, 500, time.perf_counter() - start)
            raise
        body = response.body_iterator  # type: ignore[attr-defined]

        async def body_then_log() -> AsyncIterator[bytes | str | memoryview]:
            end: float | None = None
            status = 500
            try:
                async for chunk in body:
                    yield chunk
                end = time.perf_counter()
                status = response.status_code
            finally:
                self._log(request, status, (end or time.perf_counter()) - start)

        response.body_iterator = body_then_log()  # type: ignore[attr-defined]
        return response

    def _log(self, request: Request, status: int, elapsed: float) -> None:
        client = request.scope.get("client")
        fields = {
            "method": request.scope["method"],
            "path": request.scope["path"],
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "request_id": get_request_id(),
            "client": client[0] if client else None,
        }
        self.logger.info(
            "%s %s %s", fields["method"], fields["path"], status, extra={"fields": fields}
        )


class BaseRateLimitMiddleware(BaseHTTPMiddleware):
    """Twin of ``RateLimitMiddleware`` (in-memory store, connecting host as the key)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        requests: int,
        window_seconds: float,
        exempt_paths: Iterable[str] = ("/health/live", "/health/ready"),
    ) -> None:
        super().__init__(app)
        self.requests = requests
        self.refill_per_second = requests / window_seconds
        self.store = InMemoryRateLimitStore()
        self.exempt_paths = frozenset(exempt_paths)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.scope["path"] in self.exempt_paths:
            return await call_next(request)
        client = request.scope.get("client")
        decision = await self.store.hit(
            client[0] if client else "unknown",
            capacity=self.requests,
            refill_per_second=self.refill_per_second,
            now=time.monotonic(),
        )
        headers = {
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(_whole_seconds(decision.reset_after)),
        }
        if not decision.allowed:
            retry_after = max(1, _whole_seconds(decision.retry_after))
            unit = "second" if retry_after == 1 else "seconds"
            return app_error_response(
                RateLimitedError(
                    f"Too many requests. Retry after {retry_after} {unit}.",
                    headers={**headers, "Retry-After": str(retry_after)},
                )
            )
        response = await call_next(request)
        response.headers.update(headers)
        return response
