"""Grade answers, with no widget in sight.

Kept apart from the widgets so that every rule is a plain function a test can call, and so
that the same rules would serve any other front end. Answers are always in bank terms: option
numbers as written in the bank (1-based, whatever order they were shown in), text for short
and predict questions. A prediction is checked against what the app really does (`run`, then
`observe`), not only against the bank: in later notebooks the app is the learner's own code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from workshop_lab.quizzes.models import (
    NORMALIZERS,
    MultipleChoice,
    Predict,
    ShortAnswer,
    SingleChoice,
    as_text,
    prediction_key,
)

AnyQuestion = SingleChoice | MultipleChoice | ShortAnswer | Predict


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer. `feedback` starts with "Correct." or "Incorrect." so the
    result is in words, not only in a colour."""

    correct: bool
    score: float
    feedback: str


class ObservationError(LookupError):
    """The response does not have what the question asks to predict (no such header, no such
    JSON field, or no JSON body at all)."""


def grade(question: AnyQuestion, answer: Any, *, actual: str | None = None) -> Grade:
    """Grade `answer` to `question`.

    single: an option number or None; multiple: option numbers; short and predict: text.
    For predict, `actual` is the value observed by really running the request (see
    `observe`); when given it is the truth, otherwise the bank's `answer` is.
    """
    if isinstance(question, SingleChoice):
        return _grade_single(question, answer)
    if isinstance(question, MultipleChoice):
        return _grade_multiple(question, answer)
    if isinstance(question, ShortAnswer):
        return _grade_short(question, answer)
    if isinstance(question, Predict):
        return _grade_predict(question, answer, actual)
    raise TypeError(f"not a quiz question: {question!r}")


def _grade_single(question: SingleChoice, answer: int | None) -> Grade:
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, int)):
        raise TypeError(f"a single-choice answer is an option number, got {answer!r}")
    if answer == question.answer:
        return Grade(True, 1.0, "Correct.")
    lead = "Incorrect. No option was selected." if answer is None else "Incorrect."
    right = question.options[question.answer - 1]
    return Grade(False, 0.0, f"{lead} The right answer is: {_sentence(right)}")


def _grade_multiple(question: MultipleChoice, answer: Iterable[int] | None) -> Grade:
    """Correct only when the chosen set is exactly the right set.

    Score: (right options chosen - wrong options chosen) / number of right options, never
    below 0. Ticking everything therefore scores little, and one slip in an otherwise
    careful answer still earns most of the credit.
    """
    chosen = set() if answer is None else set(answer)
    if any(isinstance(n, bool) or not isinstance(n, int) for n in chosen):
        raise TypeError(f"a multiple-choice answer is option numbers, got {answer!r}")
    right = set(question.answer)
    hits, misses = len(chosen & right), len(chosen - right)
    if chosen == right:
        return Grade(True, 1.0, "Correct.")
    score = max(0.0, (hits - misses) / len(right))
    listed = "; ".join(question.options[number - 1] for number in sorted(right))
    wrong = f" and {misses} wrong one{'s' if misses != 1 else ''}" if misses else ""
    detail = f"You chose {hits} of the {len(right)} right options{wrong}."
    return Grade(False, score, f"Incorrect. {detail} The right options are: {_sentence(listed)}")


def _grade_short(question: ShortAnswer, answer: str | None) -> Grade:
    text = "" if answer is None else str(answer)
    rule = NORMALIZERS[question.normalize]
    given = rule(text)
    if given not in (None, "") and any(given == rule(accepted) for accepted in question.answer):
        return Grade(True, 1.0, "Correct.")
    lead = "Incorrect. No answer was given." if not text.strip() else "Incorrect."
    return Grade(False, 0.0, f"{lead} Expected: {_sentence(question.answer[0])}")


def _grade_predict(question: Predict, answer: Any, actual: str | None) -> Grade:
    text = "" if answer is None else as_text(answer).strip()
    expected = question.answer if actual is None else actual
    seen = f"{describe_target(question)} {'is' if actual is None else 'was'} "
    seen += prediction_key("json", expected) if question.target == "json" else expected
    truth = _sentence(seen, capitalise=True)
    if not text:
        return Grade(False, 0.0, f"Incorrect. No prediction was given. {truth}")
    if prediction_key(question.target, text) == prediction_key(question.target, expected):
        return Grade(True, 1.0, f"Correct. {truth}")
    return Grade(False, 0.0, f"Incorrect. You predicted {text}; {seen}.")


def _sentence(text: str, *, capitalise: bool = False) -> str:
    """Ending with a full stop, without doubling one the text already has. Quoted bank text
    (an option, an accepted answer) keeps its case: `httpx` is not `Httpx`."""
    text = text.strip()
    if capitalise:
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def describe_target(question: Predict) -> str:
    """What is predicted, in words: "the status code", "the Retry-After header"..."""
    if question.target == "status":
        return "the status code"
    if question.target == "header":
        return f"the {question.target_name} header"
    return f"the JSON field {question.target_name}"


def observe(question: Predict, response: httpx.Response) -> str:
    """The value `question` asks to predict, read from a real response, as text."""
    if question.target == "status":
        return str(response.status_code)
    if question.target == "header":
        value = response.headers.get(question.target_name)
        if value is None:
            raise ObservationError(f"the response has no {question.target_name} header")
        return value
    try:
        value: Any = response.json()
    except ValueError:
        raise ObservationError("the response body is not JSON") from None
    walked = []
    for part in question.target_name.split("."):
        walked.append(part)
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise ObservationError(f"the JSON body has no {'.'.join(walked)}")
    return as_text(value)


def build_app(question: Predict) -> Any:
    """Import the factory named by `question.app` and call it.

    Imported at run time, not when the bank loads: the module is the learner's current code
    (notebooks rewrite and reload it), and loading a bank should not import an app at all.
    """
    module_name, _, attribute = question.app.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    if question.settings is None:
        return factory()
    from workshop_app.config import Settings  # the learner's current Settings

    return factory(Settings(**question.settings))


def run(question: Predict) -> httpx.Response:
    """Send the question's request `repeat` times to a fresh app; return the last response."""
    from workshop_lab.client import call

    request = question.request
    kwargs: dict[str, Any] = {}
    if request.headers:
        kwargs["headers"] = dict(request.headers)
    if request.body is not None:
        kwargs["json"] = request.body
    return call(build_app(question), request.method, request.path, repeat=question.repeat, **kwargs)
