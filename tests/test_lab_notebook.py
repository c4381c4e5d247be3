"""start() and reload_app(): what makes rewriting the package from a notebook safe."""

from __future__ import annotations

import logging
import sys

import pytest
from sqlmodel import SQLModel

from workshop_lab import notebook


@pytest.fixture(autouse=True)
def keep_app_modules():
    """Put the forgotten modules back, so later tests share one set of classes."""
    saved = {
        name: module for name, module in sys.modules.items() if name.startswith("workshop_app")
    }
    saved_tables = list(SQLModel.metadata.tables.values())
    yield
    sys.modules.update(saved)
    for name, module in saved.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    # reload_app() cleared the metadata: give the restored model classes their tables back.
    SQLModel.metadata.clear()
    for table in saved_tables:
        SQLModel.metadata._add_table(table.name, table.schema, table)


def test_reload_app_forgets_app_modules_but_not_the_toolkit():
    import workshop_app.config  # noqa: F401

    dropped = notebook.reload_app()
    assert "workshop_app.config" in dropped
    assert "workshop_app.config" not in sys.modules
    assert "workshop_lab.notebook" in sys.modules
    assert "workshop_app" in sys.modules
    assert not any(name.startswith("workshop_lab") for name in dropped)


def test_reload_app_also_forgets_the_package_attribute():
    import workshop_app
    from workshop_app import errors as before

    notebook.reload_app()
    assert not hasattr(workshop_app, "errors")
    from workshop_app import errors as after

    assert after is not before


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


def test_start_remembers_the_notebook_and_stops_bytecode(monkeypatch, capsys):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    notebook.start("99_probe")
    assert sys.dont_write_bytecode is True
    assert notebook.current_notebook() == "99_probe"
    assert capsys.readouterr().out == "Workshop toolkit ready for 99_probe.\n"


def test_capture_logs_collects_app_records():
    with notebook.capture_logs() as records:
        logging.getLogger("workshop_app.probe").info("hello %s", "logs")
    logging.getLogger("workshop_app.probe").info("not captured")
    assert [r.getMessage() for r in records] == ["hello logs"]
