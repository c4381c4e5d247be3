"""What the API accepts and returns for orders. Amounts are integer cents.

A client sends lines; the total is computed by the server, never accepted from the client.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from workshop_app.models.order import OrderStatus
from workshop_app.schemas.common import WholeNumber

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class OrderLineCreate(BaseModel):
    sku: Sku
    quantity: WholeNumber = Field(gt=0, le=10_000)
    unit_price_cents: WholeNumber = Field(ge=0)


class OrderCreate(BaseModel):
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=50)


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    quantity: int
    unit_price_cents: int


class OrderRead(BaseModel):
    """An order with its lines; the ``orders`` row has no ``lines``, so build it from both."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: OrderStatus
    total_cents: int
    lines: list[OrderLineRead]
    created_at: datetime
