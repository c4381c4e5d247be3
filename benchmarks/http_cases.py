"""Over real HTTP: uvicorn on loopback, loaded by ``loadgen.py`` from a second process.

Two servers run for the whole phase, each one uvicorn worker on a free port of
127.0.0.1, started exactly as the README serves the app::

    python -m uvicorn workshop_app.main:create_app --factory      # the full app
    python -m uvicorn bare_app:create_bare_app --factory --app-dir benchmarks

On Linux with two CPUs or more, both servers are pinned to one CPU and the load
generator to another. Otherwise the scheduler may leave one server sharing a core
with some busy neighbour for the whole phase, and interleaving cannot undo a bias
that lasts that long; pinned, both servers share the same core and the same noise.

uvicorn's own access log is off in both (``--no-access-log``): the full app writes
its JSON access log, and the bare app must not pay for a log the full app does
not write. The app's log goes to a file in the run's temporary folder, not to a
terminal, and the number of access-log lines in it is reported as proof that the
logging work was done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_config import API_KEY, app_environment, clean_environment, prepare_database

HERE = Path(__file__).resolve().parent
LOADGEN = HERE / "loadgen.py"
USER_BODY = (
    '{"email": "http-{n}@example.com", "full_name": "Benchmark User", '
    '"password": "correct horse battery staple"}'
)


def cpu_plan() -> dict[str, int] | None:
    """One CPU for the servers, another for the load generator, where the OS allows it."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return {"server": cpus[0], "load_generator": cpus[1]} if len(cpus) >= 2 else None


class ServerError(RuntimeError):
    """A server did not start, or a load run failed."""


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def uvicorn(
    target: str, workdir: Path, env: dict[str, str], *extra: str, name: str, cpu: int | None
) -> Iterator[Server]:
    """Run ``target`` under uvicorn until the block ends; always stop it, even on Ctrl-C."""
    port = free_port()
    log = workdir / f"{name}.log"
    command = [
        sys.executable, "-m", "uvicorn", target, "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", *extra,
    ]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", log, process)
    try:
        if cpu is not None:  # before it starts serving: its threads inherit the affinity
            os.sched_setaffinity(process.pid, {cpu})
        wait_until_live(server)
        yield server
    finally:
        stop(process)


def wait_until_live(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"server exited with {server.process.returncode}:\n{tail(server)}")
        try:
            with urllib.request.urlopen(f"{server.url}/health/live", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise ServerError(f"server not live after {timeout:.0f} s:\n{tail(server)}")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM (uvicorn finishes requests and runs the shutdown), then kill if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(server: Server, lines: int = 30) -> str:
    return "\n".join(server.log.read_text(errors="replace").splitlines()[-lines:])


def log_facts(server: Server) -> dict[str, object]:
    """Proof from the server's log: access lines written, and a shutdown that ran."""
    lines = server.log.read_text(errors="replace").splitlines()
    return {
        "access_log_lines": sum('"logger": "workshop_app.access"' in line for line in lines),
        "lifespan_shutdown_logged": any('"message": "Stopped ' in line for line in lines),
    }


def create_user(server: Server) -> int:
    body = USER_BODY.replace("{n}", "reader").encode()
    request = urllib.request.Request(
        f"{server.url}/users",
        data=body,
        headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["id"]


def load(
    url: str, *, concurrency: int, duration: float, warmup: float, cpu: int | None,
    expect: int = 200, **options,
) -> dict:  # fmt: skip
    """One ``loadgen.py`` run in a separate process; its JSON result."""
    command = [
        sys.executable, str(LOADGEN), url, "--concurrency", str(concurrency),
        "--duration", str(duration), "--warmup", str(warmup), "--expect", str(expect),
    ]  # fmt: skip
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    if "json" in options:
        command += ["--method", "POST", "--json", options["json"]]
    for name, value in options.get("headers", {}).items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + warmup + 120,
        env=clean_environment(),
    )  # fmt: skip
    if done.returncode != 0:
        raise ServerError(f"loadgen failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    if result["unexpected_statuses"] or not result["requests"]:
        raise ServerError(f"{url}: unexpected statuses {result['unexpected_statuses']}")
    return result


@dataclass(frozen=True)
class HttpCase:
    id: str
    label: str
    baseline: str | None
    server: str  # "bare" or "full"
    path: str
    options: dict


def run(
    workdir: Path, *, repetitions: int, duration: float, warmup: float, concurrency: int
) -> tuple[list[HttpCase], dict[str, list[dict]], dict[str, dict]]:
    """Every case once per repetition, round-robin; returns loadgen results per case."""
    env = {**clean_environment(), **app_environment(prepare_database(workdir / "http.db"))}
    auth = {"X-API-Key": API_KEY}
    cpus = cpu_plan() or {}
    server_cpu, client_cpu = cpus.get("server"), cpus.get("load_generator")
    with (
        uvicorn(
            "bare_app:create_bare_app", workdir, env, "--app-dir", str(HERE), name="bare",
            cpu=server_cpu,
        ) as bare,
        uvicorn("workshop_app.main:create_app", workdir, env, name="full", cpu=server_cpu) as full,
    ):  # fmt: skip
        servers = {"bare": bare, "full": full}
        user_id = create_user(full)
        cases = [
            HttpCase("bare", "bare FastAPI app, GET /health/live", None, "bare", "/health/live",
                     {}),
            HttpCase("full", "full app, GET /health/live", "bare", "full", "/health/live", {}),
            HttpCase("read", "full app, GET /users/{id}", "full", "full", f"/users/{user_id}",
                     {"headers": auth}),
            HttpCase("write", "full app, POST /users", "full", "full", "/users",
                     {"headers": auth, "json": USER_BODY, "expect": 201}),
        ]  # fmt: skip
        results: dict[str, list[dict]] = {case.id: [] for case in cases}
        for repetition in range(repetitions):
            shift = repetition % len(cases)
            for case in cases[shift:] + cases[:shift]:
                results[case.id].append(
                    load(
                        servers[case.server].url + case.path,
                        concurrency=concurrency,
                        duration=duration,
                        warmup=warmup,
                        cpu=client_cpu,
                        **case.options,
                    )
                )
    # Read after the with block: both servers have stopped and flushed their logs.
    return cases, results, {name: log_facts(server) for name, server in servers.items()}
