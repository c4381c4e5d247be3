"""Exercise 02.lifespan: each likely mistake gets a hint that names it; other correct
styles pass; every check is quick and leaves nothing behind."""

import time
import warnings
from typing import Any

import exercise_helpers
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine

from workshop_lab.exercises import check, get_exercise

EXERCISE = "02.lifespan"

pytestmark = pytest.mark.usefixtures("clean_env")

progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, hint_for = exercise_helpers.probe(EXERCISE)

SETTINGS_LINE = "    settings: Settings = app.state.settings  # the app's own, not get_settings()\n"
ENGINE_LINE = "    engine = create_engine(settings)  # a new engine at every startup of every app\n"
PING_LINE = "        await ping(engine)  # raises when the database does not answer: no startup\n"
YIELD_LINE = '        yield {"engine": engine}  # each request gets a copy, as request.state\n'
DISPOSE_LINE = (
    "        await engine.dispose()  # after the last request, or right after a failed ping\n"
)
TRY_TO_END = "    try:\n" + PING_LINE + YIELD_LINE + "    finally:\n" + DISPOSE_LINE


def _body(new: str) -> Any:
    """The solution with everything from ``try:`` to the end replaced by ``new``."""
    return variant(TRY_TO_END, new)


WRONG = {
    # shapes FastAPI cannot use, or only through a deprecated path
    "app-instead-of-lifespan": (lambda: FastAPI(), "You passed an app"),
    "not-callable": (lambda: "lifespan", "Pass your lifespan itself"),
    "no-decorator": (
        lambda: variant("@asynccontextmanager\n", ""),
        "async generator without @asynccontextmanager",
    ),
    "no-parameter": (lambda: variant("lifespan(app: FastAPI)", "lifespan()"), "one argument"),
    "sync-contextmanager": (
        lambda: variant(
            "from contextlib import asynccontextmanager",
            "from contextlib import contextmanager as asynccontextmanager",
        ),
        "not an async context manager",
    ),
    # what the lifespan yields
    "empty-state": (
        lambda: get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter),
        "yields an empty state",
    ),
    "yields-nothing": (lambda: variant(YIELD_LINE, "        yield\n"), "yields nothing"),
    "yields-the-engine-bare": (
        lambda: variant(YIELD_LINE, "        yield engine\n"),
        "yields an AsyncEngine",
    ),
    "engine-on-app-state": (
        lambda: variant(YIELD_LINE, "        app.state.engine = engine\n        yield {}\n"),
        "yields an empty state",
    ),
    "settings-in-the-state": (
        lambda: variant(YIELD_LINE, '        yield {"engine": engine, "settings": settings}\n'),
        "already live on app.state.settings",
    ),
    "a-connection-instead-of-the-engine": (
        lambda: variant(
            YIELD_LINE,
            "        async with engine.connect() as connection:\n"
            '            yield {"engine": connection}\n',
        ),
        "is an AsyncConnection, not an AsyncEngine",
    ),
    # where the engine comes from
    "process-wide-settings": (
        lambda: variant(
            SETTINGS_LINE,
            "    from workshop_app.config import get_settings\n\n"
            "    settings: Settings = get_settings()\n",
        ),
        "opens ':memory:' (the database of get_settings()",
    ),
    "fixed-url": (
        lambda: variant(
            SETTINGS_LINE,
            '    settings = Settings(database_url="sqlite+aiosqlite:///./fixed.db")\n',
        ),
        "opens './fixed.db'",
    ),
    "one-engine-per-process": (
        lambda: variant(
            ENGINE_LINE,
            "    global _engine\n"
            "    if globals().get('_engine') is None:\n"
            "        _engine = create_engine(settings)\n"
            "    engine = _engine\n",
        ),
        "same engine as an app that ran before it",
    ),
    "create-async-engine-directly": (
        lambda: variant(
            ENGINE_LINE,
            "    from sqlalchemy.ext.asyncio import create_async_engine\n\n"
            "    engine = create_async_engine(settings.database_url)\n",
        ),
        "foreign keys",
    ),
    "forgot-the-import": (
        lambda: variant("from workshop_app.database import create_engine, ping\n", ""),
        "raised NameError in lifespan(): name 'create_engine' is not defined",
    ),
    # the ping
    "no-ping": (lambda: variant(PING_LINE, ""), "nothing tried to reach the database"),
    "ping-not-awaited": (
        lambda: variant(PING_LINE, "        ping(engine)\n"),
        "not awaited does not run",
    ),
    "ping-after-the-yield": (
        lambda: variant(PING_LINE + YIELD_LINE, YIELD_LINE + PING_LINE),
        "a ping after it runs at shutdown",
    ),
    "ping-error-swallowed": (
        lambda: variant(
            PING_LINE,
            "        try:\n"
            "            await ping(engine)\n"
            "        except Exception:\n"
            "            pass  # keep going: the readiness probe will say 503\n",
        ),
        "its error was caught",
    ),
    # the disposal
    "no-dispose": (
        lambda: _body('    await ping(engine)\n    yield {"engine": engine}\n'),
        "never disposed",
    ),
    "dispose-not-awaited": (
        lambda: variant(DISPOSE_LINE, "        engine.dispose()\n"),
        "is the disposal awaited?",
    ),
    "dispose-only-after-a-normal-shutdown": (
        lambda: _body(
            '    await ping(engine)\n    yield {"engine": engine}\n    await engine.dispose()\n'
        ),
        "code after the yield runs only at a normal shutdown",
    ),
    "dispose-at-startup": (
        lambda: _body(
            "    await ping(engine)\n"
            "    await engine.dispose()  # wrong: this is still startup\n"
            '    yield {"engine": engine}\n'
        ),
        "disposed while the app was still running",
    ),
}


