"""Exercise of notebook 08 (background tasks): resend the failed emails, after the response.

The learner writes both halves of a background job: ``resend_email``, a task that opens
a session of its own from the engine, reads one outbox email again, sends it if it is
still ``failed`` and records the outcome on the row; and the route
``POST /users/{user_id}/outbox/resend`` that finds the user's failed emails, schedules
one task per email with ``BackgroundTasks`` and answers 202 with their ids.

The check mounts the learner's router on their current app (a SQLite file of its own),
writes users and emails in every state through the app's engine, and replaces the mailer
with one that takes a moment (so work done beside the request, instead of after its
response, shows), is down for one address, and once plays a colleague who resends an
email while the task is busy. It sends overlapping requests for two users, then more for
other users, an unknown user and a second click, and after each one reads the timeline
(response sent, each send, the ASGI call returned) and the rows. The request's session is
a spy that notices being used after its request ended.

No ``from __future__ import annotations``: FastAPI reads the dependency override's
annotations at runtime.
"""

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..client import app_client
from ._base import (
    Exercise,
    ExerciseFailed,
    Person,
    StateSpy,
    add_users,
    describe_error,
    learner_app,
    learner_module,
    scratch_database_url,
)

NOTEBOOK_ID = "08_background_tasks"
EXERCISE_ID = "08.resend_failed"
PATH = "/users/{user_id}/outbox/resend"
API_KEY = "check-08-key"
KEY = {"X-API-Key": API_KEY}
SEND_SECONDS = 0.03  # a send takes a moment: work started beside a request outlives it
ORPHAN_SECONDS = 1.0  # how long the check lets such work finish before it says so
OLD_ERROR = "ConnectionError: mail server unreachable"
NEW_ERROR = "mailbox full"

STARTER = '''\
from fastapi import APIRouter, BackgroundTasks
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.dependencies import EngineDep, MailerDep, OutboxServiceDep, ResourceId
from workshop_app.mail import Mailer

# You will also need: AsyncSession (sqlmodel.ext.asyncio.session), Message
# (workshop_app.mail), EmailStatus and OutboxEmail (workshop_app.models), utc_now
# (workshop_app.models.base).

router = APIRouter()


async def resend_email(engine: AsyncEngine, mailer: Mailer, email_id: int) -> None:
    """Send one `failed` outbox email again. Its row says how that ended: `sent` (with
    `sent_at`, and no error any more), or still `failed` with the new error."""
    # TODO 1: read the email in a session of the task's own; leave it alone unless it
    #         is still failed (someone may have resent it since the request).
    # TODO 2: send it as a Message, record the outcome on the row and commit.
    #         A failure is recorded on the row, never raised.


@router.post("/users/{user_id}/outbox/resend", status_code=202)
async def resend_failed_emails(
    user_id: ResourceId,
    outbox: OutboxServiceDep,
    engine: EngineDep,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> dict[str, list[int]]:
    """Resend every `failed` email of the user after the response; 404 for an unknown user."""
    resending: list[int] = []
    # TODO 3: go through the user's emails (the outbox service lists them); for each
    #         failed one, add its id to `resending` and schedule resend_email for it.
    return {"resending": resending}
'''

