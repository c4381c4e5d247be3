"""Exercise 10.startup_check: each likely mistake gets a hint that names it; other correct
styles pass; every check is quick and leaves no connection open."""

import threading
import time

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise

EXERCISE = "10.startup_check"

pytestmark = pytest.mark.usefixtures("clean_env")

progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, hint_for = exercise_helpers.probe(EXERCISE)

PROBE = """\
            async with state["engine"].begin() as connection:
                await connection.execute(WRITE_PROBE)  # matches no row: nothing changes
"""
RAISE = """\
            raise StartupError(
                "The database refuses writes (a read replica? a read-only volume?). "
                f"Check WORKSHOP_DATABASE_URL (currently {shown!r})."
            ) from exc
"""
ENTER = "    async with lifespan(app) as state:  # its shutdown runs however this block is left\n"
TRY_TO_YIELD = (
    "        try:\n"
    + PROBE
    + "        except DBAPIError as exc:  # the database refused the write\n"
    + "            url = make_url(app.state.settings.database_url)\n"
    + "            shown = url.render_as_string(hide_password=True)\n"
    + RAISE
    + "        yield state\n"
)


def body(new: str):
    """The solution with everything inside ``async with lifespan(app)`` replaced by ``new``."""
    return variant(TRY_TO_YIELD, new)


def starter():
    exercise = get_exercise(EXERCISE)
    return exercise.load(exercise.starter)


def plain_lifespan_returning_a_dict():
    return get_exercise(EXERCISE).load("def lifespan_with_write_check(app):\n    return {}\n")


def an_app():
    from workshop_app.main import create_app

    return create_app()


