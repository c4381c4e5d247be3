"""03.new_error_type: each likely mistake gets its own hint, and the right class passes."""

from http import HTTPStatus
from typing import Any

import exercise_helpers
import pytest
from fastapi import HTTPException

from workshop_app.exceptions import AppError
from workshop_lab.exercises import check, get_exercise

EXERCISE = "03.new_error_type"


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def gone(**attributes: Any) -> type:
    """A GoneError built from the solution's attributes, with some changed or removed."""
    body = {"status_code": 410, "code": "GONE", "default_message": "No longer available."}
    body.update(attributes)
    return type("GoneError", (AppError,), {k: v for k, v in body.items() if v is not ...})


class GoneFromException(Exception):
    status_code = 410
    code = "GONE"


class GoneFromHTTPException(HTTPException):
    def __init__(self, detail: str = "Gone") -> None:
        super().__init__(410, detail)


# An AppError from before lab.reload_app(): same module and name, another class object.
StaleAppError = type("AppError", (Exception,), {"__module__": "workshop_app.exceptions"})
GoneFromStaleAppError = type("GoneError", (StaleAppError,), {"status_code": 410})


class GoneIgnoringMessage(AppError):
    status_code = 410
    code = "GONE"
    default_message = "No longer available."

    def __init__(self, message: str | None = None) -> None:
        super().__init__()


class GoneWithoutSuperInit(AppError):
    status_code = 410
    code = "GONE"

    def __init__(self, message: str | None = None) -> None:
        self.text = message


class GoneWithBrokenInit(AppError):
    def __init__(self, message: str | None = None) -> None:
        raise ValueError("no gone today")


CASES = {
    "instance": (gone()("x"), "pass the class itself"),
    "none": (None, "Expected the class GoneError, got NoneType"),
    "string": ("GoneError", "Expected the class GoneError, got str"),
    "exception-base": (GoneFromException, "derives from Exception, not AppError"),
    "http-exception-base": (GoneFromHTTPException, "derives from HTTPException"),
    "stale-app-error": (GoneFromStaleAppError, "derives from an older AppError"),
    "status-not-status_code": (gone(status_code=..., status=410), "You set `status`"),
    "status-as-string": (gone(status_code="410"), "must be the int 410, not a str"),
    "code-as-number": (gone(code=410), 'it must be the string "GONE"'),
    "nothing-set": (gone(status_code=..., code=...), "still AppError's defaults"),
    "wrong-status": (gone(status_code=404), "answered 404, expected 410"),
    "code-missing": (gone(code=...), 'code is still AppError\'s "INTERNAL_ERROR"'),
    "code-lowercase": (gone(code="gone"), "UPPER_SNAKE_CASE"),
    "code-other": (gone(code="RESOURCE_GONE"), 'this exercise expects "GONE"'),
    "default-message-missing": (gone(default_message=...), "AppError's default for a crash"),
    "message-on-class": (
        gone(default_message=..., message="Gone for good."),
        "You set `message` on the class",
    ),
    "default-message-empty": (gone(default_message=""), "default_message is empty"),
    "message-ignored": (GoneIgnoringMessage, "a message passed when raising must reach"),
    "init-without-super": (GoneWithoutSuperInit, "the AppError handler itself failed"),
    "init-raises": (GoneWithBrokenInit, "raised ValueError in __init__(): no gone today"),
}


@pytest.mark.parametrize(("candidate", "hint"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_its_hint(candidate: Any, hint: str) -> None:
    result = check(EXERCISE, candidate)

    assert result.passed is False
    assert hint in result.hint


def test_the_starter_is_told_to_set_status_and_code() -> None:
    exercise = get_exercise(EXERCISE)

    result = check(EXERCISE, exercise.load(exercise.starter))

    assert result.passed is False
    assert 'Set status_code = 410 and code = "GONE"' in result.hint


@pytest.mark.parametrize(
    "candidate",
    [gone(), gone(status_code=HTTPStatus.GONE)],
    ids=["plain", "httpstatus-enum"],
)
def test_a_correct_class_passes_however_it_spells_410(candidate: type) -> None:
    result = check(EXERCISE, candidate)

    assert result.passed is True, result.hint
    assert "410 with code GONE" in result.message
