"""Test-session wiring shared by the package tests and nbval.

* Nothing the tests do may touch a learner's real progress file or workspace, so the
  whole session points ``WORKSHOP_PROGRESS_FILE`` and ``WORKSHOP_WORKSPACE`` at a
  temporary directory.
* Each notebook's kernel gets its own fresh progress file and workspace (set just
  before nbval starts that kernel), so a notebook's stored outputs never depend on
  which notebooks ran before it, and it starts from its own checkpoint.
  ``tools/regen.py`` does the same.
* The sanitize file is found from here, wherever pytest is started.
* With ``WORKSHOP_TEST_CHECKPOINT=NN``, the session tests the package as notebooks 01..NN
  leave it, not the repository's finished app: ``import workshop_app`` finds only that
  checkpoint, as in a learner's kernel. ``tests/test_exercises_at_checkpoints.py`` runs
  each notebook's exercise tests that way, because learners meet them there.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"
_progress_dir = Path(tempfile.mkdtemp(prefix="workshop-progress-"))
atexit.register(shutil.rmtree, _progress_dir, ignore_errors=True)
CHECKPOINT_VARIABLE = "WORKSHOP_TEST_CHECKPOINT"


def _use_checkpoint(notebook: str) -> None:
    """Write the checkpoint to a folder of its own and import ``workshop_app`` from it only.
    At import time: the test modules and conftest files import the app as they load."""
    from workshop_lab import workspace
    from workshop_lab.notebook import _use_workspace

    checkpoints = workspace.load_checkpoints()
    folder = _progress_dir / f"checkpoint-{notebook}"
    workspace.sync(folder, checkpoints.files_after(notebook), checkpoints)
    os.environ["WORKSHOP_WORKSPACE"] = str(folder)
    _use_workspace(folder, chdir=False)


if os.environ.get(CHECKPOINT_VARIABLE):
    _use_checkpoint(os.environ[CHECKPOINT_VARIABLE])


def pytest_configure(config: pytest.Config) -> None:
    os.environ["WORKSHOP_PROGRESS_FILE"] = str(_progress_dir / "tests.sqlite3")
    os.environ.setdefault("WORKSHOP_WORKSPACE", str(_progress_dir / "workspace-tests"))
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE_FILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser tests are the slowest: run them last, after everything they depend on.
    items.sort(key=lambda item: "tests/e2e/" in item.path.as_posix())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    # nbval starts a notebook's kernel while setting up its first cell; the
    # kernel inherits os.environ as it is at that moment.
    if item.path.suffix == ".ipynb":
        os.environ["WORKSHOP_PROGRESS_FILE"] = str(_progress_dir / f"{item.path.stem}.sqlite3")
        os.environ["WORKSHOP_WORKSPACE"] = str(_progress_dir / f"workspace-{item.path.stem}")
    return (yield)
