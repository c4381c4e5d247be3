"""Background work: the welcome email and the order report, done after the response.

What must not be lost (the outbox row, the report row) is written in the request's
transaction; the worker claims the row, moves it to its end state, and records a failure on
the row (retried with backoff, ``failed`` once the attempts are spent), logged with the
request id, while the response stays what it was. Workers in separate processes, one of
them killed, are in tests/test_scale_out.py.
"""

import asyncio
import logging
from datetime import timedelta

import api_helpers
import httpx
import pytest
import sqlalchemy as sa
from api_helpers import KEY, error_of, make_order, make_user
from sqlalchemy.exc import OperationalError

from workshop_app.database import create_engine
from workshop_app.logging_config import describe_error
from workshop_app.mail import MemoryMailer, Message
from workshop_app.main import create_app
from workshop_app.models import OutboxEmail
from workshop_app.models.base import utc_now
from workshop_app.services.work_queue import claim_due
from workshop_app.tasks import orders_csv
from workshop_app.worker import BackgroundWorker

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases]

app_settings = api_helpers.app_settings
cheap_password_hashing = api_helpers.cheap_password_hashing


class BrokenMailer:
    async def send(self, message: Message) -> None:
        raise ConnectionError("mail server unreachable\nsecond line")


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
async def api(app_settings, mailer, client_for):
    app = create_app(app_settings)
    app.state.mailer = mailer
    async with client_for(app) as client:
        yield client


async def test_sign_up_sends_the_welcome_email_after_the_response(api, mailer):
    user = await make_user(api, "Ada@Example.com")
    assert mailer.sent == [
        Message(
            to="ada@example.com",
            subject="Welcome to the Orders API",
            body="Hello Ada Lovelace, your account is ready.",
            idempotency_key="outbox-email-1",  # the row's id: a provider drops a repeat
        )
    ]
    outbox = await api.get(f"/users/{user['id']}/outbox", headers=KEY)
    assert outbox.status_code == 200
    [email] = outbox.json()
    assert (email["to"], email["status"], email["error"]) == ("ada@example.com", "sent", None)
    assert email["sent_at"] is not None and "body" not in email


async def test_the_default_mailer_is_one_memory_mailbox_per_app(app_settings, client_for):
    app = create_app(app_settings)
    async with client_for(app) as client:
        await make_user(client, "ada@example.com")
        await make_user(client, "bob@example.com")
    assert [message.to for message in app.state.mailer.sent] == [
        "ada@example.com",
        "bob@example.com",
    ]


async def test_a_failing_send_is_recorded_logged_and_leaves_the_response_alone(
    app_settings, client_for, caplog
):
    app = create_app(app_settings.model_copy(update={"task_max_attempts": 1}))
    app.state.mailer = BrokenMailer()
    with caplog.at_level(logging.ERROR, logger="workshop_app.tasks"):
        # raise_app_exceptions stays True: a task that raised would raise here.
        async with client_for(app) as client:
            response = await client.post(
                "/users", json=api_helpers.user_body(), headers={**KEY, "X-Request-ID": "req-42"}
            )
            outbox = await client.get(f"/users/{response.json()['id']}/outbox", headers=KEY)
    assert response.status_code == 201 and response.json()["email"] == "ada@example.com"
    [email] = outbox.json()  # the row was written before the response: nothing is lost
    assert email["status"] == "failed" and email["sent_at"] is None
    assert email["error"] == "ConnectionError: mail server unreachable"
    [record] = [r for r in caplog.records if r.name == "workshop_app.tasks"]
    assert record.fields == {"request_id": "req-42", "row_id": email["id"]}
    assert "req-42" in record.getMessage() and record.exc_info is not None


