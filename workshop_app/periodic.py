"""Run a coroutine every few seconds in the background, and stop it cleanly.

The event relay and the background worker both keep a loop going for the app's whole life:
the safety net that picks up what no request will (a retry that is due, the work of an
instance that crashed). The loop waits first (right after startup, requests handle their
own work) and outlives any pass that raises: it logs the first failure of a run of them
and the recovery, and tries again every interval. ``stop`` lets the pass in progress
finish within a timeout before cancelling it. ``log_error`` is how the relay and the worker
log an error they catch.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from sqlalchemy.exc import DBAPIError

from workshop_app.logging_config import describe_error

logger = logging.getLogger(__name__)


def log_error(log: logging.Logger, message: str, exc: Exception) -> None:
    """A database that cannot be reached is an expected failure, which the loop would repeat
    every interval: one line with the driver's reason. Anything else is a bug: the traceback."""
    if isinstance(exc, (DBAPIError, OSError, TimeoutError)):
        log.error("%s (%s)", message, describe_error(exc))
    else:
        log.error(message, exc_info=exc)


class Periodic:
    def __init__(self, run: Callable[[], Awaitable[Any]], *, interval: float, name: str) -> None:
        self.run = run
        self.interval = interval
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"The {self.name} is already running.")
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, timeout: float) -> None:
        """Let the pass in progress finish (within ``timeout``), then end the loop."""
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _loop(self) -> None:
        failures = 0  # passes in a row that raised
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.run()
            except Exception:
                failures += 1
                if failures == 1:  # one traceback per outage, not one per interval
                    logger.exception("A pass of the %s failed; retrying every interval", self.name)
                continue
            if failures:
                logger.warning("The %s works again after %d failed passes", self.name, failures)
                failures = 0
