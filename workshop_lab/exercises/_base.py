"""What an exercise is, how its code is shown to the learner, and what every check shares.

An exercise couples instructions and two pieces of source code (the starter the
learner completes, the solution revealed on demand) with a ``verify`` coroutine
that exercises the learner's object against a real app and explains, in one
specific sentence, what is still wrong, and with hints that come one step at a
time: a nudge, then where the notebook teaches it, then the solution on request.
"""

from __future__ import annotations

import html
import importlib
import inspect
import re
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ExerciseFailed(Exception):
    """Raised by ``verify`` with the hint to show; a failed check, not a crash."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


@dataclass(frozen=True)
class Exercise:
    """One checked exercise; ``name`` is the object that ``starter``/``solution`` define."""

    id: str
    notebook_id: str
    title: str
    instructions: str
    starter: str = field(repr=False)
    solution: str = field(repr=False)
    name: str
    verify: Callable[[Any], Awaitable[None]] = field(repr=False)  # repr would show an address
    success: str = "All checks passed."
    timeout: float = 20.0
    # Shown one per ``lab.hint(id)`` call: a nudge that names no code, then a pointer to
    # the section that teaches it; after them, ``lab.solution(id)``.
    hints: tuple[str, ...] = ()

    def load(self, source: str) -> Any:
        """Run ``source`` in a fresh namespace and return the object it defines as ``name``.

        This is what a learner does by running a cell; tests use it to prove the
        starter fails and the solution passes.
        """
        namespace: dict[str, Any] = {"__name__": f"exercise_{self.id.replace('.', '_')}"}
        # dont_inherit: a cell does not get this module's `from __future__ import annotations`
        # (string annotations would leave a pydantic class in the source unresolvable).
        exec(compile(source, f"<exercise {self.id}>", "exec", dont_inherit=True), namespace)
        return namespace[self.name]


def _highlight(source: str) -> str:
    """Syntax-highlighted HTML when Pygments is there (it comes with Jupyter), else <pre>."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{html.escape(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


@dataclass(frozen=True)
class CodeView:
    """Displayable source code: the code itself as text, highlighted as HTML."""

    title: str
    source: str

    def __repr__(self) -> str:
        return self.source

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        title = f"<div style='font-weight:bold'>{html.escape(self.title)}</div>"
        return {"text/plain": self.source, "text/html": title + _highlight(self.source)}


@dataclass(frozen=True)
class Notice:
    """A short displayable message, used instead of a traceback for a learner's typo."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": f"<pre>{html.escape(self.text)}</pre>"}


# --- the harness every check shares ----------------------------------------------------


def article(name: str) -> str:
    """``a dict``, ``an AsyncEngine``: a type's name the way a hint's sentence reads it."""
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"


def describe_error(exc: BaseException) -> str:
    """Type and first line, for a hint: without SQLAlchemy's link or a memory address."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r" \(Background on this error at: [^)]*\)", "", first)
    first = re.sub(r"<(\w+) at 0x[0-9a-f]+>", r"<\1>", first)
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def is_coroutine_function(candidate: Any) -> bool:
    """Whether calling ``candidate`` (a function, or an object's ``__call__``) makes a coroutine."""
    return inspect.iscoroutinefunction(candidate) or inspect.iscoroutinefunction(
        type(candidate).__call__
    )


def plain_result(value: Any, hint: str) -> Any:
    """What a plain function returned, or ``hint`` when it was written with `async def`."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never meant to run: no "never awaited" warning
        raise ExerciseFailed(hint)
    return value


def require_arguments(candidate: Any, args: tuple[Any, ...], hint: str) -> None:
    """Fail with ``hint`` when ``candidate`` cannot take ``args``; with no signature to read
    (a builtin), the real call decides."""
    try:
        inspect.signature(candidate).bind(*args)
    except TypeError:
        raise ExerciseFailed(hint) from None
    except ValueError:
        pass


def call_factory(candidate: Any, function: str, exercise_id: str, *, how: str) -> Any:
    """Call the learner's app factory: one hint for each way a factory is handed over wrong."""
    from starlette.applications import Starlette

    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app object; pass the function itself: "
            f'lab.check("{exercise_id}", {function}), with no parentheses after its name.'
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function {function}, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Run the cell that defines it, then pass the function."
        )
    app = plain_result(
        candidate(),
        f"{function} is `async def`, so calling it returns a coroutine, not an app. "
        "Building an app waits for nothing: make the factory a plain function.",
    )
    if app is None:
        raise ExerciseFailed(f"{function}() returned None: end it with `return app`.")
    if not isinstance(app, Starlette):
        raise ExerciseFailed(
            f"{function}() returned {article(type(app).__name__)}, not an ASGI app: {how}"
        )
    return app


def learner_module(name: str) -> Any:
    """A module of the learner's package as the app sees it now (notebooks reload them)."""
    return importlib.import_module(f"workshop_app.{name}")


