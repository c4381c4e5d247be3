"""Exercise of notebook 13 (scaling out): a claim that stops retrying a row that kills its worker.

``services/work_queue.py`` claims a row of background work with one UPDATE: pending, due,
not held by a live lease, oldest first, ``FOR UPDATE SKIP LOCKED``. Its ``attempts`` column
counts claims, not failures, and a failure is written by the worker that survives it. A row
whose work kills the process (the out-of-memory killer, a segfault in a C library) is never
written ``failed``: its lease ends, another instance claims it and dies in turn, for ever.
The learner writes ``claim_due`` with one more rule: a row claimed ``max_attempts`` times is
not claimed again (it waits for a person).

The check runs the learner's function on a real PostgreSQL server (``FOR UPDATE SKIP
LOCKED`` and concurrent claims mean nothing on SQLite), started once per process and reused
by every check (``_postgres_server``), in a database of its own per check:

* twelve outbox emails in every state a claim meets (new, sent, failed, not due, held by a
  live lease, left by a dead worker, due for a retry, claimed ``max_attempts`` times or one
  fewer, more than ``limit``), claimed by one worker, then by a second: which rows changed,
  and how (``claimed_by``, ``lease_until``, ``attempts``, nothing else), not only what the
  function returned;
* order reports with other ``limit``, ``lease_seconds`` and ``max_attempts``: nothing may be
  hard-coded, nor the table;
* two rows locked by another transaction (a worker in the middle of its claim): the claim
  must take the next rows at once, not wait for them;
* six workers claiming at the same moment, each on a connection of its own: no row may be
  claimed twice.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._base import Exercise, ExerciseFailed, require_callable

NOTEBOOK_ID = "13_scaling_out"
EXERCISE_ID = "13.claim_due"
LOCK_WAIT = 1.0  # how long a claim may wait while another transaction holds two rows
LEASE_TOLERANCE = 5.0  # seconds: the lease is measured against the check's own clock

STARTER = '''\
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.services.work_queue import Work

# You will also need: timedelta (datetime); and_, or_, update (sqlalchemy); col, select
# (sqlmodel); utc_now (workshop_app.models.base), the app's clock.


async def claim_due(
    engine: AsyncEngine,
    model: Work,
    *,
    instance: str,
    lease_seconds: float,
    limit: int,
    max_attempts: int,
) -> list[int]:
    """Claim up to `limit` rows of `model` (OutboxEmail or OrderReport) for `instance`,
    for `lease_seconds`, oldest first; return their ids. A row is claimable when it is
    pending, due, held by no live lease, and was claimed fewer than `max_attempts` times."""
    # TODO 1: the condition a claimable row meets (four parts), at this moment.
    # TODO 2: up to `limit` of those rows, oldest first, skipping the rows another worker
    #         is claiming at this moment.
    # TODO 3: one UPDATE of those rows: who holds them, until when, one more attempt;
    #         return the ids it changed, and commit.
    return []
'''

SOLUTION = '''\
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from workshop_app.models.base import utc_now
from workshop_app.services.work_queue import Work


async def claim_due(
    engine: AsyncEngine,
    model: Work,
    *,
    instance: str,
    lease_seconds: float,
    limit: int,
    max_attempts: int,
) -> list[int]:
    """Claim up to `limit` rows of `model` (OutboxEmail or OrderReport) for `instance`,
    for `lease_seconds`, oldest first; return their ids. A row is claimable when it is
    pending, due, held by no live lease, and was claimed fewer than `max_attempts` times."""
    now = utc_now()
    claimable = and_(
        col(model.status) == "pending",
        or_(col(model.next_attempt_at).is_(None), col(model.next_attempt_at) <= now),
        or_(col(model.lease_until).is_(None), col(model.lease_until) < now),
        # attempts counts claims: a row whose work killed its worker every time stops here
        col(model.attempts) < max_attempts,
    )
    picked = (
        select(model.id)
        .where(claimable)
        .order_by(col(model.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # rows another worker is claiming: skip them
    )
    claim = (
        update(model)
        .where(col(model.id).in_(picked.scalar_subquery()))
        .values(
            claimed_by=instance,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=col(model.attempts) + 1,
        )
        .returning(col(model.id))
    )
    async with engine.begin() as connection:  # commits when the block ends
        return sorted((await connection.execute(claim)).scalars())
'''

HINTS = (
    "A claim is a promise with an end date. A row is free when it is still owed, its time "
    "has come, nobody's promise on it still runs, and it has not already been promised "
    "too often; picking the rows and promising them must be one step that passes over the "
    "rows another worker is picking at the same moment.",
    'Reread "Leases: work any instance may take, and none may lose" (what a lease is, what '
    'is claimable) and "The relay claims with a lease" (one UPDATE, oldest first, SKIP '
    'LOCKED); "The work tables: services/work_queue.py" has the same claim as it stood '
    "before the limit on attempts, which the app adopts after this exercise.",
)

# --- a PostgreSQL server for the checks: started once per process, stopped at exit ------

_server_lock = threading.Lock()
_server_url: str | None = None


def _postgres_server() -> str:
    """The URL of a server where the check may create databases: the one
    ``WORKSHOP_TEST_POSTGRES_URL`` names, or an embedded server started on first use and
    reused by every later check of this process (starting one takes seconds)."""
    global _server_url
    with _server_lock:
        if _server_url is None:
            from ..servers import postgres_server

            stack = contextlib.ExitStack()
            _server_url = stack.enter_context(postgres_server())
            atexit.register(stack.close)  # a killed kernel's server has a watchdog too
    return _server_url


def _dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def _database():
    """An engine on a new database holding the users, outbox and report tables; dropped
    afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    from workshop_app.models import OrderReport, OutboxEmail, User
    from workshop_app.models.base import utc_now

    try:
        server = await asyncio.to_thread(_postgres_server)
    except Exception as exc:  # no wheel for this platform, and no server named
        raise ExerciseFailed(
            f"The check needs a PostgreSQL server and could not start one ({exc}). "
            "Set WORKSHOP_TEST_POSTGRES_URL to a postgresql+asyncpg:// URL of a server "
            "whose user may create databases, restart the kernel, and check again."
        ) from None
    name = f"exercise13_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url, pool_size=8, max_overflow=4)
    try:
        tables = [User.__table__, OutboxEmail.__table__, OrderReport.__table__]
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all, tables=tables)
            await connection.execute(
                User.__table__.insert().values(
                    id=1,
                    email="ada@example.com",
                    full_name="Ada Lovelace",
                    password_hash="x",
                    is_active=True,
                    created_at=utc_now(),
                )
            )
        yield engine
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --- the rows, and what became of them ------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of work as the check sets it up, and what a person would call it."""

    id: int
    what: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: float | None = None  # seconds from now
    claimed_by: str | None = None
    lease_until: float | None = None  # seconds from now

    def values(self, now: datetime) -> dict[str, Any]:
        def at(offset: float | None) -> datetime | None:
            return None if offset is None else now + timedelta(seconds=offset)

        return {
            "id": self.id,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": at(self.next_attempt_at),
            "claimed_by": self.claimed_by,
            "lease_until": at(self.lease_until),
        }


MINUTE = 60.0
# Every updated row of the outbox takes 50 ms: see _probe_concurrent_claims.
SLOW_UPDATES = (
    """CREATE OR REPLACE FUNCTION slow_claim() RETURNS trigger AS $$
    BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER slow_claims BEFORE UPDATE ON outbox_emails
    FOR EACH ROW EXECUTE FUNCTION slow_claim()""",
)

# Outbox emails; with max_attempts=3, claimable oldest first: 1, 5, 6, 9, then 10, 11, 12.
EMAILS = (
    Row(1, "row 1 (new)"),
    Row(2, "row 2 (already sent)", status="sent", attempts=1),
    Row(3, "row 3 (a retry due in a minute)", attempts=1, next_attempt_at=MINUTE),
    Row(
        4,
        "row 4 (held by worker-z, whose lease runs for another minute)",
        attempts=1,
        claimed_by="worker-z",
        lease_until=MINUTE,
    ),
    Row(
        5,
        "row 5 (its worker died: the lease ended a minute ago)",
        attempts=1,
        claimed_by="worker-dead",
        lease_until=-MINUTE,
    ),
    Row(6, "row 6 (a retry due a minute ago)", attempts=1, next_attempt_at=-MINUTE),
    Row(7, "row 7 (failed for good)", status="failed", attempts=3),
    Row(
        8,
        "row 8 (claimed 3 times, max_attempts=3, never settled)",
        attempts=3,
        claimed_by="worker-dead",
        lease_until=-MINUTE,
    ),
    Row(
        9,
        "row 9 (claimed 2 times, max_attempts=3, lease ended)",
        attempts=2,
        claimed_by="worker-dead",
        lease_until=-MINUTE,
    ),
    Row(10, "row 10 (new)"),
    Row(11, "row 11 (new)"),
    Row(12, "row 12 (new)"),
)

# Order reports; with max_attempts=5, claimable oldest first: 2, 4, 5.
REPORTS = (
    Row(1, "report 1 (ready)", status="ready", attempts=1),
    Row(
        2,
        "report 2 (claimed 4 times, max_attempts=5, lease ended)",
        attempts=4,
        claimed_by="worker-dead",
        lease_until=-MINUTE,
    ),
    Row(
        3,
        "report 3 (claimed 5 times, max_attempts=5, never settled)",
        attempts=5,
        claimed_by="worker-dead",
        lease_until=-MINUTE,
    ),
    Row(4, "report 4 (new)"),
    Row(5, "report 5 (new)"),
)


async def _insert(engine: Any, model: Any, rows: Iterable[Row]) -> None:
    from workshop_app.models.base import utc_now

    now = utc_now()
    extra: dict[str, Any] = {"user_id": 1, "created_at": now}
    if model.__tablename__ == "outbox_emails":
        extra |= {"to": "ada@example.com", "subject": "Welcome", "body": "Hello"}
    async with engine.begin() as connection:
        await connection.execute(model.__table__.delete())
        await connection.execute(
            model.__table__.insert(), [{**extra, **row.values(now)} for row in rows]
        )


async def _state(engine: Any, model: Any) -> dict[int, dict[str, Any]]:
    table = model.__table__
    columns = ("status", "attempts", "next_attempt_at", "claimed_by", "lease_until")
    query = table.select().order_by(table.c.id)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return {row["id"]: {name: _plain(row[name]) for name in columns} for row in rows}


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") and not isinstance(value, datetime) else value


def _ids(returned: Any, call: str) -> list[int]:
    """The ids the learner's function returned, or a hint about what it returned instead."""
    if returned is None:
        raise ExerciseFailed(
            f"{call} returned None. Return the ids of the rows this call claimed (a list of "
            "ints): the worker works on exactly those."
        )
    if isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
        raise ExerciseFailed(
            f"{call} returned {type(returned).__name__}, not a list of ids: return the id of "
            "each row this call claimed."
        )
    ids = list(returned)
    strange = [value for value in ids if not isinstance(value, int) or isinstance(value, bool)]
    if strange:
        raise ExerciseFailed(
            f"{call} returned {type(strange[0]).__name__} values, not ids: return the id "
            "(an int) of each row this call claimed, not the rows or the result."
        )
    return ids