@pytest.mark.parametrize(("make", "hint"), WRONG.values(), ids=WRONG.keys())
def test_each_mistake_gets_a_hint_that_names_it(make, hint: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the never-awaited coroutines
        started = time.perf_counter()
        result = check(EXERCISE, make())
        elapsed = time.perf_counter() - started

    assert result.passed is False
    assert hint in result.hint, result.hint
    assert elapsed < 3, f"the check took {elapsed:.2f} s"


def test_no_failure_message_gives_the_answer_away() -> None:
    hints = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for make, _ in WRONG.values():
            hints.append(check(EXERCISE, make()).hint)
    for line in ("try:", "finally:", "await engine.dispose()", "await ping(engine)"):
        assert not any(line in hint for hint in hints), line
    nudge = get_exercise(EXERCISE).hints[0]
    assert "finally" not in nudge and "dispose" not in nudge and "app.state" not in nudge


EXIT_STACK = """\
from contextlib import AsyncExitStack, asynccontextmanager

from workshop_app.database import create_engine, ping


@asynccontextmanager
async def lifespan(app):
    async with AsyncExitStack() as on_shutdown:  # callbacks run last-in, first-out
        engine = create_engine(app.state.settings)
        on_shutdown.push_async_callback(engine.dispose)
        await ping(engine)
        yield {"engine": engine}
"""

CLASS_BASED = '''\
from workshop_app.database import create_engine, ping


class lifespan:
    """An async context manager written by hand: FastAPI calls lifespan(app)."""

    def __init__(self, app):
        self.settings = app.state.settings

    async def __aenter__(self):
        self.engine = create_engine(self.settings)
        try:
            await ping(self.engine, timeout=2)
        except BaseException:
            await self.engine.dispose()
            raise
        return {"engine": self.engine}

    async def __aexit__(self, *exc_info):
        await self.engine.dispose()
'''

WRAPPED_ERROR = """\
from contextlib import asynccontextmanager

from fastapi import FastAPI

from workshop_app.database import create_engine, ping


@asynccontextmanager
async def lifespan(app: FastAPI):
    engine = create_engine(app.state.settings)
    try:
        try:
            await ping(engine)
        except Exception as exc:
            raise RuntimeError("Cannot reach the database: check WORKSHOP_DATABASE_URL") from exc
        yield {"engine": engine}
    finally:
        await engine.dispose()
"""


@pytest.mark.parametrize(
    "source",
    [EXIT_STACK, CLASS_BASED, WRAPPED_ERROR],
    ids=["exit-stack", "class-based", "wrapped-startup-error"],
)
def test_other_correct_styles_pass(source: str) -> None:
    exercise = get_exercise(EXERCISE)

    started = time.perf_counter()
    result = check(EXERCISE, exercise.load(source))

    assert result.passed is True, result.hint
    assert time.perf_counter() - started < 3


def test_the_solution_passes_quickly_and_the_check_removes_its_listeners(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workshop_lab.exercises import ex02_factory

    watches = []
    original = ex02_factory._EngineWatch.__init__

    def remember(self) -> None:
        original(self)
        watches.append(self)

    monkeypatch.setattr(ex02_factory._EngineWatch, "__init__", remember)
    exercise = get_exercise(EXERCISE)

    started = time.perf_counter()
    result = check(EXERCISE, exercise.load(exercise.solution))

    assert result.passed is True, result.hint
    assert time.perf_counter() - started < 3
    (watch,) = watches
    assert watch.disposed  # it did listen...
    assert not event.contains(Engine, "engine_disposed", watch._on_dispose)  # ...and stopped
    assert not event.contains(Engine, "do_connect", watch._on_connect)


def test_the_hints_come_one_at_a_time_and_end_with_the_solution() -> None:
    from workshop_lab.exercises import hint

    shown = [repr(hint(EXERCISE)) for _ in range(4)]

    assert shown[0].startswith("Hint 1 of 3")
    assert '"The lifespan: startup, state, shutdown"' in shown[1]
    assert 'lab.solution("02.lifespan")' in shown[2] and shown[3] == shown[2]
