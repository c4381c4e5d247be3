"""Alembic's entry point: runs the migrations on the app's own async engine.

The URL comes from ``WORKSHOP_DATABASE_URL`` through ``Settings``, never from alembic.ini,
so the app and its migrations always target the same database and no password is
committed. Code that already holds a connection (tests, tools) hands it over in
``config.attributes["connection"]`` and the migrations run on it, inside its transaction.
"""

import asyncio
import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import workshop_app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from workshop_app.config import Settings
from workshop_app.database import create_engine

config = context.config
logger = logging.getLogger("alembic.env")
target_metadata = SQLModel.metadata


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | bool:
    """Write the app's own column types (``UTCDateTime``) as the SQLAlchemy type they store.

    A migration is history: it must not import app code that may change or disappear.
    """
    ours = type(item).__module__.startswith("workshop_app.")
    if kind == "type" and isinstance(item, TypeDecorator) and ours:
        return f"sa.{item.impl_instance!r}"
    return False  # everything else: Alembic's default rendering


def skip_empty_revision(migration: Any, revision: Any, directives: list[Any]) -> None:
    """``alembic revision --autogenerate`` with no model change writes no empty file."""
    options = getattr(migration.config, "cmd_opts", None)
    if options and options.autogenerate and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in the models: no revision written.")


def do_run_migrations(connection: Connection) -> None:
    """Configure the context on ``connection`` and run the pending migrations."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most of a table: batch mode rebuilds it (copy, drop, rename).
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        process_revision_directives=skip_empty_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Connect with the engine the app itself would build, migrate, then dispose of it."""
    settings = Settings()  # read now: a migration run is one short process
    engine = create_engine(settings)
    logger.info("Database: %s", engine.url.render_as_string(hide_password=True))
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # With foreign keys enforced, SQLite's DROP TABLE deletes the rows that
                # reference the table (ON DELETE CASCADE): a batch rebuild of `users`
                # would empty `orders`. The setting only changes outside a transaction.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Migrate on the caller's connection when given one, else on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    # The alembic command line configures logging from alembic.ini; code that runs the
    # migrations in its own process says configure_logger=False and keeps its handlers.
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(run_async_migrations())


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL for a person to review, touch nothing."""
    url = Settings().database_url
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
