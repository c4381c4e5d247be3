"""Orders over HTTP: placed and listed under their user, read and moved by their own id.

Two routers, because the URLs have two roots: `/users/{user_id}/orders` (an order
belongs to a user) and `/orders/{order_id}`. `routers/__init__.py` mounts both. The
transitions are actions (`POST /orders/{id}/pay`), not a writable `status` field:
each action is one rule of the state machine in `OrderService`, refused with 409
`ILLEGAL_TRANSITION` when the order is in the wrong state. Placing and cancelling an order
record a domain event; the relay dispatches it right after the response (notebook 09).
"""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from workshop_app.dependencies import (
    EventRelayDep,
    OrderServiceDep,
    PaginationDep,
    ResourceId,
    get_caller,
)
from workshop_app.error_handlers import error_responses
from workshop_app.models import OrderStatus
from workshop_app.schemas import OrderCreate, OrderLineRead, OrderRead, Page
from workshop_app.services import OrderDetails

user_orders_router = APIRouter(
    dependencies=[Depends(get_caller)], responses=error_responses(401, 404)
)
router = APIRouter(dependencies=[Depends(get_caller)], responses=error_responses(401, 404))


def to_read(details: OrderDetails) -> OrderRead:
    """The API shape of an order: the row's fields plus its lines."""
    order = details.order
    return OrderRead(
        id=order.id,
        user_id=order.user_id,
        status=order.status,
        total_cents=order.total_cents,
        lines=[OrderLineRead.model_validate(line) for line in details.lines],
        created_at=order.created_at,
    )


@user_orders_router.post(
    "",
    status_code=201,
    summary="Place an order for a user",
)
async def create_order(
    user_id: ResourceId,
    body: OrderCreate,
    orders: OrderServiceDep,
    relay: EventRelayDep,
    background: BackgroundTasks,
    request: Request,
    response: Response,
) -> OrderRead:
    """The total is computed from the lines; the order starts `pending`."""
    details = await orders.create(user_id, body)
    background.add_task(relay.dispatch_pending)  # order.placed, once the commit is done
    response.headers["Location"] = str(request.url_for("read_order", order_id=details.order.id))
    return to_read(details)


@user_orders_router.get("", summary="List a user's orders")
async def list_user_orders(
    user_id: ResourceId,
    orders: OrderServiceDep,
    page: PaginationDep,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status.")] = None,
) -> Page[OrderRead]:
    """Newest first; 404 if the user does not exist (an empty page would hide a typo)."""
    items, total = await orders.list_for_user(
        user_id, limit=page.limit, offset=page.offset, status=status
    )
    return Page[OrderRead](
        items=[to_read(details) for details in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{order_id}", summary="Get an order")
async def read_order(order_id: ResourceId, orders: OrderServiceDep) -> OrderRead:
    return to_read(await orders.get(order_id))


@router.post("/{order_id}/pay", summary="Pay a pending order", responses=error_responses(409))
async def pay_order(order_id: ResourceId, orders: OrderServiceDep) -> OrderRead:
    """`pending` -> `paid`."""
    return to_read(await orders.pay(order_id))


@router.post("/{order_id}/ship", summary="Ship a paid order", responses=error_responses(409))
async def ship_order(order_id: ResourceId, orders: OrderServiceDep) -> OrderRead:
    """`paid` -> `shipped`."""
    return to_read(await orders.ship(order_id))


@router.post(
    "/{order_id}/cancel",
    summary="Cancel an order that has not shipped",
    responses=error_responses(409),
)
async def cancel_order(
    order_id: ResourceId, orders: OrderServiceDep, relay: EventRelayDep, background: BackgroundTasks
) -> OrderRead:
    """`pending` or `paid` -> `cancelled`; a shipped order cannot be cancelled."""
    details = await orders.cancel(order_id)
    background.add_task(relay.dispatch_pending)  # order.cancelled, once the commit is done
    return to_read(details)
