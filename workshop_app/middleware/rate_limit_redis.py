"""One token bucket per client for every process and instance: the buckets live in Valkey.

Valkey (or Redis: the same protocol) holds each bucket as a small hash. The arithmetic of
``InMemoryRateLimitStore`` runs *inside the server*, as one Lua script, so a read and its
write can never interleave with another instance's: N requests at once against a limit of
M admit exactly M, however many workers and hosts send them. The script reads the server's
clock (``TIME``), since the clocks of two hosts (or two processes' monotonic clocks) do not
agree, and lets a bucket expire once it would be full again: nothing to sweep.

The script is loaded once at startup and then run by its SHA (``EVALSHA``), so each request
sends a short hash instead of the script; after a server restart forgets it, it is loaded
again. When the store cannot be reached, requests are **let through** (fail open): a rate
limiter protects the service and must not take it down. The outage is logged once when it
starts and once when it ends, with how many requests went through unchecked
(``unchecked``); meanwhile one request per ``retry_seconds`` tries the store again, and the
others are let through at once instead of all waiting for an answer that is not coming.
"""

import logging
import time

import redis.asyncio as redis
from redis.exceptions import NoScriptError, RedisError

from workshop_app.middleware.rate_limit import Decision

logger = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV: capacity, refill per second. Returns the decision as strings:
# a Lua number would come back to the client as an integer, losing the fractions.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = capacity
if bucket[1] then
  tokens = math.min(capacity, tonumber(bucket[1]) + (now - tonumber(bucket[2])) * rate)
end
local allowed = 0
if tokens + 1e-9 >= 1 then
  allowed = 1
  tokens = math.max(tokens - 1, 0)
end
local reset_after = (capacity - tokens) / rate
local retry_after = 0
if allowed == 0 then retry_after = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(reset_after * 1000) + 1000)
return {allowed, tostring(tokens), tostring(reset_after), tostring(retry_after)}
"""


class RedisRateLimitStore:
    """A ``RateLimitStore`` on Valkey or Redis; ``connect`` at startup, ``close`` at shutdown."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ratelimit:",
        timeout: float = 1.0,
        retry_seconds: float = 1.0,
        max_connections: int = 32,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.max_connections = max_connections
        self.unchecked = 0  # requests let through while the store was unreachable, in all
        self._unchecked_before = 0  # ... when the current outage began
        self._client: redis.Redis | None = None
        self._sha: str | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0

    async def connect(self) -> None:
        """Open the client, prove the server answers and load the script; raise if not."""
        # A blocking pool: a burst of requests waits for one of its connections instead of
        # opening one each (or failing once a plain pool is full).
        pool = redis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.timeout * 5,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        self._client = redis.Redis(connection_pool=pool)
        try:
            await self._client.ping()
            self._sha = await self._client.script_load(TOKEN_BUCKET)
        except BaseException:  # startup stops here: leave no connection open behind it
            await self.close()
            raise

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            await self._client.connection_pool.disconnect()
            self._client = None

    async def hit(
        self, key: str, *, capacity: int, refill_per_second: float, now: float
    ) -> Decision:
        """Spend a token in the shared bucket (``now`` is unused: the server's clock counts)."""
        if self._client is None:
            raise RuntimeError("RedisRateLimitStore.connect() was not awaited at startup.")
        if self._down_since is not None:
            if time.monotonic() < self._retry_at:
                return self._let_through(capacity)
            self._retry_at = time.monotonic() + self.retry_seconds  # this request tries alone
        try:
            reply = await self._run(self.prefix + key, capacity, refill_per_second)
        except (RedisError, OSError) as exc:
            self._outage(exc)
            return self._let_through(capacity)
        if self._down_since is not None:
            logger.warning(
                "Rate-limit store reachable again after %.1f s; %d request(s) went unchecked",
                time.monotonic() - self._down_since,
                self.unchecked - self._unchecked_before,
                extra={"fields": {"unchecked": self.unchecked - self._unchecked_before}},
            )
            self._down_since = None
        allowed, tokens, reset_after, retry_after = reply
        return Decision(
            allowed=bool(allowed),
            limit=capacity,
            remaining=int(float(tokens) + 1e-9),
            reset_after=float(reset_after),
            retry_after=float(retry_after),
        )

    async def _run(self, key: str, capacity: int, refill_per_second: float) -> list:
        try:
            return await self._client.evalsha(self._sha, 1, key, capacity, refill_per_second)
        except NoScriptError:  # the server restarted and forgot the script
            self._sha = await self._client.script_load(TOKEN_BUCKET)
            return await self._client.evalsha(self._sha, 1, key, capacity, refill_per_second)

    def _outage(self, exc: Exception) -> None:
        self._retry_at = time.monotonic() + self.retry_seconds
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._unchecked_before = self.unchecked
            logger.error(
                "Rate-limit store unreachable (%s: %s); letting requests through unchecked",
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )

    def _let_through(self, capacity: int) -> Decision:
        self.unchecked += 1
        return Decision(
            allowed=True, limit=capacity, remaining=capacity, reset_after=0.0, retry_after=0.0
        )