WRONG = {
    # shapes a server cannot use as a lifespan
    "app-instead-of-the-function": (an_app, "You passed an app"),
    "not-callable": (lambda: "lifespan_with_write_check", "Pass your lifespan_with_write_check"),
    "no-decorator": (
        lambda: variant("@asynccontextmanager\n", ""),
        "async generator without @asynccontextmanager",
    ),
    "returns-a-dict": (plain_lifespan_returning_a_dict, "returned a dict, not an async context"),
    "decorated-but-no-yield": (
        lambda: body("        return\n"),
        "has no yield",
    ),
    "async-def-that-returns": (
        lambda: get_exercise(EXERCISE).load(
            "async def lifespan_with_write_check(app):\n    return {}\n"
        ),
        "plain `async def` that returns",
    ),
    # what the wrapper hands to the requests, and when
    "own-state": (lambda: body("        yield {}\n"), "without the app's engine and events"),
    "yields-after-the-app-shut-down": (
        lambda: variant(
            ENTER + TRY_TO_YIELD,
            ENTER + "        pass\n    yield state\n",
        ),
        "had already shut down",
    ),
    "disposes-the-engine-at-startup": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(WRITE_PROBE)\n"
            "        await state['engine'].dispose()  # close what the probe opened?\n"
            "        yield state\n"
        ),
        "disposed during startup",
    ),
    "disposes-the-engine-before-the-relay-stops": (
        lambda: body('        yield state\n        await state["engine"].dispose()\n'),
        "disposed before the relay had stopped",
    ),
    # writable databases must start, and stay as they were
    "always-refuses": (
        lambda: body(
            "        raise StartupError('no: check WORKSHOP_DATABASE_URL')\n        yield state\n"
        ),
        "refused to start on a writable SQLite file, which is WRITABLE",
    ),
    "probe-on-an-engine-of-its-own": (
        lambda: body(
            "        from workshop_app.database import create_engine\n\n"
            "        own = create_engine(app.state.settings)\n"
            "        try:\n"
            "            async with own.begin() as connection:\n"
            "                await connection.execute(WRITE_PROBE)\n"
            "        finally:\n"
            "            await own.dispose()\n"
            "        yield state\n"
        ),
        "an engine of your own",
    ),
    "probe-on-an-engine-never-disposed": (
        lambda: body(
            "        from workshop_app.database import create_engine\n\n"
            "        own = create_engine(app.state.settings)\n"
            "        async with own.begin() as connection:\n"
            "            await connection.execute(WRITE_PROBE)\n"
            "        yield state\n"
        ),
        "1 database connection(s) on a writable SQLite file were still open",
    ),
    "leaves-a-table": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(text('CREATE TABLE write_probe (id INTEGER)'))\n"
            "        yield state\n"
        ),
        "it left the table(s) ['write_probe']",
    ),
    "leaves-a-row": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(text(\n"
            '                "INSERT INTO users (email, full_name, is_active, password_hash, "\n'
            '                "created_at) VALUES "\n'
            "                \"('probe@example.com', 'P', 1, '!', '2026-01-01')\"\n"
            "            ))\n"
            "        yield state\n"
        ),
        "2 users where the check created 1",
    ),
    # read-only databases must refuse, and say so usefully
    "no-probe-at-all": (starter, "Nothing wrote to the database before the yield"),
    "a-read-is-not-a-probe": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(text('SELECT count(*) FROM users'))\n"
            "        yield state\n"
        ),
        "Nothing wrote to the database before the yield",
    ),
    "a-temp-table-is-not-the-database": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(text('CREATE TEMP TABLE IF NOT EXISTS p (x)'))\n"
            "        yield state\n"
        ),
        "a TEMP table lives outside them",
    ),
    "swallows-the-error": (
        lambda: variant(RAISE, "            pass\n"),
        "the error was caught and the app started anyway",
    ),
    "only-logs-the-error": (
        lambda: variant(
            RAISE,
            "            import logging\n\n"
            "            logging.getLogger('check').error('read-only: WORKSHOP_DATABASE_URL')\n",
        ),
        "the error was caught and the app started anyway",
    ),
    "decides-from-the-url": (
        lambda: body(
            "        if 'mode=ro' in app.state.settings.database_url:\n"
            "            raise StartupError('Read-only: check WORKSHOP_DATABASE_URL')\n"
            "        yield state\n"
        ),
        "nothing tried to write first",
    ),
    "decides-from-the-url-and-chains-nothing": (
        lambda: body(
            "        url = app.state.settings.database_url\n"
            "        if 'mode=ro' in url or 'replica' in url:\n"
            "            raise StartupError('Read-only: check WORKSHOP_DATABASE_URL')\n"
            "        yield state\n"
        ),
        "nothing tried to write first",
    ),
    "the-database-error-itself": (
        lambda: body(
            "        async with state['engine'].begin() as connection:\n"
            "            await connection.execute(WRITE_PROBE)\n"
            "        yield state\n"
        ),
        "with the database's own error (OperationalError: (sqlite3.OperationalError) attempt "
        "to write a readonly database",
    ),
    "a-runtime-error-not-a-startup-error": (
        lambda: variant("raise StartupError(", "raise RuntimeError("),
        "with a RuntimeError, not a StartupError",
    ),
    "setting-not-named": (
        lambda: variant(
            'f"Check WORKSHOP_DATABASE_URL (currently {shown!r})."',
            'f"Check the URL (currently {shown!r})."',
        ),
        "does not name the setting",
    ),
    "password-shown": (
        lambda: variant(
            "url.render_as_string(hide_password=True)", "app.state.settings.database_url"
        ),
        "shows the password",
    ),
    "password-shown-by-render-as-string": (
        lambda: variant("hide_password=True", "hide_password=False"),
        "shows the password",
    ),
    "cause-dropped": (lambda: variant(") from exc", ") from None"), "the database's error is gone"),
    "after-the-yield-raises-at-shutdown": (
        lambda: body("        yield state\n" + TRY_TO_YIELD.removesuffix("        yield state\n")),
        "only raised at shutdown",
    ),
    "after-the-yield-swallowed": (
        lambda: body(
            "        yield state\n"
            "        try:\n" + PROBE + "        except DBAPIError:\n            pass\n"
        ),
        "only ran at shutdown, after the yield",
    ),
    "leaks-its-connection-when-refusing": (
        lambda: body(
            "        connection = await state['engine'].connect()\n"
            "        try:\n"
            "            await connection.execute(WRITE_PROBE)\n"
            "        except DBAPIError as exc:\n"
            "            url = make_url(app.state.settings.database_url)\n"
            "            shown = url.render_as_string(hide_password=True)\n"
            + RAISE
            + "        await connection.close()\n"
            "        yield state\n"
        ),
        "The startup was refused, as it should be, but 1 database connection(s)",
    ),
}


