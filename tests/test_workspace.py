"""The workspace: checkpoints, putting the learner's package at one, edits kept, restore.

Every test works on a temporary workspace; the repository is only read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import workshop_lab as lab
from workshop_lab import notebook
from workshop_lab import workspace as ws
from workshop_lab.paths import REPO_ROOT

CHECKPOINTS = ws.Checkpoints(
    [
        ("00_welcome", []),
        ("01_a", [("pkg/__init__.py", ""), ("pkg/config.py", "X = 1\n")]),
        ("02_b", [("pkg/config.py", "X = 1\nY = 2\n"), ("pkg/sub/mod.py", "M = 1\n")]),
        ("03_c", [("pkg/config.py", "X = 1\nY = 3\n"), ("pkg/config.py", "X = 2\nY = 3\n")]),
    ],
    supplied={"02_b": ["pkg/sub/mod.py"]},
)


def test_checkpoints_are_the_writes_of_every_notebook_up_to_one():
    assert CHECKPOINTS.files_before("01_a") == {}
    assert CHECKPOINTS.files_after("01_a") == {"pkg/__init__.py": "", "pkg/config.py": "X = 1\n"}
    assert CHECKPOINTS.files_before("03_c")["pkg/config.py"] == "X = 1\nY = 2\n"
    assert CHECKPOINTS.files_after(None)["pkg/config.py"] == "X = 2\nY = 3\n"
    assert CHECKPOINTS.paths_written_by("03_c") == ["pkg/config.py"]
    assert CHECKPOINTS.first_writer("pkg/sub/mod.py") == "02_b"
    assert CHECKPOINTS.change("03_c", "pkg/config.py", 2) == ("X = 1\nY = 3\n", "X = 2\nY = 3\n")
    assert CHECKPOINTS.change("01_a", "pkg/config.py") == (None, "X = 1\n")
    assert CHECKPOINTS.files_at_start("02_b") == {
        "pkg/__init__.py": "",
        "pkg/config.py": "X = 1\n",
        "pkg/sub/mod.py": "M = 1\n",  # supplied: there before the notebook's cells run
    }


@pytest.mark.parametrize("name", ["02_b", "02", 2, "2", "02_b.ipynb", "notebooks/02_b.ipynb"])
def test_a_notebook_is_named_by_id_number_or_file(name):
    assert CHECKPOINTS.resolve(name) == "02_b"


def test_an_unknown_notebook_lists_the_known_ones():
    with pytest.raises(KeyError, match="use one of 00, 01, 02, 03"):
        CHECKPOINTS.resolve("42")


def test_the_json_form_round_trips(tmp_path):
    target = tmp_path / ws.CHECKPOINTS_FILE
    target.parent.mkdir(parents=True)
    target.write_text(ws.dump_checkpoints(CHECKPOINTS), encoding="utf-8")
    loaded = ws.load_checkpoints(tmp_path)
    assert loaded.writes == CHECKPOINTS.writes and loaded.notebook_ids == CHECKPOINTS.notebook_ids
    assert loaded.supplied == CHECKPOINTS.supplied


@pytest.mark.parametrize("content", [None, "not json", '{"version": 99}', '{"version": 1}'])
def test_a_missing_or_damaged_checkpoints_file_says_what_to_do(tmp_path, content):
    if content is not None:
        (tmp_path / ws.CHECKPOINTS_FILE).parent.mkdir(parents=True)
        (tmp_path / ws.CHECKPOINTS_FILE).write_text(content)
    with pytest.raises(RuntimeError, match="download or clone the repository again"):
        ws.load_checkpoints(tmp_path)


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in root.rglob("*")
        if p.is_file() and ws.BACKUPS not in p.parts
    }


def test_sync_writes_removes_and_leaves_the_learners_own_files(tmp_path):
    ws.sync(tmp_path, CHECKPOINTS.files_after("02_b"), CHECKPOINTS)
    (tmp_path / "pkg" / "mine.py").write_text("MINE = 1\n")  # a file no notebook writes
    report = ws.sync(tmp_path, CHECKPOINTS.files_after("01_a"), CHECKPOINTS)
    assert _tree(tmp_path) == {
        "pkg/__init__.py": "",
        "pkg/config.py": "X = 1\n",
        "pkg/mine.py": "MINE = 1\n",
    }
    assert (report.written, report.removed, report.backed_up) == (
        ["pkg/config.py"],
        ["pkg/sub/mod.py"],
        [],
    )
    assert not (tmp_path / "pkg" / "sub").exists()  # no empty namespace package left behind


def test_an_edited_file_is_backed_up_before_it_is_replaced_or_removed(tmp_path):
    ws.sync(tmp_path, CHECKPOINTS.files_after("02_b"), CHECKPOINTS)
    (tmp_path / "pkg" / "config.py").write_text("X = 'mine'\n")
    (tmp_path / "pkg" / "sub" / "mod.py").write_bytes(b"\xff\xfe broken")
    report = ws.sync(tmp_path, CHECKPOINTS.files_after("01_a"), CHECKPOINTS)
    assert sorted(report.backed_up) == ["pkg/config.py", "pkg/sub/mod.py"]
    assert (report.backup_dir / "pkg" / "config.py").read_text() == "X = 'mine'\n"
    assert (report.backup_dir / "pkg" / "sub" / "mod.py").read_bytes() == b"\xff\xfe broken"
    assert "pkg/config.py, pkg/sub/mod.py" in report.backup_note()
    assert ws.edited_files(tmp_path, CHECKPOINTS) == []


def test_two_backups_in_one_second_do_not_overwrite_each_other(tmp_path):
    ws.sync(tmp_path, CHECKPOINTS.files_after("01_a"), CHECKPOINTS)
    folders = set()
    for text in ("A = 1\n", "B = 2\n"):
        (tmp_path / "pkg" / "config.py").write_text(text)
        folders.add(ws.sync(tmp_path, CHECKPOINTS.files_after("01_a"), CHECKPOINTS).backup_dir)
    assert len(folders) == 2


def test_the_added_lines_count_ignores_blank_and_unchanged_lines():
    assert ws.added_lines(None, "a\n\nb\n") == 2
    assert ws.added_lines("a\nb\n", "a\nB\n\nc\n") == 2


# --- the learner's view: lab.changed_modules, lab.restore, python3 workshop.py restore -------


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The whole app in a temporary workspace, outside any notebook."""
    root = tmp_path / "workspace"
    monkeypatch.setenv(ws.ENV_VAR, str(root))
    monkeypatch.setattr(notebook, "_current_notebook", None)
    ws.sync(root, ws.load_checkpoints().files_after(None), ws.load_checkpoints())
    return root


