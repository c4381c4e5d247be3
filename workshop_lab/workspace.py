"""Your copy of the app, built notebook by notebook, and the checkpoints that rebuild it.

The notebooks write ``workshop_app`` into a **workspace** (``workspace/`` at the top of the
repository, or the folder named by ``WORKSHOP_WORKSPACE``), never into the repository's own
``workshop_app/``, which stays the finished reference that the tests, uvicorn and Docker use.
The package as notebooks 01..N leave it is **checkpoint N**; ``data/reference/checkpoints.json``
holds every notebook's writes in order, generated from the notebooks' ``%%writefile`` cells
(``tools/checkpoints.py``), so any notebook can start from the checkpoint before it.

Putting the workspace at a checkpoint never loses work: a file that matches none of the
versions the notebooks write is yours, and is copied to ``<workspace>/.backups/<time>/``
before it is replaced or removed.

Standard library only, and no imports from the rest of the toolkit: ``python3 workshop.py
restore`` loads this file on its own, so it works even when the toolkit cannot be imported.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS_FILE = Path("data") / "reference" / "checkpoints.json"
FORMAT_VERSION = 1
ENV_VAR = "WORKSHOP_WORKSPACE"
BACKUPS = ".backups"
PACKAGE = "workshop_app"


@dataclass(frozen=True)
class Write:
    """One file as one notebook writes it (a ``%%writefile`` cell, or a file it supplies)."""

    notebook: str
    path: str  # relative to the workspace, POSIX separators: "workshop_app/main.py"
    text: str


class Checkpoints:
    """Every notebook's writes, in notebook order: what the package is after each one."""

    def __init__(
        self,
        notebooks: Sequence[tuple[str, Sequence[tuple[str, str]]]],
        supplied: dict[str, list[str]] | None = None,
    ) -> None:
        self.notebook_ids = [notebook_id for notebook_id, _ in notebooks]
        # Files a notebook brings along rather than writes in a cell (demo data, Alembic's
        # configuration): they are in place when the notebook starts.
        self.supplied = {nb: list(paths) for nb, paths in (supplied or {}).items()}
        self.writes = [
            Write(notebook_id, path, text)
            for notebook_id, writes in notebooks
            for path, text in writes
        ]

    def resolve(self, name: str | int) -> str:
        """A notebook id from its id, its number ("05", 5) or its file name."""
        text = str(name) if isinstance(name, int) else Path(str(name)).stem
        if text.isdigit():
            text = f"{int(text):02d}"
        for notebook_id in self.notebook_ids:
            if text in (notebook_id, notebook_id[:2]):
                return notebook_id
        raise KeyError(
            f"No notebook {name!r}: use one of {', '.join(n[:2] for n in self.notebook_ids)}."
        )

    def _index(self, notebook_id: str) -> int:
        return self.notebook_ids.index(self.resolve(notebook_id))

    def files_after(self, notebook_id: str | None) -> dict[str, str]:
        """The package as notebooks up to ``notebook_id`` leave it (``None``: all of them)."""
        last = len(self.notebook_ids) - 1 if notebook_id is None else self._index(notebook_id)
        files: dict[str, str] = {}
        for write in self.writes:
            if self.notebook_ids.index(write.notebook) <= last:
                files[write.path] = write.text
        return files

    def files_before(self, notebook_id: str) -> dict[str, str]:
        """The checkpoint a notebook starts from: what the notebooks before it wrote."""
        index = self._index(notebook_id)
        return self.files_after(self.notebook_ids[index - 1]) if index else {}

    def files_at_start(self, notebook_id: str) -> dict[str, str]:
        """What the workspace holds when a notebook starts: the checkpoint before it, and
        the files the notebook supplies."""
        notebook_id = self.resolve(notebook_id)
        after = self.files_after(notebook_id)
        own = {path: after[path] for path in self.supplied.get(notebook_id, [])}
        return {**self.files_before(notebook_id), **own}

    def previous_checkpoint(self, notebook_id: str) -> str | None:
        index = self._index(notebook_id)
        return self.notebook_ids[index - 1] if index else None

    def paths_written_by(self, notebook_id: str) -> list[str]:
        notebook_id = self.resolve(notebook_id)
        return list(dict.fromkeys(w.path for w in self.writes if w.notebook == notebook_id))

    def paths(self) -> set[str]:
        return {write.path for write in self.writes}

    def versions(self, path: str) -> set[str]:
        """Every text the notebooks ever write to ``path``."""
        return {write.text for write in self.writes if write.path == path}

    def first_writer(self, path: str) -> str | None:
        return next((write.notebook for write in self.writes if write.path == path), None)

    def change(self, notebook_id: str, path: str, step: int = 1) -> tuple[str | None, str]:
        """(text before, text after) of the ``step``-th write of ``path`` in ``notebook_id``."""
        notebook_id = self.resolve(notebook_id)
        before: str | None = None
        seen = 0
        for write in self.writes:
            if write.path != path:
                continue
            if write.notebook == notebook_id:
                seen += 1
                if seen == step:
                    return before, write.text
            before = write.text
        raise KeyError(f"{notebook_id} does not write {path} {step} time(s).")


