"""What the focused exercise tests share: a progress file of their own, and the hint a
variant of an exercise's solution gets.

Use in a test module::

    progress_file = exercise_helpers.progress_file  # autouse: checks record progress
    variant, hint_for = exercise_helpers.probe("09.subscribe_handler")
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workshop_lab.exercises import check, get_exercise
from workshop_lab.progress_store import ENV_VAR


@pytest.fixture(autouse=True)
def progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every check records progress: keep it out of the learner's home directory."""
    path = tmp_path / "progress.sqlite3"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def probe(exercise_id: str) -> tuple[Callable[[str, str], Any], Callable[[Any], str]]:
    """``variant(old, new)``: the solution with ``old`` replaced, loaded as a learner's
    candidate; ``hint_for(candidate)``: the hint its failed check gives."""
    exercise = get_exercise(exercise_id)

    def variant(old: str, new: str) -> Any:
        assert old in exercise.solution, old
        return exercise.load(exercise.solution.replace(old, new))

    def hint_for(candidate: Any) -> str:
        result = check(exercise_id, candidate)
        assert not result.passed
        return result.hint

    return variant, hint_for
