"""The async engine, a cheap probe that proves the database answers, and the tables.

The engine is created per app (in the lifespan), never at import time, so two apps
in one process (tests, notebooks) never share a connection pool.
"""

import asyncio
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlmodel import SQLModel

import workshop_app.models  # noqa: F401  (importing it registers every table on the metadata)
from workshop_app.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the engine for the configured URL, with a pool that suits the database."""
    url = make_url(settings.database_url)
    is_sqlite = url.get_backend_name() == "sqlite"
    options: dict[str, Any] = {"pool_pre_ping": not is_sqlite}
    if is_sqlite and url.database in (None, "", ":memory:"):
        # An in-memory database lives and dies with its one connection. SQLAlchemy's
        # default for it shares that connection between sessions at the same time, so
        # one request's rollback would undo another's writes. A pool of exactly one
        # makes concurrent requests take turns instead; use a file for real concurrency.
        options |= {"poolclass": AsyncAdaptedQueuePool, "pool_size": 1, "max_overflow": 0}
    # pre-ping replaces connections a server closed while idle; pointless for SQLite.
    engine = create_async_engine(url, **options)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _connection_record: Any) -> None:
    """SQLite ignores FOREIGN KEY constraints unless each connection opts in."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def ping(engine: AsyncEngine, *, timeout: float = 5.0) -> None:
    """Run ``SELECT 1``; raise on failure, or ``TimeoutError`` so a probe never hangs."""
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables that do not exist yet; existing tables are left as they are.

    Enough for a workshop and for tests. It never alters a table, so production
    databases get versioned migrations instead (Alembic, notebook 12).
    """
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
