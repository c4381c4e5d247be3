"""Your package as it is now: ``lab.package_tree()``, ``lab.changed_modules()``, ``lab.restore()``.

Learners edit the modules of their workspace package, and a broken module breaks every
later cell. The versions the notebooks write ship with the repository
(``data/reference/checkpoints.json``), so finding and undoing edits works without git: on
Binder, or from a zip download. Nothing is lost: a restored file is copied to the
workspace's ``.backups`` first.

A tree typed into a document drifts from the code; ``package_tree`` is built from the folders
and each module's docstring, so it is always the package as it is now, including the modules
a learner has just written. Folders come first, then modules, each sorted by name, so the same
files always give the same text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from . import workspace as ws
from .display import TextReport
from .notebook import current_notebook, reload_app, workspace
from .paths import APP_DIR

MAX_DIFF_LINES = 30


def _target() -> tuple[ws.Checkpoints, str, dict[str, str], dict[str, str]]:
    """The checkpoints, the notebook that sets the reference, and the files before and after
    it. Outside a notebook (no ``lab.start``), the whole app is the reference."""
    checkpoints = ws.load_checkpoints()
    notebook = current_notebook()
    if notebook is None:
        final = checkpoints.files_after(None)
        return checkpoints, checkpoints.notebook_ids[-1], final, final
    return (
        checkpoints,
        notebook,
        checkpoints.files_before(notebook),
        checkpoints.files_after(notebook),
    )


@dataclass(frozen=True)
class ModuleStatus:
    path: str
    state: str  # "edited" or "missing"
    diff: str = ""


class ModuleChanges(TextReport, list[ModuleStatus]):
    """What ``changed_modules`` found; displays itself as a short report."""

    def __init__(self, statuses: list[ModuleStatus], notebook: str) -> None:
        super().__init__(statuses)
        self.notebook = notebook

    def summary(self) -> str:
        if not self:
            return f"Your package matches the notebooks (checked for {self.notebook})."
        listing = "\n".join(f"  {s.path}: {s.state}" for s in self)
        return (
            f"{len(self)} module(s) differ from what the notebooks write:\n{listing}\n"
            "lab.restore() puts them back (your versions are kept in the workspace's .backups)."
        )

    def __repr__(self) -> str:
        diffs = "".join(f"\n{status.diff}" for status in self if status.diff)
        return self.summary() + diffs.rstrip("\n")


def changed_modules() -> ModuleChanges:
    """Modules you edited (they match no version a notebook writes), and modules missing
    from the checkpoint the current notebook starts from; each edit with its diff."""
    checkpoints, notebook, before, after = _target()
    root = workspace()
    statuses = []
    for relpath in ws.edited_files(root, checkpoints):
        reference = after.get(relpath, before.get(relpath))
        current = (root / relpath).read_bytes().decode("utf-8", errors="replace")
        lines = ws.unified_diff(reference, current, relpath, ("notebook", "yours"))
        shown = lines[:MAX_DIFF_LINES]
        if len(lines) > MAX_DIFF_LINES:
            shown.append(f"... ({len(lines) - MAX_DIFF_LINES} more diff lines)")
        statuses.append(ModuleStatus(relpath, "edited", "\n".join(shown)))
    for relpath in sorted(before):
        if not (root / relpath).exists():
            statuses.append(ModuleStatus(relpath, "missing"))
    return ModuleChanges(statuses, notebook)


@dataclass(frozen=True)
class RestoreResult(TextReport):
    """What ``restore`` wrote back, or why it wrote nothing."""

    restored: list[str] = field(default_factory=list)
    backup_note: str = ""
    error: str | None = None

    def __repr__(self) -> str:
        if self.error:
            return self.error
        if not self.restored:
            return "Nothing to restore: your package matches the notebooks."
        listing = "\n".join(f"  {path}" for path in self.restored)
        lines = [f"Restored {len(self.restored)} module(s):\n{listing}"]
        if self.backup_note:
            lines.append(self.backup_note)
        lines.append("Re-run the cells that import them, so they use the restored code.")
        return "\n".join(lines)


def _normalise(name: str) -> str:
    """Accept "workshop_app/config.py", "../workshop_app/config.py" or "workshop_app.config"."""
    text = name.strip().replace("\\", "/")
    while text.startswith(("./", "../")):
        text = text.split("/", 1)[1]
    if not text.endswith(".py") and "/" not in text:
        text = text.replace(".", "/") + ".py"
    return text


def restore(path: str | None = None) -> RestoreResult:
    """Put back one module (by path or dotted name) or, with no argument, every module you
    edited or deleted, as the current notebook writes it (or as it starts from it)."""
    checkpoints, _, before, after = _target()
    target = {**before, **after}
    if path is None:
        wanted = [status.path for status in changed_modules()]
    else:
        relpath = _normalise(path)
        candidates = [relpath, relpath.removesuffix(".py") + "/__init__.py"]
        match = next((c for c in candidates if c in target), None)
        if match is None:
            valid = "\n".join(f"  {p}" for p in sorted(target))
            return RestoreResult(error=f"{path!r} is not a module of this checkpoint:\n{valid}")
        wanted = [match]
    report = ws.sync(workspace(), target, checkpoints, only=wanted)
    if current_notebook() is not None:  # a learner's kernel: the next import reads the files
        reload_app()
    return RestoreResult(report.written, report.backup_note())


_BRANCH, _LAST, _PIPE, _SPACE = "├── ", "└── ", "│   ", "    "


def summary(path: Path) -> str:
    """The first line of a module's docstring, "" without one; a broken module says so."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return f"(does not parse: {exc.msg}, line {exc.lineno})"
    except (UnicodeDecodeError, ValueError) as exc:
        return f"(cannot be read: {type(exc).__name__})"
    docstring = ast.get_docstring(tree) or ""
    return docstring.strip().partition("\n")[0].strip()


