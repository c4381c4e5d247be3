"""Settings: defaults, environment and .env sources, constraints, secrecy, caching."""

import pytest
from pydantic import SecretStr, ValidationError

from workshop_app.config import Settings, get_settings

pytestmark = pytest.mark.usefixtures("clean_env")

SECRET = "s3cr3t-value-that-must-not-leak"


def test_defaults_match_the_shared_contract():
    settings = Settings()

    assert settings.app_name == "Orders API"
    assert settings.app_version == "1.0.0"
    assert settings.environment == "development"
    assert settings.debug is False
    assert settings.database_url == "sqlite+aiosqlite:///:memory:"
    assert settings.api_key.get_secret_value() == "workshop-dev-key"
    assert settings.rate_limit_requests == 60
    assert settings.rate_limit_window_seconds == 60.0
    assert settings.rate_limit_enabled is True
    assert settings.trust_forwarded_for is False
    assert settings.log_level == "INFO"


def test_environment_variables_with_prefix_are_read_and_typed(monkeypatch):
    monkeypatch.setenv("WORKSHOP_APP_NAME", "Billing API")
    monkeypatch.setenv("WORKSHOP_RATE_LIMIT_REQUESTS", "5")
    monkeypatch.setenv("WORKSHOP_RATE_LIMIT_ENABLED", "false")
    monkeypatch.setenv("APP_NAME", "ignored: no prefix")

    settings = Settings()

    assert settings.app_name == "Billing API"
    assert settings.rate_limit_requests == 5
    assert settings.rate_limit_enabled is False


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "WORKSHOP_APP_NAME=From dotenv\nWORKSHOP_APP_VERSION=9.9.9\nPOSTGRES_PASSWORD=other-tool\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("WORKSHOP_APP_VERSION", "2.0.0")

    settings = Settings()

    assert settings.app_name == "From dotenv"
    assert settings.app_version == "2.0.0"


def test_missing_dotenv_file_is_fine(tmp_path):
    assert not (tmp_path / ".env").exists()
    assert Settings().app_name == "Orders API"


def test_api_key_never_appears_in_repr_str_or_dump(monkeypatch):
    monkeypatch.setenv("WORKSHOP_API_KEY", SECRET)

    settings = Settings()

    assert isinstance(settings.api_key, SecretStr)
    assert settings.api_key.get_secret_value() == SECRET
    for rendered in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.api_key),
    ):
        assert SECRET not in rendered
    assert "**********" in repr(settings)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_limit_requests", 0),
        ("rate_limit_window_seconds", 0),
        ("rate_limit_window_seconds", -1.5),
        ("environment", "staging"),
        ("app_name", ""),
    ],
)
def test_out_of_range_values_are_rejected(field, value):
    with pytest.raises(ValidationError) as caught:
        Settings(**{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///./workshop.db",
        "postgresql+asyncpg://user:pw@db.internal:5432/orders",
        "postgresql+psycopg_async://user:pw@db.internal/orders",
    ],
)
def test_async_database_urls_are_accepted(url):
    assert Settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://u:hunter2-pw@h/d", "'postgresql' is a synchronous"),
        ("sqlite:///./workshop.db", "'sqlite' is a synchronous"),
        ("not a database url", "is not a URL"),
        ("nosuchdb+driver://host/db", "not a known SQLAlchemy driver"),
    ],
)
def test_malformed_database_url_says_what_to_set(monkeypatch, url, reason):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", url)

    with pytest.raises(ValidationError) as caught:
        Settings()

    message = str(caught.value)
    assert "WORKSHOP_DATABASE_URL must be an async SQLAlchemy URL" in message
    assert "sqlite+aiosqlite:///" in message and "postgresql+asyncpg://" in message
    assert reason in message
    assert "hunter2-pw" not in message  # the printed error never echoes the rejected value


def test_log_level_is_normalised_and_checked():
    assert Settings(log_level=" debug ").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="WORKSHOP_LOG_LEVEL"):
        Settings(log_level="LOUD")


