"""Orders: they belong to an existing user, the server computes the total, and the status
only moves along the allowed transitions.

``TRANSITIONS`` is the whole state machine in one table::

    pending -> paid -> shipped
    pending -> cancelled,  paid -> cancelled

Anything else (paying a cancelled order, shipping a pending one) is refused with 409
``ILLEGAL_TRANSITION``. Extra rules for new orders are ``OrderRule`` functions, so a rule
is one small function, tested on its own and listed in ``DEFAULT_RULES``. Placing and
cancelling record ``OrderPlaced`` and ``OrderCancelled`` in the same transaction
(notebook 09).
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.events import OrderCancelled, OrderPlaced
from workshop_app.exceptions import ConflictError, NotFoundError, ValidationFailed
from workshop_app.models import Order, OrderLine, OrderStatus, User
from workshop_app.schemas import OrderCreate, OrderLineCreate
from workshop_app.services.event_store import record_event

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# 100,000.00 in cents. Also keeps totals far below what a 64-bit column can hold.
MAX_ORDER_TOTAL_CENTS = 10_000_000


class IllegalTransitionError(ConflictError):
    code = "ILLEGAL_TRANSITION"
    default_message = "The order cannot move to that status from its current one."


class OrderTooLargeError(ValidationFailed):
    code = "ORDER_TOO_LARGE"
    default_message = "The order total is above the limit."


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """A new order as the rules see it, before anything is written."""

    user_id: int
    lines: Sequence[OrderLineCreate]
    total_cents: int


@dataclass(frozen=True, slots=True)
class OrderDetails:
    """An order and its lines, loaded together: an async session cannot lazy-load them later."""

    order: Order
    lines: Sequence[OrderLine]


# A rule looks at a draft (and may query the session); it raises an AppError to refuse it.
OrderRule = Callable[[AsyncSession, OrderDraft], Awaitable[None]]


async def total_within_limit(session: AsyncSession, draft: OrderDraft) -> None:
    if draft.total_cents > MAX_ORDER_TOTAL_CENTS:
        raise OrderTooLargeError(
            f"The order total is {draft.total_cents} cents; "
            f"the limit is {MAX_ORDER_TOTAL_CENTS} cents."
        )


DEFAULT_RULES: tuple[OrderRule, ...] = (total_within_limit,)


class OrderService:
    def __init__(
        self, session: AsyncSession, *, rules: Iterable[OrderRule] = DEFAULT_RULES
    ) -> None:
        self.session = session
        self.rules = tuple(rules)

    async def create(self, user_id: int, data: OrderCreate) -> OrderDetails:
        """Place a pending order for an existing user; the total comes from the lines."""
        await self._require_user(user_id)
        total = sum(line.quantity * line.unit_price_cents for line in data.lines)
        draft = OrderDraft(user_id=user_id, lines=data.lines, total_cents=total)
        for rule in self.rules:
            await rule(self.session, draft)
        order = Order(user_id=user_id, total_cents=total)
        self.session.add(order)
        await self.session.flush()  # assigns order.id, which the lines need
        lines = [OrderLine(order_id=order.id, **line.model_dump()) for line in data.lines]
        self.session.add_all(lines)
        await self.session.flush()
        placed = OrderPlaced(order_id=order.id, user_id=user_id, total_cents=total)
        await record_event(self.session, placed)
        return OrderDetails(order, lines)

    async def get(self, order_id: int) -> OrderDetails:
        order = await self._get_order(order_id)
        return (await self._with_lines([order]))[0]

    async def list_for_user(
        self, user_id: int, *, limit: int, offset: int, status: OrderStatus | None = None
    ) -> tuple[list[OrderDetails], int]:
        """One page of a user's orders, newest id first, and how many match in all."""
        await self._require_user(user_id)
        conditions = [col(Order.user_id) == user_id]
        if status is not None:
            conditions.append(col(Order.status) == status)
        count = select(func.count()).select_from(Order).where(*conditions)
        total = (await self.session.exec(count)).one()
        query = select(Order).where(*conditions).order_by(col(Order.id).desc())
        orders = (await self.session.exec(query.limit(limit).offset(offset))).all()
        return await self._with_lines(orders), total

    async def pay(self, order_id: int) -> OrderDetails:
        return await self._move(order_id, OrderStatus.PAID)

    async def ship(self, order_id: int) -> OrderDetails:
        return await self._move(order_id, OrderStatus.SHIPPED)

    async def cancel(self, order_id: int) -> OrderDetails:
        details = await self._move(order_id, OrderStatus.CANCELLED)
        cancelled = OrderCancelled(order_id=order_id, user_id=details.order.user_id)
        await record_event(self.session, cancelled)
        return details

    async def _move(self, order_id: int, target: OrderStatus) -> OrderDetails:
        order = await self._get_order(order_id)
        if target not in TRANSITIONS[order.status]:
            raise IllegalTransitionError(
                f"Order {order_id} is {order.status.value}; it cannot become {target.value}."
            )
        order.status = target
        self.session.add(order)
        await self.session.flush()
        return (await self._with_lines([order]))[0]

    async def _require_user(self, user_id: int) -> None:
        if await self.session.get(User, user_id) is None:
            raise NotFoundError(f"User {user_id} does not exist.")

    async def _get_order(self, order_id: int) -> Order:
        order = await self.session.get(Order, order_id)
        if order is None:
            raise NotFoundError(f"Order {order_id} does not exist.")
        return order

    async def _with_lines(self, orders: Sequence[Order]) -> list[OrderDetails]:
        """Attach the lines of all the orders with ONE query, not one query per order."""
        ids = [order.id for order in orders]
        query = (
            select(OrderLine).where(col(OrderLine.order_id).in_(ids)).order_by(col(OrderLine.id))
        )
        by_order: dict[int, list[OrderLine]] = {order_id: [] for order_id in ids}
        for line in await self.session.exec(query):
            by_order[line.order_id].append(line)
        return [OrderDetails(order, by_order[order.id]) for order in orders]
