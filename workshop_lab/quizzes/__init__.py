"""Quizzes for the workshop notebooks: TOML banks, plain-Python grading, ipywidgets.

    import workshop_lab as lab
    lab.quiz("04_middleware")      # last line of a notebook: the interactive quiz

Banks live in `data/quizzes/<notebook_id>.toml` (format: `models.py`, and the comment at the
top of `00_welcome.toml`). Constructing a `Quiz` only loads the bank; the widgets are imported
and built the first time a front end asks for the widget view. That keeps importing this
package and `lab.quiz(...)` cheap, lets tests inspect a quiz without a kernel, and lets plain
IPython, nbval and GitHub use the stable text and HTML forms.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workshop_lab.quizzes.bank import QuizBankError, load_bank
from workshop_lab.quizzes.grading import Grade, grade, observe
from workshop_lab.quizzes.models import Bank
from workshop_lab.quizzes.text import render_html, render_text

if TYPE_CHECKING:
    from workshop_lab.quizzes.widgets import QuizView

__all__ = ["Grade", "Quiz", "QuizBankError", "grade", "load_bank", "observe", "quiz"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Quiz:
    """A displayable quiz: the widget in JupyterLab, readable text everywhere else."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self._view: QuizView | None = None

    @property
    def view(self) -> QuizView:
        """The widget tree, built on first use (and then reused: one quiz, one state)."""
        if self._view is None:
            from workshop_lab.quizzes.widgets import QuizView

            self._view = QuizView(self.bank)
        return self._view

    def __repr__(self) -> str:
        return f"<Quiz {self.bank.notebook_id!r}: {len(self.bank)} questions>"

    def text(self) -> str:
        """The stable plain-text form (no answers)."""
        return render_text(self.bank)

    def html(self) -> str:
        """The stable static HTML form (no answers)."""
        return render_html(self.bank)

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> dict[str, Any]:
        """The widget view plus stable text/plain and text/html.

        JupyterLab renders the widget view; everything else (and nbval, which skips the widget
        key) falls back to the text forms, which depend only on the bank.
        """

        def wanted(mime: str) -> bool:
            return (include is None or mime in include) and (exclude is None or mime not in exclude)

        bundle: dict[str, Any] = {}
        if wanted(WIDGET_MIME):
            widget_bundle = self.view.box._repr_mimebundle_() or {}
            if WIDGET_MIME in widget_bundle:
                bundle[WIDGET_MIME] = widget_bundle[WIDGET_MIME]
        if wanted("text/plain"):
            bundle["text/plain"] = self.text()
        if wanted("text/html"):
            bundle["text/html"] = self.html()
        return bundle


def quiz(notebook_id: str | Path) -> Quiz:
    """The quiz for a notebook (`data/quizzes/<notebook_id>.toml`), or for a bank file."""
    return Quiz(load_bank(notebook_id))