PRODUCTION = {
    "environment": "production",
    "api_key": SECRET,
    "database_url": "postgresql+asyncpg://orders@db.internal/orders",
    "auto_create_schema": False,
}


def test_debug_is_refused_in_production():
    assert Settings(**PRODUCTION).debug is False
    assert Settings(environment="development", debug=True).debug is True
    with pytest.raises(ValidationError, match="WORKSHOP_DEBUG must be false"):
        Settings(**{**PRODUCTION, "debug": True})


def test_production_tables_come_from_migrations():
    assert Settings().auto_create_schema is True  # a laptop gets its tables on its own
    with pytest.raises(ValidationError, match="WORKSHOP_AUTO_CREATE_SCHEMA must be false"):
        Settings(**{**PRODUCTION, "auto_create_schema": True})


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        (("api_key",), "WORKSHOP_API_KEY must be set"),
        (("database_url",), "WORKSHOP_DATABASE_URL must be set"),
        (("api_key", "database_url"), "WORKSHOP_API_KEY and WORKSHOP_DATABASE_URL must be set"),
    ],
)
def test_production_refuses_development_defaults(unset, named):
    given = {key: value for key, value in PRODUCTION.items() if key not in unset}
    with pytest.raises(ValidationError, match=named):
        Settings(**given)
    Settings(**{**given, "environment": "test"})  # only production insists


def test_a_misspelled_variable_cannot_slip_production_onto_the_defaults(monkeypatch):
    monkeypatch.setenv("WORKSHOP_ENVIRONMENT", "production")
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", PRODUCTION["database_url"])
    monkeypatch.setenv("WORKSHOP_AUTO_CREATE_SCHEMA", "false")
    monkeypatch.setenv("WORKSHOP_APIKEY", SECRET)  # typo: no such setting, silently ignored

    with pytest.raises(ValidationError, match="WORKSHOP_API_KEY must be set") as caught:
        Settings()
    assert SECRET not in str(caught.value)

    monkeypatch.setenv("WORKSHOP_API_KEY", SECRET)
    assert Settings().api_key.get_secret_value() == SECRET


def test_database_url_is_kept_out_of_the_repr():
    url = "postgresql+asyncpg://orders:hunter2-pw@db.internal/orders"
    settings = Settings(database_url=url)
    assert "hunter2-pw" not in repr(settings) and "database_url" not in repr(settings)
    assert settings.database_url == url


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("0", False), ("false", False), ("False", False), ("no", False), ("off", False)]
    + [("1", True), ("true", True), ("yes", True), ("on", True)],
)
def test_boolean_variables_parse_words_not_truthiness(monkeypatch, raw, parsed):
    monkeypatch.setenv("WORKSHOP_RATE_LIMIT_ENABLED", raw)
    assert Settings().rate_limit_enabled is parsed


@pytest.mark.parametrize("raw", ["", "enabled", "2"])
def test_an_unreadable_boolean_is_rejected(monkeypatch, raw):
    monkeypatch.setenv("WORKSHOP_DEBUG", raw)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert caught.value.errors()[0]["loc"] == ("debug",)


def test_unknown_keys_are_ignored_in_env_and_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("WORKSHOP_RATE_LIMT_REQUESTS=5\nPOSTGRES_PASSWORD=x\n")
    monkeypatch.setenv("WORKSHOP_RATE_LIMT_WINDOW_SECONDS", "1")

    settings = Settings()

    assert settings.rate_limit_requests == 60
    assert settings.rate_limit_window_seconds == 60.0
    assert settings.model_extra is None


def test_settings_are_immutable():
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.app_name = "changed"  # type: ignore[misc]
    assert settings.model_copy(update={"app_name": "copy"}).app_name == "copy"


def test_get_settings_is_cached_until_cleared(monkeypatch):
    first = get_settings()
    monkeypatch.setenv("WORKSHOP_APP_NAME", "After change")

    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().app_name == "After change"
