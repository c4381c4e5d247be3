"""The baselines the real app is compared with.

``create_bare_app`` is FastAPI with nothing but the app's own health router: the
same endpoint, the same response model, the same JSON, and none of the layers
(no middleware, no error handlers, no lifespan, no other routes). Whatever the
full app costs beyond it is what the layers cost.

``create_bare_read_app`` is the baseline of a read by id: FastAPI, one route, one
``AsyncSession`` per request and the same ``session.get`` and ``UserRead`` as the
app's ``GET /users/{id}``, with none of its layers (no key check, no service, no
middleware).

``raw_app`` is the ceiling: an ASGI callable that answers the same bytes with no
framework at all. No app can be faster through the same client or server.

Serve the bare app like the real one::

    python -m uvicorn bare_app:create_bare_app --factory --app-dir benchmarks
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import Receive, Scope, Send

from workshop_app.models import User
from workshop_app.routers import health
from workshop_app.schemas import UserRead

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


def create_bare_read_app(engine: AsyncEngine) -> FastAPI:
    """``GET /users/{user_id}`` as a tutorial would write it, on the app's own engine."""
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def read_user(user_id: int) -> UserRead:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            user = await session.get(User, user_id)
            await session.commit()
        if user is None:
            raise HTTPException(404)
        return UserRead.model_validate(user)

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
