"""A PostgreSQL server where tests create and drop databases of their own.

Kept apart from conftest.py so the tests of these helpers can import them.
"""

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")


@dataclass(frozen=True)
class PostgresServer:
    """The server named by WORKSHOP_TEST_POSTGRES_URL, where tests create databases."""

    url: str

    @contextmanager
    def database(self, template: str = "template0") -> Iterator[str]:
        """A new database, a copy of ``template``, dropped on exit; yields its URL."""
        name = f"workshop_test_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield make_url(self.url).set(database=name).render_as_string(hide_password=False)
        finally:
            self.drop(name)

    def drop(self, name: str) -> None:
        """Drop a test database, even with connections a failed test left open."""
        from asyncpg.exceptions import InsufficientPrivilegeError

        try:
            # FORCE ends connections a failed test left open (PostgreSQL 13+).
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except InsufficientPrivilegeError:
            # FORCE must be allowed to signal every backend of the database, and an
            # autovacuum worker that just started there belongs to the superuser. A plain
            # DROP stops autovacuum by itself (and still refuses real open connections).
            self.execute(f'DROP DATABASE IF EXISTS "{name}"')

    def execute(self, statement: str) -> None:
        """One statement outside a transaction (CREATE/DROP DATABASE refuse to run in one)."""
        import asyncpg  # the test extra installs it; only the PostgreSQL runs need it

        dsn = make_url(self.url).set(drivername="postgresql")

        async def run() -> None:
            connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        run_in_own_loop(run())


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from sync code, even inside an async test's fixtures.

    A thread with its own event loop: calling asyncio.run() in the test's thread would
    unset the loop that anyio keeps for the test.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