@pytest.mark.parametrize(("make", "hint"), WRONG.values(), ids=WRONG.keys())
def test_each_mistake_gets_a_hint_that_names_it(make, hint: str) -> None:
    started = time.perf_counter()
    result = check(EXERCISE, make())
    elapsed = time.perf_counter() - started

    assert result.passed is False
    assert hint in result.hint, result.hint
    assert elapsed < 3, f"the check took {elapsed:.1f} s"


OTHER_STYLES = {
    # The module's own helper: a StartupError with the URL masked, from the driver's error.
    "the-module-s-own-startup-step": """\
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from workshop_app.lifespan import _startup_step, lifespan


@asynccontextmanager
async def lifespan_with_write_check(app) -> AsyncIterator[dict]:
    async with lifespan(app) as state:
        with _startup_step("write to the database", app.state.settings):
            async with state["engine"].connect() as connection:
                await connection.execute(text("DELETE FROM users WHERE 1 = 0"))
        yield state
""",
    # A subclass of StartupError, implicit chaining, a connection rolled back by hand,
    # Exception caught, and the URL masked by str(URL).
    "subclass-implicit-chaining-explicit-rollback": """\
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from workshop_app.lifespan import StartupError, lifespan


class ReadOnlyDatabase(StartupError):
    pass


@asynccontextmanager
async def lifespan_with_write_check(app):
    async with lifespan(app) as state:
        engine = state["engine"]
        async with engine.connect() as connection:
            try:
                await connection.execute(text("UPDATE users SET email = email WHERE 0"))
            except Exception:
                raise ReadOnlyDatabase(
                    "writes refused: check WORKSHOP_DATABASE_URL "
                    + str(make_url(app.state.settings.database_url))
                )
            finally:
                await connection.rollback()
        yield state
""",
    # An object whose __call__ returns the context manager, and an exit stack around it.
    "a-callable-object-with-an-exit-stack": """\
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from workshop_app.lifespan import StartupError, lifespan


class WriteCheck:
    def __call__(self, app):
        return self._lifespan(app)

    @asynccontextmanager
    async def _lifespan(self, app):
        async with AsyncExitStack() as stack:
            state = await stack.enter_async_context(lifespan(app))
            try:
                async with state["engine"].begin() as connection:
                    await connection.execute(text("UPDATE users SET id = id WHERE 1 = 0"))
            except OperationalError as exc:
                raise StartupError("Set WORKSHOP_DATABASE_URL to a writable database") from exc
            yield state


lifespan_with_write_check = WriteCheck()
""",
}


@pytest.mark.parametrize("source", OTHER_STYLES.values(), ids=OTHER_STYLES.keys())
def test_other_correct_styles_pass(source: str) -> None:
    started = time.perf_counter()
    result = check(EXERCISE, get_exercise(EXERCISE).load(source))
    elapsed = time.perf_counter() - started

    assert result.passed is True, result.hint
    assert elapsed < 3, f"the check took {elapsed:.1f} s"


def test_the_solution_passes_quickly_and_leaves_no_thread_behind() -> None:
    exercise = get_exercise(EXERCISE)
    before = {thread.ident for thread in threading.enumerate()}
    started = time.perf_counter()
    result = check(EXERCISE, exercise.load(exercise.solution))
    elapsed = time.perf_counter() - started

    assert result.passed is True, result.hint
    assert elapsed < 3, f"the check took {elapsed:.1f} s"
    time.sleep(0.1)  # aiosqlite's worker threads end right after their connection closes
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert left == []


def test_a_leaked_connection_is_closed_by_the_check() -> None:
    """A candidate that never gives its connection back must not keep the process alive."""
    leaky = WRONG["leaks-its-connection-when-refusing"][0]()
    before = {thread.ident for thread in threading.enumerate()}

    check(EXERCISE, leaky)

    time.sleep(0.1)
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert left == []


def test_the_hints_name_ideas_and_sections_not_code() -> None:
    exercise = get_exercise(EXERCISE)
    nudge, pointer = exercise.hints

    for text in (nudge, pointer):
        assert "WRITE_PROBE" not in text and "begin()" not in text and "raise " not in text
    assert '"Step 2: a lifespan for production"' in pointer
    assert "Nothing wrote" in hint_for(starter())
