"""09.subscribe_handler: each likely mistake gets its own hint, and a correct one passes."""

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise

EXERCISE = "09.subscribe_handler"
SOLUTION = get_exercise(EXERCISE).solution
SUBSCRIBE = 'bus.subscribe(OrderPlaced, flag_big_order, name="big_orders")'


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


variant, hint_for = exercise_helpers.probe(EXERCISE)


def test_the_solution_passes_twice_in_a_row():
    subscribe = get_exercise(EXERCISE).load(SOLUTION)
    assert check(EXERCISE, subscribe).passed
    assert check(EXERCISE, subscribe).passed  # big_orders is cleared, not accumulated


def test_the_starter_is_told_to_subscribe():
    starter = get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter)
    assert "No handler was subscribed" in hint_for(starter)


def test_the_default_name_is_refused_for_a_stable_one():
    hint = hint_for(variant(SUBSCRIBE, "bus.subscribe(OrderPlaced, flag_big_order)"))
    assert "'flag_big_order'" in hint and "name it 'big_orders'" in hint


@pytest.mark.parametrize("event_type", ["DomainEvent", "UserRegistered"])
def test_the_wrong_event_type_is_named(event_type):
    source = SOLUTION.replace(
        "from workshop_app.events import OrderPlaced",
        "from workshop_app.events import DomainEvent, OrderPlaced, UserRegistered",
    ).replace(SUBSCRIBE, f'bus.subscribe({event_type}, flag_big_order, name="big_orders")')
    hint = hint_for(get_exercise(EXERCISE).load(source))
    assert "OrderPlaced only" in hint


def test_calling_the_handler_instead_of_passing_it():
    bad = 'bus.subscribe(OrderPlaced, flag_big_order(), name="big_orders")'
    assert "not a call" in hint_for(variant(SUBSCRIBE, bad))


def test_subscribing_twice_under_one_name_is_refused():
    assert "Subscribe it once" in hint_for(variant(SUBSCRIBE, f"{SUBSCRIBE}; {SUBSCRIBE}"))


def test_subscribing_twice_under_two_names_runs_twice():
    twice = f'{SUBSCRIBE}; bus.subscribe(OrderPlaced, flag_big_order, name="again")'
    assert "ran 2 times" in hint_for(variant(SUBSCRIBE, twice))


def test_a_changed_threshold_is_caught():
    assert "small order" in hint_for(variant(">= 10_000", ">= 0"))


def test_an_async_subscribe_is_refused():
    assert "plain def" in hint_for(variant("def subscribe(", "async def subscribe("))


def test_something_else_than_a_function_is_refused():
    assert "Pass the function subscribe" in hint_for(int)
