"""Exercise 13.claim_due: each likely mistake gets a hint that names it; correct claims in
other styles pass; every check is quick (the PostgreSQL server is started once, for the
module, and the checks reuse it)."""

import time

import exercise_helpers
import pytest

from workshop_lab.exercises import check, get_exercise
from workshop_lab.exercises import ex13_scaling_out as module

EXERCISE = "13.claim_due"
MAX_SECONDS = 3.0

progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, _ = exercise_helpers.probe(EXERCISE)


@pytest.fixture(scope="module", autouse=True)
def postgres_started() -> None:
    """Start (or find) the server once: the checks time what they do, not the server's boot."""
    module._postgres_server()


def timed(candidate):
    started = time.perf_counter()
    result = check(EXERCISE, candidate)
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"the check took {elapsed:.2f} s"
    return result


def rejected(candidate) -> str:
    result = timed(candidate)
    assert not result.passed, "a wrong solution passed"
    return result.hint


# Lines of the solution, as the mistakes below change them.
STATUS = '        col(model.status) == "pending",\n'
DUE = "        or_(col(model.next_attempt_at).is_(None), col(model.next_attempt_at) <= now),\n"
LEASE = "        or_(col(model.lease_until).is_(None), col(model.lease_until) < now),\n"
ATTEMPTS = "        col(model.attempts) < max_attempts,\n"
ORDER = "        .order_by(col(model.id))\n"
LIMIT = "        .limit(limit)\n"
SKIP = "        .with_for_update(skip_locked=True)  # rows another worker is claiming: skip them\n"
HOLDER = "            claimed_by=instance,\n"
LEASE_VALUE = "            lease_until=now + timedelta(seconds=lease_seconds),\n"
ATTEMPT_VALUE = "            attempts=col(model.attempts) + 1,\n"
BEGIN = "    async with engine.begin() as connection:  # commits when the block ends\n"
RETURN = "        return sorted((await connection.execute(claim)).scalars())\n"

TWO_TRANSACTIONS = variant(
    BEGIN + RETURN,
    "    async with engine.begin() as connection:  # pick, locked only for this transaction\n"
    "        ids = list((await connection.execute(picked)).scalars())\n"
    "    async with engine.begin() as connection:  # then claim: the locks are gone\n"
    "        await connection.execute(\n"
    "            update(model)\n"
    "            .where(col(model.id).in_(ids))\n"
    "            .values(\n"
    "                claimed_by=instance,\n"
    "                lease_until=now + timedelta(seconds=lease_seconds),\n"
    "                attempts=col(model.attempts) + 1,\n"
    "            )\n"
    "        )\n"
    "    return ids\n",
)

