"""11.catch_the_bug: a test must fail on the buggy rule and pass on the correct one, every
time; each way of getting that wrong gets a hint that names it, and never a crash."""

from typing import Any

import exercise_helpers
import pytest
from exercise_helpers import timed_check

from workshop_lab.exercises import get_exercise, hint

EXERCISE = "11.catch_the_bug"
SOLUTION = get_exercise(EXERCISE).solution
STARTER = get_exercise(EXERCISE).starter

AT_MINIMUM_IS_201 = "    assert at_minimum.status_code == 201, at_minimum.text\n"
AT_MINIMUM_TOTAL = '    assert at_minimum.json()["total_cents"] == 500\n'
BELOW_IS_422 = "    assert below.status_code == 422, below.text\n"
BELOW_CODE = '    assert below.json()["error"]["code"] == "ORDER_TOO_SMALL"\n'
ORDER_PATH = 'f"/users/{user_id}/orders"'

progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def source_variant(*replacements: tuple[str, str]) -> str:
    """The solution's source with mistakes put in."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


def load(source: str) -> Any:
    return get_exercise(EXERCISE).load(source)


# A test on an app of its own: the check cannot swap the rule there.
OWN_CLIENT = """\
from workshop_app.config import Settings
from workshop_app.main import create_app
from workshop_lab.client import app_client


async def test_minimum_order(client, user_id):
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:")
    async with app_client(create_app(settings)) as own_client:
        response = await own_client.get("/health/live")
    assert response.status_code == 422, response.text
"""

NO_STATUS_ASSERTS = source_variant((AT_MINIMUM_IS_201, ""), (AT_MINIMUM_TOTAL, ""))

# Each wrong solution, and a fragment of the hint it must get.
CASES = {
    "starter": (STARTER, "does not catch the bug. Its orders (9998 cents -> 201)"),
    "only-above-the-boundary": (
        source_variant(("order_of(500)", "order_of(501)"), ("== 500\n", "== 501\n")),
        "does not catch the bug",
    ),
    "asserts-nothing-at-the-boundary": (
        NO_STATUS_ASSERTS.replace(
            "    at_minimum = await order_of(500)", "    await order_of(500)"
        ).replace("  # the boundary itself: where off-by-ones live", ""),
        "still passed: nothing in it checks that response",
    ),
    "asserts-what-the-buggy-code-does": (
        source_variant(
            (AT_MINIMUM_IS_201, "    assert at_minimum.status_code == 422\n"),
            (AT_MINIMUM_TOTAL, ""),
        ),
        "its assertion accepts the wrong answer",
    ),
    "fails-on-the-correct-rule-too": (
        source_variant((BELOW_CODE, BELOW_CODE.replace("ORDER_TOO_SMALL", "VALIDATION_ERROR"))),
        "also fails against the correct rule",
    ),
    "pytest-fail-on-both-rules": (
        "import pytest\n\n" + SOLUTION + '    pytest.fail("not finished")\n',
        "also fails against the correct rule (not finished)",
    ),
    "body-before-status": (
        source_variant((AT_MINIMUM_IS_201, "")),
        "buggy rule your test stopped on KeyError",
    ),
    "crash-on-the-correct-rule": (
        source_variant((BELOW_CODE, BELOW_CODE + '    below.json()["nope"]\n')),
        "correct rule your test stopped on KeyError",
    ),
    "asyncio-sleep": (
        "import asyncio\n\n"
        + source_variant((AT_MINIMUM_IS_201, "    await asyncio.sleep(0.5)\n" + AT_MINIMUM_IS_201)),
        "Your test sleeps",
    ),
    "time-sleep": (
        "from time import sleep\n\n" + source_variant((BELOW_CODE, BELOW_CODE + "    sleep(60)\n")),
        "Your test sleeps",
    ),
    "hangs": (
        "import asyncio\n\n" + source_variant((BELOW_CODE, "    await asyncio.Event().wait()\n")),
        "had not finished after 1.5 s",
    ),
    "hard-coded-values": (
        "async def test_minimum_order(client, user_id):\n"
        "    total_cents = 2 * 250\n"
        "    assert total_cents < 500, 'orders of 5.00 are refused'\n",
        "without sending a single request through `client`",
    ),
    "its-own-client": (
        OWN_CLIENT,
        "without sending a single request through `client`",
    ),
    "hard-coded-user-id": (
        source_variant((ORDER_PATH, '"/users/1/orders"')),
        "sent POST /users/1/orders and got 404",
    ),
    "own-wrong-api-key": (
        source_variant(
            ('json={"lines": [line]})', 'json={"lines": [line]}, headers={"X-API-Key": "k"})')
        ),
        "got 401: it sent an X-API-Key of its own",
    ),
    "no-order-placed": (
        "async def test_minimum_order(client, user_id):\n"
        "    response = await client.get(f'/users/{user_id}')\n"
        "    assert response.status_code == 200, response.text\n",
        "placed no order",
    ),
    "skipped": (
        "import pytest\n\nasync def test_minimum_order(client, user_id):\n"
        "    await client.get('/users')\n    pytest.skip('later')\n",
        "called pytest.skip()",
    ),
    "xfail": (
        "import pytest\n\n" + source_variant((BELOW_CODE, BELOW_CODE + "    pytest.xfail('x')\n")),
        "called pytest.xfail()",
    ),
    "sys-exit": (
        "import sys\n\n" + source_variant((AT_MINIMUM_IS_201, "    sys.exit(1)\n")),
        "ended the whole run (SystemExit)",
    ),
    "depends-on-state-kept-between-runs": (
        "RUNS = []\n\n"
        + source_variant(
            (AT_MINIMUM_IS_201, "    RUNS.append(1)\n    assert len(RUNS) > 1\n"),
            (AT_MINIMUM_TOTAL, ""),
        ),
        "gave different verdicts against the same rule",
    ),
    "sync-def": (
        "def test_minimum_order(client, user_id):\n    assert False\n",
        "Make the test `async def`",
    ),
    "unknown-fixture": (
        "async def test_minimum_order(api, user_id):\n    assert False\n",
        "no fixture named api",
    ),
}


@pytest.mark.parametrize("source, fragment", CASES.values(), ids=CASES.keys())
def test_each_wrong_test_gets_the_hint_that_names_its_mistake(source, fragment):
    result = timed_check(EXERCISE, load(source))
    assert not result.passed
    assert fragment in result.hint, result.hint
    # No failure message gives the answer's code away.
    assert "<" not in result.hint and "order_of(500)" not in result.hint


def test_something_else_than_a_function_is_refused():
    result = timed_check(EXERCISE, "test_minimum_order")
    assert not result.passed and "Expected your test function" in result.hint


def test_the_solution_passes_twice_in_a_row():
    test = load(SOLUTION)
    assert timed_check(EXERCISE, test).passed
    assert timed_check(EXERCISE, test).passed  # each run builds fresh apps and databases


def test_the_hints_come_one_at_a_time_and_the_first_names_no_code():
    first = hint(EXERCISE).text
    assert not [
        code for code in ("500", "5.00", "status_code", "client.post", "<") if code in first
    ]
    assert "A new rule, and a bug" in hint(EXERCISE).text
    assert 'lab.solution("11.catch_the_bug")' in hint(EXERCISE).text


# --- other correct styles are accepted --------------------------------------------------

PYTEST_FAIL = """\
import pytest


