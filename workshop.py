#!/usr/bin/env python3
"""One entry point for learners, instructors and CI; standard library only.

    python3 workshop.py lab      set up .venv if needed, open JupyterLab on the welcome notebook
                                 (as root it adds --allow-root; other arguments go to
                                 `jupyter lab`, e.g. --no-browser, --port 9999, --ip 0.0.0.0)
    python3 workshop.py serve    the app under uvicorn with the demo data; prints the docs URL
                                 and the development key (--reload, --port N, --workspace:
                                 serve the package you built instead of the reference)
    python3 workshop.py test     set up .venv if needed, then run the whole test suite, one
                                 worker per core (-n 0: in one process)
    python3 workshop.py regen    re-execute notebooks in fresh kernels and store their outputs
    python3 workshop.py setup    only create or update .venv
    python3 workshop.py bench    run the benchmarks (benchmarks/README.md; --suite, --quick...)
    python3 workshop.py restore [NN]
                                 put your workspace package back at the checkpoint after
                                 notebook NN (default: the whole app); your edits are backed up

On Windows type `py workshop.py lab` (or `py workshop.py test`).
Extra arguments after `lab` go to `jupyter lab`; after `test`, to pytest; after `regen`,
they name notebooks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "binder" / "requirements.txt"
STAMP = VENV / ".workshop-installed"
LAB_OVERRIDES = ROOT / "jupyter" / "overrides.json"
WELCOME = "notebooks/00_welcome.ipynb"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def install_fingerprint() -> str:
    """Hash of everything that decides what gets installed, so a change re-installs."""
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def setup() -> Path:
    """Create .venv and install the pinned set, unless it is already up to date."""
    python = venv_python()
    fingerprint = install_fingerprint()
    if python.exists() and STAMP.exists() and STAMP.read_text() == fingerprint:
        return python
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the pinned packages (a minute or two the first time) ...", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "--quiet", "-r", str(LOCK)], check=True, cwd=ROOT)
    install_lab_settings(python)
    STAMP.write_text(fingerprint)
    return python


def install_lab_settings(python: Path | str = sys.executable) -> Path:
    """Copy the workshop's JupyterLab overrides (no news pop-up...) into the environment.

    Binder's postBuild calls this too, so both places get the same settings.
    """
    prefix = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(json.loads(LAB_OVERRIDES.read_text()), indent=2) + "\n")
    return target


def restore(args: list[str]) -> int:
    """Needs nothing but the standard library: it works when the venv or your package is broken."""
    path = ROOT / "workshop_lab" / "workspace.py"
    spec = importlib.util.spec_from_file_location("workshop_workspace", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.main(args, root=ROOT)


def option(args: list[str], *names: str) -> str | None:
    """The value given to any of ``names`` as ``--name=value`` or ``--name value``."""
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in names:
            return value if equals else (args[index + 1] if index + 1 < len(args) else None)
    return None


def free_port(host: str, first: int = 8888) -> int:
    """The first port from ``first`` that nothing listens on (JupyterLab's own default)."""
    for port in range(first, first + 100):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise SystemExit(f"No free port in {first}-{first + 99}: pass --port with a free one.")


def lab_command(args: list[str], is_root: bool) -> tuple[list[str], str, str]:
    """``jupyter lab`` arguments, the welcome notebook's URL and the token it will ask for.

    The port and token are chosen here, so the URL is known before JupyterLab prints its own.
    """
    args = list(args)
    if is_root and "--allow-root" not in args:
        args.append("--allow-root")
    ip = option(args, "--ip", "--ServerApp.ip") or "localhost"
    host = "localhost" if ip in {"0.0.0.0", "::", ""} else ip
    port = option(args, "--port", "--ServerApp.port")
    if port is None:
        port = str(free_port(host))
        args += [f"--port={port}", "--ServerApp.port_retries=0"]
    token = option(args, "--IdentityProvider.token", "--ServerApp.token")
    if token is None:  # JupyterLab reads it from the environment, out of sight of `ps`
        token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    url = f"http://{host}:{port}/lab/tree/{WELCOME}" + (f"?token={token}" if token else "")
    # The repository is the root, as on Binder: the file browser shows your workspace too.
    where = [f"--ServerApp.root_dir={ROOT}", f"--ServerApp.default_url=/lab/tree/{WELCOME}"]
    return ["-m", "jupyter", "lab", *where, *args], url, token


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab(python: Path, args: list[str]) -> int:
    """Start JupyterLab, then print the welcome notebook's URL once it answers."""
    command, url, token = lab_command(args, is_root())
    if "--allow-root" in command and "--allow-root" not in args:
        print(
            "You are root (as in a container or a cloud VM): starting JupyterLab with --allow-root."
        )
    server = subprocess.Popen(
        [str(python), *command], cwd=ROOT, env={**os.environ, "JUPYTER_TOKEN": token}
    )
    host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
    while server.poll() is None:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        print(f"\nThe workshop is ready. Open the welcome notebook at:\n\n    {url}\n", flush=True)
        break
    while True:  # Ctrl+C reaches JupyterLab too, which asks whether to stop
        try:
            return server.wait()
        except KeyboardInterrupt:
            continue


def run(python: Path, *args: str) -> int:
    return subprocess.run([str(python), *args], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "setup":
        setup()
        return 0
    if command == "lab":
        return lab(setup(), rest)
    if command == "serve":
        return run(setup(), str(ROOT / "tools" / "serve.py"), *rest)
    if command == "test":
        # One worker per core; a file (a notebook's cells share a kernel) stays on one worker.
        # Files go out in the order conftest.py gives them (the slowest first), not by count.
        return run(
            setup(),
            *("-m", "pytest", "-n", "auto", "--dist", "loadfile", "--no-loadscope-reorder"),
            *rest,
        )
    if command == "regen":
        return run(setup(), str(ROOT / "tools" / "regen.py"), *rest)
    if command == "restore":
        return restore(rest)
    if command == "bench":
        return run(setup(), str(ROOT / "benchmarks" / "run.py"), *rest)
    if command == "lab-settings":
        print(install_lab_settings())
        return 0
    print(__doc__)
    return 0 if command in {"help", "-h", "--help"} else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
