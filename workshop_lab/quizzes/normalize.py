"""Turn typed answers into comparable keys.

Learners type "429 Too Many Requests", "`Retry-After`:" or " Lifespan. " and mean the right
thing; a quiz that marks those wrong teaches nothing but frustration. Each rule here is small
and documented so that a bank author can predict what will be accepted. The same rules serve
two places: grading, and bank validation (an accepted answer that its own rule cannot read is a
bank error, caught when the bank loads).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from typing import Any, Literal

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
