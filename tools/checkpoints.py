"""Build the checkpoints from the notebooks: every notebook's writes, in notebook order.

    python tools/checkpoints.py                 # write data/reference/checkpoints.json
    python tools/checkpoints.py --check         # exit 1 when it is stale
    python tools/checkpoints.py export DIR [NN]  # each checkpoint (or one) as a folder in DIR

A notebook writes a module with a ``%%writefile workshop_app/...`` cell (the path is relative
to the workspace, the kernel's working directory after ``lab.start``); a module may be
written by several notebooks, and the last write must equal the repository's file. A few
files are not Python a learner writes (demo data, Alembic's configuration and the reviewed
migration scripts): the notebook that introduces them supplies them, listed in SUPPLIED.
``python3 workshop.py regen`` runs this before it runs the notebooks, which start from it.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from workshop_lab import workspace as ws  # noqa: E402

NOTEBOOKS_DIR = ROOT / "notebooks"
SUPPLIED: dict[str, list[str]] = {
    "06_data": ["data/seed/users.json", "data/seed/orders.json"],
    "12_capstone": [
        "alembic.ini",
        "workshop_app/alembic/script.py.mako",
        "workshop_app/alembic/versions/20261129_0d6354516780_initial_schema.py",
    ],
    "13_scaling_out": [
        "workshop_app/alembic/versions/20261207_5cf0e6118cc9_leases_on_background_work.py",
    ],
}

_transformer = TransformerManager()


def writefile_of(source: str) -> tuple[str, str] | None:
    """(path argument, text written) of a ``%%writefile`` cell, exactly as IPython writes it."""
    if not source.startswith("%%writefile"):
        return None
    call = ast.parse(_transformer.transform_cell(source)).body[0].value
    magic, line, body = (ast.literal_eval(arg) for arg in call.args)
    assert magic == "writefile"
    return [a for a in line.split() if a not in ("-a", "--append")][-1], body


def notebook_paths(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def notebook_writes(path: Path) -> list[tuple[str, str]]:
    """(path, text) of each ``%%writefile`` cell of a notebook, in order."""
    writes = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and (parsed := writefile_of(source)):
            writes.append(parsed)
    return writes


def build(root: Path = ROOT) -> ws.Checkpoints:
    notebooks = []
    for path in notebook_paths(root / "notebooks"):
        writes = notebook_writes(path)
        for relpath in SUPPLIED.get(path.stem, []):
            writes.append((relpath, (root / relpath).read_bytes().decode("utf-8")))
        notebooks.append((path.stem, writes))
    return ws.Checkpoints(notebooks, {nb: paths for nb, paths in SUPPLIED.items()})


def export(checkpoints: ws.Checkpoints, folder: Path, notebook: str | None = None) -> list[Path]:
    """Write checkpoint folders (``folder/NN_name/workshop_app/...``); return them."""
    ids = [checkpoints.resolve(notebook)] if notebook else checkpoints.notebook_ids
    made = []
    for notebook_id in ids:
        for relpath, text in checkpoints.files_after(notebook_id).items():
            target = folder / notebook_id / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        made.append(folder / notebook_id)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/checkpoints.py", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("command", nargs="?", choices=["export"])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("notebook", nargs="?")
    args = parser.parse_args(argv)
    checkpoints = build()
    if args.command == "export":
        for made in export(checkpoints, args.folder, args.notebook):
            print(made)
        return 0
    text = ws.dump_checkpoints(checkpoints)
    target = ROOT / ws.CHECKPOINTS_FILE
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{ws.CHECKPOINTS_FILE} is stale: run `python tools/checkpoints.py`.")
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"Wrote {ws.CHECKPOINTS_FILE} ({len(checkpoints.writes)} writes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
