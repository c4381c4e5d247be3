"""The relay: moves committed events from ``stored_events`` to the bus's handlers.

Every row is **claimed** before its handlers run (``services/event_store.py`` holds the
SQL): of two relays that see the same row, only one gets it, so no event is delivered
twice by two dispatchers running at once. Then one of three outcomes is written:
``dispatched``; ``pending`` again with the handlers that failed, not to be retried
before ``next_attempt_at`` (``interval`` seconds, doubling with each attempt), and then
only those handlers; or ``failed`` once ``max_attempts`` is spent.

``dispatch_pending`` runs after each response that recorded events (a background task)
and in a loop every ``interval`` seconds, the safety net for anything left pending.
A crash between claim and outcome leaves a row ``dispatching``: ``start`` puts such rows
back to ``pending``. That assumes ONE relay per database; several instances would need
a lease (reclaim only claims older than, say, a minute).
"""

import asyncio
import json
import logging
from contextlib import suppress
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.event_bus import EventBus, describe_error
from workshop_app.events import load_event
from workshop_app.models import EventStatus
from workshop_app.models.base import utc_now
from workshop_app.services.event_store import (
    claim_event,
    count_unfinished,
    pending_event_ids,
    release_stale_claims,
    settle_event,
)

logger = logging.getLogger(__name__)


class EventRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        *,
        interval: float = 1.0,
        max_attempts: int = 3,
        batch_size: int = 100,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.interval = interval
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._started_at: datetime | None = None
        # One pass at a time in this process: a request's task that finds the loop mid-pass
        # waits for it, so when the task returns, every event committed before it was tried.
        self._one_pass = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop: release claims left by a crash, then dispatch what is pending
        every ``interval`` seconds (the first pass one interval after the start)."""
        if self.running:
            raise RuntimeError("The event relay is already running.")
        self._started_at = utc_now()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="event-relay")

    async def stop(self, timeout: float) -> int:
        """Stop the loop, then dispatch what is still pending, within ``timeout`` seconds
        in all. Returns how many events are left unfinished (0 if the database cannot
        tell, which is logged): they stay in the table, and the next start dispatches
        them. Nothing is lost, and shutdown never fails here."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._task is not None:
            self._stopping.set()
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        with suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await self.dispatch_pending()
        try:
            left = await count_unfinished(self.engine)
        except Exception as exc:  # shutdown goes on: the rows, whatever they say, stay put
            _log_error("Could not count the events left at shutdown", exc)
            return 0
        if left:
            logger.warning(
                "%d event(s) left pending at shutdown; the next start dispatches them",
                left,
                extra={"fields": {"events_left": left}},
            )
        return left

    async def dispatch_pending(self) -> int:
        """Claim and dispatch every event pending now, oldest first; return how many were
        dispatched. Never raises (it runs as a background task): a database error is
        logged and the rows stay pending for the next run."""
        dispatched, last_id = 0, 0
        async with self._one_pass:
            try:
                while ids := await self._pending_ids(after=last_id):
                    for event_id in ids:
                        last_id = event_id
                        claimed = await claim_event(self.engine, event_id)
                        if claimed is not None and await self._deliver(claimed):
                            dispatched += 1
            except Exception as exc:
                _log_error("Dispatching events failed; they stay pending for the next run", exc)
        return dispatched

    async def _run(self) -> None:
        try:
            await self._release_stale_claims()
        except Exception as exc:
            _log_error("Releasing stale event claims failed", exc)
        # Wait first: right after startup, requests dispatch their own events; the loop
        # only picks up what is left (a crash, a retry), one interval later.
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return  # stop() drains what is left
            await self.dispatch_pending()

    async def _release_stale_claims(self) -> None:
        """Rows claimed before this relay started were being dispatched when the process
        died: their handlers may or may not have run, so they run again (at-least-once)."""
        released = await release_stale_claims(self.engine, claimed_before=self._started_at)
        if released:
            logger.warning("Released %d event(s) left dispatching by a crash", released)

    async def _pending_ids(self, *, after: int) -> list[int]:
        return await pending_event_ids(self.engine, after=after, limit=self.batch_size)

    async def _deliver(self, claimed: Row) -> bool:
        """Run the handlers still owed and record the outcome; True if all succeeded."""
        try:
            event = load_event(claimed.name, claimed.payload)
        except (LookupError, ValidationError) as exc:
            # Retrying cannot fix an unreadable row: fail it now, for a person to look at.
            await settle_event(
                self.engine, claimed.id, EventStatus.FAILED, error=describe_error(exc)
            )
            return False
        owed = json.loads(claimed.failed_handlers) if claimed.failed_handlers else None
        failures = await self.bus.publish(event, only=owed)
        if not failures:
            await settle_event(
                self.engine, claimed.id, EventStatus.DISPATCHED, dispatched_at=utc_now()
            )
            return True
        gave_up = claimed.attempts >= self.max_attempts
        backoff = timedelta(seconds=self.interval * 2 ** (claimed.attempts - 1))
        await settle_event(
            self.engine,
            claimed.id,
            EventStatus.FAILED if gave_up else EventStatus.PENDING,
            failed_handlers=json.dumps(sorted(failures)),
            error="; ".join(f"{name}: {error}" for name, error in sorted(failures.items())),
            next_attempt_at=None if gave_up else utc_now() + backoff,
        )
        if gave_up:
            logger.error(
                "Event %s %s failed %d times; left 'failed' for a person",
                claimed.id,
                claimed.name,
                claimed.attempts,
                extra={"fields": {"stored_event_id": claimed.id, "handlers": sorted(failures)}},
            )
        return False


def _log_error(message: str, exc: Exception) -> None:
    """A database that cannot be reached is an expected failure, which the loop would repeat
    every interval: one line with the driver's reason. Anything else is a bug: the traceback."""
    if isinstance(exc, (DBAPIError, OSError, TimeoutError)):
        logger.error("%s (%s)", message, describe_error(exc))
    else:
        logger.error(message, exc_info=exc)
