"""What the focused exercise tests share: a progress file of their own, a check that must
answer in time, and the hint a variant of an exercise's solution gets.

Use in a test module::

    progress_file = exercise_helpers.progress_file  # autouse: checks record progress
    variant, hint_for = exercise_helpers.probe("09.subscribe_handler")
    result = timed_check("09.subscribe_handler", candidate)
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workshop_lab.exercises import CheckResult, check, get_exercise
from workshop_lab.progress_store import ENV_VAR

MAX_SECONDS = 3.0  # CONTRIBUTING: every check answers in under 3 s


@pytest.fixture(autouse=True)
def progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every check records progress: keep it out of the learner's home directory."""
    path = tmp_path / "progress.sqlite3"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def timed_check(exercise_id: str, candidate: Any) -> CheckResult:
    """``check``, failing the test when the learner would wait MAX_SECONDS or more."""
    started = time.perf_counter()
    result = check(exercise_id, candidate)
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"the check took {elapsed:.2f} s"
    return result


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
