"""The seed data and its idempotent loader."""

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app import seed
from workshop_app.models import Order, OrderLine, OrderStatus, User
from workshop_app.seed import SEED_DIR, SeedReport, load_seed_data

pytestmark = pytest.mark.anyio

SEED_USERS = json.loads((SEED_DIR / "users.json").read_text(encoding="utf-8"))
SEED_ORDERS = json.loads((SEED_DIR / "orders.json").read_text(encoding="utf-8"))


async def seed_once(engine: AsyncEngine, seed_dir=SEED_DIR) -> SeedReport:
    async with AsyncSession(engine) as session:
        report = await load_seed_data(session, seed_dir)
        await session.commit()
    return report


async def count(engine: AsyncEngine, model) -> int:
    async with AsyncSession(engine) as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


def test_the_seed_files_are_a_few_dozen_consistent_rows():
    emails = [user["email"] for user in SEED_USERS]
    assert 20 <= len(SEED_USERS) <= 60 and 20 <= len(SEED_ORDERS) <= 60
    assert len(set(emails)) == len(emails)
    assert all(email == email.lower() for email in emails)
    assert {order["user_email"] for order in SEED_ORDERS} <= set(emails)
    assert {order["status"] for order in SEED_ORDERS} == {status.value for status in OrderStatus}
    refs = [order["ref"] for order in SEED_ORDERS]
    assert len(set(refs)) == len(refs)


async def test_loading_twice_adds_nothing_the_second_time(engine):
    lines = sum(len(order["lines"]) for order in SEED_ORDERS)

    first = await seed_once(engine)
    second = await seed_once(engine)

    assert first == SeedReport(len(SEED_USERS), 0, len(SEED_ORDERS), 0, lines)
    assert second == SeedReport(0, len(SEED_USERS), 0, len(SEED_ORDERS), 0)
    counts = [await count(engine, model) for model in (User, Order, OrderLine)]
    assert counts == [len(SEED_USERS), len(SEED_ORDERS), lines]


async def test_totals_are_computed_from_the_lines(engine):
    await seed_once(engine)
    first = SEED_ORDERS[0]
    expected = sum(line["quantity"] * line["unit_price_cents"] for line in first["lines"])

    async with AsyncSession(engine) as session:
        user = (await session.exec(select(User).where(User.email == first["user_email"]))).one()
        order = (await session.exec(select(Order).where(Order.user_id == user.id))).first()

    assert order.total_cents == expected
    assert order.status == OrderStatus(first["status"])
    assert user.password_hash == seed.NO_PASSWORD


async def test_existing_users_and_their_orders_are_kept(engine):
    email = SEED_ORDERS[0]["user_email"]
    async with AsyncSession(engine) as session:
        user = User(email=email, full_name="Signed Up Already", password_hash="scrypt$x")
        session.add(user)
        await session.flush()
        session.add(Order(user_id=user.id, total_cents=500))
        await session.commit()
    theirs = sum(order["user_email"] == email for order in SEED_ORDERS)

    report = await seed_once(engine)

    assert (report.users_skipped, report.orders_skipped) == (1, theirs)
    async with AsyncSession(engine) as session:
        kept = (await session.exec(select(User).where(User.email == email))).one()
    assert kept.full_name == "Signed Up Already"


async def test_nothing_is_committed_by_the_loader(engine):
    async with AsyncSession(engine) as session:
        await load_seed_data(session)
        await session.rollback()

    assert await count(engine, User) == 0


async def test_an_order_for_an_unknown_user_is_an_error(engine, tmp_path):
    (tmp_path / "users.json").write_text("[]")
    (tmp_path / "orders.json").write_text(json.dumps(SEED_ORDERS[:1]))

    with pytest.raises(ValueError, match=f"{SEED_ORDERS[0]['ref']} names an unknown user"):
        await seed_once(engine, tmp_path)


async def test_a_malformed_file_fails_before_anything_is_written(engine, tmp_path):
    bad_user = {**SEED_USERS[0], "created_at": "2026-01-05T18:16:00"}  # no timezone
    (tmp_path / "users.json").write_text(json.dumps([bad_user]))
    (tmp_path / "orders.json").write_text("[]")

    with pytest.raises(ValidationError, match="timezone"):
        await seed_once(engine, tmp_path)
    assert await count(engine, User) == 0


async def test_the_command_seeds_the_configured_database(clean_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/app.db")

    await seed.main()
    await seed.main()

    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"SeedReport(users_added={len(SEED_USERS)},")
    assert printed[1].startswith("SeedReport(users_added=0,")
