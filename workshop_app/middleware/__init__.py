"""Middleware wiring. The order lives here and only here.

Starlette wraps the app in reverse order of ``add_middleware``: the LAST one
added is the OUTERMOST. So we add from the inside out to get this onion::

    request ──► RequestId ──► AccessLog ──► RateLimit ──► routes
    response ◄─────┘             │              │
                                 │              └ a 429 stops here, inside both:
                                 │                it still gets an id and a log line
                                 └ logs every response, with the id set outside it

RequestId is outermost so every response and every log line has an id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette

from workshop_app.middleware.access_log import AccessLogMiddleware
from workshop_app.middleware.rate_limit import RateLimitMiddleware
from workshop_app.middleware.request_id import RequestIdMiddleware

if TYPE_CHECKING:
    from workshop_app.config import Settings

__all__ = [
    "AccessLogMiddleware",
    "RateLimitMiddleware",
    "RequestIdMiddleware",
    "register_middleware",
]


def register_middleware(app: Starlette, settings: Settings) -> None:
    """Add the middleware stack to ``app``, innermost first.

    With ``rate_limit_store_url`` set, every instance spends from the same buckets, in that
    store (``app.state.rate_limit_store``: the lifespan connects it and closes it); without,
    each process counts on its own.
    """
    if settings.rate_limit_enabled:
        store = None
        if settings.rate_limit_store_url:
            # Imported here: the Redis client costs a tenth of a second at startup, and an
            # app without a shared store never needs it.
            from workshop_app.middleware.rate_limit_redis import RedisRateLimitStore

            store = RedisRateLimitStore(settings.rate_limit_store_url)
            app.state.rate_limit_store = store
        app.add_middleware(
            RateLimitMiddleware,
            requests=settings.rate_limit_requests,
            window_seconds=settings.rate_limit_window_seconds,
            store=store,
            trust_forwarded_for=settings.trust_forwarded_for,
        )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
