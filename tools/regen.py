"""Re-execute notebooks in fresh kernels and store their outputs.

    python3 workshop.py regen                 # every notebook
    python3 workshop.py regen 03_middleware   # some, by name or path

Each notebook runs top to bottom in a new kernel whose working directory is
notebooks/ and whose progress file is a fresh temporary one (exactly as nbval
runs it). Widget state and per-cell timing are not stored: both change on
every run. The reference snapshot used by ``lab.restore`` is rebuilt from the
package files before the run (the welcome notebook compares the package with it)
and again after it.
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

    ``runs=2`` is how the tests prove a notebook survives being run again in the
    same kernel. Raises ``nbclient.exceptions.CellExecutionError`` on the first error.
    """
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="workshop-regen-") as tmp:
        previous = os.environ.get("WORKSHOP_PROGRESS_FILE")
        os.environ["WORKSHOP_PROGRESS_FILE"] = str(Path(tmp) / f"{path.stem}.json")
        try:
            client = notebook_client(nb, path)
            with client.setup_kernel():
                for _ in range(runs):
                    for index, cell in enumerate(nb.cells):
                        client.execute_cell(cell, index)
        finally:
            if previous is None:
                os.environ.pop("WORKSHOP_PROGRESS_FILE", None)
            else:
                os.environ["WORKSHOP_PROGRESS_FILE"] = previous
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


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


def main(argv: list[str]) -> int:
    from workshop_app.lab.reference import build_snapshot, write_snapshot

    # Before the run too: the welcome notebook shows lab.changed_modules(), which compares
    # the package with this snapshot, so the snapshot must already match the package.
    write_snapshot()
    before = build_snapshot()
    for path in resolve(argv):
        started = time.perf_counter()
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s", flush=True)
    print(f"reference snapshot: {write_snapshot()}")
    if build_snapshot() != before:
        print("The notebooks changed the package while running: run regen again.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
