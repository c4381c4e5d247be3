"""Exercise of notebook 12 (capstone): the environment of a production deployment.

A deployment configures the app with environment variables only, so the exercise is a
function returning them. The check reads them exactly as ``Settings`` would (and nothing
else: not the kernel's environment, not a ``.env``), turns each refusal of the
production validation into a hint about the deploy, adds the rules ``Settings`` cannot
know (a database that outlives the container, a real key), and finally starts the app
with them, its tables created by the migrations, and calls it with the key.
"""

from __future__ import annotations

import difflib
import inspect
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "12_capstone"
PREFIX = "WORKSHOP_"
DEV_API_KEY = "workshop-dev-key"
MIN_KEY_LENGTH = 32

PRODUCTION_ENV_STARTER = '''\
def production_env() -> dict[str, str]:
    """The WORKSHOP_* environment variables of the production deployment."""
    return {
        "WORKSHOP_ENVIRONMENT": "production",
        # TODO: everything production refuses to take from the development defaults
    }
'''

PRODUCTION_ENV_SOLUTION = '''\
def production_env() -> dict[str, str]:
    """The WORKSHOP_* environment variables of the production deployment."""
    return {
        "WORKSHOP_ENVIRONMENT": "production",
        # The tables come from `alembic upgrade head`, run as a deploy step.
        "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
        # "db" is the database service of docker-compose.yml; the password comes from a
        # secret store in a real deployment, never from the repository.
        "WORKSHOP_DATABASE_URL": "postgresql+asyncpg://orders:s3cret-pw@db:5432/orders",
        # python -c "import secrets; print(secrets.token_urlsafe(32))"
        "WORKSHOP_API_KEY": "0tB4lKq3c8Vn2rXy7sWm9dJf6hGz1pQe5uLa",
        "WORKSHOP_LOG_LEVEL": "INFO",
    }
'''

# What to do about each refusal of Settings' production validation, by field.
_FIELD_HINTS = {
    "auto_create_schema": (
        'Set "WORKSHOP_AUTO_CREATE_SCHEMA": "false"; the deploy runs `alembic upgrade head` '
        "before the new version takes traffic."
    ),
    "database_url": (
        "Point it at the production database with an async driver, e.g. "
        '"postgresql+asyncpg://orders:<password>@db:5432/orders" (db: the compose service).'
    ),
    "api_key": (
        "Set it from your secret store; generate one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
    ),
    "debug": 'Leave WORKSHOP_DEBUG out, or set it to "false".',
}


def _env_of(candidate: Any) -> Mapping[Any, Any]:
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function production_env, got {type(candidate).__name__}: "
            "pass the function itself, check('12.production_settings', production_env)."
        )
    env = candidate()
    if inspect.iscoroutine(env):
        env.close()  # never awaited on purpose: avoid a "never awaited" warning
        raise ExerciseFailed("production_env is `async def`: make it a plain `def`.")
    if not isinstance(env, Mapping):
        raise ExerciseFailed(
            f"production_env() returned {type(env).__name__}: return a dict of "
            'environment variables, {"WORKSHOP_ENVIRONMENT": "production", ...}.'
        )
    return env


def _fields(env: Mapping[Any, Any]) -> dict[str, str]:
    """Map WORKSHOP_* names to Settings fields, refusing what the app would not read."""
    from workshop_app.config import Settings  # the learner's current module

    known = {f"{PREFIX}{name.upper()}": name for name in Settings.model_fields}
    fields: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str):
            raise ExerciseFailed(
                f"The key {key!r} is not a string: name variables like WORKSHOP_X."
            )
        if not isinstance(value, str):
            raise ExerciseFailed(
                f"{key} is {value!r}, a {type(value).__name__}: environment variables are "
                f'always strings. Write "{_as_env_text(value)}".'
            )
        name = known.get(key.upper())
        if name is None:
            close = difflib.get_close_matches(key.upper(), known, n=1)
            guess = f" Did you mean {close[0]}?" if close else ""
            reason = (
                "is not a setting of the app"
                if key.upper().startswith(PREFIX)
                else f"lacks the {PREFIX} prefix"
            )
            raise ExerciseFailed(
                f"{key} {reason}: the app never reads it. A misspelled variable is ignored "
                f"without a word, and the app runs on the default.{guess}"
            )
        fields[name] = value
    return fields


