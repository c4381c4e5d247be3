"""What every notebook needs before and after it rewrites the package.

Notebooks build the app with ``%%writefile`` and then import what they wrote.
Two Python habits get in the way, and both are handled here once:

* Bytecode caches are validated by the source's mtime (whole seconds) and size,
  so a module rewritten with the same size within one second can load stale
  bytecode. The kernel therefore never writes ``.pyc`` files.
* ``importlib.reload`` reloads one module, not the ones importing it, and
  SQLModel refuses to declare a table class twice in one ``MetaData``.
  ``reload_app`` forgets every reference-app module instead, so the next
  import runs the new code from scratch.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

APP_PACKAGE = "workshop_app"
TOOLKIT_PACKAGE = "workshop_app.lab"

_current_notebook: str | None = None


def current_notebook() -> str | None:
    """The id given to ``start``, used to file quiz answers and exercise results."""
    return _current_notebook


def start(notebook_id: str) -> None:
    """First cell of every notebook: make re-runs and rewrites safe, then say so."""
    global _current_notebook
    sys.dont_write_bytecode = True
    _current_notebook = notebook_id
    reload_app()
    print(f"Workshop toolkit ready for {notebook_id}.")


def _is_app_module(name: str) -> bool:
    if not name.startswith(APP_PACKAGE + "."):
        return False
    return not (name == TOOLKIT_PACKAGE or name.startswith(TOOLKIT_PACKAGE + "."))


def reload_app() -> list[str]:
    """Forget all reference-app modules so the next import sees the files as written now.

    Returns the names that were dropped. Safe to call any number of times.
    """
    dropped = sorted(name for name in sys.modules if _is_app_module(name))
    for name in dropped:
        del sys.modules[name]
        # `from workshop_app import errors` reads the package attribute before
        # sys.modules, so the old module must go from its parent package too.
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and getattr(parent, child, None) is not None:
            delattr(parent, child)
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
