"""Find every exercise: one module per notebook, each with an ``EXERCISES`` sequence.

Adding exercises for a notebook means adding a module to this package (its name
must not start with an underscore); nothing else needs editing, and the generic
test (starter fails, solution passes) picks the new exercises up by itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from ._base import Exercise

_PACKAGE = __package__ or "workshop_lab.exercises"


class UnknownExerciseError(KeyError):
    """An exercise id that no module registers; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


def exercise_modules() -> list[str]:
    """The exercise modules of this package, by name (private modules excluded)."""
    here = [str(Path(__file__).parent)]
    return sorted(
        f"{_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules(here)
        if not info.name.startswith("_")
    )


@cache
def registry() -> dict[str, Exercise]:
    """All exercises by id, ordered by notebook and then as each module lists them."""
    found: dict[str, Exercise] = {}
    for module_name in exercise_modules():
        module = importlib.import_module(module_name)
        exercises = getattr(module, "EXERCISES", None)
        if exercises is None:
            raise TypeError(f"{module_name} defines no EXERCISES sequence")
        for exercise in exercises:
            if exercise.id in found:
                raise ValueError(f"exercise id {exercise.id!r} is registered twice")
            found[exercise.id] = exercise
    ordered = sorted(found.values(), key=lambda ex: ex.notebook_id)  # stable: keeps module order
    return {exercise.id: exercise for exercise in ordered}


def all_exercises() -> list[Exercise]:
    return list(registry().values())


def get_exercise(exercise_id: str) -> Exercise:
    try:
        return registry()[exercise_id]
    except KeyError:
        valid = ", ".join(registry()) or "(none registered)"
        raise UnknownExerciseError(
            f"There is no exercise {exercise_id!r}. Valid ids: {valid}."
        ) from None


def exercises_for(notebook_id: str) -> list[Exercise]:
    """The exercises of one notebook, in the order the notebook meets them."""
    return [exercise for exercise in registry().values() if exercise.notebook_id == notebook_id]
