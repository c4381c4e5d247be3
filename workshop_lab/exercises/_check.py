"""Run a learner's candidate against its exercise and report, never raise.

A traceback in the middle of a lesson reads as "the workshop is broken"; a
failed check with a hint reads as "my code is not there yet". So every outcome,
including an exception inside the learner's code, becomes a ``CheckResult``.

The check runs on a thread of its own, with a hard deadline: code that never gives
control back (``while True: pass``) cannot be stopped by an asyncio timeout, so the
thread is interrupted from outside and the learner is told what happened.
"""

from __future__ import annotations

import asyncio
import ctypes
import html
import sysconfig
import threading
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..progress_store import ProgressStore, default_store
from ..workspace import PACKAGE, workspace_dir
from ._base import Exercise, ExerciseFailed, Notice
from ._registry import UnknownExerciseError, get_exercise

GRACE_SECONDS = 2.0  # how long an interrupted check gets to unwind


@dataclass(frozen=True)
class CheckResult:
    """The verdict: PASSED or FAILED in words and a symbol, and a hint when failed."""

    exercise_id: str
    passed: bool
    message: str
    hint: str | None = None

    @property
    def verdict(self) -> str:
        return "\u2713 PASSED" if self.passed else "\u2717 FAILED"

    def __repr__(self) -> str:
        lines = [f"{self.verdict}  {self.exercise_id}: {self.message}"]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        colour = "#1a7f37" if self.passed else "#cf222e"
        style = f"border-left:4px solid {colour};padding-left:.6em"
        parts = [
            f"<div class='workshop-check' style='{style}'>",
            f"<b style='color:{colour}'>{html.escape(self.verdict)}</b> ",
            f"<code>{html.escape(self.exercise_id)}</code>: {html.escape(self.message)}",
        ]
        if self.hint:
            parts.append(f"<div><b>Hint:</b> {html.escape(self.hint)}</div>")
        parts.append("</div>")
        return {"text/plain": repr(self), "text/html": "".join(parts)}


_NOT_LEARNER_CODE = tuple(
    {sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parents[1])}
)


def _innermost_own_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of code the learner owns: a cell, or their workspace package."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.startswith(_NOT_LEARNER_CODE):
            return frame
    return None


def _package_module(filename: str) -> str | None:
    """``workshop_app/errors.py`` when ``filename`` is a module of the workspace package."""
    try:
        relative = Path(filename).resolve().relative_to(workspace_dir().resolve())
    except ValueError:
        return None
    return relative.as_posix() if relative.parts[:1] == (PACKAGE,) else None


def _describe_crash(exercise: Exercise, exc: BaseException) -> str:
    """Name the exception and say whose code raised it: the learner's cell, or a module of
    their package (which they may have broken, and can restore)."""
    frame = _innermost_own_frame(exc)
    where = f" in {frame.name}()" if frame else ""
    detail = f"{type(exc).__name__}{where}" + (f": {exc}" if str(exc) else "")
    module = _package_module(frame.filename) if frame else None
    if module is not None:
        return (
            f"Your package's {module} raised {detail} (line {frame.lineno}) while the check ran "
            f"your {exercise.name}. If you edited that module, lab.changed_modules() shows how "
            f'it differs and lab.restore("{module}") puts it back; then run the notebook\'s '
            "cells from the top."
        )
    return (
        f"Running your {exercise.name} raised {detail}. "
        "Fix that error, re-run the cell, then check again."
    )


class _Interrupted(BaseException):
    """Raised inside a check that overran its deadline, to stop the learner's code."""


def _interrupt(thread: threading.Thread) -> None:
    """Raise ``_Interrupted`` in ``thread`` at its next Python instruction."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(_Interrupted)
        )


def _timed_out(exercise: Exercise, still_running: bool) -> str:
    message = (
        f"The check stopped after {exercise.timeout:g} s: your {exercise.name} never finished. "
        "Look for a loop that never awaits (`while True: pass`), a blocking call such as "
        "time.sleep() in async code, or an await that never returns (an ASGI app must send "
        "its response)."
    )
    if still_running:
        message += (
            " Your code is still running in the background and could not be stopped: "
            "restart the kernel (Kernel > Restart Kernel) before you go on."
        )
    return message


def _run(exercise: Exercise, candidate: Any) -> str | None:
    """Verify on a worker thread with its own event loop; the hint, or None when it passed."""
    outcome: dict[str, BaseException | None] = {}

    def worker() -> None:
        try:
            asyncio.run(asyncio.wait_for(exercise.verify(candidate), exercise.timeout))
            outcome["error"] = None
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=worker, name=f"workshop-check-{exercise.id}", daemon=True)
    thread.start()
    thread.join(exercise.timeout + GRACE_SECONDS)
    if thread.is_alive():
        _interrupt(thread)
        thread.join(GRACE_SECONDS)
        return _timed_out(exercise, still_running=thread.is_alive())
    error = outcome["error"]
    if error is None:
        return None
    if isinstance(error, ExerciseFailed):
        return error.hint
    if isinstance(error, TimeoutError | _Interrupted):
        return _timed_out(exercise, still_running=False)
    if isinstance(error, KeyboardInterrupt):
        raise error
    # Anything else came from the learner's code: pytest.fail() raises a BaseException,
    # sys.exit() a SystemExit. None of them may crash the check.
    return _describe_crash(exercise, error)


def _record(store: ProgressStore, exercise: Exercise, result: CheckResult) -> None:
    try:
        store.record_exercise(
            exercise.notebook_id, exercise.id, passed=result.passed, hint=result.hint
        )
    except OSError as exc:  # an unwritable home must not hide the verdict
        warnings.warn(f"Could not save progress to {store.path}: {exc}", stacklevel=3)


def check(exercise_id: str, candidate: Any, *, store: ProgressStore | None = None) -> CheckResult:
    """Verify ``candidate`` for ``exercise_id``; record and return the result.

    Synchronous on purpose, so a plain cell (inside Jupyter's running loop) can call it.
    """
    try:
        exercise = get_exercise(exercise_id)
    except UnknownExerciseError as exc:
        return CheckResult(exercise_id, False, "unknown exercise", hint=str(exc))
    hint = _run(exercise, candidate)
    if hint is None:
        result = CheckResult(exercise.id, True, f"{exercise.title}. {exercise.success}")
    else:
        if exercise.hints:
            hint += f' Stuck? lab.hint("{exercise.id}") gives a hint, one step at a time.'
        result = CheckResult(exercise.id, False, exercise.title, hint=hint)
    _record(store or default_store(), exercise, result)
    return result


_hints_given: dict[str, int] = {}


def hint(exercise_id: str) -> Notice:
    """The next hint for an exercise: a nudge, then where the notebook teaches it, then
    the way to the solution. Each call gives one more."""
    try:
        exercise = get_exercise(exercise_id)
    except UnknownExerciseError as exc:
        return Notice(str(exc))
    steps = [*exercise.hints, f'One solution: lab.solution("{exercise.id}").']
    given = _hints_given.get(exercise.id, 0)
    _hints_given[exercise.id] = min(given + 1, len(steps) - 1)
    return Notice(f"Hint {given + 1} of {len(steps)} for {exercise.id}: {steps[given]}")
