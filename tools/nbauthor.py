"""Write a notebook from a plain-text draft, or turn a notebook back into one.

    python tools/nbauthor.py build draft.txt notebooks/03_middleware.ipynb
    python tools/nbauthor.py draft notebooks/03_middleware.ipynb > draft.txt

A draft is the notebook's cells in order, each starting with a line
``#%% markdown`` or ``#%% code`` (markdown is written as-is, not commented).
``#%% writefile ../workshop_app/config.py`` makes a ``%%writefile`` cell whose
body is the module's current text, so a cell and its file cannot drift while
drafting (the path is relative to the notebook's folder).
``build`` keeps no outputs: run ``python3 workshop.py regen NAME`` afterwards.
Cell ids are derived from the position, so rebuilding does not churn them.
The .ipynb stays the source of truth; drafts are scratch files, not committed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^#%% (markdown|code|writefile (\S+))\s*$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def parse(text: str, folder: Path) -> list[tuple[str, str]]:
    """The draft's cells as (kind, source); ``folder`` resolves writefile paths."""
    cells: list[tuple[str, str]] = []
    kind, lines = None, []

    def close() -> None:
        if kind == "writefile" and any(line.strip() for line in lines):
            raise SystemExit("Nothing may follow a '#%% writefile' line but the next cell marker.")
        if kind in ("markdown", "code"):
            cells.append((kind, "\n".join(lines).strip("\n")))

    for line in text.splitlines():
        match = MARKER.match(line)
        if not match:
            if kind is None and line.strip():
                raise SystemExit("A draft must start with '#%% markdown' or '#%% code'.")
            lines.append(line)
            continue
        close()
        kind, lines = match.group(1).split()[0], []
        if kind == "writefile":
            module = (folder / match.group(2)).read_text(encoding="utf-8")
            # %%writefile writes the cell body plus one newline, which IPython adds back.
            cells.append(("code", f"%%writefile {match.group(2)}\n{module.removesuffix(chr(10))}"))
    close()
    return cells


def build(draft: Path, target: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    cells = parse(draft.read_text(encoding="utf-8"), target.parent)
    for index, (kind, src) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(src)
        cell.id = f"{target.stem[:2]}-{index:03d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    nbformat.write(nb, target)


def _draft_cell(cell: nbformat.NotebookNode, folder: Path) -> str:
    """A cell as draft text; a %%writefile cell whose file exists becomes one marker line.

    The module file wins: it is what people edit (with an editor, ruff and the tests), and a
    draft that kept a stale cell would write the old text back over it on the next run.
    """
    first, _, body = cell.source.partition("\n")
    if cell.cell_type == "code" and first.startswith("%%writefile "):
        target = folder / first.split()[-1]
        if target.exists():
            if target.read_text(encoding="utf-8") != body + "\n":
                print(
                    f"note: {first.split()[-1]} differs from its cell; the draft takes the file.",
                    file=sys.stderr,
                )
            return f"#%% writefile {first.split()[-1]}"
    return f"#%% {cell.cell_type}\n{cell.source}"


def draft(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n\n".join(_draft_cell(cell, path.parent) for cell in nb.cells) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "build":
        build(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "draft":
        sys.stdout.write(draft(Path(argv[1])))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