def _changed(before: dict, after: dict) -> list[int]:
    return [row_id for row_id in sorted(after) if after[row_id] != before.get(row_id)]


async def _claim(candidate: Any, engine: Any, probe: Probe) -> Any:
    return await candidate(
        engine,
        probe.model(),
        instance=probe.instance,
        lease_seconds=probe.lease,
        limit=probe.limit,
        max_attempts=probe.max_attempts,
    )


@dataclass(frozen=True)
class Probe:
    """One call of the learner's claim on rows set up for it, and what it should claim."""

    table: str  # "outbox_emails" or "order_reports"
    rows: tuple[Row, ...]
    instance: str
    lease: float
    limit: int
    max_attempts: int
    where: str  # how a hint introduces the situation

    def model(self) -> Any:
        from workshop_app.models import OrderReport, OutboxEmail

        return OutboxEmail if self.table == "outbox_emails" else OrderReport

    def other_model(self) -> Any:
        from workshop_app.models import OrderReport, OutboxEmail

        return OrderReport if self.table == "outbox_emails" else OutboxEmail

    def claimable(self, row: Row) -> bool:
        return (
            row.status == "pending"
            and (row.next_attempt_at is None or row.next_attempt_at <= 0)
            and (row.lease_until is None or row.lease_until < 0)
            and row.attempts < self.max_attempts
        )

    @property
    def expected(self) -> list[int]:
        return [row.id for row in self.rows if self.claimable(row)][: self.limit]

    @property
    def call(self) -> str:
        name = self.model().__name__
        return f"claim_due(..., {name}, instance={self.instance!r}, limit={self.limit})"

    def names(self, ids: Iterable[int]) -> str:
        wanted = set(ids)
        return ", ".join(row.what for row in self.rows if row.id in wanted)


