"""Exercise of notebook 07 (services): a business rule, obeyed by the real endpoint.

The learner writes an ``OrderRule``: an async callable that looks at a new order and
raises a domain error to refuse it. The check plugs it into ``OrderService`` (through a
dependency override, as a test would) and places real orders through
``POST /users/{id}/orders`` on the learner's current app, with a SQLite file of its own
(in a temporary folder). Six users start with order histories written straight into that
database, each built to expose one mistake:

=====  =================================  ============================================
user   history before the check           a rule is wrong if it ...
=====  =================================  ============================================
Eve    no orders                          refuses her: it ignores whose orders they are
Fay    2 pending                          refuses her 3rd: it refuses one too early
Dan    3 pending                          accepts his 4th: ``>`` instead of ``>=``, or it
                                          does not see the orders in the database
Ada    2 pending, 2 cancelled             refuses her: it counts cancelled orders
Bob    2 pending, 2 paid                  refuses him: it counts paid orders
Cleo   2 pending, 2 shipped               refuses her: it counts shipped orders
=====  =================================  ============================================

(``status != PAID`` fails on Ada and Cleo.) Then Ada pays one order and cancels another
through the API, and must be allowed a new one; last, four orders arrive at the same
moment, as they do in production, to catch a rule that keeps per-call values between
calls. The refused and accepted cases are HTTP responses, not function results.
No ``from __future__ import annotations``: FastAPI introspects the override below.
"""

import asyncio
import contextlib
import importlib
import inspect
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from ..client import app_client
from ._base import Exercise, ExerciseFailed, StateSpy, describe_error, learner_app, learner_module

NOTEBOOK_ID = "07_services"
MAX_PENDING = 3
CODE = "TOO_MANY_PENDING_ORDERS"
API_KEY = "check-07-key"
KEY = {"X-API-Key": API_KEY}
LINES = {"lines": [{"sku": "KB-1", "quantity": 1, "unit_price_cents": 4999}]}

# Who exists before the check places anything, and the statuses of their orders.
HISTORIES: dict[str, tuple[str, ...]] = {
    "Ada": ("pending", "pending", "cancelled", "cancelled"),
    "Bob": ("pending", "pending", "paid", "paid"),
    "Cleo": ("pending", "pending", "shipped", "shipped"),
    "Dan": ("pending", "pending", "pending"),
    "Eve": (),
    "Fay": ("pending", "pending"),
}
# Whose refusal gives away which status the rule counts, though it is not pending.
COUNTS_IF_REFUSED = {"Ada": "cancelled", "Bob": "paid", "Cleo": "shipped"}

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
    # TODO 1: count the orders of draft.user_id that are pending. You will need
    #     from sqlmodel import func, select
    #     from workshop_app.models import Order, OrderStatus
    #     query = select(func.count()).select_from(Order).where(...)
    #     pending = (await session.exec(query)).one()
    # TODO 2: refuse the order (raise TooManyPendingOrders with a message that says why)
    #     when that user already has MAX_PENDING_ORDERS pending orders.
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

HINTS = (
    "A rule asks the database one question before the order is written: how many orders "
    "of the user placing this one are still waiting for payment right now? Once that number "
    "has reached the limit, refuse by raising the domain error the cell defines; otherwise "
    "just return.",
    'Read "Step 2: rules for new orders" in this notebook (how the service calls a rule, what '
    'the draft holds, how a rule refuses) and the diagram in "Step 3: the state machine" '
    "(which status an order has while it waits for payment). The starter's TODOs show the "
    "shape of a counting query.",
)


class _NotAwaitable(Exception):
    """The candidate returned something the service cannot await."""


def _check_shape(candidate: Any) -> None:
    """Mistakes visible before any request: what was passed, and how it can be called.

    Whether it is async is found out by calling it (see ``_build_app``): an object whose
    ``__call__`` is ``async def`` is a valid rule, and so is anything returning an awaitable.
    """
    if inspect.isclass(candidate):
        raise ExerciseFailed(
            f"You passed the class {candidate.__name__} itself. The service calls the rule "
            "with (session, draft): pass your function, or an instance of your class."
        )
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function limit_pending_orders, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Run the cell that defines it, then check it."
        )
    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):  # some callables have no signature to read
        return
    try:
        signature.bind("session", "draft")
    except TypeError:
        raise ExerciseFailed(
            f"The service calls every rule as rule(session, draft), two positional "
            f"arguments; yours takes {signature}. Keep exactly those two parameters."
        ) from None


