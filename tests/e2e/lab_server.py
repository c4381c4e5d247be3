"""Start and stop a JupyterLab server that behaves like the learner's but writes only to temp.

The server is the learner's own setup: the repository as root directory, the venv's lab
extensions (the ipywidgets manager lives in ``<venv>/share/jupyter/labextensions``), the
workshop's JupyterLab overrides. Everything it could write is the test's own and temporary:
port, token, user settings, workspaces, runtime, checkpoint and IPython directories, and the
progress file (kernels inherit ``WORKSHOP_PROGRESS_FILE``, so a run never touches the learner's
progress). Autosave is off in those settings: JupyterLab would otherwise write the browser
run's outputs back into the committed notebooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI runs as root in a container; the rest keeps Chromium from calling home.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LAB_OVERRIDES = ROOT / "jupyter" / "overrides.json"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
_NOT_UP = (urllib.error.URLError, ConnectionError, TimeoutError)


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "Playwright is not installed "
            "(pip install -r tests/e2e/requirements.txt, or run bash .ci/run)"
        )
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-color-emoji)"
    return None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class LabServer:
    """A running JupyterLab: how to reach it, and the notebooks it must leave as they were."""

    url: str
    token: str
    progress_file: Path
    log_file: Path
    process: subprocess.Popen[bytes]
    opened: dict[Path, str] = field(default_factory=dict)

    @staticmethod
    def notebook_path(notebook: str) -> Path:
        return ROOT / "notebooks" / f"{notebook}.ipynb"

    def notebook_url(self, notebook: str) -> str:
        # A workspace per notebook, reset: each test starts with one tab, its own.
        return (
            f"{self.url}/lab/workspaces/e2e-{notebook.replace('_', '-')}/tree/"
            f"notebooks/{notebook}.ipynb?reset&token={self.token}"
        )

    def remember(self, path: Path) -> None:
        """Record a notebook's bytes before the browser opens it (compared at the end)."""
        self.opened.setdefault(path, sha256(path))

    def changed_notebooks(self) -> list[str]:
        return [
            path.relative_to(ROOT).as_posix()
            for path, digest in self.opened.items()
            if sha256(path) != digest
        ]

    def request(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]).replace(self.token, "<token>")


def write_user_settings(directory: Path) -> None:
    """The workshop's own overrides (what learners get), plus autosave off.

    `<dir>/<package>/<plugin>.jupyterlab-settings` is JupyterLab's user-settings layout.
    """
    settings: dict[str, dict[str, Any]] = json.loads(LAB_OVERRIDES.read_text())
    settings.setdefault("@jupyterlab/docmanager-extension:plugin", {})["autosave"] = False
    for plugin_id, values in settings.items():
        package, plugin = plugin_id.split(":")
        target = directory / package / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values, indent=2) + "\n")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(base: Path) -> LabServer:
    """Start JupyterLab on a free loopback port; return once its API answers."""
    names = ("settings", "workspaces", "runtime", "config", "data", "checkpoints")
    dirs = {name: base / name for name in names}
    for directory in dirs.values():
        directory.mkdir(parents=True)
    write_user_settings(dirs["settings"])
    token = secrets.token_hex(24)
    progress_file = base / "progress" / "progress.json"
    env = {
        **os.environ,
        "WORKSHOP_PROGRESS_FILE": str(progress_file),
        "JUPYTER_TOKEN": token,  # in the environment, not on the command line (ps)
        # User-level config and data only: the venv's share/jupyter (lab extensions,
        # kernel spec, overrides) stays on the search path.
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(base / "ipython"),
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={ROOT}",
        f"--ServerApp.runtime_dir={dirs['runtime']}",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        # window.jupyterapp: the tests read cell models (output types, execution counts)
        "--LabApp.expose_app_in_browser=True",
        # JupyterLab makes a checkpoint when it opens a notebook: not in notebooks/
        f"--FileCheckpoints.checkpoint_dir={dirs['checkpoints']}",
        "--NotebookNotary.db_file=:memory:",  # no trust database in the learner's data dir
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_file = base / "jupyterlab.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C in pytest must not reach its "Shutdown?" prompt
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, progress_file, log_file, process)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}"
            )
        try:
            server.request("/api/status")
            return server
        except _NOT_UP:
            if time.monotonic() > deadline:
                stop_lab(server)
                raise RuntimeError(
                    f"JupyterLab did not answer in {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
                ) from None
            time.sleep(0.5)


def stop_lab(server: LabServer) -> None:
    """Shut the kernels down, then the server by its process id: terminate, wait, kill."""
    if server.process.poll() is None:
        try:
            for kernel in server.request("/api/kernels"):
                server.request(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (*_NOT_UP, ValueError):
            pass  # the server stops its kernels on SIGTERM too; this is only the tidy way
        server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_TIMEOUT)