def _wrong_set(probe: Probe, changed: list[int]) -> None:
    """Name the first rule the set of changed rows breaks; return when it is right."""
    by_id = {row.id: row for row in probe.rows}
    where, limit, expected = probe.where, probe.limit, probe.expected
    for row_id in changed:
        row = by_id[row_id]
        if row.status != "pending":
            raise ExerciseFailed(
                f"{where}, your claim took {row.what}: only pending rows are owed work. A "
                "claimed row that is done (sent, ready) or failed would be done again."
            )
        if row.next_attempt_at is not None and row.next_attempt_at > 0:
            raise ExerciseFailed(
                f"{where}, your claim took {row.what}: a row whose next attempt is still to "
                "come is not due yet (its backoff protects a service that is down)."
            )
        if row.lease_until is not None and row.lease_until > 0:
            raise ExerciseFailed(
                f"{where}, your claim took {row.what}: its lease has not ended, so its "
                "worker is alive and working on it. Taking it means two workers do the same "
                "work (two emails). A row is free only when its lease is absent or over."
            )
        if row.attempts >= probe.max_attempts:
            raise ExerciseFailed(
                f"{where}, your claim took {row.what}: it was claimed max_attempts times "
                "already. A row whose work kills its worker would be claimed again after "
                "every lease, by every instance in turn; stop at max_attempts."
            )
    if len(changed) > limit:
        raise ExerciseFailed(
            f"{where}, your claim changed {len(changed)} rows with limit={limit}: a worker "
            "takes at most `limit` rows at a time, so the others stay free for other workers."
        )
    missing = [row_id for row_id in expected if row_id not in changed]
    if not missing:
        return
    skipped = by_id[missing[0]]
    newer = [row_id for row_id in changed if row_id not in expected]
    if skipped.attempts and skipped.attempts == probe.max_attempts - 1:
        raise ExerciseFailed(
            f"{where}, your claim left {skipped.what}: it has one attempt left. Count "
            "again where the limit on attempts is: claimed max_attempts - 1 times, a row "
            "may be claimed once more."
        )
    if skipped.lease_until is not None and skipped.lease_until < 0:
        raise ExerciseFailed(
            f"{where}, your claim left {skipped.what}. A lease that ended belongs to a "
            "worker that died or hung: its row must be claimable again, or it waits for ever."
        )
    if skipped.next_attempt_at is not None and skipped.next_attempt_at < 0:
        raise ExerciseFailed(
            f"{where}, your claim left {skipped.what}: a retry whose time has come is due, "
            "like a row that never had to wait."
        )
    if newer and min(newer) > max(missing):
        raise ExerciseFailed(
            f"{where}, your claim took the newest rows ({probe.names(newer)}) and left the "
            f"oldest ({probe.names(missing)}): take the oldest first, or under load the "
            "first rows wait for ever."
        )
    raise ExerciseFailed(
        f"{where}, the claimable rows, oldest first and at most {limit}, are "
        f"{', '.join(map(str, expected))}; your claim changed {', '.join(map(str, changed))}."
    )


