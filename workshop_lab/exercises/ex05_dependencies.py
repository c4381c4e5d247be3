"""Exercises of notebook 04 (dependency injection): a class dependency, and an override.

Both checks run the learner's code inside a real FastAPI app: the pagination class is
mounted with `Depends()` on a one-route app, and the override is exercised through the
reference app's own `GET /me`. No `from __future__ import annotations`: the check's
endpoint is introspected by FastAPI at runtime.
"""

import inspect
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_origin

import httpx
from fastapi import Depends, FastAPI
from starlette.applications import Starlette

from ..client import app_client
from ..depgraph import find_route
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "05_dependencies"

# --- 05.pagination -------------------------------------------------------------------------

PAGINATION_STARTER = '''\
class PageParams:
    """Page-number pagination for list endpoints: ?page=2&size=25."""

    def __init__(self, page: int = 1, size: int = 10) -> None:
        # TODO: bound them: page >= 1, size from 1 to 50 (Annotated[int, Query(...)])
        self.page = page
        self.size = size

    # TODO: an `offset` property: how many items come before this page
'''

PAGINATION_SOLUTION = '''\
from typing import Annotated

from fastapi import Query


class PageParams:
    """Page-number pagination for list endpoints: ?page=2&size=25."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, description="Page number, from 1.")] = 1,
        size: Annotated[int, Query(ge=1, le=50, description="Items per page.")] = 10,
    ) -> None:
        self.page = page
        self.size = size

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.page - 1) * self.size
'''

_MISSING = object()


def _pagination_app(candidate: type) -> tuple[FastAPI, list[Any]]:
    """One route that depends on the class and keeps the instance FastAPI built."""
    built: list[Any] = []
    app = FastAPI()

    @app.get("/items")
    async def items(params: Annotated[Any, Depends(candidate)]) -> dict[str, bool]:
        built.append(params)
        return {"ok": True}

    return app, built


