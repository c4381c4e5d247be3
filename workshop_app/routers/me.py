"""`GET /me`: the smallest endpoint that exercises the whole dependency chain.

Declaring `CallerDep` is all it takes: FastAPI resolves settings, reads the
credential headers, and answers 401 before this function runs if they are wrong.
"""

from fastapi import APIRouter

from workshop_app.dependencies import Caller, CallerDep
from workshop_app.error_handlers import error_responses

router = APIRouter()


@router.get("", summary="Who am I?", responses=error_responses(401))
async def read_me(caller: CallerDep) -> Caller:
    """The authenticated caller and how it authenticated; never the credential."""
    return caller
