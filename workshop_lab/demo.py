"""A tiny app for the welcome notebook, before the reference app is introduced."""

from __future__ import annotations

from fastapi import FastAPI


def create_demo_app() -> FastAPI:
    """Two routes: one that answers, and none at ``/missing`` (so it 404s)."""
    app = FastAPI(title="Workshop demo")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "Hello, workshop!"}

    return app
