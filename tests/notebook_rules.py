"""The rules every committed notebook obeys, as plain functions.

Each function returns a list of problems (empty when the rule holds), so the
tests can run them on the real notebooks and on deliberately broken ones.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
APP_DIR = ROOT / "workshop_app"

# Modules of the package that no notebook writes: the package marker, the learner
# toolkit (tooling, not the reference app), and the migration scripts, which
# `alembic revision --autogenerate` generates and a person reviews (notebook 12).
NOT_NOTEBOOK_WRITTEN = (
    "workshop_app/__init__.py",
    "workshop_app/lab/",
    "workshop_app/alembic/versions/",
)

_transformer = TransformerManager()


def notebook_paths(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def code_cells(nb: dict) -> list[dict]:
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


@dataclass(frozen=True)
class WrittenFile:
    notebook: Path
    cell_index: int
    argument: str  # the path as typed in the cell
    target: Path  # resolved absolute path
    text: str  # exactly what %%writefile writes


def writefile_of(cell: dict) -> tuple[str, str] | None:
    """(path argument, text written) of a ``%%writefile`` cell, as IPython would do it."""
    src = source(cell)
    if not src.startswith("%%writefile"):
        return None
    python = _transformer.transform_cell(src)
    call = ast.parse(python).body[0].value
    magic, line, body = (ast.literal_eval(arg) for arg in call.args)
    assert magic == "writefile"
    args = line.split()
    args = [a for a in args if a not in ("-a", "--append")]
    return args[-1], body


def written_files(paths: list[Path] | None = None) -> list[WrittenFile]:
    found = []
    for path in paths if paths is not None else notebook_paths():
        for index, cell in enumerate(load(path)["cells"]):
            if cell["cell_type"] != "code":
                continue
            parsed = writefile_of(cell)
            if parsed:
                target = (path.parent / parsed[0]).resolve()
                found.append(WrittenFile(path, index, parsed[0], target, parsed[1]))
    return found


def _cell_prints(cell: dict) -> bool:
    """Whether a cell is expected to leave output: writes a file, prints, or ends in a value."""
    src = source(cell).strip()
    if not src:
        return False
    if src.startswith("%%writefile"):
        return True
    if src.startswith("%%") or src.endswith(";"):
        return False
    try:
        tree = ast.parse(_transformer.transform_cell(src))
    except SyntaxError:
        return True
    if any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
        for node in ast.walk(tree)
    ):
        return True
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        return False
    # `get_ipython().run_line_magic(...)` lines are magics, not values.
    return "get_ipython()" not in ast.unparse(last)


def execution_problems(path: Path) -> list[str]:
    """Proof of one top-to-bottom run in a fresh kernel, and outputs to compare."""
    nb = load(path)
    problems = []
    cells = code_cells(nb)
    counts = [cell.get("execution_count") for cell in cells]
    if counts != list(range(1, len(cells) + 1)):
        problems.append(
            f"{path.name}: execution counts are {counts}, not 1..{len(cells)}: "
            "regenerate it with `python3 workshop.py regen`"
        )
    for number, cell in enumerate(cells, start=1):
        outputs = cell.get("outputs", [])
        errors = [out for out in outputs if out.get("output_type") == "error"]
        if errors:
            problems.append(f"{path.name}: code cell {number} has an error output")
        if not outputs and _cell_prints(cell):
            first_line = source(cell).splitlines()[0]
            problems.append(
                f"{path.name}: code cell {number} ({first_line!r}) prints but has no stored output"
            )
    return problems


def churn_problems(path: Path) -> list[str]:
    """Widget state and per-cell timing change on every run and must not be committed."""
    nb = load(path)
    problems = []
    if "widgets" in nb.get("metadata", {}):
        problems.append(f"{path.name}: widget state stored in the notebook metadata")
    for number, cell in enumerate(nb["cells"], start=1):
        if "execution" in cell.get("metadata", {}):
            problems.append(f"{path.name}: cell {number} stores execution timing metadata")
    return problems


def app_modules(app_dir: Path = APP_DIR) -> list[Path]:
    """Every reference-app module: what the notebooks must write between them."""
    root = app_dir.parent
    found = []
    for path in sorted(app_dir.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in relative or relative.startswith(NOT_NOTEBOOK_WRITTEN):
            continue
        found.append(path.resolve())
    return found


def writefile_problems(paths: list[Path] | None = None, app_dir: Path = APP_DIR) -> list[str]:
    """Each %%writefile cell equals its file; each app module is written by exactly one notebook."""
    problems = []
    writes = written_files(paths)
    by_target: dict[Path, list[WrittenFile]] = {}
    for write in writes:
        by_target.setdefault(write.target, []).append(write)
        label = f"{write.notebook.name} cell {write.cell_index + 1}"
        if Path(write.argument).is_absolute():
            problems.append(f"{label}: writes to an absolute path; use one relative to notebooks/")
        if not write.target.exists():
            problems.append(f"{label}: writes {write.target}, which is missing from the package")
        elif write.target.read_text(encoding="utf-8") != write.text:
            problems.append(
                f"{label}: its text differs from {write.target.name}; "
                "edit the notebook cell, then regenerate (the notebook is the source)"
            )
    for module in app_modules(app_dir):
        writers = by_target.get(module, [])
        if not writers:
            problems.append(f"{module.relative_to(app_dir.parent)} is written by no notebook")
        notebooks = sorted({w.notebook.name for w in writers})
        if len(writers) > 1:
            problems.append(
                f"{module.relative_to(app_dir.parent)} is written {len(writers)} times "
                f"(by {', '.join(notebooks)}); exactly one cell must own it"
            )
    return problems
