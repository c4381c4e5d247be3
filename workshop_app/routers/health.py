"""Probes for the orchestrator: liveness says "restart me?", readiness says "send traffic?".

Liveness touches nothing external, so a database outage never gets healthy processes
killed; readiness really queries the database, so traffic stops when it cannot be served.
"""

import logging
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from workshop_app.database import ping
from workshop_app.dependencies import EngineDep
from workshop_app.error_handlers import error_responses
from workshop_app.exceptions import ServiceUnavailableError

logger = logging.getLogger(__name__)

router = APIRouter()


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]


@router.get("/live", summary="Liveness probe")
async def live() -> Liveness:
    """The process is up and answering HTTP; no dependency is checked."""
    return Liveness(status="ok")


@router.get("/ready", summary="Readiness probe", responses=error_responses(503))
async def ready(engine: EngineDep) -> Readiness:
    """The database answers `SELECT 1`; otherwise 503 `NOT_READY`."""
    try:
        await ping(engine)
    except Exception as exc:  # any failure means "not ready"; the cause goes to the log only
        logger.warning("Readiness check failed: %s", type(exc).__name__, exc_info=exc)
        raise ServiceUnavailableError("The database is not reachable.") from exc
    return Readiness(status="ready", database="ok")
