"""Restore: snapshot the reference modules, spot what a learner changed, put it back.

Every test works on a temporary tree; the real repository is only ever read.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workshop_lab.paths import REPO_ROOT
from workshop_lab.reference import (
    SNAPSHOT_PATH,
    ModuleStatus,
    build_snapshot,
    changed_modules,
    reference_files,
    restore,
    snapshot_is_current,
    write_snapshot,
)

SNAPSHOT_TOOL = REPO_ROOT / "tools" / "snapshot.py"
sys.path.insert(0, str(SNAPSHOT_TOOL.parent))
from snapshot import main  # noqa: E402

MODULES = {
    "workshop_app/__init__.py": '"""Package."""\n',
    "workshop_app/config.py": "APP_NAME = 'Orders API'\r\nDEBUG = False\r\n",  # CRLF kept
    "workshop_app/routers/__init__.py": "from .health import router\n",
    "workshop_app/routers/health.py": "".join(f"LINE_{i} = {i}\n" for i in range(60)),
}
NOT_REFERENCE = {
    "workshop_lab/client.py": "toolkit = True\n",
    "workshop_app/.ipynb_checkpoints/config-checkpoint.py": "old = True\n",
    "workshop_app/notes.txt": "not python\n",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small repo tree with a fresh snapshot."""
    for relpath, text in {**MODULES, **NOT_REFERENCE}.items():
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    write_snapshot(tmp_path)
    return tmp_path


def _write(root: Path, relpath: str, text: str) -> None:
    (root / relpath).write_bytes(text.encode())


def test_snapshot_holds_every_reference_module_and_nothing_else(root: Path) -> None:
    data = json.loads((root / SNAPSHOT_PATH).read_text(encoding="utf-8"))
    assert data == {"version": 1, "files": MODULES}
    assert data == build_snapshot(root)
    assert reference_files(root) == sorted(MODULES)


def test_snapshot_file_is_deterministic(root: Path) -> None:
    before = (root / SNAPSHOT_PATH).read_bytes()
    write_snapshot(root)
    assert (root / SNAPSHOT_PATH).read_bytes() == before


def test_nothing_changed_on_a_fresh_tree(root: Path) -> None:
    changes = changed_modules(root)
    assert changes == []
    assert repr(changes) == "All reference modules match the snapshot."


def test_changed_missing_and_extra_modules_are_reported(root: Path) -> None:
    _write(root, "workshop_app/config.py", "APP_NAME = 'Broken'\r\nDEBUG = False\r\n")
    (root / "workshop_app/routers/health.py").unlink()
    _write(root, "workshop_app/mine.py", "x = 1\n")

    changes = changed_modules(root)

    assert [(s.path, s.state) for s in changes] == [
        ("workshop_app/config.py", "changed"),
        ("workshop_app/mine.py", "extra"),
        ("workshop_app/routers/health.py", "missing"),
    ]
    diff = changes[0].diff
    assert "--- reference/workshop_app/config.py" in diff
    assert "-APP_NAME = 'Orders API'" in diff and "+APP_NAME = 'Broken'" in diff


def test_a_line_ending_change_counts_as_changed(root: Path) -> None:
    _write(root, "workshop_app/config.py", MODULES["workshop_app/config.py"].replace("\r\n", "\n"))
    assert [s.state for s in changed_modules(root)] == ["changed"]


def test_the_summary_shows_states_and_short_diffs(root: Path) -> None:
    _write(root, "workshop_app/routers/health.py", "".join(f"OTHER_{i} = 0\n" for i in range(60)))
    _write(root, "workshop_app/config.py", "APP_NAME = '<b>'\r\n")

    bundle = changed_modules(root)._repr_mimebundle_()

    text = bundle["text/plain"]
    assert text.startswith("2 module(s) differ from the reference:\n")
    assert "  workshop_app/config.py: changed (differs from the reference)" in text
    assert "more diff lines" in text  # a long diff is cut short
    assert len(text.splitlines()) < 80
    assert "&lt;b&gt;" in bundle["text/html"] and "<b>'" not in bundle["text/html"]


def test_restore_one_module_by_path_or_module_name(root: Path) -> None:
    for name in (
        "workshop_app/config.py",
        "workshop_app.config",
        "../workshop_app/config.py",
        "workshop_app\\config.py",
        str(root / "workshop_app" / "config.py"),
    ):
        _write(root, "workshop_app/config.py", "broken(\n")
        _write(root, "workshop_app/routers/health.py", "also broken\n")

        result = restore(name, root=root)

        assert result.restored == ["workshop_app/config.py"], name
        assert (root / "workshop_app/config.py").read_bytes() == MODULES[
            "workshop_app/config.py"
        ].encode()
        assert [s.path for s in changed_modules(root)] == ["workshop_app/routers/health.py"]


