"""One table of where a learner stands: quiz score and exercises passed per notebook.

The table is also the text and HTML form of the output, so nbval can compare it
and GitHub can show it; it contains only counts (no times, no ids) so it stays
the same from run to run. In a live kernel the same table comes with reset
buttons that ask before erasing anything.
"""

from __future__ import annotations

import html
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .exercises import exercises_for
from .paths import DATA_DIR, NOTEBOOKS_DIR
from .progress_store import NotebookProgress, Progress, ProgressStore, default_store

NOTEBOOK_FILE = re.compile(r"^(\d\d_\w+)\.ipynb$")
HEADERS = ("Notebook", "Quiz", "Exercises")


def _fraction(done: int, total: int | None) -> str:
    if total is None:
        return str(done) if done else "-"
    return f"{done}/{total}"


def quiz_bank(notebook_id: str, quizzes_dir: Path) -> list[str | None] | None:
    """Question ids of a notebook's quiz bank (None for an unnamed question); None if no bank."""
    try:
        data = tomllib.loads((quizzes_dir / f"{notebook_id}.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not UTF-8, or not TOML: lab.quiz() says why
        return None
    questions = data.get("questions")
    if not isinstance(questions, list):
        return None
    return [q.get("id") if isinstance(q, dict) else None for q in questions]


@dataclass(frozen=True)
class NotebookRow:
    notebook_id: str
    quiz_correct: int
    quiz_total: int | None
    exercises_passed: int
    exercises_total: int | None

    @property
    def cells(self) -> tuple[str, str, str]:
        return (
            self.notebook_id,
            _fraction(self.quiz_correct, self.quiz_total),
            _fraction(self.exercises_passed, self.exercises_total),
        )


def _row(notebook_id: str, record: NotebookProgress, quizzes_dir: Path) -> NotebookRow:
    bank = quiz_bank(notebook_id, quizzes_dir)
    correct = {qid for qid, quiz in record.quizzes.items() if quiz.best.correct}
    if bank is not None and bank and all(bank):
        correct &= set(bank)  # answers to questions since removed from the bank do not count
    quiz_correct = len(correct) if bank is None else min(len(correct), len(bank))

    registered = {exercise.id for exercise in exercises_for(notebook_id)}
    passed = {eid for eid, exercise in record.exercises.items() if exercise.passed}
    if registered:
        passed &= registered
    return NotebookRow(
        notebook_id,
        quiz_correct,
        None if bank is None else len(bank),
        len(passed),
        len(registered) or None,
    )


def _notebook_ids(progress: Progress, notebooks_dir: Path) -> list[str]:
    """Notebooks on disk in course order, then any only known from the progress file."""
    on_disk = sorted(
        match.group(1)
        for path in (notebooks_dir.iterdir() if notebooks_dir.is_dir() else ())
        if (match := NOTEBOOK_FILE.match(path.name))
    )
    return on_disk + sorted(set(progress.notebooks) - set(on_disk))


class ProgressDashboard:
    """``lab.progress()``: the table as text/HTML, plus reset buttons in a live kernel; the
    progress file is the one the environment names when it is built."""

    def __init__(
        self,
        store: ProgressStore | None = None,
        *,
        notebooks_dir: Path = NOTEBOOKS_DIR,
        quizzes_dir: Path = DATA_DIR / "quizzes",
    ) -> None:
        self.store = store if store is not None else default_store()
        self.notebooks_dir = Path(notebooks_dir)
        self.quizzes_dir = Path(quizzes_dir)

    def rows(self) -> list[NotebookRow]:
        progress = self.store.load()
        return [
            _row(notebook_id, progress.notebook(notebook_id), self.quizzes_dir)
            for notebook_id in _notebook_ids(progress, self.notebooks_dir)
        ]

    def text(self, rows: list[NotebookRow] | None = None) -> str:
        table = [HEADERS, *(row.cells for row in (self.rows() if rows is None else rows))]
        widths = [max(len(line[col]) for line in table) for col in range(len(HEADERS))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in table
        ]
        return "\n".join(["Workshop progress", *lines])

    def html(self, rows: list[NotebookRow] | None = None) -> str:
        rows = self.rows() if rows is None else rows
        head = "".join(f"<th style='text-align:left'>{name}</th>" for name in HEADERS)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row.cells)
            + "</tr>"
            for row in rows
        )
        return (
            "<div class='workshop-progress'><b>Workshop progress</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def widget(self) -> DashboardWidget:
        return DashboardWidget(self)

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        rows = self.rows()
        bundle = dict(self.widget()._repr_mimebundle_() or {})
        bundle["text/plain"] = self.text(rows)
        bundle["text/html"] = self.html(rows)
        return bundle


class DashboardWidget(widgets.VBox):
    """The live table: one Reset button per notebook and one for all, each confirmed first."""

    def __init__(self, dashboard: ProgressDashboard) -> None:
        self.dashboard = dashboard
        self.reset_buttons: dict[str | None, widgets.Button] = {}
        self.pending: str | None = None  # the notebook to erase (None: all) ...
        self.asking = False  # ... but only once a Reset button asked for it
        self.confirm_button = widgets.Button(description="Yes, erase", button_style="danger")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.question = widgets.HTML()
        self.confirm_box = widgets.HBox([self.question, self.confirm_button, self.cancel_button])
        self.confirm_box.layout.display = "none"
        self.status = widgets.HTML()
        self.table = widgets.VBox()
        super().__init__([self.table, self.confirm_box, self.status])
        self.refresh()

    def refresh(self) -> None:
        """Re-read the progress file and rebuild the rows."""
        cell = widgets.Layout(width="12em")
        lines = [widgets.HBox([widgets.HTML(f"<b>{name}</b>", layout=cell) for name in HEADERS])]
        self.reset_buttons = {}
        for row in self.dashboard.rows():
            button = self._reset_button(row.notebook_id, f"Reset {row.notebook_id}")
            labels = [widgets.Label(text, layout=cell) for text in row.cells]
            lines.append(widgets.HBox([*labels, button]))
        lines.append(widgets.HBox([self._reset_button(None, "Reset all progress")]))
        self.table.children = lines

    def _reset_button(self, notebook_id: str | None, description: str) -> widgets.Button:
        button = widgets.Button(description=description, icon="trash")
        button.on_click(lambda _: self.ask(notebook_id))
        self.reset_buttons[notebook_id] = button
        return button

    def ask(self, notebook_id: str | None) -> None:
        """First click: say exactly what would be erased, and wait for a second one."""
        self.pending, self.asking = notebook_id, True
        what = "ALL notebooks" if notebook_id is None else html.escape(notebook_id)
        self.question.value = f"Erase quiz answers and exercise results of {what}?"
        self.confirm_box.layout.display = "flex"
        self.status.value = ""

    def confirm(self) -> None:
        if not self.asking:
            return
        target, self.pending, self.asking = self.pending, None, False
        self.confirm_box.layout.display = "none"
        try:
            self.dashboard.store.reset(target)
        except OSError as exc:
            self.status.value = f"Could not reset: {html.escape(str(exc))}"
            return
        what = "all notebooks" if target is None else html.escape(target)
        self.status.value = f"Progress of {what} erased."
        self.refresh()

    def cancel(self) -> None:
        self.pending, self.asking = None, False
        self.confirm_box.layout.display = "none"
        self.status.value = "Nothing was erased."
