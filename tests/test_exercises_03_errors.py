"""Notebook 03's exercise checks reject each likely mistake, and say which one it is.

tests/test_exercises.py already proves that every starter fails and every solution passes;
here each wrong attempt a learner is likely to write gets its own hint, correct attempts in
other styles pass, and every check stays under 3 seconds.
"""

from http import HTTPStatus
from typing import Any

import exercise_helpers
import pytest
from exercise_helpers import timed_check
from fastapi import HTTPException

from workshop_app.exceptions import AppError
from workshop_lab.exercises import check, get_exercise

EXERCISE = "03.new_error_type"
HANDLER = "03.validation_handler"


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
    result = timed_check(EXERCISE, candidate)

    assert result.passed is False
    assert hint in result.hint


def test_the_starter_is_told_to_set_status_and_code() -> None:
    exercise = get_exercise(EXERCISE)

    result = check(EXERCISE, exercise.load(exercise.starter))

    assert result.passed is False
    assert "Give GoneError its own status and code" in result.hint
    assert "410" not in result.hint  # the hint names the mistake, not the answer


@pytest.mark.parametrize(
    "candidate",
    [gone(), gone(status_code=HTTPStatus.GONE)],
    ids=["plain", "httpstatus-enum"],
)
def test_a_correct_class_passes_however_it_spells_410(candidate: type) -> None:
    result = timed_check(EXERCISE, candidate)

    assert result.passed is True, result.hint
    assert "410 with code GONE" in result.message


# --- 03.validation_handler ----------------------------------------------------------------------

REGISTER = "    app.add_exception_handler(ValidationError, handle_pydantic_error)"
JOIN = '".".join(str(part) for part in error["loc"])'
RETURN = "    return error_response(\n        422,"
DETAILS = """    details = [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
"""


def handler_source(*replacements: tuple[str, str], prelude: str = "") -> str:
    """The solution with each ``(old, new)`` replaced, ``prelude`` after the imports."""
    source = get_exercise(HANDLER).solution
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    if prelude:
        source = source.replace("\n\n\nasync def", f"\n\n{prelude}\n\n\nasync def", 1)
    return source


def handler_variant(*replacements: tuple[str, str], prelude: str = "") -> Any:
    """That source, loaded the way a learner's cell defines it."""
    return get_exercise(HANDLER).load(handler_source(*replacements, prelude=prelude))


def register_for(exception: str, prelude: str = "") -> Any:
    new = f"    app.add_exception_handler({exception}, handle_pydantic_error)"
    return handler_variant((REGISTER, new), prelude=prelude)