async def _probe_rows(candidate: Any, engine: Any, probe: Probe) -> None:
    """One claim on the rows as set up: which rows changed, how, and the ids returned."""
    from workshop_app.models.base import utc_now

    model, other = probe.model(), probe.other_model()
    before, other_before = await _state(engine, model), await _state(engine, other)
    started = utc_now()
    returned = await _claim(candidate, engine, probe)
    after = await _state(engine, model)
    others_changed = (
        other.__tablename__ if _changed(other_before, await _state(engine, other)) else None
    )
    ids = _ids(returned, probe.call)
    changed = _changed(before, after)
    if not changed and others_changed:
        raise ExerciseFailed(
            f"{probe.call} changed rows of {others_changed}, not of {model.__tablename__}: "
            "claim rows of the model the call is given (the worker calls it for emails and "
            "for reports)."
        )
    if not changed and ids:
        raise ExerciseFailed(
            f"{probe.call} returned {sorted(ids)}, but no row of the table changed: read "
            "from another connection, nothing was claimed. Did the UPDATE run in a "
            "transaction that was never committed?"
        )
    if not changed:
        claimable = [row.id for row in probe.rows if probe.claimable(row)]
        raise ExerciseFailed(
            f"{probe.call} claimed nothing, while {len(claimable)} of the {len(probe.rows)} "
            "rows could be claimed. Either your claim_due does not claim yet (TODOs 1 to 3), "
            f"or its condition matches no row: try it on {probe.rows[0].what}, which plainly "
            "may be claimed."
        )
    _wrong_set(probe, changed)
    _columns(probe, before, after, changed, started=started)
    if sorted(ids) != changed or len(ids) != len(set(ids)):
        raise ExerciseFailed(
            f"{probe.call} claimed rows {changed} but returned {ids}: return the ids of the "
            "rows this call changed, each once (the UPDATE can return them), not the rows it "
            "looked at."
        )


