"""Start-up and feedback-loop times: app import, each notebook, the whole test suite.

Notebooks and the test suite run in a *snapshot copy* of the working tree, never
in it: running a notebook executes its ``%%writefile`` cells, which rewrite the
package's modules, and a module someone is editing would be overwritten by the
notebook's older copy of it. The copy goes first on ``PYTHONPATH``, so the
kernels and the tests import the copied package, not the installed one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_config import app_environment, clean_environment, prepare_database

ROOT = Path(__file__).resolve().parents[1]
IMPORT_AND_CREATE = """
import json, time
started, cpu = time.perf_counter(), time.process_time()
import workshop_app
from workshop_app.main import create_app
imported = time.perf_counter()
create_app()
created = time.perf_counter()
cpu = time.process_time() - cpu
print(json.dumps({"import_s": imported - started, "create_s": created - imported, "cpu_s": cpu}))
"""
# Not copied into the snapshot: version control, environments, caches, run output.
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
    "*.egg-info", "artifacts", "results", "*.db", "*.db-wal", "*.db-shm", ".env",
)  # fmt: skip
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|skipped)\b.* in [\d.]+s")


def app_env(workdir: Path) -> dict[str, str]:
    return {**clean_environment(), **app_environment(prepare_database(workdir / "startup.db"))}


def import_and_create(workdir: Path, runs: int) -> list[dict[str, float]]:
    """``import workshop_app`` + ``create_app()`` in ``runs`` fresh interpreters.

    ``process_s`` is the whole child process, interpreter start-up included.
    """
    env = app_env(workdir)
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_AND_CREATE],
            cwd=workdir, env=env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        process = time.perf_counter() - started
        results.append({**json.loads(done.stdout), "process_s": process})
    return results


def import_offenders(workdir: Path, runs: int = 3, top: int = 10) -> list[dict[str, object]]:
    """Where ``from workshop_app.main import create_app`` spends its time, per package.

    ``python -X importtime`` gives each module's own ("self") time; summed by
    top-level package (``sqlalchemy.orm.session`` counts for ``sqlalchemy``), they
    show which dependency makes start-up slow without counting nested imports twice.
    The median of ``runs`` runs per package keeps one slow run from leading.
    """
    per_run: list[dict[str, int]] = []
    modules: dict[str, int] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "from workshop_app.main import create_app"],
            cwd=workdir, env=app_env(workdir), capture_output=True, text=True, check=True,
            timeout=120,
        )  # fmt: skip
        by_package: dict[str, int] = {}
        for line in done.stderr.splitlines():
            columns = line.removeprefix("import time:").split("|")
            if not line.startswith("import time:") or not columns[0].strip().isdigit():
                continue  # the header line
            package = columns[2].strip().split(".")[0]
            by_package[package] = by_package.get(package, 0) + int(columns[0])
            modules[package] = modules.get(package, 0) + 1
        per_run.append(by_package)
    median = {
        package: statistics.median(run.get(package, 0) for run in per_run) for package in modules
    }
    ranked = sorted(median.items(), key=lambda item: item[1], reverse=True)[:top]
    return [
        {"package": package, "seconds": us / 1e6, "modules": modules[package] // runs}
        for package, us in ranked
    ]


def snapshot(workdir: Path) -> Path:
    """A copy of the working tree as it is now (uncommitted changes included)."""
    target = workdir / "snapshot"
    if not target.exists():
        shutil.copytree(ROOT, target, ignore=SNAPSHOT_IGNORE)
    return target


def snapshot_env(copy: Path) -> dict[str, str]:
    env = clean_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    return env


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at ``path``, so child processes (kernels) write there too."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def notebooks(workdir: Path) -> list[dict[str, object]]:
    """Each notebook run top to bottom, once, in a fresh kernel (``tools/regen.py``'s ``execute``).

    The kernel's start-up is included: it is part of "Restart Kernel and Run All".
    A notebook that raises is reported with its error, and the others still run.
    """
    copy = snapshot(workdir)
    spec = importlib.util.spec_from_file_location("snapshot_regen", copy / "tools" / "regen.py")
    regen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regen)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(snapshot_env(copy))  # the kernels inherit this environment
    results = []
    try:
        for path in sorted((copy / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            started = time.perf_counter()
            error = None
            try:
                with stderr_to(workdir / "kernels.log"):  # kernel start-up chatter
                    regen.execute(path)
            except Exception as exc:  # a broken notebook is a result, not a crash of the run
                message = _ANSI_ESCAPE.sub("", str(exc)).strip()  # tracebacks come coloured
                last_line = (message.splitlines() or [""])[-1]
                error = f"{type(exc).__name__}: {last_line[:300]}"
            results.append(
                {"notebook": path.stem, "seconds": time.perf_counter() - started, "error": error}
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return results


def test_suite(workdir: Path) -> dict[str, object]:
    """``python -m pytest -q`` from the snapshot's root, once; its time, exit code and summary."""
    copy = snapshot(workdir)
    log = workdir / "pytest.log"
    started = time.perf_counter()
    with open(log, "w") as output:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q"],
            cwd=copy, env=snapshot_env(copy), stdout=output, stderr=subprocess.STDOUT,
            timeout=3600,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    lines = log.read_text(errors="replace").splitlines()
    summary = next((line.strip("= ") for line in reversed(lines) if _SUMMARY.search(line)), None)
    return {"seconds": seconds, "exit_code": done.returncode, "summary": summary}
