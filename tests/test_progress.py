"""Progress store and dashboard: what is kept, how it survives damage and concurrency."""

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workshop_lab.dashboard import DashboardWidget, progress_dashboard
from workshop_lab.progress_store import (
    ENV_VAR,
    ProgressFileWarning,
    ProgressStore,
    default_store,
    file_lock,
    progress_path,
)


@pytest.fixture
def store(tmp_path: Path) -> ProgressStore:
    return ProgressStore(tmp_path / "state" / "progress.json")


def test_quiz_keeps_first_and_best_attempt_and_counts_attempts(store: ProgressStore) -> None:
    store.record_quiz_answer("01_config", "q1", correct=False, score=0.25, answer="B")
    store.record_quiz_answer("01_config", "q1", correct=True, score=0.5, answer=["A", "C"])
    store.record_quiz_answer("01_config", "q1", correct=True, score=1.0, answer=["A"])
    store.record_quiz_answer("01_config", "q1", correct=False, score=0.0, answer="D")

    record = store.load().notebook("01_config").quizzes["q1"]
    assert record.attempts == 4
    assert (record.first.correct, record.first.score, record.first.answer) == (False, 0.25, "B")
    assert (record.best.correct, record.best.score, record.best.answer) == (True, 1.0, ["A"])


def test_quiz_best_prefers_correct_over_score_and_keeps_the_earlier_on_a_tie(
    store: ProgressStore,
) -> None:
    store.record_quiz_answer("01_config", "q1", correct=False, score=0.9, answer="partial")
    store.record_quiz_answer("01_config", "q1", correct=True, score=0.5, answer="first right")
    store.record_quiz_answer("01_config", "q1", correct=True, score=0.5, answer="second right")

    best = store.load().notebook("01_config").quizzes["q1"].best
    assert best.answer == "first right"


def test_quiz_answers_of_any_type_are_stored_as_json(store: ProgressStore) -> None:
    class Choice:
        def __repr__(self) -> str:
            return "Choice(2)"

    store.record_quiz_answer("00_welcome", "a", correct=True, score=1, answer=("x", 2))
    store.record_quiz_answer("00_welcome", "b", correct=True, score=1, answer=Choice())

    stored = json.loads(store.path.read_text())["notebooks"]["00_welcome"]["quizzes"]
    assert stored["a"]["first"]["answer"] == ["x", 2]
    assert stored["b"]["first"]["answer"] == "Choice(2)"


def test_exercise_passed_once_stays_passed_and_attempts_count(store: ProgressStore) -> None:
    store.record_exercise("00_welcome", "00.hello_app", passed=False, hint="route missing")
    store.record_exercise("00_welcome", "00.hello_app", passed=True)
    store.record_exercise("00_welcome", "00.hello_app", passed=False, hint="wrong JSON")

    record = store.load().notebook("00_welcome").exercises["00.hello_app"]
    assert (record.passed, record.attempts, record.last_hint) == (True, 3, "wrong JSON")


def test_file_is_versioned_json(store: ProgressStore) -> None:
    store.record_exercise("00_welcome", "00.hello_app", passed=True)

    data = json.loads(store.path.read_text())
    assert data["version"] == 1
    assert data["notebooks"]["00_welcome"]["exercises"]["00.hello_app"]["passed"] is True


def test_loading_a_missing_file_is_empty_and_creates_nothing(store: ProgressStore) -> None:
    assert store.load().notebooks == {}
    assert not store.path.parent.exists()


def test_writes_leave_only_the_file_and_its_lock(store: ProgressStore) -> None:
    for i in range(20):
        store.record_exercise("00_welcome", f"ex{i}", passed=i % 2 == 0)

    names = sorted(p.name for p in store.path.parent.iterdir())
    assert names == ["progress.json", "progress.json.lock"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    store: ProgressStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record_exercise("00_welcome", "00.hello_app", passed=True)
    before = store.path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.record_exercise("00_welcome", "other", passed=True)

    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "progress.json",
        "progress.json.lock",
    ]


def _assert_moved_aside(store: ProgressStore, content: str, kind: str) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(content)

    with pytest.warns(ProgressFileWarning) as caught:
        loaded = store.load()

    assert loaded.notebooks == {}
    moved = [p for p in store.path.parent.iterdir() if p.name.startswith(f"progress.json.{kind}-")]
    assert len(moved) == 1
    assert moved[0].read_text() == content  # nothing is lost: the learner can recover it
    message = str(caught[0].message)
    assert str(moved[0]) in message
    assert "starts fresh" in message
    assert not store.path.exists()

    store.record_exercise("00_welcome", "00.hello_app", passed=True)  # and work goes on
    assert store.load().notebook("00_welcome").exercises["00.hello_app"].passed


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[1, 2]",
        '{"version": 1, "notebooks": []}',
        '{"version": 1, "notebooks": {"00_welcome": {"exercises": {"x": {"passed": "maybe"}}}}}',
    ],
    ids=["bad-json", "empty", "list", "wrong-notebooks", "wrong-field"],
)
def test_a_corrupt_file_is_moved_aside_with_a_warning(store: ProgressStore, content: str) -> None:
    _assert_moved_aside(store, content, "corrupt")


