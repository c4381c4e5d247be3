"""The shape of a quiz bank, as Pydantic models.

Banks are written by hand, so the models are strict where a typo would silently change a
question (unknown keys are errors, `answer = "2"` is not the number 2, `true` is not an option
number) and every cross-field check (answer in range, no duplicate options) raises a sentence
that `bank.py` can pass to the author unchanged. The models hold bank data only; loading
files and reporting errors live in `bank.py`.

The answer rules live here too, because validation and grading share them: learners type
"429 Too Many Requests", "`Retry-After`:" or " Lifespan. " and mean the right thing, and an
accepted answer that its own rule cannot read is a bank error, caught when the bank loads.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

Normalize = Literal["number", "word", "header"]
Target = Literal["status", "header", "json"]

# A number at the very start of the answer, not glued to letters: "429", "429 Too Many
# Requests", "0.5s" is rejected (a unit glued on is ambiguous), "-1", "2.50".
_LEADING_NUMBER = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![0-9A-Za-z_])")
# Characters stripped around a one-word answer: whitespace, ASCII punctuation (which includes
# the backtick learners copy from prompts) and typographic quotes.
_SURROUNDING = string.whitespace + string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb"
_SPACES = re.compile(r"\s+")


def number(text: str) -> float | None:
    """The leading number of `text`, or None: "429 Too Many Requests" reads as 429."""
    match = _LEADING_NUMBER.match(text)
    if match is None:
        return None
    return float(match.group(1))


def word(text: str) -> str:
    """Casefolded, with surrounding whitespace/quotes/punctuation stripped and inner runs of
    whitespace collapsed: '"Lifespan."' and 'lifespan' are the same answer, and so are
    'Depends()' and 'Depends' (brackets are punctuation too)."""
    return _SPACES.sub(" ", text.strip(_SURROUNDING)).casefold()


def header(text: str) -> str:
    """Header names are case-insensitive (RFC 9110), so compare casefolded; a trailing colon
    copied from a raw response ("Retry-After:") is dropped."""
    return text.strip().removesuffix(":").strip().casefold()


NORMALIZERS: dict[str, Callable[[str], Any]] = {"number": number, "word": word, "header": header}


def as_text(value: Any) -> str:
    """The text form of a value written in a bank or observed in a response.

    Strings stay as they are; everything else is written as JSON, so TOML `true` becomes
    "true" (what the app sends), not Python's "True".
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _json_key(text: str) -> str:
    """Canonical JSON of the text when it parses as JSON ('3', 'true', '"x"'), else of the
    stripped text as a string, so a learner may type a string value with or without its quotes.
    Canonical text rather than the parsed value because Python's `True == 1` must not make
    "1" a right prediction of `true`."""
    stripped = text.strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        value = stripped
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def prediction_key(target: Target, text: str) -> Any:
    """Comparable key for a prediction or an observed value of a predict question.

    status: the number ("404 Not Found" == "404"); header: trimmed and casefolded (a quiz about
    a header's value is not a quiz about its capitalisation); json: canonical JSON.
    """
    if target == "status":
        return number(text)
    if target == "header":
        return text.strip().casefold()
    return _json_key(text)


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MAX_REPEAT = 1000

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_IMPORT_STRING = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_JSON_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"'id' {value!r} must be 1-64 letters, digits, '_', '-' or '.', starting with a "
            "letter or digit (it is the key under which progress is saved)"
        )
    return value


def _check_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


def _scalar_text(value: Any) -> str:
    """Bank values that learners compare against: TOML strings, numbers and booleans."""
    if isinstance(value, str | int | float | bool):
        return as_text(value)
    raise ValueError(f"must be a string, number or boolean, got {value!r}")


def _json_text(value: Any) -> str:
    """A predict answer may be any JSON value (a json: target can point at an object)."""
    try:
        return as_text(value)
    except TypeError:
        raise ValueError(f"must be a JSON value, got {value!r}") from None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _text_list(value: Any) -> Any:
    """Let an author write `answer = "429"` for `answer = ["429"]`."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    return value


QuestionId = Annotated[str, Strict(), AfterValidator(_check_id)]
Text = Annotated[str, Strict(), AfterValidator(_check_not_blank)]
OptionNumber = Annotated[int, Strict()]
ScalarText = Annotated[str, BeforeValidator(_scalar_text)]


def _check_options(options: tuple[str, ...]) -> None:
    if len(options) < 2:
        raise ValueError(
            f"'options' has {len(options)} entr{'y' if len(options) == 1 else 'ies'}: "
            "give at least 2 to choose from"
        )
    seen: dict[str, int] = {}
    for number, option in enumerate(options, start=1):
        key = option.strip().casefold()
        if key in seen:
            raise ValueError(f"options {seen[key]} and {number} are the same: {option!r}")
        seen[key] = number


def _check_option_number(number: int, options: tuple[str, ...]) -> None:
    if not 1 <= number <= len(options):
        raise ValueError(
            f"answer {number} is out of range: options are numbered 1 to {len(options)}"
        )


class _Question(BaseModel):
    """Keys every kind has. `shuffle` overrides the bank's flag for one question (for options
    such as "All of the above" that must stay last)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: QuestionId
    prompt: Text
    explanation: Text
    shuffle: Annotated[bool, Strict()] | None = None


class SingleChoice(_Question):
    """One right option; `answer` is its 1-based number in `options` as written."""

    kind: Literal["single"]
    options: tuple[Text, ...]
    answer: OptionNumber

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> SingleChoice:
        _check_options(self.options)
        _check_option_number(self.answer, self.options)
        return self


