"""Token-bucket rate limiting per client, answered with the app's error envelope.

Each client has a bucket of ``requests`` tokens that refills continuously at
``requests / window_seconds`` per second; a request spends one token. Bursts up
to the limit pass, the steady rate is capped, and nothing resets all at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workshop_app.error_handlers import app_error_response
from workshop_app.exceptions import RateLimitedError

# Float refill arithmetic can land on 0.9999999 tokens; treat that as 1.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit: whether it passes and what to tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the bucket is full again
    retry_after: float  # seconds until the next token (0.0 when allowed)


class RateLimitStore(Protocol):
    """Where buckets live.

    The in-memory store counts per process: with several workers or instances
    each keeps its own buckets, multiplying the real limit. A shared store
    (for example Redis, doing the same arithmetic atomically in a Lua script)
    implements this interface so every instance spends from one bucket.
    """

    async def hit(
        self, key: str, *, capacity: int, refill_per_second: float, now: float
    ) -> Decision: ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    full_at: float


class InMemoryRateLimitStore:
    """Buckets in a dict, for one process.

    ``hit`` never awaits between reading and writing a bucket, so on one event
    loop concurrent requests cannot interleave there: N at once against a limit
    of M admit exactly M, with no lock. Full buckets are dropped on a periodic
    sweep, so one-off client addresses do not grow the dict forever.
    """

    def __init__(self, sweep_interval: float = 60.0) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_interval = sweep_interval
        self._next_sweep: float | None = None

    def __len__(self) -> int:
        return len(self._buckets)

    async def hit(
        self, key: str, *, capacity: int, refill_per_second: float, now: float
    ) -> Decision:
        self._sweep(now)
        bucket = self._buckets.get(key)
        tokens = float(capacity)
        if bucket is not None:
            refilled = bucket.tokens + (now - bucket.updated) * refill_per_second
            tokens = min(tokens, refilled)
        allowed = tokens + _EPSILON >= 1
        if allowed:
            tokens = max(tokens - 1, 0.0)
        reset_after = (capacity - tokens) / refill_per_second
        self._buckets[key] = _Bucket(tokens, now, now + reset_after)
        return Decision(
            allowed=allowed,
            limit=capacity,
            remaining=math.floor(tokens + _EPSILON),
            reset_after=reset_after,
            retry_after=0.0 if allowed else (1 - tokens) / refill_per_second,
        )

    def _sweep(self, now: float) -> None:
        if self._next_sweep is None:
            self._next_sweep = now + self._sweep_interval
        if now < self._next_sweep:
            return
        # A full bucket is indistinguishable from a missing one: forget it.
        for key in [k for k, b in self._buckets.items() if b.full_at <= now]:
            del self._buckets[key]
        self._next_sweep = now + self._sweep_interval


def _whole_seconds(seconds: float) -> int:
    """Round up for headers, ignoring float noise (10.000000001 s is 10 s)."""
    return math.ceil(round(seconds, 6))


class RateLimitMiddleware:
    """Spend a token per request; answer 429 with Retry-After when none is left.

    The client key is the connecting host. ``X-Forwarded-For`` is used only with
    ``trust_forwarded_for=True``, and then only its last entry: the address our
    one trusted proxy appended. Earlier entries are whatever the client sent.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        requests: int,
        window_seconds: float,
        store: RateLimitStore | None = None,
        trust_forwarded_for: bool = False,
        clock: Callable[[], float] = time.monotonic,
        exempt_paths: Iterable[str] = ("/health/live", "/health/ready"),
    ) -> None:
        if requests < 1:
            raise ValueError("requests must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.app = app
        self.requests = requests
        self.refill_per_second = requests / window_seconds
        self.store: RateLimitStore = store if store is not None else InMemoryRateLimitStore()
        self.trust_forwarded_for = trust_forwarded_for
        self.clock = clock
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return

        decision = await self.store.hit(
            self.client_key(scope),
            capacity=self.requests,
            refill_per_second=self.refill_per_second,
            now=self.clock(),
        )
        headers = {
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(_whole_seconds(decision.reset_after)),
        }
        if not decision.allowed:
            retry_after = max(1, _whole_seconds(decision.retry_after))
            unit = "second" if retry_after == 1 else "seconds"
            error = RateLimitedError(
                f"Too many requests. Retry after {retry_after} {unit}.",
                headers={**headers, "Retry-After": str(retry_after)},
            )
            await app_error_response(error)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def client_key(self, scope: Scope) -> str:
        """The bucket key for this request: a host address, or "unknown"."""
        if self.trust_forwarded_for:
            forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
            hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",")]
            if hops and hops[-1]:
                return hops[-1]
        client = scope.get("client")
        return client[0] if client else "unknown"
