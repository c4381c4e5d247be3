"""The tables and the constraints the database itself enforces."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.schema import CreateTable
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.models import Order, OrderLine, OrderStatus, User

pytestmark = pytest.mark.anyio


def a_user(email: str = "ada@example.com") -> User:
    return User(email=email, full_name="Ada Lovelace", password_hash="scrypt$test")


async def saved_user(session: AsyncSession, email: str = "ada@example.com") -> User:
    user = a_user(email)
    session.add(user)
    await session.commit()
    return user


async def saved_order(session: AsyncSession, user: User, total_cents: int = 1000) -> Order:
    order = Order(user_id=user.id, total_cents=total_cents)
    session.add(order)
    await session.commit()
    return order


def test_the_package_registers_every_table_with_a_plural_name():
    assert sorted(SQLModel.metadata.tables) == [
        "audit_entries",
        "order_lines",
        "order_reports",
        "orders",
        "outbox_emails",
        "stored_events",
        "users",
    ]


def test_order_status_values():
    assert [status.value for status in OrderStatus] == ["pending", "paid", "shipped", "cancelled"]
    assert OrderStatus("paid") is OrderStatus.PAID


async def test_defaults_fill_id_status_and_an_aware_created_at(session):
    user = await saved_user(session)
    order = await saved_order(session, user)

    assert (user.id, user.is_active, order.id, order.status) == (1, True, 1, OrderStatus.PENDING)
    assert user.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - user.created_at) < timedelta(minutes=1)


async def test_created_at_comes_back_aware_and_in_utc(engine, session):
    paris = timezone(timedelta(hours=1))
    user = a_user()
    user.created_at = datetime(2026, 3, 1, 13, 30, tzinfo=paris)
    session.add(user)
    await session.commit()

    async with AsyncSession(engine) as fresh:
        loaded = (await fresh.exec(select(User))).one()
    assert loaded.created_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


async def test_a_naive_datetime_is_refused(session):
    user = a_user()
    user.created_at = datetime(2026, 3, 1, 12, 30)
    session.add(user)
    with pytest.raises(StatementError, match="naive datetime"):
        await session.commit()


async def test_status_is_stored_as_its_value(engine, session):
    user = await saved_user(session)
    order = Order(user_id=user.id, total_cents=0, status=OrderStatus.SHIPPED)
    session.add(order)
    await session.commit()

    async with engine.connect() as connection:
        stored = await connection.scalar(sa.text("SELECT status FROM orders"))
    assert stored == "shipped"


async def test_foreign_keys_are_on_for_every_connection(engine):
    async with engine.connect() as connection:
        assert await connection.scalar(sa.text("PRAGMA foreign_keys")) == 1


async def test_the_database_refuses_a_second_user_with_the_same_email(session):
    await saved_user(session)
    session.add(a_user())
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: users.email"):
        await session.commit()


async def test_the_database_refuses_an_order_for_a_missing_user(session):
    session.add(Order(user_id=42, total_cents=100))
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        await session.commit()


async def test_the_database_refuses_a_negative_total(session):
    user = await saved_user(session)
    session.add(Order(user_id=user.id, total_cents=-1))
    with pytest.raises(IntegrityError, match="ck_orders_total_cents"):
        await session.commit()


async def test_the_database_refuses_an_unknown_status(engine, session):
    user = await saved_user(session)
    insert = sa.text(
        "INSERT INTO orders (user_id, status, total_cents, created_at)"
        " VALUES (:u, 'lost', 0, '2026-01-01 00:00:00')"
    )
    with pytest.raises(IntegrityError, match="ck_orders_status"):
        async with engine.begin() as connection:
            await connection.execute(insert, {"u": user.id})


@pytest.mark.parametrize(
    ("quantity", "unit_price_cents", "constraint"),
    [(0, 100, "ck_order_lines_quantity"), (1, -5, "ck_order_lines_unit_price_cents")],
)
async def test_the_database_refuses_bad_order_lines(
    session, quantity, unit_price_cents, constraint
):
    order = await saved_order(session, await saved_user(session))
    line = OrderLine(
        order_id=order.id, sku="BK-001", quantity=quantity, unit_price_cents=unit_price_cents
    )
    session.add(line)
    with pytest.raises(IntegrityError, match=constraint):
        await session.commit()


async def test_deleting_a_user_deletes_their_orders_and_lines(engine, session):
    user = await saved_user(session)
    order = await saved_order(session, user)
    session.add(OrderLine(order_id=order.id, sku="BK-001", quantity=2, unit_price_cents=500))
    await session.commit()

    async with engine.begin() as connection:
        await connection.execute(sa.text("DELETE FROM users"))
        counts = [
            await connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("orders", "order_lines")
        ]
    assert counts == [0, 0]


def test_the_tables_compile_for_postgresql():
    """No SQLite-only SQL: the same models must create PostgreSQL tables by configuration alone."""
    ddl = "\n".join(
        str(CreateTable(table).compile(dialect=postgresql.dialect()))
        for table in SQLModel.metadata.sorted_tables
    )
    assert "TIMESTAMP WITH TIME ZONE" in ddl
    assert "REFERENCES users (id) ON DELETE CASCADE" in ddl
    assert "CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled'))" in ddl
    assert "CHECK (total_cents >= 0)" in ddl
