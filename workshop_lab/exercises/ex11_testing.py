"""Exercise of notebook 11 (testing): write the test that catches a planted bug.

The notebook ships a new order rule, "orders under 5.00 are refused", with an off-by-one:
it refuses exactly 5.00 too. The learner writes ``test_minimum_order(client, user_id)``.
A test is only worth something if it tells the two versions apart, so the check runs it
like pytest would, each time on a fresh app with its own database: against the buggy rule
(it must fail), the correct rule (it must pass), the correct rule again and the buggy rule
again (a test whose verdict depends on anything but the app, such as state kept between
runs, gives itself away).

A test *fails* the way pytest reports a failure that explains itself: an ``assert``,
``pytest.fail()`` (a ``BaseException``), or ``response.raise_for_status()``. Any other
exception (a ``KeyError`` from reading a body that is not there) is a test that broke
before it said what it expected. The check watches the requests the test sends through
``client``, so a test that never reaches the app, places no order at the boundary, or
ignores the answer it got is told exactly that. Each run has a deadline, and a test that
sleeps is refused before it runs.

No ``from __future__ import annotations`` here: FastAPI reads the annotation of the
dependency override below at runtime.
"""

import asyncio
import functools
import inspect
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ..client import app_client
from ._base import Exercise, ExerciseFailed, is_coroutine_function

NOTEBOOK_ID = "11_testing"
MIN_ORDER_CENTS = 500
API_KEY = "notebook-11-key"  # the notebook's key: a test may send the notebook's KEY header
FIXTURES = ("client", "user_id")
RUN_SECONDS = 1.5  # one run of the learner's test; a correct one takes a few milliseconds
CHEAP_SCRYPT_N = 2**8  # the check signs users up; it tests the rule, not scrypt
ORDERS_PATH = re.compile(r"^/users/(\d+)/orders/?$")
USER_PATH = re.compile(r"^/users/(\d+)(?:/|$)")

STARTER = '''\
async def test_minimum_order(client, user_id):
    """Orders under 5.00 are refused with 422 ORDER_TOO_SMALL; 5.00 or more are accepted."""
    line = {"sku": "KB-1", "quantity": 2, "unit_price_cents": 4999}
    response = await client.post(f"/users/{user_id}/orders", json={"lines": [line]})
    assert response.status_code == 201, response.text
    # TODO 1: place the order where a wrong comparison in the rule would show, and assert
    #         what the client must get for it.
    # TODO 2: place an order the rule must refuse, and assert the status and the envelope's
    #         code, which a client branches on.
'''

SOLUTION = '''\
async def test_minimum_order(client, user_id):
    """Orders under 5.00 are refused with 422 ORDER_TOO_SMALL; 5.00 or more are accepted."""

    async def order_of(cents: int):
        line = {"sku": "KB-1", "quantity": 1, "unit_price_cents": cents}
        return await client.post(f"/users/{user_id}/orders", json={"lines": [line]})

    at_minimum = await order_of(500)  # the boundary itself: where off-by-ones live
    assert at_minimum.status_code == 201, at_minimum.text
    assert at_minimum.json()["total_cents"] == 500
    below = await order_of(499)
    assert below.status_code == 422, below.text
    assert below.json()["error"]["code"] == "ORDER_TOO_SMALL"
'''

HINTS = (
    "A test catches a bug only with an input on which the buggy code and the correct code "
    "answer differently. Read the rule's promise word by word, find the one order total "
    "where a slip in the comparison changes the answer, place that order, and assert what "
    "the promise says the client gets.",
    'Reread "A new rule, and a bug" (the rule as it is written, and what it was tried on) '
    'and "Assert on the envelope, and on the 500" (what a client relies on: the status and '
    "the envelope's code).",
)


# --- the apps the check runs the test against ------------------------------------------


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


class _CheapPasswordHashing:
    """Sign-ups with a cheap scrypt for the length of the check, as the suite's conftest does."""

    def __enter__(self) -> None:
        from workshop_app.services import user_service

        self.module = user_service
        self.saved = getattr(user_service, "SCRYPT_N", None)
        if self.saved is not None:
            user_service.SCRYPT_N = CHEAP_SCRYPT_N

    def __exit__(self, *exc_info: object) -> None:
        if self.saved is not None:
            self.module.SCRYPT_N = self.saved


