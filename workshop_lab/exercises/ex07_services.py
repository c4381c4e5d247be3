"""Exercise of notebook 06 (services): a business rule, obeyed by the real endpoint.

The learner writes an ``OrderRule``: an async function that looks at a new order and
raises a domain error to refuse it. The check plugs it into ``OrderService`` (through a
dependency override, as a test would) and places real orders through
``POST /users/{id}/orders`` on the learner's current app, with its own in-memory
database: the refused and the accepted cases are HTTP responses, not function results.
No ``from __future__ import annotations``: FastAPI introspects the override below.
"""

import importlib
import inspect
from typing import Any

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "07_services"
MAX_PENDING = 3
CODE = "TOO_MANY_PENDING_ORDERS"
API_KEY = "check-06-key"
KEY = {"X-API-Key": API_KEY}
LINES = {"lines": [{"sku": "KB-1", "quantity": 1, "unit_price_cents": 4999}]}

RULE_STARTER = '''\
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.exceptions import ConflictError
from workshop_app.services import OrderDraft

MAX_PENDING_ORDERS = 3


class TooManyPendingOrders(ConflictError):
    code = "TOO_MANY_PENDING_ORDERS"
    default_message = "Pay or cancel a pending order before placing a new one."


async def limit_pending_orders(session: AsyncSession, draft: OrderDraft) -> None:
    """Refuse a new order while its user already has MAX_PENDING_ORDERS pending orders."""
    # TODO 1: count the pending orders of draft.user_id. You will need
    #     from sqlmodel import func, select
    #     from workshop_app.models import Order, OrderStatus
    #     query = select(func.count()).select_from(Order).where(...)
    #     pending = (await session.exec(query)).one()
    # TODO 2: raise TooManyPendingOrders(...) when there are already MAX_PENDING_ORDERS
'''

RULE_SOLUTION = '''\
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.exceptions import ConflictError
from workshop_app.models import Order, OrderStatus
from workshop_app.services import OrderDraft

MAX_PENDING_ORDERS = 3


class TooManyPendingOrders(ConflictError):
    code = "TOO_MANY_PENDING_ORDERS"
    default_message = "Pay or cancel a pending order before placing a new one."


async def limit_pending_orders(session: AsyncSession, draft: OrderDraft) -> None:
    """Refuse a new order while its user already has MAX_PENDING_ORDERS pending orders."""
    query = (
        select(func.count())
        .select_from(Order)
        .where(Order.user_id == draft.user_id, Order.status == OrderStatus.PENDING)
    )
    pending = (await session.exec(query)).one()
    if pending >= MAX_PENDING_ORDERS:
        raise TooManyPendingOrders(
            f"User {draft.user_id} already has {pending} pending orders; "
            "pay or cancel one before placing another."
        )
'''


def _check_shape(candidate: Any) -> None:
    """Mistakes visible before any request: what was passed, and how it can be called."""
    if inspect.isclass(candidate):
        raise ExerciseFailed(
            f"You passed the class {candidate.__name__}; pass the rule itself: "
            "lab.check('07.business_rule', limit_pending_orders)."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function limit_pending_orders, got {type(candidate).__name__} "
            f"({candidate!r:.60})."
        )
    if not inspect.iscoroutinefunction(candidate):
        raise ExerciseFailed(
            "limit_pending_orders must be `async def`: the service awaits every rule, and "
            "the query inside needs `await session.exec(...)`."
        )
    try:
        inspect.signature(candidate).bind("session", "draft")
    except TypeError:
        raise ExerciseFailed(
            "The service calls rule(session, draft): keep exactly those two parameters."
        ) from None


def _build_app(candidate: Any, outcomes: list[Any]) -> Any:
    """The learner's current app, its OrderService running the candidate after the defaults."""
    config = importlib.import_module("workshop_app.config")
    main = importlib.import_module("workshop_app.main")
    dependencies = importlib.import_module("workshop_app.dependencies")
    order_service = importlib.import_module("workshop_app.services.order_service")
    settings = config.Settings(
        environment="test",
        database_url="sqlite+aiosqlite:///:memory:",
        api_key=API_KEY,
        rate_limit_enabled=False,
        log_level="CRITICAL",  # a crashing attempt logs a traceback; keep it out of the cell
    )
    app = main.create_app(settings)

    async def recorded(session: Any, draft: Any) -> None:
        try:
            outcome = await candidate(session, draft)
        except BaseException as exc:
            outcomes.append(exc)
            raise
        outcomes.append(outcome)

    def order_service_with_the_rule(session: dependencies.SessionDep) -> Any:
        return order_service.OrderService(session, rules=(*order_service.DEFAULT_RULES, recorded))

    app.dependency_overrides[dependencies.get_order_service] = order_service_with_the_rule
    return app


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def _crash_hint(outcome: Any) -> str:
    """Why the app answered 500: what the candidate raised."""
    if not isinstance(outcome, BaseException):
        return (
            "The app answered 500 INTERNAL_ERROR after your rule returned: is the app itself "
            "intact? lab.restore() puts the reference modules back."
        )
    app_error = importlib.import_module("workshop_app.exceptions").AppError
    names = {(cls.__module__, cls.__name__) for cls in type(outcome).__mro__}
    if ("workshop_app.exceptions", "AppError") in names and not isinstance(outcome, app_error):
        return (
            "TooManyPendingOrders derives from an older ConflictError: the app's modules were "
            "reloaded after you ran the exercise cell, so today's handler does not recognise "
            "it. Run the exercise cell again, then check."
        )
    if isinstance(outcome, AttributeError) and "'coroutine' object" in str(outcome):
        return (
            f"Your rule raised {_describe(outcome)}: session.exec(...) is a coroutine. "
            "Await it before reading the result: (await session.exec(query)).one()."
        )
    if type(outcome).__module__.startswith("sqlalchemy"):
        return (
            f"Your query failed: {_describe(outcome)}. Build it with "
            "select(func.count()).select_from(Order).where(...) and run it with "
            "(await session.exec(query)).one()."
        )
    return (
        f"Your rule raised {_describe(outcome)}, which is not an AppError, so the catch-all "
        "handler answered 500 INTERNAL_ERROR. Raise TooManyPendingOrders(...) (a "
        "ConflictError) to refuse the order."
    )


