"""Remember quiz answers and exercise results across kernels and restarts.

Learners run several notebooks, often in several kernels at once, and restart kernels
freely. Progress lives in one SQLite file (``WORKSHOP_PROGRESS_FILE``, default
``~/.fastapi-workshop/progress.sqlite3``): the standard library's ``sqlite3`` gives
atomic, locked updates, so two kernels never overwrite each other and a crash never leaves
half a record. Saving progress must never cost a learner their lesson:

* rows are read one by one: a damaged row is skipped and counted, the others are kept, and
  a copy of the file as it was is left beside it before the bad rows are removed;
* a file that is not a progress database is moved aside and progress starts fresh;
* a file that cannot be opened (no permission, a folder of that name) gives a warning and
  an empty record: the lesson goes on, without saving.

Each case warns once, with ``ProgressFileWarning``, naming the file and what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, JsonValue, ValidationError
from pydantic_core import to_jsonable_python

ENV_VAR = "WORKSHOP_PROGRESS_FILE"
DEFAULT_PATH = Path("~/.fastapi-workshop/progress.sqlite3")
# The progress file of earlier versions of the workshop, imported once if found.
LEGACY_JSON = Path("~/.fastapi-workshop/progress.json")
# Notebooks renumbered when the error envelope moved to 03: old ids -> new ids.
RENAMED_NOTEBOOKS = {
    "03_middleware": "04_middleware",
    "04_dependencies": "05_dependencies",
    "05_data": "06_data",
    "06_services": "07_services",
    "07_errors": "03_errors",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS quiz_answers (
    notebook TEXT NOT NULL,
    question TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first TEXT NOT NULL,  -- JSON of QuizAttempt
    best TEXT NOT NULL,
    PRIMARY KEY (notebook, question)
);
CREATE TABLE IF NOT EXISTS exercise_results (
    notebook TEXT NOT NULL,
    exercise TEXT NOT NULL,
    passed INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_hint TEXT,
    PRIMARY KEY (notebook, exercise)
);
"""


class ProgressFileWarning(UserWarning):
    """The progress file could not be used as it was; the message says what happened."""


class ProgressUnavailable(OSError):
    """The progress file cannot be opened at all: nothing can be saved."""


class QuizAttempt(BaseModel):
    correct: bool
    score: float
    answer: JsonValue = None


class QuizRecord(BaseModel):
    """First and best attempts: the first shows what was known, the best what was learned."""

    first: QuizAttempt
    best: QuizAttempt
    attempts: int = Field(1, ge=1)


class ExerciseRecord(BaseModel):
    passed: bool = False
    attempts: int = Field(0, ge=0)
    last_hint: str | None = None


class NotebookProgress(BaseModel):
    quizzes: dict[str, QuizRecord] = Field(default_factory=dict)
    exercises: dict[str, ExerciseRecord] = Field(default_factory=dict)


class Progress(BaseModel):
    notebooks: dict[str, NotebookProgress] = Field(default_factory=dict)

    def notebook(self, notebook_id: str) -> NotebookProgress:
        """The notebook's record, empty if nothing was recorded yet (not stored)."""
        return self.notebooks.get(notebook_id, NotebookProgress())