def _columns(
    probe: Probe, before: dict, after: dict, changed: list[int], *, started: datetime
) -> None:
    """How each claimed row changed: holder, lease, one more attempt, nothing else."""
    from workshop_app.models.base import utc_now

    by_id = {row.id: row for row in probe.rows}
    tolerance = timedelta(seconds=LEASE_TOLERANCE)
    for row_id in changed:
        old, new, what = before[row_id], after[row_id], by_id[row_id].what
        if new["claimed_by"] != probe.instance:
            raise ExerciseFailed(
                f"Your claim of {what} left claimed_by={new['claimed_by']!r}, not the "
                f"instance that claimed it ({probe.instance!r}): a worker settles only rows "
                "it holds, so it could never record the outcome."
            )
        if new["lease_until"] is None or new["lease_until"] == old["lease_until"]:
            raise ExerciseFailed(
                f"Your claim of {what} set no new lease_until. Without a lease, the claim "
                "protects nothing: the next worker finds the row free and takes it too."
            )
        lease = timedelta(seconds=probe.lease)
        if not started + lease - tolerance <= new["lease_until"] <= utc_now() + lease + tolerance:
            offset = (new["lease_until"] - started).total_seconds()
            raise ExerciseFailed(
                f"Your claim of {what} set its lease to end {offset:.0f} s after the claim, "
                f"with lease_seconds={probe.lease:g}: the lease lasts lease_seconds from now."
            )
        if new["attempts"] != old["attempts"] + 1:
            did = (
                f"left attempts at {old['attempts']}"
                if new["attempts"] == old["attempts"]
                else f"changed attempts from {old['attempts']} to {new['attempts']}"
            )
            raise ExerciseFailed(
                f"Your claim of {what} {did}: each claim counts one attempt, at claim time, "
                "so a worker that dies before it records anything has still used one."
            )
        moved = new["next_attempt_at"] not in (old["next_attempt_at"], None)  # None: harmless
        if new["status"] != old["status"] or moved:
            raise ExerciseFailed(
                f"Your claim of {what} changed its status or next_attempt_at: a claim sets "
                "who holds the row, until when, and one more attempt; the outcome is written "
                "when the work is done (settle)."
            )