SOLUTION = '''\
from fastapi import APIRouter, BackgroundTasks
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.dependencies import EngineDep, MailerDep, OutboxServiceDep, ResourceId
from workshop_app.mail import Mailer, Message
from workshop_app.models import EmailStatus, OutboxEmail
from workshop_app.models.base import utc_now

router = APIRouter()


async def resend_email(engine: AsyncEngine, mailer: Mailer, email_id: int) -> None:
    """Send one `failed` outbox email again. Its row says how that ended: `sent` (with
    `sent_at`, and no error any more), or still `failed` with the new error."""
    # The request's session is closed by now: the task opens its own, from the engine.
    async with AsyncSession(engine, expire_on_commit=False) as session:
        email = await session.get(OutboxEmail, email_id)
        if email is None or email.status != EmailStatus.FAILED:
            return  # deleted with its user, or resent by someone else in the meantime
        try:
            await mailer.send(Message(to=email.to, subject=email.subject, body=email.body))
        except Exception as exc:  # recorded, not raised: nobody is left to answer
            email.error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            email.status, email.sent_at, email.error = EmailStatus.SENT, utc_now(), None
        session.add(email)
        await session.commit()


@router.post("/users/{user_id}/outbox/resend", status_code=202)
async def resend_failed_emails(
    user_id: ResourceId,
    outbox: OutboxServiceDep,
    engine: EngineDep,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> dict[str, list[int]]:
    """Resend every `failed` email of the user after the response; 404 for an unknown user."""
    resending: list[int] = []
    for email in await outbox.list_for_user(user_id):  # NotFoundError (404) for no such user
        if email.status == EmailStatus.FAILED:
            resending.append(email.id)
            # The function and its arguments: BackgroundTasks calls it after the response.
            background.add_task(resend_email, engine, mailer, email.id)
    return {"resending": resending}
'''

HINTS = (
    "Two halves. The route only decides: which of the user's emails failed, and one "
    "scheduled task per email, identified by its id. The task does the work when nobody "
    "waits any more: it cannot lean on anything of the request, it reads its row afresh, "
    "and it writes how the sending ended on that row, whether it worked or not.",
    'Reread "What runs when" (why the task needs a session of its own), "A mailer behind '
    'an interface, and the first task" (send_email is the model: same shape, other '
    'status), and "A failing task: recorded, logged, and the response untouched".',
)


# --- the world the check builds --------------------------------------------------------


ADA = Person(3, "Ada", "ada@example.com")
BOB = Person(5, "Bob", "bob@example.com")
CY = Person(8, "Cy", "cy@example.com")
DEE = Person(10, "Dee", "dee@example.com")
EVE = Person(12, "Eve", "eve@example.com")
EVE_EMAIL = 29  # no probe touches it: the check calls the task on it to tell why nothing was sent
NOBODY = 9  # no user has this id

# id -> (owner, status): every state, ids not in user order, so no id can be guessed.
EMAILS = {
    21: (ADA, "sent"),
    22: (ADA, "failed"),
    23: (BOB, "failed"),
    24: (ADA, "failed"),
    25: (BOB, "pending"),
    26: (CY, "sent"),
    27: (DEE, "failed"),
    28: (DEE, "failed"),
    29: (EVE, "failed"),
}
COLLEAGUE = 28  # resent by a colleague after Dee's request listed it, before its task runs
OWNER = {email_id: person for email_id, (person, _) in EMAILS.items()}


def _subject(email_id: int) -> str:
    return f"Your email number {email_id}"


_probe: contextvars.ContextVar[str | None] = contextvars.ContextVar("check_probe", default=None)


@dataclass
class World:
    """What happened, per probe (a request and everything it caused)."""

    timelines: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)
    crashes: dict[str, BaseException] = field(default_factory=dict)
    sends: list[tuple[str | None, int | None]] = field(default_factory=list)
    strangers: list[Any] = field(default_factory=list)  # what the mailer got but could not read
    reused: list[str] = field(default_factory=list)  # how a request's session was used too late
    orphans: dict[str, set[asyncio.Task]] = field(default_factory=dict)  # still running after it
    creators: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)
    colleague_acted: bool = False
    engine: Any = None

    def mark(self, what: str, email_id: int | None = None) -> None:
        probe = _probe.get()
        if probe is not None:
            self.timelines.setdefault(probe, []).append((what, email_id))