async def test_a_database_error_in_the_requests_task_is_logged_and_the_next_task_runs(
    app_settings, client_for, monkeypatch, caplog
):
    """The email is sent, but the database is gone when its outcome is written: the error
    stays in the worker (one line, as the database's), and the request's next background
    task, the relay's dispatch, still runs; the email waits for the loop."""

    async def database_gone(*args, **kwargs) -> bool:
        raise OperationalError("UPDATE outbox_emails", {}, ConnectionError("server closed"))

    monkeypatch.setattr("workshop_app.tasks.settle", database_gone)
    with caplog.at_level(logging.ERROR, logger="workshop_app.worker"):
        # raise_app_exceptions stays True: a task that raised would raise here.
        async with client_for(create_app(app_settings)) as client:
            user = await make_user(client)
            [email] = (await client.get(f"/users/{user['id']}/outbox", headers=KEY)).json()
            events = (await client.get("/events", headers=KEY)).json()
    assert email["status"] == "pending"  # claimed, not settled: the loop takes it again
    assert [(e["name"], e["status"]) for e in events["items"]] == [
        ("user.registered", "dispatched")
    ]
    [record] = [r for r in caplog.records if r.name == "workshop_app.worker"]
    assert record.getMessage() == (
        "Work on outbox_emails 1 failed; the loop retries it "
        "(OperationalError: (builtins.ConnectionError) server closed)"
    )
    assert record.exc_info is None


async def test_a_bug_in_the_requests_task_is_logged_with_its_traceback(
    app_settings, client_for, monkeypatch, caplog
):
    async def broken(*args, **kwargs) -> bool:
        raise AttributeError("a bug, not the database")

    monkeypatch.setattr("workshop_app.worker.build_order_report", broken)
    with caplog.at_level(logging.ERROR, logger="workshop_app.worker"):
        async with client_for(create_app(app_settings)) as client:
            ada = await make_user(client)
            accepted = await client.post(f"/users/{ada['id']}/reports", headers=KEY)
    assert accepted.status_code == 202
    [record] = [r for r in caplog.records if r.name == "workshop_app.worker"]
    assert record.getMessage() == "Work on order_reports 1 failed; the loop retries it"
    assert record.exc_info is not None and record.exc_info[0] is AttributeError


async def test_a_rows_error_is_described_as_an_events_is(app_settings, client_for):
    """One description of an error for every table: the type and the first line, bounded."""
    failure = ConnectionError("x" * 1000 + "\nsecond line")

    class Refusing:
        async def send(self, message: Message) -> None:
            raise failure

    app = create_app(app_settings.model_copy(update={"task_max_attempts": 1}))
    app.state.mailer = Refusing()
    async with client_for(app) as client:
        user = await make_user(client)
        [email] = (await client.get(f"/users/{user['id']}/outbox", headers=KEY)).json()
    assert email["error"] == describe_error(failure)
    assert email["error"] == f"ConnectionError: {'x' * 183}"


async def test_a_refused_sign_up_queues_no_email(api, mailer):
    await make_user(api, "ada@example.com")
    taken = await api.post("/users", json=api_helpers.user_body("ADA@example.com"), headers=KEY)
    error_of(taken, 409, "EMAIL_TAKEN")
    assert len(mailer.sent) == 1
    assert len((await api.get("/users/1/outbox", headers=KEY)).json()) == 1


async def test_a_report_is_accepted_then_ready_with_the_users_orders(api):
    ada, bob = await make_user(api), await make_user(api, "bob@example.com")
    first = await make_order(api, ada["id"], ("KB-1", 2, 4999), ("MS-2", 1, 1999))
    second = await make_order(api, ada["id"], ("CB-3", 3, 500))
    await api.post(f"/orders/{second['id']}/pay", headers=KEY)
    await make_order(api, bob["id"])
    accepted = await api.post(f"/users/{ada['id']}/reports", headers=KEY)
    assert accepted.status_code == 202
    body = accepted.json()
    assert (body["status"], body["csv"], body["user_id"]) == ("pending", None, ada["id"])
    assert accepted.headers["location"] == f"http://testserver/reports/{body['id']}"
    report = await api.get(accepted.headers["location"], headers=KEY)
    assert report.status_code == 200 and report.json()["status"] == "ready"
    assert report.json()["csv"] == (
        "order_id,status,lines,total_cents\n"
        f"{first['id']},pending,2,11997\n"
        f"{second['id']},paid,1,1500\n"
    )


async def test_a_report_of_a_user_without_orders_has_only_the_header(api):
    ada = await make_user(api)
    accepted = await api.post(f"/users/{ada['id']}/reports", headers=KEY)
    report = (await api.get(f"/reports/{accepted.json()['id']}", headers=KEY)).json()
    assert (report["status"], report["csv"]) == ("ready", "order_id,status,lines,total_cents\n")


