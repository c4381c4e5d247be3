"""docker-compose.yml and the Dockerfile agree with the app they deploy.

No Docker engine runs in the tests: they read the files. Every ``WORKSHOP_*`` variable
compose sets must be a real setting (a misspelled one is silently ignored), the app's
environment must pass production validation, secrets must come from the environment,
and the migrations must run before the app starts.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from workshop_app.config import Settings
from workshop_app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# What an operator exports before `docker compose up`: the only secrets, never in the file.
OPERATOR_ENV = {"POSTGRES_PASSWORD": "pg-secret-9d1", "WORKSHOP_API_KEY": "api-secret-4c2"}
APP_COMMAND = [
    "uvicorn",
    "workshop_app.main:create_app",
    "--factory",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--proxy-headers",
]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:?error}`` and ``${VAR:-default}``, for the tests."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        if operator == ":-":
            return argument
        raise KeyError(f"{name} is not set: {argument}")

    return re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", replace, value)


def environment_of(service: str) -> dict[str, str]:
    raw = SERVICES[service].get("environment", {})
    return {name: interpolate(str(value), OPERATOR_ENV) for name, value in raw.items()}


@pytest.mark.parametrize("service", ["migrate", "app"])
def test_every_workshop_variable_is_a_real_setting(service):
    names = {n for n in SERVICES[service]["environment"] if n.startswith("WORKSHOP_")}
    unknown = {n for n in names if n.removeprefix("WORKSHOP_").lower() not in Settings.model_fields}
    assert names and not unknown, f"not settings (ignored silently): {sorted(unknown)}"


def test_the_app_environment_passes_production_validation(clean_env, monkeypatch):
    for name, value in environment_of("app").items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.auto_create_schema is False
    assert settings.api_key.get_secret_value() == OPERATOR_ENV["WORKSHOP_API_KEY"]
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_secrets_come_from_the_environment_and_must_be_set():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in OPERATOR_ENV:
        assert f"${{{name}:?" in text, f"{name} must be required from the environment"
        assert OPERATOR_ENV[name] not in text
    app = SERVICES["app"]["environment"]
    assert app["WORKSHOP_API_KEY"].startswith("${WORKSHOP_API_KEY:?")
    with pytest.raises(KeyError, match="WORKSHOP_API_KEY"):
        interpolate(app["WORKSHOP_API_KEY"], {})


def test_the_app_and_its_migrations_use_the_same_database():
    assert (
        environment_of("migrate")["WORKSHOP_DATABASE_URL"]
        == (environment_of("app")["WORKSHOP_DATABASE_URL"])
    )
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])


def test_migrations_run_after_the_database_is_healthy_and_before_the_app():
    migrate, app = SERVICES["migrate"], SERVICES["app"]
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_app_command_serves_the_factory_and_matches_the_image():
    assert SERVICES["app"]["command"] == APP_COMMAND
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert cmd and json.loads(cmd.group(1)) == APP_COMMAND


def test_the_healthcheck_asks_readiness(clean_env):
    check: list[Any] = SERVICES["app"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]
    compile(check[-1], "healthcheck", "exec")  # the one-liner is valid Python
    assert "http://127.0.0.1:8000/health/ready" in check[-1]
    paths = create_app(Settings(environment="test")).openapi()["paths"]
    assert "/health/ready" in paths


def test_the_image_is_slim_non_root_and_pinned_with_the_postgres_driver():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    assert re.search(rf"^FROM python:{re.escape(runtime)}-slim$", DOCKERFILE, re.MULTILINE)
    user = re.search(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert user and user.group(1) not in {"root", "0"}
    assert DOCKERFILE.index("USER ") < DOCKERFILE.index("CMD ")
    assert "binder/requirements.txt" in DOCKERFILE and "--constraint" in DOCKERFILE
    assert '".[postgres]"' in DOCKERFILE


def test_local_secrets_and_databases_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "*.db", ".venv", ".git"} <= set(ignored)


def test_with_workers_a_refused_startup_still_exits_zero(tmp_path):
    """What notebook 10 and its quiz say of the pinned uvicorn: one process exits with
    status 3 when the lifespan refuses, but the ``--workers`` parent exits with 0, which
    a supervisor that restarts only on failure reads as success (one process per container)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    env["WORKSHOP_DATABASE_URL"] = "postgresql+asyncpg://app:pw@127.0.0.1:1/app"  # nothing there
    command = [sys.executable, "-m", "uvicorn", APP_COMMAND[1], "--factory", "--port", "0"]
    single = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=60)
    workers = subprocess.run(
        [*command, "--workers", "2"], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert single.returncode == 3, single.stderr.decode()[-2000:]
    assert workers.returncode == 0, workers.stderr.decode()[-2000:]
    assert b"Application startup failed" in workers.stderr
