"""Drive one notebook in JupyterLab the way a learner does: command palette, dialogs, buttons.

What the learner sees is read from the page (output areas, widget views); what only the
notebook model knows (output types, execution counts, kernel status) is read through
``window.jupyterapp`` (the server runs with ``expose_app_in_browser``). Every wait polls a
condition under a deadline; none sleeps a fixed time. Text is matched only inside widget output
areas, because the notebook's own source and markdown contain the same words.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Locator, Page

T = TypeVar("T")

RUN_TIMEOUT = 240.0  # a whole notebook in a fresh kernel, on a busy 2-core machine
STEP_TIMEOUT = 60.0  # one kernel start or restart, one cell, one widget callback
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MAX_SCREENSHOT_HEIGHT = 16_000

_FIND_PANEL = """
const findPanel = (path) => [...window.jupyterapp.shell.widgets('main')]
  .find((w) => w.context && w.context.path === path && w.content && w.content.model);
"""

_STATE_JS = (
    "(path) => {"
    + _FIND_PANEL
    + """
  const panel = findPanel(path);
  if (!panel) return null;
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  const cells = [];
  for (const cell of panel.content.model.cells) {
    if (cell.type !== 'code') continue;
    cells.push({
      source: cell.sharedModel.getSource(),
      count: cell.executionCount,
      running: cell.executionState === 'running',
      outputs: cell.outputs.toJSON().map((o) => ({
        type: o.output_type,
        mimes: Object.keys(o.data || {}),
        ename: o.ename || null,
        evalue: o.evalue || null,
      })),
    });
  }
  const outputs = [...panel.content.node.querySelectorAll('.jp-OutputArea-output')];
  const text = (node) => node.textContent.trim();
  return {
    id: panel.id,
    kernel: kernel ? kernel.status : null,
    cells,
    starPrompts: [...panel.content.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
      .filter((node) => text(node).includes('*')).length,
    // A widget view that rendered holds a widget element; a failed one is only text.
    widgetsRendered: outputs.filter((node) => node.querySelector('.jupyter-widgets')).length,
    widgetsLoading: outputs.filter((node) => text(node) === 'Loading widget...').length,
    widgetErrors: outputs.map(text).filter((t) => t.startsWith('Error displaying widget')),
    tracebacks: [...panel.content.node.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map(text).filter((t) => t.includes('Traceback')),
    flags: window.__e2e ? {...window.__e2e} : null,
  };
}"""
)

# What the kernel did since we asked, in window.__e2e (a restart; the execution count of every
# cell it began to run): proof that a restart and a run really happened, whatever the prompts
# showed before (the stored ones read [1]..[n] too).
_WATCH_JS = (
    "(path) => {"
    + _FIND_PANEL
    + """
  const panel = findPanel(path);
  window.__e2e = {restarted: false, executed: []};
  if (!panel.__e2eWatching) {
    panel.__e2eWatching = true;
    panel.sessionContext.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting') window.__e2e.restarted = true;
    });
    panel.sessionContext.iopubMessage.connect((_, message) => {
      if (message.header.msg_type === 'execute_input') {
        window.__e2e.executed.push(message.content.execution_count);
      }
    });
  }
}"""
)


def poll(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    """Call `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class NotebookUI:
    """One notebook open in its own JupyterLab workspace."""

    def __init__(self, page: Page, url: str, notebook: str) -> None:
        self.page = page
        self.url = url
        self.notebook = notebook
        self.path = f"notebooks/{notebook}.ipynb"
        self.panel: Locator | None = None

    # -- reading the model --------------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        return self.page.evaluate(_STATE_JS, self.path)

    # -- opening and running --------------------------------------------------------------
    def open(self) -> None:
        """Open the notebook and wait until its kernel is up and idle."""
        self.page.goto(self.url, wait_until="domcontentloaded")
        state = poll(
            lambda: (s := self._state_if_ready()) and s["kernel"] == "idle" and s,
            STEP_TIMEOUT * 2,
            f"{self.path} to open with an idle kernel",
        )
        self.panel = self.page.locator(f'.jp-NotebookPanel[id="{state["id"]}"]')

    def _state_if_ready(self) -> dict[str, Any] | None:
        ready = self.page.evaluate("() => Boolean(window.jupyterapp && window.jupyterapp.shell)")
        return self.state() if ready else None

    def command(self, label: str) -> None:
        """Run a command from the command palette, picking the entry by its exact label."""
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+Shift+C")
        search = self.page.locator(".lm-CommandPalette-input")
        search.wait_for(state="visible")
        search.fill(label)
        entry = self.page.locator(".lm-CommandPalette-item").filter(
            has=self.page.locator(
                ".lm-CommandPalette-itemLabel", has_text=re.compile(rf"^{re.escape(label)}…?$")
            )
        )
        entry.first.click()

    def accept_dialog(self, title: str) -> None:
        dialog = self.page.locator(".jp-Dialog").filter(
            has=self.page.locator(".jp-Dialog-header", has_text=title)
        )
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="detached")

    def restart_kernel_and_run_all(self) -> list[dict[str, Any]]:
        """Kernel > Restart Kernel and Run All Cells, confirmed; wait until every cell ran.

        Returns the code cells. Stops waiting early when a cell failed (the rest never run).
        """
        self.page.evaluate(_WATCH_JS, self.path)
        self.command("Restart Kernel and Run All Cells")
        self.accept_dialog("Restart Kernel?")
        state = poll(self._run_finished, RUN_TIMEOUT, f"every cell of {self.path} to run")
        return state["cells"]

    def _run_finished(self) -> dict[str, Any] | None:
        state = self.state()
        restarted = state is not None and (state["flags"] or {}).get("restarted")
        if not restarted or state["kernel"] != "idle":
            return None
        failed = any(o["type"] == "error" for c in state["cells"] for o in c["outputs"])
        if failed:
            return state
        code = [c for c in state["cells"] if c["source"].strip()]  # empty cells never run
        done = (
            len(state["flags"]["executed"]) >= len(code)
            and state["starPrompts"] == 0
            and not any(c["running"] or c["count"] is None for c in code)
        )
        return state if done else None

    def restart_kernel(self) -> None:
        """Kernel > Restart Kernel, confirmed; wait until the new kernel is idle."""
        self.page.evaluate(_WATCH_JS, self.path)
        self.command("Restart Kernel")
        self.accept_dialog("Restart Kernel?")
        poll(
            lambda: (s := self.state()) and s["flags"]["restarted"] and s["kernel"] == "idle",
            STEP_TIMEOUT,
            f"the kernel of {self.path} to restart",
        )

    def cell(self, source_contains: str) -> Locator:
        """The one code cell whose source contains the text."""
        assert self.panel is not None
        cells = self.panel.locator(".jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=source_contains)
        )
        assert cells.count() == 1, f"expected one code cell with {source_contains!r}"
        return cells

    def run_cell(self, source_contains: str) -> int:
        """Select a cell by clicking its prompt, run it with Ctrl+Enter; its execution count.

        Call after `restart_kernel`, which starts watching the kernel: the count is the one the
        kernel announced for this run, not whatever the prompt showed before.
        """
        cell = self.cell(source_contains)
        self.page.evaluate("() => { window.__e2e.executed = []; }")
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+Enter")

        def count() -> int | None:
            state = self.state()
            if state["kernel"] != "idle" or len(state["flags"]["executed"]) != 1:
                return None
            number = state["flags"]["executed"][0]
            prompt = (cell.locator(".jp-InputPrompt").text_content() or "").strip()
            return number if prompt == f"[{number}]:" else None

        return poll(count, STEP_TIMEOUT, f"the cell with {source_contains!r} to run")

    # -- what the learner sees ------------------------------------------------------------
    def wait_for_widgets(self, expected: int) -> dict[str, Any]:
        """Wait until `expected` widget views are rendered and none is still loading."""

        def settled() -> dict[str, Any] | None:
            state = self.state()
            if state["widgetErrors"]:
                return state
            ok = state["widgetsRendered"] >= expected and state["widgetsLoading"] == 0
            return state if ok else None

        return poll(settled, STEP_TIMEOUT, f"{expected} widget view(s) in {self.path} to render")

    def widget_output(self, text: str | re.Pattern[str]) -> Locator:
        """The one output area holding a rendered widget view that contains `text`."""
        assert self.panel is not None
        area = (
            self.panel.locator(".jp-OutputArea-output")
            .filter(has=self.page.locator(".jupyter-widgets"))
            .filter(has_text=text)
        )
        area.first.wait_for(state="attached")
        assert area.count() == 1, f"expected one widget output containing {text!r}"
        return area

    @contextmanager
    def _whole_notebook_in_view(self) -> Iterator[None]:
        """Grow the viewport to the notebook's height, so every cell is on screen at once."""
        viewport = self.page.viewport_size
        hidden = self.page.evaluate(
            """(id) => {
              const panel = document.getElementById(id);
              const scroller = panel.querySelector('.jp-WindowedPanel-outer') ||
                panel.querySelector('.jp-Notebook');
              scroller.scrollTop = 0;  // the picture starts at the notebook's title
              return scroller.scrollHeight - scroller.clientHeight;
            }""",
            self.state()["id"],
        )
        height = min(viewport["height"] + max(hidden, 0), MAX_SCREENSHOT_HEIGHT)
        self.page.set_viewport_size({"width": viewport["width"], "height": height})
        try:
            self.page.evaluate("() => document.fonts.ready.then(() => true)")
            yield
        finally:
            self.page.set_viewport_size(viewport)

    def screenshot(self, path: Path, element: Locator | None = None) -> None:
        """The whole notebook (or one element of it) as the learner's screen shows it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._whole_notebook_in_view():
            if element is None:
                self.page.screenshot(path=str(path))
            else:
                element.screenshot(path=str(path))