# --- one run of the learner's test ------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One request the test sent through ``client``, and what the app answered."""

    method: str
    path: str
    status: int
    code: str | None  # the error envelope's code, if any
    total_cents: int | None  # for a new order: the total of its lines


@dataclass
class Run:
    """What happened when the test ran against one version of the rule."""

    buggy: bool
    user_id: int
    verdict: str  # "passed", "failed", "broke", "skipped", "hung"
    error: BaseException | None
    exchanges: list[Exchange]

    @property
    def rule(self) -> str:
        return "buggy" if self.buggy else "correct"

    @property
    def orders(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == "POST" and ORDERS_PATH.match(e.path)]


def _total_of(content: bytes) -> int | None:
    try:
        lines = json.loads(content)["lines"]
        return sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in lines)
    except (ValueError, KeyError, TypeError):
        return None


async def _record(exchanges: list[Exchange], response: Any) -> None:
    """An httpx response hook: note each request of the test and its answer."""
    await response.aread()
    request = response.request
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    total = _total_of(request.content) if request.method == "POST" else None
    exchanges.append(Exchange(request.method, request.url.path, response.status_code, code, total))


def _outcome_name(exc: BaseException) -> str | None:
    """``Failed``, ``Skipped``, ``XFailed`` or ``Exit`` for pytest's outcome exceptions."""
    if any(cls.__module__ == "_pytest.outcomes" for cls in type(exc).__mro__):
        return type(exc).__name__
    return None


def _verdict(exc: BaseException) -> str:
    """How pytest would report the test that raised ``exc``, in the words of this check."""
    outcome = _outcome_name(exc)
    if outcome in ("Skipped", "XFailed"):
        return "skipped"
    if outcome == "Failed" or isinstance(exc, AssertionError | httpx.HTTPStatusError):
        return "failed"  # raise_for_status() states the status it got, as an assert would
    return "broke"


async def _sign_up(client: Any, email: str) -> int:
    body = {"email": email, "full_name": "Check User", "password": "correct horse 11"}
    response = await client.post("/users", json=body)
    if response.status_code != 201:  # the check's own setup: the learner's package is broken
        raise ExerciseFailed(
            f"The check could not sign up its user: POST /users answered "
            f"{response.status_code} {response.text[:200]}. Your package's sign-up is broken: "
            "lab.changed_modules() shows what you changed, lab.restore() puts it back."
        )
    return response.json()["id"]


async def _run(test: Any, *, buggy: bool) -> Run:
    """Run ``test`` like pytest would, on a fresh app, with fixtures ``client`` and ``user_id``.

    Another user signs up first and is deleted again: the test's user is not user 1, and
    a test that names a user of its own asks for one that does not exist.
    """
    exchanges: list[Exchange] = []
    async with app_client(_app_with_rule(_minimum_total_rule(buggy=buggy))) as client:
        client.headers["X-API-Key"] = API_KEY
        other = await _sign_up(client, "other-user@example.com")
        user_id = await _sign_up(client, "check-user@example.com")
        await client.delete(f"/users/{other}")
        client.event_hooks["response"] = [functools.partial(_record, exchanges)]
        fixtures = {"client": client, "user_id": user_id}
        verdict, error = "passed", None
        try:
            async with asyncio.timeout(RUN_SECONDS) as deadline:
                await test(**_arguments(test, fixtures))
        except TimeoutError as exc:
            verdict, error = ("hung" if deadline.expired() else "broke"), exc
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise  # the check's own deadline, or the learner stopping the kernel
        except BaseException as exc:  # pytest.fail() and pytest.skip() raise BaseExceptions
            if type(exc).__module__ == "workshop_lab.exercises._check":
                raise  # the check runner's interrupt: not the learner's doing
            verdict, error = _verdict(exc), exc
        finally:
            client.event_hooks["response"] = []
    return Run(buggy, user_id, verdict, error, exchanges)


def _arguments(test: Any, fixtures: dict[str, Any]) -> dict[str, Any]:
    parameters = inspect.signature(test).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(fixtures)
    return {p.name: fixtures[p.name] for p in parameters if p.name in fixtures}


