"""Remember quiz answers and exercise results across kernels and restarts.

Learners run several notebooks, often in several kernels at once, and restart
kernels freely; progress must survive all of that. It lives in one small JSON
file (``WORKSHOP_PROGRESS_FILE``, default ``~/.fastapi-workshop/progress.json``)
that every write replaces atomically while holding an inter-process lock, so a
crash never leaves half a file and two kernels never overwrite each other.
A damaged file is moved aside with a warning: losing a score is better than a
traceback in the middle of a lesson.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, JsonValue, ValidationError
from pydantic_core import to_jsonable_python

try:  # POSIX
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

ENV_VAR = "WORKSHOP_PROGRESS_FILE"
DEFAULT_PATH = Path("~/.fastapi-workshop/progress.json")
FILE_VERSION = 1


class ProgressFileWarning(UserWarning):
    """The progress file could not be used as it was; it was moved aside."""


class QuizAttempt(BaseModel):
    correct: bool
    score: float
    answer: JsonValue = None


class QuizRecord(BaseModel):
    """First and best attempts: the first shows what was known, the best what was learned."""

    first: QuizAttempt
    best: QuizAttempt
    attempts: int = 1


class ExerciseRecord(BaseModel):
    passed: bool = False
    attempts: int = 0
    last_hint: str | None = None


class NotebookProgress(BaseModel):
    quizzes: dict[str, QuizRecord] = Field(default_factory=dict)
    exercises: dict[str, ExerciseRecord] = Field(default_factory=dict)


class Progress(BaseModel):
    version: Literal[1] = FILE_VERSION
    notebooks: dict[str, NotebookProgress] = Field(default_factory=dict)

    def notebook(self, notebook_id: str) -> NotebookProgress:
        """The notebook's record, empty if nothing was recorded yet (not stored)."""
        return self.notebooks.get(notebook_id, NotebookProgress())


def progress_path() -> Path:
    """The progress file, from the environment *now* (tests and kernels may change it)."""
    raw = os.environ.get(ENV_VAR) or str(DEFAULT_PATH)
    return Path(raw).expanduser()


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never half.

    The temporary file lives in the same directory because ``os.replace`` is
    atomic only within one file system; ``fsync`` makes the data durable before
    the rename publishes it. The file keeps its permissions (``mode`` if new).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` across processes.

    ``flock`` on POSIX; ``msvcrt.locking`` on Windows (which retries for about
    ten seconds per call, so we loop). Where neither exists the lock is a no-op:
    a best effort, still safe against torn files thanks to atomic replaces.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        elif msvcrt is not None:
            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            yield


class ProgressStore:
    """Read and update one progress file; every update is read-modify-write under a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"ProgressStore({str(self.path)!r})"

    def load(self) -> Progress:
        """The stored progress; a fresh one if the file is missing or unusable."""
        if not self.path.exists():
            return Progress()
        with contextlib.ExitStack() as stack:
            # In a read-only folder read unlocked: still safe, every write is a whole file.
            with contextlib.suppress(OSError):
                stack.enter_context(file_lock(self.lock_path))
            return self._read()

    def record_quiz_answer(
        self,
        notebook_id: str,
        question_id: str,
        *,
        correct: bool,
        score: float,
        answer: object,
    ) -> QuizRecord:
        """Count an attempt; keep the first one and the best one (correct, then score)."""
        attempt = QuizAttempt(
            correct=correct,
            score=float(score),
            answer=to_jsonable_python(answer, fallback=repr),
        )
        with self._update() as progress:
            quizzes = progress.notebooks.setdefault(notebook_id, NotebookProgress()).quizzes
            record = quizzes.get(question_id)
            if record is None:
                record = QuizRecord(first=attempt, best=attempt)
            else:
                record.attempts += 1
                if (attempt.correct, attempt.score) > (record.best.correct, record.best.score):
                    record.best = attempt
            quizzes[question_id] = record
        return record

    def record_exercise(
        self, notebook_id: str, exercise_id: str, *, passed: bool, hint: str | None = None
    ) -> ExerciseRecord:
        """Count an attempt; once passed, an exercise stays passed."""
        with self._update() as progress:
            exercises = progress.notebooks.setdefault(notebook_id, NotebookProgress()).exercises
            record = exercises.setdefault(exercise_id, ExerciseRecord())
            record.attempts += 1
            record.passed = record.passed or passed
            record.last_hint = None if passed else hint
        return record

    def reset(self, notebook_id: str | None = None) -> None:
        """Forget one notebook's progress, or everything when ``notebook_id`` is None."""
        with self._update() as progress:
            if notebook_id is None:
                progress.notebooks.clear()
            else:
                progress.notebooks.pop(notebook_id, None)

    @contextlib.contextmanager
    def _update(self) -> Iterator[Progress]:
        with file_lock(self.lock_path):
            progress = self._read()
            yield progress
            text = progress.model_dump_json(indent=2) + "\n"
            atomic_write_text(self.path, text)

    def _read(self) -> Progress:
        """Parse the file (caller holds the lock); move a bad one aside and start fresh."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Progress()
        except UnicodeDecodeError:  # e.g. saved by an editor in another encoding
            return self._set_aside("corrupt", "is not UTF-8 text")
        try:
            data = json.loads(raw)
        except ValueError:
            return self._set_aside("corrupt", "is not valid JSON")
        if isinstance(data, dict) and "version" in data and data["version"] != FILE_VERSION:
            reason = f"has version {data['version']!r}; this toolkit reads version {FILE_VERSION}"
            return self._set_aside("unknown-version", reason)
        try:
            return Progress.model_validate(data)
        except ValidationError as exc:
            return self._set_aside(
                "corrupt", f"does not have the expected shape ({exc.error_count()} errors)"
            )

    def _set_aside(self, kind: str, reason: str) -> Progress:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.{kind}-{stamp}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            where = f"could not be moved aside ({exc}), so it was left in place"
        else:
            where = f"was moved to {target}"
        warnings.warn(
            f"The workshop progress file {self.path} {reason}. It {where} "
            "and progress starts fresh.",
            ProgressFileWarning,
            stacklevel=4,
        )
        return Progress()


def default_store() -> ProgressStore:
    """The store for ``WORKSHOP_PROGRESS_FILE`` (or the default path), looked up now."""
    return ProgressStore(progress_path())
