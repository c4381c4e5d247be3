"""Grading without widgets: every kind, the normalisation rules, observing responses, shuffle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from quiz_helpers import question, write_bank

from workshop_lab.quizzes import Grade, grade, load_bank, observe
from workshop_lab.quizzes.grading import ObservationError
from workshop_lab.quizzes.models import Bank, header, number, prediction_key, word
from workshop_lab.quizzes.text import displayed_options, option_order


def load(tmp_path: Path, *entries: dict, **top: object) -> Bank:
    return load_bank(write_bank(tmp_path, list(entries), **top))


# --- single ----------------------------------------------------------------------------------


def test_single_right_and_wrong(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("single")).questions
    assert grade(q, 2) == Grade(True, 1.0, "Correct.")
    wrong = grade(q, 1)
    assert (wrong.correct, wrong.score) == (False, 0.0)
    assert wrong.feedback == "Incorrect. The right answer is: GET."


def test_single_without_a_choice_is_incorrect_and_says_so(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("single")).questions
    result = grade(q, None)
    assert not result.correct
    assert result.feedback.startswith("Incorrect. No option was selected.")


def test_single_rejects_an_answer_that_is_not_an_option_number(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("single")).questions
    for bad in ("GET", True, 2.0):
        with pytest.raises(TypeError, match="option number"):
            grade(q, bad)


# --- multiple --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "correct", "score"),
    [
        ([1, 3], True, 1.0),
        ((3, 1), True, 1.0),  # order does not matter
        ([1], False, 0.5),  # one of two right options
        ([1, 3, 2], False, 0.5),  # both right, one wrong: (2 - 1) / 2
        ([1, 2], False, 0.0),  # one right, one wrong
        ([1, 2, 3, 4], False, 0.0),  # ticking everything earns nothing
        ([2, 4], False, 0.0),  # never below zero
        ([], False, 0.0),
        (None, False, 0.0),
    ],
)
def test_multiple_is_correct_only_for_the_exact_set(
    tmp_path: Path, chosen: list[int] | None, correct: bool, score: float
) -> None:
    (q,) = load(tmp_path, question("multiple")).questions  # right options: 1 and 3 of 4
    result = grade(q, chosen)
    assert (result.correct, result.score) == (correct, score)
    assert result.feedback.startswith("Correct." if correct else "Incorrect.")


def test_multiple_feedback_counts_and_lists_the_right_options(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("multiple")).questions
    assert grade(q, [1, 2]).feedback == (
        "Incorrect. You chose 1 of the 2 right options and 1 wrong one. "
        "The right options are: 404 Not Found; 422 Unprocessable."
    )


# --- short -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "correct"),
    [
        ("201", True),
        (" 201 ", True),
        ("201 Created", True),
        ("201.0", True),
        ("+201", True),
        ("2010", False),
        ("201ms", False),
        ("Created", False),
        ("HTTP 201", False),  # the number must come first
        ("", False),
    ],
)
def test_short_number_normalisation(tmp_path: Path, typed: str, correct: bool) -> None:
    (q,) = load(tmp_path, question("short")).questions
    assert grade(q, typed).correct is correct


def test_short_word_normalisation(tmp_path: Path) -> None:
    (q,) = load(
        tmp_path, question("short", answer=["lifespan", "lifespan events"], normalize="word")
    ).questions
    for typed in ("lifespan", "  Lifespan. ", '"LIFESPAN"', "`lifespan`", "\u201clifespan\u201d"):
        assert grade(q, typed).correct, typed
    assert grade(q, "Lifespan   events!").correct  # any accepted answer; inner spaces collapse
    assert not grade(q, "life span").correct
    assert grade(q, "startup").feedback == "Incorrect. Expected: lifespan."


def test_short_header_normalisation(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("short", answer="Retry-After", normalize="header")).questions
    for typed in ("Retry-After", "retry-after", "  RETRY-AFTER: ", "retry-after:"):
        assert grade(q, typed).correct, typed
    assert not grade(q, "Retry After").correct


def test_short_without_an_answer_says_so(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("short")).questions
    assert grade(q, "  ").feedback == "Incorrect. No answer was given. Expected: 201."
    assert grade(q, None).feedback == "Incorrect. No answer was given. Expected: 201."


def test_the_normalisers_themselves() -> None:
    assert number("429 Too Many Requests") == 429
    assert number("-1.5e2 units") == -150
    assert number(".5") == 0.5
    assert number("four") is None
    assert number("429abc") is None
    assert word("  'Depends()'. ") == word("depends") == "depends"
    assert word("Hello,\n  World!") == "hello, world"
    assert header(" X-Request-ID: ") == "x-request-id"


# --- predict ---------------------------------------------------------------------------------


def test_predict_without_actual_is_graded_against_the_bank(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("predict")).questions  # answer 200
    assert grade(q, "200") == Grade(True, 1.0, "Correct. The status code is 200.")
    assert grade(q, 200).correct
    assert grade(q, "200 OK").correct
    wrong = grade(q, "404")
    assert (wrong.correct, wrong.score) == (False, 0.0)
    assert wrong.feedback == "Incorrect. You predicted 404; the status code is 200."
    assert grade(q, "").feedback == "Incorrect. No prediction was given. The status code is 200."


def test_predict_with_actual_is_graded_against_what_the_app_did(tmp_path: Path) -> None:
    (q,) = load(tmp_path, question("predict")).questions  # the bank says 200
    result = grade(q, "500", actual="500")
    assert result == Grade(True, 1.0, "Correct. The status code was 500.")
    assert grade(q, "200", actual="500").feedback == (
        "Incorrect. You predicted 200; the status code was 500."
    )


def test_predict_header_values_compare_trimmed_and_casefolded(tmp_path: Path) -> None:
    (q,) = load(
        tmp_path, question("predict", predict="header:Content-Type", answer="application/json")
    ).questions
    assert grade(q, " Application/JSON ").correct
    assert not grade(q, "text/plain").correct
    assert grade(q, "text/plain").feedback.endswith("the Content-Type header is application/json.")


def test_predict_json_values_compare_as_json(tmp_path: Path) -> None:
    bank = load(
        tmp_path,
        question("predict", id="text", predict="json:message", answer="Hello, workshop!"),
        question("predict", id="flag", predict="json:ok", answer=True),
        question("predict", id="count", predict="json:items.0.count", answer=3),
    )
    text, flag, count = bank.questions
    assert flag.answer == "true"  # TOML true is the JSON true the app sends
    assert grade(text, "Hello, workshop!").correct
    assert grade(text, '"Hello, workshop!"').correct  # with or without the quotes
    assert not grade(text, "hello, workshop!").correct  # JSON strings are case-sensitive
    assert grade(flag, "true").correct
    assert not grade(flag, "1").correct  # Python's True == 1 must not leak in
    assert not grade(flag, "True").correct
    assert grade(count, "3").correct
    assert not grade(count, '"3"').correct
    assert grade(text, "x").feedback == (
        'Incorrect. You predicted x; the JSON field message is "Hello, workshop!".'
    )


def test_prediction_keys() -> None:
    assert prediction_key("status", "404 Not Found") == prediction_key("status", "404")
    assert prediction_key("json", '{ "b": 1, "a": 2 }') == prediction_key("json", '{"a":2,"b":1}')


# --- observe ---------------------------------------------------------------------------------


def test_observe_reads_status_header_and_json_paths(tmp_path: Path) -> None:
    bank = load(
        tmp_path,
        question("predict", id="status"),
        question("predict", id="header", predict="header:x-request-id", answer="abc"),
        question("predict", id="nested", predict="json:error.details.1.field", answer="name"),
        question("predict", id="object", predict="json:error.details.0", answer="x"),
    )
    response = httpx.Response(
        422,
        headers={"X-Request-ID": "abc"},
        json={"error": {"details": [{"field": "qty"}, {"field": "name"}]}},
    )
    status, head, nested, whole = bank.questions
    assert observe(status, response) == "422"
    assert observe(head, response) == "abc"  # header names are case-insensitive
    assert observe(nested, response) == "name"
    assert json.loads(observe(whole, response)) == {"field": "qty"}


def test_observe_explains_what_is_missing(tmp_path: Path) -> None:
    bank = load(
        tmp_path,
        question("predict", id="header", predict="header:Retry-After", answer="1"),
        question("predict", id="path", predict="json:error.code", answer="x"),
        question("predict", id="index", predict="json:items.5", answer="x"),
    )
    head, path, index = bank.questions
    response = httpx.Response(200, json={"error": {"message": "m"}, "items": [1]})
    with pytest.raises(ObservationError, match="the response has no Retry-After header"):
        observe(head, response)
    with pytest.raises(ObservationError, match="the JSON body has no error.code"):
        observe(path, response)
    with pytest.raises(ObservationError, match="the JSON body has no items.5"):
        observe(index, response)
    with pytest.raises(ObservationError, match="not JSON"):
        observe(path, httpx.Response(200, text="plain"))


# --- shuffle ---------------------------------------------------------------------------------


def test_option_order_is_a_permutation_that_depends_on_quiz_and_question() -> None:
    orders = {
        (quiz_id, qid): option_order(quiz_id, qid, 6)
        for quiz_id in ("00_welcome", "04_middleware")
        for qid in ("a", "b", "c")
    }
    for order in orders.values():
        assert sorted(order) == [1, 2, 3, 4, 5, 6]
    assert len({tuple(order) for order in orders.values()}) > 1
    assert option_order("00_welcome", "a", 6) == orders[("00_welcome", "a")]


def test_option_order_is_pinned() -> None:
    # Stored notebook outputs show options in this order: changing the hashing would change
    # every shuffled quiz's text, so it is pinned on purpose.
    assert option_order("00_welcome", "factory", 5) == [3, 4, 1, 5, 2]


@pytest.mark.parametrize("hash_seed", ["0", "1", "12345"])
def test_option_order_is_the_same_in_another_process(hash_seed: str) -> None:
    code = (
        "from workshop_lab.quizzes.text import option_order;"
        "print([option_order('nb', q, 7) for q in ('x', 'y', 'z')])"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == str([option_order("nb", q, 7) for q in ("x", "y", "z")])


def test_shuffle_flag_and_per_question_override(tmp_path: Path) -> None:
    options = [f"option {n}" for n in range(1, 7)]
    entries = [
        question("single", id="shuffled", options=options, answer=1),
        question("single", id="kept", options=options, answer=1, shuffle=False),
    ]
    plain = load(tmp_path, *entries)
    assert [n for n, _ in displayed_options(plain, plain.questions[0])] == [1, 2, 3, 4, 5, 6]

    shuffled = load(tmp_path, *entries, shuffle=True)
    first, kept = shuffled.questions
    shown = displayed_options(shuffled, first)
    assert [n for n, _ in shown] == option_order("test_bank", "shuffled", 6) != [1, 2, 3, 4, 5, 6]
    assert all(text == f"option {n}" for n, text in shown)  # text travels with its number
    assert [n for n, _ in displayed_options(shuffled, kept)] == [1, 2, 3, 4, 5, 6]


def test_answer_mapping_survives_the_shuffle(tmp_path: Path) -> None:
    options = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    order = option_order("test_bank", "pick_one", len(options))
    # an answer the shuffle really moves, so the mapping is really exercised
    answer = next(n for position, n in enumerate(order, start=1) if n != position)
    bank = load(
        tmp_path,
        question("single", options=options, answer=answer),
        question("multiple", options=options, answer=[2, 5]),
        shuffle=True,
    )
    single, multiple = bank.questions
    shown = displayed_options(bank, single)
    position = [text for _, text in shown].index(options[answer - 1])
    assert position != answer - 1
    assert grade(single, shown[position][0]).correct
    assert not grade(single, shown[answer - 1][0]).correct  # the same place *shown* is wrong

    shown = displayed_options(bank, multiple)
    picked = [number for number, text in shown if text in ("bravo", "echo")]
    assert grade(multiple, picked).correct