class CheckMailer:
    """A mailer that takes a moment per message and is down for Bob."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.by_subject = {_subject(email_id): email_id for email_id in EMAILS}

    async def send(self, message: Any) -> None:
        email_id = self.by_subject.get(getattr(message, "subject", None))
        self.world.sends.append((_probe.get(), email_id))
        if email_id is None:
            self.world.strangers.append(message)
        self.world.mark("send started", email_id)
        await asyncio.sleep(SEND_SECONDS)
        if getattr(message, "to", None) == BOB.email:
            self.world.mark("send failed", email_id)
            raise ConnectionError(NEW_ERROR)
        self.world.mark("send ended", email_id)


def _watched(app: Any, world: World) -> Any:
    """``app``, marking when the response's last byte left and when the ASGI call returned,
    and keeping what escaped it (after a response has started, nobody else sees it). Right
    after Dee's response, before any task of hers runs, a colleague resends her email 28."""

    async def watched(scope: dict, receive: Any, send: Any) -> None:
        probe = _probe.get()
        if scope["type"] != "http" or probe is None:
            await app(scope, receive, send)
            return

        async def marking_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                world.mark("response sent")
                if probe == "dee" and await _colleague_resends(world.engine):
                    world.colleague_acted = True

        before = asyncio.all_tasks()
        try:
            await app(scope, receive, marking_send)
        except Exception as exc:
            world.crashes[probe] = exc
        finally:
            # Tasks the request started and nobody awaited: the ASGI call is over, they are not.
            running = {
                task
                for task in asyncio.all_tasks() - before
                if not task.done() and world.creators.get(task) == probe
            }
            world.orphans.setdefault(probe, set()).update(running)
            world.mark("returned")

    return watched


