"""Exercises of notebook 07 (errors): a new error type, from ``raise`` to the client.

The check raises the learner's class inside the real app (``create_app``) and reads
the response a client would get, so "done" means the envelope is right on the wire,
not that some attributes are set.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "03_errors"
REQUEST_ID = "check-07-gone"
GIVEN_MESSAGE = "Export 7 has expired; request a new one."

GONE_STARTER = '''\
from workshop_app.exceptions import AppError


class GoneError(AppError):
    """The resource existed and was removed for good: clients should stop asking for it."""

    # Set status_code (410), code ("GONE") and a default_message for clients.
'''

GONE_SOLUTION = '''\
from workshop_app.exceptions import AppError


class GoneError(AppError):
    """The resource existed and was removed for good: clients should stop asking for it."""

    status_code = 410
    code = "GONE"
    default_message = "The resource is no longer available."
'''


def _current_app_error() -> type:
    """``AppError`` as the app's handlers know it now (notebooks reload the package)."""
    return importlib.import_module("workshop_app.exceptions").AppError


def _check_class(candidate: Any) -> None:
    """Mistakes visible without a request: what was passed, and what it derives from."""
    if isinstance(candidate, BaseException):
        raise ExerciseFailed(
            f"You passed an instance ({type(candidate).__name__}(...)); pass the class itself: "
            "lab.check('03.new_error_type', GoneError) - no parentheses."
        )
    if not inspect.isclass(candidate):
        raise ExerciseFailed(
            f"Expected the class GoneError, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Define it with `class GoneError(AppError):`."
        )
    app_error = _current_app_error()
    if issubclass(candidate, app_error):
        _check_attribute_types(candidate)
        return
    bases = {(cls.__module__, cls.__name__) for cls in candidate.__mro__}
    if ("workshop_app.exceptions", "AppError") in bases:
        raise ExerciseFailed(
            "GoneError derives from an older AppError: the app's modules were reloaded after "
            "you ran the cell that imports it, so today's handler does not recognise it. "
            "Run the exercise cell again, then check."
        )
    if any(cls.__name__ == "HTTPException" for cls in candidate.__mro__):
        raise ExerciseFailed(
            "GoneError derives from HTTPException. The app would still answer with the "
            "envelope, but every raise must repeat the status, the code is derived from it, "
            "and services may not import FastAPI. Write `class GoneError(AppError):`."
        )
    base = candidate.__mro__[1].__name__ if len(candidate.__mro__) > 1 else "object"
    raise ExerciseFailed(
        f"GoneError derives from {base}, not AppError: raising it would reach the catch-all "
        "handler and answer 500 INTERNAL_ERROR. Write `class GoneError(AppError):`."
    )


def _check_attribute_types(candidate: type) -> None:
    own = vars(candidate)
    if "status_code" not in own and "status" in own:
        raise ExerciseFailed(
            "You set `status`, but AppError and its handler read `status_code`: "
            "rename it to `status_code = 410`."
        )
    if not isinstance(candidate.status_code, int) or isinstance(candidate.status_code, bool):
        raise ExerciseFailed(
            f"status_code is {candidate.status_code!r}; it must be the int 410, not a "
            f"{type(candidate.status_code).__name__}."
        )
    if not isinstance(candidate.code, str):
        raise ExerciseFailed(f'code is {candidate.code!r}; it must be the string "GONE".')


def _build_app(candidate: type) -> Any:
    """The learner's current app, plus two routes that raise the candidate."""
    config = importlib.import_module("workshop_app.config")
    main = importlib.import_module("workshop_app.main")
    settings = config.Settings(
        environment="test",
        database_url="sqlite+aiosqlite:///:memory:",
        rate_limit_enabled=False,
        log_level="CRITICAL",  # a failing attempt logs a traceback; keep it out of the cell
    )
    app = main.create_app(settings)

    @app.get("/exports/{export_id}")
    async def read_export(export_id: int) -> dict:
        raise candidate(GIVEN_MESSAGE)

    @app.get("/exports")
    async def list_exports() -> dict:
        raise candidate()

    return app


def _error_of(response: Any) -> dict:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise ExerciseFailed(
            f"The app answered {response.status_code} without the error envelope "
            f"({response.text[:120]!r}): is errors.register_error_handlers still called "
            "by create_app? lab.restore('workshop_app/error_handlers.py') puts the reference back."
        ) from None
    return error


