"""Exercises of notebook 00 (welcome): a first app factory, checked in-process.

Small on purpose (the learner writes a layer of the app from notebook 01 on), but checked
like every other exercise: several requests, so a hard-coded answer fails; two calls of the
factory, so an app built once at import time fails; and a hint that names the mistake.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..client import app_client
from ._base import Exercise, ExerciseFailed, call_factory

NOTEBOOK_ID = "00_welcome"
DEFAULT_NAME = "workshop"
NAMES = ("Ada", "Grace Hopper")  # a space too: the value arrives URL-encoded

HELLO_STARTER = '''\
from fastapi import FastAPI


def create_hello_app() -> FastAPI:
    """Build a new app whose GET /hello greets the workshop, or the name it is given."""
    app = FastAPI(title="Hello workshop")
    # TODO: a GET /hello route. Without a query string it answers
    # {"message": "Hello, workshop!"}; GET /hello?name=Ada answers {"message": "Hello, Ada!"}.
    return app
'''

HELLO_SOLUTION = '''\
from fastapi import FastAPI


def create_hello_app() -> FastAPI:
    """Build a new app whose GET /hello greets the workshop, or the name it is given."""
    app = FastAPI(title="Hello workshop")

    @app.get("/hello")
    async def hello(name: str = "workshop") -> dict[str, str]:
        return {"message": f"Hello, {name}!"}

    return app
'''


def _expected(name: str) -> dict[str, str]:
    return {"message": f"Hello, {name}!"}


def _build(candidate: Any) -> Any:
    how = "it must return the FastAPI app it built."
    return call_factory(candidate, "create_hello_app", "00.hello_app", how=how)


def _describe(request: str, response: httpx.Response) -> str:
    return f"{request} answered {response.status_code} {response.reason_phrase}"


def _json_of(request: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ExerciseFailed(
            f"{request} did not answer JSON (got {response.text[:80]!r}). Let the route "
            "return a dict: FastAPI turns it into a JSON body."
        ) from None


def _check_status(request: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 404:
        raise ExerciseFailed(
            f"{_describe(request, response)}: the route is missing. The app needs a route "
            "for the path /hello and the GET method."
        )
    if status == 405:
        raise ExerciseFailed(
            f"{_describe(request, response)}: /hello exists, but not for GET. "
            "Register the route for GET requests."
        )
    if response.is_redirect:
        raise ExerciseFailed(
            f"{request} redirected to {response.headers.get('location')}: "
            'declare the route with the exact path "/hello" (no trailing slash).'
        )
    if status == 422:
        raise ExerciseFailed(
            f"{_describe(request, response)}: FastAPI refused the request before your route "
            f"ran ({response.text[:160]}). Without a query string the name is optional: "
            f'it defaults to "{DEFAULT_NAME}".'
        )
    if status != 200:
        raise ExerciseFailed(
            f"{request} answered {status}, expected 200. Body: {response.text[:200]}"
        )


async def verify_hello_app(candidate: Any) -> None:
    app = call_factory(
        candidate,
        "create_hello_app",
        "00.hello_app",
        how="it must return the FastAPI app it built.",
    )
    if _build(candidate) is app:
        raise ExerciseFailed(
            "create_hello_app() returned the same app object on both calls: it was built once, "
            "outside the function. A factory builds a new app on every call, so each test (and "
            "each notebook) gets an app of its own; create the app inside the function."
        )
    async with app_client(app, raise_app_exceptions=True) as client:
        request = "GET /hello"
        response = await client.get("/hello")
        _check_status(request, response)
        body = _json_of(request, response)
        if body != _expected(DEFAULT_NAME):
            raise ExerciseFailed(
                f"{request} returned {json.dumps(body)[:200]}, "
                f"expected {json.dumps(_expected(DEFAULT_NAME))}."
            )
        for name in NAMES:
            request = f"GET /hello?name={name}"
            response = await client.get("/hello", params={"name": name})
            _check_status(request, response)
            body = _json_of(request, response)
            if body == _expected(DEFAULT_NAME):
                raise ExerciseFailed(
                    f"{request} returned {json.dumps(body)}: the name in the query string was "
                    f"ignored. The greeting must use it, and fall back to {DEFAULT_NAME!r} "
                    "only when it is missing."
                )
            if body != _expected(name):
                raise ExerciseFailed(
                    f"{request} returned {json.dumps(body)[:200]}, "
                    f"expected {json.dumps(_expected(name))}."
                )


EXERCISES = (
    Exercise(
        id="00.hello_app",
        notebook_id=NOTEBOOK_ID,
        title="Hello app",
        instructions=(
            "Write create_hello_app() -> FastAPI, a factory that builds a new app on every call. "
            'The app answers GET /hello with status 200 and {"message": "Hello, workshop!"}, '
            'and GET /hello?name=Ada with {"message": "Hello, Ada!"} (any name).'
        ),
        starter=HELLO_STARTER,
        solution=HELLO_SOLUTION,
        name="create_hello_app",
        verify=verify_hello_app,
        success="A new app on every call; GET /hello greets the workshop, or the name it is given.",
        hints=(
            "A route is a function the app calls for one method and one path; the dict it "
            "returns becomes the JSON body. A parameter of that function that is not part of "
            "the path is read from the query string, and a default makes it optional.",
            "The section 'Calling an app in-process' shows the source of the demo app: its "
            "GET /hello route is most of the answer. Add the name, and keep the app inside "
            "the function.",
        ),
    ),
)
