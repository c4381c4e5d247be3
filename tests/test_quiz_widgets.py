"""The widget quiz, driven as a learner would: set input values, press the buttons."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import ipywidgets as widgets
import pytest
from quiz_helpers import DEMO_APP, question, write_bank

from workshop_lab.progress_store import ProgressStore
from workshop_lab.quizzes import WIDGET_MIME, Quiz, load_bank, quiz
from workshop_lab.quizzes.bank import QUIZ_DIR
from workshop_lab.quizzes.text import displayed_options
from workshop_lab.quizzes.widgets import QuestionView

OPTIONS = ["GET", "POST", "DELETE", "PATCH"]
GET, DELETE = 1, 3  # option numbers in the bank


@pytest.fixture
def progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "progress" / "progress.sqlite3"
    monkeypatch.setenv("WORKSHOP_PROGRESS_FILE", str(path))
    return path


@pytest.fixture
def bank_file(tmp_path: Path) -> Path:
    return write_bank(
        tmp_path,
        [
            question("single", options=OPTIONS, answer=GET),
            question("multiple"),  # right: options 1 and 3 of 4
            question("short"),  # 201, normalize = "number"
            question(
                "predict",
                id="missing",
                request={"path": "/missing"},
                options=["200", "404", "500"],
                answer=404,
                explanation="No route matches, so the router answers 404.",
            ),
            question(
                "predict",
                id="hello",
                request={"path": "/hello"},
                predict="json:message",
                answer="Hello, workshop!",
                explanation="The route returns a dict; FastAPI sends it as JSON.",
            ),
        ],
        shuffle=True,
    )


@pytest.fixture
def demo_quiz(bank_file: Path, progress_file: Path) -> Quiz:
    return quiz(bank_file)


def views(demo_quiz: Quiz) -> dict[str, QuestionView]:
    return {view.question.id: view for view in demo_quiz.view.questions}


def words(widget: widgets.HTML) -> str:
    """What a reader sees (or a screen reader says): the HTML's text, tags removed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", widget.value)).split())


def stored(progress_file: Path, question_id: str):
    return ProgressStore(progress_file).load().notebook("test_bank").quizzes[question_id]


# --- building and displaying -----------------------------------------------------------------


def test_widgets_are_built_only_when_the_widget_view_is_requested(demo_quiz: Quiz) -> None:
    text_only = demo_quiz._repr_mimebundle_(include={"text/plain", "text/html"})
    assert set(text_only) == {"text/plain", "text/html"}
    demo_quiz._repr_mimebundle_(exclude={WIDGET_MIME})
    assert demo_quiz._view is None

    bundle = demo_quiz._repr_mimebundle_()
    assert set(bundle) == {WIDGET_MIME, "text/plain", "text/html"}
    assert bundle[WIDGET_MIME]["model_id"] == demo_quiz.view.box.model_id
    assert bundle["text/plain"] == demo_quiz.text()
    assert bundle["text/html"] == demo_quiz.html()
    assert demo_quiz._repr_mimebundle_()[WIDGET_MIME] == bundle[WIDGET_MIME]  # one widget tree


def test_the_widget_tree_has_one_labelled_input_and_real_buttons_per_question(
    demo_quiz: Quiz,
) -> None:
    view = demo_quiz.view
    assert view.box.children[:2] == (view.title, view.score)
    assert "Quiz: Test bank" in view.title.value
    assert "Score: 0/5" in view.score.value
    by_id = views(demo_quiz)
    kinds = {qid: type(v.input) for qid, v in by_id.items()}
    assert kinds == {
        "pick_one": widgets.RadioButtons,
        "pick_many": widgets.VBox,
        "type_it": widgets.Text,
        "missing": widgets.RadioButtons,
        "hello": widgets.Text,
    }
    assert all(isinstance(box, widgets.Checkbox) for box in by_id["pick_many"].input.children)
    for number, v in enumerate(view.questions, start=1):
        assert f"<h4>Question {number} of 5</h4>" in v.heading.value
        assert v.check_button.description == "Check"
        assert v.check_button.tooltip == f"Check your answer to question {number}"
        labelled = v.input.children if isinstance(v.input, widgets.VBox) else [v.input]
        assert all(item.description and item.tooltip for item in labelled)
        assert v.box.children[1] is v.input
    assert by_id["missing"].run_button.description == "Run the request"
    assert "GET /missing" in by_id["missing"].heading.value
    assert by_id["pick_one"].run_button is None