async def test_a_report_that_keeps_failing_is_marked_failed(
    app_settings, client_for, monkeypatch, caplog
):
    async def broken(session, user_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr("workshop_app.tasks.orders_csv", broken)
    app = create_app(app_settings.model_copy(update={"task_max_attempts": 1}))
    async with client_for(app) as api:
        ada = await make_user(api)
        with caplog.at_level(logging.ERROR, logger="workshop_app.tasks"):
            accepted = await api.post(
                f"/users/{ada['id']}/reports", headers={**KEY, "X-Request-ID": "report-1"}
            )
        assert accepted.status_code == 202
        report = (await api.get(f"/reports/{accepted.json()['id']}", headers=KEY)).json()
    assert (report["status"], report["csv"], report["error"]) == (
        "failed",
        None,
        "RuntimeError: disk full",
    )
    failures = [r for r in caplog.records if r.name == "workshop_app.tasks"]
    assert [r.fields["request_id"] for r in failures] == ["report-1"]


class FlakyMailer(MemoryMailer):
    """Down for the first ``failures`` sends, then delivers."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("mail server unreachable")
        await super().send(message)


async def test_a_failed_send_is_retried_with_backoff_until_it_is_sent(app_settings, client_for):
    mailer = FlakyMailer(failures=2)
    app = create_app(app_settings.model_copy(update={"worker_interval_seconds": 0.05}))
    app.state.mailer = mailer
    async with client_for(app) as api:
        user = await make_user(api)
        [email] = (await api.get(f"/users/{user['id']}/outbox", headers=KEY)).json()
        assert (email["status"], email["error"]) == (
            "pending",  # not lost, not given up: waiting for its next attempt
            "ConnectionError: mail server unreachable",
        )
        for _ in range(100):  # backoff 0.05 s, then 0.1 s: the worker's loop sends it
            [email] = (await api.get(f"/users/{user['id']}/outbox", headers=KEY)).json()
            if email["status"] == "sent":
                break
            await asyncio.sleep(0.05)
    assert (email["status"], email["error"]) == ("sent", None)
    assert [m.to for m in mailer.sent] == ["ada@example.com"]


@pytest.fixture
def shared_url(database_url: str, tmp_path) -> str:
    """A database a second engine can share with the app's (in-memory SQLite cannot)."""
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    return database_url


async def test_the_worker_picks_up_an_email_left_pending_by_a_crash(
    app_settings, client_for, shared_url
):
    """The process died after the commit, before the request's task sent the email."""
    settings = app_settings.model_copy(
        update={"worker_interval_seconds": 0.05, "database_url": shared_url}
    )
    app = create_app(settings)
    async with client_for(app) as api:
        user = await make_user(api)
        engine = create_engine(settings)
        async with engine.begin() as connection:  # as if the send never happened
            await connection.execute(
                sa.update(OutboxEmail).values(status="pending", sent_at=None, lease_until=None)
            )
        for _ in range(100):
            [email] = (await api.get(f"/users/{user['id']}/outbox", headers=KEY)).json()
            if email["status"] == "sent":
                break
            await asyncio.sleep(0.05)
        await engine.dispose()
    assert email["status"] == "sent"
    # Sent again with the same key: a provider that honours it (like this mailbox) delivers once.
    assert [m.idempotency_key for m in app.state.mailer.sent] == ["outbox-email-1"]
    assert app.state.mailer.repeats == 1


async def _owed_emails(app_settings, client_for, shared_url, count: int):
    """``count`` emails left pending, as after a crash; an engine on their database."""
    settings = app_settings.model_copy(update={"database_url": shared_url})
    async with client_for(create_app(settings)) as api:
        for n in range(count):
            await make_user(api, f"user{n}@example.com")
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(
            sa.update(OutboxEmail).values(status="pending", sent_at=None, attempts=0)
        )
    return engine


async def test_two_workers_at_once_send_each_email_once(app_settings, client_for, shared_url):
    engine = await _owed_emails(app_settings, client_for, shared_url, 20)
    mailer = MemoryMailer()
    workers = [BackgroundWorker(engine, mailer, instance=name, batch_size=3) for name in "ab"]
    done = await asyncio.gather(*(worker.run_pending() for worker in workers))
    await engine.dispose()
    assert sum(done) == 20 and mailer.repeats == 0
    assert len({m.idempotency_key for m in mailer.sent}) == len(mailer.sent) == 20


class SlowMailer(MemoryMailer):
    """Takes ``seconds`` per message, and counts every attempt, repeated keys included."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.attempts = seconds, []

    async def send(self, message: Message) -> None:
        self.attempts.append(message.idempotency_key)
        await asyncio.sleep(self.seconds)
        await super().send(message)


async def test_the_last_row_of_a_batch_keeps_its_lease_until_its_work_starts(
    app_settings, client_for, shared_url
):
    """Three rows claimed at once, worked one after another: without a lease started again
    for each, the third runs past the batch's lease and a second worker sends it too."""
    engine = await _owed_emails(app_settings, client_for, shared_url, 3)
    mailer = SlowMailer(0.4)
    first = BackgroundWorker(engine, mailer, instance="a", lease_seconds=1.0, batch_size=3)
    second = BackgroundWorker(engine, mailer, instance="b", lease_seconds=1.0, batch_size=3)
    working = asyncio.create_task(first.run_pending())
    await asyncio.sleep(1.05)  # the batch's lease has ended; the third email is being sent
    late = await second.run_pending()
    done = await working
    await engine.dispose()
    assert (done, late) == (3, 0)
    assert sorted(mailer.attempts) == [f"outbox-email-{n}" for n in (1, 2, 3)]


class StallingMailer(MemoryMailer):
    """The first send hangs until released, past the worker's time limit too (as a process
    paused, or a client that finishes its own way first, does), then fails; later sends wait
    for ``go``."""

    def __init__(self) -> None:
        super().__init__()
        self.release, self.go, self.calls = asyncio.Event(), asyncio.Event(), 0

    async def send(self, message: Message) -> None:
        self.calls += 1
        if self.calls == 1:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                await self.release.wait()
            raise ConnectionError("timed out after the lease")
        await self.go.wait()
        await super().send(message)


async def test_a_stale_claim_of_the_same_worker_cannot_settle_the_newer_one(
    app_settings, client_for, shared_url
):
    """The request's task stalls past its lease; the same worker's loop claims the email
    again and sends it. The stalled send then fails: its outcome must not overwrite the
    newer claim (the row pending again, due for a third send while the second is running)."""
    engine = await _owed_emails(app_settings, client_for, shared_url, 1)
    mailer = StallingMailer()
    worker = BackgroundWorker(engine, mailer, instance="a", lease_seconds=0.2, interval=0.01)
    stalled = asyncio.create_task(worker.send_email(1))
    await asyncio.sleep(0.3)  # the first claim's lease has ended
    retry = asyncio.create_task(worker.run_pending())
    while mailer.calls < 2:
        await asyncio.sleep(0.01)
    mailer.release.set()
    await stalled  # its failure arrives while the second claim still holds the row
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(OutboxEmail))).one()
    assert (row.status, row.attempts, row.lease_until is not None) == ("pending", 2, True)
    mailer.go.set()
    assert await retry == 1
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(OutboxEmail))).one()
    await engine.dispose()
    assert (row.status, row.attempts, row.error, row.lease_until) == ("sent", 2, None, None)
    assert [m.idempotency_key for m in mailer.sent] == ["outbox-email-1"]


