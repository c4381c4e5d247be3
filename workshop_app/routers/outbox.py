"""`GET /users/{user_id}/outbox`: the emails owed to a user, and how their sending ended.

Support reads it to answer "did the welcome email go out?"; a retry job would look for
`failed` rows. There is no mail server to ask: the table is the record.
"""

from fastapi import APIRouter, Depends

from workshop_app.dependencies import OutboxServiceDep, ResourceId, get_caller
from workshop_app.error_handlers import error_responses
from workshop_app.schemas import OutboxEmailRead

router = APIRouter(dependencies=[Depends(get_caller)], responses=error_responses(401, 404))


@router.get("", summary="List the emails queued for a user")
async def list_outbox(user_id: ResourceId, outbox: OutboxServiceDep) -> list[OutboxEmailRead]:
    """Oldest first, each `pending`, `sent` or `failed` (with the error)."""
    return [OutboxEmailRead.model_validate(email) for email in await outbox.list_for_user(user_id)]
