"""Exercise 12.production_settings: each likely mistake in a deployment's variables gets a hint
that names it, other correct styles pass, no hint shows a secret, and every check is quick."""

import secrets
from collections.abc import Callable
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import exercise_helpers
import pytest
from exercise_helpers import timed_check
from sqlalchemy import URL

from workshop_lab.exercises import check, get_exercise, hint
from workshop_lab.exercises._check import _hints_given
from workshop_lab.exercises.ex12_capstone import (
    MIN_DISTINCT_CHARACTERS,
    _has_run,
    _reads_as_words,
    _repeats,
)

EXERCISE = "12.production_settings"
KEY = "Qm3vX9tLr2KpW8sZy4BnJ6dHf1GcT5aEu0NxR7oYiMk"  # secrets.token_urlsafe(32)

pytestmark = pytest.mark.usefixtures("clean_env")

progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def _url(password: str) -> str:
    return f"postgresql+asyncpg://orders:{quote(password, safe='')}@db:5432/orders"


def deployment(**changes: Any) -> Callable[[str, bool], dict[str, Any]]:
    """A correct production_env, with ``changes``: a value, a function of (password,
    behind_proxy) giving the value, or None to leave the variable out."""

    def production_env(database_password: str, behind_proxy: bool) -> dict[str, Any]:
        env: dict[str, Any] = {
            "WORKSHOP_ENVIRONMENT": "production",
            "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
            "WORKSHOP_DATABASE_URL": _url(database_password),
            "WORKSHOP_API_KEY": KEY,
            "WORKSHOP_TRUST_FORWARDED_FOR": "true" if behind_proxy else "false",
        }
        for name, value in changes.items():
            if callable(value):
                value = value(database_password, behind_proxy)
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    return production_env


async def async_production_env(database_password: str, behind_proxy: bool) -> dict[str, str]:
    return deployment()(database_password, behind_proxy)


def no_parameters() -> dict[str, str]:
    return deployment()("pw", False)


def _low_variety_key() -> str:
    """40 characters from 6 symbols, no piece repeated, no run: only the variety is low."""
    symbols = "aXq7Z!"
    rng = __import__("random").Random(12)
    while True:
        key = "".join(rng.choice(symbols) for _ in range(40))
        if not _repeats(key) and not _has_run(key) and not _reads_as_words(key):
            return key


