"""Hints of notebook 04's checks: each likely mistake gets its own specific sentence.

No `from __future__ import annotations`: the candidate classes below are mounted by
FastAPI, which reads their annotations at runtime.
"""

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query

from workshop_app.config import Settings
from workshop_app.dependencies import Caller, CallerDep, get_caller, get_settings_dep
from workshop_app.main import create_app
from workshop_app.security import api_key_header
from workshop_lab.exercises import check
from workshop_lab.progress_store import ENV_VAR

Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=50)]


@pytest.fixture(autouse=True)
def progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "progress.json"))


# --- 05.pagination -------------------------------------------------------------------------


class Good:
    def __init__(self, page: Page = 1, size: Size = 10) -> None:
        self.page, self.size = page, size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


class NoDefaults(Good):
    def __init__(self, page: Page, size: Size = 10) -> None:
        super().__init__(page, size)


class OtherAttributeNames:
    def __init__(self, page: Page = 1, size: Size = 10) -> None:
        self.number, self.size = page, size


class OtherParameterNames(Good):
    def __init__(self, p: Page = 1, size: Size = 10) -> None:
        super().__init__(p, size)


class OffsetMethod:
    def __init__(self, page: Page = 1, size: Size = 10) -> None:
        self.page, self.size = page, size

    def offset(self) -> int:
        return (self.page - 1) * self.size


class OffsetOffByOnePage(Good):
    @property
    def offset(self) -> int:
        return self.page * self.size


class NoBounds(Good):
    def __init__(self, page: int = 1, size: int = 10) -> None:
        super().__init__(page, size)


class NoUpperBound(Good):
    def __init__(self, page: Page = 1, size: Annotated[int, Query(ge=1)] = 10) -> None:
        super().__init__(page, size)


class ExclusiveUpperBound(Good):
    def __init__(self, page: Page = 1, size: Annotated[int, Query(ge=1, lt=50)] = 10) -> None:
        super().__init__(page, size)


class ValidatesByHand(Good):
    def __init__(self, page: int = 1, size: Size = 10) -> None:
        if page < 1:
            raise ValueError("page must be at least 1")
        super().__init__(page, size)


def page_function(page: Page = 1, size: Size = 10) -> dict[str, int]:
    return {"page": page, "size": size}


PAGINATION_CASES = {
    "instance": (Good(), "You passed an instance"),
    "function": (page_function, "page_function is a function"),
    "number": (10, "Expected the class PageParams, got int"),
    "no-defaults": (NoDefaults, "answered 422 for query.page: every parameter needs a default"),
    "attribute-names": (OtherAttributeNames, "no attribute 'page': store it in __init__"),
    "parameter-names": (OtherParameterNames, "must be named page and size"),
    "offset-method": (OffsetMethod, "put @property above"),
    "offset-formula": (OffsetOffByOnePage, "offset is 10; expected 0"),
    "no-bounds": (NoBounds, "GET /items?page=0 answered 200; expected 422"),
    "no-upper-bound": (NoUpperBound, "GET /items?size=51 answered 200; expected 422"),
    "lt-not-le": (ExclusiveUpperBound, "size may be 50 (le=50, not lt=50)"),
    "by-hand": (ValidatesByHand, "crashed: PageParams raised ValueError: page must be"),
}


@pytest.mark.parametrize(("candidate", "hint"), PAGINATION_CASES.values(), ids=PAGINATION_CASES)
def test_pagination_hints(candidate: Any, hint: str) -> None:
    result = check("05.pagination", candidate)
    assert result.passed is False
    assert hint in result.hint


def test_pagination_accepts_a_classic_query_default_style() -> None:
    """`page: int = Query(1, ge=1)` is older FastAPI style, and just as correct."""

    class OldStyle(Good):
        def __init__(self, page: int = Query(1, ge=1), size: int = Query(10, ge=1, le=50)):  # noqa: B008
            super().__init__(page, size)

    assert check("05.pagination", OldStyle).passed is True


# --- 05.override_caller --------------------------------------------------------------------


def fake_caller() -> Caller:
    return Caller(name="test-user", auth_scheme="api_key")


def factory(**overrides: Any) -> Any:
    def create_test_app() -> FastAPI:
        app = create_app(Settings(log_level="WARNING"))
        app.dependency_overrides.update(overrides)
        return app

    return create_test_app


def get_caller_from_an_older_import() -> Caller:  # same name, other object
    return fake_caller()


get_caller_from_an_older_import.__name__ = "get_caller"


def keyed_by(key: Any, value: Any = fake_caller) -> Any:
    def create_test_app() -> FastAPI:
        app = create_app(Settings(log_level="WARNING"))
        app.dependency_overrides[key] = value
        return app

    return create_test_app


async def async_factory() -> FastAPI:
    return create_app(Settings(log_level="WARNING"))


OVERRIDE_CASES = {
    "app-not-function": (create_app(Settings()), "pass the function itself"),
    "not-callable": ("create_test_app", "Expected the function create_test_app, got str"),
    "async": (async_factory, "`async def`"),
    "returns-none": (lambda: None, "returned None"),
    "no-override": (factory(), "app.dependency_overrides is empty"),
    "string-key": (keyed_by("get_caller"), "The key 'get_caller' is a string"),
    "annotated-key": (keyed_by(CallerDep), "The key is an Annotated alias (CallerDep?)"),
    "class-key": (keyed_by(Caller), "The key is the Caller class"),
    "called-value": (keyed_by(get_caller, fake_caller()), "store fake_caller, not fake_caller()"),
    "stale-import": (keyed_by(get_caller_from_an_older_import), "from an older import"),
    "wrong-link": (
        keyed_by(get_settings_dep, lambda: Settings(log_level="WARNING")),
        "still answered 401, so get_caller ran",
    ),
    "key-instead-of-caller": (
        keyed_by(api_key_header, lambda: Settings().api_key.get_secret_value()),
        'returned {"name": "api-client", "auth_scheme": "api_key"}; expected',
    ),
    "wrong-user": (
        keyed_by(get_caller, lambda: Caller(name="admin", auth_scheme="bearer")),
        'returned {"name": "admin", "auth_scheme": "bearer"}',
    ),
    "returns-none-from-override": (keyed_by(get_caller, lambda: None), "GET /me answered 500"),
}


@pytest.mark.parametrize(("candidate", "hint"), OVERRIDE_CASES.values(), ids=OVERRIDE_CASES)
def test_override_hints(candidate: Any, hint: str) -> None:
    result = check("05.override_caller", candidate)
    assert result.passed is False
    assert hint in result.hint


def test_the_override_check_passes_for_a_lambda_too() -> None:
    assert check("05.override_caller", keyed_by(get_caller, lambda: fake_caller())).passed
