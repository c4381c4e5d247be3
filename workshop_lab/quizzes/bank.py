"""Find and load a quiz bank: `data/quizzes/<notebook_id>.toml`.

TOML because banks are written by hand: comments, multi-line strings for prompts with code,
no indentation rules, and a parser in the standard library (tomllib). Loading either returns a
fully checked `Bank` or raises one `QuizBankError` listing everything wrong, so a broken bank
fails in the test suite, not in front of a learner.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workshop_lab.paths import DATA_DIR
from workshop_lab.quizzes.errors import Problem, QuizBankError, duplicate_ids, translate
from workshop_lab.quizzes.models import Bank, BankFile

QUIZ_DIR = DATA_DIR / "quizzes"


def bank_path(path_or_notebook_id: str | Path) -> Path:
    """A notebook id ("04_middleware") means the bank in `data/quizzes/`; anything that looks
    like a path (a Path, a separator, a .toml suffix) is used as given."""
    if isinstance(path_or_notebook_id, Path):
        return path_or_notebook_id
    text = str(path_or_notebook_id)
    if "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(text)
    return QUIZ_DIR / f"{text}.toml"


def available_banks() -> list[str]:
    """Notebook ids that have a bank, sorted."""
    return sorted(path.stem for path in QUIZ_DIR.glob("*.toml"))


def load_bank(path_or_notebook_id: str | Path) -> Bank:
    """Load and validate a bank; raise `QuizBankError` naming file, question and problem."""
    path = bank_path(path_or_notebook_id)
    raw = _read_toml(path)
    problems = duplicate_ids(_raw_questions(raw))
    try:
        content = BankFile.model_validate(raw)
    except ValidationError as error:
        problems = translate(error, raw) + problems
        content = None
    if problems or content is None:
        raise QuizBankError(path, problems)
    return Bank(
        notebook_id=path.stem,
        path=path,
        title=content.title,
        shuffle=content.shuffle,
        questions=content.questions,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(available_banks()) or "none yet"
        raise QuizBankError(
            path, [Problem(None, f"no such quiz bank (banks in {QUIZ_DIR.name}/: {known})")]
        ) from None
    except UnicodeDecodeError as error:
        raise QuizBankError(path, [Problem(None, f"not UTF-8 text (byte {error.start})")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The message ends "(at line 3, column 5)": the line is what the author needs.
        raise QuizBankError(path, [Problem(None, f"TOML syntax error: {error}")]) from None


def _raw_questions(raw: Mapping[str, Any]) -> list[Any]:
    questions = raw.get("questions")
    return questions if isinstance(questions, list) else []
