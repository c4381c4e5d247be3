"""The drafting tool round-trips: draft -> build gives back the same cells."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import nbauthor  # noqa: E402


def test_draft_and_build_round_trip_with_writefile_markers(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('"""A module."""\n\nX = 1\n')
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    draft = tmp_path / "draft.txt"
    draft.write_text(
        "#%% markdown\n# Title\n\nSome *prose*.\n\n"
        "#%% writefile ../pkg/mod.py\n\n"
        "#%% code\nprint('hi')\n"
    )
    target = notebooks / "05_x.ipynb"
    nbauthor.build(draft, target)

    nb = nbformat.read(target, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].source == '%%writefile ../pkg/mod.py\n"""A module."""\n\nX = 1'
    assert [c.id for c in nb.cells] == ["05-000", "05-001", "05-002"]

    again = tmp_path / "again.txt"
    again.write_text(nbauthor.draft(target))
    assert "#%% writefile ../pkg/mod.py" in again.read_text()
    rebuilt = notebooks / "05_y.ipynb"
    nbauthor.build(again, rebuilt)
    assert [c.source for c in nbformat.read(rebuilt, as_version=4).cells] == [
        c.source for c in nb.cells
    ]


def test_a_writefile_cell_that_drifted_takes_the_file(tmp_path, capsys):
    """The module file is what people edit: a stale cell must not be written back over it."""
    (tmp_path / "mod.py").write_text("X = 2\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%%writefile ../mod.py\nX = 1"),
        nbformat.v4.new_code_cell("%%writefile ../missing.py\nY = 1"),
    ]
    path = notebooks / "01_x.ipynb"
    nbformat.write(nb, path)
    assert nbauthor.draft(path) == (
        "#%% writefile ../mod.py\n\n#%% code\n%%writefile ../missing.py\nY = 1\n"
    )
    assert "../mod.py differs from its cell" in capsys.readouterr().err
