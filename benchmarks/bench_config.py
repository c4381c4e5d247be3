"""The one configuration every benchmark runs the real app with.

The same values reach the in-process app (as ``Settings``) and the uvicorn
server (as ``WORKSHOP_*`` variables), so both measure the same app. The app runs
as in production: explicit key and database, a SQLite file in WAL mode whose
tables come from the Alembic migrations (run once, as a deploy step would), logs
as JSON at INFO. Only the rate limit is raised out of reach: the limiter still
does its work on every request, but a load test must not be answered with 429s.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from workshop_app.config import Settings
from workshop_app.logging_config import configure_logging

API_KEY = "workshop-dev-key"  # the development key the contract names; not a secret
AUTH_HEADERS = {"X-API-Key": API_KEY}
UNREACHABLE_RATE_LIMIT = 10**9


def app_environment(database: Path) -> dict[str, str]:
    """``WORKSHOP_*`` variables for an app whose database is the SQLite file ``database``."""
    return {
        "WORKSHOP_ENVIRONMENT": "production",
        "WORKSHOP_API_KEY": API_KEY,
        "WORKSHOP_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
        "WORKSHOP_RATE_LIMIT_REQUESTS": str(UNREACHABLE_RATE_LIMIT),
        "WORKSHOP_RATE_LIMIT_WINDOW_SECONDS": "60",
        "WORKSHOP_LOG_LEVEL": "INFO",
    }


def app_settings(database: Path) -> Settings:
    """The same configuration as a ``Settings`` object, ignoring any ``.env`` file."""
    values = {
        name.removeprefix("WORKSHOP_").lower(): value
        for name, value in app_environment(database).items()
    }
    return Settings(_env_file=None, **values)


def clean_environment() -> dict[str, str]:
    """This process's environment without the developer's ``WORKSHOP_*`` settings."""
    return {name: value for name, value in os.environ.items() if not name.startswith("WORKSHOP_")}


def prepare_database(path: Path) -> Path:
    """Create the SQLite file in WAL mode (a property of the file, kept by every connection),
    then apply the migrations with the alembic command line, as a deploy does."""
    with sqlite3.connect(path) as connection:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    connection.close()
    if mode.lower() != "wal":
        raise RuntimeError(f"SQLite refused WAL mode for {path} (got {mode!r})")
    env = {**clean_environment(), **app_environment(path)}
    alembic_ini = Path(__file__).resolve().parents[1] / "alembic.ini"
    command = [sys.executable, "-m", "alembic", "-c", str(alembic_ini), "upgrade", "head"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    return path


def silence_app_logs(sink: TextIO, level: str = "INFO") -> None:
    """Point the app's JSON log handler at ``sink`` (``os.devnull``), keeping level and format.

    Every access-log line is still built, formatted as JSON and written, so its
    cost stays in the numbers; only the terminal, which would dominate them, is
    gone. The app's lifespan points the handler at ``sys.stderr`` again, so call
    this after every lifespan has started.
    """
    configure_logging(level, stream=sink)
    logging.getLogger("workshop_app").propagate = False  # no root handler may add terminal I/O
