"""Exercises of notebook 03 (errors): a new error type, then an exception handler of your own.

Both checks build the learner's current app (``create_app`` from the workspace), add the
routes they need and read the responses a client would get, so "done" means the envelope
is right on the wire, not that some attributes are set. The app modules are imported when
a check runs, never when this module loads: the notebook rewrites and reloads them.

Until notebook 04 no middleware gives requests an id, so each check wraps the app in a
stand-in that sets the request-id context variable from the ``X-Request-ID`` header the
check sends (at later checkpoints the real middleware sets the same id). An envelope built
by the notebook's helpers carries it; a body built by hand does not.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError

from ..client import app_client
from ..notebook import capture_logs
from ._base import (
    Exercise,
    ExerciseFailed,
    learner_app,
    learner_module,
    plain_result,
    require_callable,
)

NOTEBOOK_ID = "03_errors"
ENVELOPE_KEYS = {"code", "message", "request_id", "details"}
DETAIL_KEYS = {"field", "message", "type"}
CONCURRENT = "Requests at the same time"
NO_RESPONSE = 599  # the stand-in answers this when the app returned without a response


def _with_request_ids(app: Any) -> Any:
    """The app behind a stand-in for notebook 04's request-id middleware.

    It also notices an app that returns without sending a response (an exception handler
    that returned None) and answers ``NO_RESPONSE`` instead, so the check can say so.
    """
    request_id_var = learner_module("request_context").request_id_var

    async def stand_in(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = request_id_var.set(headers.get(b"x-request-id", b"").decode() or None)
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, watch)
        finally:
            request_id_var.reset(token)
        if not started:
            await send({"type": "http.response.start", "status": NO_RESPONSE, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    return stand_in


def _error_of(response: Any, what: str) -> dict:
    try:
        error = response.json()["error"]
        if not isinstance(error, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ExerciseFailed(
            f"{what} answered {response.status_code} without the error envelope "
            f"({response.text[:120]!r}). Build the response with the envelope helpers of "
            "error_handlers.py, so every error has the same shape."
        ) from None
    return error


# --- 03.new_error_type ------------------------------------------------------------------------

GONE_REQUEST_ID = "check-03-gone"
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
    return learner_module("exceptions").AppError


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
            f"({candidate!r:.60}). Define GoneError as a class that derives from AppError."
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
            "and services may not import FastAPI. Derive it from AppError instead."
        )
    base = candidate.__mro__[1].__name__ if len(candidate.__mro__) > 1 else "object"
    raise ExerciseFailed(
        f"GoneError derives from {base}, not AppError: raising it would reach the catch-all "
        "handler and answer 500 INTERNAL_ERROR. Derive it from AppError instead."
    )


def _check_attribute_types(candidate: type) -> None:
    own = vars(candidate)
    if "status_code" not in own and "status" in own:
        raise ExerciseFailed(
            "You set `status`, but AppError and its handler read `status_code`: rename it."
        )
    if not isinstance(candidate.status_code, int) or isinstance(candidate.status_code, bool):
        raise ExerciseFailed(
            f"status_code is {candidate.status_code!r}; it must be the int 410, not a "
            f"{type(candidate.status_code).__name__}."
        )
    if not isinstance(candidate.code, str):
        raise ExerciseFailed(f'code is {candidate.code!r}; it must be the string "GONE".')


def _gone_app(candidate: type) -> Any:
    """The learner's current app, plus two routes that raise the candidate."""
    app = learner_app()

    @app.get("/exports/{export_id}")
    async def read_export(export_id: int) -> dict:
        raise candidate(GIVEN_MESSAGE)

    @app.get("/exports")
    async def list_exports() -> dict:
        raise candidate()

    return _with_request_ids(app)


