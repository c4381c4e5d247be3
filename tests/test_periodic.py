"""The loop behind the event relay and the background worker outlives a failing pass."""

from __future__ import annotations

import asyncio
import logging

import pytest

from workshop_app.periodic import Periodic

pytestmark = pytest.mark.anyio


async def test_a_pass_that_raises_is_logged_once_per_outage_and_the_loop_goes_on(caplog):
    outcomes = iter([RuntimeError("database down")] * 3 + [None] * 100)
    passes = []

    async def run() -> None:
        passes.append(1)
        if (outcome := next(outcomes)) is not None:
            raise outcome

    loop = Periodic(run, interval=0.01, name="test loop")
    with caplog.at_level(logging.WARNING, logger="workshop_app.periodic"):
        loop.start()
        while len(passes) < 6:
            await asyncio.sleep(0.01)
        assert loop.running
        await loop.stop(timeout=1)

    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert records == [
        ("ERROR", "A pass of the test loop failed; retrying every interval"),
        ("WARNING", "The test loop works again after 3 failed passes"),
    ]
    assert caplog.records[0].exc_info is not None
    assert not loop.running


async def test_stop_lets_the_pass_in_progress_finish_within_the_timeout():
    finished = []

    async def run() -> None:
        await asyncio.sleep(0.05)
        finished.append(1)

    loop = Periodic(run, interval=0.001, name="slow loop")
    loop.start()
    while not finished:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # the next pass is in progress
    await loop.stop(timeout=1)
    count = len(finished)
    await asyncio.sleep(0.1)
    assert len(finished) == count and count >= 2


async def test_a_pass_longer_than_the_timeout_is_cancelled():
    async def run() -> None:
        await asyncio.sleep(10)

    loop = Periodic(run, interval=0.001, name="stuck loop")
    loop.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(loop.stop(timeout=0.05), 1)
    assert not loop.running
    with pytest.raises(RuntimeError, match="already running"):
        loop.start()
        loop.start()
    await loop.stop(timeout=0.05)
