"""Scaling out: the shared rate-limit store, a second worker on PostgreSQL, server start times.

Three measures, each side by side in one run (``http_cases.py`` explains the servers and the
load generator):

* **Valkey store vs in-memory store.** Two uvicorn servers of the full app on the same SQLite
  file, identical but for ``WORKSHOP_RATE_LIMIT_STORE_URL``: one spends its tokens in a dict,
  the other in Valkey (one Lua script per request, over a Unix socket). Both are pinned to
  the same CPU, the load generator to another, and loaded in turns with ``GET /users/{id}``
  (a rate-limited route). The cost ratio is memory req/s divided by Valkey req/s.
* **One worker vs two on PostgreSQL.** ``uvicorn --workers 1`` and ``--workers 2`` on one
  embedded PostgreSQL database, migrated once; ``GET /users/{id}`` in turns. Nothing is
  pinned: a second worker needs a second core, which on a two-core machine it shares with the
  load generator and PostgreSQL, so read the ratio with the core count beside it.
* **Start times** of the embedded servers: ``lab.postgres()`` (a new server, ``initdb``
  included, and a database) and ``lab.valkey()``, from entering the block to a usable URL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench_config import API_KEY, app_environment, clean_environment, prepare_database
from http_cases import create_user, load, uvicorn

from workshop_lab import servers

ROOT = Path(__file__).resolve().parents[1]


def start_times(runs: int) -> dict[str, list[float]]:
    """Seconds from entering ``postgres()`` / ``valkey()`` to a URL, one new server per run."""
    measured: dict[str, list[float]] = {"postgres": [], "valkey": []}
    for _ in range(runs):
        for name, start in (("postgres", servers.postgres), ("valkey", servers.valkey)):
            began = time.perf_counter()
            with start():
                measured[name].append(time.perf_counter() - began)
    return measured


def migrate(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)


def run(
    workdir: Path,
    *,
    repetitions: int,
    duration: float,
    warmup: float,
    concurrency: int,
    cpus: dict[str, int] | None,
    start_runs: int,
) -> dict[str, object]:
    """Load results per case (``memory``, ``valkey``, ``pg_1``, ``pg_2``) and start times."""
    cpus = cpus or {}
    server_cpu, client_cpu = cpus.get("server"), cpus.get("load_generator")
    auth = {"X-API-Key": API_KEY}
    results: dict[str, list[dict]] = {case: [] for case in ("memory", "valkey", "pg_1", "pg_2")}
    with ExitStack() as stack:
        store_url = stack.enter_context(servers.valkey())
        sqlite_env = {**clean_environment(), **app_environment(prepare_database(workdir / "s.db"))}
        memory = stack.enter_context(
            uvicorn("workshop_app.main:create_app", workdir, sqlite_env, name="memory",
                    cpu=server_cpu)
        )  # fmt: skip
        valkey_env = {**sqlite_env, "WORKSHOP_RATE_LIMIT_STORE_URL": store_url}
        valkey = stack.enter_context(
            uvicorn("workshop_app.main:create_app", workdir, valkey_env, name="valkey",
                    cpu=server_cpu)
        )  # fmt: skip
        user = create_user(memory)

        pg_url = stack.enter_context(servers.postgres())
        pg_env = {**clean_environment(), **app_environment(workdir / "unused.db")}
        pg_env["WORKSHOP_DATABASE_URL"] = pg_url
        migrate(pg_env)
        one = stack.enter_context(
            uvicorn("workshop_app.main:create_app", workdir, pg_env, "--workers", "1",
                    name="pg_1", cpu=None)
        )  # fmt: skip
        two = stack.enter_context(
            uvicorn("workshop_app.main:create_app", workdir, pg_env, "--workers", "2",
                    name="pg_2", cpu=None)
        )  # fmt: skip
        pg_user = create_user(one)

        plan = [
            ("memory", f"{memory.url}/users/{user}", client_cpu),
            ("valkey", f"{valkey.url}/users/{user}", client_cpu),
            ("pg_1", f"{one.url}/users/{pg_user}", None),
            ("pg_2", f"{two.url}/users/{pg_user}", None),
        ]
        for repetition in range(repetitions):
            shift = repetition % len(plan)
            for case, url, cpu in plan[shift:] + plan[:shift]:
                results[case].append(
                    load(url, concurrency=concurrency, duration=duration, warmup=warmup,
                         cpu=cpu, headers=auth)
                )  # fmt: skip
    return {"load": results, "start": start_times(start_runs)}