CASES: dict[str, tuple[Any, str]] = {
    # calling it
    "not-callable": (deployment()("pw", False), "pass the function itself"),
    "async-def": (async_production_env, "`async def`"),
    "no-parameters": (no_parameters, "keep the starter's parameters"),
    "not-a-mapping": (
        lambda database_password, behind_proxy: [("WORKSHOP_ENVIRONMENT", "production")],
        "returned list",
    ),
    # reading the variables as the app would
    "a-bool-not-a-string": (
        deployment(WORKSHOP_AUTO_CREATE_SCHEMA=False),
        "environment variables are always text",
    ),
    "misspelled": (
        deployment(WORKSHOP_API_KEY=None, WORKSHOP_APIKEY=KEY),
        "Did you mean WORKSHOP_API_KEY?",
    ),
    "no-prefix": (deployment(DATABASE_URL="x"), "lacks the WORKSHOP_ prefix"),
    "uvicorn-variable": (deployment(FORWARDED_ALLOW_IPS="*"), "uvicorn's variable"),
    "set-twice": (deployment(workshop_debug="false", WORKSHOP_DEBUG="false"), "is set twice"),
    # what Settings refuses
    "create-all-on": (
        deployment(WORKSHOP_AUTO_CREATE_SCHEMA="true"),
        "WORKSHOP_AUTO_CREATE_SCHEMA must be false",
    ),
    "debug": (deployment(WORKSHOP_DEBUG="true"), "WORKSHOP_DEBUG must be false"),
    "no-api-key": (deployment(WORKSHOP_API_KEY=None), "WORKSHOP_API_KEY must be set"),
    "no-database": (deployment(WORKSHOP_DATABASE_URL=None), "WORKSHOP_DATABASE_URL must be set"),
    "sync-driver": (
        deployment(WORKSHOP_DATABASE_URL=lambda pw, _: _url(pw).replace("+asyncpg", "")),
        "synchronous driver",
    ),
    "not-a-boolean": (
        deployment(WORKSHOP_AUTO_CREATE_SCHEMA="maybe"),
        "WORKSHOP_AUTO_CREATE_SCHEMA: Input should be a valid boolean",
    ),
    "not-production": (
        deployment(WORKSHOP_ENVIRONMENT=None, WORKSHOP_AUTO_CREATE_SCHEMA=None),
        'WORKSHOP_ENVIRONMENT is "development"',
    ),
    # the database
    "sqlite": (
        deployment(WORKSHOP_DATABASE_URL="sqlite+aiosqlite:////data/orders.db"),
        "a SQLite file lives inside one container",
    ),
    "other-async-driver": (
        deployment(
            WORKSHOP_DATABASE_URL=lambda pw, _: _url(pw).replace("asyncpg", "psycopg_async")
        ),
        "the image installs asyncpg",
    ),
    "url-printed-masked": (
        deployment(
            WORKSHOP_DATABASE_URL=lambda pw, _: str(
                URL.create("postgresql+asyncpg", "orders", pw, "db", 5432, "orders")
            )
        ),
        "password is ***",
    ),
    "password-not-escaped": (
        deployment(
            WORKSHOP_DATABASE_URL=lambda pw, _: f"postgresql+asyncpg://orders:{pw}@db:5432/orders"
        ),
        "The password must be escaped",
    ),
    "hard-coded-password": (
        deployment(WORKSHOP_DATABASE_URL=_url("s3cret-from-the-wiki")),
        "not the database_password the deploy passed in",
    ),
    "wrong-host": (
        deployment(WORKSHOP_DATABASE_URL=lambda pw, _: _url(pw).replace("@db:", "@localhost:")),
        "the service `db` of docker-compose.yml",
    ),
    "wrong-database": (
        deployment(WORKSHOP_DATABASE_URL=lambda pw, _: _url(pw).replace("/orders", "/postgres")),
        "database 'postgres'",
    ),
    # the API key
    "dev-key": (deployment(WORKSHOP_API_KEY="workshop-dev-key"), "the development key"),
    "short-key": (deployment(WORKSHOP_API_KEY="hunter2"), "has 7 characters"),
    "repeated-word": (deployment(WORKSHOP_API_KEY="secret" * 6), "repeats the same piece"),
    "repeated-word-with-dashes": (
        deployment(WORKSHOP_API_KEY="-".join(["orders"] * 6)),
        "repeats the same piece",
    ),
    "low-variety": (deployment(WORKSHOP_API_KEY=_low_variety_key()), "only 6 different"),
    "a-run": (
        deployment(WORKSHOP_API_KEY="Zq8abcdefghijklmnoP3xW7kT2mR9vY4bN6cF1"),
        "contains a run",
    ),
    "a-phrase": (
        deployment(WORKSHOP_API_KEY="a-long-random-key-from-the-secret-store"),
        "reads as words",
    ),
    "title-case-phrase": (
        deployment(WORKSHOP_API_KEY="Correct-Horse-Battery-Staple-Upon-Mount"),
        "reads as words",
    ),
    "space-in-key": (deployment(WORKSHOP_API_KEY=KEY[:20] + " " + KEY[20:]), "spaces"),
    "new-key-every-call": (
        deployment(WORKSHOP_API_KEY=lambda pw, proxy: secrets.token_urlsafe(32)),
        "changes every time production_env runs",
    ),
    # what must stay off, and the client's address
    "demo-data": (
        deployment(WORKSHOP_SEED_DEMO_DATA="true"),  # Settings itself refuses it
        "WORKSHOP_SEED_DEMO_DATA must be false",
    ),
    "debug-logs": (deployment(WORKSHOP_LOG_LEVEL="debug"), "WORKSHOP_LOG_LEVEL is DEBUG"),
    "quiet-logs": (deployment(WORKSHOP_LOG_LEVEL="WARNING"), "drops the INFO lines"),
    "no-rate-limit": (
        deployment(WORKSHOP_RATE_LIMIT_ENABLED="0"),
        "WORKSHOP_RATE_LIMIT_ENABLED is off",
    ),
    "always-trust-forwarded-for": (
        deployment(WORKSHOP_TRUST_FORWARDED_FOR="true"),
        "Without a proxy in front",
    ),
    "never-trust-forwarded-for": (
        deployment(WORKSHOP_TRUST_FORWARDED_FOR=None),
        "Behind a proxy (behind_proxy=True)",
    ),
    "drain-longer-than-the-grace-period": (
        deployment(WORKSHOP_SHUTDOWN_TIMEOUT_SECONDS="30"),
        "stop_grace_period",
    ),
}