# --- what is wrong, in words ------------------------------------------------------------


def _check_shape(test: Any) -> None:
    if isinstance(test, str | bytes) or not callable(test) or inspect.isclass(test):
        raise ExerciseFailed(
            f"Expected your test function, got {type(test).__name__}: "
            "lab.check('11.catch_the_bug', test_minimum_order), the name without quotes "
            "or parentheses."
        )
    if not is_coroutine_function(test):
        raise ExerciseFailed(
            "Make the test `async def`: it awaits client.post(...). "
            "pytest runs it with @pytest.mark.anyio; the check awaits it."
        )
    try:
        parameters = inspect.signature(test).parameters.values()
    except (TypeError, ValueError):
        return
    unknown = [
        p.name
        for p in parameters
        if p.name not in FIXTURES
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if unknown:
        raise ExerciseFailed(
            f"The check has no fixture named {', '.join(unknown)}: it passes `client` "
            "(a fresh app with the rule, the API key already set) and `user_id` (a user who "
            "has signed up). Ask for them by name, as pytest fixtures."
        )


def _code_objects(test: Any) -> Iterator[types.CodeType]:
    function = test.func if isinstance(test, functools.partial) else test
    if not inspect.isfunction(function) and not inspect.ismethod(function):
        function = type(function).__call__
    code = getattr(function, "__code__", None)
    pending = [code] if code is not None else []
    while pending:
        code = pending.pop()
        yield code
        pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def _check_no_sleep(test: Any) -> None:
    if any("sleep" in code.co_names for code in _code_objects(test)):
        raise ExerciseFailed(
            "Your test sleeps. Under ASGITransport there is nothing to wait for: the "
            "response, its background tasks and the events they dispatch are all done when "
            "the awaited request returns. A sleep only makes the suite slower, and flaky "
            "the day it is too short. Remove it."
        )


def _said(exc: BaseException | None) -> str:
    message = str(exc) if exc is not None else ""
    message = " ".join(message.split())
    if not message:
        return ""
    return f" ({message[:160]}{'...' if len(message) > 160 else ''})"


def _answers(orders: list[Exchange]) -> str:
    """``100 cents -> 422 ORDER_TOO_SMALL, 9998 cents -> 201``, in the order they were sent."""
    parts = []
    for order in orders:
        what = f"{order.total_cents} cents" if order.total_cents is not None else "an order"
        code = f" {order.code}" if order.code else ""
        parts.append(f"{what} -> {order.status}{code}")
    return ", ".join(parts)


def _broke(run: Run) -> ExerciseFailed:
    exc = run.error
    name = type(exc).__name__
    if name == "SystemExit" or _outcome_name(exc) == "Exit":
        return ExerciseFailed(
            f"Against the {run.rule} rule your test ended the whole run ({name}): a test "
            "reports what it found with an assertion, and lets pytest go on with the others."
        )
    if isinstance(exc, TimeoutError):
        return ExerciseFailed(
            f"Against the {run.rule} rule your test raised TimeoutError{_said(exc)}: a "
            "request through `client` answers at once; wait for nothing in a test."
        )
    return ExerciseFailed(
        f"Against the {run.rule} rule your test stopped on {name}{_said(exc)}, before an "
        "assertion could say what was wrong. pytest would still mark it failed, but its "
        "report would tell the reader what broke inside the test, not what the client "
        "should have got. Check the status first (with the body as the assertion's "
        "message), and only then read fields of the body."
    )


def _stopped_early(run: Run) -> ExerciseFailed | None:
    """A run that says nothing about the rule: hung, skipped, broke, or never used client."""
    if run.verdict == "hung":
        return ExerciseFailed(
            f"Against the {run.rule} rule your test had not finished after {RUN_SECONDS:g} s. "
            "A test must end by itself: look for a loop that never ends or an await on "
            "something that never happens. Nothing needs waiting for: a request through "
            "`client` is complete when it returns."
        )
    if run.verdict == "skipped":
        called = "pytest.xfail()" if _outcome_name(run.error) == "XFailed" else "pytest.skip()"
        return ExerciseFailed(
            f"Your test called {called}: a skipped test, or one marked as expected to fail, "
            "checks nothing, and pytest reports neither as a failure. Let it run and assert."
        )
    if run.verdict == "broke":
        return _broke(run)
    if not run.exchanges:
        return ExerciseFailed(
            f"Your test {run.verdict} without sending a single request through `client`, so "
            "it tested values of its own, not the app. The check swaps the rule only in the "
            "app behind the `client` it passes in: place the orders with that client (a "
            "client your test builds itself talks to another app)."
        )
    return None


def _passed_on_the_buggy_rule(run: Run) -> ExerciseFailed:
    orders = run.orders
    if not orders:
        return ExerciseFailed(
            "Your test passes against the buggy rule: it sent requests, but placed no order "
            "(POST /users/{user_id}/orders), so the rule never ran. Place orders and assert "
            "what the client gets."
        )
    wrong = [o for o in orders if o.total_cents == MIN_ORDER_CENTS and o.status != 201]
    if wrong:
        return ExerciseFailed(
            f"Your test placed an order the buggy rule answers wrongly (it got {wrong[0].status}"
            f"{' ' + wrong[0].code if wrong[0].code else ''}) and still passed: nothing in it "
            "checks that response, or its assertion accepts the wrong answer. Assert the "
            "status the rule promises for that order."
        )
    return ExerciseFailed(
        f"Your test passes against the buggy rule, so it does not catch the bug. Its orders "
        f"({_answers(orders)}) get the same answers from the buggy rule and from a correct "
        "one, so they cannot tell the two apart. Bugs live at boundaries: find the total "
        "where the rule's promise turns from refused into accepted."
    )


def _failed_on_the_correct_rule(run: Run) -> ExerciseFailed:
    missing = [
        e
        for e in run.exchanges
        if e.status == 404
        and (match := USER_PATH.match(e.path))
        and int(match.group(1)) != run.user_id
    ]
    if missing:
        return ExerciseFailed(
            f"Against the correct rule your test sent {missing[0].method} {missing[0].path} "
            f"and got 404: the user it names does not exist in this test's database. Use the "
            f"user the `user_id` fixture gives (here {run.user_id}), never a number of your "
            "own: each test starts from an empty database."
        )
    if any(e.status == 401 for e in run.exchanges):
        return ExerciseFailed(
            "Against the correct rule a request of your test got 401: it sent an X-API-Key "
            "of its own. The `client` fixture already carries the right key."
        )
    answers = f" The correct rule answered: {_answers(run.orders)}." if run.orders else ""
    return ExerciseFailed(
        f"Your test also fails against the correct rule{_said(run.error)}, so it asserts the "
        f"wrong thing.{answers} Assert what the rule promises (5.00 or more is accepted "
        "with 201, less is refused with 422 ORDER_TOO_SMALL), not what the code does today."
    )


def _unsteady(runs: list[Run]) -> ExerciseFailed:
    return ExerciseFailed(
        "Your test gave different verdicts against the same rule (in order: "
        f"{', '.join(f'{r.rule} rule {r.verdict}' for r in runs)}). Its result depends on "
        "something besides the app it is given: a value kept between runs (a global, a "
        "default argument), the clock, or chance. pytest runs tests in any order, each "
        "on its own; a test must give the same verdict every time."
    )


async def verify_catch_the_bug(test: Any) -> None:
    _check_shape(test)
    _check_no_sleep(test)
    runs: list[Run] = []
    with _CheapPasswordHashing():
        # Buggy, correct, correct, buggy: a test must fail on the one and pass on the other
        # every time, whatever ran before it.
        for buggy in (True, False, False, True):
            run = await _run(test, buggy=buggy)
            runs.append(run)
            if problem := _stopped_early(run):
                raise problem
            if len(runs) == 1 and run.verdict == "passed":
                raise _passed_on_the_buggy_rule(run)
            if len(runs) == 2 and run.verdict == "failed":
                raise _failed_on_the_correct_rule(run)
            if run.verdict != ("failed" if buggy else "passed"):
                raise _unsteady(runs)


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
        timeout=8.0,
        hints=HINTS,
    ),
)
