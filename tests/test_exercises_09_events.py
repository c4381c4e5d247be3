"""09.order_confirmation: each likely mistake gets a hint that names it, and correct code in
another style passes."""

import exercise_helpers
import pytest
from exercise_helpers import timed_check

from workshop_lab.exercises import check, get_exercise, hint

EXERCISE = "09.order_confirmation"
SOLUTION = get_exercise(EXERCISE).solution
STARTER = get_exercise(EXERCISE).starter

progress_file = exercise_helpers.progress_file  # autouse: checks record progress

SUBSCRIBE = (
    'bus.subscribe(OrderPlaced, OrderConfirmation(engine, mailer), name="order_confirmation")'
)
CALL = "    async def __call__(self, event: OrderPlaced) -> None:\n"
SUBJECT_LINE = "        subject = confirmation_subject(event.order_id)\n"
OWN_SESSION = "async with AsyncSession(self.engine, expire_on_commit=False) as session:"
COMMIT = "                await session.commit()\n"
SEND = "        await send_email(self.engine, self.mailer, email.id)  # a sent one is left alone\n"
FIND = "            email = (await session.exec(query)).first()\n"
LOOKUP = "OutboxEmail.user_id == user.id, OutboxEmail.subject == subject"
IMPORTS = "from sqlalchemy.ext.asyncio import AsyncEngine\n"


def variant(*replacements: tuple[str, str]) -> str:
    """The solution's source with mistakes put in."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


def timed_hint(source: str) -> str:
    result = timed_check(EXERCISE, get_exercise(EXERCISE).load(source))
    assert not result.passed, "a wrong solution passed"
    return result.hint


FIRE_AND_FORGET = variant(
    (CALL, "    async def confirm(self, event: OrderPlaced) -> None:\n"),
    (
        "def subscribe(",
        "    def __call__(self, event: OrderPlaced) -> None:  # forgot async: fire and forget\n"
        "        asyncio.ensure_future(self.confirm(event))\n\n\ndef subscribe(",
    ),
    (IMPORTS, "import asyncio\n\n" + IMPORTS),
)

NOT_IDEMPOTENT = variant((FIND, "            email = None  # always a new one\n"))

RAISES_AFTER_WORK = variant(
    (FIND, "            email = None  # always a new one\n"),
    (SEND, SEND + '        raise RuntimeError("metrics backend down")\n'),
)

IDEMPOTENT_BUT_RAISES = variant(
    (SEND, SEND + '        raise RuntimeError("metrics backend down")\n'),
)

REMEMBERS_IN_MEMORY = variant(
    (FIND, "            email = None\n"),
    (
        "        self.mailer = mailer\n",
        "        self.mailer = mailer\n        self.handled: set = set()\n",
    ),
    (
        SUBJECT_LINE,
        SUBJECT_LINE + "        if event.event_id in self.handled:\n"
        "            return\n"
        "        self.handled.add(event.event_id)\n",
    ),
)

FLUSH_NOT_COMMIT = variant(
    (COMMIT, "                await session.flush()  # the request commits (it does not)\n")
)

ONE_SESSION_FOR_ALL = variant(
    (
        "        self.mailer = mailer\n",
        "        self.mailer = mailer\n"
        "        self.session = AsyncSession(engine, expire_on_commit=False)\n",
    ),
    (OWN_SESSION, "if True:\n            session = self.session"),
)

EXPIRED_AFTER_COMMIT = variant(
    (OWN_SESSION, "async with AsyncSession(self.engine) as session:"),
)

WRONG_SET = variant((LOOKUP, "OutboxEmail.user_id == user.id"))

HARD_CODED_CUSTOMER = variant(("session.get(User, event.user_id)", "session.get(User, 3)"))

QUEUED_NOT_SENT = variant((SEND, ""))

SENT_BEHIND_THE_OUTBOX = variant(
    (
        SEND,
        "        await self.mailer.send(Message(to=email.to, subject=email.subject, body='x'))\n",
    ),
    ("from workshop_app.mail import Mailer\n", "from workshop_app.mail import Mailer, Message\n"),
)

ANOTHER_ENGINE = variant(
    (OWN_SESSION, "async with AsyncSession(EARLIER, expire_on_commit=False) as session:"),
    (
        "from sqlmodel import select\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nfrom sqlmodel import select\n",
    ),
    (
        "\n\ndef confirmation_subject",
        '\nEARLIER = create_async_engine("sqlite+aiosqlite://")  # a cell above\n\n\n'
        "def confirmation_subject",
    ),
)

CASES = {
    "starter": (STARTER, "subscribed nothing to the bus"),
    "subscribed-but-empty": (
        STARTER.replace(STARTER[STARTER.index("    # TODO 3") :], f"    {SUBSCRIBE}\n"),
        "does nothing yet (TODOs 1 and 2)",
    ),
    "sync-def-fire-and-forget": (FIRE_AND_FORGET, "Your handler is a plain def"),
    "sync-def-empty": (
        variant(
            (
                CALL,
                "    def __call__(self, event: OrderPlaced) -> None:\n        return\n\n"
                + CALL.replace("__call__", "unused"),
            )
        ),
        "awaits what it returned, None",
    ),
    "raises-after-its-work": (RAISES_AFTER_WORK, "got 3 emails for that one order"),
    "idempotent-but-raises": (IDEMPOTENT_BUT_RAISES, "RuntimeError: metrics backend down"),
    "not-idempotent": (NOT_IDEMPOTENT, "with the same event_id"),
    "remembers-in-memory": (REMEMBERS_IN_MEMORY, "after a restart"),
    "flush-and-leave-the-commit-to-the-request": (FLUSH_NOT_COMMIT, "never committed"),
    "one-session-for-every-event": (ONE_SESSION_FOR_ALL, "one session for several events"),
    "object-read-after-its-commit": (
        EXPIRED_AFTER_COMMIT,
        "DetachedInstanceError: Instance <OutboxEmail> is not bound to a Session",
    ),
    "an-engine-from-an-earlier-cell": (ANOTHER_ENGINE, "on another database"),
    "any-email-of-the-customer-counts": (WRONG_SET, "got no confirmation, while others did"),
    "hard-coded-customer": (HARD_CODED_CUSTOMER, "went to ada@example.com"),
    "queued-never-sent": (QUEUED_NOT_SENT, "never sent"),
    "sent-behind-the-outbox": (SENT_BEHIND_THE_OUTBOX, "still says 'pending'"),
    "another-subject": (
        variant(('f"Your order {order_id} is confirmed"', 'f"Order {order_id}"')),
        "build the subject with the starter's confirmation_subject",
    ),
    "every-event-type": (
        variant(
            (SUBSCRIBE, SUBSCRIBE.replace("OrderPlaced,", "DomainEvent,")),
            (
                "from workshop_app.events import OrderPlaced\n",
                "from workshop_app.events import DomainEvent, OrderPlaced\n",
            ),
        ),
        "subscribe it to OrderPlaced only",
    ),
    "default-name": (
        variant((', name="order_confirmation"', "")),
        "subscribed as 'OrderConfirmation'; name it 'order_confirmation'",
    ),
    "subscribed-twice-one-name": (
        variant((SUBSCRIBE, f"{SUBSCRIBE}\n    {SUBSCRIBE}")),
        "subscribe once",
    ),
    "subscribed-twice-two-names": (
        variant(
            (SUBSCRIBE, f"{SUBSCRIBE}\n    {SUBSCRIBE.replace('order_confirmation', 'again')}")
        ),
        "subscribed 2 handlers",
    ),
    "async-subscribe": (
        variant(("def subscribe(", "async def subscribe(")),
        "Keep subscribe a plain def",
    ),
    "another-signature": (
        variant(
            (
                "def subscribe(bus: EventBus, engine: AsyncEngine, mailer: Mailer)",
                "def subscribe(bus: EventBus)",
            ),
        ),
        "subscribe(bus, engine, mailer)",
    ),
}


@pytest.mark.parametrize("source, fragment", CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_its_own_hint(source, fragment):
    assert fragment in timed_hint(source)


def test_the_handler_class_instead_of_subscribe_is_refused():
    handler_class = get_exercise(EXERCISE).load(
        SOLUTION.replace(
            'name="order_confirmation")',
            'name="order_confirmation")\n\nsubscribe = OrderConfirmation',
        )
    )
    assert "Pass the function subscribe" in check(EXERCISE, handler_class).hint


def test_the_solution_passes_twice_in_a_row_quickly():
    subscribe = get_exercise(EXERCISE).load(SOLUTION)
    for _ in range(2):
        result = timed_check(EXERCISE, subscribe)
        assert result.passed, result.hint


CLOSURE_STYLE = """\
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.event_bus import EventBus
from workshop_app.events import OrderPlaced
from workshop_app.mail import Mailer
from workshop_app.models import OutboxEmail, User
from workshop_app.tasks import send_email


