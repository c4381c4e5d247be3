"""The baselines the real app is compared with.

``create_bare_app`` is FastAPI with nothing but the app's own health router: the
same endpoint, the same response model, the same JSON, and none of the layers
(no middleware, no error handlers, no lifespan, no other routes). Whatever the
full app costs beyond it is what the layers cost.

``raw_app`` is the ceiling: an ASGI callable that answers the same bytes with no
framework at all. No app can be faster through the same client or server.

Serve the bare app like the real one::

    python -m uvicorn bare_app:create_bare_app --factory --app-dir benchmarks
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from workshop_app.routers import health

LIVE_BODY = b'{"status":"ok"}'
_LIVE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(LIVE_BODY)).encode()),
]


def create_bare_app() -> FastAPI:
    """FastAPI plus the health router, mounted where the real app mounts it."""
    app = FastAPI()
    app.include_router(health.router, prefix="/health")
    return app


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with the liveness JSON; accept the lifespan protocol."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": _LIVE_HEADERS})
    await send({"type": "http.response.body", "body": LIVE_BODY})