def _as_env_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _validate(fields: dict[str, str]) -> Any:
    """Build Settings from these values only (no process environment, no .env file)."""
    from workshop_app.config import Settings

    class FromTheseVariablesOnly(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: Any, **sources: Any) -> tuple:  # type: ignore[override]
            return (sources["init_settings"],)

    try:
        return FromTheseVariablesOnly(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:  # a field's own rule; the production rules name their variable
            field = str(error["loc"][0])
            variable = f"{PREFIX}{field.upper()}"
            message = message if message.startswith(variable) else f"{variable}: {message}."
        else:
            field = _field_named_in(message)
        hint = _FIELD_HINTS.get(field, "")
        raise ExerciseFailed(
            f"Settings refused these variables: {message} {hint}".strip()
        ) from None


def _field_named_in(message: str) -> str:
    """The production validator reports on the model; find the variable its message names."""
    for field in _FIELD_HINTS:
        if f"{PREFIX}{field.upper()}" in message.split(":")[0]:
            return field
    return ""


def _check_policy(settings: Any) -> None:
    """What a production deploy needs beyond what Settings can refuse on its own."""
    if settings.environment != "production":
        raise ExerciseFailed(
            f'WORKSHOP_ENVIRONMENT is "{settings.environment}": set it to "production". That is '
            "what makes the app refuse unsafe defaults (and what its logs report)."
        )
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise ExerciseFailed(
            f"The database is {url.get_backend_name()}: a SQLite file lives inside one "
            "container, disappears with it and cannot be shared by several instances. Use "
            'PostgreSQL: "postgresql+asyncpg://orders:<password>@db:5432/orders".'
        )
    key = settings.api_key.get_secret_value()  # compared, never shown
    if key == DEV_API_KEY:
        raise ExerciseFailed(
            "WORKSHOP_API_KEY is the development key written in the repository: anyone who "
            f"read it can call production. {_FIELD_HINTS['api_key']}"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ExerciseFailed(
            f"WORKSHOP_API_KEY has {len(key)} characters; use at least {MIN_KEY_LENGTH} random "
            f"ones. {_FIELD_HINTS['api_key']}"
        )
    if settings.log_level == "DEBUG":
        raise ExerciseFailed(
            "WORKSHOP_LOG_LEVEL=DEBUG in production floods the logs and can write request "
            'data into them: use "INFO" (or "WARNING").'
        )
    if not settings.rate_limit_enabled:
        raise ExerciseFailed(
            "WORKSHOP_RATE_LIMIT_ENABLED=false turns off the only protection against a client "
            "in a loop: leave it out (on is the default)."
        )


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()  # no alembic.ini: no logging configuration for the whole process
    config.set_main_option("script_location", "workshop_app:alembic")
    config.attributes["connection"] = connection  # env.py migrates on this connection
    command.upgrade(config, "head")


async def _migrated_database(url: str) -> None:
    """Run every migration on a new database, as `alembic upgrade head` does in a deploy."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head)
    finally:
        await engine.dispose()


async def _check_the_app_starts(settings: Any) -> None:
    """Run the app with these settings on a migrated SQLite file standing in for PostgreSQL."""
    from workshop_app.main import create_app

    with tempfile.TemporaryDirectory(prefix="workshop-check-") as folder:
        url = f"sqlite+aiosqlite:///{(Path(folder) / 'production.db').as_posix()}"
        await _migrated_database(url)
        stand_in = settings.model_copy(update={"database_url": url, "log_level": "CRITICAL"})
        key = {"X-API-Key": settings.api_key.get_secret_value()}
        try:
            async with app_client(create_app(stand_in)) as client:
                ready = await client.get("/health/ready")
                me = await client.get("/me", headers=key)
                anonymous = await client.get("/me")
        except ExerciseFailed:
            raise
        except Exception as exc:  # the lifespan refused: its message names the setting
            raise ExerciseFailed(f"The app did not start with these settings: {exc}") from None
    if ready.status_code != 200:
        raise ExerciseFailed(f"GET /health/ready answered {ready.status_code}: {ready.text[:200]}")
    if me.status_code != 200 or anonymous.status_code != 401:
        raise ExerciseFailed(
            f"GET /me answered {me.status_code} with your key and {anonymous.status_code} "
            "without one; expected 200 and 401."
        )


async def verify_production_env(candidate: Any) -> None:
    settings = _validate(_fields(_env_of(candidate)))
    _check_policy(settings)
    await _check_the_app_starts(settings)


EXERCISES = (
    Exercise(
        id="12.production_settings",
        notebook_id=NOTEBOOK_ID,
        title="The environment of a production deployment",
        instructions=(
            "Complete production_env() -> dict[str, str]: the WORKSHOP_* variables a "
            "production deployment sets. Settings must accept them with "
            "WORKSHOP_ENVIRONMENT=production, the database must be PostgreSQL with an async "
            "driver, the API key a long random one, and the tables must come from migrations."
        ),
        starter=PRODUCTION_ENV_STARTER,
        solution=PRODUCTION_ENV_SOLUTION,
        name="production_env",
        verify=verify_production_env,
        success=(
            "Settings accept them for production, and the app started with them (on a "
            "migrated SQLite file standing in for PostgreSQL) answers its probe and your key."
        ),
    ),
)
