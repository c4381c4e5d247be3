"""Mount every router on the app; the one place that decides URL prefixes."""

from fastapi import FastAPI

from workshop_app.routers import health, me


def register_routers(app: FastAPI) -> None:
    app.include_router(health.router, prefix="/health", tags=["health"])
    app.include_router(me.router, prefix="/me", tags=["me"])
