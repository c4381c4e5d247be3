"""Loading quiz banks: every shipped bank is valid, every mistake is reported in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from quiz_helpers import VALID, question, write_bank

from workshop_lab.paths import DATA_DIR
from workshop_lab.quizzes import QuizBankError, load_bank
from workshop_lab.quizzes.bank import QUIZ_DIR, bank_path
from workshop_lab.quizzes.models import MultipleChoice, Predict, ShortAnswer, SingleChoice

SHIPPED_BANKS = sorted(QUIZ_DIR.glob("*.toml"))
KNOWN_KINDS = "'single', 'multiple', 'short', 'predict'"


# --- the banks in data/quizzes ----------------------------------------------------------------


def test_the_welcome_bank_is_shipped() -> None:
    assert QUIZ_DIR == DATA_DIR / "quizzes"
    assert QUIZ_DIR / "00_welcome.toml" in SHIPPED_BANKS


@pytest.mark.parametrize("path", SHIPPED_BANKS, ids=[path.stem for path in SHIPPED_BANKS])
def test_every_shipped_bank_validates(path: Path) -> None:
    bank = load_bank(path)
    assert bank.notebook_id == path.stem
    assert bank.title.strip()
    assert len(bank) >= 1
    for entry in bank.questions:
        assert entry.explanation.strip()


def test_welcome_bank_has_one_question_of_each_kind() -> None:
    bank = load_bank("00_welcome")
    kinds = [type(entry) for entry in bank.questions]
    assert sorted(kind.__name__ for kind in kinds) == sorted(
        kind.__name__ for kind in (SingleChoice, MultipleChoice, ShortAnswer, Predict)
    )


def test_a_notebook_id_and_its_path_load_the_same_bank() -> None:
    assert bank_path("00_welcome") == QUIZ_DIR / "00_welcome.toml"
    assert load_bank("00_welcome") == load_bank(QUIZ_DIR / "00_welcome.toml")
    assert load_bank(str(QUIZ_DIR / "00_welcome.toml")).notebook_id == "00_welcome"


# --- a valid bank of every kind -----------------------------------------------------------------


def test_a_bank_with_every_kind_loads_with_its_values(tmp_path: Path) -> None:
    path = write_bank(tmp_path, [question(kind) for kind in VALID], shuffle=True)
    bank = load_bank(path)
    single, multiple, short, predict = bank.questions
    assert bank.shuffle is True
    assert (single.answer, single.options) == (2, ("POST", "GET", "DELETE"))
    assert multiple.answer == (1, 3)
    assert (short.answer, short.normalize) == (("201",), "number")
    assert (predict.target, predict.answer, predict.request.method) == ("status", "200", "GET")
    assert bank.question("type_it") is short
    with pytest.raises(KeyError, match="pick_one, pick_many, type_it, guess_it"):
        bank.question("nope")


def test_convenient_spellings_are_accepted(tmp_path: Path) -> None:
    path = write_bank(
        tmp_path,
        [
            question("short", answer="201", normalize=None),  # one answer, default normalize
            question(
                "predict",
                request={"method": "post", "path": "/hello", "json": {"a": [1, True]}},
                predict="json:detail",
                answer="Method Not Allowed",
                options=["Method Not Allowed", "Not Found"],
            ),
        ],
    )
    short, predict = load_bank(path).questions
    assert (short.answer, short.normalize) == (("201",), "word")
    assert predict.request.method == "POST"
    assert predict.request.body == {"a": [1, True]}
    assert (predict.target, predict.target_name) == ("json", "detail")


# --- each mistake: one QuizBankError naming file, question and problem ----------------------


def load_error(tmp_path: Path, questions: list[dict], **top: object) -> str:
    path = write_bank(tmp_path, questions, **top)
    with pytest.raises(QuizBankError) as caught:
        load_bank(path)
    message = str(caught.value)
    assert str(path) in message  # the file (outside the repo: shown as given)
    assert not isinstance(caught.value, ValidationError)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    for raw_marker in ("validation error", "type=", "input_value", "errors.pydantic.dev"):
        assert raw_marker not in message  # translated, not a raw Pydantic dump
    return message


CASES = [
    pytest.param(
        question("single", answer=None),
        ["question 'pick_one'", "no correct answer", "answer = <number of the right option"],
        id="single-missing-answer",
    ),
    pytest.param(
        question("multiple", answer=[]),
        ["question 'pick_many'", "no correct answer", "empty list"],
        id="multiple-empty-answer",
    ),
    pytest.param(
        question("predict", options=["201", "204"]),
        ["question 'guess_it'", "no correct answer", "'200' is not among the options"],
        id="predict-answer-not-an-option",
    ),
    pytest.param(
        question("short", answer=[]),
        ["question 'type_it'", "no correct answer"],
        id="short-no-accepted-answer",
    ),
    pytest.param(
        question("single", answer=4),
        ["question 'pick_one'", "answer 4 is out of range", "numbered 1 to 3"],
        id="single-out-of-range",
    ),
    pytest.param(
        question("single", answer=0),
        ["question 'pick_one'", "answer 0 is out of range"],
        id="single-zero-is-not-1-based",
    ),
    pytest.param(
        question("multiple", answer=[1, 5]),
        ["question 'pick_many'", "answer 5 is out of range", "numbered 1 to 4"],
        id="multiple-out-of-range",
    ),
    pytest.param(
        question("multiple", answer=[1, 1]),
        ["question 'pick_many'", "lists an option twice"],
        id="multiple-duplicate-answer",
    ),
    pytest.param(
        question("single", kind="truefalse"),
        [
            "question 'pick_one'",
            "unknown kind 'truefalse'",
            "'single', 'multiple', 'short', 'predict'",
        ],
        id="unknown-kind",
    ),
    pytest.param(
        question("single", kind=None),
        ["question 'pick_one'", "missing 'kind'", KNOWN_KINDS],
        id="missing-kind",
    ),
    pytest.param(
        question("single", options=[]),
        ["question 'pick_one'", "'options' has 0 entries", "at least 2"],
        id="empty-options",
    ),
    pytest.param(
        question("single", options=["only"], answer=1),
        ["question 'pick_one'", "'options' has 1 entry"],
        id="one-option",
    ),
    pytest.param(
        question("single", options=["GET", " get", "PUT"]),
        ["question 'pick_one'", "options 1 and 2 are the same"],
        id="duplicate-options",
    ),
    pytest.param(
        question("single", options=["GET", "  ", "PUT"]),
        ["question 'pick_one'", "'option 2' is empty"],
        id="blank-option",
    ),
    pytest.param(
        question("single", explanation=None),
        ["question 'pick_one'", "missing 'explanation'", "right or wrong"],
        id="missing-explanation",
    ),
    pytest.param(
        question("short", explanation="   \n "),
        ["question 'type_it'", "'explanation' is empty"],
        id="blank-explanation",
    ),
    pytest.param(
        question("single", prompt=None),
        ["question 'pick_one'", "missing required key 'prompt'"],
        id="missing-prompt",
    ),
    pytest.param(
        question("single", explaination="typo"),
        ["question 'pick_one'", "unknown key 'explaination'", "did you mean 'explanation'?"],
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        question("predict", request={"path": "/hello", "body": {}}),
        [
            "question 'guess_it'",
            "unknown key 'request.body'",
            "known keys: method, path, headers, json",
        ],
        id="unknown-request-key",
    ),
    pytest.param(
        question("single", answer="2"),
        ["question 'pick_one'", "'answer' must be an option number", "got '2'"],
        id="single-answer-as-text",
    ),
    pytest.param(
        question("single", answer=True),
        ["question 'pick_one'", "'answer' must be an option number", "got True"],
        id="single-answer-as-boolean",
    ),
    pytest.param(
        question("multiple", answer=2),
        ["question 'pick_many'", "must be a list of option numbers", "answer = [1, 3]"],
        id="multiple-answer-not-a-list",
    ),
    pytest.param(
        question("short", answer=["two hundred and one"]),
        ["question 'type_it'", "'two hundred and one' reads as nothing", "'number'"],
        id="short-answer-not-a-number",
    ),
    pytest.param(
        question("short", answer=["201", {"code": 201}]),
        ["question 'type_it'", "'answer item 2' must be a string, number or boolean"],
        id="short-answer-not-a-scalar",
    ),
    pytest.param(
        question("short", normalize="exact"),
        ["question 'type_it'", "'normalize' must be one of", "'number'", "got 'exact'"],
        id="unknown-normalize",
    ),
    pytest.param(
        question("predict", predict="body"),
        ["question 'guess_it'", "'predict' must be", "header:<Name>", "got 'body'"],
        id="unknown-predict-target",
    ),
    pytest.param(
        question("predict", predict="header:"),
        ["question 'guess_it'", "'predict' must be", "got 'header:'"],
        id="header-target-without-name",
    ),
    pytest.param(
        question("predict", app="workshop_lab.demo.create_demo_app"),
        ["question 'guess_it'", "'app' must be an import string 'module:factory'"],
        id="bad-import-string",
    ),
    pytest.param(
        question("predict", request={"path": "hello"}),
        ["question 'guess_it'", "'request.path' must start with '/'"],
        id="relative-path",
    ),
    pytest.param(
        question("predict", request={"method": "FETCH", "path": "/"}),
        ["question 'guess_it'", "'request.method' must be one of", "got 'FETCH'"],
        id="unknown-method",
    ),
    pytest.param(
        question("predict", answer=42),
        ["question 'guess_it'", "'42' is not an HTTP status code"],
        id="status-answer-not-a-status",
    ),
    pytest.param(
        question("predict", repeat=0),
        ["question 'guess_it'", "'repeat' must be at least 1", "got 0"],
        id="repeat-zero",
    ),
    pytest.param(
        question("single", id="has space"),
        ["question 'has space'", "'id' 'has space' must be 1-64 letters"],
        id="bad-id",
    ),
]


@pytest.mark.parametrize(("entry", "fragments"), CASES)
def test_each_mistake_is_named_with_file_question_and_problem(
    tmp_path: Path, entry: dict, fragments: list[str]
) -> None:
    message = load_error(tmp_path, [question("short", id="fine"), entry])
    for fragment in fragments:
        assert fragment in message
    assert "question 'fine'" not in message  # only the broken question is blamed


def test_a_missing_id_is_named_by_position(tmp_path: Path) -> None:
    message = load_error(tmp_path, [question("short"), question("single", id=None)])
    assert "question #2 (no id): missing required key 'id'" in message


def test_duplicate_ids_name_both_positions(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        [question("single", id="same"), question("short"), question("multiple", id="same")],
    )
    assert "question 'same': duplicate id: questions #1 and #3 both use 'same'" in message


def test_all_problems_of_a_bank_come_in_one_error(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        [
            question("single", answer=9),
            question("multiple", kind="poll"),
            question("short", explanation=None),
        ],
        title="",
    )
    assert message.splitlines()[0].endswith("4 problems")
    for fragment in (
        "'title' is empty",
        "question 'pick_one': answer 9 is out of range",
        "question 'pick_many': unknown kind 'poll'",
        "question 'type_it': missing 'explanation'",
    ):
        assert fragment in message


@pytest.mark.parametrize(
    ("top", "questions", "fragment"),
    [
        ({"title": None}, [question("short")], "missing 'title' at the top of the file"),
        ({}, [], "no questions: add at least one [[questions]] table"),
        ({"shuffle": "yes"}, [question("short")], "'shuffle' must be true or false"),
        (
            {"titel": "x"},
            [question("short")],
            "unknown top-level key 'titel' (did you mean 'title'?)",
        ),
    ],
    ids=["missing-title", "no-questions", "shuffle-not-bool", "unknown-top-level-key"],
)
def test_top_level_mistakes(tmp_path: Path, top: dict, questions: list, fragment: str) -> None:
    assert fragment in load_error(tmp_path, questions, **top)


def test_a_question_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "bank.toml"
    path.write_text('title = "T"\nquestions = ["what?"]\n', encoding="utf-8")
    with pytest.raises(QuizBankError, match=r"question #1 \(no id\): must be a table"):
        load_bank(path)


def test_toml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('title = "T"\n\n[[questions]]\nid = "a"\nprompt = "unterminated\n')
    with pytest.raises(QuizBankError) as caught:
        load_bank(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: TOML syntax error: ")
    assert "line 5" in message


def test_a_missing_bank_lists_the_banks_there_are() -> None:
    with pytest.raises(QuizBankError) as caught:
        load_bank("99_nope")
    message = str(caught.value)
    assert message.startswith("data/quizzes/99_nope.toml: no such quiz bank")
    assert "00_welcome" in message


def test_files_in_the_repository_are_named_relative_to_it() -> None:
    error = QuizBankError(QUIZ_DIR / "03_errors.toml", [])
    assert error.path == QUIZ_DIR / "03_errors.toml"
    assert str(error).startswith("data/quizzes/03_errors.toml: 0 problems")
