"""The notebooks are tests: these checks keep them honest.

nbval (run by the same pytest command) compares every stored output. The rules
here catch what nbval cannot: a notebook saved without outputs compares
nothing; outputs from a reused kernel; a package that drifted from the cells
that are supposed to be its source. That every notebook runs twice in one kernel is
checked by nbval's own run: the item ``second run in the same kernel`` of each notebook
(``conftest.py`` at the root), proven below on a notebook that breaks when run twice.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_rules import (
    MAX_ADDED_LINES,
    ROOT,
    churn_problems,
    execution_problems,
    load,
    notebook_paths,
    writefile_problems,
)

sys.path.insert(0, str(ROOT / "tools"))
import regen  # noqa: E402

NOTEBOOKS = notebook_paths()
IDS = [path.stem for path in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_come_from_one_fresh_run(path):
    assert execution_problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_widget_state_or_timing_stored(path):
    assert churn_problems(path) == []


def test_writefile_cells_build_the_package_in_shown_small_steps():
    assert writefile_problems() == []


# --- the rules themselves fail on deliberately broken notebooks and files -----------


def _write(folder: Path, name: str, nb: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(nb))
    return path


def _notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(src: str, count: int | None, outputs: list | None = None, **meta) -> dict:
    return {
        "cell_type": "code",
        "source": src,
        "execution_count": count,
        "outputs": outputs or [],
        "metadata": meta,
    }


STREAM = {"output_type": "stream", "name": "stdout", "text": "hi\n"}


def test_execution_rule_catches_unrun_and_reordered_and_failed(tmp_path):
    good = _write(tmp_path, "00_good.ipynb", _notebook(_code("print('hi')", 1, [STREAM])))
    assert execution_problems(good) == []
    unrun = _write(tmp_path, "01_unrun.ipynb", _notebook(_code("print('hi')", None)))
    assert any("execution counts" in p for p in execution_problems(unrun))
    assert any("no stored output" in p for p in execution_problems(unrun))
    reused = _write(
        tmp_path,
        "02_reused.ipynb",
        _notebook(_code("x = 1", 3), _code("print('hi')", 4, [STREAM])),
    )
    assert any("not 1..2" in p for p in execution_problems(reused))
    error = {"output_type": "error", "ename": "E", "evalue": "", "traceback": []}
    failed = _write(tmp_path, "03_failed.ipynb", _notebook(_code("1/0", 1, [error])))
    assert any("error output" in p for p in execution_problems(failed))


def test_execution_rule_knows_which_cells_print(tmp_path):
    quiet = _notebook(_code("x = 1", 1), _code("import os", 2), _code("x;", 3))
    assert execution_problems(_write(tmp_path, "00_quiet.ipynb", quiet)) == []
    for number, src in enumerate(["x", "%%writefile a.py\nx = 1", "await f()"], start=1):
        nb = _write(tmp_path, f"0{number}_loud.ipynb", _notebook(_code(src, 1)))
        assert any("no stored output" in p for p in execution_problems(nb)), src


def test_churn_rule_catches_widget_state_and_timing(tmp_path):
    nb = _notebook(_code("x = 1", 1, execution={"iopub.status.busy": "2026-01-01"}))
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    problems = churn_problems(_write(tmp_path, "00_churn.ipynb", nb))
    assert len(problems) == 2


def test_writefile_rule_wants_workspace_paths_diffs_before_rewrites_and_small_steps(tmp_path):
    def writes(*cells: str) -> dict:
        return _notebook(*(_code(src, n, [STREAM]) for n, src in enumerate(cells, start=1)))

    first = _write(tmp_path, "01_a.ipynb", writes("%%writefile workshop_app/config.py\nX = 1"))
    shown = _write(
        tmp_path,
        "02_b.ipynb",
        writes(
            'lab.show_changes("workshop_app/config.py")',
            "%%writefile workshop_app/config.py\nX = 1\nY = 2",
            'lab.show_changes("workshop_app/config.py", step=2)',
            "%%writefile workshop_app/config.py\nX = 1\nY = 3",
        ),
    )
    assert writefile_problems([first, shown]) == []

    unshown = _write(tmp_path, "02_b.ipynb", writes("%%writefile workshop_app/config.py\nX = 2"))
    assert writefile_problems([first, unshown]) == [
        "02_b.ipynb cell 1: rewrites workshop_app/config.py without "
        'lab.show_changes("workshop_app/config.py") first'
    ]
    relative = _write(tmp_path, "03_c.ipynb", writes("%%writefile ../workshop_app/main.py\nY = 2"))
    absolute = _write(tmp_path, "04_d.ipynb", writes(f"%%writefile {tmp_path}/main.py\nY = 2"))
    problems = writefile_problems([relative, absolute])
    assert len(problems) == 2 and all("path in the workspace" in p for p in problems)

    big = "\n".join(f"X{n} = {n}" for n in range(MAX_ADDED_LINES + 1))
    wall = _write(tmp_path, "05_e.ipynb", writes(f"%%writefile workshop_app/big.py\n{big}"))
    assert writefile_problems([wall]) == [
        f"05_e.ipynb cell 1: adds {MAX_ADDED_LINES + 1} lines to workshop_app/big.py at once "
        f"(at most {MAX_ADDED_LINES}): build it up in steps"
    ]


def _run_nbval(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with nbval (strict) and the repository's conftest, and no other plugin (they
    take seconds to import), on the notebooks in ``folder``."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(folder / "pytest.ini"), "-p", "nbval"]
        + ["-p", "conftest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env"]
        + ["-rA", *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_nbval_runs_each_notebook_again_in_its_kernel_and_names_the_cell_that_breaks(tmp_path):
    def notebook(*sources_and_outputs: tuple[str, list]) -> dict:
        cells = [_code(src, n, outs) for n, (src, outs) in enumerate(sources_and_outputs, start=1)]
        return _notebook(*({**cell, "id": f"cell-{n}"} for n, cell in enumerate(cells)))

    good = notebook(("x = 1", []), ("print('hi')", [STREAM]))
    _write(tmp_path, "00_good.ipynb", good)
    once = notebook(("import pathlib", []), ("pathlib.Path('made-by-a-run').mkdir()", []))
    _write(tmp_path, "01_once.ipynb", once)

    result = _run_nbval(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out[-3000:] + result.stderr[-3000:]
    # nbval's run passes every cell, and the good notebook's second run too ...
    assert "1 failed, 5 passed" in out, out[-3000:]
    assert "PASSED 00_good.ipynb::second run in the same kernel" in out, out[-3000:]
    assert "PASSED 01_once.ipynb::Cell 1" in out, out[-3000:]
    # ... and the second run, in that same kernel, fails on the cell that cannot run twice.
    assert "FAILED 01_once.ipynb::second run in the same kernel" in out, out[-3000:]
    assert "01_once.ipynb: Cell 1 failed on the second run in one kernel" in out, out[-3000:]
    assert "pathlib.Path('made-by-a-run').mkdir()" in out and "FileExistsError" in out

    # Chosen on its own, the item runs the notebook twice itself, in a fresh kernel.
    (tmp_path / "made-by-a-run").rmdir()
    alone = _run_nbval(tmp_path, "01_once.ipynb::second run in the same kernel")
    assert "= 1 failed in" in alone.stdout, alone.stdout[-3000:]
    assert "01_once.ipynb: Cell 1 failed on the second run in one kernel" in alone.stdout


# --- anatomy and navigation --------------------------------------------------------


def _markdown(path: Path) -> str:
    return "\n".join(
        "".join(cell["source"]) for cell in load(path)["cells"] if cell["cell_type"] == "markdown"
    )


LAYER_NOTEBOOKS = NOTEBOOKS[1:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_has_the_workshop_anatomy(path):
    text = _markdown(path)
    cells = load(path)["cells"]
    assert "".join(cells[0]["source"]).startswith(f"# {path.stem[:2]} · ")
    assert "**Objectives**" in text and "**Time:**" in text
    assert "## Key takeaways" in text
    assert any(
        cell["cell_type"] == "markdown"
        and "".join(cell["source"]).startswith("> **Instructor notes**")
        for cell in cells
    )
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert f'lab.start("{path.stem}")' in "".join(code[0]["source"])
    assert any(f'lab.quiz("{path.stem}")' in "".join(cell["source"]) for cell in code)


@pytest.mark.parametrize("path", LAYER_NOTEBOOKS, ids=IDS[1:])
def test_layer_notebooks_link_to_the_map_and_to_the_next_notebook(path):
    text = _markdown(path)
    assert "(00_welcome.ipynb#The-notebooks)" in text
    later = [p for p in NOTEBOOKS if p.name > path.name]
    if later:
        assert f"]({later[0].name})" in text, f"{path.name} should link to {later[0].name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_relative_links_resolve(path):
    import re

    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", _markdown(path)):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_the_welcome_map_lists_every_notebook():
    text = _markdown(NOTEBOOKS[0])
    for path in NOTEBOOKS:
        assert f"]({path.name})" in text, f"the map in 00_welcome misses {path.name}"


def test_the_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"](notebooks/{path.name})" in readme, f"README.md misses {path.name}"


# --- times: each notebook states its own; the map and the README repeat them -------------


def _stated_minutes(path: Path) -> int:
    first = "".join(load(path)["cells"][0]["source"])
    found = re.search(r"\*\*Time:\*\* about (\d+) minutes", first)
    assert found, f"{path.name}: the first cell says '**Time:** about N minutes.'"
    return int(found.group(1))


MINUTES = {path.name: _stated_minutes(path) for path in NOTEBOOKS}


def _core_path_minutes(text: str) -> tuple[list[str], int]:
    found = re.search(r"core path,? \**((?:\d\d(?:\s+→\s+)?)+)\**", text)
    assert found, "the one-day core path is stated as '00 → 02 → ...'"
    numbers = re.split(r"\s+→\s+", found.group(1))
    return numbers, sum(m for name, m in MINUTES.items() if name[:2] in numbers)


@pytest.mark.parametrize(
    ("where", "row"),
    [
        ("README.md", r"\]\(notebooks/(\d\d_\w+\.ipynb)\) \|.*\| (\d+) min \|"),
        ("notebooks/00_welcome.ipynb", r"\]\((\d\d_\w+\.ipynb)\) \|.*\| (\d+) min \|"),
    ],
)
def test_the_map_and_the_readme_give_each_notebooks_own_time_and_true_totals(where, row):
    path = ROOT / where
    text = _markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    listed = {name: int(minutes) for name, minutes in re.findall(row, text)}
    assert listed == MINUTES, f"{where}: the times differ from the notebooks' own"
    hours = round(sum(MINUTES.values()) / 60)
    assert re.search(rf"[Aa]bout {hours} hours of material", text), f"{where}: {hours} hours"
    numbers, minutes = _core_path_minutes(text)
    assert numbers[0] == "00" and numbers[-1] == "12"
    assert f"about {round(minutes / 60)} hours" in text, f"{where}: core path {minutes} min"


def test_regen_stores_one_output_per_run_of_stream_text():
    stream = nbformat.v4.new_output
    outputs = [
        stream("stream", name="stdout", text="404"),
        stream("stream", name="stdout", text=" application/json\n"),
        stream("stream", name="stderr", text="warning\n"),
        stream("execute_result", data={"text/plain": "1"}, execution_count=1),
        stream("stream", name="stdout", text="after\n"),
    ]
    merged = regen.coalesce_streams(outputs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "404 application/json\n"),
        ("stream", "stderr", "warning\n"),
        ("execute_result", None, None),
        ("stream", "stdout", "after\n"),
    ]
