"""Find, load and check a quiz bank: `data/quizzes/<notebook_id>.toml`.

TOML because banks are written by hand: comments, multi-line strings for prompts with code,
no indentation rules, and a parser in the standard library (tomllib). Loading either returns a
fully checked `Bank` or raises one `QuizBankError` listing everything wrong, so a broken bank
fails in the test suite, not in front of a learner. A raw Pydantic dump names
`questions.2.single.answer` and a type code; the author thinks in "question 'factory': answer 5
is out of range", so each problem names the file, the question and what to fix.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from workshop_lab.paths import DATA_DIR, REPO_ROOT
from workshop_lab.quizzes.models import (
    MODEL_BY_KIND,
    QUESTION_KINDS,
    Bank,
    BankFile,
    PredictRequest,
)

QUIZ_DIR = DATA_DIR / "quizzes"
_KNOWN_KINDS = ", ".join(repr(kind) for kind in QUESTION_KINDS)
_ANSWER_HINTS = {
    "single": "answer = <number of the right option, counting from 1>",
    "multiple": "answer = [<numbers of every right option>]",
    "short": 'answer = ["<accepted answer>", ...]',
    "predict": "answer = <the value the app really returns>",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bank; `where` is None for the file as a whole."""

    where: str | None
    message: str

    def __str__(self) -> str:
        return self.message if self.where is None else f"{self.where}: {self.message}"


