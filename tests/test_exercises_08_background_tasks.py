"""08.resend_failed: each likely mistake gets a hint that names it, and correct code passes."""

import gc

import exercise_helpers
import pytest
from exercise_helpers import timed_check

from workshop_lab.exercises import get_exercise, hint

EXERCISE = "08.resend_failed"
SOLUTION = get_exercise(EXERCISE).solution
STARTER = get_exercise(EXERCISE).starter

progress_file = exercise_helpers.progress_file  # autouse: checks record progress

SCHEDULE = "background.add_task(resend_email, engine, mailer, email.id)"
LIST = "await outbox.list_for_user(user_id)"
OWN_SESSION = "async with AsyncSession(engine, expire_on_commit=False) as session:"
RECHECK = "if email is None or email.status != EmailStatus.FAILED:"
RECORD_ERROR = 'email.error = f"{type(exc).__name__}: {exc}"[:500]'
MARK_SENT = "email.status, email.sent_at, email.error = EmailStatus.SENT, utc_now(), None"
IMPORTS = "from fastapi import APIRouter, BackgroundTasks\n"


def variant(*replacements: tuple[str, str]) -> str:
    """The solution's source with mistakes put in."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


def task_of(source: str) -> str:
    return source[: source.index("@router.post")]


def route_of(source: str) -> str:
    return source[source.index("@router.post") :]


REUSES_THE_REQUEST_SESSION = variant(
    (
        "async def resend_email(engine: AsyncEngine, mailer: Mailer, email_id: int)",
        "async def resend_email(session: AsyncSession, mailer: Mailer, email_id: int)",
    ),
    (OWN_SESSION, "if True:  # the request's session, handed over by the route"),
    (SCHEDULE, "background.add_task(resend_email, outbox.session, mailer, email.id)"),
    ("from sqlalchemy.ext.asyncio import AsyncEngine\n", ""),
)

NO_404 = variant(
    (
        f"for email in {LIST}:",
        "try:\n        emails = await outbox.list_for_user(user_id)\n"
        "    except NotFoundError:\n        emails = []\n    for email in emails:",
    ),
    (IMPORTS, IMPORTS + "from workshop_app.exceptions import NotFoundError\n"),
)

# Each wrong solution and a fragment of the hint it must get.
CASES = {
    "starter": (STARTER, "list every failed one (TODO 3)"),
    "empty-task": (
        task_of(STARTER).replace(
            "from workshop_app.mail import Mailer\n",
            "from workshop_app.mail import Mailer\nfrom workshop_app.models import EmailStatus\n",
        )
        + route_of(SOLUTION),
        "resend_email does nothing yet (TODOs 1 and 2)",
    ),
    "never-scheduled": (variant((SCHEDULE, "pass")), "the route never schedules it"),
    "hard-coded-email-id": (
        variant((SCHEDULE, "background.add_task(resend_email, engine, mailer, 22)")),
        "the id of its own email",
    ),
    "hard-coded-user": (variant((LIST, "await outbox.list_for_user(3)")), "which is not theirs"),
    "pending-resent-too": (
        variant(("email.status == EmailStatus.FAILED", "email.status != EmailStatus.SENT")),
        "lists a pending email",
    ),
    "fire-and-forget": (
        variant(
            (SCHEDULE, "asyncio.create_task(resend_email(engine, mailer, email.id))"),
            (IMPORTS, "import asyncio\n\n" + IMPORTS),
        ),
        "started beside the request (asyncio.create_task?)",
    ),
    "awaited-in-the-route": (
        variant((SCHEDULE, "await resend_email(engine, mailer, email.id)")),
        "was sent before the response",
    ),
    "coroutine-given-to-add-task": (
        variant((SCHEDULE, "background.add_task(resend_email(engine, mailer, email.id))")),
        "(a coroutine), not the function",
    ),
    "task-raises": (
        variant((RECORD_ERROR, "raise")),
        "let ConnectionError: mailbox full escape",
    ),
    "records-then-raises": (
        variant(
            (RECORD_ERROR, RECORD_ERROR + "\n            await session.commit()\n            raise")
        ),
        "let ConnectionError: mailbox full escape",
    ),
    "failure-swallowed": (
        variant((RECORD_ERROR, "pass")),
        "but its row still shows 'ConnectionError: mail server unreachable'",
    ),
    "old-error-kept-when-sent": (
        variant((MARK_SENT, "email.status, email.sent_at = EmailStatus.SENT, utc_now()")),
        "the old error is still there",
    ),
    "no-sent-at": (
        variant((MARK_SENT, "email.status, email.error = EmailStatus.SENT, None")),
        "sent_at is empty",
    ),
    "no-commit": (
        variant(("        session.add(email)\n        await session.commit()\n", "")),
        "its row still says 'failed'",
    ),
    "reuses-the-request-session": (REUSES_THE_REQUEST_SESSION, "used the request's session"),
    "no-recheck-in-the-task": (
        variant((RECHECK, "if email is None:")),
        "Dee's email 28 went out twice",
    ),
    "no-404": (NO_404, "there is no user 9"),
    "status-200": (variant(("status_code=202", "status_code=200")), "keep status_code=202"),
    "other-path": (
        variant(('"/users/{user_id}/outbox/resend"', '"/users/{user_id}/resend"')),
        "Your router has no POST /users/{user_id}/outbox/resend",
    ),
    "not-the-row's-message": (
        variant(("subject=email.subject", 'subject="Hello again"')),
        "which is none of the outbox emails",
    ),
}


@pytest.mark.filterwarnings("ignore:coroutine 'resend_email' was never awaited")
@pytest.mark.parametrize(("source", "expected"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_hint_that_names_it(source: str, expected: str) -> None:
    result = timed_check(EXERCISE, get_exercise(EXERCISE).load(source))
    assert result.passed is False
    assert expected in result.hint, result.hint
    assert "add_task(resend_email, engine" not in result.hint  # never the answer's code
    gc.collect()  # an unawaited coroutine warns here (filtered), not in a later test


def test_something_else_than_a_router_is_refused() -> None:
    result = timed_check(EXERCISE, lambda: None)
    assert "Expected the APIRouter `router`, got function" in result.hint


def test_the_solution_passes_twice_in_a_row() -> None:
    router = get_exercise(EXERCISE).load(SOLUTION)
    for _ in range(2):  # a fresh database each time: nothing carries over
        result = timed_check(EXERCISE, router)
        assert result.passed, result.hint


ANOTHER_STYLE = '''\
from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from workshop_app.dependencies import EngineDep, MailerDep, OutboxServiceDep, ResourceId
from workshop_app.mail import Mailer, Message
from workshop_app.models import OutboxEmail
from workshop_app.models.base import utc_now

router = APIRouter()


class Resend:
    """A callable object whose __call__ is async: BackgroundTasks awaits it too."""

    async def __call__(self, *, email_id: int, engine: AsyncEngine, mailer: Mailer) -> None:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    OutboxEmail.__table__.select().where(col(OutboxEmail.id) == email_id)
                )
            ).one_or_none()
        if row is None or row.status != "failed":
            return
        try:
            await mailer.send(Message(row.to, row.subject, row.body))
            changes = {"status": "sent", "sent_at": utc_now(), "error": None}
        except Exception as exc:
            changes = {"error": repr(exc)}
        async with engine.begin() as connection:
            await connection.execute(
                update(OutboxEmail).where(col(OutboxEmail.id) == email_id).values(**changes)
            )


resend = Resend()


@router.post("/users/{user_id}/outbox/resend", status_code=202)
async def resend_failed(
    user_id: ResourceId,
    outbox: OutboxServiceDep,
    engine: EngineDep,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> dict[str, list[int]]:
    failed = [e.id for e in await outbox.list_for_user(user_id) if e.status == "failed"]
    for email_id in failed:
        background.add_task(resend, email_id=email_id, engine=engine, mailer=mailer)
    return {"resending": failed}
'''


def test_another_correct_style_passes() -> None:
    """Not only the reference solution: a callable object, keyword arguments, Core SQL on
    connections of its own, statuses compared as strings, the error stored as a repr."""
    result = timed_check(EXERCISE, get_exercise(EXERCISE).load(ANOTHER_STYLE))
    assert result.passed, result.hint


def test_the_hints_name_the_idea_then_the_sections_then_the_solution() -> None:
    exercise = get_exercise(EXERCISE)
    assert len(exercise.hints) == 2
    for text in exercise.hints:
        assert "add_task" not in text and "AsyncSession(" not in text
    shown = [str(hint(EXERCISE)) for _ in range(4)]
    assert shown[0].startswith(f"Hint 1 of 3 for {EXERCISE}")
    assert '"What runs when"' in shown[1]
    assert f'lab.solution("{EXERCISE}")' in shown[2] == shown[3]
