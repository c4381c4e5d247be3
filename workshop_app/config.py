"""Typed application settings, read from ``WORKSHOP_*`` environment variables and ``.env``.

One validated object, built when the app is created: a bad value stops the process with a
message naming the variable, instead of surfacing as a 500 on the first request. A misspelled
variable name is ignored like any unknown one, so production refuses to run on the defaults
that only suit a laptop. Secrets are ``SecretStr``: ``repr()``, logs and dumps show ``**********``.
"""

import logging
from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

_DATABASE_URL_HELP = (
    "WORKSHOP_DATABASE_URL must be an async SQLAlchemy URL, such as "
    "'sqlite+aiosqlite:///./workshop.db' or 'postgresql+asyncpg://user:password@host:5432/db'"
)
# Defaults that are fine on a laptop and wrong in production: they must be set explicitly there.
_SET_IN_PRODUCTION = ("api_key", "database_url")


class Settings(BaseSettings):
    """Everything the app reads from its environment, validated once."""

    model_config = SettingsConfigDict(
        env_prefix="WORKSHOP_",
        env_file=".env",  # relative to the working directory; a missing file is skipped
        env_file_encoding="utf-8",
        extra="ignore",  # a .env shared with other tools may hold unrelated keys
        frozen=True,  # one cached instance is shared by the whole process
        hide_input_in_errors=True,  # a rejected value may contain a password
    )

    app_name: str = Field("Orders API", min_length=1, description="OpenAPI title.")
    app_version: str = Field("1.0.0", min_length=1, description="OpenAPI version.")
    app_description: str = Field(
        "Reference app of the FastAPI in Production workshop.",
        description="OpenAPI description (Markdown).",
    )
    environment: Literal["development", "test", "production"] = Field(
        "development", description="Where the app runs; production refuses unsafe defaults."
    )
    debug: bool = Field(False, description="Verbose diagnostics; never in production.")
    database_url: str = Field(
        "sqlite+aiosqlite:///:memory:",
        repr=False,  # a URL may carry a password
        description="Async SQLAlchemy URL (driver must be async, e.g. +aiosqlite, +asyncpg).",
    )
    api_key: SecretStr = Field(
        SecretStr("workshop-dev-key"), description="Key clients send; never printed or logged."
    )
    rate_limit_requests: int = Field(60, ge=1, description="Requests allowed per window.")
    rate_limit_window_seconds: float = Field(60.0, gt=0, description="Rate-limit window length.")
    rate_limit_enabled: bool = Field(True, description="Turn the rate limiter on or off.")
    rate_limit_store_url: str = Field(
        "",
        repr=False,  # a URL may carry a password
        description="Valkey/Redis URL of the store shared by every instance; empty: in memory.",
    )
    trust_forwarded_for: bool = Field(
        False, description="Use X-Forwarded-For for the client IP (only behind a trusted proxy)."
    )
    log_level: str = Field("INFO", description="Name of a stdlib logging level, e.g. DEBUG.")
    auto_create_schema: bool = Field(
        True,
        description="Create missing tables at startup; false means Alembic migrations own them.",
    )
    seed_demo_data: bool = Field(False, description="Load data/seed at startup (idempotent).")
    event_relay_interval_seconds: float = Field(
        1.0, gt=0, description="How often the relay looks for events still to dispatch."
    )
    event_max_attempts: int = Field(
        3, ge=1, description="Dispatch attempts before an event is left 'failed' for a person."
    )
    shutdown_timeout_seconds: float = Field(
        5.0, gt=0, description="How long shutdown waits, in all, for the queued events and work."
    )
    lease_seconds: float = Field(
        30.0, gt=0, description="How long an instance's claim on a row of work lasts."
    )
    worker_interval_seconds: float = Field(
        1.0, gt=0, description="How often the worker looks for emails and reports still due."
    )
    task_max_attempts: int = Field(
        5, ge=1, description="Attempts at an email or a report before it is left 'failed'."
    )

    @field_validator("database_url")
    @classmethod
    def _require_async_driver(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"{_DATABASE_URL_HELP}; the value is not a URL.") from None
        try:
            is_async = url.get_dialect().is_async
        except NoSuchModuleError:
            raise ValueError(
                f"{_DATABASE_URL_HELP}; '{url.drivername}' is not a known SQLAlchemy driver."
            ) from None
        if not is_async:
            raise ValueError(f"{_DATABASE_URL_HELP}; '{url.drivername}' is a synchronous driver.")
        return value

    @field_validator("rate_limit_store_url")
    @classmethod
    def _require_store_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "WORKSHOP_RATE_LIMIT_STORE_URL must be a redis://, rediss:// or unix:// URL of "
                "a Valkey or Redis server, or empty for the in-memory store."
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _require_known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("WORKSHOP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
        return level

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if self.environment != "production":
            return self
        if self.debug:
            raise ValueError("WORKSHOP_DEBUG must be false when WORKSHOP_ENVIRONMENT=production.")
        if self.auto_create_schema:
            raise ValueError(
                "WORKSHOP_AUTO_CREATE_SCHEMA must be false when WORKSHOP_ENVIRONMENT=production: "
                "production tables come from migrations (alembic upgrade head)."
            )
        if self.seed_demo_data:
            raise ValueError(
                "WORKSHOP_SEED_DEMO_DATA must be false when WORKSHOP_ENVIRONMENT=production: "
                "the demo accounts are for a laptop."
            )
        # model_fields_set holds every field a source provided (argument, env var or .env).
        if missing := [name for name in _SET_IN_PRODUCTION if name not in self.model_fields_set]:
            names = " and ".join(f"WORKSHOP_{name.upper()}" for name in missing)
            raise ValueError(
                f"{names} must be set when WORKSHOP_ENVIRONMENT=production: "
                "the defaults are for development only."
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once; tests call ``get_settings.cache_clear()``."""
    return Settings()
