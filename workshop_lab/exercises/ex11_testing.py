"""Exercise of notebook 11 (testing): write the test that catches a planted bug.

The notebook ships a new order rule, "orders under 5.00 are refused", with an off-by-one:
it refuses exactly 5.00 too. The learner writes ``test_minimum_order(client, user_id)``.
A test is only worth something if it tells the two versions apart, so the check runs it
twice, like pytest would, each time against a fresh app with its own database: once with
the buggy rule (the test must fail on an assert) and once with the correct rule (it must
pass). Each way of getting that wrong has its own hint.

No ``from __future__ import annotations`` here: FastAPI reads the annotation of the
dependency override below at runtime.
"""

import inspect
from typing import Any

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "11_testing"
MIN_ORDER_CENTS = 500
API_KEY = "check-11-key"
FIXTURES = ("client", "user_id")

STARTER = '''\
async def test_minimum_order(client, user_id):
    """Orders under 5.00 are refused with 422 ORDER_TOO_SMALL; 5.00 or more are accepted."""
    line = {"sku": "KB-1", "quantity": 2, "unit_price_cents": 4999}
    response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
    assert response.status_code == 201, response.text
    # TODO: place the order that catches the bug, and assert what the client must get.
'''

SOLUTION = '''\
async def test_minimum_order(client, user_id):
    """Orders under 5.00 are refused with 422 ORDER_TOO_SMALL; 5.00 or more are accepted."""

    async def order_of(cents: int):
        line = {"sku": "KB-1", "quantity": 1, "unit_price_cents": cents}
        return await client.post(f"/users/{user_id}/orders", json={"lines": [line]})

    at_minimum = await order_of(500)  # the boundary itself: where off-by-ones live
    assert at_minimum.status_code == 201, at_minimum.text
    below = await order_of(499)
    assert below.status_code == 422, below.text
    assert below.json()["error"]["code"] == "ORDER_TOO_SMALL"
'''


def _minimum_total_rule(*, buggy: bool) -> Any:
    """The notebook's rule, built on the app's current modules (notebooks reload them)."""
    from workshop_app.exceptions import ValidationFailed

    class OrderTooSmallError(ValidationFailed):
        code = "ORDER_TOO_SMALL"
        default_message = "The order total is below the minimum."

    async def minimum_total(session: Any, draft: Any) -> None:
        too_small = (
            draft.total_cents <= MIN_ORDER_CENTS if buggy else draft.total_cents < MIN_ORDER_CENTS
        )
        if too_small:
            raise OrderTooSmallError(
                f"The order total is {draft.total_cents} cents; "
                f"the minimum is {MIN_ORDER_CENTS} cents."
            )

    return minimum_total


def _app_with_rule(rule: Any) -> Any:
    """A fresh app (its own in-memory database) whose order service also applies ``rule``."""
    from workshop_app.config import Settings
    from workshop_app.dependencies import SessionDep, get_order_service
    from workshop_app.main import create_app
    from workshop_app.services import OrderService
    from workshop_app.services.order_service import DEFAULT_RULES

    async def order_service_with_rule(session: SessionDep) -> OrderService:
        return OrderService(session, rules=(*DEFAULT_RULES, rule))

    settings = Settings(
        _env_file=None,
        database_url="sqlite+aiosqlite:///:memory:",
        api_key=API_KEY,
        rate_limit_enabled=False,
        log_level="CRITICAL",
    )
    app = create_app(settings)
    app.dependency_overrides[get_order_service] = order_service_with_rule
    return app


async def _outcome(test: Any, *, buggy: bool) -> BaseException | None:
    """Run ``test`` like pytest would; return what it raised, or None when it passed."""
    async with app_client(_app_with_rule(_minimum_total_rule(buggy=buggy))) as client:
        client.headers["X-API-Key"] = API_KEY
        body = {"email": "ada@example.com", "full_name": "Ada", "password": "correct horse 11"}
        signup = await client.post("/users", json=body)
        if signup.status_code != 201:  # the check's own setup: not the learner's fault
            raise RuntimeError(f"The check could not sign up its user: {signup.text}")
        fixtures = {"client": client, "user_id": signup.json()["id"]}
        wanted = inspect.signature(test).parameters
        try:
            await test(**{name: fixtures[name] for name in wanted})
        except Exception as exc:
            return exc
    return None


def _check_shape(test: Any) -> None:
    if not callable(test) or inspect.isclass(test):
        raise ExerciseFailed(
            f"Expected your test function, got {type(test).__name__}: "
            "lab.check('11.catch_the_bug', test_minimum_order) - no parentheses."
        )
    if not inspect.iscoroutinefunction(test):
        raise ExerciseFailed(
            "Make the test `async def`: it awaits client.post(...). "
            "pytest runs it with @pytest.mark.anyio; the check awaits it."
        )
    unknown = [name for name in inspect.signature(test).parameters if name not in FIXTURES]
    if unknown:
        raise ExerciseFailed(
            f"The check has no fixture named {', '.join(unknown)}: it passes `client` "
            "(a fresh app with the rule, the API key already set) and `user_id` (a user who "
            "has signed up). Ask for them by name, as pytest fixtures."
        )


def _crashed(exc: BaseException, version: str) -> ExerciseFailed:
    return ExerciseFailed(
        f"Against the {version} rule your test stopped on {type(exc).__name__}: {exc}, "
        "not on an assert. A crash says nothing about the rule (it is an error in pytest, "
        "not a failure): assert the status first, `assert response.status_code == 201, "
        "response.text`, and only then read the body."
    )


async def verify_catch_the_bug(test: Any) -> None:
    _check_shape(test)
    on_buggy = await _outcome(test, buggy=True)
    if on_buggy is None:
        raise ExerciseFailed(
            "Your test passes against the buggy rule, so it does not catch the bug. Bugs "
            "live at boundaries: the rule says orders UNDER 5.00 are refused. What must "
            "happen to an order of exactly 5.00 (500 cents)?"
        )
    if not isinstance(on_buggy, AssertionError):
        raise _crashed(on_buggy, "buggy")
    on_correct = await _outcome(test, buggy=False)
    if isinstance(on_correct, AssertionError):
        message = str(on_correct)
        said = f" ({message[:160]}{'...' if len(message) > 160 else ''})" if message else ""
        raise ExerciseFailed(
            f"Your test also fails against the correct rule{said}, so it asserts the wrong "
            "thing: the rule accepts 5.00 or more with 201 and refuses less with 422 "
            "ORDER_TOO_SMALL. Assert what the rule promises, not what the code does today."
        )
    if on_correct is not None:
        raise _crashed(on_correct, "correct")


EXERCISES = (
    Exercise(
        id="11.catch_the_bug",
        notebook_id=NOTEBOOK_ID,
        title="A test that catches the bug",
        instructions=(
            "Complete test_minimum_order(client, user_id) so that it fails against the "
            "notebook's minimum_total rule as shipped and passes once the rule is right. The "
            "check runs it against both versions, each on a fresh app with its own database."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="test_minimum_order",
        verify=verify_catch_the_bug,
        success="It fails on the buggy rule and passes on the correct one: it catches the bug.",
    ),
)
