"""The import rules of the reference app, checked on its source.

routers -> services -> models: services never import FastAPI or Starlette,
models never import services, lower layers never import the HTTP layer, and
nothing in the app imports the learner toolkit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[1] / "workshop_app"

HTTP = ("fastapi", "starlette")
# (layer prefix, forbidden import prefixes, why)
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("workshop_app.services", HTTP, "services hold business rules; HTTP belongs to routers"),
    (
        "workshop_app.services",
        (
            "workshop_app.error_handlers",
            "workshop_app.routers",
            "workshop_app.dependencies",
            "workshop_app.main",
        ),
        "services sit below the HTTP layer: raise workshop_app.exceptions, the handlers answer",
    ),
    (
        "workshop_app.exceptions",
        (*HTTP, "pydantic", "workshop_app"),
        "domain errors are raised by every layer, so they import only the standard library",
    ),
    (
        "workshop_app.request_context",
        (*HTTP, "workshop_app"),
        "the request context is the floor every layer may import: it imports none of them",
    ),
    (
        "workshop_app.models",
        ("workshop_app.services", "workshop_app.routers", *HTTP),
        "models are the bottom layer",
    ),
    (
        "workshop_app.schemas",
        ("workshop_app.services", "workshop_app.routers"),
        "schemas describe data, they do not call code",
    ),
    (
        "workshop_app.config",
        ("workshop_app.main", "workshop_app.routers", "workshop_app.services"),
        "settings are read by every layer, so they import none of them",
    ),
    (
        "workshop_app.events",
        (*HTTP, "workshop_app.services", "workshop_app.routers", "workshop_app.dependencies"),
        "domain events are plain data that services create: no HTTP, no database code",
    ),
    *[
        (
            module,
            (*HTTP, "workshop_app.routers", "workshop_app.dependencies", "workshop_app.main"),
            "events are handled after the response, outside HTTP: a script could run them",
        )
        for module in (
            "workshop_app.event_bus",
            "workshop_app.event_relay",
            "workshop_app.event_handlers",
        )
    ],
    (
        "workshop_app.database",
        ("workshop_app.routers", "workshop_app.services"),
        "the database layer sits below services",
    ),
    (
        "workshop_app.lifespan",
        ("workshop_app.main", "workshop_app.routers", "workshop_app.dependencies"),
        "the lifespan builds what requests use: it never imports the HTTP layer that uses it",
    ),
]
TOOLKIT = "workshop_lab"


def module_name(path: Path, app_dir: Path) -> str:
    parts = path.relative_to(app_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found |= {f"{base}.{alias.name}".strip(".") for alias in node.names}
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(app_dir: Path = APP_DIR) -> list[str]:
    problems = []
    for path in sorted(app_dir.rglob("*.py")):
        module = module_name(path, app_dir)
        imported = imports_of(path, module)
        for name in sorted(n for n in imported if _within(n, TOOLKIT)):
            problems.append(f"{module} imports {name}: the app never imports the toolkit")
        for layer, forbidden, why in RULES:
            if not _within(module, layer):
                continue
            for name in sorted(imported):
                if any(_within(name, bad) for bad in forbidden):
                    problems.append(f"{module} imports {name}: {why}")
    return problems


def test_the_package_keeps_the_layering_rule():
    assert violations() == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("services/users.py", "from fastapi import HTTPException\n", "HTTP belongs to routers"),
        ("services/orders.py", "import starlette.status\n", "HTTP belongs to routers"),
        ("services/users.py", "from workshop_app.error_handlers import X\n", "below the HTTP"),
        (
            "services/users.py",
            "from ..error_handlers import app_error_response\n",
            "below the HTTP",
        ),
        ("request_context.py", "from workshop_app.config import Settings\n", "the floor"),
        ("services/orders.py", "from ..dependencies import SessionDep\n", "below the HTTP"),
        ("exceptions.py", "from starlette.exceptions import HTTPException\n", "standard library"),
        ("exceptions.py", "import fastapi\n", "only the standard library"),
        ("exceptions.py", "from pydantic import BaseModel\n", "only the standard library"),
        ("models/user.py", "from ..services import users\n", "models are the bottom layer"),
        ("models/order.py", "from workshop_app.routers import x\n", "bottom layer"),
        ("config.py", "from workshop_app.main import create_app\n", "settings are read"),
        ("lifespan.py", "from workshop_app.dependencies import SessionDep\n", "never imports"),
        ("lifespan.py", "from .routers import register_routers\n", "HTTP layer that uses it"),
        ("main.py", "from workshop_lab import quiz\n", "never imports the toolkit"),
        ("routers/health.py", "import workshop_lab.client\n", "never imports the toolkit"),
        ("events.py", "from pydantic import BaseModel\nimport fastapi\n", "plain data"),
        ("event_bus.py", "from fastapi import Request\n", "outside HTTP"),
        ("event_relay.py", "from starlette.background import BackgroundTask\n", "outside HTTP"),
        ("event_handlers.py", "from .dependencies import SessionDep\n", "outside HTTP"),
    ],
)
def test_the_checker_catches_each_kind_of_violation(tmp_path, relative, source, expected):
    app_dir = tmp_path / "workshop_app"
    target = app_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    (app_dir / "__init__.py").touch()
    (target.parent / "__init__.py").touch()
    target.write_text(source)
    problems = violations(app_dir)
    assert len(problems) == 1 and expected in problems[0], problems


def test_services_may_raise_the_domain_errors(tmp_path):
    app_dir = tmp_path / "workshop_app"
    (app_dir / "services").mkdir(parents=True)
    (app_dir / "services" / "users.py").write_text(
        "from workshop_app.exceptions import ConflictError\nfrom ..exceptions import AppError\n"
    )
    assert violations(app_dir) == []


def import_graph(app_dir: Path = APP_DIR) -> dict[str, set[str]]:
    """Which app modules each app module imports, inside functions included."""
    paths = {module_name(p, app_dir): p for p in app_dir.rglob("*.py")}
    graph = {}
    for module, path in paths.items():
        found = set()
        for name in imports_of(path, module):
            while name and name not in paths:  # `from a.b import c`: c may be a name in a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
        graph[module] = found
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle of imports, each as the modules around it (found by depth-first search)."""
    cycles, done, stack = [], set(), []

    def visit(module: str) -> None:
        if module in stack:
            cycles.append(stack[stack.index(module) :] + [module])
            return
        if module in done:
            return
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            visit(target)
        stack.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    return cycles


