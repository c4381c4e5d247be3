"""Exercise 02.test_app: each likely mistake gets its own hint."""

from pathlib import Path
from typing import Any

import exercise_helpers
import pytest
from fastapi import FastAPI

from workshop_app.config import Settings
from workshop_app.main import create_app
from workshop_lab.exercises import check, get_exercise

EXERCISE = "02.test_app"

pytestmark = pytest.mark.usefixtures("clean_env")


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def _test_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "rate_limit_enabled": False,
        "log_level": "WARNING",
    }
    return Settings(**{**values, **overrides})


def _factory(**overrides: Any):
    def build_test_app() -> FastAPI:
        return create_app(_test_settings(**overrides))

    return build_test_app


_SHARED_APP = create_app(Settings(environment="test", rate_limit_enabled=False))


def _module_level_app() -> FastAPI:
    return _SHARED_APP


def _bare_fastapi() -> FastAPI:
    return FastAPI()


def _process_settings() -> FastAPI:
    return create_app()


def _returns_factory() -> Any:
    return create_app


def _invalid_url() -> FastAPI:
    return create_app(_test_settings(database_url="sqlite:///test.db"))


async def _async_factory() -> FastAPI:
    return create_app(_test_settings())


def _fastapi_with_settings_only() -> FastAPI:
    app = FastAPI()
    app.state.settings = _test_settings()
    return app


def _shared_file(tmp_path: Path):
    return _factory(database_url=f"sqlite+aiosqlite:///{tmp_path}/shared.db")


CASES = {
    "app-instead-of-function": (lambda tmp: _SHARED_APP, "pass the function itself"),
    "not-callable": (lambda tmp: "build_test_app", "got str"),
    "async": (lambda tmp: _async_factory, "`async def`"),
    "returns-none": (lambda tmp: lambda: None, "returned None"),
    "returns-create-app": (lambda tmp: _returns_factory, "returned the function create_app"),
    "bare-fastapi": (lambda tmp: _bare_fastapi, "not built by create_app"),
    "process-settings": (lambda tmp: _process_settings, "get_settings()"),
    "development": (lambda tmp: _factory(environment="development"), "'development'"),
    "rate-limited": (lambda tmp: _factory(rate_limit_enabled=True), "rate_limit_enabled=False"),
    "invalid-settings": (lambda tmp: _invalid_url, "Settings(...) rejected a value"),
    "module-level-app": (lambda tmp: _module_level_app, "returned the same app object"),
    "no-health-routes": (lambda tmp: _fastapi_with_settings_only, "GET /health/live answered 404"),
    "unreachable-database": (
        lambda tmp: _factory(database_url="sqlite+aiosqlite:////nonexistent-dir/app.db"),
        "The app did not start: Cannot reach the database",
    ),
    "shared-database": (_shared_file, "share one database"),
}


@pytest.mark.parametrize(("make", "hint"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_specific_hint(make, hint: str, tmp_path: Path) -> None:
    result = check(EXERCISE, make(tmp_path))

    assert result.passed is False
    assert hint in result.hint


def test_the_rejected_setting_is_named() -> None:
    result = check(EXERCISE, _invalid_url)

    assert "database_url" in result.hint
    assert "WORKSHOP_DATABASE_URL must be an async" in result.hint


def test_the_starter_is_told_about_the_environment() -> None:
    exercise = get_exercise(EXERCISE)

    result = check(EXERCISE, exercise.load(exercise.starter))

    assert "environment is 'development'" in result.hint


def test_a_fresh_temporary_file_per_app_passes(tmp_path: Path) -> None:
    counter = iter(range(100))

    def build_test_app() -> FastAPI:
        url = f"sqlite+aiosqlite:///{tmp_path}/test-{next(counter)}.db"
        return create_app(_test_settings(database_url=url))

    result = check(EXERCISE, build_test_app)

    assert result.passed is True, result.hint


def test_the_check_leaves_no_table_behind_in_a_shared_database(tmp_path: Path) -> None:
    import sqlite3

    check(EXERCISE, _shared_file(tmp_path))

    with sqlite3.connect(tmp_path / "shared.db") as connection:
        # The app's own tables (create_schema, at startup) stay; the check's probe must not.
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'check%'"
        ).fetchall()
    assert tables == []
