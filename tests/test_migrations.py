"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL.

``alembic upgrade head`` on an empty database must leave nothing for autogenerate to
find (tables, columns, types, indexes, uniques, foreign keys), the same named CHECK and
other constraints as the models, and ``downgrade base`` must remove it all. The app
started with ``auto_create_schema=False`` serves a migrated database and refuses an
unmigrated one, saying what to run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from workshop_app.config import Settings
from workshop_app.database import create_engine
from workshop_app.main import create_app
from workshop_app.migrations import SCRIPT_LOCATION, current_revision, head_revision
from workshop_app.migrations import require_current_schema as require_current
from workshop_app.services.event_store import claim_events

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases, pytest.mark.usefixtures("clean_env")]

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "workshop_app" / "alembic" / "versions"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Replaces conftest's: an EMPTY database that alembic and the app both reach (a file)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres_database_url")
    return f"sqlite+aiosqlite:///{(tmp_path / 'app.db').as_posix()}"


def alembic_config(*version_locations: Path) -> Config:
    """The project's scripts, without alembic.ini: its logging setup would replace pytest's."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if version_locations:
        config.set_main_option("path_separator", "os")
        locations = [VERSIONS, *version_locations]
        config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    return config


async def alembic(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    action: str,
    revision: str,
    config: Config | None = None,
) -> None:
    """``alembic <action> <revision>`` through env.py, which reads WORKSHOP_DATABASE_URL.

    In a worker thread: env.py runs its own event loop, as it does from the command line.
    """
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", url)
    run = getattr(command, action)
    await anyio.to_thread.run_sync(run, config or alembic_config(), revision)


async def inspect_database(url: str, look: Any) -> Any:
    """Call ``look(connection)`` on a synchronous view of the database at ``url``."""
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


def constraint_names(connection: Connection) -> dict[str, set[str]]:
    """Every table's named constraints and indexes, as the database reports them."""
    inspector = inspect(connection)
    found = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        names = {inspector.get_pk_constraint(table)["name"]}
        names |= {fk["name"] for fk in inspector.get_foreign_keys(table)}
        names |= {uq["name"] for uq in inspector.get_unique_constraints(table)}
        names |= {ix["name"] for ix in inspector.get_indexes(table)}
        names |= {ck["name"] for ck in inspector.get_check_constraints(table)}
        found[table] = names
    return found


def model_constraint_names() -> dict[str, set[str]]:
    """The same, from the models: CHECKs include those of the status columns."""
    return {
        table.name: {c.name for c in table.constraints} | {i.name for i in table.indexes}
        for table in SQLModel.metadata.tables.values()
    }


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_there_is_one_head_and_every_script_is_in_the_versions_folder():
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]
    files = {p.name for p in VERSIONS.glob("*.py")}
    assert {Path(s.path).name for s in scripts.walk_revisions()} == files


async def test_upgrade_head_builds_exactly_the_models_schema(database_url, monkeypatch):
    await alembic(monkeypatch, database_url, "upgrade", "head")

    assert await inspect_database(database_url, schema_differences) == []
    tables = await inspect_database(database_url, table_names)
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    # autogenerate does not compare CHECK constraints or names: compare them by name.
    assert await inspect_database(database_url, constraint_names) == model_constraint_names()


async def test_the_migrated_database_enforces_the_check_constraints(database_url, monkeypatch):
    await alembic(monkeypatch, database_url, "upgrade", "head")
    engine = create_engine(Settings(database_url=database_url))
    user = (
        "INSERT INTO users (id, email, full_name, is_active, password_hash, created_at) "
        "VALUES (1, 'a@example.com', 'A', true, 'x', CURRENT_TIMESTAMP)"
    )
    order = "INSERT INTO orders (user_id, status, total_cents, created_at) VALUES (1, {}, {}, {})"
    try:
        async with engine.begin() as connection:
            await connection.execute(text(user))
            await connection.execute(text(order.format("'paid'", 0, "CURRENT_TIMESTAMP")))
        for status, total in [("'lost'", 100), ("'paid'", -1)]:
            with pytest.raises(IntegrityError, match="ck_orders_"):
                async with engine.begin() as connection:
                    await connection.execute(text(order.format(status, total, "CURRENT_TIMESTAMP")))
    finally:
        await engine.dispose()


