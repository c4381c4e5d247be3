"""The domain errors: what went wrong, in the app's own words, without HTTP.

Services raise these and know nothing about requests or responses; only the handlers
in ``error_handlers.py`` turn them into HTTP. That is why this module imports no FastAPI,
Starlette or Pydantic: a service, a CLI script or a cron job can raise and catch
them without pulling in the web framework. Each class still carries the status and
the stable ``code`` the HTTP layer will use, so a new error type is three lines.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

INTERNAL_ERROR_MESSAGE = "An unexpected error occurred."


class AppError(Exception):
    """Raise a subclass anywhere (services included); the handler renders the envelope."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = INTERNAL_ERROR_MESSAGE
    default_headers: ClassVar[Mapping[str, str] | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = list(details or [])
        self.headers = {**(self.default_headers or {}), **(headers or {})} or None
        super().__init__(self.message)


class NotFoundError(AppError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "The resource was not found."


class ConflictError(AppError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state of the resource."


class ValidationFailed(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid."


class UnauthorizedError(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication is required."
    # RFC 9110: a 401 must say how to authenticate.
    default_headers = {"WWW-Authenticate": "APIKey"}


class ForbiddenError(AppError):
    status_code = 403
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class RateLimitedError(AppError):
    status_code = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests; retry later."


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "NOT_READY"
    default_message = "The service is not ready."
