"""Exercise 10.startup_check: each likely mistake gets its own hint."""

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise

EXERCISE = "10.startup_check"

pytestmark = pytest.mark.usefixtures("clean_env")

HEADER = """\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from workshop_app.lifespan import lifespan

WRITE_PROBE = text("UPDATE users SET id = id WHERE 1 = 0")
"""


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def candidate(body: str, *, decorated: bool = True):
    """Define lifespan_with_write_check(app) with ``body`` (indented already)."""
    decorator = "@asynccontextmanager\n" if decorated else ""
    source = f"{HEADER}\n{decorator}async def lifespan_with_write_check(app: FastAPI):\n{body}"
    return get_exercise(EXERCISE).load(source)


PROBE_THEN = """\
    async with lifespan(app) as state:
        try:
            async with state["engine"].begin() as connection:
                await connection.execute(WRITE_PROBE)
        except Exception as exc:
            {raise_}
        yield state
"""


def probe_then(raise_: str):
    return candidate(PROBE_THEN.format(raise_=raise_))


CASES = {
    "starter": (
        lambda: get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter),
        "started on a read-only database: GET /health/ready answered 200, then POST /users "
        "answered 500",
    ),
    "not-decorated": (
        lambda: candidate(
            "    async with lifespan(app) as state:\n        yield state\n", decorated=False
        ),
        "put @asynccontextmanager",
    ),
    "returns-instead-of-yields": (
        lambda: candidate("    return {}\n", decorated=False),
        "plain `async def` that returns",
    ),
    "not-a-context-manager": (
        lambda: get_exercise(EXERCISE).load("def lifespan_with_write_check(app):\n    return {}\n"),
        "returned a dict, not an async context manager",
    ),
    "not-callable": (lambda: "lifespan_with_write_check", "got str"),
    "own-state": (
        lambda: candidate("    async with lifespan(app):\n        yield {}\n"),
        "without the app's engine and events",
    ),
    "always-refuses": (
        lambda: candidate(
            "    async with lifespan(app) as state:\n"
            "        raise RuntimeError('no: check WORKSHOP_DATABASE_URL')\n"
            "        yield state\n"
        ),
        "refused to start on a WRITABLE database: RuntimeError: no",
    ),
    "leaves-a-table": (
        lambda: candidate(
            "    async with lifespan(app) as state:\n"
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(text('CREATE TABLE write_probe (id INTEGER)'))\n"
            "        yield state\n"
        ),
        "left ['write_probe'] in the database",
    ),
    "driver-error": (
        lambda: candidate(
            "    async with lifespan(app) as state:\n"
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(WRITE_PROBE)\n"
            "        yield state\n"
        ),
        "with the driver's own error (OperationalError: (sqlite3.OperationalError) attempt to "
        "write a readonly database",
    ),
    "setting-not-named": (
        lambda: probe_then("raise RuntimeError('The database is read-only.') from exc"),
        "does not name the setting",
    ),
    "cause-dropped": (
        lambda: probe_then(
            "raise RuntimeError('Read-only: check WORKSHOP_DATABASE_URL') from None"
        ),
        "the driver's error is gone",
    ),
    "after-the-yield": (
        lambda: candidate(
            "    async with lifespan(app) as state:\n"
            "        yield state\n"
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(WRITE_PROBE)\n"
        ),
        "runs after the `yield`",
    ),
}


@pytest.mark.parametrize(("make", "hint"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_specific_hint(make, hint: str) -> None:
    result = check(EXERCISE, make())

    assert result.passed is False
    assert hint in result.hint, result.hint


def test_an_app_instead_of_the_function_is_named() -> None:
    from workshop_app.main import create_app

    result = check(EXERCISE, create_app())

    assert "pass the lifespan function itself" in result.hint


def test_a_runtime_error_of_its_own_passes() -> None:
    source = HEADER + "\n\nclass ReadOnlyDatabase(RuntimeError):\n    pass\n\n\n"
    source += "@asynccontextmanager\nasync def lifespan_with_write_check(app: FastAPI):\n"
    source += PROBE_THEN.format(
        raise_="raise ReadOnlyDatabase('writes refused: check WORKSHOP_DATABASE_URL') from exc"
    )

    result = check(EXERCISE, get_exercise(EXERCISE).load(source))

    assert result.passed is True, result.hint