def test_an_unknown_version_is_moved_aside_with_a_warning(store: ProgressStore) -> None:
    _assert_moved_aside(store, '{"version": 2, "notebooks": {}}', "unknown-version")


def test_a_corrupt_file_is_moved_aside_when_recording_too(store: ProgressStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("garbage")

    with pytest.warns(ProgressFileWarning, match="corrupt-"):
        store.record_quiz_answer("00_welcome", "q1", correct=True, score=1, answer="A")

    assert list(store.load().notebook("00_welcome").quizzes) == ["q1"]


def test_a_file_that_cannot_be_locked_or_moved_is_still_read(
    store: ProgressStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only folder (a shared or mounted home) must not break the dashboard."""
    module = importlib.import_module("workshop_lab.progress_store")
    store.record_exercise("00_welcome", "00.hello_app", passed=True)

    def read_only(*paths: Path) -> None:
        raise PermissionError(f"read-only: {paths[0]}")

    monkeypatch.setattr(module, "file_lock", read_only)
    assert store.load().notebook("00_welcome").exercises["00.hello_app"].passed

    store.path.write_text("garbage")
    monkeypatch.setattr(module.os, "replace", read_only)
    with pytest.warns(ProgressFileWarning, match="could not be moved aside .*starts fresh"):
        assert store.load().notebooks == {}
    assert store.path.read_text() == "garbage"


def test_reset_one_notebook_or_all(store: ProgressStore) -> None:
    store.record_exercise("00_welcome", "00.hello_app", passed=True)
    store.record_quiz_answer("01_config", "q1", correct=True, score=1, answer="A")

    store.reset("00_welcome")
    assert list(store.load().notebooks) == ["01_config"]

    store.reset("never-seen")  # harmless
    store.reset()
    assert store.load().notebooks == {}


def test_env_var_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a.json"))
    assert default_store().path == tmp_path / "a.json"

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "b.json"))
    default_store().record_exercise("00_welcome", "00.hello_app", passed=True)
    assert (tmp_path / "b.json").exists()
    assert not (tmp_path / "a.json").exists()


def test_default_path_is_in_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert progress_path() == tmp_path / ".fastapi-workshop" / "progress.json"


WRITER = """
import sys, time
from pathlib import Path
from workshop_lab.progress_store import ProgressStore

path, tag, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = ProgressStore(path)
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    store.record_quiz_answer("01_config", f"{tag}-{i}", correct=True, score=1.0, answer=i)
    store.record_quiz_answer("01_config", "shared", correct=i % 2 == 0, score=i, answer=tag)
    store.record_exercise("02_app", "02.shared", passed=False, hint=tag)
"""


def _writer(path: Path, tag: str, count: int, go: Path) -> subprocess.Popen:
    args = [sys.executable, "-c", WRITER, str(path), tag, str(count), str(go)]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path, go, count = tmp_path / "progress.json", tmp_path / "go", 60
    writers = [_writer(path, tag, count, go) for tag in ("left", "right")]
    go.touch()  # both start writing at the same moment
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr

    notebook = ProgressStore(path).load().notebook("01_config")
    expected = {f"{tag}-{i}" for tag in ("left", "right") for i in range(count)} | {"shared"}
    assert set(notebook.quizzes) == expected
    assert notebook.quizzes["shared"].attempts == 2 * count
    assert notebook.quizzes["shared"].best.score == count - 2  # the best correct one (even i)
    exercise = ProgressStore(path).load().notebook("02_app").exercises["02.shared"]
    assert exercise.attempts == 2 * count


def test_a_writer_waits_for_the_lock_held_by_another_process(tmp_path: Path) -> None:
    path, go = tmp_path / "progress.json", tmp_path / "go"
    go.touch()
    store = ProgressStore(path)
    with file_lock(store.lock_path):
        writer = _writer(path, "blocked", 1, go)
        time.sleep(1.0)
        assert writer.poll() is None  # still waiting for us
        assert not path.exists()
    _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr
    assert "blocked-0" in store.load().notebook("01_config").quizzes


# --- dashboard -------------------------------------------------------------------------------


@pytest.fixture
def course(tmp_path: Path) -> dict[str, Path]:
    """A small course: two notebooks on disk, one quiz bank with three questions."""
    notebooks, quizzes = tmp_path / "notebooks", tmp_path / "quizzes"
    notebooks.mkdir()
    quizzes.mkdir()
    for name in ("01_config.ipynb", "00_welcome.ipynb", "README.md", "scratch.ipynb"):
        (notebooks / name).write_text("{}")
    bank = "".join(f'[[questions]]\nid = "q{i}"\nprompt = "Question {i}?"\n\n' for i in (1, 2, 3))
    (quizzes / "00_welcome.toml").write_text(bank)
    return {"notebooks_dir": notebooks, "quizzes_dir": quizzes}


def _answer_some(store: ProgressStore) -> None:
    store.record_quiz_answer("00_welcome", "q1", correct=True, score=1, answer="A")
    store.record_quiz_answer("00_welcome", "q2", correct=False, score=0, answer="B")
    store.record_quiz_answer("00_welcome", "q2", correct=True, score=1, answer="C")
    store.record_quiz_answer("00_welcome", "q3", correct=False, score=0.5, answer="D")
    store.record_quiz_answer("00_welcome", "removed", correct=True, score=1, answer="E")
    store.record_exercise("00_welcome", "00.hello_app", passed=True)
    store.record_quiz_answer("99_bonus", "q1", correct=True, score=1, answer="A")


def test_dashboard_lists_notebooks_in_order_with_scores(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)

    dashboard = progress_dashboard(store, **course)

    assert repr(dashboard) == (
        "Workshop progress\n"
        "Notebook    Quiz  Exercises\n"
        "00_welcome  2/3   1/1\n"
        "01_config   -     -\n"
        "99_bonus    1     -"
    )


def test_dashboard_before_any_answer(store: ProgressStore, course: dict[str, Path]) -> None:
    assert repr(progress_dashboard(store, **course)).splitlines()[2:] == [
        "00_welcome  0/3   0/1",
        "01_config   -     -",
    ]


def test_dashboard_output_is_stable_and_has_text_html_and_widget(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)

    first = progress_dashboard(store, **course)._repr_mimebundle_()
    second = progress_dashboard(store, **course)._repr_mimebundle_()

    assert first["text/plain"] == second["text/plain"] == repr(progress_dashboard(store, **course))
    assert first["text/html"] == second["text/html"]
    assert "<td style='text-align:left'>2/3</td>" in first["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in first
    assert "0x" not in first["text/plain"] + first["text/html"]


def test_dashboard_reflects_new_answers(store: ProgressStore, course: dict[str, Path]) -> None:
    dashboard = progress_dashboard(store, **course)
    store.record_quiz_answer("00_welcome", "q3", correct=True, score=1, answer="A")
    assert "00_welcome  1/3   0/1" in repr(dashboard)


def test_dashboard_uses_the_progress_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, course: dict[str, Path]
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env-progress.json"))
    ProgressStore(tmp_path / "env-progress.json").record_exercise(
        "00_welcome", "00.hello_app", passed=True
    )
    assert "00_welcome  0/3   1/1" in repr(progress_dashboard(**course))


def test_reset_button_asks_before_erasing_one_notebook(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)
    widget = progress_dashboard(store, **course).widget()
    assert isinstance(widget, DashboardWidget)
    assert set(widget.reset_buttons) == {"00_welcome", "01_config", "99_bonus", None}

    widget.reset_buttons["00_welcome"].click()
    assert "00_welcome" in widget.question.value
    assert widget.confirm_box.layout.display == "flex"
    assert "00_welcome" in store.load().notebooks  # nothing erased before confirming

    widget.cancel_button.click()
    assert "00_welcome" in store.load().notebooks
    assert widget.confirm_box.layout.display == "none"

    widget.confirm_button.click()  # a stray click after cancelling erases nothing
    assert "00_welcome" in store.load().notebooks

    widget.reset_buttons["00_welcome"].click()
    widget.confirm_button.click()
    assert list(store.load().notebooks) == ["99_bonus"]
    assert "erased" in widget.status.value


def test_reset_all_button_erases_everything_after_confirmation(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)
    widget = progress_dashboard(store, **course).widget()

    widget.reset_buttons[None].click()
    assert "ALL notebooks" in widget.question.value
    widget.confirm_button.click()

    assert store.load().notebooks == {}
    assert set(widget.reset_buttons) == {"00_welcome", "01_config", None}  # rows rebuilt


def test_lab_progress_is_the_dashboard_even_after_the_store_module_is_imported(
    tmp_path: Path,
) -> None:
    """Importing the store module must not shadow the public ``lab.progress`` function."""
    script = (
        "import workshop_lab.progress_store, workshop_lab.dashboard as d\n"
        "import workshop_lab as lab\n"
        "assert isinstance(lab.progress(), d.ProgressDashboard), lab.progress\n"
    )
    env = {**os.environ, ENV_VAR: str(tmp_path / "progress.json")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
