"""``lab.package_tree()``: the package's layout, read from its files when it is shown.

A tree typed into a document drifts from the code; this one is built from the folders and
each module's docstring, so it is always the package as it is now, including the modules a
learner has just written. Folders come first, then modules, each sorted by name, so the same
files always give the same text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from workshop_lab.display import TextReport
from workshop_lab.notebook import current_notebook, workspace
from workshop_lab.paths import APP_DIR
from workshop_lab.workspace import PACKAGE

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
        else (workspace() / PACKAGE if current_notebook() else APP_DIR)
    )
    if not folder.is_dir():
        raise NotADirectoryError(f"package_tree() needs a folder; {folder} is not one")
    return PackageTree(folder.name, tuple(_rows(folder, "")))