def load_checkpoints(root: Path = REPO_ROOT) -> Checkpoints:
    """Read ``data/reference/checkpoints.json``; a clear error if it is missing or damaged."""
    path = root / CHECKPOINTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {FORMAT_VERSION}")
        notebooks = [(nb["id"], [tuple(w) for w in nb["writes"]]) for nb in data["notebooks"]]
        supplied = {nb["id"]: nb["supplied"] for nb in data["notebooks"] if nb.get("supplied")}
        return Checkpoints(notebooks, supplied)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(
            f"Cannot read {CHECKPOINTS_FILE.as_posix()} ({type(exc).__name__}: {exc}). "
            "It ships with the repository: download or clone the repository again."
        ) from None


def dump_checkpoints(checkpoints: Checkpoints) -> str:
    """The JSON text of ``checkpoints``, stable so that regenerating it changes nothing."""
    notebooks = [
        {
            "id": notebook_id,
            "writes": [[w.path, w.text] for w in checkpoints.writes if w.notebook == notebook_id],
            **(
                {"supplied": checkpoints.supplied[notebook_id]}
                if checkpoints.supplied.get(notebook_id)
                else {}
            ),
        }
        for notebook_id in checkpoints.notebook_ids
    ]
    data = {"version": FORMAT_VERSION, "notebooks": notebooks}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def workspace_dir(root: Path = REPO_ROOT) -> Path:
    """Where your package lives: ``$WORKSHOP_WORKSPACE``, else ``workspace/`` in the repo."""
    named = os.environ.get(ENV_VAR)
    return Path(named).expanduser().resolve() if named else root / "workspace"


def shown(path: Path, root: Path = REPO_ROOT) -> str:
    """A path as a person reads it: relative to the repository when it is inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass
class SyncReport:
    """What putting the workspace at a checkpoint did."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    backed_up: list[str] = field(default_factory=list)
    backup_dir: Path | None = None

    def backup_note(self, root: Path = REPO_ROOT) -> str:
        if not self.backed_up:
            return ""
        names = ", ".join(self.backed_up)
        return (
            f"Your edited file(s) {names} were copied to {shown(self.backup_dir, root)} "
            "before being replaced."
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError):
        return "\0unreadable"  # matches no version: backed up, then replaced


def _backup(workspace: Path, relpath: str, report: SyncReport) -> None:
    if report.backup_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        candidate, n = workspace / BACKUPS / stamp, 1
        while candidate.exists():
            candidate, n = workspace / BACKUPS / f"{stamp}-{n}", n + 1
        report.backup_dir = candidate
    target = report.backup_dir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(workspace / relpath, target)
    report.backed_up.append(relpath)


