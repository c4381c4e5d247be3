"""Exercise 00.hello_app: each plausible mistake gets a hint that names it; other correct
styles pass; every check is quick."""

import time

import exercise_helpers
import pytest

from workshop_lab.exercises import _check, check, get_exercise, hint

EXERCISE = get_exercise("00.hello_app")

progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, hint_for = exercise_helpers.probe(EXERCISE.id)

MODULE_LEVEL_APP = """\
from fastapi import FastAPI

app = FastAPI(title="Hello workshop")


@app.get("/hello")
async def hello(name: str = "workshop") -> dict[str, str]:
    return {"message": f"Hello, {name}!"}


def create_hello_app() -> FastAPI:
    return app
"""

WRONG = {
    "built-once-at-import": (
        lambda: EXERCISE.load(MODULE_LEVEL_APP),
        "returned the same app object on both calls",
    ),
    "name-ignored": (
        lambda: variant('f"Hello, {name}!"', '"Hello, workshop!"'),
        'GET /hello?name=Ada returned {"message": "Hello, workshop!"}: the name in the query '
        "string was ignored",
    ),
    "hard-coded-probe-name": (
        lambda: variant('f"Hello, {name}!"', '"Hello, Ada!"'),
        'GET /hello returned {"message": "Hello, Ada!"}, expected {"message": "Hello, workshop!"}',
    ),
    "name-required": (
        lambda: variant('name: str = "workshop"', "name: str"),
        "GET /hello answered 422 Unprocessable Entity: FastAPI refused the request before your "
        "route ran",
    ),
    "wrong-default": (
        lambda: variant('name: str = "workshop"', 'name: str = "Workshop"'),
        'expected {"message": "Hello, workshop!"}',
    ),
    "wrong-format": (
        lambda: variant('f"Hello, {name}!"', 'f"Hello {name}"'),
        'GET /hello returned {"message": "Hello workshop"}, expected',
    ),
    "path-parameter": (
        lambda: variant('"/hello")', '"/hello/{name}")'),
        "GET /hello answered 404 Not Found: the route is missing",
    ),
    "post-route": (
        lambda: variant("@app.get(", "@app.post("),
        "GET /hello answered 405 Method Not Allowed: /hello exists, but not for GET",
    ),
    "trailing-slash": (
        lambda: variant('"/hello")', '"/hello/")'),
        'redirected to http://workshop.test/hello/: declare the route with the exact path "/hello"',
    ),
    "no-route": (
        lambda: EXERCISE.load(EXERCISE.starter),
        "GET /hello answered 404 Not Found: the route is missing",
    ),
    "async-factory": (
        lambda: variant("def create_hello_app", "async def create_hello_app"),
        "is `async def`, so calling it returns a coroutine",
    ),
    "no-return": (
        lambda: variant("    return app\n", ""),
        "returned None: end it with `return app`",
    ),
    "app-passed": (lambda: EXERCISE.load(EXERCISE.solution)(), "pass the function itself"),
    "route-raises": (
        lambda: variant('return {"message": f"Hello, {name}!"}', 'return {"message": name[99]}'),
        "IndexError",
    ),
}


def _plain_text_variant():
    source = EXERCISE.solution.replace(
        "from fastapi import FastAPI",
        "from fastapi import FastAPI\nfrom fastapi.responses import PlainTextResponse",
    ).replace('@app.get("/hello")', '@app.get("/hello", response_class=PlainTextResponse)')
    source = source.replace("-> dict[str, str]:", "-> str:")
    source = source.replace('return {"message": f"Hello, {name}!"}', 'return f"Hello, {name}!"')
    return EXERCISE.load(source)


WRONG["plain-text"] = (_plain_text_variant, "did not answer JSON")


@pytest.mark.parametrize(("make", "fragment"), WRONG.values(), ids=WRONG.keys())
def test_each_mistake_is_rejected_with_a_hint_that_names_it(make, fragment: str) -> None:
    started = time.perf_counter()
    hint = hint_for(make())
    assert time.perf_counter() - started < 3
    assert fragment in hint, hint


SYNC_ROUTE_WITH_QUERY = """\
from fastapi import APIRouter, FastAPI, Query


def create_hello_app() -> FastAPI:
    router = APIRouter()

    @router.get("/hello")
    def hello(name: str = Query(default="workshop", max_length=100)) -> dict:
        return {"message": "Hello, " + name + "!"}

    app = FastAPI()
    app.include_router(router)
    return app
"""


class HelloFactory:
    """A callable object instead of a function: also a factory."""

    def __call__(self):
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/hello")
        async def hello(name: str | None = None) -> dict[str, str]:
            return {"message": f"Hello, {name or 'workshop'}!"}

        return app


@pytest.mark.parametrize(
    "make",
    [lambda: EXERCISE.load(SYNC_ROUTE_WITH_QUERY), HelloFactory],
    ids=["sync-route-on-a-router-with-query", "callable-object"],
)
def test_other_correct_styles_pass(make) -> None:
    started = time.perf_counter()
    result = check(EXERCISE.id, make())
    assert time.perf_counter() - started < 3
    assert result.passed, result.hint


def test_no_failure_hint_shows_the_answer() -> None:
    for make, _ in WRONG.values():
        shown = hint_for(make())
        for code in ('@app.get("/hello")', "name: str =", 'f"Hello, {name}!"'):
            assert code not in shown


def test_hints_come_one_at_a_time_then_point_to_the_solution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_check, "_hints_given", {})  # as in a fresh kernel
    steps = [hint(EXERCISE.id).text for _ in range(4)]
    assert steps[0].startswith("Hint 1 of 3 for 00.hello_app: A route is a function")
    assert "'Calling an app in-process'" in steps[1]
    last = 'Hint 3 of 3 for 00.hello_app: One solution: lab.solution("00.hello_app").'
    assert steps[2] == steps[3] == last
    assert "@app" not in steps[0] and "def " not in steps[0]


def test_the_starters_hint_is_what_the_notebook_shows() -> None:
    result = check(EXERCISE.id, EXERCISE.load(EXERCISE.starter))
    assert repr(result).splitlines() == [
        "\u2717 FAILED  00.hello_app: Hello app",
        "Hint: GET /hello answered 404 Not Found: the route is missing. The app needs a route "
        'for the path /hello and the GET method. Stuck? lab.hint("00.hello_app") gives a hint, '
        "one step at a time.",
    ]
