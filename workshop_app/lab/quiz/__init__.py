"""Quizzes for the workshop notebooks: TOML banks, plain-Python grading, ipywidgets.

    from workshop_app import lab
    lab.quiz("03_middleware")      # last line of a notebook: the interactive quiz

Banks live in `data/quizzes/<notebook_id>.toml` (format: `models.py`, and the comment at the
top of `00_welcome.toml`). The widgets are imported only when a quiz is displayed, so
importing this package is cheap.
"""

import sys
import types
from pathlib import Path

from workshop_app.lab.quiz.bank import load_bank
from workshop_app.lab.quiz.errors import QuizBankError
from workshop_app.lab.quiz.grading import Grade, grade, observe
from workshop_app.lab.quiz.view import Quiz, quiz

__all__ = ["Grade", "Quiz", "QuizBankError", "grade", "load_bank", "observe", "quiz"]


class _CallableModule(types.ModuleType):
    """Make `lab.quiz("03_middleware")` work whatever `lab.quiz` turns out to be.

    `workshop_app.lab` exports the function `quiz`, but Python also binds the *subpackage*
    `workshop_app.lab.quiz` to that same attribute whenever the subpackage is imported first
    (by a test, the dashboard, any `import workshop_app.lab.quiz`), and a module is not
    callable. Calling this package therefore does what calling the function does.
    """

    def __call__(self, notebook_id: str | Path) -> Quiz:
        return quiz(notebook_id)


sys.modules[__name__].__class__ = _CallableModule