def _check_status_and_code(candidate: type, status: int, error: dict) -> None:
    code = error.get("code")
    if status == 500 and code == "INTERNAL_ERROR":
        if candidate.status_code == 500:
            raise ExerciseFailed(
                "Raising GoneError answered 500 INTERNAL_ERROR: status_code and code are "
                "still AppError's defaults. Give GoneError its own status and code, the ones "
                "the exercise asks for."
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
            "says it is not here."
        )
    if code == "INTERNAL_ERROR":
        raise ExerciseFailed(
            'The status is 410 but the code is still AppError\'s "INTERNAL_ERROR": set the '
            "code too. Clients branch on the code, and this one sends them to the wrong branch."
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
    internal = learner_module("exceptions").INTERNAL_ERROR_MESSAGE
    if message == internal:
        hint = (
            "You set `message` on the class, but AppError.__init__ replaces it with "
            "`default_message`: rename it. "
            if "message" in vars(candidate)
            else ""
        )
        raise ExerciseFailed(
            f"GoneError() without a message answered {message!r}, AppError's default for "
            f"a crash. {hint}Set default_message to a sentence a client can act on."
        )
    if not isinstance(message, str) or not message.strip():
        raise ExerciseFailed("default_message is empty: give GoneError() a sentence to say.")


def _check_request_id(error: dict) -> None:
    if error.get("request_id") != GONE_REQUEST_ID:
        raise ExerciseFailed(
            f"The envelope's request_id is {error.get('request_id')!r}, but the request had "
            f"the id {GONE_REQUEST_ID!r}: let the AppError handler build the response (raise "
            "the error), do not build a body by hand."
        )


async def verify_new_error_type(candidate: Any) -> None:
    _check_class(candidate)
    candidate(GIVEN_MESSAGE)  # a broken __init__ fails here, with a clear crash report
    async with app_client(_gone_app(candidate)) as client:
        given = await client.get("/exports/7", headers={"X-Request-ID": GONE_REQUEST_ID})
        default = await client.get("/exports")
    error = _error_of(given, "Raising GoneError")
    _check_status_and_code(candidate, given.status_code, error)
    _check_messages(candidate, error, _error_of(default, "Raising GoneError()"))
    _check_request_id(error)


# --- 03.validation_handler --------------------------------------------------------------------

HANDLER_STARTER = '''\
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from workshop_app.error_handlers import error_response


async def handle_pydantic_error(request: Request, exc: ValidationError) -> Response:
    """Data that code inside an endpoint validated is invalid: 422 in the envelope."""
    details: list[dict[str, str]] = []
    # TODO: one detail per error that pydantic lists in `exc`: "field" (the error's
    # location, its parts joined with dots), "message" and "type". Never the input.
    # TODO: answer with the status and code that request validation errors get.
    return error_response(500, "INTERNAL_ERROR", "Not written yet.", details=details)


def register_pydantic_handler(app: FastAPI) -> None:
    """Send pydantic's ValidationError, and nothing else, to handle_pydantic_error."""
    # TODO: register the handler on `app`.
'''

HANDLER_SOLUTION = '''\
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from workshop_app.error_handlers import error_response
from workshop_app.exceptions import ValidationFailed


async def handle_pydantic_error(request: Request, exc: ValidationError) -> Response:
    """Data that code inside an endpoint validated is invalid: 422 in the envelope."""
    details = [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return error_response(
        422, ValidationFailed.code, ValidationFailed.default_message, details=details
    )


def register_pydantic_handler(app: FastAPI) -> None:
    """Send pydantic's ValidationError, and nothing else, to handle_pydantic_error."""
    app.add_exception_handler(ValidationError, handle_pydantic_error)
'''


class Line(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class OrderEvent(BaseModel):
    """A webhook payload: the endpoint validates it itself, after reading the raw bytes."""

    event: Literal["order.paid", "order.cancelled"]
    order_id: int
    note: str | None = None
    lines: list[Line]


# Every value a client sent that is not valid, and one that is valid but private (the note),
# is marked "leaked-": none of them may come back in a response.
SECRET = "leaked-"
VALID = {"event": "order.paid", "order_id": 7, "lines": [{"sku": "KB-1", "quantity": 2}]}
# Three errors, one of them inside a list: its location holds a number.
THREE_ERRORS = {
    "event": "order.leaked-a41f",
    "order_id": "leaked-b52e",
    "lines": [{"sku": "KB-1", "quantity": 1}, {"sku": "MS-2", "quantity": "leaked-c63d"}],
}
# Two others: a missing field (pydantic's input is then the whole object, note included).
TWO_ERRORS = {
    "event": "order.paid",
    "note": "leaked-e85a",
    "lines": [{"sku": "KB-1", "quantity": 0}],
}
# Not JSON at all: one error with an empty location.
NOT_JSON = b'{"order_id": leaked-f96b'
BAD_PATH = "/exercise/orders/leaked-0a7c"


def _expected(body: bytes) -> list[tuple[str, str, str]]:
    try:
        OrderEvent.model_validate_json(body)
    except ValidationError as exc:
        return sorted(
            (".".join(str(part) for part in error["loc"]), error["msg"], error["type"])
            for error in exc.errors()
        )
    raise AssertionError("the probe is valid")  # pragma: no cover - a bug in this check


def _handler_app(candidate: Any) -> tuple[Any, dict[Any, Any]]:
    """The learner's app, their registration applied, plus the routes the check calls.

    Returns the app and the handlers the registration added or replaced, for the hints.
    """
    app = learner_app()
    before = dict(app.exception_handlers)
    plain_result(
        candidate(app),
        "register_pydantic_handler is `async def`: calling it made a coroutine that "
        "never ran, so nothing was registered. Registering is not I/O: make it a plain "
        "function, as register_error_handlers is.",
    )
    changed = {
        key: handler
        for key, handler in app.exception_handlers.items()
        if key not in before or before[key] is not handler
    }
    not_found = learner_module("exceptions").NotFoundError

    @app.post("/exercise/webhooks/orders")
    async def order_webhook(request: Request) -> dict:
        # A signature would be checked over these exact bytes: no body parameter here.
        event = OrderEvent.model_validate_json(await request.body())
        return {"accepted": event.order_id}

    @app.get("/exercise/bugs/value-error")
    async def value_error_bug() -> dict:
        return {"total": int("forty-two")}  # a bug: ValueError, not the client's fault

    @app.get("/exercise/bugs/runtime-error")
    async def runtime_error_bug() -> dict:
        raise RuntimeError("connection to db.internal refused")

    @app.get("/exercise/orders/{order_id}")
    async def read_order(order_id: int) -> dict:
        raise not_found(f"Order {order_id} does not exist.")

    return _with_request_ids(app), changed


def _registered_for(changed: dict[Any, Any]) -> str:
    keys = [getattr(key, "__name__", repr(key)) for key in changed]
    return ", ".join(sorted(keys)) if keys else "nothing"


def _crash_logged(records: list[logging.LogRecord]) -> BaseException | None:
    """The exception the app's 500 handler logged, if it logged one."""
    for record in records:
        if record.exc_info and record.exc_info[1] is not None:
            return record.exc_info[1]
    return None


def _explain_500(response: Any, crash: BaseException | None, changed: dict[Any, Any]) -> None:
    """The webhook answered something other than 422: say why, as precisely as possible."""
    if response.status_code == NO_RESPONSE:
        raise ExerciseFailed(
            "The app sent no response at all: your handler returned None. An exception "
            "handler must return the response it built."
        )
    if crash is None or response.status_code != 500:
        return
    if isinstance(crash, ValidationError):
        if any(isinstance(k, type) and issubclass(ValidationError, k) for k in changed):
            raise ExerciseFailed(
                "An invalid webhook payload still answers 500 INTERNAL_ERROR: your handler "
                "is registered and receives the ValidationError, but it lets it out again. "
                "A handler answers the error: return the 422 response."
            )
        if not changed:
            raise ExerciseFailed(
                "An invalid webhook payload still answers 500 INTERNAL_ERROR: "
                "register_pydantic_handler registered no exception handler on the app, so "
                "the ValidationError reaches the catch-all 500 handler, as a bug would."
            )
        if any(isinstance(key, int) for key in changed):
            raise ExerciseFailed(
                "An invalid webhook payload still answers 500 INTERNAL_ERROR: your handler is "
                f"registered for the status {_registered_for(changed)}. A status key only "
                "catches an HTTPException with that status; register for an exception class."
            )
        raise ExerciseFailed(
            f"An invalid webhook payload still answers 500 INTERNAL_ERROR: your handler is "
            f"registered for {_registered_for(changed)}, not for the exception that endpoint "
            "code gets from pydantic. FastAPI's RequestValidationError is another class, "
            "raised only while FastAPI parses a request."
        )
    detail = f"{type(crash).__name__}: {str(crash)[:160]}"
    if "not callable" in str(crash):
        raise ExerciseFailed(
            f"After your handler returned, sending its result failed ({detail}): an "
            "exception handler must return a response object, not a dict or a model."
        )
    tip = ""
    if isinstance(crash, TypeError) and "expected str instance" in str(crash):
        tip = " A location holds numbers too: the position of an item in a list."
    elif isinstance(crash, KeyError):
        tip = " Print one of the errors pydantic lists to see the keys it has."
    raise ExerciseFailed(
        f"Handling the webhook's ValidationError failed: your handler raised {detail}, so "
        f"the client got 500 INTERNAL_ERROR.{tip}"
    )


def _check_envelope(response: Any, request_id: str, what: str) -> dict:
    if SECRET in response.text:
        echoed = response.text[response.text.index(SECRET) :][:24]
        raise ExerciseFailed(
            f"{what}: the response contains a value the client sent ({echoed!r}...). "
            "Pydantic's error text and its input field repeat what was sent, which can be a "
            "password or a token: keep only where, why and which type of error."
        )
    if response.status_code != 422:
        raise ExerciseFailed(
            f"{what} answered {response.status_code}, expected 422: invalid data from the "
            "client is the client's mistake, the same status a body FastAPI rejects gets."
        )
    error = _error_of(response, what)
    if set(error) != ENVELOPE_KEYS:
        raise ExerciseFailed(
            f"{what}: the envelope has the keys {sorted(error)}, expected {sorted(ENVELOPE_KEYS)}. "
            "Build it with the helpers of error_handlers.py instead of by hand."
        )
    if error["code"] != "VALIDATION_ERROR":
        raise ExerciseFailed(
            f"{what}: code is {error['code']!r}. Clients branch on the code, and this is a "
            "validation error like any other: use the code that request validation errors "
            "get (ValidationFailed's)."
        )
    if not isinstance(error["message"], str) or not error["message"].strip():
        raise ExerciseFailed(f"{what}: the message is empty; give people a sentence.")
    if error["request_id"] != request_id:
        raise ExerciseFailed(
            f"{what}: the envelope's request_id is {error['request_id']!r}, but this request's "
            f"id is {request_id!r}. Build the response with the envelope helper of step 1, "
            "which reads the current id. (If you reloaded the app's modules after running "
            "your cell, run it again.)"
        )
    return error


def _check_details(error: dict, expected: list[tuple[str, str, str]], what: str) -> None:
    details = error["details"]
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise ExerciseFailed(f"{what}: details must be a list of objects, got {details!r:.100}.")
    if len(details) != len(expected):
        shared = (
            " Each request alone was answered right, so something is shared between "
            "requests (a module-level variable, an attribute of a shared object) and one "
            "request read another's errors: keep them in local variables."
            if what == CONCURRENT
            else " More details than errors: are details kept from one request to the next?"
            if len(details) > len(expected)
            else ""
        )
        raise ExerciseFailed(
            f"{what}: the payload has {len(expected)} errors and the response lists "
            f"{len(details)} detail{'s' if len(details) != 1 else ''}. One detail per error "
            f"pydantic found, so the client can fix them all at once.{shared}"
        )
    for detail in details:
        if set(detail) != DETAIL_KEYS:
            raise ExerciseFailed(
                f"{what}: a detail has the keys {sorted(detail)}; each has exactly "
                f"{sorted(DETAIL_KEYS)}, the fields of ErrorDetail that OpenAPI documents."
            )
    # An empty location (the payload is not JSON at all) may be "" or null.
    got = sorted((d["field"] or "", d["message"], d["type"]) for d in details)
    if [g[0] for g in got] != [e[0] for e in expected]:
        raise ExerciseFailed(
            f"{what}: the fields are {[g[0] for g in got]}, expected "
            f"{[e[0] for e in expected]}: each error's location, its parts joined with dots."
        )
    if [g[2] for g in got] != [e[2] for e in expected]:
        raise ExerciseFailed(
            f"{what}: the types are {[g[2] for g in got]}, expected {[e[2] for e in expected]}: "
            "pydantic's own type of each error, which clients can branch on."
        )
    if got != expected:
        raise ExerciseFailed(
            f"{what}: the messages are {[g[1] for g in got]}, expected "
            f"{[e[1] for e in expected]}: pydantic's own message for each error."
        )


async def _post(client: Any, body: bytes, request_id: str) -> Any:
    headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
    return await client.post("/exercise/webhooks/orders", content=body, headers=headers)


def _check_bug(response: Any, crash: BaseException | None, kind: str, changed: dict) -> None:
    what = f"An unrelated {kind} in endpoint code (a bug)"
    if response.status_code == NO_RESPONSE:
        raise ExerciseFailed(f"{what} got no response at all: your handler returned None.")
    wide = [
        key.__name__
        for key in changed
        if isinstance(key, type) and key is not ValidationError and issubclass(ValidationError, key)
    ]
    why = (
        f" Your handler is registered for {', '.join(sorted(wide))}, a parent class of "
        "ValidationError, so it catches far more than invalid data."
        if wide
        else ""
    )
    if response.status_code != 500:
        raise ExerciseFailed(
            f"{what} answered {response.status_code} instead of 500 INTERNAL_ERROR: the client "
            f"is told it made a mistake and the bug is never logged.{why}"
        )
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if Exception in changed:
        why = (
            " Your handler is registered for Exception: it replaced the app's 500 handler, "
            "so every bug now reaches code written for invalid data."
        )
    if code != "INTERNAL_ERROR":
        why = why or " Leave the handler for Exception alone."
        raise ExerciseFailed(
            f"{what} answered 500 without the INTERNAL_ERROR envelope ({response.text[:80]!r}): "
            f"the app's 500 handler no longer answers it.{why}"
        )
    if crash is None:
        raise ExerciseFailed(
            f"{what} answered 500, but no traceback was logged: the app's 500 handler, which "
            "logs it, was replaced. Leave the handler for Exception alone."
        )
    if type(crash).__name__ != kind:
        raise ExerciseFailed(
            f"{what} reached your handler, which failed on it ({type(crash).__name__}: "
            f"{str(crash)[:100]}); the log now shows your handler's error instead of the "
            f"bug.{why}"
        )


async def verify_validation_handler(candidate: Any) -> None:
    require_callable(candidate, "register_pydantic_handler")
    required = [
        p
        for p in inspect.signature(candidate).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) >= 2:
        raise ExerciseFailed(
            "You passed a function that takes two arguments, the handler itself. Pass "
            "register_pydantic_handler: the check calls it with the app it builds."
        )
    app, changed = _handler_app(candidate)
    three, two = (json.dumps(body).encode() for body in (THREE_ERRORS, TWO_ERRORS))
    async with app_client(app) as client:
        with capture_logs() as records:
            first = await _post(client, three, "check-03-a")
        _explain_500(first, _crash_logged(records), changed)
        what = "An invalid webhook payload (three errors)"
        _check_details(_check_envelope(first, "check-03-a", what), _expected(three), what)

        what = "Another invalid payload (a missing field, a number too small)"
        second = await _post(client, two, "check-03-b")
        _check_details(_check_envelope(second, "check-03-b", what), _expected(two), what)

        what = "A payload that is not JSON"
        third = await _post(client, NOT_JSON, "check-03-c")
        _check_details(_check_envelope(third, "check-03-c", what), _expected(NOT_JSON), what)

        for kind, path in (("ValueError", "value-error"), ("RuntimeError", "runtime-error")):
            with capture_logs() as records:
                bug = await client.get(f"/exercise/bugs/{path}")
            _check_bug(bug, _crash_logged(records), kind, changed)

        # Request validation and domain errors keep their handlers.
        what = "A path parameter that is not a number"
        bad_path = await client.get(BAD_PATH, headers={"X-Request-ID": "check-03-d"})
        error = _check_envelope(bad_path, "check-03-d", what)
        if [(d.get("field"), d.get("type")) for d in error["details"]] != [
            ("path.order_id", "int_parsing")
        ]:
            raise ExerciseFailed(
                f"{what} (a RequestValidationError) no longer gets the app's own details "
                f"({error['details']!r:.120}): leave the request-validation handler alone."
            )
        missing = await client.get("/exercise/orders/9")
        if missing.status_code != 404 or _error_of(missing, "NotFoundError")["code"] != "NOT_FOUND":
            raise ExerciseFailed(
                f"A NotFoundError answered {missing.status_code} instead of 404 NOT_FOUND: "
                "leave the AppError handler alone."
            )

        # Requests at the same time: each response lists its own errors, and only those.
        bodies = [(three, f"check-03-{n}") if n % 2 else (two, f"check-03-{n}") for n in range(6)]
        answers = await asyncio.gather(*(_post(client, body, rid) for body, rid in bodies))
        for (body, request_id), response in zip(bodies, answers, strict=True):
            what = CONCURRENT
            _check_details(_check_envelope(response, request_id, what), _expected(body), what)

        valid = await _post(client, json.dumps(VALID).encode(), "check-03-e")
    if valid.status_code != 200 or valid.json() != {"accepted": 7}:
        raise ExerciseFailed(
            f"A valid payload answered {valid.status_code} {valid.text[:80]!r}: the handler "
            "must change nothing for requests that do not fail."
        )


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
        hints=(
            "A domain error is a subclass that sets a few class attributes of AppError; the "
            "handler reads them, so no other code changes.",
            'The section "exceptions.py: domain errors, without HTTP" shows the attributes '
            "AppError reads and a subclass that sets them.",
        ),
    ),
    Exercise(
        id="03.validation_handler",
        notebook_id=NOTEBOOK_ID,
        title="An exception handler for invalid data in endpoint code",
        instructions=(
            "Write handle_pydantic_error, which answers a pydantic ValidationError raised by "
            "code inside an endpoint with 422 VALIDATION_ERROR in the envelope: one detail "
            "per error (field as the location joined with dots, message, type) and never "
            "the input; and register_pydantic_handler(app), which registers it for that "
            "exception only. The check posts valid, invalid and non-JSON payloads to a "
            "webhook of create_app's app, some at the same time, and makes sure bugs still "
            "answer 500."
        ),
        starter=HANDLER_STARTER,
        solution=HANDLER_SOLUTION,
        name="register_pydantic_handler",
        verify=verify_validation_handler,
        success=(
            "Invalid payloads answer 422 VALIDATION_ERROR with one detail per error and no "
            "input; bugs still answer 500 and are logged."
        ),
        hints=(
            "A handler is registered for one exception class and only ever sees that class "
            "and its subclasses. Find the class that pydantic raises when code validates "
            "data, and turn each error it lists into a detail, as request validation does.",
            'The section "error_handlers.py, step 4: validation errors, without the input" '
            "does this for FastAPI's RequestValidationError, and step 2 shows how a handler "
            "is registered.",
        ),
    ),
)
