"""Several processes of the app on one PostgreSQL database and one Valkey store, for real.

Each test serves ``tests/scale_out_app.py`` (the app, writing every email and event it
delivers to a shared file) as two uvicorn processes on a migrated database of its own, and
counts what crossed the process boundary: requests admitted by the shared rate limit,
emails sent and events handled, with one process killed (SIGKILL) in the middle.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "scale-out-key"
HEADERS = {"X-API-Key": API_KEY}
LEASE_SECONDS = 2.0


@pytest.fixture
def database_url(postgres_server) -> Iterator[str]:
    """A fresh database at the migrations' head, as a deploy step leaves it."""
    with postgres_server.database() as url:
        migrate = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
            env={**os.environ, "WORKSHOP_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        yield url


def run_sql(url: str, *statements: str) -> list:
    """Run statements on the database from the test; the last one's rows."""

    async def run() -> list:
        import asyncpg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            rows: list = []
            for statement in statements:
                rows = await connection.fetch(statement)
            return rows
        finally:
            await connection.close()

    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(count: int, env: dict[str, str]) -> Iterator[list[subprocess.Popen]]:
    """``count`` uvicorn processes of the test app, each on its own port, ready; stopped
    (and killed if they will not stop) when the block ends."""
    processes = []
    with ExitStack() as stack:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "scale_out_app:create_app", "--factory"]
                + ["--app-dir", str(ROOT / "tests"), "--port", str(port), "--log-level", "warning"],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            process.port = port  # type: ignore[attr-defined]
            processes.append(process)
            stack.callback(stop, process)
        for process in processes:
            wait_ready(process)
        yield processes


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stderr is not None:
        process.stderr.close()


def wait_ready(process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app did not start: {process.stderr.read().decode()}")
        try:
            if httpx.get(url_of(process) + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the app did not become ready in time")


def url_of(process: subprocess.Popen) -> str:
    return f"http://127.0.0.1:{process.port}"  # type: ignore[attr-defined]


def app_env(database_url: str, log: Path, **settings: str) -> dict[str, str]:
    env = {
        "WORKSHOP_DATABASE_URL": database_url,
        "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
        "WORKSHOP_API_KEY": API_KEY,
        "WORKSHOP_LOG_LEVEL": "WARNING",
        "WORKSHOP_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKSHOP_WORKER_INTERVAL_SECONDS": "0.1",
        "WORKSHOP_EVENT_RELAY_INTERVAL_SECONDS": "0.1",
        "SCALE_OUT_LOG": str(log),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env | {f"WORKSHOP_{name.upper()}": value for name, value in settings.items()}


def deliveries(log: Path, kind: str) -> Counter[str]:
    if not log.exists():
        return Counter()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return Counter(record["key"] for record in records if record["kind"] == kind)


def owe(database_url: str, emails: int, events: int) -> None:
    """Emails and events committed and never handled, as requests leave them for the
    workers and relays (the test writes them directly, to send hundreds cheaply)."""
    users = ", ".join(
        f"('user{n}@example.com', 'User {n}', true, '!', now())" for n in range(emails)
    )
    outbox = (
        'INSERT INTO outbox_emails (user_id, "to", subject, body, status, attempts, created_at)'
        " SELECT id, email, 'Welcome', 'Hello', 'pending', 0, now() FROM users ORDER BY id"
    )
    stored = ", ".join(
        "('user.registered', '"
        + json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "occurred_at": "2026-12-07T00:00:00Z",
                "user_id": n + 1,
                "email": f"user{n}@example.com",
            }
        )
        + "', 'pending', 0, now())"
        for n in range(events)
    )
    statements = []
    if emails:
        statements += [
            f"INSERT INTO users (email, full_name, is_active, password_hash, created_at) "
            f"VALUES {users}",
            outbox,
        ]
    if events:
        columns = "name, payload, status, attempts, created_at"
        statements.append(f"INSERT INTO stored_events ({columns}) VALUES {stored}")
    run_sql(database_url, *statements)


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_shared_store_admits_exactly_the_limit_across_two_processes(
    database_url, valkey_url, tmp_path
):
    limit = 50

    async def burst(urls: list[str], total: int) -> Counter[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            requests = [client.get(urls[n % 2] + "/openapi.json") for n in range(total)]
            return Counter(response.status_code for response in await asyncio.gather(*requests))

    for store_url, expected in (("", None), (valkey_url, limit)):
        env = app_env(
            database_url,
            tmp_path / "log.jsonl",
            rate_limit_requests=str(limit),
            rate_limit_window_seconds="3600",
            rate_limit_store_url=store_url,
        )
        if store_url:
            flush_store(valkey_url)
        with serve(2, env) as processes:
            statuses = asyncio.run(burst([url_of(p) for p in processes], 150))
        if expected is None:  # each process counts its own bucket: up to twice the limit
            assert limit < statuses[200] <= 2 * limit, statuses
        else:
            assert statuses == Counter({200: limit, 429: 150 - limit}), statuses


def flush_store(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def test_two_instances_deliver_every_email_and_event_exactly_once(database_url, tmp_path):
    log = tmp_path / "log.jsonl"
    owe(database_url, emails=300, events=300)
    with serve(2, app_env(database_url, log)) as processes:
        wait_until(lambda: sum(deliveries(log, "email").values()) >= 300)
        wait_until(lambda: sum(deliveries(log, "event").values()) >= 300)
        time.sleep(0.5)  # time for a duplicate to show, if there were one
        pids = {p.pid for p in processes}
    emails, events = deliveries(log, "email"), deliveries(log, "event")
    assert len(emails) == 300 and set(emails.values()) == {1}  # 0 lost, 0 duplicates
    assert len(events) == 300 and set(events.values()) == {1}
    senders = {json.loads(line)["pid"] for line in log.read_text().splitlines()}
    assert senders == pids  # both instances did part of the work
    [(sent, attempts)] = run_sql(
        database_url, "SELECT count(*), max(attempts) FROM outbox_emails WHERE status = 'sent'"
    )
    assert (sent, attempts) == (300, 1)
    [(dispatched,)] = run_sql(
        database_url, "SELECT count(*) FROM stored_events WHERE status = 'dispatched'"
    )
    assert dispatched == 300


def test_the_survivor_finishes_the_work_of_an_instance_killed_mid_load(database_url, tmp_path):
    log = tmp_path / "log.jsonl"
    owe(database_url, emails=200, events=0)
    env = {**app_env(database_url, log), "SCALE_OUT_MAIL_DELAY": "0.01"}
    with serve(2, env) as (victim, survivor):
        wait_until(lambda: sum(deliveries(log, "email").values()) >= 40)
        victim.send_signal(signal.SIGKILL)  # no shutdown, no drain: claims left behind
        victim.wait(5)
        killed_at = time.monotonic()
        wait_until(lambda: len(deliveries(log, "email")) == 200, timeout=60)
        recovered_after = time.monotonic() - killed_at
    emails = deliveries(log, "email")
    assert len(emails) == 200  # 0 lost
    repeated = {key: count for key, count in emails.items() if count > 1}
    # Only what the victim was sending when it died can go twice, with the same key, so
    # a provider that honours idempotency keys delivers it once.
    assert len(repeated) <= 10 and set(repeated.values()) <= {2}, repeated
    [(left,)] = run_sql(database_url, "SELECT count(*) FROM outbox_emails WHERE status <> 'sent'")
    assert left == 0
    assert recovered_after < 30