async def test_a_row_whose_work_kills_every_worker_is_failed_after_max_attempts(
    app_settings, client_for, shared_url, caplog
):
    """Each worker that claims the email dies mid-work (nothing settles it), as under the
    out-of-memory killer: its claims stop at max_attempts, and the row is left 'failed'."""
    engine = await _owed_emails(app_settings, client_for, shared_url, 1)
    claimed = []
    with caplog.at_level(logging.ERROR, logger="workshop_app.services.work_queue"):
        for n in range(5):  # one claim per lease, each by a worker that then dies
            dying = {"instance": f"dies-{n}", "lease_seconds": 0.001, "limit": 10}
            claimed.append(await claim_due(engine, OutboxEmail, **dying, max_attempts=3))
            await asyncio.sleep(0.01)  # its lease ends
    mailer = MemoryMailer()
    worker = BackgroundWorker(engine, mailer, instance="survivor", max_attempts=3)
    await worker.send_email(1)  # the request's task, late: spent rows are not claimed either
    assert await worker.run_pending() == 0
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(OutboxEmail))).one()
    await engine.dispose()
    assert claimed == [[1], [1], [1], [], []] and mailer.sent == []
    assert (row.status, row.attempts, row.lease_until) == ("failed", 3, None)
    assert row.error == (
        "gave up after 3 attempts; the last one did not finish "
        "(the worker stopped or crashed mid-work)"
    )
    logged = [r.getMessage() for r in caplog.records if r.name.endswith("work_queue")]
    reason = "claimed 3 times, never finished; left 'failed'"
    assert logged == [f"Gave up on outbox_emails [1]: {reason}"]


