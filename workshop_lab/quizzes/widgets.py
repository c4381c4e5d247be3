"""The interactive quiz: ipywidgets 8 around `grading.py`.

Only glue lives here: read the inputs, map displayed positions back to option numbers, call
`grade`, show the verdict and the explanation, record the attempt. Every control is a real
input or button (Tab and Enter/Space reach them), every input has a visible description and a
tooltip, and the verdict is said in words ("Correct." / "Incorrect.") with a symbol, never by
colour alone. The feedback areas carry role="status" so screen readers announce them.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from workshop_lab.quizzes.grading import (
    Grade,
    ObservationError,
    describe_target,
    grade,
    observe,
    run,
)
from workshop_lab.quizzes.models import Bank, MultipleChoice, Predict, ShortAnswer, SingleChoice
from workshop_lab.quizzes.text import (
    displayed_options,
    inline_html,
    inline_plain,
    instruction,
    prompt_html,
    request_text,
)

AnyQuestion = SingleChoice | MultipleChoice | ShortAnswer | Predict

RIGHT, WRONG = "#1a7f37", "#cf222e"
MAX_RADIO_OPTIONS = 6  # more than this reads better as a dropdown
_WIDE = {"description_width": "initial"}


def _format_score(value: float) -> str:
    return f"{round(value, 2):g}"


class QuestionView:
    """The widgets of one question and what its buttons do."""

    def __init__(self, quiz: QuizView, number: int, question: AnyQuestion) -> None:
        self.quiz = quiz
        self.number = number
        self.question = question
        self.actual: str | None = None
        self.problem: str | None = None
        label = f"question {number}"
        self.heading = widgets.HTML(
            f"<h4>Question {number} of {len(quiz.bank)}</h4>{prompt_html(question.prompt)}"
            + (
                f"<pre>{html.escape(request_text(question))}</pre>"
                if isinstance(question, Predict)
                else ""
            )
            + f"<p><em>{html.escape(instruction(question))}</em></p>"
        )
        self.checkboxes: list[tuple[int, widgets.Checkbox]] = []
        self.input = self._build_input(label)
        self.check_button = widgets.Button(
            description="Check",
            tooltip=f"Check your answer to {label}",
            icon="check",
            button_style="primary",
        )
        self.check_button.on_click(self.check)
        self.feedback = widgets.HTML("", layout=widgets.Layout(margin="0.3em 0"))
        controls: list[widgets.Widget] = [self.check_button]
        self.run_button: widgets.Button | None = None
        self.response = widgets.HTML("")
        if isinstance(question, Predict):
            self.run_button = widgets.Button(
                description="Run the request",
                tooltip=f"Send the request of {label} to the app and show the real response",
                icon="play",
            )
            self.run_button.on_click(self.run)
            controls.append(self.run_button)
        self.box = widgets.VBox(
            [self.heading, self.input, widgets.HBox(controls), self.feedback, self.response],
            layout=widgets.Layout(margin="0 0 1em 0"),
        )

    def _build_input(self, label: str) -> widgets.Widget:
        question = self.question
        if isinstance(question, SingleChoice | MultipleChoice | Predict) and question.options:
            shown = displayed_options(self.quiz.bank, question)
            if isinstance(question, MultipleChoice):
                for bank_number, text in shown:
                    # Long options would be cut off at the default description width.
                    box = widgets.Checkbox(
                        value=False,
                        description=inline_html(text),
                        description_allow_html=True,
                        indent=False,
                        tooltip=f"{label}: {inline_plain(text)}",
                        style=_WIDE,
                        layout=widgets.Layout(width="auto"),
                    )
                    self.checkboxes.append((bank_number, box))
                return widgets.VBox([box for _, box in self.checkboxes])
            # single: the value is the option's number in the bank; predict: the value itself
            # Radio buttons and dropdowns show plain text: drop the `code` markers.
            choices = [
                (inline_plain(text), number if isinstance(question, SingleChoice) else text)
                for number, text in shown
            ]
            kind = widgets.RadioButtons if len(choices) <= MAX_RADIO_OPTIONS else widgets.Dropdown
            return kind(
                options=choices,
                value=None,
                description="Your prediction:" if isinstance(question, Predict) else "Answer:",
                tooltip=f"Your answer to {label}",
                style=_WIDE,
                layout=widgets.Layout(width="auto"),
            )
        is_predict = isinstance(question, Predict)
        return widgets.Text(
            value="",
            placeholder="Type your prediction" if is_predict else "Type your answer",
            description="Your prediction:" if is_predict else "Answer:",
            tooltip=f"Your answer to {label}",
            style=_WIDE,
        )

    def answer(self) -> Any:
        """The current answer in bank terms (option numbers, or text)."""
        if isinstance(self.question, MultipleChoice):
            return sorted(number for number, box in self.checkboxes if box.value)
        return self.input.value

    def run(self, _button: widgets.Button | None = None) -> str | None:
        """Send the request to a fresh app; show the response next to the prediction.

        Returns the observed value, or None (with `self.problem` saying why) when the app
        could not be run or its response lacks what the question asks about.
        """
        assert isinstance(self.question, Predict)
        self.actual, self.problem = None, None
        prediction = html.escape(str(self.input.value or "").strip() or "(none yet)")
        try:
            response = run(self.question)
        except Exception as error:  # the learner's app, whatever it did: show, never raise
            self.problem = "The request could not be run"
            self.response.value = (
                f'<div role="status"><strong>{self.problem}:</strong> '
                f"<code>{html.escape(type(error).__name__)}: {html.escape(str(error))}</code>"
                "</div>"
            )
            return None
        from workshop_lab.display import response_html

        what = html.escape(describe_target(self.question))
        try:
            self.actual = observe(self.question, response)
            observed = f"{what}: <code>{html.escape(self.actual)}</code>"
        except ObservationError as error:
            self.problem = f"The response has no answer to this question ({error})"
            observed = html.escape(str(error))
        self.response.value = (
            '<div role="status" style="display:flex;gap:2em;flex-wrap:wrap">'
            f"<div><strong>Your prediction</strong><br><code>{prediction}</code></div>"
            f"<div><strong>The app answered</strong> ({observed}){response_html(response)}</div>"
            "</div>"
        )
        return self.actual

    def check(self, _button: widgets.Button | None = None) -> Grade:
        """Grade the current answer, show verdict and explanation, record the attempt.

        A prediction is graded against the app's real answer, so the request is run on every
        check (the learner may have changed the app since); if that gives no answer, the
        bank's answer is the fallback and the feedback says so.
        """
        answer = self.answer()
        note = ""
        if isinstance(self.question, Predict):
            actual = self.run()
            if actual is None:
                note = f"{self.problem}, so this was graded against the quiz's answer."
            result = grade(self.question, answer, actual=actual)
        else:
            result = grade(self.question, answer)
        saved = self.quiz.record(self.question, result, answer)
        self.feedback.value = self._feedback_html(result, " ".join(filter(None, [note, saved])))
        return result

    def _feedback_html(self, result: Grade, note: str) -> str:
        colour, symbol = (RIGHT, "\u2714") if result.correct else (WRONG, "\u2718")
        verdict, _, detail = result.feedback.partition(" ")
        partial = (
            f" Partial credit: {_format_score(result.score)} of 1." if 0 < result.score < 1 else ""
        )
        extra = f"<p><em>{html.escape(note)}</em></p>" if note else ""
        return (
            f'<div role="status" style="border-left:4px solid {colour};padding-left:0.6em">'
            f'<p><strong style="color:{colour}">{symbol} {html.escape(verdict)}</strong> '
            f"{inline_html(detail)}{partial}</p>"
            f"<div><strong>Explanation:</strong>{prompt_html(self.question.explanation)}</div>"
            f"{extra}</div>"
        )


class QuizView:
    """The whole quiz: title, score, one `QuestionView` per question."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self.best: dict[str, float] = {}
        self.title = widgets.HTML(f"<h3>Quiz: {html.escape(bank.title)}</h3>")
        self.score = widgets.HTML(self._score_html())
        self.questions = [
            QuestionView(self, number, question)
            for number, question in enumerate(bank.questions, start=1)
        ]
        self.box = widgets.VBox(
            [self.title, self.score, *(view.box for view in self.questions)],
            layout=widgets.Layout(padding="0.5em"),
        )

    @property
    def total(self) -> float:
        """Sum over questions of the best score so far in this quiz."""
        return sum(self.best.values())

    def score_text(self) -> str:
        return f"Score: {_format_score(self.total)}/{len(self.bank)}"

    def _score_html(self) -> str:
        return f'<p role="status"><strong>{html.escape(self.score_text())}</strong></p>'

    def record(self, question: AnyQuestion, result: Grade, answer: Any) -> str:
        """Update the best score and the progress file; return a note if saving failed.

        Saving progress must never cost the learner their feedback, so a failure (a read-only
        home directory, say) is reported in words instead of raised.
        """
        self.best[question.id] = max(self.best.get(question.id, 0.0), result.score)
        self.score.value = self._score_html()
        try:
            from workshop_lab.progress_store import default_store

            default_store().record_quiz_answer(
                self.bank.notebook_id,
                question.id,
                correct=result.correct,
                score=result.score,
                answer=answer,
            )
        except Exception as error:
            return f"Your progress could not be saved ({type(error).__name__}: {error})."
        return ""
