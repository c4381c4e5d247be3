"""The ``orders`` and ``order_lines`` tables, and the states an order moves through.

Money is integer cents: ``0.1 + 0.2 != 0.3`` in floating point, and cents add up
exactly. The CHECK constraints make the database itself refuse negative amounts and
empty quantities, whatever code (or person with a SQL prompt) writes the row.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workshop_app.models.base import ID_TYPE, UTCDateTime, status_type, utc_now


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (sa.CheckConstraint("total_cents >= 0", name="ck_orders_total_cents"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True, sa_type=ID_TYPE)
    status: OrderStatus = Field(
        default=OrderStatus.PENDING, sa_type=status_type(OrderStatus, "ck_orders_status")
    )
    total_cents: int
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
        sa.CheckConstraint("unit_price_cents >= 0", name="ck_order_lines_unit_price_cents"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    order_id: int = Field(foreign_key="orders.id", ondelete="CASCADE", index=True, sa_type=ID_TYPE)
    sku: str = Field(max_length=64)
    quantity: int
    unit_price_cents: int
