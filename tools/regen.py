"""Re-execute notebooks in fresh kernels and store their outputs.

    python3 workshop.py regen                 # every notebook
    python3 workshop.py regen 04_middleware   # some, by name or path

The checkpoints (``data/reference/checkpoints.json``) are rebuilt from the notebooks
first: each notebook starts from the one before it. Each notebook then runs top to
bottom in a new kernel with a fresh temporary workspace and progress file (exactly as
nbval runs it). Widget state and per-cell timing are not stored: both change on every
run. The repository's own ``workshop_app/`` must come out unchanged.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
KERNEL_NAME = "python3"
CELL_TIMEOUT = 300


def notebook_client(nb: nbformat.NotebookNode, path: Path) -> NotebookClient:
    return NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=False,
    )


def execute(path: Path, *, runs: int = 1) -> nbformat.NotebookNode:
    """Run every cell ``runs`` times in ONE fresh kernel; return the notebook of the last run.

    ``runs=2`` checks by hand that a notebook survives being run again in the same kernel
    (the tests check it in nbval's kernel: ``SecondRun`` in the root ``conftest.py``).
    Raises ``nbclient.exceptions.CellExecutionError`` on the first error.
    """
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="workshop-regen-") as tmp:
        env = {
            "WORKSHOP_PROGRESS_FILE": str(Path(tmp) / f"{path.stem}.sqlite3"),
            "WORKSHOP_WORKSPACE": str(Path(tmp) / "workspace"),
        }
        previous = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            client = notebook_client(nb, path)
            with client.setup_kernel():
                for _ in range(runs):
                    for index, cell in enumerate(nb.cells):
                        client.execute_cell(cell, index)
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    return nb


def coalesce_streams(outputs: list) -> list:
    """One output per run of stdout (or stderr) text: how the text arrived in chunks
    changes from run to run, and would churn the stored notebook (nbval joins them too)."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def resolve(names: list[str]) -> list[Path]:
    if not names:
        return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    paths = []
    for name in names:
        candidate = Path(name)
        if not candidate.exists():
            candidate = NOTEBOOKS_DIR / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not candidate.exists():
            raise SystemExit(f"No notebook called {name!r} in {NOTEBOOKS_DIR}")
        paths.append(candidate.resolve())
    return paths


def package_files() -> dict[str, bytes]:
    """The repository's app, to prove that running the notebooks leaves it alone."""
    app = ROOT / "workshop_app"
    return {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in sorted(app.rglob("*.py"))}


def main(argv: list[str]) -> int:
    import checkpoints

    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    notebooks = resolve(argv)  # an unknown name stops here, before anything is written
    checkpoints.main([])
    before = package_files()
    for path in notebooks:
        started = time.perf_counter()
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s", flush=True)
    if package_files() != before:
        print("Running the notebooks changed the repository's workshop_app/: they must write")
        print("only to the workspace (%%writefile workshop_app/..., after lab.start).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
