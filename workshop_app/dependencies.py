"""Request-scoped dependencies: settings -> database session -> current caller.

Endpoints declare what they need with the `Annotated` aliases at the bottom of each
section (`SettingsDep`, `SessionDep`, `CallerDep`, `PaginationDep`); FastAPI builds the
chain, caches each result for the rest of the request, and tests swap any link with
`app.dependency_overrides`. No `from __future__ import annotations` here: FastAPI reads
these annotations at runtime.
"""

import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings
from workshop_app.errors import UnauthorizedError

# --- settings ---------------------------------------------------------------


def get_settings_dep(request: Request) -> Settings:
    """The Settings this app was built with, so a test app's settings win over the env."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


# --- database session -------------------------------------------------------


def get_engine(request: Request) -> AsyncEngine:
    """The engine the lifespan created: one pool per process, shared by all requests."""
    engine = getattr(request.state, "engine", None)
    if engine is None:
        raise RuntimeError("No engine in lifespan state: run the app with its lifespan.")
    return engine


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


async def get_session(engine: EngineDep) -> AsyncIterator[AsyncSession]:
    """One session per request: commit if the endpoint succeeded, roll back if it raised.

    `expire_on_commit=False` keeps returned objects readable after the commit (async
    sessions cannot lazy-load expired attributes).
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        await session.commit()


# scope="function": the commit runs before the response is sent, so a failed commit
# becomes an error response instead of a 200 for data that was never saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# --- current caller ---------------------------------------------------------

# auto_error=False: a missing credential returns None, so we answer with our own
# 401 envelope; the scheme objects still document both options in OpenAPI.
api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="ApiKeyHeader", auto_error=False)
bearer_scheme = HTTPBearer(scheme_name="BearerToken", auto_error=False)
# RFC 9110: a 401 names the schemes the client may use.
_CHALLENGE = {"WWW-Authenticate": "APIKey, Bearer"}


class Caller(BaseModel):
    """Who is calling. Carries how they authenticated, never the credential itself."""

    model_config = ConfigDict(frozen=True)

    name: str
    auth_scheme: Literal["api_key", "bearer"]


def get_caller(
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """Accept the shared API key from `X-API-Key` (checked first) or a Bearer token."""
    if api_key is not None:
        presented, auth_scheme = api_key, "api_key"
    elif bearer is not None:
        presented, auth_scheme = bearer.credentials, "bearer"
    else:
        raise UnauthorizedError(
            "Missing credentials: send X-API-Key or Authorization: Bearer.", headers=_CHALLENGE
        )
    expected = settings.api_key.get_secret_value()
    # Bytes, not str: compare_digest rejects non-ASCII str, and a header can carry any byte.
    if not secrets.compare_digest(presented.encode(), expected.encode()):
        raise UnauthorizedError("Invalid credentials.", headers=_CHALLENGE)
    return Caller(name="api-client", auth_scheme=auth_scheme)


CallerDep = Annotated[Caller, Depends(get_caller)]


# --- pagination -------------------------------------------------------------


class Pagination:
    """Class dependency: FastAPI calls the class, so `__init__`'s parameters are the query."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=100, description="Items per page.")] = 20,
        offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset

    def __repr__(self) -> str:
        return f"Pagination(limit={self.limit}, offset={self.offset})"


# Depends() with no argument: the annotated class itself is the dependency.
PaginationDep = Annotated[Pagination, Depends()]