def _fields(response: httpx.Response) -> list[str]:
    """The `loc` of each validation error in FastAPI's default 422 body, as "query.page"."""
    try:
        return [".".join(str(part) for part in e["loc"]) for e in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return []


async def _get(client: httpx.AsyncClient, query: str) -> httpx.Response:
    url = f"/items{query}"
    try:
        return await client.get(url)
    except Exception as exc:  # raised inside the learner's __init__
        raise ExerciseFailed(
            f"GET {url} crashed: PageParams raised {type(exc).__name__}: {exc}. "
            "Do not validate by hand: declare the bounds with Query(ge=..., le=...) and "
            "FastAPI answers 422 before your class is even called."
        ) from None


def _check_class(candidate: Any) -> None:
    if inspect.isclass(candidate):
        return
    if inspect.isfunction(candidate):
        raise ExerciseFailed(
            f"{candidate.__name__} is a function. FastAPI would accept it, but this exercise "
            "is a class: `class PageParams:` whose __init__ takes page and size."
        )
    if type(candidate).__module__ != "builtins":
        raise ExerciseFailed(
            "You passed an instance; pass the class itself: "
            "check('05.pagination', PageParams) - no parentheses. FastAPI builds one per request."
        )
    raise ExerciseFailed(
        f"Expected the class PageParams, got {type(candidate).__name__}. "
        "Write `class PageParams:` whose __init__ takes page and size."
    )


def _check_values(params: Any, page: int, size: int, query: str) -> None:
    got = {name: getattr(params, name, _MISSING) for name in ("page", "size")}
    missing = [name for name, value in got.items() if value is _MISSING]
    if missing:
        raise ExerciseFailed(
            f"The PageParams instance has no attribute {missing[0]!r}: "
            f"store it in __init__ (self.{missing[0]} = {missing[0]})."
        )
    if got != {"page": page, "size": size}:
        raise ExerciseFailed(
            f"GET /items{query} built PageParams with page={got['page']!r}, size={got['size']!r}; "
            f"expected page={page}, size={size}. The __init__ parameters must be named page and "
            "size (their names are the query parameters), with defaults 1 and 10."
        )


def _check_offset(params: Any, expected: int, query: str) -> None:
    offset = getattr(params, "offset", _MISSING)
    if offset is _MISSING:
        raise ExerciseFailed(
            "PageParams has no `offset`: add a property that returns how many items come "
            "before the page, (page - 1) * size, so a list endpoint can pass it to OFFSET."
        )
    if callable(offset):
        raise ExerciseFailed(
            "`offset` is a method, so params.offset is a bound method, not a number: "
            "put @property above `def offset(self) -> int:`."
        )
    if offset != expected:
        raise ExerciseFailed(
            f"For GET /items{query}, offset is {offset!r}; expected {expected}: "
            "page 1 starts at 0, so offset = (page - 1) * size."
        )


# (query, field that must be rejected, hint when it is accepted)
_OUT_OF_BOUNDS = (
    ("?page=0", "page", "Bound it with `page: Annotated[int, Query(ge=1)] = 1`."),
    ("?size=0", "size", "A page of 0 items makes no sense: Query(ge=1, le=50) for size."),
    ("?size=51", "size", "Without an upper bound, ?size=1000000 loads a whole table: le=50."),
)


async def verify_pagination(candidate: Any) -> None:
    _check_class(candidate)
    app, built = _pagination_app(candidate)
    async with app_client(app, raise_app_exceptions=True) as client:
        default = await _get(client, "")
        if default.status_code == 422:
            fields = ", ".join(_fields(default)) or "a parameter"
            raise ExerciseFailed(
                f"GET /items with no query string answered 422 for {fields}: every parameter "
                "needs a default (page = 1, size = 10); a parameter that is not a plain int or "
                "str is read from the request body instead of the query."
            )
        _check_values(built[-1], 1, 10, "")
        _check_offset(built[-1], 0, "")

        query = "?page=3&size=20"
        if (await _get(client, query)).status_code != 200:
            raise ExerciseFailed(f"GET /items{query} was rejected; page 3 of size 20 is valid.")
        _check_values(built[-1], 3, 20, query)
        _check_offset(built[-1], 40, query)

        for query, field, hint in _OUT_OF_BOUNDS:
            response = await _get(client, query)
            if response.status_code != 422:
                raise ExerciseFailed(
                    f"GET /items{query} answered {response.status_code}; expected 422. {hint}"
                )
            if f"query.{field}" not in _fields(response):
                raise ExerciseFailed(
                    f"GET /items{query} answered 422 but did not name query.{field} "
                    f"(it named {', '.join(_fields(response)) or 'nothing'})."
                )
        for query in ("?size=50", "?page=1000"):
            if (response := await _get(client, query)).status_code != 200:
                raise ExerciseFailed(
                    f"GET /items{query} answered {response.status_code}, but it is within "
                    "bounds: size may be 50 (le=50, not lt=50) and page has no upper bound."
                )


# --- 05.override_caller --------------------------------------------------------------------

OVERRIDE_STARTER = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.dependencies import Caller
from workshop_app.main import create_app


def fake_caller() -> Caller:
    return Caller(name="test-user", auth_scheme="api_key")


def create_test_app() -> FastAPI:
    """The real app, where every request is made by test-user: no key needed."""
    app = create_app(Settings(log_level="WARNING"))
    # TODO: make FastAPI call fake_caller wherever the app depends on get_caller
    # (import get_caller from workshop_app.dependencies)
    return app
'''

OVERRIDE_SOLUTION = '''\
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.dependencies import Caller, get_caller
from workshop_app.main import create_app


def fake_caller() -> Caller:
    return Caller(name="test-user", auth_scheme="api_key")


def create_test_app() -> FastAPI:
    """The real app, where every request is made by test-user: no key needed."""
    app = create_app(Settings(log_level="WARNING"))
    # Keyed by the original function; FastAPI looks it up on every request.
    app.dependency_overrides[get_caller] = fake_caller
    return app
'''

TEST_USER = {"name": "test-user", "auth_scheme": "api_key"}


def _build_app(candidate: Any) -> Starlette:
    if isinstance(candidate, Starlette):
        raise ExerciseFailed(
            "You passed an app object; pass the function itself: "
            "check('05.override_caller', create_test_app) - no parentheses."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function create_test_app, got {type(candidate).__name__}. "
            "Define it with `def create_test_app() -> FastAPI:`."
        )
    app = candidate()
    if inspect.iscoroutine(app):
        app.close()  # never awaited on purpose: avoid a "never awaited" warning
        raise ExerciseFailed("create_test_app is `async def`; make it a plain `def`.")
    if app is None:
        raise ExerciseFailed("create_test_app() returned None: end it with `return app`.")
    if not isinstance(app, Starlette):
        raise ExerciseFailed(
            f"create_test_app() returned a {type(app).__name__}, not an app: "
            "build it with create_app(...) and return it."
        )
    return app


def _walk(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _route_get_caller(app: Starlette) -> Callable[..., Any] | None:
    """The get_caller function that GET /me really depends on."""
    try:
        route = find_route(app, "/me", "GET")  # type: ignore[arg-type]
    except LookupError:
        raise ExerciseFailed(
            "The app has no GET /me route: build it with create_app(...) from "
            "workshop_app.main, which mounts the /me router."
        ) from None
    for sub in _walk(route.dependant):
        if getattr(sub.call, "__name__", None) == "get_caller":
            return sub.call
    return None


def _check_overrides(app: Starlette) -> None:
    """Name the usual wrong keys and values before sending a request."""
    overrides: dict[Any, Any] = getattr(app, "dependency_overrides", {})
    if not overrides:
        raise ExerciseFailed(
            "app.dependency_overrides is empty, so GET /me still asks for a key: add "
            "app.dependency_overrides[get_caller] = fake_caller before returning the app."
        )
    real = _route_get_caller(app)
    for key, value in overrides.items():
        if isinstance(key, str):
            raise ExerciseFailed(
                f"The key {key!r} is a string; FastAPI matches the function object itself: "
                "import get_caller and use app.dependency_overrides[get_caller]."
            )
        if get_origin(key) is Annotated:
            raise ExerciseFailed(
                "The key is an Annotated alias (CallerDep?); FastAPI matches the function "
                "inside it: app.dependency_overrides[get_caller] = fake_caller."
            )
        if getattr(key, "__name__", None) == "Caller":
            raise ExerciseFailed(
                "The key is the Caller class, which is what get_caller returns; the key must "
                "be the dependency function itself: get_caller."
            )
        if not callable(value):
            raise ExerciseFailed(
                f"The override for {getattr(key, '__name__', key)!r} is a "
                f"{type(value).__name__}, not a function: FastAPI calls the override on every "
                "request, so store fake_caller, not fake_caller()."
            )
        if getattr(key, "__name__", None) == "get_caller" and key is not real:
            raise ExerciseFailed(
                "Your get_caller is not the function the app uses: it comes from an older "
                "import of workshop_app.dependencies. Re-run the cell that imports it (after "
                "lab.reload_app() or a %%writefile), then build the app again."
            )


async def verify_override(candidate: Any) -> None:
    app = _build_app(candidate)
    _check_overrides(app)
    async with app_client(app) as client:
        anonymous = await client.get("/me")
        wrong_key = await client.get("/me", headers={"X-API-Key": "not-the-key"})
    if anonymous.status_code == 401:
        raise ExerciseFailed(
            "GET /me without a key still answered 401, so get_caller ran: the override "
            "must be keyed by get_caller from workshop_app.dependencies."
        )
    if anonymous.status_code != 200:
        raise ExerciseFailed(
            f"GET /me answered {anonymous.status_code}: {anonymous.text[:200]}. The override "
            "must return a Caller, e.g. Caller(name='test-user', auth_scheme='api_key')."
        )
    if anonymous.json() != TEST_USER:
        raise ExerciseFailed(
            f"GET /me returned {json.dumps(anonymous.json())}; expected {json.dumps(TEST_USER)}."
        )
    if wrong_key.status_code != 200:
        raise ExerciseFailed(
            f"With a wrong X-API-Key, GET /me answered {wrong_key.status_code}: the override "
            "should replace the whole check, headers included."
        )


EXERCISES = (
    Exercise(
        id="05.pagination",
        notebook_id=NOTEBOOK_ID,
        title="Page-number pagination",
        instructions=(
            "Write a class PageParams for Depends(): query parameters page (>= 1, default 1) "
            "and size (1 to 50, default 10), out-of-bounds values answered with 422, and an "
            "`offset` property equal to (page - 1) * size."
        ),
        starter=PAGINATION_STARTER,
        solution=PAGINATION_SOLUTION,
        name="PageParams",
        verify=verify_pagination,
        success="Defaults, values, offset and every bound behave.",
    ),
    Exercise(
        id="05.override_caller",
        notebook_id=NOTEBOOK_ID,
        title="Override the caller in a test",
        instructions=(
            "Complete create_test_app(): return the real app (create_app) with the caller "
            "dependency overridden, so GET /me answers 200 "
            '{"name": "test-user", "auth_scheme": "api_key"} without any key.'
        ),
        starter=OVERRIDE_STARTER,
        solution=OVERRIDE_SOLUTION,
        name="create_test_app",
        verify=verify_override,
        success="GET /me answers as test-user, with no key and with a wrong one.",
    ),
)
