"""One error envelope for every error the API returns, whoever raised it.

Clients branch on a stable ``code`` and quote ``request_id`` to support; they never
see a traceback, an exception message or a rejected input value:

    {"error": {"code": "NOT_FOUND", "message": "...", "request_id": "...", "details": []}}

The exceptions themselves live in ``exceptions.py``, which knows nothing about HTTP
(services raise them); this module is the only place that turns them into responses.
"""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from workshop_app.exceptions import (
    INTERNAL_ERROR_MESSAGE,
    AppError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationFailed,
)
from workshop_app.logging_config import printable
from workshop_app.request_context import REQUEST_ID_HEADER, get_request_id

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """One specific problem, e.g. one invalid field."""

    field: str | None = None
    message: str
    type: str | None = None


class ErrorBody(BaseModel):
    """What went wrong (``code`` for programs, ``message`` for people) and which request."""

    code: str
    message: str
    request_id: str | None
    details: list[ErrorDetail] = []


class ErrorEnvelope(BaseModel):
    """The body of every error response (documented in OpenAPI via ``error_responses``)."""

    error: ErrorBody


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Framework-raised HTTP errors get the same codes as our own exceptions.
_CODES_BY_STATUS = {
    cls.status_code: cls.code
    for cls in (
        NotFoundError,
        ConflictError,
        ValidationFailed,
        UnauthorizedError,
        ForbiddenError,
        RateLimitedError,
        ServiceUnavailableError,
    )
}


def error_body(
    code: str, message: str, *, details: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The envelope as a dict, stamped with the current request id."""
    return {
        "error": {
            "code": code,
            "message": message,
            "request_id": get_request_id(),
            "details": jsonable_encoder(list(details or [])),
        }
    }


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one way to build an error response, for handlers and pure ASGI middleware alike."""
    return JSONResponse(
        error_body(code, message, details=details), status_code=status_code, headers=headers
    )


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the statuses it answers on purpose, each described.

    Every route already documents the envelope as its ``default`` response (see
    ``register_error_handlers``); listing a status tells clients to expect it.
    """
    return {
        status: {"model": ErrorEnvelope, "description": HTTPStatus(status).phrase}
        for status in status_codes
    }


def app_error_response(exc: AppError) -> JSONResponse:
    """The envelope of a domain error: its status, code, message, details and headers."""
    return error_response(
        exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


async def _handle_app_error(request: Request, exc: AppError) -> Response:
    return app_error_response(exc)


async def _handle_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing 404/405 and ``HTTPException`` raised by FastAPI itself or by libraries.

    A ``detail`` that is not a string (some libraries send dicts) has no agreed
    shape and may hold internals: the status phrase replaces it.
    """
    if exc.status_code in {204, 304}:  # these statuses must not carry a body
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = exc.headers
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers = {**(headers or {}), "Allow": allowed}
    code, phrase = _describe(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else phrase
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method the app routes on this path (RFC 9110 ``Allow``).

    Starlette's 405 lists the methods of the first route that matched the path only;
    with one route per method (``GET /users``, ``POST /users``) that hides the others.
    """
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    )


def _describe(status_code: int) -> tuple[str, str]:
    """A code and a default message for any status, including non-standard ones."""
    try:
        status = HTTPStatus(status_code)
    except ValueError:
        return "HTTP_ERROR", "HTTP error"
    return _CODES_BY_STATUS.get(status_code, status.name), status.phrase


async def _handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Keep where and why; drop pydantic's ``input`` and ``ctx``, which echo what was sent."""
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


async def _handle_unhandled_error(request: Request, exc: Exception) -> Response:
    """Log the traceback, answer a generic 500.

    Runs in ServerErrorMiddleware, outside every user middleware: the request-id
    middleware cannot add its header to this response, so the handler does.
    """
    request_id = get_request_id()
    fields = {"method": request.method, "path": request.url.path, "request_id": request_id}
    logger.exception(
        "Unhandled error on %s %s (request_id=%s)",
        request.method,
        printable(request.url.path),
        request_id,
        exc_info=exc,
        extra={"fields": fields},
    )
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return error_response(500, "INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE, headers=headers)


def register_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's ``{"detail": ...}`` bodies with the envelope, everywhere.

    Also documents the envelope as the OpenAPI ``default`` response (any status a
    route does not list) of every route added after this call, which keeps FastAPI
    from documenting its own 422 shape: a body this app never sends.
    """
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(Exception, _handle_unhandled_error)
    app.router.responses.setdefault(
        "default", {"model": ErrorEnvelope, "description": "Any other error"}
    )
