"""Run a learner's candidate against its exercise and report, never raise.

A traceback in the middle of a lesson reads as "the workshop is broken"; a
failed check with a hint reads as "my code is not there yet". So every outcome,
including an exception inside the learner's code, becomes a ``CheckResult``.
"""

from __future__ import annotations

import asyncio
import html
import sysconfig
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import run_sync
from ..progress_store import ProgressStore, default_store
from ._base import Exercise, ExerciseFailed
from ._registry import UnknownExerciseError, get_exercise


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


def _learner_frame(exc: BaseException) -> str | None:
    """The innermost frame from the learner's code (not the stdlib, libraries or the toolkit)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.startswith(_NOT_LEARNER_CODE):
            return frame.name
    return None


def _describe_crash(exercise: Exercise, exc: BaseException) -> str:
    """Name the exception, its message and the learner's function it came from."""
    function = _learner_frame(exc)
    where = f" in {function}()" if function else ""
    detail = f": {exc}" if str(exc) else ""
    return (
        f"Running your {exercise.name} raised {type(exc).__name__}{where}{detail}. "
        "Fix that error, re-run the cell, then check again."
    )


async def _verify(exercise: Exercise, candidate: Any) -> None:
    try:
        await asyncio.wait_for(exercise.verify(candidate), timeout=exercise.timeout)
    except TimeoutError:
        raise ExerciseFailed(
            f"The check did not finish within {exercise.timeout:g} s: look for an endless "
            "loop, or an await that never returns (an ASGI app must send a response)."
        ) from None


def _record(store: ProgressStore, exercise: Exercise, result: CheckResult) -> None:
    try:
        store.record_exercise(
            exercise.notebook_id, exercise.id, passed=result.passed, hint=result.hint
        )
    except OSError as exc:  # an unwritable home must not hide the verdict
        warnings.warn(f"Could not save progress to {store.path}: {exc}", stacklevel=3)


def check(exercise_id: str, candidate: Any, *, store: ProgressStore | None = None) -> CheckResult:
    """Verify ``candidate`` for ``exercise_id``; record and return the result.

    Synchronous on purpose, so a plain cell (inside Jupyter's running loop) can
    call it: the async verification runs through ``run_sync``.
    """
    try:
        exercise = get_exercise(exercise_id)
    except UnknownExerciseError as exc:
        return CheckResult(exercise_id, False, "unknown exercise", hint=str(exc))
    try:
        run_sync(_verify(exercise, candidate))
    except ExerciseFailed as exc:
        result = CheckResult(exercise.id, False, exercise.title, hint=exc.hint)
    except (Exception, SystemExit) as exc:  # the learner's code, whatever it did
        result = CheckResult(
            exercise.id, False, exercise.title, hint=_describe_crash(exercise, exc)
        )
    else:
        result = CheckResult(exercise.id, True, f"{exercise.title}. {exercise.success}")
    _record(store or default_store(), exercise, result)
    return result