def _spy_session_class(session_class: type) -> type:
    """An AsyncSession that notes any use after the request that opened it has ended."""

    def guarded(name: str) -> Any:
        original = getattr(session_class, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.request_over:
                self.world.reused.append(name)
            return original(self, *args, **kwargs)

        return method

    names = ("get", "exec", "execute", "scalar", "scalars", "add", "merge", "delete")
    members = {name: guarded(name) for name in (*names, "flush", "commit", "refresh")}
    return type("RequestSession", (session_class,), {"request_over": False, **members})


def _build_app(router: Any, mailer: "CheckMailer", database_url: str) -> Any:
    dependencies = learner_module("dependencies")
    session_module = importlib.import_module("sqlmodel.ext.asyncio.session")
    spy_class = _spy_session_class(session_module.AsyncSession)
    world = mailer.world
    app = learner_app(database_url=database_url, api_key=API_KEY)
    app.state.mailer = mailer

    async def request_session(engine: dependencies.EngineDep) -> Any:
        """The app's session dependency (commit, or roll back), with a session that tells."""
        session = spy_class(engine, expire_on_commit=False)
        session.world = world
        try:
            async with session:
                try:
                    yield session
                    await session.commit()
                except Exception:
                    await session.rollback()
                    raise
        finally:
            session.request_over = True

    app.dependency_overrides[dependencies.get_session] = request_session
    app.include_router(router)
    return _watched(app, world)


async def _seed(engine: Any) -> None:
    models = importlib.import_module("workshop_app.models")
    session_module = importlib.import_module("sqlmodel.ext.asyncio.session")
    async with session_module.AsyncSession(engine) as session:
        add_users(session, (ADA, BOB, CY, DEE, EVE))
        await session.flush()
        for email_id, (person, status) in EMAILS.items():
            session.add(
                models.OutboxEmail(
                    id=email_id,
                    user_id=person.id,
                    to=person.email,
                    subject=_subject(email_id),
                    body=f"Hello {person.name}.",
                    status=models.EmailStatus(status),
                    error=OLD_ERROR if status == "failed" else None,
                )
            )
        await session.commit()


async def _colleague_resends(engine: Any) -> bool:
    """Mark the colleague's email sent, in a session of the check's own, if it still failed."""
    models = importlib.import_module("workshop_app.models")
    session_module = importlib.import_module("sqlmodel.ext.asyncio.session")
    async with session_module.AsyncSession(engine) as session:
        email = await session.get(models.OutboxEmail, COLLEAGUE)
        if str(email.status) != "failed":
            return False
        email.status, email.error = models.EmailStatus("sent"), None
        email.sent_at = importlib.import_module("workshop_app.models.base").utc_now()
        session.add(email)
        await session.commit()
        return True


async def _rows(engine: Any) -> dict[int, Any]:
    models = importlib.import_module("workshop_app.models")
    session_module = importlib.import_module("sqlmodel.ext.asyncio.session")
    async with session_module.AsyncSession(engine) as session:
        rows = {}
        for email_id in EMAILS:
            email = await session.get(models.OutboxEmail, email_id)
            rows[email_id] = (str(email.status), email.error, email.sent_at)
        return rows


# --- what the learner passes ------------------------------------------------------------


def _route(candidate: Any) -> Any:
    from fastapi import APIRouter

    if not isinstance(candidate, APIRouter):
        raise ExerciseFailed(
            f"Expected the APIRouter `router`, got {type(candidate).__name__}: "
            f"lab.check('{EXERCISE_ID}', router)."
        )
    for route in candidate.routes:
        if getattr(route, "path", None) == PATH and "POST" in getattr(route, "methods", ()):
            return route
    raise ExerciseFailed(
        f"Your router has no POST {PATH}: keep the route of the starter, with that exact path."
    )


# --- reading what happened -----------------------------------------------------------------


def _post(person_id: int) -> str:
    return f"POST {PATH.format(user_id=person_id)}"


def _crash_hint(world: World, probe: str, response: Any, person: Person) -> None:
    """What escaped the app: from the route (a 500), or from a task after the 202."""
    crash = world.crashes.get(probe)
    if response.status_code == 500:
        reason = f" ({describe_error(crash)})" if crash is not None else ""
        raise ExerciseFailed(
            f"{_post(person.id)} ({person.name}) crashed with a 500{reason}: the route "
            "itself failed, before answering."
        )
    if crash is None:
        return
    if isinstance(crash, TypeError) and "callable" in str(crash):
        raise ExerciseFailed(
            "The 202 went out, then running the task failed: add_task was given what "
            "calling resend_email returns (a coroutine), not the function. BackgroundTasks "
            "calls the function later, itself: give it the function and, separately, the "
            "arguments."
        )
    if isinstance(crash, ConnectionError) and NEW_ERROR in str(crash):
        raise ExerciseFailed(
            f"The mailer is down for Bob, and the task let {describe_error(crash)} escape after "
            "the 202 had been sent. Nobody is left to answer: the error is lost, the tasks "
            "queued after it never run, and the row does not say what happened. Catch the "
            "failure in the task and record it on the row (still failed, with the new error)."
        )
    raise ExerciseFailed(
        f"After the 202 to {person.name} had been sent, a task raised {describe_error(crash)}. "
        "An exception escaping a task reaches nobody and stops the tasks queued after it."
    )


def _timing_hint(world: World, probe: str, person: Person) -> None:
    """Sends must start after the response is sent and end before the request is over."""
    timeline = world.timelines.get(probe, [])
    events = [what for what, _ in timeline]
    returned = events.index("returned") if "returned" in events else len(events)
    late = [email for what, email in timeline[returned + 1 :] if what.startswith("send")]
    if late or world.orphans.get(probe):
        which = f"{person.name}'s email {late[0]} was still being sent" if late else "Work"
        raise ExerciseFailed(
            f"{which} after the request to resend {person.name}'s emails had ended: it "
            "was started beside the request (asyncio.create_task?), not scheduled after its "
            "response. A server waits for a request's background tasks, not for a task it "
            "never heard of: a shutdown or a deploy cancels it, and its exception is never "
            "seen. Schedule it with BackgroundTasks."
        )
    if "response sent" in events:
        before = timeline[: events.index("response sent")]
        early = [email for what, email in before if what.startswith("send")]
        if early:
            raise ExerciseFailed(
                f"{person.name}'s email {early[0]} was sent before the response: the route "
                "did the work itself, so the client waits for the mail server (and gets an "
                "error when it is down). Schedule a task instead: it runs after the response."
            )


def _reuse_hint(world: World) -> None:
    if world.reused:
        raise ExerciseFailed(
            "A task used the request's session (the one behind OutboxServiceDep): its "
            f"{world.reused[0]}() ran after the request had ended. SessionDep commits and "
            "closes that session before the response; what a task does with it belongs to "
            "no transaction the request controls. Give the task the engine, and let it open "
            "a session of its own."
        )


async def _diagnose_nothing_sent(route: Any, mailer: CheckMailer) -> str:
    """Nothing was sent although the route listed the emails: never scheduled, or a task
    that does nothing? Calling the task directly (with the starter's signature) tells."""
    task = route.endpoint.__globals__.get("resend_email")
    unknown = "The route lists the failed emails, yet nothing reached the mailer: is a task "
    unknown += "scheduled for each of them, and does it send its email?"
    if not inspect.iscoroutinefunction(task):
        return unknown
    before = len(mailer.world.sends)
    try:
        await task(mailer.world.engine, mailer, EVE_EMAIL)
    except Exception:
        return unknown
    if len(mailer.world.sends) > before:
        return (
            "resend_email sends an email when it is called, but the route never schedules "
            "it: add one background task per failed email (TODO 3)."
        )
    return (
        "The route lists the failed emails, yet nothing reached the mailer: resend_email "
        "does nothing yet (TODOs 1 and 2)."
    )


def _listed(response: Any, person: Person) -> set[int]:
    try:
        return {int(value) for value in response.json()["resending"]}
    except (ValueError, TypeError, KeyError):
        raise ExerciseFailed(
            f"{_post(person.id)} answered {response.text[:120]!r}; keep the answer of the "
            'starter: {"resending": [the ids of the emails it resends]}.'
        ) from None


def _expect_listed(
    world: World, probe: str, response: Any, person: Person, expected: set[int], first: bool
) -> None:
    _crash_hint(world, probe, response, person)
    if response.status_code == 404:
        raise ExerciseFailed(
            f"{_post(person.id)} answered 404, but {person.name} (user {person.id}) exists: "
            "read the user id from the path."
        )
    if response.status_code != 202:
        raise ExerciseFailed(
            f"{_post(person.id)} answered {response.status_code}; keep status_code=202: the "
            "work is accepted, not done."
        )
    listed = _listed(response, person)
    if listed == expected:
        return
    strangers = sorted(e for e in listed if e not in EMAILS or OWNER[e] != person)
    if strangers:
        raise ExerciseFailed(
            f"For {person.name} (user {person.id}) the route lists email {strangers[0]}, which "
            f"is not theirs. Take the user from the path, not from a value in the code."
        )
    states = {EMAILS[e][1] for e in listed - expected}
    if "pending" in states:
        raise ExerciseFailed(
            f"For {person.name} the route lists a pending email: its own send_email task is "
            "on its way, so resending it would send it twice. Resend only the failed ones."
        )
    if states:
        raise ExerciseFailed(
            f"For {person.name} the route lists an email that was already sent. Resend only "
            "the failed ones."
        )
    if not listed and first:
        raise ExerciseFailed(
            f'{_post(person.id)} answered {{"resending": []}}, but {person.name} has failed '
            f"emails {sorted(expected)}: go through the user's emails and list every failed "
            "one (TODO 3)."
        )
    raise ExerciseFailed(
        f"For {person.name} (user {person.id}) the route lists {sorted(listed)}, not the "
        f"failed emails {sorted(expected)}. Read the user id from the path."
    )


def _expect_sent(world: World, probe: str, person: Person, expected: set[int]) -> None:
    """The mailer got each expected email once, and nothing else."""
    if world.strangers:
        raise ExerciseFailed(
            f"The mailer got {world.strangers[0]!r}, which is none of the outbox emails: "
            "send a workshop_app.mail.Message made of the row's own to, subject and body."
        )
    got = [email for p, email in world.sends if p == probe]
    extra = sorted({email for email in got if email not in expected})
    if extra:
        raise ExerciseFailed(
            f"Resending {person.name}'s failed emails, the mailer got email {extra[0]}, "
            "which the route did not list: each task must be given the id of its own "
            "email, not a value written in the code."
        )
    twice = sorted({email for email in got if got.count(email) > 1})
    if twice:
        raise ExerciseFailed(
            f"{person.name}'s email {twice[0]} was sent {got.count(twice[0])} times for one "
            "request: schedule one task per failed email, each given the id of its own email."
        )


async def _expect_rows(world: World, route: Any, mailer: CheckMailer, wanted: dict) -> None:
    """Each row says how its sending ended (or was left alone)."""
    rows = await _rows(world.engine)
    sent = {email for _, email in world.sends}
    for email_id, outcome in wanted.items():
        status, error, sent_at = rows[email_id]
        name = OWNER[email_id].name
        if outcome == "sent" and email_id not in sent:
            if not world.sends:
                raise ExerciseFailed(await _diagnose_nothing_sent(route, mailer))
            raise ExerciseFailed(
                f"{name}'s failed email {email_id} was listed but never sent, while others "
                "were: schedule a task for each failed email, each given the id of its own "
                "email."
            )
        if outcome == "sent" and status != "sent":
            raise ExerciseFailed(
                f"{name}'s email {email_id} reached the mailer, but its row still says "
                f"{status!r}: the task records the outcome on the row, and commits."
            )
        if outcome == "sent" and (sent_at is None or error is not None):
            missing = "sent_at is empty" if sent_at is None else "the old error is still there"
            raise ExerciseFailed(
                f"{name}'s email {email_id} was sent, but on its row {missing}: a sent email "
                "has a sent_at and no error."
            )
        if outcome == "failed again" and status != "failed":
            raise ExerciseFailed(
                f"The mailer refused {name}'s email {email_id}, yet its row says {status!r}. "
                "It is still owed: keep it failed, with the new error."
            )
        if outcome == "failed again" and NEW_ERROR not in (error or ""):
            raise ExerciseFailed(
                f"The mailer refused {name}'s email {email_id} (ConnectionError: {NEW_ERROR}), "
                f"but its row still shows {error!r}: record the new error, support reads it."
            )
        if outcome == "untouched" and status != EMAILS[email_id][1]:
            raise ExerciseFailed(
                f"{name}'s {EMAILS[email_id][1]} email {email_id} now says {status!r}: only "
                "failed emails are resent."
            )


# --- the probes ------------------------------------------------------------------------


async def _request(client: Any, probe: str, user_id: int) -> Any:
    token = _probe.set(probe)  # the request and all it causes (tasks included) see it
    try:
        return await client.post(PATH.format(user_id=user_id), headers=KEY)
    finally:
        _probe.reset(token)


@contextlib.contextmanager
def _noting_who_creates_tasks(world: World) -> Iterator[None]:
    """Note the probe whose request created each task. Ada's and Bob's requests overlap, and
    a task one of them has in flight when the other ends (SQLAlchemy closes a connection in
    a task of its own) must not be blamed on the other."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        context = kwargs.get("context")
        world.creators[task] = context.run(_probe.get) if context is not None else _probe.get()
        return task

    loop.set_task_factory(factory)
    try:
        yield
    finally:
        loop.set_task_factory(previous)


async def _let_orphans_finish(world: World) -> None:
    """Work started beside a request: let it end (its rows settle, the app can stop)."""
    orphans = set().union(*world.orphans.values())
    if orphans:
        await asyncio.wait(orphans, timeout=ORPHAN_SECONDS)


async def _run_probes(client: Any, world: World, route: Any, mailer: CheckMailer) -> None:
    # Ada and Bob click at the same time: overlapping requests, as in production.
    first = (("ada", ADA, {22, 24}), ("bob", BOB, {23}))
    responses = await asyncio.gather(*(_request(client, p, person.id) for p, person, _ in first))
    for (probe, person, expected), response in zip(first, responses, strict=True):
        _expect_listed(world, probe, response, person, expected, first=True)
    await _let_orphans_finish(world)
    _reuse_hint(world)
    for probe, person, expected in first:
        _timing_hint(world, probe, person)
        _expect_sent(world, probe, person, expected)
    wanted = {22: "sent", 24: "sent", 23: "failed again"}
    await _expect_rows(world, route, mailer, wanted | dict.fromkeys((21, 25, 26), "untouched"))

    # Cy has nothing to resend; Ada clicks a second time; user 9 does not exist.
    for probe, person in (("cy", CY), ("ada again", ADA)):
        response = await _request(client, probe, person.id)
        _expect_listed(world, probe, response, person, set(), first=False)
        _expect_sent(world, probe, person, set())
    unknown = await _request(client, "nobody", NOBODY)
    if unknown.status_code != 404:
        raise ExerciseFailed(
            f"{_post(NOBODY)} answered {unknown.status_code}, but there is no user {NOBODY}. "
            "Let the outbox service's NotFoundError through (the error handlers answer 404): "
            "a wrong id is the client's mistake, told at once, not a 202 for nothing."
        )

    # Dee: right after her 202, before her tasks run, a colleague resends email 28.
    dee = await _request(client, "dee", DEE.id)
    _expect_listed(world, "dee", dee, DEE, {27, COLLEAGUE}, first=False)
    await _let_orphans_finish(world)
    _reuse_hint(world)
    _timing_hint(world, "dee", DEE)
    if world.colleague_acted and COLLEAGUE in [email for p, email in world.sends if p == "dee"]:
        raise ExerciseFailed(
            f"Dee's email {COLLEAGUE} went out twice: a colleague resent it after your route "
            "had listed it, before its task ran, and the task sent it again. Anything can "
            "happen between the request and the task: the task reads its row when it starts, "
            "and leaves it alone unless it is still failed."
        )
    expected = {27} if world.colleague_acted else {27, COLLEAGUE}
    _expect_sent(world, "dee", DEE, expected)
    await _expect_rows(world, route, mailer, dict.fromkeys(expected, "sent"))


async def verify_resend_failed(candidate: Any) -> None:
    route = _route(candidate)
    world = World()
    mailer = CheckMailer(world)
    with scratch_database_url("check-08-", memory=True) as url:
        spy = StateSpy(_build_app(candidate, mailer, url))
        async with app_client(spy) as client:
            await client.get("/health/live")  # starts the app: its engine is in the state
            world.engine = spy.state["engine"]
            await _seed(world.engine)
            with _noting_who_creates_tasks(world):
                await _run_probes(client, world, route, mailer)


EXERCISES = (
    Exercise(
        id=EXERCISE_ID,
        notebook_id=NOTEBOOK_ID,
        title="Resend the failed emails, after the response",
        instructions=(
            "Write resend_email (a background task with a session of its own that sends one "
            "failed email again and records the outcome on its row) and complete POST "
            "/users/{user_id}/outbox/resend (202, the ids of the failed emails, one task "
            "each). The check runs your router on your app with a mailer that is slow, "
            "down for one user, and busy with a colleague's resend."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="router",
        verify=verify_resend_failed,
        success=(
            "Each failed email was resent after the 202, once, in the task's own session; "
            "a refused one stays failed with the new error; pending, sent and resent-meanwhile "
            "emails are left alone; an unknown user is a 404."
        ),
        hints=HINTS,
    ),
)
