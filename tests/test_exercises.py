"""Checked exercises: every starter fails, every solution passes, and nothing ever raises."""

import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import exercise_helpers
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from workshop_lab.exercises import (
    CheckResult,
    CodeView,
    Exercise,
    ExerciseFailed,
    Notice,
    all_exercises,
    check,
    exercises_for,
    get_exercise,
    solution,
    starter,
)
from workshop_lab.exercises._registry import registry
from workshop_lab.paths import REPO_ROOT
from workshop_lab.progress_store import ENV_VAR, ProgressStore

HELLO = "00.hello_app"


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def _recorded(progress_file: Path, exercise: Exercise) -> Any:
    return (
        ProgressStore(progress_file)
        .load()
        .notebook(exercise.notebook_id)
        .exercises.get(exercise.id)
    )


# --- the contract every registered exercise must keep -------------------------------------------

EXERCISES = all_exercises()


# Every starter fails with a hint and every solution passes: tests/test_checkpoints.py runs
# both on the package as the exercise's notebook leaves it, where learners meet them.


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.id for e in EXERCISES])
def test_exercise_is_well_formed(exercise: Exercise) -> None:
    number = exercise.notebook_id.split("_", 1)[0]
    assert re.fullmatch(r"\d\d_\w+", exercise.notebook_id)
    assert re.fullmatch(rf"{number}\.\w+", exercise.id)
    assert exercise.title and exercise.instructions
    assert exercise.starter != exercise.solution
    assert callable(exercise.load(exercise.starter))
    assert exercise in exercises_for(exercise.notebook_id)


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.id for e in EXERCISES])
@pytest.mark.parametrize("which", ["starter", "solution"])
def test_exercise_code_is_lint_clean(exercise: Exercise, which: str, tmp_path: Path) -> None:
    """Learners copy this code: it follows the project's own lint and format rules."""
    pytest.importorskip("ruff")
    source = tmp_path / f"{which}.py"
    source.write_text(getattr(exercise, which))
    config = ["--config", str(REPO_ROOT / "pyproject.toml")]
    for command in (["check", "--quiet"], ["format", "--check", "--diff"]):
        run = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(source)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_registry_finds_the_welcome_exercise() -> None:
    assert HELLO in registry()
    assert [e.id for e in exercises_for("00_welcome")][:1] == [HELLO]
    assert exercises_for("no_such_notebook") == []


# --- check never raises into the notebook, and says what is wrong -------------------------------


def _app_with(register) -> Any:
    def create_hello_app() -> FastAPI:
        app = FastAPI()
        register(app)
        return app

    return create_hello_app


def _wrong_json(app: FastAPI) -> None:
    app.get("/hello")(lambda: {"message": "hello"})


def _wrong_status(app: FastAPI) -> None:
    app.get("/hello", status_code=201)(lambda: {"message": "Hello, workshop!"})


def _post_only(app: FastAPI) -> None:
    app.post("/hello")(lambda: {"message": "Hello, workshop!"})


def _trailing_slash(app: FastAPI) -> None:
    app.get("/hello/")(lambda: {"message": "Hello, workshop!"})


def _plain_text(app: FastAPI) -> None:
    app.get("/hello", response_class=PlainTextResponse)(lambda: "Hello, workshop!")


def _endpoint_raises(app: FastAPI) -> None:
    @app.get("/hello")
    async def hello() -> dict:
        raise KeyError("message")


def _raises_value_error() -> FastAPI:
    raise ValueError("no app today")


def _exits() -> FastAPI:
    raise SystemExit(3)


async def _async_factory() -> FastAPI:
    return FastAPI()


def _returns_none() -> None:
    FastAPI()


CASES = {
    "none": (None, "Expected the function create_hello_app, got NoneType"),
    "number": (42, "got int (42)"),
    "string": ("create_hello_app", "got str"),
    "app-instead-of-factory": (FastAPI(), "pass the function itself"),
    "factory-raises": (_raises_value_error, "raised ValueError in _raises_value_error(): no app"),
    "factory-exits": (_exits, "raised SystemExit"),
    "async-factory": (_async_factory, "`async def`"),
    "returns-none": (_returns_none, "returned None: end it with `return app`"),
    "returns-dict": (lambda: {"app": 1}, "returned a dict, not an ASGI app"),
    "route-missing": (_app_with(lambda app: None), "404 Not Found: the route is missing"),
    "post-only": (_app_with(_post_only), "405 Method Not Allowed"),
    "trailing-slash": (_app_with(_trailing_slash), 'exact path "/hello"'),
    "wrong-status": (_app_with(_wrong_status), "answered 201, expected 200"),
    "not-json": (_app_with(_plain_text), "did not answer JSON"),
    "wrong-json": (
        _app_with(_wrong_json),
        'returned {"message": "hello"}, expected {"message": "Hello, workshop!"}',
    ),
    "endpoint-raises": (_app_with(_endpoint_raises), "raised KeyError in hello(): 'message'"),
}


