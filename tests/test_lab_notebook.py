"""start() and reload_app(): the learner's package, at its checkpoint, and nothing else."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from workshop_lab import notebook
from workshop_lab import workspace as ws


@pytest.fixture(autouse=True)
def restore_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """start() changes the whole kernel (imports, cwd, sys.path, PYTHONPATH): undo all of it,
    and put the repository's modules back so later tests share one set of classes."""
    saved = {name: m for name, m in sys.modules.items() if name.startswith("workshop_app")}
    saved_tables = list(SQLModel.metadata.tables.values())
    monkeypatch.setenv(ws.ENV_VAR, str(tmp_path / "workspace"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)
    monkeypatch.setattr(notebook, "_current_notebook", None)
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    monkeypatch.chdir(tmp_path)
    yield
    for name in [n for n in sys.modules if n.startswith("workshop_app")]:
        del sys.modules[name]
    sys.modules.update(saved)
    SQLModel.metadata.clear()
    for table in saved_tables:
        SQLModel.metadata._add_table(table.name, table.schema, table)


def test_reload_app_forgets_every_app_module_but_not_the_toolkit():
    import workshop_app.config  # noqa: F401

    dropped = notebook.reload_app()
    assert {"workshop_app", "workshop_app.config"} <= set(dropped)
    assert not any(name.startswith("workshop_app") for name in sys.modules)
    assert "workshop_lab.notebook" in sys.modules


def test_reload_app_lets_a_table_class_be_declared_again(tmp_path, monkeypatch):
    import sqlmodel

    package = tmp_path / "workshop_app_reload_probe"
    monkeypatch.syspath_prepend(str(tmp_path))
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "from sqlmodel import Field, SQLModel\n"
        "class Probe(SQLModel, table=True):\n"
        "    id: int | None = Field(default=None, primary_key=True)\n"
    )
    import workshop_app_reload_probe.models as first

    del sys.modules["workshop_app_reload_probe.models"]
    notebook._forget_sqlmodel_tables()
    import workshop_app_reload_probe.models as second

    assert second.Probe is not first.Probe
    assert "probe" in sqlmodel.SQLModel.metadata.tables
    sqlmodel.SQLModel.metadata.clear()


def test_start_puts_the_workspace_at_the_checkpoint_before_the_notebook(tmp_path, capsys):
    checkpoints = ws.load_checkpoints()
    notebook.start("03_errors")
    root = tmp_path / "workspace"
    assert capsys.readouterr().out == (
        "Workshop toolkit ready for 03_errors: your workshop_app is at checkpoint 02_factory.\n"
    )
    assert sys.dont_write_bytecode is True
    assert notebook.current_notebook() == "03_errors"
    assert Path.cwd() == root
    assert sys.path[0] == str(root)
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(root)
    for relpath, text in checkpoints.files_before("03_errors").items():
        assert (root / relpath).read_text(encoding="utf-8") == text
    assert not (root / "workshop_app" / "error_handlers.py").exists()

    import workshop_app.main

    assert Path(workshop_app.main.__file__).parent == root / "workshop_app"


def test_a_module_not_written_yet_names_the_notebook_that_writes_it():
    notebook.start("03_errors")
    with pytest.raises(ModuleNotFoundError) as raised:
        import workshop_app.middleware  # noqa: F401
    message = str(raised.value)
    assert "No module named 'workshop_app.middleware'" in message
    assert "notebook 04_middleware writes it" in message


def test_start_again_resets_what_the_notebook_wrote_and_keeps_one_guard(tmp_path):
    notebook.start("03_errors")
    root = tmp_path / "workspace"
    (root / "workshop_app" / "error_handlers.py").write_text(
        ws.load_checkpoints().files_after("03_errors")["workshop_app/error_handlers.py"]
    )
    notebook.start("03_errors")
    assert not (root / "workshop_app" / "error_handlers.py").exists()
    assert not (root / ws.BACKUPS).exists()  # a version the notebooks write is no one's edit
    assert sum(isinstance(f, notebook._WorkspaceFinder) for f in sys.meta_path) == 1


def test_an_edited_module_is_backed_up_before_start_replaces_it(tmp_path, capsys):
    notebook.start("02_factory")
    root = tmp_path / "workspace"
    (root / "workshop_app" / "config.py").write_text("MY_EDIT = True\n")
    capsys.readouterr()
    notebook.start("02_factory")
    out = capsys.readouterr().out
    [backup] = (root / ws.BACKUPS).glob("*/workshop_app/config.py")
    assert backup.read_text() == "MY_EDIT = True\n"
    assert "workshop_app/config.py" in out and str(backup.parents[1]) in out


def test_the_welcome_leaves_a_learners_package_alone(tmp_path):
    notebook.start("05_dependencies")
    before = sorted((tmp_path / "workspace").rglob("*.py"))
    notebook.start("00_welcome")
    assert sorted((tmp_path / "workspace").rglob("*.py")) == before


def test_the_first_notebooks_say_what_they_do(capsys):
    notebook.start("00_welcome")
    notebook.start("01_structure")
    assert capsys.readouterr().out.splitlines() == [
        "Workshop toolkit ready for 00_welcome: this notebook writes no code.",
        "Workshop toolkit ready for 01_structure: this notebook starts your workshop_app.",
    ]


def test_show_changes_is_the_diff_of_this_notebooks_write():
    notebook.start("04_middleware")
    changes = notebook.show_changes("workshop_app/main.py")
    text = repr(changes)
    assert text.startswith("workshop_app/main.py: +2 -0 lines")
    assert "+    register_middleware(app, settings)" in text
    html = changes._repr_mimebundle_()["text/html"]
    assert "color:#1a7f37" in html and "register_middleware" in html
    with pytest.raises(KeyError, match="does not write"):
        notebook.show_changes("workshop_app/main.py", step=2)


def test_capture_logs_collects_app_records():
    with notebook.capture_logs() as records:
        logging.getLogger("workshop_app.probe").info("hello %s", "logs")
    logging.getLogger("workshop_app.probe").info("not captured")
    assert [r.getMessage() for r in records] == ["hello logs"]


def test_the_files_a_notebook_supplies_are_in_place_when_it_starts(tmp_path):
    notebook.start("06_data")
    root = tmp_path / "workspace"
    assert (root / "data" / "seed" / "users.json").read_bytes() == (
        ws.REPO_ROOT / "data" / "seed" / "users.json"
    ).read_bytes()
    assert not (root / "workshop_app" / "seed.py").exists()  # a cell of 06 writes that one
