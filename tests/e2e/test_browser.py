"""What a learner sees in JupyterLab, tested in a real browser.

nbval proves the kernel side of every notebook; these tests prove the page: each notebook
restarts and runs top to bottom through "Restart Kernel and Run All Cells" (command palette,
dialog confirmed) without an error, every widget view renders (none stuck loading, none
"Error displaying widget"), and in the welcome notebook the quiz and the progress dashboard
work when clicked.

Screenshots of every notebook after its run go to ``artifacts/screenshots/`` (kept by CI as
test artifacts). ``docs/images/welcome-quiz.png`` in the README is a copy of
``artifacts/screenshots/00_welcome-quiz.png``; copy it again when the quiz's look changes.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import pytest
from lab_server import SCREENSHOTS, LabServer

from workshop_lab.progress_store import ProgressStore
from workshop_lab.quizzes.bank import load_bank
from workshop_lab.quizzes.models import Bank, Predict, SingleChoice

if TYPE_CHECKING:
    from notebook_ui import NotebookUI  # imports playwright: only once the browser is there

# The welcome notebook and two layer notebooks: setup, %%writefile cells, in-process calls,
# exercises and a quiz each.
NOTEBOOKS = ["00_welcome", "01_structure", "04_middleware"]
WELCOME = "00_welcome"
RIGHT, WRONG = "\u2714", "\u2718"  # the symbols the quiz shows next to its verdict in words


def open_and_run(lab: LabServer, page: Any, notebook: str) -> NotebookUI:
    """Open a notebook, restart its kernel and run every cell; check what the page shows."""
    from notebook_ui import WIDGET_MIME, NotebookUI

    path = lab.notebook_path(notebook)
    assert path.exists(), f"{path.name} is missing: the browser test runs it"
    lab.remember(path)
    ui = NotebookUI(page, lab.notebook_url(notebook), notebook)
    ui.open()
    cells = [c for c in ui.restart_kernel_and_run_all() if c["source"].strip()]

    errors = [
        f"code cell {number}: {output['ename']}: {output['evalue']}"
        for number, cell in enumerate(cells, start=1)
        for output in cell["outputs"]
        if output["type"] == "error"
    ]
    assert not errors, f"{notebook} raised in the browser: {errors}"
    state = ui.state()
    assert not state["tracebacks"], f"{notebook} printed tracebacks: {state['tracebacks']}"
    # One fresh kernel ran every cell once, in order.
    assert [c["count"] for c in cells] == list(range(1, len(cells) + 1))

    expected = sum(WIDGET_MIME in o["mimes"] for c in cells for o in c["outputs"])
    assert expected >= 1, f"{notebook} displayed no widget (every notebook ends with a quiz)"
    state = ui.wait_for_widgets(expected)
    assert not state["widgetErrors"], f"widgets failed in {notebook}: {state['widgetErrors']}"
    assert state["widgetsRendered"] == expected
    assert state["widgetsLoading"] == 0
    ui.widget_output(f"Quiz: {load_bank(notebook).title}")  # the learner sees the quiz
    return ui


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab_with_every_widget_rendered(
    lab: LabServer, page: Any, notebook: str
) -> None:
    ui = open_and_run(lab, page, notebook)
    ui.screenshot(SCREENSHOTS / f"{notebook}.png")


def first_question(bank: Bank, kind: type, **attributes: Any) -> tuple[int, Any]:
    """The number (1-based, as the widget shows it) and the first question of a kind."""
    for number, question in enumerate(bank.questions, start=1):
        if isinstance(question, kind) and all(
            getattr(question, name) == value for name, value in attributes.items()
        ):
            return number, question
    raise AssertionError(f"the {bank.notebook_id} quiz has no {kind.__name__} {attributes}")


def question_box(quiz: Any, number: int, total: int) -> Any:
    """The widget box of question `number`: the innermost box holding its heading."""
    heading = quiz.page.locator("h4", has_text=re.compile(rf"^Question {number} of {total}$"))
    return quiz.locator(".widget-vbox").filter(has=heading).last


def button(box: Any, label: str) -> Any:
    """A widget button by its label (its accessible name starts with the icon's blank)."""
    return box.get_by_role("button", name=re.compile(rf"^\W*{re.escape(label)}$"))


def plain(markup: str) -> str:
    """Bank text as the page shows it: `code` and **bold** markers gone, spaces collapsed."""
    return " ".join(markup.replace("`", "").replace("**", "").split())


def dashboard_row(dashboard: Any, notebook: str) -> list[str]:
    """The dashboard's cells for one notebook: name, quiz, exercises."""
    name = dashboard.page.locator(".widget-label", has_text=re.compile(rf"^{notebook}$"))
    row = dashboard.locator(".widget-hbox").filter(has=name)
    assert row.count() == 1, f"expected one dashboard row for {notebook}"
    return [text.strip() for text in row.locator(".widget-label").all_text_contents()]


def test_welcome_quiz_answers_are_explained_and_saved_across_a_restart(
    lab: LabServer, page: Any
) -> None:
    from playwright.sync_api import expect

    bank = load_bank(WELCOME)
    total = len(bank.questions)
    lab.progress_file.unlink(missing_ok=True)  # the session's own file: start from nothing
    ui = open_and_run(lab, page, WELCOME)

    dashboard = ui.widget_output("Reset all progress")
    assert dashboard_row(dashboard, WELCOME)[1] == f"0/{total}"

    quiz = ui.widget_output(f"Quiz: {bank.title}")
    score = quiz.locator("p[role=status]")
    expect(score).to_have_text(f"Score: 0/{total}")

    # Single choice, answered wrongly: "Incorrect" in words, the right answer, the explanation.
    number, single = first_question(bank, SingleChoice)
    box = question_box(quiz, number, total)
    right = single.options[single.answer - 1]
    wrong = next(text for n, text in enumerate(single.options, 1) if n != single.answer)
    box.get_by_role("radio", name=plain(wrong), exact=True).check()
    button(box, "Check").click()
    feedback = box.locator("div[role=status]")
    expect(feedback).to_contain_text(f"{WRONG} Incorrect.")
    expect(feedback).to_contain_text(f"The right answer is: {plain(right)}")
    expect(feedback).to_contain_text("Explanation:")
    expect(feedback).to_contain_text(" ".join(plain(single.explanation).split()[:12]))
    expect(score).to_have_text(f"Score: 0/{total}")

    # ... and then rightly: "Correct", and the score counts it.
    box.get_by_role("radio", name=plain(right), exact=True).check()
    button(box, "Check").click()
    expect(feedback).to_contain_text(f"{RIGHT} Correct.")
    expect(feedback).not_to_contain_text("Incorrect")
    expect(score).to_have_text(f"Score: 1/{total}")

    # Predict, then run: the button sends the real request and shows the real response.
    number, predict = first_question(bank, Predict, target="status")
    box = question_box(quiz, number, total)
    status = int(predict.answer)
    button(box, "Run the request").click()
    response = box.locator("div[role=status]").filter(has_text="The app answered")
    expect(response).to_contain_text(f"{status} {HTTPStatus(status).phrase}")
    expect(response).to_contain_text("(none yet)")  # no prediction was made yet
    box.get_by_role("radio", name=plain(predict.answer), exact=True).check()
    button(box, "Check").click()
    verdict = box.locator("div[role=status]").filter(has_text="Explanation:")
    expect(verdict).to_contain_text(f"{RIGHT} Correct.")
    expect(score).to_have_text(f"Score: 2/{total}")
    ui.screenshot(SCREENSHOTS / f"{WELCOME}-quiz.png", element=quiz)

    # The kernel saved the answers to the session's progress file (never the learner's).
    saved = ProgressStore(lab.progress_file).load().notebook(WELCOME).quizzes
    assert saved[single.id].first.correct is False
    assert saved[single.id].best.correct is True
    assert saved[single.id].attempts == 2
    assert saved[predict.id].best.correct is True

    # A new kernel: the dashboard, run again, still shows the two right answers.
    ui.restart_kernel()
    assert ui.run_cell(f'lab.start("{WELCOME}")') == 1  # 1: the restart really happened
    assert ui.run_cell("lab.progress()") == 2
    dashboard = ui.widget_output("Reset all progress")
    expect(dashboard.locator(".widget-label").first).to_be_attached()
    quiz_progress = dashboard_row(dashboard, WELCOME)[1]
    assert quiz_progress == f"2/{total}"
    assert int(quiz_progress.split("/")[0]) > 0
    ui.screenshot(SCREENSHOTS / f"{WELCOME}-after-restart.png")