def test_options_are_shown_shuffled_but_carry_their_bank_numbers(demo_quiz: Quiz) -> None:
    radio = views(demo_quiz)["pick_one"].input
    shown = displayed_options(demo_quiz.bank, demo_quiz.bank.question("pick_one"))
    assert [n for n, _ in shown] != [1, 2, 3, 4]  # the bank asks for shuffling
    assert list(radio.options) == [(text, number) for number, text in shown]
    assert radio.value is None  # nothing preselected


# --- answering -------------------------------------------------------------------------------


def test_single_wrong_then_right_with_explanation_score_and_progress(
    demo_quiz: Quiz, progress_file: Path
) -> None:
    view = views(demo_quiz)["pick_one"]
    explanation = "GET is safe: it must not change server state."

    view.input.value = DELETE
    view.check_button.click()
    assert "\u2718 Incorrect." in words(view.feedback)
    assert "The right answer is: GET." in words(view.feedback)
    assert explanation in words(view.feedback)
    assert 'role="status"' in view.feedback.value
    assert demo_quiz.view.score_text() == "Score: 0/5"

    view.input.value = GET  # retrying is allowed
    view.check_button.click()
    assert "\u2714 Correct." in words(view.feedback)
    assert "Incorrect" not in words(view.feedback)
    assert explanation in words(view.feedback)
    assert demo_quiz.view.score_text() == "Score: 1/5"
    assert "Score: 1/5" in demo_quiz.view.score.value

    record = stored(progress_file, "pick_one")
    assert (record.first.correct, record.first.answer) == (False, DELETE)
    assert (record.best.correct, record.best.score, record.best.answer) == (True, 1.0, GET)
    assert record.attempts == 2


def test_the_shuffled_position_is_mapped_back_when_checking(demo_quiz: Quiz) -> None:
    view = views(demo_quiz)["pick_one"]
    labels = [label for label, _ in view.input.options]
    assert labels.index("GET") != GET - 1  # the shuffle moved the right option
    view.input.index = labels.index("GET")  # what clicking the "GET" radio button syncs
    assert view.check().correct
    view.input.index = GET - 1  # the button shown where GET is in the bank
    assert not view.check().correct


def test_multiple_partial_then_exact_and_the_best_score_is_kept(
    demo_quiz: Quiz, progress_file: Path
) -> None:
    view = views(demo_quiz)["pick_many"]
    boxes = {box.description: box for box in view.input.children}

    boxes["404 Not Found"].value = True
    view.check_button.click()
    assert "Incorrect." in words(view.feedback)
    assert "Partial credit: 0.5 of 1." in words(view.feedback)
    assert demo_quiz.view.score_text() == "Score: 0.5/5"

    boxes["422 Unprocessable"].value = True
    view.check_button.click()
    assert "Correct." in words(view.feedback)
    assert demo_quiz.view.score_text() == "Score: 1/5"

    boxes["201"].value = True  # a worse retry does not lower the best score
    view.check_button.click()
    assert "Incorrect." in words(view.feedback)
    assert demo_quiz.view.score_text() == "Score: 1/5"

    record = stored(progress_file, "pick_many")
    assert (record.first.score, record.first.answer) == (0.5, [1])
    assert (record.best.correct, record.best.answer) == (True, [1, 3])
    assert record.attempts == 3


