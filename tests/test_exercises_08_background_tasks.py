"""08.background_task: each likely mistake gets its own hint, and a correct router passes."""

import gc

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise

EXERCISE = "08.background_task"
SOLUTION = get_exercise(EXERCISE).solution
SCHEDULE = "background.add_task(record, event)"


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


variant, hint_for = exercise_helpers.probe(EXERCISE)


def test_the_solution_passes_twice_in_a_row():
    router = get_exercise(EXERCISE).load(SOLUTION)
    assert check(EXERCISE, router).passed
    assert check(EXERCISE, router).passed  # the log is cleared, not accumulated


def test_the_starter_is_told_that_record_never_ran():
    starter = get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter)
    assert "record() never ran" in hint_for(starter)


def test_calling_record_in_the_endpoint_runs_it_before_the_response():
    assert "before the response" in hint_for(variant(SCHEDULE, "await record(event)"))


@pytest.mark.filterwarnings("ignore:coroutine 'record' was never awaited")
def test_passing_a_coroutine_to_add_task_crashes():
    hint = hint_for(variant(SCHEDULE, "background.add_task(record(event))"))
    assert "not add_task(record(event))" in hint
    gc.collect()  # the unawaited coroutine warns here (filtered), not in a later test


def test_scheduling_twice_is_refused():
    assert "ran 2 times" in hint_for(variant(SCHEDULE, f"{SCHEDULE}; {SCHEDULE}"))


def test_the_status_must_stay_202():
    assert "status_code=202" in hint_for(variant("status_code=202", "status_code=200"))


def test_something_else_than_a_router_is_refused():
    assert "Expected the APIRouter" in hint_for(lambda: None)