@pytest.mark.parametrize(("candidate", "fragment"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_hint_that_names_it(candidate: Any, fragment: str) -> None:
    result = timed_check(EXERCISE, candidate)

    assert result.passed is False
    assert fragment in result.hint


def test_the_starter_is_told_about_migrations_first() -> None:
    exercise = get_exercise(EXERCISE)

    result = timed_check(EXERCISE, exercise.load(exercise.starter))

    assert result.passed is False
    assert "WORKSHOP_AUTO_CREATE_SCHEMA must be false" in result.hint
    assert "alembic upgrade head" in result.hint


class DeployTemplate:
    """Another style: an object whose __call__ builds the variables, keyword-only proxy flag."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __call__(self, database_password: str, *, behind_proxy: bool) -> MappingProxyType:
        password = quote(database_password, safe="")
        return MappingProxyType(
            {
                "workshop_environment": "production",  # the app reads names in any case
                "WORKSHOP_AUTO_CREATE_SCHEMA": "0",
                "WORKSHOP_DATABASE_URL": f"postgresql+asyncpg://orders:{password}@db/orders",
                "WORKSHOP_API_KEY": self.api_key,
                "WORKSHOP_TRUST_FORWARDED_FOR": str(behind_proxy).lower(),
                "WORKSHOP_RATE_LIMIT_REQUESTS": "120",
                "WORKSHOP_SHUTDOWN_TIMEOUT_SECONDS": "10",
            }
        )


CORRECT = {
    "defaults-left-out": deployment(),
    "hex-key-and-other-names": deployment(
        WORKSHOP_API_KEY=secrets.token_hex(32), WORKSHOP_LOG_LEVEL="info", WORKSHOP_DEBUG="no"
    ),
    "callable-object-keyword-only-flag": DeployTemplate(secrets.token_urlsafe(24)),
}


@pytest.mark.parametrize("candidate", CORRECT.values(), ids=CORRECT.keys())
def test_other_correct_styles_pass(candidate: Any) -> None:
    result = timed_check(EXERCISE, candidate)

    assert result.passed is True, result.hint


def test_the_solution_passes_quickly() -> None:
    exercise = get_exercise(EXERCISE)

    result = timed_check(EXERCISE, exercise.load(exercise.solution))

    assert result.passed is True, result.hint


def test_no_hint_shows_the_key_or_the_password() -> None:
    seen: list[str] = []

    def production_env(database_password: str, behind_proxy: bool) -> dict[str, str]:
        seen.append(database_password)
        return deployment(WORKSHOP_API_KEY="hunter2", WORKSHOP_DEBUG="true")(
            database_password, behind_proxy
        )

    for candidate in (
        production_env,
        deployment(WORKSHOP_API_KEY="hunter2"),
        deployment(WORKSHOP_LOG_LEVEL="debug"),
        deployment(WORKSHOP_API_KEY=12345678),
        deployment(
            WORKSHOP_DATABASE_URL=lambda pw, _: f"postgresql+asyncpg://orders:{pw}@db/orders"
        ),
    ):
        result = check(EXERCISE, candidate)
        assert not result.passed
        assert "hunter2" not in result.hint and KEY not in result.hint
        assert "12345678" not in result.hint
        assert all(password not in result.hint for password in seen)


def test_the_kernels_environment_cannot_fill_a_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKSHOP_API_KEY", KEY)  # set in the shell, missing from the function

    result = check(EXERCISE, deployment(WORKSHOP_API_KEY=None))

    assert "WORKSHOP_API_KEY must be set" in result.hint


def test_a_random_key_is_never_taken_for_a_weak_one() -> None:
    rules = (_repeats, _has_run, _reads_as_words)
    for make in (
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_urlsafe(24),
        lambda: secrets.token_hex(16),
        lambda: secrets.token_hex(16).upper(),
    ):
        for _ in range(2000):
            key = make()
            assert not any(rule(key) for rule in rules), key
            assert len(set(key)) >= MIN_DISTINCT_CHARACTERS, key


def test_hints_come_one_step_at_a_time_and_name_no_code() -> None:
    exercise = get_exercise(EXERCISE)
    _hints_given.pop(EXERCISE, None)

    steps = [hint(EXERCISE).text for _ in range(len(exercise.hints) + 1)]

    assert len(exercise.hints) == 2
    assert "WORKSHOP_" not in exercise.hints[0] and '"' not in exercise.hints[0]
    assert "'Production settings'" in steps[1] and "'A password in a URL'" in steps[1]
    assert "lab.solution" in steps[2]
    _hints_given.pop(EXERCISE, None)
