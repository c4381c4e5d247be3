"""Request-scoped dependencies: settings -> engine -> session -> services, and the caller.

Endpoints declare what they need with the `Annotated` aliases defined here (`SessionDep`,
`CallerDep`, ...): one definition, the same options everywhere. FastAPI solves the chain on
every request, running each link once per request however often it is asked for; tests
swap any link with `app.dependency_overrides`. No `from __future__ import annotations`
here: FastAPI reads these annotations at runtime.

Every dependency here is `async def` although none awaits anything: FastAPI runs a plain
`def` dependency in a worker thread, which costs more than the work itself (measured in
benchmarks/). Use `def` only for a dependency that blocks.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.config import Settings
from workshop_app.event_handlers import AppEvents
from workshop_app.event_relay import EventRelay
from workshop_app.mail import Mailer
from workshop_app.security import Caller, api_key_header, authenticate, bearer_scheme
from workshop_app.services import OrderService, OutboxService, ReportService, UserService
from workshop_app.worker import BackgroundWorker


async def get_settings_dep(request: Request) -> Settings:
    """The Settings this app was built with, so a test app's settings win over the env."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def from_lifespan_state(request: Request, key: str) -> Any:
    """What the lifespan yielded under ``key``; a clear error when the lifespan never ran."""
    value = getattr(request.state, key, None)
    if value is None:
        raise RuntimeError(f"No {key} in lifespan state: run the app with its lifespan.")
    return value


async def get_engine(request: Request) -> AsyncEngine:
    """The engine the lifespan created: one pool per app, shared by all its requests."""
    return from_lifespan_state(request, "engine")


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


async def get_session(engine: EngineDep) -> AsyncIterator[AsyncSession]:
    """One session per request: commit if the endpoint succeeded, else roll back.

    A failed commit is rolled back too: SQLite can keep the transaction open after a
    failed COMMIT, and the pool would hand that half-done work to the next request.
    `expire_on_commit=False` keeps returned objects readable after the commit.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit
# becomes an error response instead of a 200 for data that was never saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_user_service(session: SessionDep) -> UserService:
    """The user rules, on this request's session: what they write commits with the request."""
    return UserService(session)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


async def get_order_service(session: SessionDep) -> OrderService:
    """The order rules, on this request's session; tests override this to change the rules."""
    return OrderService(session)


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]


async def get_outbox_service(session: SessionDep) -> OutboxService:
    """The outbox on this request's session: a queued email commits with the request."""
    return OutboxService(session)


OutboxServiceDep = Annotated[OutboxService, Depends(get_outbox_service)]


async def get_report_service(session: SessionDep) -> ReportService:
    return ReportService(session)


ReportServiceDep = Annotated[ReportService, Depends(get_report_service)]


async def get_mailer(request: Request) -> Mailer:
    """`app.state.mailer`: the factory's in-memory mailbox, or what replaced it (a
    provider's client, a test's fake); the event handlers send through the same one."""
    return request.app.state.mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]


async def get_worker(request: Request) -> BackgroundWorker:
    """The worker the lifespan started: `background.add_task(worker.send_email, email.id)`
    sends right after the response, and its loop retries whatever that did not finish."""
    return from_lifespan_state(request, "worker")


WorkerDep = Annotated[BackgroundWorker, Depends(get_worker)]


async def get_app_events(request: Request) -> AppEvents:
    """The bus, relay and statistics the lifespan built for this app."""
    return from_lifespan_state(request, "events")


AppEventsDep = Annotated[AppEvents, Depends(get_app_events)]


async def get_event_relay(events: AppEventsDep) -> EventRelay:
    """The relay, for routers that record events: `background.add_task(relay.dispatch_pending)`
    sends them right after the response."""
    return events.relay


EventRelayDep = Annotated[EventRelay, Depends(get_event_relay)]


async def get_caller(
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The authenticated caller, or a 401 envelope before the endpoint runs."""
    token = bearer.credentials if bearer is not None else None
    return authenticate(settings.api_key, api_key=api_key, bearer_token=token)


CallerDep = Annotated[Caller, Depends(get_caller)]


# The largest integer SQLite and PostgreSQL's BIGINT hold: a larger id or offset in a URL is
# the client's mistake (422), not an OverflowError in the database driver (500).
MAX_DB_INT = 2**63 - 1

# A resource id in a path, e.g. `user_id: ResourceId`.
ResourceId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The resource's id.")]


class Pagination:
    """Class dependency: FastAPI calls the class, so `__init__`'s parameters are the query."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=100, description="Items per page.")] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset

    def __repr__(self) -> str:
        return f"Pagination(limit={self.limit}, offset={self.offset})"


# Depends() with no argument: the annotated class itself is the dependency.
PaginationDep = Annotated[Pagination, Depends()]