class HangingMailer(MemoryMailer):
    """Never answers for the emails in ``hangs``; delivers the others."""

    def __init__(self, *hangs: str) -> None:
        super().__init__()
        self.hangs = set(hangs)

    async def send(self, message: Message) -> None:
        if message.idempotency_key in self.hangs:
            await asyncio.Event().wait()
        await super().send(message)


async def test_a_hung_send_is_cut_off_then_retried_then_failed(
    app_settings, client_for, shared_url
):
    """A provider that never answers for one email: each attempt ends after half the lease,
    as a failure, retried after its backoff; the other emails go out; then the row fails."""
    engine = await _owed_emails(app_settings, client_for, shared_url, 3)
    mailer = HangingMailer("outbox-email-1")
    worker = BackgroundWorker(
        engine, mailer, instance="a", lease_seconds=0.4, max_attempts=2, interval=0.01
    )
    started = asyncio.get_running_loop().time()
    async with asyncio.timeout(5):  # without a limit the pass never ends
        assert await worker.run_pending() == 2  # emails 2 and 3
    took = asyncio.get_running_loop().time() - started
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(OutboxEmail).where(OutboxEmail.id == 1))).one()
    await engine.dispose()
    # Two attempts, each cut off at half the lease: the error names the 0.2 s limit; a ceiling
    # on the wall time would measure this machine's load, not the worker.
    assert took >= 0.4
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.error == "TimeoutError: not finished within 0.2 s"
    assert sorted(m.idempotency_key for m in mailer.sent) == ["outbox-email-2", "outbox-email-3"]


async def test_a_host_whose_clock_runs_ahead_takes_no_live_lease_on_postgresql(
    app_settings, client_for, shared_url, monkeypatch
):
    """Worker b's host clock runs an hour ahead of a's. On PostgreSQL leases are written and
    compared with the database's clock, so a's live lease holds; SQLite lives on one host,
    whose clock counts (here, b's: the lease looks ended)."""
    engine = await _owed_emails(app_settings, client_for, shared_url, 1)
    first = {"lease_seconds": 30, "limit": 10, "max_attempts": 3}
    assert await claim_due(engine, OutboxEmail, instance="a", **first) == [1]
    ahead = utc_now() + timedelta(hours=1)
    monkeypatch.setattr("workshop_app.services.work_queue.utc_now", lambda: ahead)
    taken = await claim_due(engine, OutboxEmail, instance="b", **first)
    await engine.dispose()
    assert taken == ([] if shared_url.startswith("postgresql") else [1])


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/users/9/reports"), ("GET", "/reports/9"), ("GET", "/users/9/outbox")],
)
async def test_unknown_ids_are_404(api, method, path):
    error_of(await api.request(method, path, headers=KEY), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/users/1/reports"), ("GET", "/reports/1"), ("GET", "/users/1/outbox")],
)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
async def test_every_endpoint_requires_the_api_key(api, method, path, headers):
    ada = await make_user(api)
    await api.post(f"/users/{ada['id']}/reports", headers=KEY)
    error_of(await api.request(method, path, headers=headers), 401, "UNAUTHORIZED")
    assert len((await api.get("/users/1/outbox", headers=KEY)).json()) == 1


async def test_orders_csv_reads_only_the_given_user(session):
    from workshop_app.models import Order, OrderLine, User

    for email in ("a@example.com", "b@example.com"):
        session.add(User(email=email, full_name="x", password_hash="x"))
    await session.flush()
    session.add(Order(user_id=2, total_cents=100))
    await session.flush()
    session.add(OrderLine(order_id=1, sku="S", quantity=1, unit_price_cents=100))
    await session.flush()
    assert await orders_csv(session, 1) == "order_id,status,lines,total_cents\n"
    assert await orders_csv(session, 2) == "order_id,status,lines,total_cents\n1,pending,1,100\n"


async def test_sign_up_through_a_plain_httpx_client_is_unaffected(api):
    assert isinstance(api, httpx.AsyncClient)
    response = await api.post("/users", json=api_helpers.user_body(), headers=KEY)
    assert response.status_code == 201 and response.headers["location"].endswith("/users/1")
