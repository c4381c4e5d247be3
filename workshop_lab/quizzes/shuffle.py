"""Deterministic option order.

Shuffled options stop "the answer is always b)", but the order must be the same on every run:
nbval compares the quiz's text output, and a learner who reopens a notebook should see the same
question. `hash()` is salted per process (PYTHONHASHSEED), and `random`'s algorithms are not a
promise across Python versions, so the order is defined here directly: options sorted by the
SHA-256 of (quiz, question id, option number). Grading never sees display positions: the
widgets map the chosen position back to the option's number in the bank.
"""

from __future__ import annotations

import hashlib

from workshop_lab.quizzes.models import Bank, MultipleChoice, Predict, SingleChoice


def option_order(quiz_id: str, question_id: str, count: int) -> list[int]:
    """Option numbers (1-based, as in the bank) in display order for this quiz and question."""

    def key(number: int) -> bytes:
        return hashlib.sha256(f"{quiz_id}\x1f{question_id}\x1f{number}".encode()).digest()

    return sorted(range(1, count + 1), key=key)


def displayed_options(
    bank: Bank, question: SingleChoice | MultipleChoice | Predict
) -> list[tuple[int, str]]:
    """(option number in the bank, option text) pairs in the order the learner sees them."""
    options = question.options or ()
    numbers = (
        option_order(bank.notebook_id, question.id, len(options))
        if bank.shuffles(question)
        else list(range(1, len(options) + 1))
    )
    return [(number, options[number - 1]) for number in numbers]