def subscribe(bus: EventBus, engine: AsyncEngine, mailer: Mailer) -> None:
    async def confirm(event: OrderPlaced) -> None:
        subject = f"Your order {event.order_id} is confirmed"
        async with AsyncSession(engine) as session:
            existing = await session.scalar(
                select(OutboxEmail.id)
                .where(OutboxEmail.user_id == event.user_id)
                .where(OutboxEmail.subject == subject)
            )
            if existing is None:
                user = await session.get(User, event.user_id)
                if user is None:
                    return
                email = OutboxEmail(user_id=user.id, to=user.email, subject=subject, body="Thanks!")
                session.add(email)
                await session.flush()
                existing = email.id
                await session.commit()
        await send_email(engine, mailer, existing)

    bus.subscribe(OrderPlaced, confirm, "order_confirmation")
"""


SEND_INSIDE_THE_SESSION = variant(
    (SEND, ""),
    (COMMIT, COMMIT + "            await send_email(self.engine, self.mailer, email.id)\n"),
)


@pytest.mark.parametrize(
    "source", [CLOSURE_STYLE, SEND_INSIDE_THE_SESSION], ids=["closure", "send-inside-the-block"]
)
def test_other_correct_styles_pass(source):
    result = check(EXERCISE, get_exercise(EXERCISE).load(source))
    assert result.passed, result.hint


def test_hints_name_no_code_and_point_at_the_notebook():
    exercise = get_exercise(EXERCISE)
    nudge, pointer = exercise.hints
    for text in (nudge, pointer):
        for code in ("bus.subscribe", "AsyncSession", "send_email", "commit()", "select("):
            assert code not in text
    assert '"The audit log: a handler with a session of its own"' in pointer
    assert "Hint 1 of 3" in repr(hint(EXERCISE))
