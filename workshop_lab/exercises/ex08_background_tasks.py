"""Exercise of notebook 08 (background tasks): schedule work after the response, prove it ran.

The learner's router answers ``POST /audit/{event}`` with 202 and schedules
``record(event)`` as a background task. The check mounts it on a fresh FastAPI app,
wraps the app in a tiny ASGI layer that writes ``"<response sent>"`` into the same
``audit_log`` list when the last body chunk leaves, and reads the order of the entries:
the task must have run, once, and after the response.
"""

from __future__ import annotations

from typing import Any

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "08_background_tasks"
SENT = "<response sent>"
EVENT = "signup"

STARTER = '''\
from fastapi import APIRouter, BackgroundTasks

router = APIRouter()
audit_log: list[str] = []


async def record(event: str) -> None:
    """The work to do after the response: here, append to an audit log."""
    audit_log.append(event)


@router.post("/audit/{event}", status_code=202)
async def audit(event: str, background: BackgroundTasks) -> dict[str, str]:
    # TODO: schedule record(event) to run after the response.
    return {"scheduled": event}
'''

SOLUTION = '''\
from fastapi import APIRouter, BackgroundTasks

router = APIRouter()
audit_log: list[str] = []


async def record(event: str) -> None:
    """The work to do after the response: here, append to an audit log."""
    audit_log.append(event)


@router.post("/audit/{event}", status_code=202)
async def audit(event: str, background: BackgroundTasks) -> dict[str, str]:
    background.add_task(record, event)  # the function and its arguments, not record(event)
    return {"scheduled": event}
'''


def _audit_log(router: Any) -> list[str]:
    """The ``audit_log`` list of the module that defined the endpoint."""
    for route in getattr(router, "routes", []):
        if getattr(route, "path", None) == "/audit/{event}" and "POST" in route.methods:
            log = route.endpoint.__globals__.get("audit_log")
            if not isinstance(log, list):
                raise ExerciseFailed("Keep the module-level list audit_log: the check reads it.")
            return log
    raise ExerciseFailed(
        "Pass the router that has POST /audit/{event}: lab.check('08.background_task', router)."
    )


def _marking_response_end(app: Any, log: list[str], crashes: list[BaseException]) -> Any:
    """``app``, writing SENT into ``log`` once the last body chunk has been sent, and
    keeping what a task raised after that (no 500 can reach the client any more)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def marking_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                log.append(SENT)

        try:
            await app(scope, receive, marking_send if scope["type"] == "http" else send)
        except Exception as exc:
            crashes.append(exc)
            raise

    return wrapped


async def verify_background_task(candidate: Any) -> None:
    from fastapi import APIRouter, FastAPI

    if not isinstance(candidate, APIRouter):
        raise ExerciseFailed(
            f"Expected the APIRouter `router`, got {type(candidate).__name__}: "
            "lab.check('08.background_task', router)."
        )
    log = _audit_log(candidate)
    log.clear()
    app = FastAPI()
    app.include_router(candidate)
    crashes: list[BaseException] = []
    async with app_client(_marking_response_end(app, log, crashes)) as client:
        response = await client.post(f"/audit/{EVENT}")
    if response.status_code == 500 or crashes:
        raise ExerciseFailed(
            "The request crashed. add_task takes the function and its arguments "
            "separately: background.add_task(record, event), not add_task(record(event))."
        )
    if response.status_code != 202:
        raise ExerciseFailed(
            f"POST /audit/{EVENT} answered {response.status_code}; keep status_code=202: "
            "the work is accepted, not done."
        )
    if EVENT not in log:
        raise ExerciseFailed(
            "record() never ran: nothing reached audit_log. Add it with "
            "background.add_task(record, event); BackgroundTasks runs it after the response."
        )
    if log.count(EVENT) > 1:
        raise ExerciseFailed(
            f"record() ran {log.count(EVENT)} times for one request; once is enough."
        )
    if log.index(EVENT) < log.index(SENT):
        raise ExerciseFailed(
            "record() ran before the response was sent: you called it in the endpoint. "
            "Schedule it instead: background.add_task(record, event)."
        )


EXERCISES = (
    Exercise(
        id="08.background_task",
        notebook_id=NOTEBOOK_ID,
        title="A background task that really runs after the response",
        instructions=(
            "Complete the endpoint: it answers 202 and schedules record(event) with "
            "BackgroundTasks. The check sends POST /audit/signup and reads audit_log: the "
            "event must be there once, written after the response was sent."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="router",
        verify=verify_background_task,
        success="record('signup') ran once, after the 202 had been sent.",
    ),
)
