"""`/events`: the stored events and how their dispatch stands, and the statistics.

Support reads `GET /events?status=failed` to find the events whose handlers gave up (the
`error` says which handler and why); `GET /events/stats` shows what the statistics
subscriber counted since this app started.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from workshop_app.dependencies import AppEventsDep, PaginationDep, SessionDep, get_caller
from workshop_app.error_handlers import error_responses
from workshop_app.models import EventStatus
from workshop_app.schemas import EventStats, Page, StoredEventRead
from workshop_app.services import list_events

router = APIRouter(dependencies=[Depends(get_caller)], responses=error_responses(401))


@router.get("", summary="List stored events")
async def list_stored_events(
    session: SessionDep,
    page: PaginationDep,
    status: Annotated[EventStatus | None, Query(description="Only events in this status.")] = None,
) -> Page[StoredEventRead]:
    """In the order they were recorded; `failed_handlers` are the handlers still owed."""
    items, total = await list_events(session, limit=page.limit, offset=page.offset, status=status)
    return Page[StoredEventRead](
        items=[StoredEventRead.model_validate(row) for row in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/stats", summary="Count the events handled since the app started")
async def event_stats(events: AppEventsDep) -> EventStats:
    return EventStats(handled=events.statistics.snapshot())