class QuizBankError(ValueError):
    """A quiz bank could not be loaded; the message names file, question and problem."""

    def __init__(self, path: Path, problems: Iterable[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        shown = display_path(self.path)
        if len(self.problems) == 1:
            return f"{shown}: {self.problems[0]}"
        lines = [f"{shown}: {len(self.problems)} problems"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def display_path(path: Path) -> str:
    """Repository-relative when the file is in the repository: short and the same on every
    machine."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def question_label(raw: Sequence[Any], index: int) -> str:
    """ "question 'factory'", or "question #3 (no id)" when the id is missing or unusable."""
    entry = raw[index] if index < len(raw) else None
    qid = entry.get("id") if isinstance(entry, Mapping) else None
    if isinstance(qid, str) and qid:
        return f"question {qid!r}"
    return f"question #{index + 1} (no id)"


def duplicate_ids(raw: Sequence[Any]) -> list[Problem]:
    """Ids key saved progress, so two questions sharing one would overwrite each other."""
    first_seen: dict[str, int] = {}
    problems = []
    for index, entry in enumerate(raw):
        qid = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(qid, str):
            continue
        if qid in first_seen:
            problems.append(
                Problem(
                    f"question {qid!r}",
                    f"duplicate id: questions #{first_seen[qid] + 1} and #{index + 1} both use "
                    f"{qid!r}",
                )
            )
        else:
            first_seen[qid] = index
    return problems


def translate(error: ValidationError, raw: Mapping[str, Any]) -> list[Problem]:
    """Pydantic's errors for a `BankFile`, as problems an author can act on."""
    questions = raw.get("questions")
    questions = questions if isinstance(questions, list) else []
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
            index = loc[1]
            entry = questions[index] if index < len(questions) else None
            kind = entry.get("kind") if isinstance(entry, Mapping) else None
            field = loc[2:]
            if field and field[0] in MODEL_BY_KIND:  # the discriminated union's tag
                field = field[1:]
            message = _describe(item, field, kind if kind in MODEL_BY_KIND else None)
            problems.append(Problem(question_label(questions, index), message))
        else:
            problems.append(Problem(None, _describe_top(item, loc)))
    return problems


def _dotted(field: Sequence[Any]) -> str:
    """ "request.path"; list positions count from 1 like option numbers: "option 3"."""
    name = ""
    for part in field:
        if isinstance(part, int):
            name = f"option {part + 1}" if name == "options" else f"{name} item {part + 1}"
        else:
            name = f"{name}.{part}" if name else str(part)
    return name


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(field: Sequence[Any], kind: str | None) -> list[str]:
    model: type[BaseModel] | None = MODEL_BY_KIND.get(kind) if kind else None
    if len(field) > 1 and field[0] == "request":
        model = PredictRequest
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _with_field(name: str, reason: str) -> str:
    """Validators phrase field-level problems as predicates ("is empty", "must be ..."), the
    field's name goes in front; whole sentences from model validators pass unchanged."""
    if name and reason.startswith(("is ", "must ")):
        return f"{name!r} {reason}"
    return reason


def _suggestion(key: str, allowed: list[str]) -> str:
    """A typo gets its likely fix; anything else gets the list of keys there are."""
    guess = difflib.get_close_matches(key, allowed, n=1)
    if guess:
        return f" (did you mean {guess[0]!r}?)"
    return f" (known keys: {', '.join(allowed)})" if allowed else ""


def _describe(item: Mapping[str, Any], field: Sequence[Any], kind: str | None) -> str:
    """One error inside a question."""
    kind_of = item["type"]
    name = _dotted(field)
    value = item.get("input")
    ctx = item.get("ctx") or {}
    if kind_of == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}: the known kinds are {_KNOWN_KINDS}"
    if kind_of == "union_tag_not_found":
        return f"missing 'kind': the known kinds are {_KNOWN_KINDS}"
    if kind_of in ("model_attributes_type", "model_type", "dict_type") and not field:
        return "must be a table ([[questions]] followed by key = value lines)"
    if kind_of == "missing":
        if name == "answer":
            hint = _ANSWER_HINTS.get(kind or "", "answer = ...")
            return f"no correct answer: add `{hint}`"
        if name == "explanation":
            return (
                "missing 'explanation': it is shown after every answer, right or wrong, "
                "so say why the right answer is right"
            )
        return f"missing required key {name!r}"
    if kind_of == "extra_forbidden":
        return f"unknown key {name!r}{_suggestion(str(field[-1]), _allowed_keys(field, kind))}"
    if kind_of in ("value_error", "assertion_error"):
        reason = str(ctx.get("error", item["msg"]))
        return _with_field(name, reason)
    return _describe_type(kind_of, name, value, ctx, item["msg"], kind)


def _describe_type(
    kind_of: str, name: str, value: Any, ctx: Mapping[str, Any], msg: str, kind: str | None
) -> str:
    """Wrong-type and constraint errors, the same for questions and the top level."""
    if name.startswith("answer") and kind in ("single", "multiple"):
        if kind == "multiple" and kind_of in ("tuple_type", "list_type"):
            return (
                "'answer' must be a list of option numbers for a 'multiple' question, "
                f"e.g. answer = [1, 3]; got {_shown(value)}"
            )
        if kind_of.startswith("int_"):
            return f"'answer' must be an option number (counting from 1), got {_shown(value)}"
    if kind_of.startswith("int_"):
        return f"{name!r} must be a whole number, got {_shown(value)}"
    if kind_of.startswith("string_"):
        return f"{name!r} must be text (a quoted string), got {_shown(value)}"
    if kind_of.startswith("bool_"):
        return f"{name!r} must be true or false, got {_shown(value)}"
    if kind_of in ("tuple_type", "list_type"):
        return f"{name!r} must be a list [...], got {_shown(value)}"
    if kind_of in ("dict_type", "model_type", "model_attributes_type"):
        return f"{name!r} must be a table {{ key = value, ... }}, got {_shown(value)}"
    if kind_of == "literal_error":
        return f"{name!r} must be one of {ctx.get('expected')}, got {_shown(value)}"
    if kind_of in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        word = "at least" if kind_of == "greater_than_equal" else "at most"
        return f"{name!r} must be {word} {bound}, got {_shown(value)}"
    return f"{name!r}: {msg}"


def _describe_top(item: Mapping[str, Any], loc: Sequence[Any]) -> str:
    """An error outside the questions: title, shuffle, the questions list itself."""
    kind_of = item["type"]
    name = _dotted(loc)
    if kind_of == "missing" and name == "questions":
        return "no questions: add at least one [[questions]] table"
    if kind_of == "missing":
        return f"missing {name!r} at the top of the file"
    if kind_of == "extra_forbidden":
        allowed = [info.alias or key for key, info in BankFile.model_fields.items()]
        return f"unknown top-level key {name!r}{_suggestion(name, allowed)}"
    if kind_of in ("value_error", "assertion_error"):
        reason = str((item.get("ctx") or {}).get("error", item["msg"]))
        return _with_field(name, reason)
    return _describe_type(
        kind_of, name, item.get("input"), item.get("ctx") or {}, item["msg"], None
    )


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
