"""Exercises of notebook 00 (welcome): a first app, checked in-process."""

from __future__ import annotations

import inspect
import json
from typing import Any

from starlette.applications import Starlette

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "00_welcome"
EXPECTED = {"message": "Hello, workshop!"}

HELLO_STARTER = '''\
from fastapi import FastAPI


def create_hello_app() -> FastAPI:
    """Build a small app whose GET /hello greets the workshop."""
    app = FastAPI(title="Hello workshop")
    # TODO: add a GET /hello route that returns {"message": "Hello, workshop!"}
    return app
'''

HELLO_SOLUTION = '''\
from fastapi import FastAPI


def create_hello_app() -> FastAPI:
    """Build a small app whose GET /hello greets the workshop."""
    app = FastAPI(title="Hello workshop")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "Hello, workshop!"}

    return app
'''


def _build(candidate: Any) -> Any:
    """Call the learner's factory and make sure what comes back can serve requests."""
    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app object; pass the function itself: "
            "check('00.hello_app', create_hello_app) - no parentheses."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function create_hello_app, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Define it with `def create_hello_app() -> FastAPI:`."
        )
    app = candidate()
    if inspect.isawaitable(app):
        if inspect.iscoroutine(app):
            app.close()  # never awaited on purpose: avoid a "never awaited" warning
        raise ExerciseFailed(
            "create_hello_app is `async def`, so calling it returns a coroutine, not an app. "
            "Make it a plain `def`."
        )
    if app is None:
        raise ExerciseFailed("create_hello_app() returned None: end it with `return app`.")
    if not isinstance(app, Starlette):
        raise ExerciseFailed(
            f"create_hello_app() returned a {type(app).__name__}, not an ASGI app: "
            "build one with `app = FastAPI()` and return it."
        )
    return app


async def verify_hello_app(candidate: Any) -> None:
    app = _build(candidate)
    async with app_client(app, raise_app_exceptions=True) as client:
        response = await client.get("/hello")
    if response.status_code == 404:
        raise ExerciseFailed(
            "GET /hello answered 404 Not Found: the route is missing. "
            'Add `@app.get("/hello")` above a function that returns the message.'
        )
    if response.status_code == 405:
        raise ExerciseFailed(
            "GET /hello answered 405 Method Not Allowed: /hello exists but not for GET. "
            'Use `@app.get("/hello")`.'
        )
    if response.is_redirect:
        raise ExerciseFailed(
            f"GET /hello redirected to {response.headers.get('location')}: "
            'declare the route with the exact path "/hello" (no trailing slash).'
        )
    if response.status_code != 200:
        raise ExerciseFailed(
            f"GET /hello answered {response.status_code}, expected 200. Body: {response.text[:200]}"
        )
    try:
        body = response.json()
    except ValueError:
        raise ExerciseFailed(
            f"GET /hello did not answer JSON (got {response.text[:80]!r}). "
            "Return a dict from the route function."
        ) from None
    if body != EXPECTED:
        raise ExerciseFailed(
            f"GET /hello returned {json.dumps(body)[:200]}, expected {json.dumps(EXPECTED)}."
        )


EXERCISES = (
    Exercise(
        id="00.hello_app",
        notebook_id=NOTEBOOK_ID,
        title="Hello app",
        instructions=(
            "Write create_hello_app() -> FastAPI. The app it returns answers GET /hello "
            'with status 200 and the JSON {"message": "Hello, workshop!"}.'
        ),
        starter=HELLO_STARTER,
        solution=HELLO_SOLUTION,
        name="create_hello_app",
        verify=verify_hello_app,
        success="GET /hello answers 200 with the greeting.",
    ),
)
