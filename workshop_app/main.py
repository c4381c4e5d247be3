"""The application factory: every call builds an independent, fully wired app.

Serve it with::

    uvicorn workshop_app.main:create_app --factory

A factory instead of a module-level ``app`` means importing this module has no side
effects, and tests or notebooks can build apps with different settings side by side.
What runs at startup and shutdown is the lifespan's job (``workshop_app.lifespan``).
"""

from fastapi import FastAPI

from workshop_app.config import Settings, get_settings
from workshop_app.error_handlers import register_error_handlers
from workshop_app.lifespan import lifespan
from workshop_app.mail import MemoryMailer
from workshop_app.middleware import register_middleware
from workshop_app.routers import register_routers


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
    # One mailbox per app, kept in memory: replace it with a provider's client (or, in a
    # test, a fake) by assigning app.state.mailer before the app starts.
    app.state.mailer = MemoryMailer()
    register_middleware(app, settings)
    register_error_handlers(app)
    register_routers(app)
    return app
