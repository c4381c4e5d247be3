"""11.catch_the_bug: a test must fail on the buggy rule, pass on the correct one, and not crash."""

import exercise_helpers

from workshop_lab.exercises import check, get_exercise

EXERCISE = "11.catch_the_bug"
SOLUTION = get_exercise(EXERCISE).solution
AT_MINIMUM_IS_201 = "    assert at_minimum.status_code == 201, at_minimum.text\n"


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


variant, hint_for = exercise_helpers.probe(EXERCISE)


def test_the_solution_passes_twice_in_a_row():
    test = get_exercise(EXERCISE).load(SOLUTION)
    assert check(EXERCISE, test).passed
    assert check(EXERCISE, test).passed  # each run builds fresh apps and databases


def test_the_starter_does_not_catch_the_bug():
    starter = get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter)
    assert "does not catch the bug" in hint_for(starter)


def test_testing_only_below_the_minimum_does_not_catch_the_bug():
    assert "does not catch the bug" in hint_for(variant("order_of(500)", "order_of(501)"))


def test_asserting_what_the_buggy_code_does_asserts_the_wrong_thing():
    wrong = variant(
        "assert below.status_code == 422, below.text",
        "assert below.status_code == 201, below.text",
    )
    hint = hint_for(wrong)
    assert "also fails against the correct rule" in hint and "asserts the wrong" in hint


def test_reading_the_body_before_the_status_is_a_crash_not_a_failure():
    crashing = variant(AT_MINIMUM_IS_201, '    assert at_minimum.json()["total_cents"] == 500\n')
    hint = hint_for(crashing)
    assert "buggy rule your test stopped on KeyError" in hint
    assert "assert the status first" in hint


def test_a_crash_on_the_correct_rule_is_reported_as_such():
    crashing = variant(AT_MINIMUM_IS_201, AT_MINIMUM_IS_201 + '    at_minimum.json()["nope"]\n')
    assert "correct rule your test stopped on KeyError" in hint_for(crashing)


def test_a_sync_test_is_told_to_be_async():
    def test_minimum_order(client, user_id):
        raise AssertionError("never reached")

    assert "async def" in hint_for(test_minimum_order)


def test_an_unknown_fixture_is_named():
    async def test_minimum_order(api, user_id):
        raise AssertionError("never reached")

    assert "no fixture named api" in hint_for(test_minimum_order)


def test_something_else_than_a_function_is_refused():
    assert "Expected your test function" in hint_for("test_minimum_order")


def test_a_test_may_ask_for_fewer_fixtures():
    async def test_minimum_order(client):
        body = {"email": "bob@example.com", "full_name": "Bob", "password": "long enough pw"}
        user_id = (await client.post("/users", json=body)).json()["id"]
        line = {"sku": "A", "quantity": 1, "unit_price_cents": 500}
        response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
        assert response.status_code == 201, response.text

    assert check(EXERCISE, test_minimum_order).passed
