"""Demo data from ``data/seed/``, loaded idempotently: loading twice adds nothing the second time.

Users are matched on their email; a user's seed orders are loaded only when that user has
no orders yet. The caller owns the transaction (``load_seed_data`` flushes, never commits),
so a failure half-way leaves nothing behind. From a shell::

    python -m workshop_app.seed      # seeds WORKSHOP_DATABASE_URL, creating tables if needed
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, TypeAdapter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import get_settings
from workshop_app.database import create_engine, create_schema
from workshop_app.models import Order, OrderLine, OrderStatus, User
from workshop_app.schemas import OrderLineCreate

SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seed"
# Seeded accounts have no password: "!" can never match a hash, so nobody can log in as them.
NO_PASSWORD = "!"

RowT = TypeVar("RowT", bound=BaseModel)


class SeedUser(BaseModel):
    email: str
    full_name: str
    is_active: bool = True
    created_at: AwareDatetime


class SeedOrder(BaseModel):
    ref: str  # a stable name for the order in the file, e.g. in an error message
    user_email: str
    status: OrderStatus
    created_at: AwareDatetime
    lines: list[OrderLineCreate]


@dataclass(frozen=True)
class SeedReport:
    users_added: int
    users_skipped: int
    orders_added: int
    orders_skipped: int
    lines_added: int


async def load_seed_data(session: AsyncSession, seed_dir: Path = SEED_DIR) -> SeedReport:
    """Add the seed rows that are missing; the caller commits."""
    seed_users = _read(seed_dir / "users.json", SeedUser)
    seed_orders = _read(seed_dir / "orders.json", SeedOrder)

    emails = [seed.email.lower() for seed in seed_users]
    found = await session.exec(select(User).where(col(User.email).in_(emails)))
    users = {user.email: user for user in found}
    new_users = [
        User(
            email=seed.email.lower(),
            full_name=seed.full_name,
            is_active=seed.is_active,
            password_hash=NO_PASSWORD,
            created_at=seed.created_at,
        )
        for seed in seed_users
        if seed.email.lower() not in users
    ]
    session.add_all(new_users)
    await session.flush()  # assigns the new users' ids
    users |= {user.email: user for user in new_users}

    has_orders = set(await session.exec(select(Order.user_id).distinct()))
    to_add: list[tuple[Order, SeedOrder]] = []
    for seed in seed_orders:
        user = users.get(seed.user_email.lower())
        if user is None:
            raise ValueError(f"Seed order {seed.ref} names an unknown user {seed.user_email!r}.")
        if user.id not in has_orders:
            total = sum(line.quantity * line.unit_price_cents for line in seed.lines)
            order = Order(
                user_id=user.id, status=seed.status, total_cents=total, created_at=seed.created_at
            )
            to_add.append((order, seed))
    session.add_all([order for order, _ in to_add])
    await session.flush()  # assigns the new orders' ids
    lines = [
        OrderLine(order_id=order.id, **line.model_dump())
        for order, seed in to_add
        for line in seed.lines
    ]
    session.add_all(lines)
    await session.flush()
    return SeedReport(
        users_added=len(new_users),
        users_skipped=len(seed_users) - len(new_users),
        orders_added=len(to_add),
        orders_skipped=len(seed_orders) - len(to_add),
        lines_added=len(lines),
    )


def _read(path: Path, model: type[RowT]) -> list[RowT]:
    """Parse and validate a whole file; a bad row fails with its index and field."""
    return TypeAdapter(list[model]).validate_json(path.read_bytes())


async def main() -> None:
    engine = create_engine(get_settings())
    try:
        await create_schema(engine)
        async with AsyncSession(engine) as session:
            report = await load_seed_data(session)
            await session.commit()
    finally:
        await engine.dispose()
    print(report)


if __name__ == "__main__":
    asyncio.run(main())