class _Meeting:
    """Holds the first query of each request of a burst until all of them have reached
    theirs, so the rule's calls overlap for certain, not by luck of the scheduler."""

    def __init__(self) -> None:
        self.expected = 0
        self._arrived = 0
        self._everyone = asyncio.Event()

    def expect(self, count: int) -> None:
        self.expected, self._arrived, self._everyone = count, 0, asyncio.Event()

    async def arrive(self) -> None:
        if not self.expected:
            return
        self._arrived += 1
        if self._arrived >= self.expected:
            self._everyone.set()
        with contextlib.suppress(TimeoutError):  # a rule that never queries meets no one
            await asyncio.wait_for(self._everyone.wait(), 0.5)


class _WaitingSession:
    """The request's session, whose first query waits at the meeting point."""

    def __init__(self, session: Any, meeting: _Meeting) -> None:
        self._session, self._meeting, self._met = session, meeting, False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._session, name)
        if name not in ("exec", "execute", "get", "scalar", "scalars"):
            return attribute

        async def query(*args: Any, **kwargs: Any) -> Any:
            if not self._met:
                self._met = True
                await self._meeting.arrive()
            return await attribute(*args, **kwargs)

        return query


def _build_app(candidate: Any, outcomes: dict[int, Any], database: Path, meeting: _Meeting) -> Any:
    """The learner's current app, its OrderService running the candidate after the defaults.

    The database is a file, not ``:memory:``: an in-memory database has one connection, so
    requests would take turns, and a rule that keeps state between calls would never meet
    a second request in the middle of its work.

    ``outcomes[user_id]`` is what the candidate did for that user's latest order: the value
    it returned or the exception it raised (the app turns an exception into a response).
    """
    dependencies = learner_module("dependencies")
    order_service = learner_module("services.order_service")
    app = learner_app(database_url=f"sqlite+aiosqlite:///{database.as_posix()}", api_key=API_KEY)

    async def recorded(session: Any, draft: Any) -> None:
        try:
            result = candidate(_WaitingSession(session, meeting), draft)
            if not inspect.isawaitable(result):
                raise _NotAwaitable(repr(result))
            outcome = await result
        except BaseException as exc:
            outcomes[draft.user_id] = exc
            raise
        outcomes[draft.user_id] = outcome

    async def order_service_with_the_rule(session: dependencies.SessionDep) -> Any:
        return order_service.OrderService(session, rules=(*order_service.DEFAULT_RULES, recorded))

    app.dependency_overrides[dependencies.get_order_service] = order_service_with_the_rule
    return app