def test_restore_a_package_by_its_name(root: Path) -> None:
    _write(root, "workshop_app/routers/__init__.py", "")
    assert restore("workshop_app.routers", root=root).restored == [
        "workshop_app/routers/__init__.py"
    ]
    assert changed_modules(root) == []


def test_restore_all_puts_back_changed_and_missing_and_keeps_extra(root: Path) -> None:
    _write(root, "workshop_app/config.py", "broken(\n")
    shutil.rmtree(root / "workshop_app/routers")
    _write(root, "workshop_app/mine.py", "x = 1\n")

    result = restore(root=root)

    assert result.restored == [
        "workshop_app/config.py",
        "workshop_app/routers/__init__.py",
        "workshop_app/routers/health.py",
    ]
    assert "Restored 3 module(s)" in repr(result) and "lab.reload_app()" in repr(result)
    assert changed_modules(root) == [ModuleStatus("workshop_app/mine.py", "extra")]
    assert (root / "workshop_app/mine.py").read_text() == "x = 1\n"
    assert restore(root=root).restored == []
    assert "Nothing to restore" in repr(restore(root=root))


def test_restore_is_atomic_and_keeps_the_file_mode(root: Path) -> None:
    target = root / "workshop_app/config.py"
    os.chmod(target, 0o640)
    _write(root, "workshop_app/config.py", "broken(\n")

    restore("workshop_app/config.py", root=root)

    assert target.stat().st_mode & 0o777 == 0o640
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_unknown_path_lists_the_valid_ones_and_writes_nothing(root: Path) -> None:
    _write(root, "workshop_app/config.py", "broken(\n")

    result = restore("workshop_app/confg.py", root=root)

    assert result.restored == []
    assert "'workshop_app/confg.py' is not a reference module" in result.error
    assert "  workshop_app/config.py" in result.error
    assert result._repr_mimebundle_()["text/plain"] == result.error
    assert (root / "workshop_app/config.py").read_text() == "broken(\n"
    assert "not a reference module" in repr(restore("/etc/passwd", root=root))


def test_a_missing_snapshot_is_explained_not_raised(tmp_path: Path) -> None:
    (tmp_path / "workshop_app").mkdir()
    message = "Rebuild it with `python tools/snapshot.py --write-snapshot`"
    assert message in repr(changed_modules(tmp_path))
    assert message in repr(restore(root=tmp_path))
    assert not snapshot_is_current(tmp_path)


def test_check_reports_a_stale_snapshot(root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--check", "--root", str(root)]) == 0

    _write(root, "workshop_app/new_layer.py", "x = 1\n")
    assert main(["--check", "--root", str(root)]) == 1
    assert "workshop_app/new_layer.py: extra" in capsys.readouterr().err

    assert main(["--write-snapshot", "--root", str(root)]) == 0
    assert main(["--check", "--root", str(root)]) == 0


def test_the_command_line_runs_as_a_module(root: Path) -> None:
    _write(root, "workshop_app/config.py", "changed = True\n")
    command = [sys.executable, str(SNAPSHOT_TOOL), "--check", "--root", str(root)]

    stale = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1, stale.stderr
    assert "is stale" in stale.stderr

    write = [sys.executable, str(SNAPSHOT_TOOL), "--write-snapshot", "--root", str(root)]
    assert subprocess.run(write, capture_output=True, timeout=60).returncode == 0
    assert subprocess.run(command, capture_output=True, timeout=60).returncode == 0


def test_a_copy_of_the_real_app_round_trips(tmp_path: Path) -> None:
    """The real modules (copied, never touched in place) snapshot and restore byte for byte."""
    shutil.copytree(REPO_ROOT / "workshop_app", tmp_path / "workshop_app")
    write_snapshot(tmp_path)
    files = reference_files(tmp_path)
    assert "workshop_app/__init__.py" in files
    assert not [f for f in files if f.startswith("workshop_lab/")]

    for relpath in files:
        (tmp_path / relpath).write_text("broken(\n")
    assert restore(root=tmp_path).restored == files
    for relpath in files:
        assert (tmp_path / relpath).read_bytes() == (REPO_ROOT / relpath).read_bytes()


def test_the_repository_snapshot_is_current() -> None:
    """Fails when a reference module changed without `--write-snapshot` (the regen tool runs it)."""
    result = subprocess.run(
        [sys.executable, str(SNAPSHOT_TOOL), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_an_unreadable_snapshot_version_is_explained(root: Path) -> None:
    (root / SNAPSHOT_PATH).write_text('{"version": 2, "files": {}}')
    assert "is not a version 1 snapshot" in repr(changed_modules(root))
    assert not snapshot_is_current(root)


def test_lab_restore_is_the_function_even_after_the_module_is_imported() -> None:
    """Importing the module must not shadow the public ``lab.restore`` function."""
    script = (
        "import workshop_lab.reference as module\n"
        "import workshop_lab as lab\n"
        "assert lab.restore is module.restore, lab.restore\n"
        "assert lab.changed_modules is module.changed_modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
