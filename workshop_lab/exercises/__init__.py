"""Checked exercises: ``check`` a candidate, show its ``starter`` or ``solution``.

Each notebook's exercises live in their own module of this package (see
``_registry``); everything here is safe to call from a notebook cell: mistakes
come back as displayable messages, not tracebacks.
"""

from __future__ import annotations

from ._base import CodeView, Exercise, ExerciseFailed, Notice
from ._check import CheckResult, check, hint
from ._registry import (
    UnknownExerciseError,
    all_exercises,
    exercises_for,
    get_exercise,
)

__all__ = [
    "CheckResult",
    "CodeView",
    "Exercise",
    "ExerciseFailed",
    "Notice",
    "UnknownExerciseError",
    "all_exercises",
    "check",
    "exercises_for",
    "get_exercise",
    "hint",
    "solution",
    "starter",
]


def starter(exercise_id: str) -> CodeView | Notice:
    """The code to start from, with the instructions as its title."""
    try:
        exercise = get_exercise(exercise_id)
    except UnknownExerciseError as exc:
        return Notice(str(exc))
    return CodeView(f"{exercise.id} - {exercise.title}: {exercise.instructions}", exercise.starter)


def solution(exercise_id: str) -> CodeView | Notice:
    """The reference solution, for when a learner asks to see it."""
    try:
        exercise = get_exercise(exercise_id)
    except UnknownExerciseError as exc:
        return Notice(str(exc))
    return CodeView(f"{exercise.id} - {exercise.title}: solution", exercise.solution)