def _check_status_and_code(candidate: type, status: int, error: dict) -> None:
    code = error.get("code")
    if status == 500 and code == "INTERNAL_ERROR":
        if candidate.status_code == 500:
            raise ExerciseFailed(
                "Raising GoneError answered 500 INTERNAL_ERROR: status_code and code are "
                'still AppError\'s defaults. Set status_code = 410 and code = "GONE".'
            )
        raise ExerciseFailed(
            "Raising GoneError answered 500 INTERNAL_ERROR: the AppError handler itself "
            "failed on your exception. If you wrote __init__, call "
            "super().__init__(message) in it, or delete it: AppError's sets message, "
            "details and headers."
        )
    if status != 410:
        raise ExerciseFailed(
            f"Raising GoneError answered {status}, expected 410. 410 Gone says the resource "
            "existed and will not come back, so clients and caches stop asking; 404 only "
            "says it is not here. Set status_code = 410."
        )
    if code == "INTERNAL_ERROR":
        raise ExerciseFailed(
            'The status is 410 but the code is still AppError\'s "INTERNAL_ERROR": set '
            'code = "GONE". Clients branch on the code, and this one sends them to the '
            "wrong branch."
        )
    if code == "GONE":
        return
    if isinstance(code, str) and code.upper() == "GONE":
        raise ExerciseFailed(
            f'code is {code!r}: codes are UPPER_SNAKE_CASE like NOT_FOUND and CONFLICT. Use "GONE".'
        )
    raise ExerciseFailed(
        f'code is {code!r}; this exercise expects "GONE", the status name, as NOT_FOUND '
        "is for 404. A code is a contract: pick it once and never change it."
    )


def _check_messages(candidate: type, given: dict, default: dict) -> None:
    if given.get("message") != GIVEN_MESSAGE:
        raise ExerciseFailed(
            f"GoneError({GIVEN_MESSAGE!r}) answered the message {given.get('message')!r}: "
            "a message passed when raising must reach the client. Do not override "
            "__init__, or pass the message on to super().__init__."
        )
    message = default.get("message")
    internal = importlib.import_module("workshop_app.exceptions").INTERNAL_ERROR_MESSAGE
    if message == internal:
        hint = (
            "You set `message` on the class, but AppError.__init__ replaces it with "
            "`default_message`: rename it. "
            if "message" in vars(candidate)
            else ""
        )
        raise ExerciseFailed(
            f"GoneError() without a message answered {message!r}, AppError's default for "
            f"a crash. {hint}Set default_message to a sentence a client can act on, e.g. "
            '"The resource is no longer available."'
        )
    if not isinstance(message, str) or not message.strip():
        raise ExerciseFailed("default_message is empty: give GoneError() a sentence to say.")


def _check_request_id(response: Any, error: dict) -> None:
    if error.get("request_id") != REQUEST_ID:
        raise ExerciseFailed(
            f"The envelope's request_id is {error.get('request_id')!r}, expected {REQUEST_ID!r}, "
            "the id the client sent. error_response() reads it from the request-id "
            "middleware: make sure your errors go through the handler, not a hand-built body."
        )
    if response.headers.get("x-request-id") != REQUEST_ID:
        raise ExerciseFailed(
            "The X-Request-ID response header is missing or differs from the envelope's "
            "request_id: keep the request-id middleware registered in create_app."
        )


async def verify_new_error_type(candidate: Any) -> None:
    _check_class(candidate)
    candidate(GIVEN_MESSAGE)  # a broken __init__ fails here, with a clear crash report
    async with app_client(_build_app(candidate)) as client:
        given = await client.get("/exports/7", headers={"X-Request-ID": REQUEST_ID})
        default = await client.get("/exports")
    error = _error_of(given)
    _check_status_and_code(candidate, given.status_code, error)
    _check_messages(candidate, error, _error_of(default))
    _check_request_id(given, error)


EXERCISES = (
    Exercise(
        id="03.new_error_type",
        notebook_id=NOTEBOOK_ID,
        title="A new error type, end to end",
        instructions=(
            "Complete GoneError, an AppError for a resource that was removed for good: "
            'status 410, code "GONE", and a default_message a client can act on. The check '
            "raises it in create_app's app, with and without a message, and reads the envelope."
        ),
        starter=GONE_STARTER,
        solution=GONE_SOLUTION,
        name="GoneError",
        verify=verify_new_error_type,
        success="GET answers 410 with code GONE, its message and the request id.",
    ),
)
