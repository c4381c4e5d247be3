"""The background worker: who does the outbox's emails and the reports, and when.

Right after the response that queued the work, a background task asks the worker to do it
(``send_email``, ``build_report``); a loop every ``interval`` seconds picks up what a crash,
a restart or a failure left ``pending``. Either way the worker first **claims** the row for
``lease_seconds`` (``services/work_queue.py``): any number of workers, in any number of
processes, share the tables, two never work on the same row, and the rows of a worker that
died return to the others when its lease ends. Each claim has a name of its own (the
worker's, and a number), so a row this worker took over again after its own lease ran out
is settled by the newer claim only. What is done with a claimed row, and how a failure is
retried, is in ``tasks.py``.
"""

import asyncio
import itertools
import logging
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from workshop_app.mail import Mailer
from workshop_app.models import OrderReport, OutboxEmail
from workshop_app.periodic import Periodic, log_error
from workshop_app.services.work_queue import Work, claim, claim_due, renew
from workshop_app.tasks import Claim, build_order_report, send_email

logger = logging.getLogger(__name__)


class BackgroundWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        mailer: Mailer,
        *,
        instance: str,
        lease_seconds: float = 30.0,
        max_attempts: int = 5,
        interval: float = 1.0,
        batch_size: int = 10,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.instance = instance
        self.claim = Claim(
            instance,
            max_attempts=max_attempts,
            backoff_seconds=interval,
            timeout_seconds=lease_seconds / 2,  # a row's work ends well before its lease
        )
        self._claims = itertools.count(1)
        self._loop = Periodic(self.run_pending, interval=interval, name="background worker")

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self) -> None:
        """Pick up what is due every ``interval`` seconds (first one interval after start)."""
        self._loop.start()

    async def stop(self, timeout: float) -> None:
        """Stop the loop, then do what is due, within ``timeout`` seconds in all. What is left
        stays ``pending`` in its table, for this app's next start or another instance."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._loop.stop(timeout)
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await self.run_pending()
        except TimeoutError:
            logger.warning("Background work left pending at shutdown, for a later worker")

    async def send_email(self, email_id: int) -> None:
        """Send one outbox email, unless it is done, not due, spent, or another worker holds
        it. Never raises (see ``_do_now``)."""
        await self._do_now(OutboxEmail, email_id)

    async def build_report(self, report_id: int) -> None:
        """Build one report, unless it is done, not due, spent, or another worker holds it.
        Never raises (see ``_do_now``)."""
        await self._do_now(OrderReport, report_id)

    async def run_pending(self) -> int:
        """Claim and do the emails and reports that are due; how many were done. Never raises:
        a database error is logged and the rows wait for the next pass."""
        done = 0
        for model in (OutboxEmail, OrderReport):
            try:
                while ids := await claim_due(
                    self.engine,
                    model,
                    instance=(holder := self._new_claim()).instance,
                    lease_seconds=self.lease_seconds,
                    limit=self.batch_size,
                    max_attempts=self.claim.max_attempts,
                ):
                    for row_id in ids:
                        if await renew(
                            self.engine,
                            model,
                            row_id,
                            instance=holder.instance,
                            lease_seconds=self.lease_seconds,
                        ):
                            done += await self._do(model, row_id, holder)
            except Exception as exc:
                log_error(logger, "Background work failed; it waits for the next pass", exc)
        return done

    def _new_claim(self) -> Claim:
        return replace(self.claim, instance=f"{self.instance}/{next(self._claims)}")

    async def _do(self, model: Work, row_id: int, holder: Claim) -> bool:
        if model is OutboxEmail:
            return await send_email(self.engine, self.mailer, row_id, claim=holder)
        return await build_order_report(self.engine, row_id, claim=holder)

    async def _do_now(self, model: Work, row_id: int) -> None:
        """Claim one row and do its work, right after the response that queued it. Never
        raises: this runs as a background task of the request, and Starlette skips the
        request's later tasks after one that raised. An error (the database, mostly) is
        logged, and the row waits for the loop."""
        holder = self._new_claim()
        try:
            if await claim(
                self.engine,
                model,
                row_id,
                instance=holder.instance,
                lease_seconds=self.lease_seconds,
                max_attempts=self.claim.max_attempts,
            ):
                await self._do(model, row_id, holder)
        except Exception as exc:
            message = f"Work on {model.__tablename__} {row_id} failed; the loop retries it"
            log_error(logger, message, exc)