async def _probe_emails(candidate: Any, engine: Any) -> None:
    from workshop_app.models import OutboxEmail

    await _insert(engine, OutboxEmail, EMAILS)
    first = Probe(
        "outbox_emails",
        EMAILS,
        instance="worker-a",
        lease=30.0,
        limit=4,
        max_attempts=3,
        where="Among twelve outbox emails (limit=4, max_attempts=3)",
    )
    await _probe_rows(candidate, engine, first)
    # worker-b claims next: worker-a's rows are held by a live lease now.
    held = set(first.expected)
    now_held = tuple(
        Row(
            row.id,
            f"{row.what[:-1]}, claimed by worker-a a moment ago)",
            attempts=row.attempts + 1,
            claimed_by="worker-a",
            lease_until=first.lease,
        )
        if row.id in held
        else row
        for row in EMAILS
    )
    second = Probe(
        "outbox_emails",
        now_held,
        instance="worker-b",
        lease=30.0,
        limit=100,
        max_attempts=3,
        where="When worker-b claims next (limit=100, max_attempts=3)",
    )
    await _probe_rows(candidate, engine, second)


async def _probe_reports(candidate: Any, engine: Any) -> None:
    from workshop_app.models import OrderReport, OutboxEmail

    await _insert(engine, OrderReport, REPORTS)
    await _insert(engine, OutboxEmail, EMAILS)  # claimable emails: a claim must leave them
    probe = Probe(
        "order_reports",
        REPORTS,
        instance="reporter-1",
        lease=5.0,
        limit=2,
        max_attempts=5,
        where="Among five order reports (limit=2, lease_seconds=5, max_attempts=5)",
    )
    await _probe_rows(candidate, engine, probe)


async def _probe_locked_rows(candidate: Any, engine: Any) -> None:
    """Rows 1 and 2 are locked by another worker's claim in progress: take 3 and 4 at once."""
    from sqlalchemy import text

    from workshop_app.models import OutboxEmail

    rows = tuple(Row(n, f"row {n} (new)") for n in range(1, 7))
    probe = Probe(
        "outbox_emails",
        rows,
        instance="worker-c",
        lease=30.0,
        limit=2,
        max_attempts=3,
        where="While another worker held rows 1 and 2",
    )
    await _insert(engine, OutboxEmail, rows)
    async with engine.connect() as other:
        await other.begin()
        # Another worker, in the middle of its claim: its transaction holds the row locks.
        await other.execute(text("SELECT id FROM outbox_emails WHERE id IN (1, 2) FOR UPDATE"))
        try:
            returned = await asyncio.wait_for(_claim(candidate, engine, probe), LOCK_WAIT)
        except TimeoutError:
            raise ExerciseFailed(
                "Another worker was in the middle of claiming rows 1 and 2 (its transaction "
                "held their row locks), and your claim waited for it: still waiting after "
                f"{LOCK_WAIT:g} s. Under load every worker would queue behind the others. "
                "Pass over the rows another transaction has locked, and take the next ones."
            ) from None
        finally:
            await other.rollback()
    ids = _ids(returned, probe.call)
    if sorted(ids) != [3, 4]:
        raise ExerciseFailed(
            "While another worker held rows 1 and 2 locked, your claim (limit=2) returned "
            f"{sorted(ids)}; the rows free to take, oldest first, were 3 and 4."
        )