async def test_minimum_order(client, user_id):
    cases = [(500, 201, None), (499, 422, "ORDER_TOO_SMALL"), (20_000, 201, None)]
    for cents, status, code in cases:
        line = {"sku": "KB-1", "quantity": 1, "unit_price_cents": cents}
        response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
        if response.status_code != status:
            pytest.fail(f"{cents} cents: expected {status}, got {response.text}")
        if code is not None and response.json()["error"]["code"] != code:
            pytest.fail(f"{cents} cents: expected {code}, got {response.text}")
"""

RAISE_FOR_STATUS = """\
async def test_minimum_order(client, user_id):
    line = {"sku": "KB-1", "quantity": 2, "unit_price_cents": 250}
    response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
    response.raise_for_status()  # 2 x 2.50 is exactly the minimum: accepted
"""

# The notebook's own helper style: its KEY header, the user passed by keyword.
NOTEBOOK_STYLE = """\
KEY = {"X-API-Key": "notebook-11-key"}


async def order_of(client, user_id, cents):
    line = {"sku": "KB-1", "quantity": 1, "unit_price_cents": cents}
    return await client.post(f"/users/{user_id}/orders", json={"lines": [line]}, headers=KEY)


async def test_minimum_order(user_id, client):
    refused = await order_of(client, user_id=user_id, cents=499)
    accepted = await order_of(client, user_id=user_id, cents=500)
    assert (refused.status_code, accepted.status_code) == (422, 201), refused.text
"""

OWN_USER = """\
async def test_minimum_order(client):
    body = {"email": "ada@example.com", "full_name": "Ada", "password": "correct horse 11"}
    user_id = (await client.post("/users", json=body)).json()["id"]
    line = {"sku": "A", "quantity": 5, "unit_price_cents": 100}
    response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
    assert response.status_code == 201, response.text
"""


class CallableTest:
    """A test object whose ``__call__`` is ``async def``."""

    async def __call__(self, client: Any, user_id: int) -> None:
        line = {"sku": "A", "quantity": 1, "unit_price_cents": 500}
        response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param(lambda: load(PYTEST_FAIL), id="pytest-fail-and-a-table"),
        pytest.param(lambda: load(RAISE_FOR_STATUS), id="raise-for-status"),
        pytest.param(lambda: load(NOTEBOOK_STYLE), id="notebook-helper-and-key"),
        pytest.param(lambda: load(OWN_USER), id="fewer-fixtures-own-user"),
        pytest.param(lambda: CallableTest(), id="object-with-async-call"),
    ],
)
def test_other_correct_styles_pass(candidate):
    result = timed_check(EXERCISE, candidate())
    assert result.passed, result.hint
