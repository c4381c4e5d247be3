"""07.business_rule: each likely mistake gets its own hint, and a correct rule passes."""

from typing import Any

import exercise_helpers
import pytest

from workshop_app.exceptions import ConflictError
from workshop_app.services import user_service
from workshop_lab.exercises import check, get_exercise

EXERCISE = "07.business_rule"
SOLUTION = get_exercise(EXERCISE).solution


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check creates users through the API; the hash cost is not what it tests."""
    monkeypatch.setattr(user_service, "SCRYPT_N", 2**8)


def variant(*replacements: tuple[str, str]) -> Any:
    """The solution with mistakes put in, loaded as a learner's cell would be."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return get_exercise(EXERCISE).load(source)


WHERE = "Order.user_id == draft.user_id, Order.status == OrderStatus.PENDING"
RAISE = "raise TooManyPendingOrders("
IMPORTS = "from sqlmodel import func, select\n"


class NotARule:
    pass


def sync_rule(session: Any, draft: Any) -> None:
    return None


async def one_parameter(draft: Any) -> None:
    return None


# An AppError from before lab.reload_app(): same module and name, another class object.
StaleAppError = type("AppError", (Exception,), {"__module__": "workshop_app.exceptions"})
StaleConflict = type("TooManyPendingOrders", (StaleAppError,), {"status_code": 409})


async def stale_rule(session: Any, draft: Any) -> None:
    raise StaleConflict("too many")


CASES = {
    "class": (NotARule, "You passed the class NotARule"),
    "none": (None, "Expected the function limit_pending_orders, got NoneType"),
    "sync": (sync_rule, "must be `async def`"),
    "one-parameter": (one_parameter, "keep exactly those two parameters"),
    "starter": (
        get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter),
        "Ada's order number 4 was accepted (201)",
    ),
    "greater-than": (variant((">= MAX", "> MAX")), "compare with >="),
    "refuses-too-early": (
        variant((">= MAX_PENDING_ORDERS", ">= MAX_PENDING_ORDERS - 1")),
        "Ada's order number 3 was refused (409 TOO_MANY_PENDING_ORDERS): she had only 2",
    ),
    "returns-instead-of-raising": (
        variant((RAISE, "return False and TooManyPendingOrders(")),
        "your rule returned False",
    ),
    "value-error": (variant((RAISE, "raise ValueError(")), "raised ValueError: User 1 already"),
    "http-exception": (
        variant(
            (IMPORTS, IMPORTS + "from fastapi import HTTPException\n"),
            (RAISE, "raise HTTPException(409, "),
        ),
        "You raised HTTPException",
    ),
    "plain-conflict": (variant((RAISE, "raise ConflictError(")), 'has the code "CONFLICT"'),
    "not-found": (
        variant(
            (IMPORTS, IMPORTS + "from workshop_app.exceptions import NotFoundError\n"),
            (RAISE, "raise NotFoundError("),
        ),
        "refused with 404 NOT_FOUND; expected 409",
    ),
    "every-user": (
        variant((WHERE, "Order.status == OrderStatus.PENDING")),
        "Bob's first order was refused",
    ),
    "every-status": (
        variant((WHERE, "Order.user_id == draft.user_id")),
        "Count only orders whose status is OrderStatus.PENDING",
    ),
    "broken-query": (
        variant(
            (IMPORTS, "from sqlmodel import func, select, text\n"), (WHERE, "text('state = 1')")
        ),
        "Your query failed: OperationalError",
    ),
    "stale-app-error": (stale_rule, "derives from an older ConflictError"),
    "no-await": (
        variant(("(await session.exec(query)).one()", "session.exec(query).one()")),
        "session.exec(...) is a coroutine",
    ),
}


@pytest.mark.parametrize(("candidate", "expected"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_its_own_hint(candidate: Any, expected: str) -> None:
    result = check(EXERCISE, candidate)
    assert result.passed is False
    assert expected in result.hint, result.hint


def test_the_solution_passes_and_says_what_it_proved() -> None:
    result = check(EXERCISE, get_exercise(EXERCISE).load(SOLUTION))
    assert result.passed, result.hint
    assert "refused with 409 TOO_MANY_PENDING_ORDERS" in result.message


def test_another_correct_rule_passes_too() -> None:
    """Not only the reference solution: counting in Python, and a plain ConflictError subclass."""

    class Busy(ConflictError):
        code = "TOO_MANY_PENDING_ORDERS"

    from sqlmodel import select

    from workshop_app.models import Order

    async def rule(session: Any, draft: Any) -> None:
        orders = (await session.exec(select(Order).where(Order.user_id == draft.user_id))).all()
        if sum(order.status == "pending" for order in orders) > 2:
            raise Busy()

    assert check(EXERCISE, rule).passed
