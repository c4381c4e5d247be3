"""Databases and rows for notebooks: a clean file database per run, and stable row tables.

A SQLite file keeps its rows between runs, so a notebook run twice would see the first
run's data: ``fresh_database_url`` deletes the file before handing out its URL. The files,
and the folders of ``scratch_dir``, live in one temporary folder per kernel, removed when
the kernel exits; a kernel that was killed cannot do that, so the next one removes the
folders of kernels that are gone.

A table model's repr lists its fields in an order that can differ from one process to
the next, which breaks stored notebook outputs: ``rows`` prints the fields you name, in
the order you name them.
"""

from __future__ import annotations

import atexit
import getpass
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path

import psutil

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# SQLite's side files: the rollback journal, and the write-ahead log with its index.
_SIDE_FILES = ("-journal", "-wal", "-shm")
MAX_CELL_CHARS = 40

_database_dir: Path | None = None


def kernels_root() -> Path:
    """The parent of every kernel's folder: one per user, since /tmp is shared."""
    return Path(tempfile.gettempdir()) / f"workshop-kernels-{getpass.getuser()}"


def _remove_folders_of_ended_processes(root: Path) -> None:
    for folder in root.glob("pid-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def database_dir() -> Path:
    """This kernel's folder for notebook databases and scratch files, created on first use."""
    global _database_dir
    if _database_dir is None:
        root = kernels_root()
        root.mkdir(mode=0o700, exist_ok=True)
        _remove_folders_of_ended_processes(root)
        _database_dir = Path(tempfile.mkdtemp(prefix=f"pid-{os.getpid()}-", dir=root))
        atexit.register(shutil.rmtree, _database_dir, ignore_errors=True)
    return _database_dir


def scratch_dir(name: str) -> Path:
    """An empty folder ``name`` in this kernel's temporary folder (emptied on every call)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"Name the folder with 1-64 letters, digits, '-' or '_', not {name!r}.")
    folder = database_dir() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def fresh_database_url(name: str) -> str:
    """A ``sqlite+aiosqlite`` URL for ``<name>.db``, deleted first so every run starts empty.

    Dispose of the engine that used the previous file before asking again: on Windows an
    open file cannot be deleted.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"Name the database with 1-64 letters, digits, '-' or '_', not {name!r}.")
    path = database_dir() / f"{name}.db"
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _SIDE_FILES)):
        try:
            file.unlink(missing_ok=True)
        except PermissionError as exc:
            raise RuntimeError(
                f"{file.name} is still open: `await engine.dispose()` the engine using it first."
            ) from exc
    return f"sqlite+aiosqlite:///{path.as_posix()}"


def rows(objects: Iterable[object], fields: Sequence[str]) -> None:
    """Print objects (table models, schemas, result rows or dicts) as a small text table."""
    header = list(fields)
    body = [[_cell(_value(obj, field)) for field in header] for obj in objects]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    for line in [header, ["-" * width for width in widths], *body]:
        cells = (text.ljust(width) for text, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
    if not body:
        print("(no rows)")


def _value(obj: object, field: str) -> object:
    if isinstance(obj, Mapping):
        return obj[field]
    return getattr(obj, field)


def _cell(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"
