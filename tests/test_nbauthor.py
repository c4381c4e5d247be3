"""The drafting tool round-trips: draft -> build gives back the same cells."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import nbauthor  # noqa: E402


def test_draft_and_build_round_trip_with_inline_versions_and_file_markers(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('"""A module."""\n\nX = 1\nY = 2\n')
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    draft = tmp_path / "draft.txt"
    draft.write_text(
        "#%% markdown\n# Title\n\nSome *prose*.\n\n"
        '#%% writefile pkg/mod.py\n"""A module."""\n\nX = 1\n\n'
        "#%% code\nprint('hi')\n\n"
        "#%% writefile pkg/mod.py\n"
    )
    target = notebooks / "05_x.ipynb"
    nbauthor.build(draft, target, root=tmp_path)

    nb = nbformat.read(target, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[1].source == '%%writefile pkg/mod.py\n"""A module."""\n\nX = 1'
    assert nb.cells[3].source == '%%writefile pkg/mod.py\n"""A module."""\n\nX = 1\nY = 2'
    assert [c.id for c in nb.cells] == ["05-000", "05-001", "05-002", "05-003"]

    last = nbauthor.last_writes_of(target, [target])
    assert last == {("pkg/mod.py", 3)}
    text = nbauthor.draft(target, last, root=tmp_path)
    assert '#%% writefile pkg/mod.py\n"""A module."""\n\nX = 1\n\n#%% code' in text
    assert text.endswith("#%% writefile pkg/mod.py\n")
    again = tmp_path / "again.txt"
    again.write_text(text)
    rebuilt = notebooks / "05_y.ipynb"
    nbauthor.build(again, rebuilt, root=tmp_path)
    assert [c.source for c in nbformat.read(rebuilt, as_version=4).cells] == [
        c.source for c in nb.cells
    ]


def test_a_last_write_that_drifted_takes_the_file(tmp_path, capsys):
    """The finished module is what people edit: a stale last cell follows the file."""
    (tmp_path / "mod.py").write_text("X = 2\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%%writefile mod.py\nX = 1")]
    path = notebooks / "01_x.ipynb"
    nbformat.write(nb, path)
    assert nbauthor.draft(path, {("mod.py", 0)}, root=tmp_path) == "#%% writefile mod.py\n"
    assert "mod.py differs from its cell" in capsys.readouterr().err


def test_sync_puts_the_finished_file_in_the_last_cell_only_and_keeps_outputs(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\nY = 2\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    first, second = notebooks / "01_a.ipynb", notebooks / "02_b.ipynb"
    for path, body in ((first, "X = 1"), (second, "X = 1\nY = 'stale'")):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(f"%%writefile pkg/mod.py\n{body}")
        cell.outputs = [nbformat.v4.new_output("stream", text="Writing pkg/mod.py\n")]
        nb.cells.append(cell)
        nbformat.write(nb, path)

    assert nbauthor.sync([first, second], root=tmp_path) == ["02_b"]
    assert nbformat.read(first, as_version=4).cells[0].source == "%%writefile pkg/mod.py\nX = 1"
    synced = nbformat.read(second, as_version=4).cells[0]
    assert synced.source == "%%writefile pkg/mod.py\nX = 1\nY = 2"
    assert synced.outputs[0]["text"] == "Writing pkg/mod.py\n"
    assert nbauthor.sync([first, second], root=tmp_path) == []
