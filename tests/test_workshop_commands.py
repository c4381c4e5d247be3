"""`python3 workshop.py lab` and `python3 workshop.py serve`, started as a newcomer starts them.

Each test runs the real command in a child process (as root when the suite runs as root,
and as the unprivileged user ``nobody``), reads the URL it prints and requests it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKSHOP = ROOT / "workshop.py"
SEED_EMAILS = {user["email"] for user in json.loads((ROOT / "data/seed/users.json").read_text())}

pytestmark = pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="workshop.py runs its commands in .venv: run the suite with `python3 workshop.py test`",
)


def load_workshop():
    spec = importlib.util.spec_from_file_location("workshop_script", WORKSHOP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


USERS = ["root", "nobody"] if os.geteuid() == 0 else ["ordinary user"]


@pytest.fixture
def home() -> Iterator[Path]:
    """A home folder any user may own (pytest's tmp_path is private to the user running it)."""
    path = Path(tempfile.mkdtemp(prefix="workshop-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(user: str, home: Path) -> dict:
    """Popen arguments that run the child as ``user`` with its own home folder."""
    env = {**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("JUPYTER_TOKEN", None)
    if user != "nobody":
        return {"env": env}
    account = pwd.getpwnam("nobody")
    shutil.chown(home, account.pw_uid, account.pw_gid)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, fastapi, jupyterlab; print(sys.version)"],
        cwd=ROOT,
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
    )
    if probe.returncode or probe.stdout.strip() != sys.version:
        # e.g. a .venv made from a Python under /root: another user gets a different one.
        pytest.skip(
            f"the user nobody cannot run this .venv as root does ({sys._base_executable} "
            f"is not readable to others, or {ROOT} is not): {probe.stderr.strip()[-200:]}"
        )
    return {"env": env, "user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@contextmanager
def command(args: list[str], user: str, home: Path, **env: str) -> Iterator[subprocess.Popen]:
    """``python workshop.py <args>`` running; stopped with its children afterwards."""
    kwargs = as_user(user, home)
    kwargs["env"].update(env)
    process = subprocess.Popen(
        [sys.executable, str(WORKSHOP), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one signal stops JupyterLab or uvicorn and their children
        **kwargs,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if _readers.pop(process.pid, None) is None:
            process.stdout.close()  # no reader thread took it over


def read_until(process: subprocess.Popen, pattern: str, timeout: float = 90) -> tuple[str, str]:
    """The output so far up to the first line matching ``pattern``, and that match."""
    lines = output_lines(process)
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:  # the command ended
            break
        seen.append(line)
        if found := re.search(pattern, line):
            return "".join(seen), found.group(0)
    pytest.fail(f"no line matching {pattern!r}; the command printed:\n{''.join(seen)}")


_readers: dict[int, queue.Queue] = {}


def output_lines(process: subprocess.Popen) -> queue.Queue:
    """The process's output lines as they come (None at the end), read by one thread."""
    if process.pid not in _readers:
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            with process.stdout as stream:  # closed at the end: it is this thread's
                for line in stream:
                    lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        _readers[process.pid] = lines
    return _readers[process.pid]


def rest_of_output(process: subprocess.Popen, timeout: float = 60) -> str:
    """Everything the process prints until it exits."""
    process.wait(timeout=timeout)
    lines = output_lines(process)
    seen = []
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    return "".join(seen)


# --- lab --------------------------------------------------------------------------------


def test_lab_command_adds_allow_root_only_for_root_and_passes_other_arguments_through():
    workshop = load_workshop()
    as_root, _, _ = workshop.lab_command(["--no-browser"], is_root=True)
    ordinary, _, _ = workshop.lab_command(["--no-browser"], is_root=False)
    assert "--allow-root" in as_root and "--allow-root" not in ordinary
    assert "--no-browser" in as_root and "--no-browser" in ordinary

    chosen, url, token = workshop.lab_command(
        ["--port", "9999", "--ip=0.0.0.0", "--IdentityProvider.token=abc"], is_root=False
    )
    assert url == "http://localhost:9999/lab/tree/notebooks/00_welcome.ipynb?token=abc"
    assert token == "abc" and chosen.count("--port") == 1
    assert not any(arg.startswith("--port=") for arg in chosen)


@pytest.mark.parametrize("user", USERS)
def test_lab_serves_jupyterlab_and_prints_the_welcome_notebook_url(user, home):
    with command(["lab", "--no-browser"], user, home) as lab:
        output, url = read_until(lab, r"http://\S+/lab/tree/notebooks/00_welcome\.ipynb\?token=\w+")
        assert ("--allow-root" in output) is (user == "root")
        base, token = url.split("/lab/")[0], url.split("token=")[1]

        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "JupyterLab" in page.text
        notebook = httpx.get(
            f"{base}/api/contents/notebooks/00_welcome.ipynb",
            params={"content": 0},
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert notebook.status_code == 200 and notebook.json()["type"] == "notebook"
        without_token = httpx.get(f"{base}/api/contents/notebooks/00_welcome.ipynb", timeout=30)
        assert without_token.status_code == 403


# --- serve ------------------------------------------------------------------------------


def printed_key(output: str) -> str:
    found = re.search(r"API key:\s+(\S+)\s+\(the development key", output)
    assert found, f"the development key was not printed:\n{output}"
    return found.group(1)


@pytest.mark.parametrize("user", USERS)
def test_serve_answers_with_the_demo_users_using_the_printed_key(user, home):
    port = free_port()
    with command(["serve", "--port", str(port)], user, home) as server:
        output, _ = read_until(server, r"Press Ctrl\+C")
        assert f"http://127.0.0.1:{port}/docs" in output
        key = printed_key(output)
        read_until(server, r"Application startup complete")

        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=10)
        assert docs.status_code == 200
        refused = httpx.get(f"http://127.0.0.1:{port}/users", timeout=10)
        assert refused.status_code == 401
        users = httpx.get(
            f"http://127.0.0.1:{port}/users",
            params={"limit": 100},
            headers={"X-API-Key": key},
            timeout=10,
        )
        assert users.status_code == 200
        assert {item["email"] for item in users.json()["items"]} == SEED_EMAILS


def test_serve_never_prints_a_key_the_user_set(tmp_path):
    port = free_port()
    secret = "a-key-of-my-own-0123456789"
    with command(
        ["serve", "--port", str(port)], USERS[0], tmp_path, WORKSHOP_API_KEY=secret
    ) as server:
        output, _ = read_until(server, r"Application startup complete")
        assert secret not in output and "WORKSHOP_API_KEY" in output
        users = httpx.get(f"http://127.0.0.1:{port}/users", headers={"X-API-Key": secret})
        assert users.status_code == 200


def test_serve_in_production_without_its_settings_refuses_in_words(tmp_path):
    production = {"WORKSHOP_ENVIRONMENT": "production", "WORKSHOP_AUTO_CREATE_SCHEMA": "false"}
    with command(["serve"], USERS[0], tmp_path, **production) as server:
        output = rest_of_output(server)
        assert server.returncode != 0
    assert "WORKSHOP_API_KEY and WORKSHOP_DATABASE_URL must be set" in output, output
    assert "Traceback" not in output and "workshop-dev-key" not in output


def test_serve_on_a_busy_port_says_which_port_to_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with command(["serve", "--port", str(port)], USERS[0], tmp_path) as server:
            output = rest_of_output(server)
            assert server.returncode != 0
    assert f"Port {port} is in use: pass --port {port + 1}" in output, output


def test_serve_workspace_serves_the_package_the_learner_built(tmp_path):
    workspace = tmp_path / "workspace"
    restored = subprocess.run(
        [sys.executable, str(WORKSHOP), "restore", "10"],
        env={**os.environ, "WORKSHOP_WORKSPACE": str(workspace)},
        capture_output=True,
        text=True,
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    # A mark the reference app does not have: the served package is the workspace's.
    config = workspace / "workshop_app" / "config.py"
    config.write_text(config.read_text().replace('Field("Orders API"', 'Field("My Orders API"'))

    port = free_port()
    env = {"WORKSHOP_WORKSPACE": str(workspace)}
    with command(
        ["serve", "--workspace", "--port", str(port)], USERS[0], tmp_path, **env
    ) as server:
        output, _ = read_until(server, r"Application startup complete")
        assert str(workspace / "workshop_app") in output
        key = printed_key(output)
        openapi = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert openapi["info"]["title"] == "My Orders API"
        users = httpx.get(
            f"http://127.0.0.1:{port}/users", params={"limit": 100}, headers={"X-API-Key": key}
        )
        assert {item["email"] for item in users.json()["items"]} == SEED_EMAILS


def test_serve_workspace_before_the_factory_exists_says_which_notebook_to_run(tmp_path):
    env = {"WORKSHOP_WORKSPACE": str(tmp_path / "empty")}
    with command(["serve", "--workspace"], USERS[0], tmp_path, **env) as server:
        output = rest_of_output(server)
        assert server.returncode != 0
    assert "notebook 02 writes create_app" in output and "Traceback" not in output, output
