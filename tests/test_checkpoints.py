"""The notebooks build the app: every checkpoint stands on its own, and the last is the app.

Checkpoint N is the package as notebooks 01..N leave it (``data/reference/checkpoints.json``,
generated from the notebooks' ``%%writefile`` cells). Each one is written to a folder of its
own and tried in a fresh interpreter that cannot see the repository's ``workshop_app``:
every module imports, ``create_app()`` builds, ``/health/live`` answers 200. No module
imports one that a later notebook writes, not even inside a function. The writes of all
notebooks, applied in order, are the repository's ``workshop_app/`` byte for byte.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workshop_lab import workspace as ws

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import checkpoints as checkpoint_tool  # noqa: E402

CHECKPOINTS = ws.load_checkpoints()
WRITING = [n for n in CHECKPOINTS.notebook_ids if CHECKPOINTS.files_after(n)]

# Run in a fresh interpreter inside the exported checkpoint. The editable install would
# fill any gap from the repository, so its finder goes first; then nothing but the
# checkpoint provides workshop_app.
PROBE = r"""
import asyncio, importlib, json, sys
from pathlib import Path

root = Path.cwd()
sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_EditableFinder"]
sys.path.insert(0, str(root))
import workshop_app

assert Path(workshop_app.__file__).resolve().is_relative_to(root), workshop_app.__file__
names = sorted(
    ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for p in (root / "workshop_app").rglob("*.py")
    if "alembic" not in p.parts  # env.py runs migrations when imported: alembic imports it
)
for name in names:
    importlib.import_module(name)
report = {"modules": len(names)}
if (root / "workshop_app" / "main.py").exists():
    import httpx
    from asgi_lifespan import LifespanManager
    from workshop_app.config import Settings
    from workshop_app.main import create_app

    async def probe():
        app = create_app(Settings(environment="test", log_level="WARNING"))
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                paths = ("/health/live", "/health/ready")
                return {p: (await client.get(p)).status_code for p in paths}

    report["status"] = asyncio.run(probe())
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("checkpoints")
    checkpoint_tool.export(CHECKPOINTS, folder)
    return folder


def test_the_checkpoints_file_is_generated_from_the_notebooks():
    built = checkpoint_tool.build()
    assert ws.dump_checkpoints(built) == (ROOT / ws.CHECKPOINTS_FILE).read_text(encoding="utf-8"), (
        "data/reference/checkpoints.json is stale: run `python tools/checkpoints.py`"
    )


def test_all_writes_in_order_are_the_repository_app_byte_for_byte():
    final = CHECKPOINTS.files_after(None)
    for relpath, text in final.items():
        assert (ROOT / relpath).read_bytes() == text.encode("utf-8"), relpath
    app_files = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "workshop_app").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert app_files - set(final) == set(), "files of workshop_app/ that no notebook writes"


def _module_of(relpath: str) -> str:
    return relpath.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _top_level_names(module: str, text: str) -> set[str]:
    """Names a module binds at its top level (what ``from it import name`` can find); a
    package importing its own submodules does not count, that is what is checked."""
    names = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and node.module == module:
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def forward_imports(files: dict[str, str]) -> list[str]:
    """Imports of ``workshop_app`` modules that are not in ``files`` (a later notebook's),
    module-level or inside a function alike."""
    modules = {_module_of(p): text for p, text in files.items() if p.endswith(".py")}
    problems = []
    for relpath, text in sorted(files.items()):
        if not relpath.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                wanted = [node.module]
                if node.module in modules:  # `from a.b import c`: a name of a.b, or a.b.c
                    defined = _top_level_names(node.module, modules[node.module])
                    missing = [a.name for a in node.names if a.name not in defined]
                    wanted += [f"{node.module}.{name}" for name in missing]
            else:
                continue
            for name in wanted:
                if name.startswith("workshop_app") and name not in modules:
                    problems.append(f"{relpath} imports {name}, which is not written yet")
    return problems


