"""The rules every committed notebook obeys, as plain functions.

Each function returns a list of problems (empty when the rule holds), so the
tests can run them on the real notebooks and on deliberately broken ones.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

from workshop_lab.workspace import added_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import checkpoints  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"

# A write may add or change at most this many non-blank lines (docstrings included):
# a bigger module is built up in steps, each shown as a diff before its cell.
MAX_ADDED_LINES = 80

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


def writefile_of(cell: dict) -> tuple[str, str] | None:
    """(path argument, text written) of a ``%%writefile`` cell, as IPython would do it."""
    return checkpoints.writefile_of(source(cell))


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


def writefile_problems(paths: list[Path] | None = None) -> list[str]:
    """Each ``%%writefile`` names its module by its path in the workspace (``workshop_app/...``);
    a write that changes a module is preceded by ``lab.show_changes`` for it; no write adds
    more than ``MAX_ADDED_LINES`` lines to the module's previous version."""
    problems = []
    previous: dict[str, str] = {}
    for path in paths if paths is not None else notebook_paths():
        cells = load(path)["cells"]
        steps: dict[str, int] = {}
        shown: set[tuple[str, int]] = set()
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            src = source(cell)
            for call in ast.walk(_parse(src)):
                if (
                    isinstance(call, ast.Call)
                    and ast.unparse(call.func) == "lab.show_changes"
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                ):
                    step = next((k.value.value for k in call.keywords if k.arg == "step"), 1)
                    shown.add((call.args[0].value, step))
            parsed = writefile_of(cell)
            if not parsed:
                continue
            target, text = parsed
            label = f"{path.name} cell {index + 1}"
            if Path(target).is_absolute() or not target.startswith("workshop_app/"):
                problems.append(
                    f"{label}: writes {target}; name the module by its path in the workspace, "
                    "e.g. %%writefile workshop_app/config.py"
                )
                continue
            steps[target] = steps.get(target, 0) + 1
            if target in previous and (target, steps[target]) not in shown:
                arg = f'"{target}"' + (f", step={steps[target]}" if steps[target] > 1 else "")
                problems.append(f"{label}: rewrites {target} without lab.show_changes({arg}) first")
            added = added_lines(previous.get(target), text)
            if added > MAX_ADDED_LINES:
                problems.append(
                    f"{label}: adds {added} lines to {target} at once (at most "
                    f"{MAX_ADDED_LINES}): build it up in steps"
                )
            previous[target] = text
    return problems


def _parse(src: str) -> ast.AST:
    try:
        return ast.parse(_transformer.transform_cell(src))
    except SyntaxError:
        return ast.parse("")
