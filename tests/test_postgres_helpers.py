"""The helpers that give each PostgreSQL test a database of its own, and drop it after."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
from asyncpg.exceptions import InsufficientPrivilegeError
from postgres_helpers import PostgresServer, run_in_own_loop
from sqlalchemy.engine import make_url


class RefusedForce(PostgresServer):
    """Records statements; refuses FORCE as PostgreSQL does for a superuser's autovacuum."""

    def execute(self, statement: str) -> None:
        self.statements.append(statement)  # type: ignore[attr-defined]
        if "FORCE" in statement:
            raise InsufficientPrivilegeError(
                "must be a member of the role whose process is being terminated"
            )


def test_a_refused_force_falls_back_to_a_plain_drop():
    server = RefusedForce("postgresql+asyncpg://tests@localhost/postgres")
    object.__setattr__(server, "statements", [])
    server.drop("workshop_test_x")
    assert server.statements == [
        'DROP DATABASE IF EXISTS "workshop_test_x" WITH (FORCE)',
        'DROP DATABASE IF EXISTS "workshop_test_x"',
    ]


@pytest.mark.postgresql
def test_a_database_is_dropped_even_with_a_connection_left_open(postgres_server):
    async def exists(name: str) -> bool:
        dsn = make_url(postgres_server.url).set(drivername="postgresql")
        connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            query = "SELECT count(*) FROM pg_database WHERE datname = $1"
            return await connection.fetchval(query, name) == 1
        finally:
            await connection.close()

    async def open_connection(url: str) -> asyncpg.Connection:
        dsn = make_url(url).set(drivername="postgresql")
        return await asyncpg.connect(dsn.render_as_string(hide_password=False))

    async def terminate(connection: asyncpg.Connection) -> None:
        connection.terminate()

    # A test that forgot to close its connection, on a loop of its own that stays open: the
    # connection is let go once the database is gone (garbage, it would warn in a later test).
    forgetful = asyncio.Runner()
    with ThreadPoolExecutor(max_workers=1) as thread:
        with postgres_server.database() as url:
            name = make_url(url).database
            assert run_in_own_loop(exists(name))
            left_open = thread.submit(forgetful.run, open_connection(url)).result()
        assert not run_in_own_loop(exists(name))
        thread.submit(forgetful.run, terminate(left_open)).result()
        thread.submit(forgetful.close).result()