def test_short_answer_is_normalised(demo_quiz: Quiz) -> None:
    view = views(demo_quiz)["type_it"]
    view.input.value = "Created"
    view.check_button.click()
    assert "Incorrect. Expected: 201." in words(view.feedback)
    view.input.value = " 201 Created "
    view.check_button.click()
    assert "Correct." in words(view.feedback)
    assert "201 Created, usually with a Location header." in words(view.feedback)


def test_run_button_calls_the_real_demo_app_and_shows_the_response(demo_quiz: Quiz) -> None:
    view = views(demo_quiz)["missing"]
    assert view.question.app == DEMO_APP
    view.input.value = "200"
    view.run_button.click()
    shown = words(view.response)
    assert "HTTP/1.1 404 Not Found" in shown
    assert '"detail": "Not Found"' in shown  # the real body
    assert "Your prediction 200 The app answered" in shown
    assert "(the status code: 404 )" in shown
    assert view.feedback.value == ""  # running is not checking
    assert view.actual == "404"


def test_predict_check_grades_against_the_real_response(
    demo_quiz: Quiz, progress_file: Path
) -> None:
    view = views(demo_quiz)["missing"]
    view.input.value = "200"
    view.check_button.click()
    assert "Incorrect. You predicted 200; the status code was 404." in words(view.feedback)
    assert "No route matches" in words(view.feedback)  # the explanation
    assert "404 Not Found" in words(view.response)  # the real response, next to the prediction

    view.input.value = "404"
    view.check_button.click()
    assert "Correct. The status code was 404." in words(view.feedback)
    record = stored(progress_file, "missing")
    assert (record.first.answer, record.best.answer, record.best.correct) == ("200", "404", True)


def test_free_text_prediction_of_a_json_field(demo_quiz: Quiz) -> None:
    view = views(demo_quiz)["hello"]
    view.input.value = "Hello, workshop!"
    view.check_button.click()
    assert 'Correct. The JSON field message was "Hello, workshop!".' in words(view.feedback)


def test_an_app_that_cannot_run_still_gets_feedback(tmp_path: Path, progress_file: Path) -> None:
    path = write_bank(tmp_path, [question("predict", app="workshop_lab.nowhere:create")])
    view = quiz(path).view.questions[0]
    view.input.value = "200"
    view.check_button.click()  # must not raise into the notebook
    assert "ModuleNotFoundError" in words(view.response)
    assert "Correct. The status code is 200." in words(view.feedback)
    assert "graded against the quiz's answer" in words(view.feedback)


def test_a_response_without_the_predicted_field_is_shown_and_explained(
    tmp_path: Path, progress_file: Path
) -> None:
    entry = question("predict", request={"path": "/hello"}, predict="header:Retry-After", answer=1)
    view = quiz(write_bank(tmp_path, [entry])).view.questions[0]
    view.input.value = "1"
    view.check_button.click()
    assert "HTTP/1.1 200 OK" in words(view.response)  # it ran: the response is shown
    assert "the response has no Retry-After header" in words(view.response)
    assert (
        "The response has no answer to this question (the response has no Retry-After "
        "header), so this was graded against the quiz's answer."
    ) in words(view.feedback)


def test_a_progress_file_that_cannot_be_written_does_not_cost_the_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("WORKSHOP_PROGRESS_FILE", str(blocker / "progress.json"))
    view = quiz(write_bank(tmp_path, [question("short")])).view.questions[0]
    view.input.value = "201"
    view.check_button.click()
    assert "Correct." in words(view.feedback)
    assert "Your progress could not be saved" in words(view.feedback)
    assert view.quiz.score_text() == "Score: 1/1"


# --- the stable text form --------------------------------------------------------------------


def test_text_form_lists_questions_and_lettered_options(demo_quiz: Quiz) -> None:
    text = demo_quiz.text()
    assert text.startswith("Quiz: Test bank\n5 questions. Answer in JupyterLab")
    shown = [label for label, _ in views(demo_quiz)["pick_one"].input.options]
    assert (
        "\n".join(f"   {letter}) {label}" for letter, label in zip("abcd", shown, strict=True))
        in text
    )
    assert "   GET /hello\n" in text
    assert "[Choose all that apply.]" in text


