"""The application factory: every call builds an independent, fully wired app.

Serve it with::

    uvicorn workshop_app.main:create_app --factory

A factory instead of a module-level ``app`` means importing this module has no side
effects, and tests or notebooks can build apps with different settings side by side.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.config import Settings, get_settings
from workshop_app.database import create_engine, create_schema, ping
from workshop_app.errors import register_error_handlers
from workshop_app.logging_config import configure_logging
from workshop_app.middleware import register_middleware
from workshop_app.routers import register_routers

logger = logging.getLogger("workshop_app")


class State(TypedDict):
    """Lifespan state; the server hands every request a shallow copy as ``request.state``."""

    settings: Settings
    engine: AsyncEngine


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """Set up logging, open the engine, check the database and its tables; dispose on shutdown.

    Pinging here makes a bad database configuration stop the server at startup
    rather than fail the first request.
    """
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    try:
        engine = create_engine(settings)
    except Exception as exc:  # e.g. the URL names a driver that is not installed
        raise RuntimeError(_startup_failure("create the database engine", settings, exc)) from exc
    try:
        await ping(engine)
    except Exception as exc:
        await engine.dispose()
        raise RuntimeError(_startup_failure("reach the database", settings, exc)) from exc
    try:
        await create_schema(engine)  # the tables of workshop_app.models (notebook 05)
    except Exception as exc:
        await engine.dispose()
        raise RuntimeError(_startup_failure("create the tables", settings, exc)) from exc
    logger.info("Started %s %s (%s)", settings.app_name, settings.app_version, settings.environment)
    try:
        yield {"settings": settings, "engine": engine}
    finally:
        await engine.dispose()
        logger.info("Stopped %s", settings.app_name)


def _startup_failure(action: str, settings: Settings, exc: Exception) -> str:
    """Say what failed and which variable to fix, without ever showing the password."""
    url = make_url(settings.database_url)
    # SQLAlchemy wraps the driver's error; its first line is the useful part.
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    cause = f"{type(exc).__name__}: {reason[0][:200]}" if reason else type(exc).__name__
    if url.password:
        cause = cause.replace(url.password, "***")
    return (
        f"Cannot {action} at startup ({cause}). Check WORKSHOP_DATABASE_URL "
        f"(currently {url.render_as_string(hide_password=True)!r})."
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; without ``settings`` it uses the process-wide ``get_settings()``.

    ``settings.debug`` is deliberately not passed to FastAPI: Starlette's debug mode
    answers 500s with an HTML traceback instead of the error envelope.
    """
    settings = settings if settings is not None else get_settings()
    app = FastAPI(
        title=settings.app_name,
        version=settings.app_version,
        description=settings.app_description,
        lifespan=lifespan,
    )
    app.state.settings = settings
    register_middleware(app, settings)
    register_error_handlers(app)
    register_routers(app)
    return app
