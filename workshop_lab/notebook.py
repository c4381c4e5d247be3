"""What every notebook needs before it writes and imports your package.

``lab.start("05_dependencies")``, the first cell of every notebook:

* puts your workspace package at the checkpoint before the notebook (``workspace.py``),
  backing up any file you edited;
* makes the kernel work in the workspace, so ``%%writefile workshop_app/main.py`` writes
  your copy, and makes ``import workshop_app`` find only your copy: a module no notebook
  has written yet fails with a message naming the notebook that writes it, instead of
  quietly loading the finished reference app;
* forgets every ``workshop_app`` module already imported, so the next import runs the
  files as they are now. ``importlib.reload`` would reload one module, not the ones that
  import it, and SQLModel refuses to declare a table class twice in one ``MetaData``;
* stops the kernel writing ``.pyc`` files: bytecode caches are checked against the
  source's mtime in whole seconds, so a module rewritten twice within a second could
  load stale bytecode.
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any

from . import workspace as ws

APP_PACKAGE = ws.PACKAGE

_current_notebook: str | None = None


def current_notebook() -> str | None:
    """The id given to ``start``."""
    return _current_notebook


def workspace() -> Path:
    """The folder that holds your ``workshop_app`` (and is the kernel's working directory)."""
    return ws.workspace_dir()


class _WorkspaceFinder(MetaPathFinder):
    """Finds ``workshop_app`` in the workspace only, and says which notebook writes what is
    missing. Without it, the editable install would fill the gaps from the reference app."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != APP_PACKAGE and not fullname.startswith(APP_PACKAGE + "."):
            return None
        search = [str(self.root)] if fullname == APP_PACKAGE else path
        spec = PathFinder.find_spec(fullname, search)
        if spec is None:
            raise ModuleNotFoundError(_missing_module_message(fullname), name=fullname)
        return spec


def _missing_module_message(fullname: str) -> str:
    relpath = fullname.replace(".", "/")
    checkpoints = ws.load_checkpoints()
    writer = checkpoints.first_writer(f"{relpath}.py") or checkpoints.first_writer(
        f"{relpath}/__init__.py"
    )
    where = f"your package ({ws.shown(workspace() / APP_PACKAGE)})"
    if writer is None:
        return f"No module named {fullname!r} in {where}, and no notebook writes one."
    return (
        f"No module named {fullname!r} in {where} yet: notebook {writer} writes it. "
        f'Run that notebook, or start from its checkpoint with lab.start("{writer}").'
    )


def _use_workspace(root: Path, *, chdir: bool = True) -> None:
    """Imports, child processes and (with ``chdir``) relative paths all use ``root``."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _WorkspaceFinder)]
    sys.meta_path.insert(0, _WorkspaceFinder(root))
    entry = str(root)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    # uvicorn, alembic or pytest started from a cell import your package too.
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != entry]
    os.environ["PYTHONPATH"] = os.pathsep.join([entry, *others])
    if chdir:
        os.chdir(root)


def start(notebook_id: str) -> None:
    """First cell of every notebook: your package at the checkpoint before this notebook."""
    global _current_notebook
    sys.dont_write_bytecode = True
    checkpoints = ws.load_checkpoints()
    notebook_id = checkpoints.resolve(notebook_id)
    _current_notebook = notebook_id
    root = workspace()
    root.mkdir(parents=True, exist_ok=True)
    at_start = checkpoints.files_at_start(notebook_id)
    # A notebook that writes no code and needs none (the welcome) leaves the package alone.
    needs_package = at_start or checkpoints.paths_written_by(notebook_id)
    report = ws.sync(root, at_start, checkpoints) if needs_package else ws.SyncReport()
    for write in checkpoints.writes:  # %%writefile does not create folders
        if write.notebook == notebook_id:
            (root / write.path).parent.mkdir(parents=True, exist_ok=True)
    _use_workspace(root)
    reload_app()
    if checkpoints.files_before(notebook_id):
        state = f"your workshop_app is at checkpoint {checkpoints.previous_checkpoint(notebook_id)}"
    elif checkpoints.paths_written_by(notebook_id):
        state = "this notebook starts your workshop_app"
    else:
        state = "this notebook writes no code"
    print(f"Workshop toolkit ready for {notebook_id}: {state}.")
    if report.backed_up:
        print(report.backup_note())


def reload_app() -> list[str]:
    """Forget all ``workshop_app`` modules so the next import sees the files as written now.

    Returns the names that were dropped. Safe to call any number of times.
    """
    dropped = sorted(
        name for name in sys.modules if name == APP_PACKAGE or name.startswith(APP_PACKAGE + ".")
    )
    for name in dropped:
        del sys.modules[name]
    _forget_sqlmodel_tables()
    importlib.invalidate_caches()
    return dropped


def _forget_sqlmodel_tables() -> None:
    """Let table classes be declared again after a reload (one shared MetaData otherwise)."""
    sqlmodel = sys.modules.get("sqlmodel")
    if sqlmodel is None:
        return
    sqlmodel.SQLModel.metadata.clear()
    # The class registry still remembers the old classes by name; declaring them again
    # warns, which is expected here and harmless because the old classes are unused.
    warnings.filterwarnings("ignore", message=r"This declarative base already contains a class")


@dataclass(frozen=True)
class Changes:
    """A module's diff, shown before the cell that rewrites it: what changes, line by line."""

    path: str
    lines: tuple[str, ...]

    @property
    def counts(self) -> tuple[int, int]:
        body = [line for line in self.lines if not line.startswith(("+++", "---"))]
        return sum(x.startswith("+") for x in body), sum(x.startswith("-") for x in body)

    @property
    def title(self) -> str:
        added, removed = self.counts
        return f"{self.path}: +{added} -{removed} lines"

    def __repr__(self) -> str:
        return "\n".join([self.title, *self.lines])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        colours = {"+": "#1a7f37", "-": "#cf222e", "@": "#6e7781"}
        rows = []
        for line in self.lines:
            colour = None if line.startswith(("+++", "---")) else colours.get(line[:1])
            style = f" style='color:{colour}'" if colour else ""
            rows.append(f"<span{style}>{html.escape(line)}</span>")
        title = f"<div style='font-weight:bold'>{html.escape(self.title)}</div>"
        return {"text/plain": repr(self), "text/html": f"{title}<pre>{chr(10).join(rows)}</pre>"}


def show_changes(path: str, step: int = 1) -> Changes:
    """What this notebook's ``step``-th write of ``path`` changes in the module, as a diff."""
    if _current_notebook is None:
        raise RuntimeError('Run lab.start("NN_name") first: the changes are those of a notebook.')
    before, after = ws.load_checkpoints().change(_current_notebook, path, step)
    return Changes(path, tuple(ws.unified_diff(before, after, path, ("before", "after"))))


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capture_logs(logger: str = APP_PACKAGE, level: int = logging.INFO) -> Iterator[list]:
    """Collect the app's log records inside a ``with`` block, to look at them afterwards."""
    handler = _ListHandler()
    target = logging.getLogger(logger)
    previous_level = target.level
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield handler.records
    finally:
        target.removeHandler(handler)
        target.setLevel(previous_level)
