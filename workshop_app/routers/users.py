"""`/users`: HTTP in, HTTP out; every rule lives in `UserService`.

Each endpoint reads the request, calls one service method and shapes the answer:
status codes, the `Location` of a new user, `UserRead` (which has no
`password_hash`). The router never queries the database and never decides whether
an email is taken; the service raises, the error handlers answer. A new user's welcome
email is queued in the request's transaction and sent after the response (notebook 08);
so are the domain events the service recorded (notebook 09).
"""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from workshop_app.dependencies import (
    EventRelayDep,
    OutboxServiceDep,
    PaginationDep,
    ResourceId,
    UserServiceDep,
    WorkerDep,
    get_caller,
)
from workshop_app.error_handlers import error_responses
from workshop_app.schemas import Page, UserCreate, UserRead, UserUpdate

# Every route here needs an authenticated caller; the value itself is not used.
router = APIRouter(dependencies=[Depends(get_caller)], responses=error_responses(401))


@router.post(
    "",
    status_code=201,
    summary="Create a user",
    responses=error_responses(409),
)
async def create_user(
    body: UserCreate,
    users: UserServiceDep,
    outbox: OutboxServiceDep,
    worker: WorkerDep,
    relay: EventRelayDep,
    background: BackgroundTasks,
    request: Request,
    response: Response,
) -> UserRead:
    """The email must not belong to another user (409 `EMAIL_TAKEN`), whatever its case.
    A welcome email is queued with the user and sent after the response, and so is the
    `user.registered` event."""
    user = await users.create(body)
    email = await outbox.queue_welcome_email(user)
    background.add_task(worker.send_email, email.id)
    background.add_task(relay.dispatch_pending)
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id))
    return UserRead.model_validate(user)


@router.get("", summary="List users")
async def list_users(
    users: UserServiceDep,
    page: PaginationDep,
    email_contains: Annotated[
        str | None, Query(max_length=320, description="Part of the email, any case.")
    ] = None,
    is_active: Annotated[bool | None, Query(description="Only active or inactive users.")] = None,
) -> Page[UserRead]:
    """Users in id order, one page at a time; `total` counts every match."""
    items, total = await users.list(
        limit=page.limit, offset=page.offset, email_contains=email_contains, is_active=is_active
    )
    return Page[UserRead](
        items=[UserRead.model_validate(user) for user in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{user_id}", summary="Get a user", responses=error_responses(404))
async def read_user(user_id: ResourceId, users: UserServiceDep) -> UserRead:
    return UserRead.model_validate(await users.get(user_id))


@router.patch("/{user_id}", summary="Update a user", responses=error_responses(404))
async def update_user(user_id: ResourceId, body: UserUpdate, users: UserServiceDep) -> UserRead:
    """Only the fields sent with a value change; absent or `null` keeps the current one."""
    return UserRead.model_validate(await users.update(user_id, body))


@router.delete(
    "/{user_id}",
    status_code=204,
    response_class=Response,  # no body, so no Content-Type either
    summary="Delete a user and their orders",
    responses=error_responses(404),
)
async def delete_user(user_id: ResourceId, users: UserServiceDep) -> None:
    await users.delete(user_id)