async def test_downgrade_to_base_removes_every_table(database_url, monkeypatch):
    await alembic(monkeypatch, database_url, "upgrade", "head")
    await alembic(monkeypatch, database_url, "downgrade", "base")

    assert await inspect_database(database_url, table_names) == {"alembic_version"}
    engine = create_engine(Settings(database_url=database_url))
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()


async def test_the_lease_migration_goes_down_and_up_again_with_rows_in_place(
    database_url, monkeypatch
):
    """``upgrade head``, ``downgrade -1``, ``upgrade head``: the new NOT NULL ``attempts``
    needs its server default once the tables have rows."""
    await alembic(monkeypatch, database_url, "upgrade", "head")
    await alembic(monkeypatch, database_url, "downgrade", "-1")
    engine = create_engine(Settings(database_url=database_url))
    rows = [
        "INSERT INTO users (id, email, full_name, is_active, password_hash, created_at) "
        "VALUES (1, 'a@example.com', 'A', true, 'x', CURRENT_TIMESTAMP)",
        'INSERT INTO outbox_emails (user_id, "to", subject, body, status, created_at) '
        "VALUES (1, 'a@example.com', 'Hi', 'Hello', 'pending', CURRENT_TIMESTAMP)",
        "INSERT INTO order_reports (user_id, status, created_at) "
        "VALUES (1, 'pending', CURRENT_TIMESTAMP)",
        "INSERT INTO stored_events (name, payload, status, attempts, created_at) "
        "VALUES ('user.registered', '{}', 'pending', 0, CURRENT_TIMESTAMP)",
        # Being dispatched when the old version stopped: its claim had no end.
        "INSERT INTO stored_events (name, payload, status, attempts, created_at, claimed_at) "
        "VALUES ('user.registered', '{}', 'dispatching', 1, CURRENT_TIMESTAMP, "
        "CURRENT_TIMESTAMP)",
    ]
    try:
        async with engine.begin() as connection:
            for statement in rows:
                await connection.execute(text(statement))
        await alembic(monkeypatch, database_url, "upgrade", "head")
        async with engine.connect() as connection:
            email = (await connection.execute(text("SELECT * FROM outbox_emails"))).one()
            report = (await connection.execute(text("SELECT * FROM order_reports"))).one()
        assert (email.attempts, email.claimed_by, email.lease_until) == (0, None, None)
        assert (report.attempts, report.next_attempt_at) == (0, None)
        claimed = await claim_events(
            engine, instance="new", lease_seconds=30, limit=10, max_attempts=3
        )
        assert sorted(row.id for row in claimed) == [1, 2]  # the old claim ended with the old app
    finally:
        await engine.dispose()
    assert await inspect_database(database_url, schema_differences) == []


async def test_require_current_schema_passes_at_head_and_names_the_fix_otherwise(
    database_url, monkeypatch
):
    engine = create_engine(Settings(database_url=database_url))
    try:
        with pytest.raises(RuntimeError) as empty:
            await require_current(engine)
        assert "has no migrations applied" in str(empty.value)
        assert f"expects revision {head_revision()}" in str(empty.value)
        assert "alembic upgrade head" in str(empty.value)

        await alembic(monkeypatch, database_url, "upgrade", "head")
        assert await current_revision(engine) == head_revision()
        await require_current(engine)  # at head: no error

        async with engine.begin() as connection:  # a database from other code's revision
            await connection.execute(text("UPDATE alembic_version SET version_num = 'a0b1c2d3'"))
        with pytest.raises(RuntimeError, match="is at revision a0b1c2d3, but this code expects"):
            await require_current(engine)
    finally:
        await engine.dispose()


