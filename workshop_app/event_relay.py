"""The relay: moves committed events from ``stored_events`` to the bus's handlers.

Every row is **claimed** before its handlers run, for a while (a lease; the SQL is in
``services/event_store.py``): any number of relays, in any number of processes and hosts,
share the table, none takes a row another holds, and the rows of a relay that died return
to the others when its lease ends. A batch is claimed at once and worked one event after
another, so each event's lease starts again right before its handlers run (``renew_event``;
an event another relay took over meanwhile is skipped). Then one of three outcomes is
written: ``dispatched``; ``pending`` again with the handlers that failed, not to be retried
before ``next_attempt_at`` (``interval`` seconds, doubling with each attempt), and then only
those handlers; or ``failed`` once ``max_attempts`` is spent. An event's handlers get half
the lease: past that they are cut off, and the attempt counts as failed for all of them
(which ran is not known), so one hung handler neither holds the pass nor outlives the claim.
Delivery is at least once (a relay that dies after the handlers ran leaves the event to run
again), so handlers are idempotent.

``dispatch_pending`` runs after each response that recorded events (a background task)
and in a loop every ``interval`` seconds, the safety net for anything left pending.
"""

import asyncio
import json
import logging
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.event_bus import EventBus
from workshop_app.events import load_event
from workshop_app.logging_config import describe_error
from workshop_app.models import EventStatus
from workshop_app.models.base import utc_now
from workshop_app.periodic import Periodic, log_error
from workshop_app.services.event_store import (
    claim_events,
    count_unfinished,
    renew_event,
    settle_event,
)

logger = logging.getLogger(__name__)


class EventRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        *,
        instance: str,
        lease_seconds: float = 30.0,
        interval: float = 1.0,
        max_attempts: int = 3,
        batch_size: int = 10,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.instance = instance  # who holds a claim: one name per app, unique across hosts
        self.lease_seconds = lease_seconds
        self.timeout_seconds = lease_seconds / 2  # an event's handlers end well before its lease
        self.interval = interval
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self._loop = Periodic(self.dispatch_pending, interval=interval, name="event relay")
        # One pass at a time in this process: a request's task that finds the loop mid-pass
        # waits for it, so when the task returns, every event committed before it was tried.
        self._one_pass = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self) -> None:
        """Dispatch what is pending every ``interval`` seconds (the first pass one interval
        after the start). Claims left by a crash need no special care: their leases end."""
        self._loop.start()

    async def stop(self, timeout: float) -> int:
        """Stop the loop, then dispatch what is still pending, within ``timeout`` seconds
        in all. Returns how many events are left unfinished (0 if the database cannot
        tell, which is logged): they stay in the table, for this app's next start or for
        another instance. Nothing is lost, and shutdown never fails here."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._loop.stop(timeout)
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await self.dispatch_pending()
        except TimeoutError:
            pass
        try:
            left = await count_unfinished(self.engine)
        except Exception as exc:  # shutdown goes on: the rows, whatever they say, stay put
            log_error(logger, "Could not count the events left at shutdown", exc)
            return 0
        if left:
            logger.warning(
                "%d event(s) left unfinished at shutdown; a relay dispatches them later",
                left,
                extra={"fields": {"events_left": left}},
            )
        return left

    async def dispatch_pending(self) -> int:
        """Claim and dispatch every event due now, oldest first; return how many were
        dispatched. Never raises (it runs as a background task): a database error is
        logged and the rows stay pending for the next run."""
        dispatched = 0
        async with self._one_pass:
            try:
                while claimed := await claim_events(
                    self.engine,
                    instance=self.instance,
                    lease_seconds=self.lease_seconds,
                    limit=self.batch_size,
                    max_attempts=self.max_attempts,
                ):
                    for row in claimed:
                        if await renew_event(
                            self.engine,
                            row.id,
                            instance=self.instance,
                            lease_seconds=self.lease_seconds,
                        ):
                            dispatched += await self._deliver(row)
            except Exception as exc:
                log_error(
                    logger, "Dispatching events failed; they stay pending for the next run", exc
                )
        return dispatched

    async def _deliver(self, claimed: Row) -> bool:
        """Run the handlers still owed and record the outcome; True if all succeeded."""
        try:
            event = load_event(claimed.name, claimed.payload)
        except (LookupError, ValidationError) as exc:
            # Retrying cannot fix an unreadable row: fail it now, for a person to look at.
            await self._settle(claimed, EventStatus.FAILED, error=describe_error(exc))
            return False
        owed = json.loads(claimed.failed_handlers) if claimed.failed_handlers else None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                failures = await self.bus.publish(event, only=owed)
        except TimeoutError:  # publish catches its handlers' errors: this is the time limit
            error = f"TimeoutError: not finished within {self.timeout_seconds:g} s"
            failures = dict.fromkeys(owed or self.bus.handler_names(type(event)), error)
        if not failures:
            return await self._settle(claimed, EventStatus.DISPATCHED, dispatched_at=utc_now())
        gave_up = claimed.attempts >= self.max_attempts
        backoff = timedelta(seconds=self.interval * 2 ** (claimed.attempts - 1))
        await self._settle(
            claimed,
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

    async def _settle(self, claimed: Row, status: EventStatus, **outcome: object) -> bool:
        settled = await settle_event(
            self.engine, claimed.id, status, instance=self.instance, **outcome
        )
        if not settled:
            logger.warning(
                "Event %s was taken over by another relay after this one's lease ended; "
                "its outcome is the other relay's",
                claimed.id,
            )
        return settled