def _expect_refused(response: Any, outcomes: list[Any], situation: str) -> None:
    status = response.status_code
    outcome = outcomes[-1] if outcomes else None
    if status == 201:
        if outcome is not None and not isinstance(outcome, BaseException):
            raise ExerciseFailed(
                f"{situation} was accepted: your rule returned {outcome!r}, and the service "
                "ignores return values. A rule refuses by raising: "
                "raise TooManyPendingOrders(...)."
            )
        raise ExerciseFailed(
            f"{situation} was accepted (201). Count the user's pending orders and raise "
            f"TooManyPendingOrders when there are already {MAX_PENDING}: compare with >=, "
            "because the count does not include the order being placed."
        )
    if status == 500:
        raise ExerciseFailed(_crash_hint(outcome))
    code = response.json().get("error", {}).get("code")
    if status != 409:
        raise ExerciseFailed(
            f"{situation} was refused with {status} {code}; expected 409. The request is "
            "valid and the user exists: it conflicts with the orders they already have. "
            "Derive the error from ConflictError, as TooManyPendingOrders does."
        )
    if code != CODE:
        is_http = any(cls.__name__ == "HTTPException" for cls in type(outcome).__mro__)
        if is_http:
            raise ExerciseFailed(
                "You raised HTTPException: services and their rules never import FastAPI "
                "(a CLI or a cron job runs them too). Raise TooManyPendingOrders(...)."
            )
        raise ExerciseFailed(
            f'The 409 has the code "{code}"; raise TooManyPendingOrders, whose code '
            f'"{CODE}" tells a client exactly which rule refused the order.'
        )


def _expect_accepted(response: Any, outcomes: list[Any], situation: str, why: str) -> None:
    if response.status_code == 201:
        return
    if response.status_code == 500:
        raise ExerciseFailed(_crash_hint(outcomes[-1] if outcomes else None))
    code = response.json().get("error", {}).get("code")
    raise ExerciseFailed(f"{situation} was refused ({response.status_code} {code}): {why}")


async def verify_business_rule(candidate: Any) -> None:
    _check_shape(candidate)
    outcomes: list[Any] = []
    async with app_client(_build_app(candidate, outcomes)) as client:

        async def user(email: str) -> int:
            body = {"email": email, "full_name": email.split("@")[0], "password": "pass-w0rd"}
            response = await client.post("/users", json=body, headers=KEY)
            if response.status_code != 201:
                raise ExerciseFailed(
                    f"POST /users answered {response.status_code}: the app's users endpoint "
                    "is broken. lab.restore() puts the reference modules back."
                )
            return response.json()["id"]

        async def place(user_id: int) -> Any:
            return await client.post(f"/users/{user_id}/orders", json=LINES, headers=KEY)

        ada, bob = await user("ada@example.com"), await user("bob@example.com")
        placed = []
        for number in range(1, MAX_PENDING + 1):
            response = await place(ada)
            _expect_accepted(
                response,
                outcomes,
                f"Ada's order number {number}",
                f"she had only {number - 1} pending. At most {MAX_PENDING} pending orders "
                f"means the {MAX_PENDING}th is accepted and the {MAX_PENDING + 1}th refused: "
                "refuse when the count is already MAX_PENDING_ORDERS (>=), before adding.",
            )
            placed.append(response.json()["id"])
        _expect_refused(await place(ada), outcomes, f"Ada's order number {MAX_PENDING + 1}")
        _expect_accepted(
            await place(bob),
            outcomes,
            "Bob's first order",
            "he has no orders at all. Count only the orders of draft.user_id.",
        )
        await client.post(f"/orders/{placed[0]}/pay", headers=KEY)
        await client.post(f"/orders/{placed[1]}/cancel", headers=KEY)
        _expect_accepted(
            await place(ada),
            outcomes,
            "After Ada paid one order and cancelled another, her next order",
            "she had one pending order left. Count only orders whose status is "
            "OrderStatus.PENDING.",
        )
        await place(ada)
        _expect_refused(
            await place(ada), outcomes, f"With {MAX_PENDING} pending orders again, Ada's next"
        )


EXERCISES = (
    Exercise(
        id="07.business_rule",
        notebook_id=NOTEBOOK_ID,
        title="A business rule, obeyed by the endpoint",
        instructions=(
            f"Complete limit_pending_orders: a user may have at most {MAX_PENDING} pending "
            "orders; a new order beyond that is refused with TooManyPendingOrders (409 "
            f"{CODE}). The check adds your rule to OrderService and places orders through "
            "POST /users/{id}/orders."
        ),
        starter=RULE_STARTER,
        solution=RULE_SOLUTION,
        name="limit_pending_orders",
        verify=verify_business_rule,
        success=(
            f"The {MAX_PENDING + 1}th pending order is refused with 409 {CODE}; other users, "
            "paid and cancelled orders do not count."
        ),
    ),
)