def test_text_forms_contain_no_answers_and_ignore_widget_state(demo_quiz: Quiz) -> None:
    before = (demo_quiz.text(), demo_quiz.html())
    view = views(demo_quiz)["type_it"]
    view.input.value = "201"
    view.check_button.click()
    assert (demo_quiz.text(), demo_quiz.html()) == before
    for form in before:
        for entry in demo_quiz.bank.questions:
            assert entry.explanation not in form
        assert "201" not in form.split("Which status code means the resource was created?")[1][:60]
        assert "Hello, workshop!" not in form  # the free-text prediction's answer
        assert "Correct" not in form and "\u2714" not in form
        assert not re.search(r"0x[0-9a-f]{6,}", form)
        assert demo_quiz.view.box.model_id not in form


STABLE_TEXT = """
import sys
from workshop_lab.quizzes import quiz
q = quiz(sys.argv[1])
bundle = q._repr_mimebundle_()
sys.stdout.write(bundle["text/plain"] + "\\0" + bundle["text/html"])
"""


@pytest.mark.parametrize("notebook", ["00_welcome", "bank_file"])
def test_text_forms_are_identical_across_processes(
    notebook: str, bank_file: Path, progress_file: Path
) -> None:
    target = str(bank_file) if notebook == "bank_file" else notebook
    outputs = {
        subprocess.run(
            [sys.executable, "-c", STABLE_TEXT, target],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    expected = quiz(target)
    assert outputs == {expected.text() + "\0" + expected.html()}


def test_the_welcome_quiz_text_hides_every_answer() -> None:
    bank = load_bank(QUIZ_DIR / "00_welcome.toml")
    text = quiz("00_welcome").text()
    for entry in bank.questions:
        assert entry.explanation.strip() not in text
        assert entry.explanation.strip().splitlines()[0] not in text
    short = bank.question("too_many_requests")
    section = text.split(short.prompt.strip())[1].split("\n\n")[0]
    assert "429" not in section


def test_lab_quiz_works_even_when_the_subpackage_was_imported_first(progress_file: Path) -> None:
    code = (
        "import workshop_lab.quizzes.widgets\n"
        "import workshop_lab as lab\n"
        "print(repr(lab.quiz('00_welcome')))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "<Quiz '00_welcome': 4 questions>"


def test_constructing_a_quiz_builds_no_widget_until_it_is_displayed() -> None:
    # Widgets open comms with the front end: a quiz that is only graded or printed
    # (tests, nbval's text form) must not create any.
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "import ipywidgets\n"
        "from workshop_lab.quizzes import quiz\n"
        "q = quiz('00_welcome'); q.text(); q.html()\n"
        "print(len(ipywidgets.Widget._active_widgets))\n"
        "q._repr_mimebundle_()\n"
        "print(len(ipywidgets.Widget._active_widgets) > 0)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["0", "True"]


def test_option_markup_is_rendered_in_checkboxes_and_stripped_in_radio_buttons(
    tmp_path: Path, progress_file: Path
) -> None:
    # Seen in the browser: long checkbox labels were cut off and `code` showed its backticks.
    long = "Echo the id in the `X-Request-ID` response header " + "and more words " * 6
    path = write_bank(
        tmp_path,
        [
            question("multiple", id="multi", options=[long, "**Bold** choice"], answer=[1]),
            question("single", id="one", options=["Use `--factory`", "No"], answer=1),
        ],
    )
    built = views(quiz(path))
    first, second = (box for _, box in built["multi"].checkboxes)
    assert first.description_allow_html and "<code>X-Request-ID</code>" in first.description
    assert first.style.description_width == "initial" and first.layout.width == "auto"
    assert "<strong>Bold</strong>" in second.description
    radio_labels = [label for label, _ in built["one"].input.options]
    assert "Use --factory" in radio_labels and not any("`" in label for label in radio_labels)