def test_no_import_cycle_between_app_modules_not_even_inside_a_function():
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_sees_an_import_inside_a_function(tmp_path):
    app_dir = tmp_path / "workshop_app"
    app_dir.mkdir()
    (app_dir / "__init__.py").touch()
    (app_dir / "a.py").write_text("from workshop_app.b import B\n")
    (app_dir / "b.py").write_text("def f():\n    from workshop_app.a import A\n")
    assert import_cycles(import_graph(app_dir)) == [
        ["workshop_app.a", "workshop_app.b", "workshop_app.a"]
    ]


def _python_lines(folder: Path, *, without: str | None = None) -> int:
    files = (path for path in folder.rglob("*.py") if without is None or without not in path.parts)
    return sum(len(path.read_text(encoding="utf-8").splitlines()) for path in files)


def test_the_toolkit_stays_smaller_than_the_app_it_teaches():
    """The tooling around the exercises (client, display, quizzes, progress, workspace,
    servers) must not outgrow the app. The exercise checks are counted apart: they hold a
    probe and a hint for each class of mistake a learner makes, and grow with the exercises."""
    toolkit = _python_lines(APP_DIR.parent / "workshop_lab", without="exercises")
    app = _python_lines(APP_DIR, without="alembic")
    assert toolkit <= app, (
        f"workshop_lab (without exercises/) has {toolkit} lines, the app {app}: merge or "
        "delete toolkit code rather than add to it"
    )