class MultipleChoice(_Question):
    """Select all that apply; `answer` lists the 1-based numbers of every right option."""

    kind: Literal["multiple"]
    options: tuple[Text, ...]
    answer: tuple[OptionNumber, ...]

    @model_validator(mode="after")
    def _answers_are_options(self) -> MultipleChoice:
        _check_options(self.options)
        if not self.answer:
            raise ValueError("no correct answer: 'answer' is an empty list")
        for number in self.answer:
            _check_option_number(number, self.options)
        if len(set(self.answer)) != len(self.answer):
            raise ValueError(f"'answer' lists an option twice: {list(self.answer)}")
        return self


class ShortAnswer(_Question):
    """Free text; correct when it matches any accepted answer under `normalize`."""

    kind: Literal["short"]
    answer: Annotated[tuple[ScalarText, ...], BeforeValidator(_text_list)]
    normalize: Normalize = "word"

    @model_validator(mode="after")
    def _answers_are_readable(self) -> ShortAnswer:
        if not any(accepted.strip() for accepted in self.answer):
            raise ValueError("no correct answer: 'answer' lists no accepted answer")
        rule = NORMALIZERS[self.normalize]
        for accepted in self.answer:
            if rule(accepted) in (None, ""):
                raise ValueError(
                    f"accepted answer {accepted!r} reads as nothing under "
                    f"normalize = {self.normalize!r}"
                )
        return self


class PredictRequest(BaseModel):
    """The request a predict question sends; `json` is the body, absent for none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Annotated[HttpMethod, BeforeValidator(_upper)] = "GET"
    path: Annotated[str, Strict()]
    headers: dict[str, Annotated[str, Strict()]] = Field(default_factory=dict)
    body: Any = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _path_is_absolute(self) -> PredictRequest:
        if not self.path.startswith("/"):
            raise ValueError(f"'request.path' must start with '/', got {self.path!r}")
        return self


class Predict(_Question):
    """Predict what the app answers to `request` (sent `repeat` times; the last one counts).

    `app` is an import string "module:factory"; the factory is called with no argument, or
    with `workshop_app.config.Settings(**settings)` when the bank gives a `settings` table.
    `answer` is the value the app really returns: a test runs every predict question and fails
    when the bank and the app disagree.
    """

    kind: Literal["predict"]
    app: Annotated[str, Strict()]
    settings: dict[str, Any] | None = None
    request: PredictRequest
    repeat: Annotated[int, Strict(), Field(ge=1, le=MAX_REPEAT)] = 1
    predict: Annotated[str, Strict()]
    options: tuple[ScalarText, ...] | None = None
    answer: Annotated[str, BeforeValidator(_json_text)]

    @property
    def target(self) -> Target:
        """What is predicted: "status", "header" or "json"."""
        return self.predict.partition(":")[0]  # type: ignore[return-value]

    @property
    def target_name(self) -> str:
        """The header name or dotted JSON path after the colon ("" for status)."""
        return self.predict.partition(":")[2]

    @model_validator(mode="after")
    def _consistent(self) -> Predict:
        if not _IMPORT_STRING.fullmatch(self.app):
            raise ValueError(f"'app' must be an import string 'module:factory', got {self.app!r}")
        target, name = self.target, self.target_name
        valid = {
            "status": self.predict == "status",
            "header": bool(_HEADER_NAME.fullmatch(name)),
            "json": bool(_JSON_PATH.fullmatch(name)),
        }
        if not valid.get(target, False):
            raise ValueError(
                '\'predict\' must be "status", "header:<Name>" or "json:<dotted.path>", '
                f"got {self.predict!r}"
            )
        if target == "status" and not 100 <= (prediction_key("status", self.answer) or 0) < 600:
            raise ValueError(f"'answer' {self.answer!r} is not an HTTP status code")
        if self.options is not None:
            _check_options(self.options)
            keys = [prediction_key(self.target, option) for option in self.options]
            if prediction_key(self.target, self.answer) not in keys:
                raise ValueError(
                    f"no correct answer: 'answer' {self.answer!r} is not among the options"
                )
        return self


Question = Annotated[
    SingleChoice | MultipleChoice | ShortAnswer | Predict, Field(discriminator="kind")
]
MODEL_BY_KIND: dict[str, type[_Question]] = {
    "single": SingleChoice,
    "multiple": MultipleChoice,
    "short": ShortAnswer,
    "predict": Predict,
}
QUESTION_KINDS = tuple(MODEL_BY_KIND)


class BankFile(BaseModel):
    """The top level of a bank file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Text
    shuffle: Annotated[bool, Strict()] = False
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _has_questions(self) -> BankFile:
        # Not Field(min_length=1): Pydantic would also report that for a list whose
        # questions are all invalid, on top of their own errors.
        if not self.questions:
            raise ValueError("no questions: add at least one [[questions]] table")
        return self


@dataclass(frozen=True)
class Bank:
    """A loaded bank: the file's content plus where it came from.

    `notebook_id` (the file's stem) names the quiz for progress and seeds option shuffling.
    """

    notebook_id: str
    path: Path
    title: str
    shuffle: bool
    questions: tuple[SingleChoice | MultipleChoice | ShortAnswer | Predict, ...]

    def __len__(self) -> int:
        return len(self.questions)

    def question(self, question_id: str) -> SingleChoice | MultipleChoice | ShortAnswer | Predict:
        """The question with this id (KeyError names the ids there are)."""
        for question in self.questions:
            if question.id == question_id:
                return question
        known = ", ".join(question.id for question in self.questions)
        raise KeyError(f"no question {question_id!r} in {self.notebook_id} (ids: {known})")

    def shuffles(self, question: SingleChoice | MultipleChoice | ShortAnswer | Predict) -> bool:
        """Whether this question's options are shown shuffled."""
        return self.shuffle if question.shuffle is None else question.shuffle