def test_the_forward_import_check_catches_a_lazy_import_and_a_missing_submodule():
    files = {
        "workshop_app/__init__.py": "",
        "workshop_app/main.py": "def f():\n    from workshop_app.lifespan import lifespan\n",
        "workshop_app/routers/__init__.py": "from workshop_app.routers import health, me\n",
        "workshop_app/routers/health.py": "router = 1\n",
        "workshop_app/app.py": "from workshop_app.routers.health import router\n",
    }
    assert forward_imports(files) == [
        "workshop_app/main.py imports workshop_app.lifespan, which is not written yet",
        "workshop_app/routers/__init__.py imports workshop_app.routers.me, "
        "which is not written yet",
    ]


@pytest.mark.parametrize("notebook", WRITING)
def test_no_module_imports_one_a_later_notebook_writes(notebook):
    assert forward_imports(CHECKPOINTS.files_after(notebook)) == []


@pytest.mark.parametrize("notebook", WRITING)
def test_each_checkpoint_imports_builds_and_answers_on_its_own(notebook, exported):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=exported / notebook,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["modules"] > 0
    if CHECKPOINTS.files_after(notebook).get("workshop_app/main.py"):
        assert report["status"]["/health/live"] == 200
        assert report["status"]["/health/ready"] == 200


def test_every_checkpoint_passes_the_linter(exported):
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--config", str(ROOT / "pyproject.toml"), str(exported)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    result = subprocess.run(
        [str(ruff), "format", "--check", "--config", str(ROOT / "pyproject.toml"), str(exported)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


# Exercises and "predict, then run" questions run in the learner's kernel against the
# learner's package as the notebook leaves it: try them there, through the toolkit's own
# import guard (lab.start installs the same one).
BEHAVIOUR_PROBE = r"""
import json, sys
from pathlib import Path

from workshop_lab.notebook import _use_workspace

_use_workspace(Path.cwd())
from workshop_lab.exercises import check, exercises_for
from workshop_lab.quizzes import load_bank, observe
from workshop_lab.quizzes.bank import QUIZ_DIR
from workshop_lab.quizzes.models import Predict
from workshop_lab.quizzes.models import prediction_key
from workshop_lab.quizzes.grading import run

notebook = sys.argv[1]
report = {"predict": {}, "exercises": {}}
for question in load_bank(QUIZ_DIR / f"{notebook}.toml").questions:
    if isinstance(question, Predict):
        actual = observe(question, run(question))
        same = prediction_key(question.target, actual) == prediction_key(
            question.target, question.answer
        )
        report["predict"][question.id] = [same, repr(actual), repr(question.answer)]
for exercise in exercises_for(notebook):
    good = check(exercise.id, exercise.load(exercise.solution))
    bad = check(exercise.id, exercise.load(exercise.starter))
    report["exercises"][exercise.id] = [good.passed, good.hint, bad.passed, bad.hint]
print(json.dumps(report))
"""


@pytest.mark.parametrize("notebook", CHECKPOINTS.notebook_ids)
def test_exercises_and_predict_questions_hold_at_their_checkpoint(notebook, tmp_path):
    folder = tmp_path / "workspace"
    for relpath, text in CHECKPOINTS.files_after(notebook).items():
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_text(text, encoding="utf-8")
    folder.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", BEHAVIOUR_PROBE, notebook],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "",
            "PYTHONDONTWRITEBYTECODE": "1",
            "WORKSHOP_WORKSPACE": str(folder),
            "WORKSHOP_PROGRESS_FILE": str(tmp_path / "progress.sqlite3"),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for question_id, (same, actual, answer) in report["predict"].items():
        assert same, f"{notebook} quiz {question_id}: the bank says {answer}, the app {actual}"
    for exercise_id, (solution_passes, hint, starter_passes, starter_hint) in report[
        "exercises"
    ].items():
        assert solution_passes, f"{exercise_id}: the solution fails at its checkpoint: {hint}"
        assert not starter_passes, f"{exercise_id}: the starter passes at its checkpoint"
        # The starter runs (it is just not finished): a hint, not a crash.
        assert starter_hint and "raised" not in starter_hint, starter_hint