def test_a_clean_workspace_has_no_changes(workspace):
    changes = lab.changed_modules()
    assert list(changes) == []
    assert "matches the notebooks" in repr(changes)


def test_an_edit_is_shown_with_its_diff_and_restored_with_a_backup(workspace):
    config = workspace / "workshop_app" / "config.py"
    original = config.read_bytes()
    config.write_text(original.decode().replace("Orders API", "My API"), encoding="utf-8")
    (workspace / "workshop_app" / "seed.py").unlink()

    changes = lab.changed_modules()
    assert [(c.path, c.state) for c in changes] == [
        ("workshop_app/config.py", "edited"),
        ("workshop_app/seed.py", "missing"),
    ]
    assert '+    app_name: str = Field("My API"' in changes[0].diff
    assert "lab.restore()" in repr(changes)

    result = lab.restore()
    assert sorted(result.restored) == ["workshop_app/config.py", "workshop_app/seed.py"]
    assert config.read_bytes() == original
    assert "were copied to" in repr(result) and "Re-run the cells" in repr(result)
    [backup] = (workspace / ws.BACKUPS).glob("*/workshop_app/config.py")
    assert "My API" in backup.read_text()
    assert list(lab.changed_modules()) == []


@pytest.mark.parametrize(
    "name", ["workshop_app/config.py", "../workshop_app/config.py", "workshop_app.config"]
)
def test_restore_one_module_by_path_or_dotted_name(workspace, name):
    config = workspace / "workshop_app" / "config.py"
    original = config.read_text()
    config.write_text("BROKEN = (\n")
    assert lab.restore(name).restored == ["workshop_app/config.py"]
    assert config.read_text() == original


def test_restore_of_an_unknown_module_lists_the_valid_ones(workspace):
    result = lab.restore("workshop_app/nope.py")
    assert result.error is not None and "workshop_app/config.py" in result.error


def test_the_restore_command_needs_only_the_standard_library(workspace):
    (workspace / "workshop_app" / "__init__.py").write_text("this is not python(\n")
    env = {**os.environ, ws.ENV_VAR: str(workspace)}
    # -I -S: no site-packages at all, as on a machine whose venv is broken.
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(REPO_ROOT / "workshop.py"), "restore", "05"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "is at checkpoint 05_dependencies" in result.stdout
    assert "workshop_app/__init__.py" in result.stdout and ".backups" in result.stdout
    expected = ws.load_checkpoints().files_after("05_dependencies")
    assert _tree(workspace) == {p: t for p, t in expected.items()}


def test_the_restore_command_refuses_an_unknown_notebook(workspace):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "workshop.py"), "restore", "77"],
        capture_output=True,
        text=True,
        env={**os.environ, ws.ENV_VAR: str(workspace)},
    )
    assert result.returncode == 2
    assert "use one of 00, 01" in result.stderr
