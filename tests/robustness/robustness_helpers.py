"""What the robustness tests share: one way to build the app, judge an error, capture logs.

The tests throw hostile and broken input at the real app in bulk, so the helpers here are
strict: an error body is the envelope and nothing else, a log capture sees every logger
at every level, and an app is built from explicit settings that no ``.env`` can change.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings
from workshop_app.logging_config import JsonFormatter
from workshop_app.main import create_app
from workshop_lab import app_client

DEFAULT_API_KEY = "workshop-dev-key"  # Settings' default: what a learner's client sends
AUTH = {"X-API-Key": DEFAULT_API_KEY}
MEMORY_DB = "sqlite+aiosqlite:///:memory:"

# The contract for a request id the app keeps (middleware/request_id.py); anything else
# must be replaced by a fresh uuid4 hex.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
ENVELOPE_KEYS = {"code", "message", "request_id", "details"}


def robust_settings(**overrides: Any) -> Settings:
    """Settings for a throwaway app: in-memory SQLite, no rate limit, the default key.

    ``_env_file=None`` and explicit values: a developer's ``.env`` or ``WORKSHOP_*``
    variables cannot change what these tests attack.
    """
    values: dict[str, Any] = {
        "environment": "test",
        "debug": False,
        "database_url": MEMORY_DB,
        "api_key": DEFAULT_API_KEY,
        "rate_limit_enabled": False,
        "trust_forwarded_for": False,
        "log_level": "INFO",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def build_app(**overrides: Any) -> FastAPI:
    return create_app(robust_settings(**overrides))


def with_seed_data(app: FastAPI) -> FastAPI:
    """Load the workshop's seed rows once the app's own lifespan has created the tables.

    Fuzzed ids then sometimes hit real users and orders instead of always a 404.
    """
    from workshop_app.seed import load_seed_data  # imported late: notebook 05 writes it

    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_data(app: FastAPI) -> AsyncIterator[Any]:
        async with startup(app) as state:
            async with AsyncSession(state["engine"], expire_on_commit=False) as session:
                await load_seed_data(session)
                await session.commit()
            yield state

    app.router.lifespan_context = lifespan_with_data
    return app


def envelope_problems(status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """Why a response is not a proper error of this app (empty list: it is one).

    The body is exactly ``{"error": {code, message, request_id, details}}``, the code is
    an UPPER_SNAKE constant, and the request id is the one in the response header.
    """
    if status < 400:
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return [f"{status} body is not JSON: {body[:200]!r}"]
    if not isinstance(data, dict) or set(data) != {"error"} or not isinstance(data["error"], dict):
        return [f"{status} body is not the envelope: {str(data)[:300]}"]
    error = data["error"]
    problems = []
    if set(error) != ENVELOPE_KEYS:
        problems.append(f"{status} envelope keys {sorted(error)} != {sorted(ENVELOPE_KEYS)}")
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not ERROR_CODE.fullmatch(code):
        problems.append(f"{status} code {code!r} is not an UPPER_SNAKE constant")
    if not isinstance(message, str) or not message.strip():
        problems.append(f"{status} message {message!r} is empty")
    details = error.get("details")
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        problems.append(f"{status} details {details!r} is not a list of objects")
    header_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
    if header_id is None or error.get("request_id") != header_id:
        problems.append(
            f"{status} request_id {error.get('request_id')!r} != X-Request-ID {header_id!r}"
        )
    return problems


def assert_envelope(response: Any) -> dict[str, Any]:
    """Assert an httpx/requests response is an error envelope; return its ``error`` object."""
    problems = envelope_problems(response.status_code, response.headers, response.content)
    assert response.status_code >= 400, f"not an error: {response.status_code}"
    assert not problems, problems
    return response.json()["error"]


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LogCapture:
    """Every record any logger emitted, and each record rendered every way a handler could."""

    def __init__(self, handler: _Everything) -> None:
        self._handler = handler

    @property
    def records(self) -> list[logging.LogRecord]:
        return self._handler.records

    def clear(self) -> None:
        self._handler.records.clear()

    @staticmethod
    def render(record: logging.LogRecord) -> list[str]:
        """The app's JSON line, and what a plain-text handler would write (with traceback)."""
        return [
            JsonFormatter().format(record),
            logging.Formatter("%(levelname)s %(name)s %(message)s").format(record),
        ]

    def lines(self) -> list[str]:
        return [line for record in self.records for line in self.render(record)]

    def text(self) -> str:
        return "\n".join(self.lines())


@contextmanager
def capture_every_log() -> Iterator[LogCapture]:
    """Attach to the root logger at DEBUG, so no logger and no level is left out."""
    handler = _Everything()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield LogCapture(handler)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


class SyncClient:
    """An in-process client with the lifespan running, callable from plain (Hypothesis) code.

    Hypothesis drives synchronous test functions; the app and its engine live on one event
    loop in a portal thread for the whole test, so hundreds of examples share one startup.
    """

    def __init__(self, portal: BlockingPortal, client: Any) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``await func(client, *args)`` on the app's loop (e.g. a gather of requests)."""
        return self._portal.call(func, self._client, *args)


@contextmanager
def sync_client(app: Any) -> Iterator[SyncClient]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app_client(app)) as client,
    ):
        yield SyncClient(portal, client)


# Cases the schemathesis tests generated, by (who, operation, status); tests/conftest.py
# prints them in pytest's terminal summary, so every run says how much it really tried.
FUZZ_CASES: Counter[tuple[str, str, int]] = Counter()


def bulk(examples: int) -> hypothesis_settings:
    """Fixed seed, no example database on disk, no deadline (each example starts an app)."""
    return hypothesis_settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
