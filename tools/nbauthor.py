"""Write a notebook from a plain-text draft, or turn a notebook back into one.

    python tools/nbauthor.py build draft.txt notebooks/04_middleware.ipynb
    python tools/nbauthor.py draft notebooks/04_middleware.ipynb > draft.txt
    python tools/nbauthor.py sync     # every module's last cell takes the repository's file

A draft is the notebook's cells in order, each starting with a line
``#%% markdown`` or ``#%% code`` (markdown is written as-is, not commented).
``#%% writefile workshop_app/config.py`` starts a ``%%writefile`` cell. Followed by
lines, those lines are the module's text at this point of the workshop (a version a
later notebook changes). Followed directly by the next marker, the cell takes the
repository's file: use that for a module's last write, so you edit the finished module
as an ordinary file (with your editor, ruff and the tests) and the cell follows it.
``draft`` writes a module's last write that way, and every earlier version inline.
Paths are relative to the repository, which the workspace mirrors.
``sync`` does that in place for every notebook, outputs and ids kept: run it after
editing a finished module, then regenerate the notebooks it names. ``build`` keeps no
outputs: run ``python3 workshop.py regen NAME`` afterwards, which also regenerates the
checkpoints. Cell ids are derived from the position, so rebuilding does not churn them.
Drafts are scratch files, not committed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^#%% (markdown|code|writefile (\S+))\s*$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def parse(text: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """The draft's cells as (kind, source); ``root`` holds the files of bare writefile markers."""
    cells: list[tuple[str, str]] = []
    kind, target, lines = None, "", []

    def close() -> None:
        if kind in ("markdown", "code"):
            cells.append((kind, "\n".join(lines).strip("\n")))
        elif kind == "writefile":
            body = "\n".join(lines).strip("\n")
            if not body:  # the repository's file, exactly
                body = (root / target).read_text(encoding="utf-8").removesuffix("\n")
            # %%writefile writes the cell body plus one newline, which IPython adds back.
            cells.append(("code", f"%%writefile {target}\n{body}"))

    for line in text.splitlines():
        match = MARKER.match(line)
        if not match:
            if kind is None and line.strip():
                raise SystemExit("A draft must start with '#%% markdown' or '#%% code'.")
            lines.append(line)
            continue
        close()
        kind, lines = match.group(1).split()[0], []
        target = match.group(2) or ""
    close()
    return cells


def build(draft: Path, target: Path, root: Path = ROOT) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for index, (kind, src) in enumerate(parse(draft.read_text(encoding="utf-8"), root)):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(src)
        cell.id = f"{target.stem[:2]}-{index:03d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    nbformat.write(nb, target)


def draft(path: Path, last_writes: set[tuple[str, int]], root: Path = ROOT) -> str:
    """The notebook as draft text. ``last_writes`` holds (path, index) of the cells that are
    a module's last write in the whole workshop: those become bare markers."""
    parts = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        first, _, body = cell.source.partition("\n")
        if cell.cell_type == "code" and first.startswith("%%writefile "):
            module = first.split()[-1]
            if (module, index) in last_writes:
                if (root / module).read_text(encoding="utf-8") != body + "\n":
                    print(f"note: {module} differs from its cell; the draft takes the file.",
                          file=sys.stderr)  # fmt: skip
                parts.append(f"#%% writefile {module}")
            else:
                parts.append(f"#%% writefile {module}\n{body}")
            continue
        parts.append(f"#%% {cell.cell_type}\n{cell.source}")
    return "\n\n".join(parts) + "\n"


def last_writes_of(path: Path, notebooks: list[Path]) -> set[tuple[str, int]]:
    """(module, cell index) of the cells of ``path`` that write a module for the last time."""
    last: dict[str, tuple[Path, int]] = {}
    for notebook in notebooks:
        for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            first = cell.source.partition("\n")[0]
            if cell.cell_type == "code" and first.startswith("%%writefile "):
                last[first.split()[-1]] = (notebook, index)
    return {(module, index) for module, (nb, index) in last.items() if nb == path}


def sync(notebooks: list[Path], root: Path = ROOT) -> list[str]:
    """Copy each finished module into its last ``%%writefile`` cell; the notebooks changed."""
    changed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        edited = False
        for module, index in sorted(last_writes_of(path, notebooks)):
            source = f"%%writefile {module}\n" + (root / module).read_text(encoding="utf-8")
            source = source.removesuffix("\n")
            if nb.cells[index].source != source:
                nb.cells[index].source = source
                edited = True
        if edited:
            nbformat.write(nb, path)
            changed.append(path.stem)
    return changed


def main(argv: list[str]) -> int:
    if argv == ["sync"]:
        changed = sync(sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
        print("Synced: " + (" ".join(changed) if changed else "nothing to do"))
        if changed:
            print(f"Now run: python3 workshop.py regen {' '.join(changed)}")
        return 0
    if len(argv) == 3 and argv[0] == "build":
        build(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "draft":
        path = Path(argv[1]).resolve()
        notebooks = sorted(path.parent.glob("[0-9][0-9]_*.ipynb"))
        sys.stdout.write(draft(path, last_writes_of(path, notebooks)))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
