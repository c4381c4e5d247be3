"""Each notebook's exercise tests run where learners meet the exercises: on the package as
that notebook leaves it (its checkpoint), not on the finished app, which later notebooks
changed. One pytest process per notebook, with ``WORKSHOP_TEST_CHECKPOINT`` set (see the
root conftest.py): every wrong solution of ``tests/test_exercises_NN_name.py`` must get its
hint there, and every correct one must pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FILES = sorted(TESTS.glob("test_exercises_[0-9][0-9]_*.py"))


def test_every_notebook_with_exercises_has_its_test_file():
    from workshop_lab.exercises import all_exercises

    notebooks = {exercise.notebook_id for exercise in all_exercises()}
    assert {path.stem.removeprefix("test_exercises_") for path in FILES} == notebooks


@pytest.mark.parametrize(
    "path", FILES, ids=[path.stem.removeprefix("test_exercises_") for path in FILES]
)
def test_the_exercise_checks_hold_at_their_checkpoint(path: Path) -> None:
    notebook = path.stem.removeprefix("test_exercises_")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(path),
        ],
        cwd=TESTS.parent,
        # No plugin is loaded by entry point: the exercise tests need none, and loading
        # them all (hypothesis, schemathesis, nbval's nbformat...) took 7 of every 10 s.
        env={
            **os.environ,
            "WORKSHOP_TEST_CHECKPOINT": notebook,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