def progress_path() -> Path:
    """The progress file, from the environment *now* (tests and kernels may change it)."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH).expanduser()


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _warn(message: str) -> None:
    warnings.warn(message, ProgressFileWarning, stacklevel=4)


class ProgressStore:
    """One learner's progress file; every update is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()

    def load(self) -> Progress:
        """Everything recorded; an empty record (with a warning) if the file is unusable."""
        try:
            with self._transaction(write=False) as db:
                progress, damaged = _read(db)
            if damaged:
                self._remove_damaged(damaged)
        except ProgressUnavailable as exc:
            _warn(f"{exc} Progress is shown empty and nothing is saved.")
            return Progress()
        return progress

    def record_quiz_answer(
        self, notebook_id: str, question_id: str, *, correct: bool, score: float, answer: object
    ) -> QuizRecord:
        """Count an attempt; keep the first one and the best one (correct, then score)."""
        attempt = QuizAttempt(
            correct=correct, score=float(score), answer=to_jsonable_python(answer, fallback=repr)
        )
        with self._transaction(write=True) as db:
            row = db.execute(
                "SELECT attempts, first, best FROM quiz_answers WHERE notebook=? AND question=?",
                (notebook_id, question_id),
            ).fetchone()
            record = _quiz_record(row) if row else None
            if record is None:
                record = QuizRecord(first=attempt, best=attempt)
            else:
                record.attempts += 1
                if (attempt.correct, attempt.score) > (record.best.correct, record.best.score):
                    record.best = attempt
            db.execute(
                "INSERT OR REPLACE INTO quiz_answers VALUES (?, ?, ?, ?, ?)",
                (notebook_id, question_id, record.attempts, *_attempts_json(record)),
            )
        return record

    def record_exercise(
        self, notebook_id: str, exercise_id: str, *, passed: bool, hint: str | None = None
    ) -> ExerciseRecord:
        """Count an attempt; once passed, an exercise stays passed."""
        with self._transaction(write=True) as db:
            row = db.execute(
                "SELECT passed, attempts, last_hint FROM exercise_results "
                "WHERE notebook=? AND exercise=?",
                (notebook_id, exercise_id),
            ).fetchone()
            record = _exercise_record(row) if row else None
            record = record or ExerciseRecord()
            record.attempts += 1
            record.passed = record.passed or passed
            record.last_hint = None if passed else hint
            db.execute(
                "INSERT OR REPLACE INTO exercise_results VALUES (?, ?, ?, ?, ?)",
                (notebook_id, exercise_id, int(record.passed), record.attempts, record.last_hint),
            )
        return record

    def reset(self, notebook_id: str | None = None) -> None:
        """Forget one notebook's progress, or everything when ``notebook_id`` is None."""
        with self._transaction(write=True) as db:
            for table in ("quiz_answers", "exercise_results"):
                if notebook_id is None:
                    db.execute(f"DELETE FROM {table}")
                else:
                    db.execute(f"DELETE FROM {table} WHERE notebook=?", (notebook_id,))

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on the file, created if need be; damage handled on the way in."""
        db = self._open()
        with closing(db):
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield db
                db.commit()
            except BaseException:
                db.rollback()
                raise

    def _open(self) -> sqlite3.Connection:
        """Connect and create the tables; a file that is not a progress database (or a JSON
        record of an earlier version) is moved aside, its entries imported when it has any."""
        if self.path.is_dir():
            raise ProgressUnavailable(
                f"The workshop progress file {self.path} is a folder: rename or remove it."
            )
        is_new = not self.path.exists()
        try:
            if is_new or _looks_like_a_database(self.path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                return self._connect(legacy=_legacy(LEGACY_JSON) if is_new else None)
        except sqlite3.DatabaseError as exc:
            if is_new or "unable to open" in str(exc):
                raise self._unavailable(exc) from None
        except OSError as exc:
            raise self._unavailable(exc) from None
        legacy = _legacy(self.path)  # moved aside, quietly when it was a valid old record
        target = self.path.with_name(f"{self.path.name}.set-aside-{_stamp()}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise self._unavailable(exc) from None
        if legacy is None:
            _warn(
                f"The workshop progress file {self.path} is not a progress database: it was "
                f"moved to {target} and progress starts fresh."
            )
        return self._connect(legacy=legacy)

    def _connect(self, *, legacy: Progress | None) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        try:
            db.executescript(SCHEMA)
            if legacy is not None:
                _import(db, legacy)
        except BaseException:
            db.close()
            raise
        return db

    def _unavailable(self, exc: Exception) -> ProgressUnavailable:
        return ProgressUnavailable(
            f"The workshop progress file {self.path} cannot be used ({exc}): check its "
            "permissions, or point WORKSHOP_PROGRESS_FILE at another file."
        )

    def _remove_damaged(self, damaged: list[tuple[str, str, object, object]]) -> None:
        """Keep a copy of the file as it was, then delete the rows that cannot be read."""
        copy = self.path.with_name(f"{self.path.name}.before-repair-{_stamp()}")
        count = f"{len(damaged)} damaged entr{'y' if len(damaged) == 1 else 'ies'}"
        try:
            shutil.copyfile(self.path, copy)
            with self._transaction(write=True) as db:
                for table, column, notebook, key in damaged:
                    db.execute(
                        f"DELETE FROM {table} WHERE notebook IS ? AND {column} IS ?",
                        (notebook, key),
                    )
        except (OSError, sqlite3.Error) as exc:
            _warn(
                f"The workshop progress file {self.path} has {count}: skipped, every other "
                f"entry kept (they could not be removed: {exc})."
            )
            return
        _warn(
            f"The workshop progress file {self.path} had {count}: skipped and removed, every "
            f"other entry kept. The file as it was is in {copy}."
        )


def _read(db: sqlite3.Connection) -> tuple[Progress, list[tuple[str, str, object, object]]]:
    """Every valid row, and the keys of the rows that are not."""
    progress, damaged = Progress(), []
    for notebook, question, *row in db.execute("SELECT * FROM quiz_answers"):
        record = _quiz_record(row)
        if record is None or not isinstance(notebook, str) or not isinstance(question, str):
            damaged.append(("quiz_answers", "question", notebook, question))
        else:
            progress.notebooks.setdefault(notebook, NotebookProgress()).quizzes[question] = record
    for notebook, exercise, *row in db.execute("SELECT * FROM exercise_results"):
        record = _exercise_record(row)
        if record is None or not isinstance(notebook, str) or not isinstance(exercise, str):
            damaged.append(("exercise_results", "exercise", notebook, exercise))
        else:
            exercises = progress.notebooks.setdefault(notebook, NotebookProgress()).exercises
            exercises[exercise] = record
    return progress, damaged


def _looks_like_a_database(path: Path) -> bool:
    """Empty, or starting with SQLite's header: SQLite itself would silently take a tiny file
    of anything else for an empty database, and overwrite it."""
    with path.open("rb") as handle:
        head = handle.read(16)
    return not head or head == b"SQLite format 3\x00"


def _attempts_json(record: QuizRecord) -> tuple[str, str]:
    return record.first.model_dump_json(), record.best.model_dump_json()


def _quiz_record(row: tuple) -> QuizRecord | None:
    attempts, first, best = row
    try:
        return QuizRecord(
            attempts=attempts,
            first=QuizAttempt.model_validate_json(first),
            best=QuizAttempt.model_validate_json(best),
        )
    except (ValidationError, TypeError, ValueError):
        return None


def _exercise_record(row: tuple) -> ExerciseRecord | None:
    passed, attempts, last_hint = row
    if passed not in (0, 1):
        return None
    try:
        return ExerciseRecord(passed=bool(passed), attempts=attempts, last_hint=last_hint)
    except ValidationError:
        return None


def _legacy(path: Path) -> Progress | None:
    """The record in a JSON progress file of an earlier version, or None."""
    try:
        data = json.loads(path.expanduser().read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.pop("version", 1) != 1:
            return None
        progress = Progress.model_validate(data)
    except (OSError, ValueError, ValidationError):  # not UTF-8, not JSON, not a record
        return None
    renamed = {RENAMED_NOTEBOOKS.get(k, k): v for k, v in progress.notebooks.items()}
    return Progress(notebooks=renamed)


def _import(db: sqlite3.Connection, legacy: Progress) -> None:
    """Copy an earlier version's record into a new database."""
    db.execute("BEGIN IMMEDIATE")
    for notebook, record in legacy.notebooks.items():
        for question, quiz in record.quizzes.items():
            db.execute(
                "INSERT OR REPLACE INTO quiz_answers VALUES (?, ?, ?, ?, ?)",
                (notebook, question, quiz.attempts, *_attempts_json(quiz)),
            )
        for exercise, result in record.exercises.items():
            db.execute(
                "INSERT OR REPLACE INTO exercise_results VALUES (?, ?, ?, ?, ?)",
                (notebook, exercise, int(result.passed), result.attempts, result.last_hint),
            )
    db.execute("COMMIT")


def default_store() -> ProgressStore:
    """The store for ``WORKSHOP_PROGRESS_FILE`` (or the default path), looked up now."""
    return ProgressStore(progress_path())
