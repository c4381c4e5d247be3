"""Quizzes for the workshop notebooks: TOML banks, plain-Python grading, ipywidgets.

    import workshop_lab as lab
    lab.quiz("04_middleware")      # last line of a notebook: the interactive quiz

Banks live in `data/quizzes/<notebook_id>.toml` (format: `models.py`, and the comment at the
top of `00_welcome.toml`). The widgets are imported only when a quiz is displayed, so
importing this package is cheap.
"""

from workshop_lab.quizzes.bank import load_bank
from workshop_lab.quizzes.errors import QuizBankError
from workshop_lab.quizzes.grading import Grade, grade, observe
from workshop_lab.quizzes.view import Quiz, quiz

__all__ = ["Grade", "Quiz", "QuizBankError", "grade", "load_bank", "observe", "quiz"]