def defined(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<cell>", "exec", dont_inherit=True), namespace)
    return namespace[name]


def replace_return(*lines: str) -> tuple[str, str]:
    """Replace the solution's return with ``lines`` (the old call stays, unreachable)."""
    return RETURN, "".join(f"    {line}\n" for line in lines) + "    error_response(\n        422,"


HANDLER_CASES = {
    # registration
    "not-registered": (
        handler_variant((REGISTER, "    pass")),
        "registered no exception handler on the app",
    ),
    "request-validation-error": (
        register_for(
            "RequestValidationError",
            prelude="from fastapi.exceptions import RequestValidationError",
        ),
        "FastAPI's RequestValidationError is another class",
    ),
    "status-handler-422": (register_for("422"), "A status key only catches an HTTPException"),
    "value-error-parent-class": (
        register_for("ValueError"),
        "reached your handler, which failed on it (AttributeError: 'ValueError' object has "
        "no attribute 'errors'); the log now shows your handler's error instead of the bug. "
        "Your handler is registered for ValueError, a parent class of ValidationError",
    ),
    "exception-replaces-500-handler": (
        register_for("Exception"),
        "it replaced the app's 500 handler",
    ),
    "async-register": (
        handler_variant(("def register_pydantic_handler", "async def register_pydantic_handler")),
        "register_pydantic_handler is `async def`",
    ),
    "the-handler-itself": (
        defined(get_exercise(HANDLER).solution, "handle_pydantic_error"),
        "You passed a function that takes two arguments, the handler itself",
    ),
    "nothing": (None, "not NoneType"),
    # what the handler does with the exception
    "handler-reraises": (handler_variant((DETAILS, "    raise exc\n")), "lets it out again"),
    "join-without-str": (
        handler_variant((JOIN, '".".join(error["loc"])')),
        "A location holds numbers too",
    ),
    "pydantic-keys-guessed": (
        handler_variant(('error["msg"]', 'error["message"]')),
        "your handler raised KeyError: 'message'",
    ),
    "no-return": (
        handler_variant((RETURN, "    error_response(\n        422,")),
        "your handler returned None",
    ),
    "returns-a-dict": (
        handler_variant(replace_return('return {"error": {"details": details}}')),
        "must return a response object",
    ),
    # the response
    "status-400": (
        handler_variant((RETURN, "    return error_response(\n        400,")),
        "answered 400, expected 422",
    ),
    "code-of-its-own": (
        handler_variant(("ValidationFailed.code,", '"INVALID_PAYLOAD",')),
        "code is 'INVALID_PAYLOAD'",
    ),
    "message-is-str-exc": (
        handler_variant(("ValidationFailed.default_message,", "str(exc),")),
        "the response contains a value the client sent",
    ),
    "details-keep-the-input": (
        handler_variant(
            ('"type": error["type"],', '"type": error["type"], "input": error["input"],')
        ),
        "the response contains a value the client sent",
    ),
    "hand-built-body-without-request-id": (
        handler_variant(
            replace_return(
                'error = {"code": "VALIDATION_ERROR", "message": "Invalid.", "details": details}',
                'return JSONResponse({"error": {**error, "request_id": None}}, status_code=422)',
            ),
            prelude="from fastapi.responses import JSONResponse",
        ),
        "the envelope's request_id is None, but this request's id is 'check-03-a'",
    ),
    # the details
    "first-error-only": (
        handler_variant(("for error in exc.errors()", "for error in exc.errors()[:1]")),
        "the payload has 3 errors and the response lists 1 detail.",
    ),
    "no-details": (
        handler_variant(("details=details", "details=[]")),
        "the payload has 3 errors and the response lists 0 details",
    ),
    "slash-separated-field": (
        handler_variant((JOIN, '"/".join(str(part) for part in error["loc"])')),
        "the fields are ['event', 'lines/1/quantity', 'order_id']",
    ),
    "tuple-as-field": (
        handler_variant((JOIN, 'str(error["loc"])')),
        "its parts joined with dots",
    ),
    "pydantic-error-dicts": (
        handler_variant(
            (DETAILS, "    details = exc.errors(include_url=False, include_context=False)\n")
        ),
        "the response contains a value the client sent",
    ),
    "pydantic-error-dicts-without-input": (
        handler_variant(
            (
                DETAILS,
                "    details = exc.errors(\n"
                "        include_url=False, include_context=False, include_input=False\n"
                "    )\n",
            )
        ),
        "a detail has the keys ['loc', 'msg', 'type']",
    ),
    "type-as-message": (
        handler_variant(('"message": error["msg"]', '"message": error["type"]')),
        "pydantic's own message for each error",
    ),
    "hard-coded-from-a-hint": (
        handler_variant(
            ("for error in exc.errors()", "for error in HINTED"),
            prelude=(
                "HINTED = [\n"
                '    {"loc": ("event",), "msg": "?", "type": "literal_error"},\n'
                '    {"loc": ("order_id",), "msg": "?", "type": "int_parsing"},\n'
                '    {"loc": ("lines", 1, "quantity"), "msg": "?", "type": "int_parsing"},\n'
                "]"
            ),
        ),
        "pydantic's own message for each error",
    ),
    "hard-coded-with-messages": (
        handler_variant(
            ("for error in exc.errors()", "for error in exc.errors()[:0] or HINTED"),
            prelude=(
                "HINTED = [\n"
                '    {"loc": ("event",), "msg": "Input should be \'order.paid\' or '
                '\'order.cancelled\'", "type": "literal_error"},\n'
                '    {"loc": ("order_id",), "msg": "Input should be a valid integer, unable to '
                'parse string as an integer", "type": "int_parsing"},\n'
                '    {"loc": ("lines", 1, "quantity"), "msg": "Input should be a valid integer, '
                'unable to parse string as an integer", "type": "int_parsing"},\n'
                "]"
            ),
        ),
        "Another invalid payload (a missing field, a number too small): the payload has 2 "
        "errors and the response lists 3 details",
    ),
    # state shared between requests
    "details-accumulate-across-requests": (
        handler_variant(
            (DETAILS, DETAILS + "    SEEN.extend(details)\n"),
            ("details=details", "details=SEEN"),
            prelude="SEEN: list = []",
        ),
        "lists 5 details. One detail per error pydantic found, so the client can fix them all "
        "at once. More details than errors: are details kept from one request to the next?",
    ),
    "errors-kept-across-an-await": (
        handler_variant(
            (
                DETAILS,
                '    LAST["errors"] = exc.errors()\n'
                "    await asyncio.sleep(0.01)  # say, a log call that awaits\n"
                + DETAILS.replace("exc.errors()", 'LAST["errors"]'),
            ),
            prelude="import asyncio\n\nLAST: dict = {}",
        ),
        "Requests at the same time: the payload has 2 errors and the response lists 3 details"
        ". One detail per error pydantic found, so the client can fix them all at once. Each "
        "request alone was answered right, so something is shared between requests",
    ),
}


@pytest.mark.parametrize(("candidate", "hint"), HANDLER_CASES.values(), ids=HANDLER_CASES.keys())
def test_each_handler_mistake_gets_its_hint(candidate: Any, hint: str) -> None:
    result = timed_check(HANDLER, candidate)

    assert result.passed is False
    assert hint in result.hint


def test_the_handler_starter_is_told_to_register_a_handler() -> None:
    exercise = get_exercise(HANDLER)

    result = timed_check(HANDLER, exercise.load(exercise.starter))

    assert result.passed is False
    assert "registered no exception handler" in result.hint


DECORATED = """\
from fastapi import FastAPI
from pydantic import ValidationError

from workshop_app.error_handlers import app_error_response
from workshop_app.exceptions import ValidationFailed


def register_pydantic_handler(app: FastAPI) -> None:
    @app.exception_handler(ValidationError)
    def invalid_data(request, exc: ValidationError):  # a plain def runs in a worker thread
        problems = exc.errors(include_input=False, include_context=False, include_url=False)
        details = [
            {"field": ".".join(map(str, p["loc"])) or None, "message": p["msg"], "type": p["type"]}
            for p in problems
        ]
        return app_error_response(ValidationFailed(details=details))
"""

CALLABLE_OBJECT = """\
from pydantic import ValidationError

from workshop_app.error_handlers import error_response


class PydanticErrors:
    status_code = 422

    async def __call__(self, request, exc):
        details = []
        for error in exc.errors():
            where = ".".join(f"{part}" for part in error["loc"])
            details.append({"field": where, "message": error["msg"], "type": error["type"]})
        return error_response(self.status_code, "VALIDATION_ERROR", "Invalid.", details=details)


def register_pydantic_handler(app):
    app.add_exception_handler(ValidationError, PydanticErrors())
"""

# Raising a domain error from the handler works too: FastAPI runs handlers inside each route
# as well, so the ValidationFailed reaches the app's AppError handler outside it.
RAISES_A_DOMAIN_ERROR = handler_source(replace_return("raise ValidationFailed(details=details)"))

ONLY_VALIDATION_ERRORS_FROM_VALUE_ERROR = handler_source(
    (REGISTER, "    app.add_exception_handler(ValueError, handle_pydantic_error)"),
    (DETAILS, "    if not isinstance(exc, ValidationError):\n        raise exc\n" + DETAILS),
)


@pytest.mark.parametrize(
    "source",
    [DECORATED, CALLABLE_OBJECT, RAISES_A_DOMAIN_ERROR, ONLY_VALIDATION_ERRORS_FROM_VALUE_ERROR],
    ids=["decorator-sync", "callable-object", "raises-validation-failed", "value-error-re-raising"],
)
def test_other_correct_handlers_pass(source: str) -> None:
    result = timed_check(HANDLER, defined(source, "register_pydantic_handler"))

    assert result.passed is True, result.hint
    assert "one detail per error" in result.message
