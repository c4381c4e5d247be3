"""Progress store and dashboard: what is kept, how it survives damage and concurrency."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workshop_lab.dashboard import DashboardWidget, ProgressDashboard
from workshop_lab.progress_store import (
    ENV_VAR,
    ProgressFileWarning,
    ProgressStore,
    ProgressUnavailable,
    default_store,
    progress_path,
)


@pytest.fixture
def store(tmp_path: Path) -> ProgressStore:
    return ProgressStore(tmp_path / "state" / "progress.sqlite3")


def test_quiz_keeps_first_and_best_attempt_and_counts_attempts(store: ProgressStore) -> None:
    store.record_quiz_answer("01_config", "q1", correct=False, score=0.25, answer="B")
    store.record_quiz_answer("01_config", "q1", correct=True, score=1, answer="A")
    store.record_quiz_answer("01_config", "q1", correct=False, score=0, answer="C")
    record = store.load().notebook("01_config").quizzes["q1"]
    assert (record.first.answer, record.best.answer, record.attempts) == ("B", "A", 3)


def test_quiz_best_prefers_correct_over_score_and_keeps_the_earlier_on_a_tie(
    store: ProgressStore,
) -> None:
    store.record_quiz_answer("01_config", "q", correct=False, score=0.9, answer="near")
    store.record_quiz_answer("01_config", "q", correct=True, score=0.5, answer="right")
    store.record_quiz_answer("01_config", "q", correct=True, score=0.5, answer="again")
    assert store.load().notebook("01_config").quizzes["q"].best.answer == "right"


def test_quiz_answers_of_any_type_are_stored_as_json(store: ProgressStore) -> None:
    store.record_quiz_answer("01_config", "list", correct=True, score=1, answer=[1, "two"])
    store.record_quiz_answer("01_config", "object", correct=True, score=1, answer=object())
    quizzes = store.load().notebook("01_config").quizzes
    assert quizzes["list"].best.answer == [1, "two"]
    assert quizzes["object"].best.answer.startswith("<object object")


def test_exercise_passed_once_stays_passed_and_attempts_count(store: ProgressStore) -> None:
    store.record_exercise("02_app", "02.x", passed=False, hint="not yet")
    store.record_exercise("02_app", "02.x", passed=True)
    store.record_exercise("02_app", "02.x", passed=False, hint="broke it again")
    record = store.load().notebook("02_app").exercises["02.x"]
    assert (record.passed, record.attempts, record.last_hint) == (True, 3, "broke it again")


def test_loading_a_missing_file_is_empty(store: ProgressStore) -> None:
    assert store.load().notebooks == {}


def test_reset_one_notebook_or_all(store: ProgressStore) -> None:
    store.record_quiz_answer("00_welcome", "q", correct=True, score=1, answer=1)
    store.record_exercise("01_config", "01.x", passed=True)
    store.reset("00_welcome")
    assert set(store.load().notebooks) == {"01_config"}
    store.reset()
    assert store.load().notebooks == {}


def _damage(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(sql)


def test_a_damaged_entry_is_skipped_and_removed_every_other_entry_kept(
    store: ProgressStore,
) -> None:
    store.record_quiz_answer("00_welcome", "good", correct=True, score=1, answer=1)
    store.record_exercise("01_config", "01.good", passed=True)
    store.record_exercise("01_config", "01.bad", passed=True)
    _damage(store.path, "UPDATE exercise_results SET attempts = 'many' WHERE exercise = '01.bad'")

    with pytest.warns(ProgressFileWarning) as caught:
        progress = store.load()
    # Only our warning: a ResourceWarning from another test's garbage can land in `caught` too.
    [warning] = [w for w in caught if issubclass(w.category, ProgressFileWarning)]
    message = str(warning.message)
    assert "had 1 damaged entry: skipped and removed, every other entry kept" in message
    [copy] = store.path.parent.glob("progress.sqlite3.before-repair-*")
    assert str(copy) in message
    assert set(progress.notebook("01_config").exercises) == {"01.good"}
    assert progress.notebook("00_welcome").quizzes["good"].best.correct
    with sqlite3.connect(copy) as db:  # the copy is the file as it was, bad entry included
        assert db.execute(
            "SELECT attempts FROM exercise_results WHERE exercise='01.bad'"
        ).fetchone() == ("many",)
    store.load()  # repaired: no warning the second time


def test_a_file_that_is_not_a_progress_database_is_moved_aside(store: ProgressStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"\x00garbage" * 50)
    with pytest.warns(ProgressFileWarning, match="is not a progress database: it was moved to"):
        store.record_quiz_answer("00_welcome", "q", correct=True, score=1, answer=1)
    [aside] = store.path.parent.glob("progress.sqlite3.set-aside-*")
    assert aside.read_bytes() == b"\x00garbage" * 50
    assert store.load().notebook("00_welcome").quizzes["q"].best.correct


def test_a_progress_file_of_an_earlier_version_is_imported_with_its_renamed_notebooks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "progress.json"
    quiz = {"first": {"correct": True, "score": 1.0}, "best": {"correct": True, "score": 1.0}}
    old = {
        "version": 1,
        "notebooks": {
            "03_middleware": {"quizzes": {"order": quiz}, "exercises": {}},
            "00_welcome": {"exercises": {"00.hello_app": {"passed": True, "attempts": 2}}},
        },
    }
    path.write_text(json.dumps(old))
    progress = ProgressStore(path).load()  # quietly: nothing was lost
    assert progress.notebook("04_middleware").quizzes["order"].best.correct
    assert progress.notebook("00_welcome").exercises["00.hello_app"].attempts == 2


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else False, reason="root reads anything"
)
def test_an_unreadable_file_warns_and_shows_an_empty_record(store: ProgressStore) -> None:
    store.record_quiz_answer("00_welcome", "q", correct=True, score=1, answer=1)
    store.path.chmod(0)
    try:
        with pytest.warns(ProgressFileWarning, match="cannot be used"):
            assert store.load().notebooks == {}
        with pytest.raises(ProgressUnavailable):
            store.record_exercise("00_welcome", "00.x", passed=True)
    finally:
        store.path.chmod(0o644)


def test_a_folder_where_the_file_should_be_warns_and_saving_fails_with_an_os_error(
    store: ProgressStore,
) -> None:
    store.path.mkdir(parents=True)
    with pytest.warns(ProgressFileWarning, match="is a folder: rename or remove it"):
        assert store.load().notebooks == {}
    with pytest.raises(OSError, match="is a folder"):
        store.record_exercise("00_welcome", "00.x", passed=True)


def test_env_var_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a.sqlite3"))
    assert default_store().path == tmp_path / "a.sqlite3"

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "b.sqlite3"))
    default_store().record_exercise("00_welcome", "00.hello_app", passed=True)
    assert (tmp_path / "b.sqlite3").exists()
    assert not (tmp_path / "a.sqlite3").exists()


def test_default_path_is_in_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert progress_path() == tmp_path / ".fastapi-workshop" / "progress.sqlite3"


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
    path, go, count = tmp_path / "progress.sqlite3", tmp_path / "go", 60
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


def test_a_writer_waits_while_another_process_holds_the_database(tmp_path: Path) -> None:
    path, go = tmp_path / "progress.sqlite3", tmp_path / "go"
    go.touch()
    store = ProgressStore(path)
    store.reset()  # creates the database
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("BEGIN EXCLUSIVE")
        writer = _writer(path, "blocked", 1, go)
        time.sleep(1.0)
        assert writer.poll() is None  # still waiting for us
        db.execute("COMMIT")
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

    dashboard = ProgressDashboard(store, **course)

    assert repr(dashboard) == (
        "Workshop progress\n"
        "Notebook    Quiz  Exercises\n"
        "00_welcome  2/3   1/1\n"
        "01_config   -     -\n"
        "99_bonus    1     -"
    )


def test_dashboard_before_any_answer(store: ProgressStore, course: dict[str, Path]) -> None:
    assert repr(ProgressDashboard(store, **course)).splitlines()[2:] == [
        "00_welcome  0/3   0/1",
        "01_config   -     -",
    ]


def test_dashboard_output_is_stable_and_has_text_html_and_widget(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)

    first = ProgressDashboard(store, **course)._repr_mimebundle_()
    second = ProgressDashboard(store, **course)._repr_mimebundle_()

    assert first["text/plain"] == second["text/plain"] == repr(ProgressDashboard(store, **course))
    assert first["text/html"] == second["text/html"]
    assert "<td style='text-align:left'>2/3</td>" in first["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in first
    assert "0x" not in first["text/plain"] + first["text/html"]


def test_dashboard_reflects_new_answers(store: ProgressStore, course: dict[str, Path]) -> None:
    dashboard = ProgressDashboard(store, **course)
    store.record_quiz_answer("00_welcome", "q3", correct=True, score=1, answer="A")
    assert "00_welcome  1/3   0/1" in repr(dashboard)


def test_dashboard_uses_the_progress_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, course: dict[str, Path]
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env-progress.json"))
    ProgressStore(tmp_path / "env-progress.json").record_exercise(
        "00_welcome", "00.hello_app", passed=True
    )
    assert "00_welcome  0/3   1/1" in repr(ProgressDashboard(**course))


def test_reset_button_asks_before_erasing_one_notebook(
    store: ProgressStore, course: dict[str, Path]
) -> None:
    _answer_some(store)
    widget = ProgressDashboard(store, **course).widget()
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
    widget = ProgressDashboard(store, **course).widget()

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