def _has_modules(folder: Path) -> bool:
    return any("__pycache__" not in path.parts for path in folder.rglob("*.py"))


def _children(folder: Path) -> list[Path]:
    """Sub-folders holding Python code, then ``.py`` modules; each group sorted by name."""
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
    folders = [e for e in entries if e.is_dir() and e.name != "__pycache__" and _has_modules(e)]
    modules = [e for e in entries if e.is_file() and e.suffix == ".py"]
    return sorted(folders, key=lambda e: e.name) + sorted(modules, key=lambda e: e.name)


def _rows(folder: Path, prefix: str) -> list[tuple[str, str]]:
    """(tree column, description) pairs for everything below ``folder``."""
    rows: list[tuple[str, str]] = []
    children = _children(folder)
    for index, child in enumerate(children):
        last = index == len(children) - 1
        branch = prefix + (_LAST if last else _BRANCH)
        if child.is_file():
            rows.append((branch + child.name, summary(child)))
        else:
            rows.append((branch + child.name + "/", ""))
            rows += _rows(child, prefix + (_SPACE if last else _PIPE))
    return rows


@dataclass(frozen=True)
class PackageTree(TextReport):
    """Displayable tree: one line per folder or module, descriptions in one column."""

    root: str
    rows: tuple[tuple[str, str], ...]

    @property
    def lines(self) -> list[str]:
        width = max((len(name) for name, _ in self.rows), default=0) + 2
        body = [f"{name:<{width}}{text}".rstrip() for name, text in self.rows]
        return [f"{self.root}/", *body]

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def package_tree(root: Path | str | None = None) -> PackageTree:
    """The tree of the package at ``root``, read now: by default your workspace package
    once ``lab.start`` ran, else the repository's finished app."""
    folder = (
        Path(root)
        if root is not None
        else (workspace() / ws.PACKAGE if current_notebook() else APP_DIR)
    )
    if not folder.is_dir():
        raise NotADirectoryError(f"package_tree() needs a folder; {folder} is not one")
    return PackageTree(folder.name, tuple(_rows(folder, "")))
