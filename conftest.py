"""Test-session wiring shared by the package tests and nbval.

* Nothing the tests do may touch a learner's real progress file or workspace, so the
  whole session points ``WORKSHOP_PROGRESS_FILE`` and ``WORKSHOP_WORKSPACE`` at a
  temporary directory.
* Each notebook's kernel gets its own fresh progress file and workspace (set just
  before nbval starts that kernel), so a notebook's stored outputs never depend on
  which notebooks ran before it, and it starts from its own checkpoint.
  ``tools/regen.py`` does the same.
* The sanitize file is found from here, wherever pytest is started.
* After nbval has run a notebook's cells, one more item of that notebook,
  ``second run in the same kernel``, runs every cell again in nbval's own kernel and
  fails, naming the notebook and the cell, if one raises: a notebook must survive being
  run twice. It reuses the kernel instead of running the notebook a third time in
  another one, and it is a child of the notebook's collector, so it runs right after the
  cells, before the kernel stops, on the same pytest-xdist worker (``--dist loadfile``).
* With ``WORKSHOP_TEST_CHECKPOINT=NN``, the session tests the package as notebooks 01..NN
  leave it, not the repository's finished app: ``import workshop_app`` finds only that
  checkpoint, as in a learner's kernel. ``tests/test_exercises_at_checkpoints.py`` runs
  each notebook's exercise tests that way, because learners meet them there.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"
_progress_dir = Path(tempfile.mkdtemp(prefix="workshop-progress-"))
atexit.register(shutil.rmtree, _progress_dir, ignore_errors=True)
CHECKPOINT_VARIABLE = "WORKSHOP_TEST_CHECKPOINT"
SECOND_RUN = "second run in the same kernel"


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


# The files that take longest, slowest first (seconds of one run of `workshop.py test` on
# 2 busy cores, 2026-12-07, from --junitxml). Under pytest-xdist they are handed out first
# (`workshop.py test` passes --no-loadscope-reorder: xdist would order files by their number
# of tests), so no worker is left running one of them while the other has nothing to do:
# 935 s against 884 s for the same tests, in a replay of that run. A file not listed
# follows them, in collection order.
SLOWEST_FILES = (
    "tests/test_exercises_at_checkpoints.py",  # 453: one pytest process per notebook
    "tests/e2e/test_browser.py",  # 125: JupyterLab in Chromium
    "tests/test_api_orders.py",  # 124
    "notebooks/13_scaling_out.ipynb",  # 116: both runs
    "tests/test_api_users.py",  # 100
    "tests/test_checkpoints.py",  # 82
    "tests/test_scale_out.py",  # 71
    "notebooks/12_capstone.ipynb",  # 65
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker
        rank = {path: n for n, path in enumerate(SLOWEST_FILES)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    else:
        # In one process, the browser tests run last, after everything they depend on.
        items.sort(key=lambda item: "tests/e2e/" in item.path.as_posix())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    # nbval starts a notebook's kernel while setting up its first cell; the
    # kernel inherits os.environ as it is at that moment.
    if item.path.suffix == ".ipynb":
        os.environ["WORKSHOP_PROGRESS_FILE"] = str(_progress_dir / f"{item.path.stem}.sqlite3")
        os.environ["WORKSHOP_WORKSPACE"] = str(_progress_dir / f"workspace-{item.path.stem}")
    return (yield)


# --- every notebook, run a second time in nbval's kernel --------------------------------


class NotebookRunError(Exception):
    """A cell raised on the run named by ``which`` of a notebook in one kernel."""

    def __init__(self, item: SecondRun, which: str, cell: Any, detail: str) -> None:
        self.cell = cell
        self.detail = detail
        notebook = item.nodeid.split("::")[0]
        super().__init__(
            f"{notebook}: Cell {cell.cell_num} failed on the {which} run in one kernel"
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class SecondRun(pytest.Item):
    """Every cell of the notebook again, in the kernel nbval ran it in (``IPyNbFile.kernel``,
    stopped when the notebook's last item is done). Cells that nbval skips are skipped here
    too; a cell tagged ``raises-exception`` may raise. When nbval did not run every cell in
    this kernel first (this item selected on its own), it runs the notebook twice itself."""

    def __init__(self, *, cells: list, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = [cell for cell in cells if not cell.options["skip"]]

    def runtest(self) -> None:
        kernel = self.parent.kernel
        if kernel is None or not kernel.is_alive():
            raise RuntimeError(
                f"{self.nodeid.split('::')[0]}: the kernel is not running any more (a cell "
                "of the first run timed out or killed it), so the second run cannot be checked"
            )
        first_run_done = {cell.cell_num for cell in self.cells} <= _first_run(self.parent)
        runs = ["second"] if first_run_done else ["first", "second"]
        timeout = self.config.option.nbval_cell_timeout
        for which in runs:
            for cell in self.cells:
                try:
                    reply = kernel.kc.execute_interactive(
                        cell.cell.source,
                        store_history=False,
                        allow_stdin=False,
                        stop_on_error=False,
                        timeout=timeout,
                        output_hook=lambda msg: None,
                    )
                except TimeoutError:
                    kernel.interrupt()
                    raise NotebookRunError(
                        self, which, cell, f"no reply within {timeout:g} seconds"
                    ) from None
                content = reply["content"]
                if content["status"] == "error" and not cell.options["check_exception"]:
                    traceback = _ANSI.sub("", "\n".join(content.get("traceback", [])))
                    raise NotebookRunError(
                        self, which, cell, f"{content['ename']}: {content['evalue']}\n{traceback}"
                    )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        exc = excinfo.value
        if not isinstance(exc, NotebookRunError):
            return super().repr_failure(excinfo, style=style)
        return (
            f"{exc}: every notebook must run again, top to bottom in the kernel that "
            f"ran it, without an error.\n\nInput of Cell {exc.cell.cell_num}:\n"
            f"{exc.cell.cell.source}\n\n{exc.detail}"
        )

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, self.nodeid


def _first_run(notebook: pytest.Collector) -> set[int]:
    """The cells nbval has executed in this notebook's kernel."""
    return notebook.__dict__.setdefault("_workshop_cells_run", set())


def _is_nbval_notebook(collector: pytest.Collector) -> bool:
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:
        return False
    return isinstance(collector, IPyNbFile)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if report.passed and _is_nbval_notebook(collector) and report.result:
        cells = list(report.result)
        report.result.append(SecondRun.from_parent(collector, name=SECOND_RUN, cells=cells))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if _is_nbval_notebook(item.parent) and not isinstance(item, SecondRun):
        _first_run(item.parent).add(item.cell_num)
    return (yield)
