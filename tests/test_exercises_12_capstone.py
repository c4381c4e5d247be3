"""Exercise 12.production_settings: each likely mistake in a deployment's variables gets a hint."""

from typing import Any

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise

EXERCISE = "12.production_settings"
KEY = "0tB4lKq3c8Vn2rXy7sWm9dJf6hGz1pQe5uLa"
GOOD = {
    "WORKSHOP_ENVIRONMENT": "production",
    "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
    "WORKSHOP_DATABASE_URL": "postgresql+asyncpg://orders:s3cret-pw@db:5432/orders",
    "WORKSHOP_API_KEY": KEY,
}

pytestmark = pytest.mark.usefixtures("clean_env")


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def _env(**changes: Any):
    """A production_env() returning GOOD with ``changes`` (None removes a variable)."""
    env = {**GOOD, **changes}

    def production_env() -> dict[str, Any]:
        return {name: value for name, value in env.items() if value is not None}

    return production_env


CASES = {
    "create-all-on": (_env(WORKSHOP_AUTO_CREATE_SCHEMA="true"), "alembic upgrade head"),
    "no-api-key": (_env(WORKSHOP_API_KEY=None), "WORKSHOP_API_KEY must be set"),
    "no-database": (_env(WORKSHOP_DATABASE_URL=None), "WORKSHOP_DATABASE_URL must be set"),
    "sync-driver": (_env(WORKSHOP_DATABASE_URL="postgresql://db/orders"), "synchronous driver"),
    "debug": (_env(WORKSHOP_DEBUG="true"), "WORKSHOP_DEBUG must be false"),
    "not-a-boolean": (
        _env(WORKSHOP_AUTO_CREATE_SCHEMA="maybe"),
        "WORKSHOP_AUTO_CREATE_SCHEMA: Input should be a valid boolean",
    ),
    "a-bool-not-a-string": (_env(WORKSHOP_AUTO_CREATE_SCHEMA=False), 'Write "false"'),
    "misspelled": (_env(WORKSHOP_APIKEY=KEY), "Did you mean WORKSHOP_API_KEY?"),
    "no-prefix": (_env(DATABASE_URL="x"), "lacks the WORKSHOP_ prefix"),
    "not-production": (_env(WORKSHOP_ENVIRONMENT=None), 'WORKSHOP_ENVIRONMENT is "development"'),
    "sqlite": (_env(WORKSHOP_DATABASE_URL="sqlite+aiosqlite:///orders.db"), "Use PostgreSQL"),
    "dev-key": (_env(WORKSHOP_API_KEY="workshop-dev-key"), "the development key"),
    "short-key": (_env(WORKSHOP_API_KEY="hunter2"), "has 7 characters"),
    "debug-logs": (_env(WORKSHOP_LOG_LEVEL="debug"), "WORKSHOP_LOG_LEVEL=DEBUG"),
    "no-rate-limit": (_env(WORKSHOP_RATE_LIMIT_ENABLED="0"), "WORKSHOP_RATE_LIMIT_ENABLED=false"),
    "not-a-mapping": (lambda: [("WORKSHOP_ENVIRONMENT", "production")], "returned list"),
    "not-callable": (GOOD, "pass the function itself"),
}


@pytest.mark.parametrize(("candidate", "hint"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_specific_hint(candidate: Any, hint: str) -> None:
    result = check(EXERCISE, candidate)

    assert result.passed is False
    assert hint in result.hint


def test_the_starter_is_told_about_migrations_first() -> None:
    exercise = get_exercise(EXERCISE)

    result = check(EXERCISE, exercise.load(exercise.starter))

    assert "WORKSHOP_AUTO_CREATE_SCHEMA" in result.hint
    assert "alembic upgrade head" in result.hint


def test_the_key_is_never_shown_in_a_hint() -> None:
    for candidate in (_env(WORKSHOP_API_KEY="hunter2"), _env(WORKSHOP_LOG_LEVEL="debug")):
        result = check(EXERCISE, candidate)
        assert "hunter2" not in result.hint and KEY not in result.hint


def test_the_kernels_environment_cannot_fill_a_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKSHOP_API_KEY", KEY)  # set in the shell, missing from the function

    result = check(EXERCISE, _env(WORKSHOP_API_KEY=None))

    assert "WORKSHOP_API_KEY must be set" in result.hint


def test_variables_that_pass_start_the_app_on_a_migrated_database() -> None:
    result = check(EXERCISE, _env(WORKSHOP_LOG_LEVEL="warning"))

    assert result.passed is True, result.hint
