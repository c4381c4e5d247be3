"""Which migration the database is at, and a startup check that it is the code's.

With ``auto_create_schema`` off, tables come only from ``alembic upgrade head``. An app
started on a database that missed a migration would fail later, on the first request
that touches a new column; checking the revision at startup fails at once, and says
what to run.
"""

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Found through the package, so it works from any working directory and without alembic.ini.
SCRIPT_LOCATION = "workshop_app:alembic"


def head_revision() -> str:
    """The revision this code expects: the newest migration script shipped with it."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("No migration scripts found in workshop_app/alembic/versions.")
    return head


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision recorded in the database's ``alembic_version`` table; None if never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_revision_of)


async def require_current_schema(engine: AsyncEngine) -> None:
    """Raise ``RuntimeError`` unless the database is exactly at the code's head revision.

    Older means a migration was not run; newer means this code is older than the
    database (a rollback of the code without one of the schema). Neither is safe to serve.
    """
    current, head = await current_revision(engine), head_revision()
    if current != head:
        found = "has no migrations applied" if current is None else f"is at revision {current}"
        raise RuntimeError(
            f"The database {found}, but this code expects revision {head}. "
            "Run `alembic upgrade head` (with the same WORKSHOP_DATABASE_URL) before starting "
            "the app, or set WORKSHOP_AUTO_CREATE_SCHEMA=true outside production."
        )
