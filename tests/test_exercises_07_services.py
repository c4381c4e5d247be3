"""07.business_rule: each plausible wrong rule is rejected with a hint that names its
mistake, correct rules in other styles pass, and every check stays under 3 s."""

import asyncio
import functools
from typing import Any

import exercise_helpers
import pytest
from exercise_helpers import timed_check
from sqlmodel import col, func, select

from workshop_app.exceptions import ConflictError
from workshop_app.models import Order, OrderStatus, User
from workshop_lab.exercises import check, get_exercise

EXERCISE = "07.business_rule"
SOLUTION = get_exercise(EXERCISE).solution

progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, hint_for = exercise_helpers.probe(EXERCISE)

WHERE = "Order.user_id == draft.user_id, Order.status == OrderStatus.PENDING"
RAISE = "raise TooManyPendingOrders("
IMPORTS = "from sqlmodel import func, select\n"


def edited(*replacements: tuple[str, str]) -> Any:
    """The solution with several mistakes put in, loaded as a learner's cell would be."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return get_exercise(EXERCISE).load(source)


class TooMany(ConflictError):
    code = "TOO_MANY_PENDING_ORDERS"


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


async def pending_of(session: Any, user_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Order)
        .where(Order.user_id == user_id, Order.status == OrderStatus.PENDING)
    )
    return (await session.exec(query)).one()


class CountsItsOwnCalls:
    """Counts the orders it let through, per user: blind to what the database holds."""

    def __init__(self) -> None:
        self.placed: dict[int, int] = {}

    async def __call__(self, session: Any, draft: Any) -> None:
        if self.placed.get(draft.user_id, 0) >= 3:
            raise TooMany()
        self.placed[draft.user_id] = self.placed.get(draft.user_id, 0) + 1


class CachesTheCount:
    """Reads the database once per user, then keeps counting on its own: misses payments."""

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}

    async def __call__(self, session: Any, draft: Any) -> None:
        if draft.user_id not in self.pending:
            self.pending[draft.user_id] = await pending_of(session, draft.user_id)
        if self.pending[draft.user_id] >= 3:
            raise TooMany()
        self.pending[draft.user_id] += 1


class KeepsTheCallOnSelf:
    """Stores the call's session and draft on self for its helpers: right one at a time,
    wrong when a second request arrives while the first is still waiting on the database."""

    async def __call__(self, session: Any, draft: Any) -> None:
        self.session, self.draft = session, draft
        if await self.session.get(User, self.draft.user_id) is None:
            return
        if await self._pending() >= 3:
            raise TooMany()

    async def _pending(self) -> int:
        return await pending_of(self.session, self.draft.user_id)


WRONG = {
    "class": (NotARule, "You passed the class NotARule itself"),
    "none": (None, "Expected the function limit_pending_orders, got NoneType"),
    "sync": (sync_rule, "Your rule returned None instead of something the service can await"),
    "one-parameter": (one_parameter, "Keep exactly those two parameters"),
    "starter": (
        get_exercise(EXERCISE).load(get_exercise(EXERCISE).starter),
        "your rule accepted two more: it never refused him",
    ),
    "greater-than": (
        variant(">= MAX_PENDING_ORDERS", "> MAX_PENDING_ORDERS"),
        "his next order was accepted, and only the one after it refused",
    ),
    "refuses-too-early": (
        variant(">= MAX_PENDING_ORDERS", ">= MAX_PENDING_ORDERS - 1"),
        "Fay's order was refused (409 TOO_MANY_PENDING_ORDERS): she had 2 pending orders",
    ),
    "not-paid": (
        variant("Order.status == OrderStatus.PENDING", "Order.status != OrderStatus.PAID"),
        "Ada (2 pending, 2 cancelled) and Cleo (2 pending, 2 shipped) were refused "
        "(409 TOO_MANY_PENDING_ORDERS): your count includes "
        "cancelled and shipped orders",
    ),
    "not-cancelled": (
        variant("Order.status == OrderStatus.PENDING", "Order.status != OrderStatus.CANCELLED"),
        "your count includes paid and shipped orders",
    ),
    "pending-or-paid": (
        variant(
            "Order.status == OrderStatus.PENDING",
            "Order.status.in_([OrderStatus.PENDING, OrderStatus.PAID])",
        ),
        "Bob (2 pending, 2 paid) was refused",
    ),
    "every-status": (
        variant(WHERE, "Order.user_id == draft.user_id"),
        "your count includes cancelled, paid and shipped orders",
    ),
    "every-user": (
        variant(WHERE, "Order.status == OrderStatus.PENDING"),
        "Eve's first order was refused (409 TOO_MANY_PENDING_ORDERS): she has no orders",
    ),
    "wrong-column": (
        variant("Order.user_id == draft.user_id", "Order.id == draft.user_id"),
        "it never refused him",
    ),
    "counts-its-own-calls": (CountsItsOwnCalls(), "it never refused him"),
    "caches-the-count": (
        CachesTheCount(),
        "after she paid one pending order and cancelled another was refused",
    ),
    "state-on-self": (KeepsTheCallOnSelf(), "with four orders at the same moment"),
    "returns-instead-of-raising": (
        variant(RAISE, "return False and TooManyPendingOrders("),
        "your rule returned False, and the service ignores what a rule returns",
    ),
    "value-error": (
        variant(RAISE, "raise ValueError("),
        "Your rule raised ValueError: User 4 already has 3 pending orders",
    ),
    "http-exception": (
        edited(
            (IMPORTS, IMPORTS + "from fastapi import HTTPException\n"),
            (RAISE, "raise HTTPException(409, "),
        ),
        "You raised HTTPException",
    ),
    "plain-conflict": (variant(RAISE, "raise ConflictError("), 'has the code "CONFLICT"'),
    "not-found": (
        edited(
            (IMPORTS, IMPORTS + "from workshop_app.exceptions import NotFoundError\n"),
            (RAISE, "raise NotFoundError("),
        ),
        "refused with 404 NOT_FOUND; expected 409",
    ),
    "broken-query": (
        edited(
            (IMPORTS, "from sqlmodel import func, select, text\n"), (WHERE, "text('state = 1')")
        ),
        "Your query failed in the database: OperationalError",
    ),
    "stale-app-error": (stale_rule, "derives from an older ConflictError"),
    "no-await": (
        variant("(await session.exec(query)).one()", "session.exec(query).one()"),
        "what session.exec(...) returns is a coroutine",
    ),
}


@pytest.mark.parametrize(("candidate", "expected"), WRONG.values(), ids=WRONG.keys())
def test_each_wrong_rule_is_rejected_with_a_hint_naming_its_mistake(
    candidate: Any, expected: str
) -> None:
    result = timed_check(EXERCISE, candidate)
    assert result.passed is False
    assert expected in result.hint, result.hint


def test_no_failure_message_gives_the_code_away() -> None:
    for candidate, _ in WRONG.values():
        hint = check(EXERCISE, candidate).hint
        for fragment in ("select(", ".where(", "OrderStatus.PENDING", ">=", "raise Too"):
            assert fragment not in hint, (fragment, hint)


def test_the_hints_name_the_idea_then_the_section() -> None:
    first, second = get_exercise(EXERCISE).hints
    assert "select" not in first and "OrderStatus" not in first
    assert '"Step 2: rules for new orders"' in second


def test_the_solution_passes_and_says_what_it_proved() -> None:
    result = timed_check(EXERCISE, get_exercise(EXERCISE).load(SOLUTION))
    assert result.passed, result.hint
    assert "refused with 409 TOO_MANY_PENDING_ORDERS" in result.message


class PendingLimit:
    """A rule with a setting: an object whose __call__ is async def, counting in Python."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def __call__(self, session: Any, draft: Any) -> None:
        statuses = await session.exec(select(Order.status).where(Order.user_id == draft.user_id))
        pending = sum(status == "pending" for status in statuses)
        if pending >= self.limit:
            raise TooMany(f"{pending} orders are waiting for payment.")


async def limit_with_keyword(session: Any, draft: Any, *, limit: int = 3) -> None:
    query = select(func.count(col(Order.id))).where(
        col(Order.user_id) == draft.user_id, col(Order.status).in_([OrderStatus.PENDING])
    )
    result = await session.exec(query)
    if result.one() + 1 > limit:  # the order being placed would be one too many
        raise TooMany()


def rule_returning_a_coroutine(session: Any, draft: Any) -> Any:
    """A plain def is a valid rule too, as long as what it returns can be awaited."""
    return asyncio.wait_for(limit_with_keyword(session, draft), timeout=5)


CORRECT = {
    "object-with-async-call": PendingLimit(3),
    "keyword-setting": limit_with_keyword,
    "partial": functools.partial(limit_with_keyword, limit=3),
    "def-returning-an-awaitable": rule_returning_a_coroutine,
}


@pytest.mark.parametrize("candidate", CORRECT.values(), ids=CORRECT.keys())
def test_correct_rules_in_other_styles_pass(candidate: Any) -> None:
    result = timed_check(EXERCISE, candidate)
    assert result.passed, result.hint
