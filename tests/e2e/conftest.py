"""Fixtures for the browser tests: one JupyterLab and one Chromium for the module.

Module scope, not session: Playwright's sync API keeps an event loop running while the
browser is open, which breaks every async test that would run after it in the session.

Without Playwright or ``/usr/bin/chromium`` the tests are skipped, saying why; with
``CI=true`` they fail instead, because CI (``.ci/run``) installs both and must run them.
Afterwards the fixtures check that the browser run wrote nothing it must not: the
notebooks it opened are byte for byte as before (autosave is off), ``git diff --quiet
notebooks/`` still holds if it held. The kernels' progress file is the session's own (the
welcome test finds its quiz answers there), never the learner's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from lab_server import (
    CHROMIUM,
    LAUNCH_ARGS,
    ROOT,
    SCREENSHOTS,
    LabServer,
    browser_unavailable,
    start_lab,
    stop_lab,
)

CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser_required() -> None:
    """Skip (locally) or fail (in CI) when the browser tests cannot run."""
    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(browser_required: None) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # Widget callbacks run in the kernel (a predict question builds and calls an app): give
    # them more than the default 5 s on a busy 2-core machine.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _notebooks_diff_quiet() -> bool | None:
    """Whether `git diff --quiet notebooks/` holds; None outside a git checkout."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    diff = subprocess.run(
        ["git", "diff", "--quiet", "--", "notebooks/"], cwd=ROOT, capture_output=True, check=False
    )
    return {0: True, 1: False}.get(diff.returncode)  # anything else: git could not tell


@pytest.fixture(scope="module")
def lab(browser_required: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One JupyterLab for the browser tests, stopped by its process id even when one failed."""
    diff_was_quiet = _notebooks_diff_quiet()
    server = start_lab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        docmanager = server.request("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        assert docmanager["settings"].get("autosave") is False, "JupyterLab autosave is on"
        yield server
    finally:
        stop_lab(server)
    changed = server.changed_notebooks()
    # (On a shared work tree, an author regenerating a notebook meanwhile also trips these.)
    assert not changed, f"notebooks changed on disk during the browser run: {changed}"
    if diff_was_quiet:
        assert _notebooks_diff_quiet(), "`git diff --quiet notebooks/` no longer holds"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; a screenshot of the page when the test failed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        if request.node.stash.get(CALL_FAILED, False):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)
            # A crashed page cannot be photographed: the failure itself is the report.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(SCREENSHOTS / f"{name}-failure.png"))
        context.close()