@pytest.mark.parametrize(("candidate", "hint"), CASES.values(), ids=CASES.keys())
def test_check_fails_with_a_specific_hint(candidate: Any, hint: str) -> None:
    result = check(HELLO, candidate)
    assert isinstance(result, CheckResult)
    assert result.passed is False
    assert hint in result.hint


def test_an_unknown_exercise_lists_the_valid_ones_and_records_nothing(
    progress_file: Path,
) -> None:
    result = check("00.no_such_thing", lambda: None)
    assert result.passed is False
    assert "'00.no_such_thing'" in result.hint and HELLO in result.hint
    assert not progress_file.exists()


def test_a_check_that_never_finishes_times_out_with_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def hangs(candidate: Any) -> None:
        import asyncio

        await asyncio.Event().wait()

    slow = Exercise(
        "99.slow", "99_test", "Slow", "Wait.", "x = 1", "x = 2", "x", hangs, timeout=0.2
    )
    monkeypatch.setitem(registry(), slow.id, slow)

    result = check(slow.id, 1)
    assert result.passed is False
    assert "The check stopped after 0.2 s" in result.hint


# --- results are recorded and displayable ------------------------------------------------------


def test_results_are_recorded_in_the_progress_file(progress_file: Path) -> None:
    exercise = get_exercise(HELLO)
    check(HELLO, exercise.load(exercise.starter))
    assert _recorded(progress_file, exercise).passed is False

    check(HELLO, exercise.load(exercise.solution))
    check(HELLO, None)
    record = _recorded(progress_file, exercise)
    assert (record.passed, record.attempts) == (True, 3)


def test_check_still_answers_when_progress_cannot_be_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(ENV_VAR, str(blocker / "progress.json"))

    exercise = get_exercise(HELLO)
    with pytest.warns(UserWarning, match="Could not save progress"):
        result = check(HELLO, exercise.load(exercise.solution))
    assert result.passed is True


@pytest.mark.anyio
async def test_check_works_inside_a_running_event_loop() -> None:
    """Jupyter cells run inside the kernel's loop; check is still a plain call there."""
    exercise = get_exercise(HELLO)
    assert check(HELLO, exercise.load(exercise.solution)).passed is True
    assert check(HELLO, exercise.load(exercise.starter)).passed is False


@pytest.mark.anyio
async def test_verify_raises_exercise_failed_for_the_starter() -> None:
    exercise = get_exercise(HELLO)
    with pytest.raises(ExerciseFailed, match="404"):
        await exercise.verify(exercise.load(exercise.starter))


def test_results_display_passed_or_failed_in_words_and_symbol() -> None:
    exercise = get_exercise(HELLO)
    passed = check(HELLO, exercise.load(exercise.solution))._repr_mimebundle_()
    failed = check(HELLO, exercise.load(exercise.starter))._repr_mimebundle_()

    assert passed["text/plain"].startswith("\u2713 PASSED  00.hello_app")
    assert "PASSED" in passed["text/html"]
    assert failed["text/plain"].startswith("\u2717 FAILED  00.hello_app")
    assert "\nHint: GET /hello answered 404" in failed["text/plain"]
    assert "FAILED" in failed["text/html"] and "Hint:" in failed["text/html"]


def test_a_hint_is_escaped_in_html() -> None:
    result = CheckResult(HELLO, False, "Hello app", hint="<script>alert(1)</script>")
    shown = result._repr_mimebundle_()["text/html"]
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_starter_and_solution_show_the_code() -> None:
    exercise = get_exercise(HELLO)
    shown_starter, shown_solution = starter(HELLO), solution(HELLO)

    assert isinstance(shown_starter, CodeView)
    assert shown_starter._repr_mimebundle_()["text/plain"] == exercise.starter
    assert shown_solution._repr_mimebundle_()["text/plain"] == exercise.solution
    solution_html = shown_solution._repr_mimebundle_()["text/html"]
    assert "create_hello_app" in solution_html and "<span" in solution_html  # highlighted
    assert html.escape(exercise.instructions) in shown_starter._repr_mimebundle_()["text/html"]


def test_starter_and_solution_of_an_unknown_exercise_explain_instead_of_raising() -> None:
    for shown in (starter("nope"), solution("nope")):
        assert isinstance(shown, Notice)
        assert "There is no exercise 'nope'" in shown._repr_mimebundle_()["text/plain"]