def _write(path: Path, text: str) -> None:
    """Replace the file in one step: a crash never leaves half a module."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(text.encode("utf-8"))
    os.replace(partial, path)


def _remove_empty_folders(workspace: Path, relpaths: Iterable[str]) -> None:
    """Folders left without a module would import as empty namespace packages: remove them."""
    for relpath in sorted(relpaths, key=lambda p: -p.count("/")):
        folder = (workspace / relpath).parent
        while folder != workspace and folder.is_dir():
            cache = folder / "__pycache__"
            if cache.is_dir() and not any(folder.glob("*.py")):
                shutil.rmtree(cache, ignore_errors=True)
            if any(folder.iterdir()):
                break
            folder.rmdir()
            folder = folder.parent


def sync(
    workspace: Path,
    target: dict[str, str],
    checkpoints: Checkpoints,
    *,
    only: Iterable[str] | None = None,
) -> SyncReport:
    """Make the workspace hold exactly ``target`` among the files the notebooks write.

    Files the notebooks never write (your own) are left alone. A file that differs from
    every version the notebooks write is copied to the backups before it changes.
    ``only`` limits the work to those paths.
    """
    report = SyncReport()
    paths = sorted(set(only) if only is not None else checkpoints.paths() | set(target))
    for relpath in paths:
        wanted = target.get(relpath)
        current = _read(workspace / relpath)
        if current == wanted:
            continue
        if current is not None and current not in checkpoints.versions(relpath):
            _backup(workspace, relpath, report)
        if wanted is None:
            (workspace / relpath).unlink()
            report.removed.append(relpath)
        else:
            _write(workspace / relpath, wanted)
            report.written.append(relpath)
    _remove_empty_folders(workspace, report.removed)
    return report


def edited_files(workspace: Path, checkpoints: Checkpoints) -> list[str]:
    """Files of the package that match no version the notebooks write: your edits."""
    edited = []
    for relpath in sorted(checkpoints.paths()):
        current = _read(workspace / relpath)
        if current is not None and current not in checkpoints.versions(relpath):
            edited.append(relpath)
    return edited


def unified_diff(before: str | None, after: str, path: str, labels: tuple[str, str]) -> list[str]:
    """The unified diff from ``before`` (None: a new file) to ``after``, as lines."""
    return list(
        difflib.unified_diff(
            (before or "").splitlines(),
            after.splitlines(),
            f"{labels[0]}/{path}" if before is not None else "/dev/null",
            f"{labels[1]}/{path}",
            lineterm="",
        )
    )


def added_lines(before: str | None, after: str) -> int:
    """How many non-blank lines ``after`` adds or changes compared with ``before``."""
    diff = difflib.ndiff((before or "").splitlines(), after.splitlines())
    return sum(1 for line in diff if line.startswith("+ ") and line[2:].strip())


def main(argv: list[str] | None = None, root: Path = REPO_ROOT) -> int:
    """``python3 workshop.py restore [NOTEBOOK]``: put the workspace at a checkpoint."""
    parser = argparse.ArgumentParser(
        prog="python3 workshop.py restore",
        description="Put your workspace package back at a checkpoint: the package as the "
        "notebooks up to NOTEBOOK (default: all of them) leave it. Files you edited are "
        "copied to the workspace's .backups folder first; nothing is deleted unsaved.",
    )
    parser.add_argument("notebook", nargs="?", help="a notebook number or id, e.g. 05")
    args = parser.parse_args(argv)
    try:
        checkpoints = load_checkpoints(root)
        notebook = checkpoints.resolve(args.notebook) if args.notebook else None
    except (RuntimeError, KeyError) as exc:
        print(str(exc).strip("'\""), file=sys.stderr)
        return 2
    workspace = workspace_dir(root)
    report = sync(workspace, checkpoints.files_after(notebook), checkpoints)
    name = notebook or checkpoints.notebook_ids[-1]
    changed = len(report.written) + len(report.removed)
    print(f"{shown(workspace / PACKAGE, root)} is at checkpoint {name}: {changed} file(s) changed.")
    if report.backed_up:
        print(report.backup_note(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