async def _probe_concurrent_claims(candidate: Any, engine: Any) -> None:
    """Six workers claim four rows each, from thirty. The first starts alone; the five others
    start the moment it commits for the first time, while a trigger makes every claimed row
    take 50 ms to update: a claim that chooses in one transaction and claims in another
    leaves the others a window to choose the same rows, and this makes it wide."""
    from sqlalchemy import event, text

    from workshop_app.models import OutboxEmail

    rows = tuple(Row(n, f"row {n} (new)") for n in range(1, 31))
    await _insert(engine, OutboxEmail, rows)
    probes = [
        Probe(
            "outbox_emails",
            rows,
            instance=f"worker-{n}",
            lease=30.0,
            limit=4,
            max_attempts=3,
            where="Six workers at once",
        )
        for n in range(6)
    ]
    async with engine.begin() as connection:
        for statement in SLOW_UPDATES:
            await connection.execute(text(statement))
    committed = asyncio.Event()

    def on_commit(_connection: Any) -> None:  # runs on the event loop's thread
        committed.set()

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        first = asyncio.ensure_future(_claim(candidate, engine, probes[0]))
        waiting = asyncio.ensure_future(committed.wait())
        await asyncio.wait({first, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        others = [_claim(candidate, engine, probe) for probe in probes[1:]]
        results = await asyncio.gather(first, *others)
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER slow_claims ON outbox_emails"))
    returned = [_ids(result, probe.call) for probe, result in zip(probes, results, strict=True)]
    after = await _state(engine, OutboxEmail)
    seen: dict[int, str] = {}
    for probe, ids in zip(probes, returned, strict=True):
        for row_id in ids:
            if row_id in seen:
                raise ExerciseFailed(
                    f"Six workers claimed at the same moment, and row {row_id} went to both "
                    f"{seen[row_id]} and {probe.instance}: two emails. Choosing the rows and "
                    "claiming them must be one step (one statement, or one transaction that "
                    "keeps them locked), so no other worker can choose them in between."
                )
            seen[row_id] = probe.instance
    twice = [row_id for row_id, state in after.items() if state["attempts"] > 1]
    if twice:
        raise ExerciseFailed(
            f"Six workers claimed at the same moment, and row {twice[0]} was claimed "
            f"{after[twice[0]]['attempts']} times (attempts): two workers chose it and both "
            "wrote their claim. Choose and claim in one step."
        )
    for probe, ids in zip(probes, returned, strict=True):
        for row_id in ids:
            if after[row_id]["claimed_by"] != probe.instance:
                raise ExerciseFailed(
                    f"Six workers claimed at the same moment: {probe.instance} was told it "
                    f"holds row {row_id}, but the row says {after[row_id]['claimed_by']!r}. "
                    "Return only what this call's own UPDATE changed."
                )


async def verify_claim_due(candidate: Any) -> None:
    require_callable(candidate, "claim_due", is_async=True)
    async with _database() as engine:
        await _probe_emails(candidate, engine)
        await _probe_reports(candidate, engine)
        await _probe_locked_rows(candidate, engine)
        await _probe_concurrent_claims(candidate, engine)


EXERCISES = (
    Exercise(
        id=EXERCISE_ID,
        notebook_id=NOTEBOOK_ID,
        title="Claim due work, and stop at max_attempts",
        instructions=(
            "Complete claim_due: in one UPDATE, claim up to `limit` rows of `model` that are "
            "pending, due, held by no live lease and claimed fewer than `max_attempts` times, "
            "oldest first, skipping rows another worker is claiming; set claimed_by, "
            "lease_until and one more attempt; return their ids. The check runs it on "
            "PostgreSQL: outbox emails and reports in every state, locked rows, six workers "
            "at once."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="claim_due",
        verify=verify_claim_due,
        success=(
            "Only claimable rows, oldest first, up to the limit; a live lease is respected and "
            "an ended one taken over; a row claimed max_attempts times is left for a person; "
            "locked rows are skipped, and six workers at once never share a row."
        ),
        hints=HINTS,
    ),
)