WRONG = {
    "no lease check: a live claim is stolen": (variant(LEASE, ""), "its lease has not ended"),
    "an ended lease never taken over": (
        variant(LEASE, "        col(model.lease_until).is_(None),\n"),
        "A lease that ended belongs to a worker that died",
    ),
    "no lease set": (variant(LEASE_VALUE, ""), "set no new lease_until"),
    "the lease hard-coded to 30 s": (
        variant(LEASE_VALUE, "            lease_until=now + timedelta(seconds=30),\n"),
        "with lease_seconds=5",
    ),
    "attempts not incremented": (variant(ATTEMPT_VALUE, ""), "left attempts at 0"),
    "claimed_by not set": (variant(HOLDER, ""), "left claimed_by=None"),
    "rows not due taken": (variant(DUE, ""), "is not due yet"),
    "a due retry left": (
        variant(DUE, "        col(model.next_attempt_at).is_(None),\n"),
        "a retry whose time has come is due",
    ),
    "status not checked": (variant(STATUS, ""), "only pending rows are owed work"),
    "newest first": (
        variant(ORDER, "        .order_by(col(model.id).desc())\n"),
        "took the newest rows",
    ),
    "limit ignored": (variant(LIMIT, ""), "rows with limit=4"),
    "max_attempts ignored": (variant(ATTEMPTS, ""), "claimed max_attempts times already"),
    "max_attempts off by one": (
        variant(ATTEMPTS, "        col(model.attempts) + 1 < max_attempts,\n"),
        "it has one attempt left",
    ),
    "max_attempts hard-coded to 3": (
        variant(ATTEMPTS, "        col(model.attempts) < 3,\n"),
        "report 2 (claimed 4 times, max_attempts=5, lease ended): it has one attempt left",
    ),
    "limit hard-coded to 4": (
        variant(LIMIT, "        .limit(4)\n"),
        "changed 3 rows with limit=2",
    ),
    "locked rows waited for": (
        variant(SKIP, "        .with_for_update()\n"),
        "your claim waited for it",
    ),
    "no row locks at all": (variant(SKIP, ""), "your claim waited for it"),
    "choose and claim in two transactions": (TWO_TRANSACTIONS, "went to both"),
    "never committed": (
        variant(BEGIN, "    async with engine.connect() as connection:  # never commits\n"),
        "never committed",
    ),
    "the table hard-coded": (
        variant(
            "    now = utc_now()\n",
            "    now = utc_now()\n"
            "    from workshop_app.models import OutboxEmail\n\n"
            "    model = OutboxEmail  # whatever the caller asked for\n",
        ),
        "changed rows of outbox_emails, not of order_reports",
    ),
    "rows returned, not ids": (
        variant(RETURN, "        return list((await connection.execute(claim)).all())\n"),
        "returned Row values, not ids",
    ),
    "nothing returned": (
        variant(RETURN, "        await connection.execute(claim)\n"),
        "returned None",
    ),
    "written with def": (
        get_exercise(EXERCISE).load(
            "def claim_due(engine, model, *, instance, lease_seconds, limit, max_attempts):\n"
            "    return []\n"
        ),
        "must be written with `async def`",
    ),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_each_mistake_gets_the_hint_that_names_it(mistake):
    candidate, fragment = WRONG[mistake]
    hint = rejected(candidate)
    assert fragment in hint, hint


@pytest.mark.parametrize("mistake", list(WRONG))
def test_no_hint_gives_away_the_code(mistake):
    candidate, _ = WRONG[mistake]
    hint = rejected(candidate)
    for code in ("skip_locked", "SKIP LOCKED", "with_for_update", "FOR UPDATE", "lease_until <"):
        assert code not in hint, hint


def test_the_starter_fails_with_a_hint_not_a_crash():
    exercise = get_exercise(EXERCISE)
    hint = rejected(exercise.load(exercise.starter))
    assert "claimed nothing" in hint and "TODOs 1 to 3" in hint, hint
    assert "raised" not in hint


RAW_SQL = '''\
from datetime import timedelta

from sqlalchemy import text

from workshop_app.models.base import utc_now


async def claim_due(engine, model, *, instance, lease_seconds, limit, max_attempts):
    table = model.__tablename__
    now = utc_now()
    claim = text(f"""
        UPDATE {table} SET claimed_by = :instance, lease_until = :lease_until,
               attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM {table}
            WHERE status = 'pending'
              AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
              AND (lease_until IS NULL OR lease_until < :now)
              AND attempts < :max_attempts
            ORDER BY id LIMIT :limit
            FOR UPDATE SKIP LOCKED)
        RETURNING id
    """)
    values = {
        "instance": instance,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "now": now,
        "max_attempts": max_attempts,
        "limit": limit,
    }
    async with engine.connect() as connection:
        ids = (await connection.execute(claim, values)).scalars().all()
        await connection.commit()
    return ids
'''

LOCK_THEN_UPDATE = '''\
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from workshop_app.models.base import utc_now


async def claim_due(engine, model, *, instance, lease_seconds, limit, max_attempts):
    """Two statements in ONE transaction: the row locks last until the commit."""
    now = utc_now()
    async with engine.begin() as connection:
        picked = await connection.execute(
            select(model.id)
            .where(model.status == "pending")
            .where((model.next_attempt_at == None) | (model.next_attempt_at <= now))  # noqa: E711
            .where((model.lease_until == None) | (model.lease_until < now))  # noqa: E711
            .where(model.attempts < max_attempts)
            .order_by(model.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [row_id for (row_id,) in picked]
        if ids:
            await connection.execute(
                update(model)
                .where(col(model.id).in_(ids))
                .values(
                    claimed_by=instance,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=model.attempts + 1,
                )
            )
    return ids
'''


@pytest.mark.parametrize("source", [RAW_SQL, LOCK_THEN_UPDATE], ids=["raw_sql", "lock_then_update"])
def test_correct_claims_in_other_styles_pass(source):
    result = timed(get_exercise(EXERCISE).load(source))
    assert result.passed, result.hint


def test_a_lease_on_the_database_clock_that_clears_the_backoff_passes():
    """The database's now() instead of the app's clock, and next_attempt_at cleared on claim:
    both are correct choices, not mistakes."""
    source = (
        get_exercise(EXERCISE)
        .solution.replace(
            "from sqlalchemy import and_, or_, update",
            "from sqlalchemy import and_, func, or_, update",
        )
        .replace(
            LEASE_VALUE,
            "            lease_until=func.now() + timedelta(seconds=lease_seconds),\n"
            "            next_attempt_at=None,\n",
        )
    )
    result = timed(get_exercise(EXERCISE).load(source))
    assert result.passed, result.hint


def test_the_solution_passes_in_time():
    exercise = get_exercise(EXERCISE)
    result = timed(exercise.load(exercise.solution))
    assert result.passed, result.hint


def test_each_check_drops_its_database():
    import asyncio

    import asyncpg

    exercise = get_exercise(EXERCISE)
    check(EXERCISE, exercise.load(exercise.solution))

    async def databases() -> list[str]:
        connection = await asyncpg.connect(module._dsn(module._postgres_server()))
        try:
            rows = await connection.fetch("SELECT datname FROM pg_database")
        finally:
            await connection.close()
        return [row["datname"] for row in rows if row["datname"].startswith("exercise13_")]

    assert asyncio.run(databases()) == []