def learner_settings(**overrides: Any) -> Any:
    """The learner's ``Settings`` for a check: quiet, no limiter, a private database."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": "sqlite+aiosqlite:///:memory:",
        "rate_limit_enabled": False,  # a later checkpoint's limiter; ignored before it exists
        "log_level": "CRITICAL",  # a failing attempt logs a traceback; keep it out of the cell
    }
    return learner_module("config").Settings(**(values | overrides))


def learner_app(**overrides: Any) -> Any:
    """The learner's ``create_app()``, built from ``learner_settings(**overrides)``."""
    return learner_module("main").create_app(learner_settings(**overrides))


@contextmanager
def scratch_database_url(prefix: str, *, memory: bool = False) -> Iterator[str]:
    """A SQLite database of the check's own that several connections share (``:memory:`` is
    one connection for everyone); ``memory`` spares a file's fsyncs where SQLite has the
    ``memdb`` VFS (3.36+): it lives while a connection of the app's engine does."""
    if memory and sqlite3.sqlite_version_info >= (3, 36):
        yield f"sqlite+aiosqlite:///file:/{prefix}{uuid.uuid4().hex}?vfs=memdb&uri=true"
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield f"sqlite+aiosqlite:///{(Path(folder) / 'check.db').as_posix()}"


@dataclass(frozen=True)
class Person:
    """A user the check stores before its probes, to find again in what the app did."""

    id: int
    name: str
    email: str


def add_users(session: Any, people: tuple[Person, ...]) -> None:
    """Add ``people`` to ``session`` as the learner's ``User`` rows (they never log in)."""
    user = learner_module("models").User
    for p in people:
        session.add(user(id=p.id, email=p.email, full_name=p.name, password_hash="not-a-real-hash"))


def require_lifespan(candidate: Any, name: str, exercise_id: str, *, awaits: str) -> None:
    """Catch the shapes a server cannot use as a lifespan; ``awaits``: why it is `async`."""
    from starlette.applications import Starlette

    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app; pass the lifespan function itself: "
            f'lab.check("{exercise_id}", {name}), without parentheses.'
        )
    require_callable(candidate, name)
    if inspect.isasyncgenfunction(candidate):
        raise ExerciseFailed(
            f"Your {name} is an async generator without @asynccontextmanager. FastAPI "
            "still accepts that, but only through a deprecated path (it warns, and a later "
            "version will refuse it): put @asynccontextmanager on the line above `async def`."
        )
    if inspect.isgeneratorfunction(candidate):
        raise ExerciseFailed(
            f"Your {name} is written with `def`: {awaits}, so it must be an `async def`, "
            "decorated with @asynccontextmanager."
        )
    if inspect.iscoroutinefunction(candidate):
        raise ExerciseFailed(
            f"Your {name} is a plain `async def` that returns instead of yielding: a lifespan "
            "yields its state once, between startup and shutdown, under @asynccontextmanager."
        )


@asynccontextmanager
async def entered_lifespan(candidate: Any, app: Any, name: str) -> AsyncIterator[Any]:
    """Run the learner's lifespan on ``app`` as a server does, and yield its state; each
    shape that cannot serve gets its hint instead of the server's error."""
    manager = plain_result(
        candidate(app),
        f"Calling your {name} returned a coroutine: it must return an async context manager. "
        "Write it as an `async def` with one yield, under @asynccontextmanager.",
    )
    generator = getattr(manager, "gen", None)
    if inspect.iscoroutine(generator):  # @asynccontextmanager on a function with no yield
        generator.close()
        raise ExerciseFailed(
            f"Your {name} has no yield, so @asynccontextmanager cannot use it: a lifespan "
            "yields its state once, between startup and shutdown."
        )
    if not hasattr(manager, "__aenter__") or not hasattr(manager, "__aexit__"):
        raise ExerciseFailed(
            f"Calling your {name} returned {article(type(manager).__name__)}, not an async "
            "context manager: write it as an `async def` with one yield, under "
            "@asynccontextmanager (not @contextmanager)."
        )
    async with AsyncExitStack() as stack:
        try:
            state = await stack.enter_async_context(manager)
        except RuntimeError as exc:
            if "didn't yield" not in str(exc):
                raise
            raise ExerciseFailed(
                f"Your {name} returned without reaching its yield: the server waits for "
                "the state there, and nothing can run before it is yielded."
            ) from None
        yield state


def require_callable(candidate: Any, name: str, *, is_async: bool | None = None) -> None:
    """Fail with a hint when ``candidate`` is not what the exercise asks the learner to pass;
    ``is_async`` True wants a coroutine function, False a plain one, None either."""
    if candidate is None or not callable(candidate):
        raise ExerciseFailed(
            f"Pass your {name} itself (the function or class the cell defines), "
            f"not {type(candidate).__name__}. Run the cell that defines it, then check again."
        )
    if is_async is not None and is_coroutine_function(candidate) != is_async:
        wanted = "async def" if is_async else "def"
        raise ExerciseFailed(f"Your {name} must be written with `{wanted}`.")


class StateSpy:
    """ASGI wrapper that keeps a copy of the lifespan state the first request saw.

    ``state`` stays ``None`` until a request has run, that is, until the app started.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.state is None:
            self.state = dict(scope.get("state") or {})
        await self.app(scope, receive, send)
