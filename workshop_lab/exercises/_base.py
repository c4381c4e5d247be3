"""What an exercise is, and how its code is shown to the learner.

An exercise couples instructions and two pieces of source code (the starter the
learner completes, the solution revealed on demand) with a ``verify`` coroutine
that exercises the learner's object against a real app and explains, in one
specific sentence, what is still wrong, and with hints that come one step at a
time: a nudge, then where the notebook teaches it, then the solution on request.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


def require_callable(candidate: Any, name: str, *, is_async: bool | None = None) -> None:
    """Fail with a hint when ``candidate`` is not what the exercise asks the learner to pass.

    ``is_async=True`` wants a coroutine function (or an object whose ``__call__`` is one),
    ``False`` a plain one; ``None`` either.
    """
    if candidate is None or not callable(candidate):
        raise ExerciseFailed(
            f"Pass your {name} itself (the function or class the cell defines), "
            f"not {type(candidate).__name__}. Run the cell that defines it, then check again."
        )
    if is_async is None:
        return
    target = candidate if inspect.isfunction(candidate) else type(candidate).__call__
    if inspect.iscoroutinefunction(target) != is_async:
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
