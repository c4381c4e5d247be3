"""The current request's id, readable by any code the request runs, at any depth.

The request-id middleware sets it as each request comes in; the error envelope, the access
log, background tasks and event handlers read it, so the id a client quotes leads to every
log line its request caused. A context variable, not a global: each request sees its own.
This module imports nothing from the app, so every layer may import it.
"""

import re
from contextvars import ContextVar

# The header that carries the id in and out: one name for the middleware and the handlers.
REQUEST_ID_HEADER = "X-Request-ID"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Explicit ASCII ranges and a length cap: an incoming id ends up in log lines and
# response headers, so CR/LF, control characters and megabyte strings are refused.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def get_request_id() -> str | None:
    """The current request's id, or None outside a request (or before the middleware)."""
    return request_id_var.get()


def is_valid_request_id(value: str | None) -> bool:
    """True if a client-supplied id is safe to keep, log and echo."""
    return value is not None and _VALID_REQUEST_ID.fullmatch(value) is not None