def production_settings(url: str) -> Settings:
    return Settings(
        environment="production",
        database_url=url,
        api_key="a-production-key-0f9e",
        auto_create_schema=False,
        log_level="WARNING",
    )


async def test_the_app_serves_a_migrated_database_without_creating_tables(
    database_url, monkeypatch, client_for
):
    await alembic(monkeypatch, database_url, "upgrade", "head")
    key = {"X-API-Key": "a-production-key-0f9e"}
    async with client_for(create_app(production_settings(database_url))) as client:
        assert (await client.get("/health/ready")).status_code == 200
        body = {"email": "ada@example.com", "full_name": "Ada", "password": "correct horse b"}
        created = await client.post("/users", json=body, headers=key)
        assert created.status_code == 201, created.text


async def test_the_app_refuses_an_unmigrated_database_and_says_what_to_run(
    database_url, client_for
):
    with pytest.raises(RuntimeError) as refused:
        async with client_for(create_app(production_settings(database_url))):
            pass
    message = str(refused.value) + str(refused.value.__cause__)
    assert "alembic upgrade head" in message
    assert "WORKSHOP_AUTO_CREATE_SCHEMA" in message
    assert await inspect_database(database_url, table_names) == set()  # it created nothing


async def test_the_command_line_works_from_any_directory_and_never_prints_the_password(
    database_url, tmp_path
):
    """The real `alembic` command: alembic.ini, its logging, env.py's own engine."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "WORKSHOP_DATABASE_URL": database_url}
    env.pop("PYTHONPATH", None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    upgraded = run("upgrade", "head")
    assert f"-> {head_revision()}" in upgraded
    assert head_revision() in run("current")
    password = make_url(database_url).password
    if password:
        assert password not in upgraded
        assert "***" in upgraded  # the URL is logged with the password hidden


async def test_offline_mode_prints_the_sql_without_touching_the_database(database_url, tmp_path):
    env = {**os.environ, "WORKSHOP_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"]
        + ["--sql"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"CREATE TABLE users", done.stdout)
    assert "ck_orders_status" in done.stdout
    assert await inspect_database(database_url, table_names) == set()


BATCH_REVISION = '''
"""Rebuild users (as SQLite batch mode does for most ALTERs)."""
import sqlalchemy as sa
from alembic import op

revision = "b47c4e7ab001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.add_column(sa.Column("nickname", sa.String(50), nullable=True))


def downgrade():
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.drop_column("nickname")
'''


async def test_a_batch_rebuild_on_sqlite_keeps_the_rows_that_reference_the_table(
    monkeypatch, tmp_path
):
    """env.py turns SQLite's foreign keys off while migrating: with them on, dropping the old
    `users` during the rebuild would cascade-delete every order."""
    extra = tmp_path / "versions"
    extra.mkdir()
    (extra / "b47c4e7ab001_rebuild_users.py").write_text(
        BATCH_REVISION.format(head=head_revision())
    )
    config = alembic_config(extra)
    database_url = f"sqlite+aiosqlite:///{(tmp_path / 'batch.db').as_posix()}"
    await alembic(monkeypatch, database_url, "upgrade", head_revision(), config)
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, email, full_name, is_active, password_hash, created_at)"
                    " VALUES (1, 'a@example.com', 'A', 1, 'x', '2026-01-01 00:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO orders (user_id, status, total_cents, created_at)"
                    " VALUES (1, 'paid', 100, '2026-01-01 00:00:00')"
                )
            )
        await alembic(monkeypatch, database_url, "upgrade", "b47c4e7ab001", config)
        async with engine.connect() as connection:
            orders = await connection.scalar(text("SELECT count(*) FROM orders"))
            violations = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
        assert (orders, violations) == (1, [])
    finally:
        await engine.dispose()