async def _write_histories(engine: Any) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Users and their past orders, written straight into the app's database: the ids of
    the users by name, and of each user's pending orders."""
    session_module = importlib.import_module("sqlmodel.ext.asyncio.session")
    models = importlib.import_module("workshop_app.models")
    users: dict[str, int] = {}
    pending: dict[str, list[int]] = {}
    async with session_module.AsyncSession(engine, expire_on_commit=False) as session:
        for name in HISTORIES:
            user = models.User(
                email=f"{name.lower()}@example.com", full_name=name, password_hash="!"
            )
            session.add(user)
            await session.flush()
            users[name] = user.id
        for name, statuses in HISTORIES.items():
            orders = [
                models.Order(
                    user_id=users[name], status=models.OrderStatus(status), total_cents=4999
                )
                for status in statuses
            ]
            session.add_all(orders)
            await session.flush()
            pending[name] = [o.id for o in orders if o.status == models.OrderStatus.PENDING]
        await session.commit()
    return users, pending


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _nth(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _crash_hint(outcome: Any) -> str:
    """Why the app answered 500: what the candidate raised."""
    if not isinstance(outcome, BaseException):
        return (
            "The app answered 500 INTERNAL_ERROR after your rule returned: is the app itself "
            "intact? lab.changed_modules() shows what differs from the notebooks' version, "
            "and lab.restore() puts the reference modules back."
        )
    if isinstance(outcome, _NotAwaitable):
        return (
            f"Your rule returned {outcome} instead of something the service can await: the "
            "service awaits every rule, because a rule queries the database. Write it with "
            "`async def` (or give your class an `async def __call__`)."
        )
    app_error = importlib.import_module("workshop_app.exceptions").AppError
    names = {(cls.__module__, cls.__name__) for cls in type(outcome).__mro__}
    if ("workshop_app.exceptions", "AppError") in names and not isinstance(outcome, app_error):
        return (
            "Your error class derives from an older ConflictError: the app's modules were "
            "reloaded after you ran the exercise cell, so today's handler does not recognise "
            "it and answers 500. Run the exercise cell again, then check."
        )
    if isinstance(outcome, AttributeError) and "'coroutine' object" in str(outcome):
        return (
            f"Your rule raised {describe_error(outcome)}: what session.exec(...) returns is a "
            "coroutine, not the result yet. Await it first, then read the count from the result."
        )
    if type(outcome).__module__.startswith("sqlalchemy"):
        return (
            f"Your query failed in the database: {describe_error(outcome)}. Count rows of the "
            "Order table, with conditions on its columns (the user, the status)."
        )
    return (
        f"Your rule raised {describe_error(outcome)}, which is not an AppError, so the catch-all "
        "handler answered 500 INTERNAL_ERROR. Refuse by raising TooManyPendingOrders, a "
        "ConflictError the error handlers turn into a 409."
    )


def _refusal(response: Any) -> str:
    code = response.json().get("error", {}).get("code")
    return f"{response.status_code} {code}"


def _expect_refused(response: Any, outcome: Any, situation: str) -> None:
    """``situation`` was refused, with 409 and the rule's code; else what went wrong."""
    status = response.status_code
    if status == 201:
        if outcome is not None and not isinstance(outcome, BaseException):
            raise ExerciseFailed(
                f"{situation} was accepted: your rule returned {outcome!r}, and the service "
                "ignores what a rule returns. A rule refuses by raising its error."
            )
        raise ExerciseFailed(f"{situation} was accepted (201).")
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
        if any(cls.__name__ == "HTTPException" for cls in type(outcome).__mro__):
            raise ExerciseFailed(
                "You raised HTTPException: services and their rules never import FastAPI "
                "(a script or a cron job runs them too). Raise TooManyPendingOrders instead."
            )
        raise ExerciseFailed(
            f'The 409 has the code "{code}": refuse with TooManyPendingOrders, whose code '
            f'"{CODE}" tells a client exactly which rule refused the order.'
        )


def _expect_accepted(response: Any, outcome: Any, situation: str, why: str) -> None:
    if response.status_code == 201:
        return
    if response.status_code == 500:
        raise ExerciseFailed(_crash_hint(outcome))
    raise ExerciseFailed(f"{situation} was refused ({_refusal(response)}): {why}")


async def verify_business_rule(candidate: Any) -> None:
    _check_shape(candidate)
    with tempfile.TemporaryDirectory(prefix="workshop-check-") as folder:
        database = Path(folder) / "orders.db"
        # Write-ahead logging (kept in the file): readers never block the writer, so the
        # concurrent orders below wait for each other's commits and never for a reader.
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        await _place_orders(candidate, database)


async def _place_orders(candidate: Any, database: Path) -> None:
    outcomes: dict[int, Any] = {}
    meeting = _Meeting()
    spy = StateSpy(_build_app(candidate, outcomes, database, meeting))
    async with app_client(spy) as client:
        await client.get("/health/live")  # the first request shows the spy the engine
        users, pending = await _write_histories(spy.state["engine"])

        async def place(name: str) -> tuple[Any, Any]:
            outcomes.pop(users[name], None)
            response = await client.post(f"/users/{users[name]}/orders", json=LINES, headers=KEY)
            return response, outcomes.get(users[name])

        # 1. Someone with no orders at all, while the others have 11 pending between them.
        _expect_accepted(
            *await place("Eve"),
            "Eve's first order",
            f"she has no orders at all, while the other users have pending orders. Count only "
            f"the orders of the user placing this one (the draft says who), and refuse only "
            f"when that user already has {MAX_PENDING} pending.",
        )
        # 2. The boundary, from below: the 3rd pending order is allowed.
        _expect_accepted(
            *await place("Fay"),
            "Fay's order",
            f"she had {MAX_PENDING - 1} pending orders, so this was her {_nth(MAX_PENDING)}. "
            f"At most {MAX_PENDING} pending means the {_nth(MAX_PENDING)} is accepted and the "
            f"{_nth(MAX_PENDING + 1)} refused.",
        )
        # 3. The boundary, from above: the 4th is refused. If not, a 5th tells why.
        response, outcome = await place("Dan")
        if response.status_code == 201 and outcome is None:
            again, _ = await place("Dan")
            if again.status_code == 409:
                raise ExerciseFailed(
                    f"Dan already had {MAX_PENDING} pending orders: his next order was "
                    f"accepted, and only the one after it refused. The count does not include "
                    f"the order being placed, so refuse as soon as it has reached "
                    f"{MAX_PENDING}, not when it goes past it."
                )
            raise ExerciseFailed(
                f"Dan already had {MAX_PENDING} pending orders, and your rule accepted two "
                "more: it never refused him. Count his pending orders with the session, as "
                "the database holds them (they were there before the app started), and "
                f"refuse once there are {MAX_PENDING}."
            )
        _expect_refused(response, outcome, f"Dan's order (he had {MAX_PENDING} pending already)")
        # 4. The wrong set: each of these has 2 pending orders and 2 in one other status.
        refused = {}
        for name in COUNTS_IF_REFUSED:
            response, outcome = await place(name)
            if response.status_code == 500:
                raise ExerciseFailed(_crash_hint(outcome))
            if response.status_code != 201:
                refused[name] = response
        if refused:
            counted = [COUNTS_IF_REFUSED[name] for name in refused]
            who = _and([f"{name} (2 pending, 2 {COUNTS_IF_REFUSED[name]})" for name in refused])
            verdict = ", ".join(sorted({_refusal(response) for response in refused.values()}))
            raise ExerciseFailed(
                f"{who} {'was' if len(refused) == 1 else 'were'} refused ({verdict}): your "
                f"count includes {_and(counted)} orders. Only an order that is still "
                "pending waits for payment and holds stock: count exactly the pending ones, "
                'not "every status but paid".'
            )
        # 5. The status moves: Ada pays one pending order and cancels another.
        first, second = pending["Ada"]
        for action, order_id in (("pay", first), ("cancel", second)):
            moved = await client.post(f"/orders/{order_id}/{action}", headers=KEY)
            if moved.status_code != 200:
                raise ExerciseFailed(
                    f"POST /orders/{order_id}/{action} answered {_refusal(moved)}: the app's "
                    "order endpoints are broken. lab.changed_modules() shows what differs from "
                    "the notebooks' version, and lab.restore() puts the reference back."
                )
        _expect_accepted(
            *await place("Ada"),
            "Ada's order after she paid one pending order and cancelled another",
            "she had 1 pending order left. Count the orders as they are in the database "
            "at each call: a count kept from an earlier call is out of date.",
        )
        # 6. Four orders at the same moment, as production sends them.
        expected = {"Dan": False, "Eve": True, "Fay": False, "Ada": True}
        meeting.expect(len(expected))
        results = dict(
            zip(expected, await asyncio.gather(*(place(name) for name in expected)), strict=True)
        )
        meeting.expect(0)
        problems = []
        for name, (response, outcome) in results.items():
            if response.status_code == 500 and isinstance(outcome, BaseException):
                problems.append(f"{name}'s order failed with {describe_error(outcome)}")
            elif response.status_code == 500:
                raise ExerciseFailed(_crash_hint(outcome))
            elif (response.status_code == 201) != expected[name]:
                verdict = "refused" if expected[name] else "accepted"
                problems.append(f"{name}'s order was {verdict}")
        if problems:
            raise ExerciseFailed(
                "One at a time your rule was right, but with four orders at the same moment "
                f"{'; '.join(problems)}. Your rule keeps something from one call to the next "
                "(on self, in a global, in a default argument): one rule serves every request, "
                "at the same time, so keep what belongs to one call in local variables."
            )
        for name, (response, outcome) in results.items():
            if not expected[name]:
                _expect_refused(response, outcome, f"{name}'s order")


EXERCISES = (
    Exercise(
        id="07.business_rule",
        notebook_id=NOTEBOOK_ID,
        title="A business rule, obeyed by the endpoint",
        instructions=(
            f"Complete limit_pending_orders: a user may have at most {MAX_PENDING} pending "
            "orders; a new order beyond that is refused with TooManyPendingOrders (409 "
            f"{CODE}). The check adds your rule to OrderService and places orders through "
            "POST /users/{id}/orders for six users with different order histories."
        ),
        starter=RULE_STARTER,
        solution=RULE_SOLUTION,
        name="limit_pending_orders",
        verify=verify_business_rule,
        success=(
            f"With {MAX_PENDING} pending orders a new one is refused with 409 {CODE}; orders "
            "of other users and paid, shipped or cancelled ones do not count, a payment frees "
            "a place, and four orders at once each get the right answer."
        ),
        hints=HINTS,
    ),
)
