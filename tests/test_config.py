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
    assert settings.request_id_header == "X-Request-ID"
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
        ("request_id_header", "X Request\nId"),
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


def test_debug_is_refused_in_production():
    assert Settings(environment="production").debug is False
    assert Settings(environment="development", debug=True).debug is True
    with pytest.raises(ValidationError, match="WORKSHOP_DEBUG must be false"):
        Settings(environment="production", debug=True)


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
