"""Virtual time for the client's timeline tests: a real asyncio loop whose clock only moves when nothing can run.

`VirtualTimeLoop` is an ordinary selector event loop except that waiting for the next timer advances its clock
instead of sleeping, so `asyncio.sleep(5)` returns at once with `loop.time()` five seconds later. Everything that
reads the loop's clock — the limiter, the retry loop — runs exactly as in production, deterministically and without
real sleeping. It does no I/O: the "server" is `SimulatedIntelligence`, an `httpx.AsyncBaseTransport` with Twilio's
429 semantics (a per-account concurrency limit that refuses the excess at once, an optional token bucket, optional
Retry-After, a capacity schedule and a fixed service time).
"""

from __future__ import annotations

import asyncio
import json
import selectors
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "tok-" + "s3cr3t" * 4
SERVICE_SID = "GA" + "b" * 32


class _NoWaitSelector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self.loop is not None
        if timeout is None:
            raise RuntimeError("virtual-time deadlock: every task waits and no timer is scheduled")
        self.loop.virtual_now += max(0.0, timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _NoWaitSelector()
        super().__init__(selector)
        selector.loop = self
        self.virtual_now = 0.0

    def time(self) -> float:
        return self.virtual_now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@dataclass
class SimulatedIntelligence(httpx.AsyncBaseTransport):
    """POST /v2/Transcripts with Twilio's 429 semantics, on the loop's (virtual) clock.

    `capacity` maps seconds since the first request to the concurrency limit (None = unlimited);
    `rate` / `burst` add a token bucket; `retry_after` adds a Retry-After header to every 429 (as the mock's
    `retry_after` does, for the concurrency gate and the bucket alike).
    """

    capacity: Callable[[float], int | None] = lambda _t: None
    latency_s: float = 0.05
    rate: float | None = None
    burst: float = 1.0
    retry_after: float | None = None
    requests: int = 0
    rejected: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    completions: list[float] = field(default_factory=list)
    start: float | None = None
    _tokens: float = 0.0
    _refilled_at: float = 0.0

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        if self.start is None:
            self.start, self._tokens, self._refilled_at = now, self.burst, now
        return now - self.start

    def _refused(self, request: httpx.Request) -> httpx.Response:
        self.rejected += 1
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        body = {"code": 20429, "message": "Too many requests", "more_info": "https://www.twilio.com/docs/errors/20429"}
        return httpx.Response(429, json={**body, "status": 429}, headers=headers, request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = self._now()
        self.requests += 1
        limit = self.capacity(t)
        if limit is not None and self.in_flight >= limit:
            return self._refused(request)
        if self.rate is not None:
            self._tokens = min(self.burst, self._tokens + (t - self._refilled_at) * self.rate)
            self._refilled_at = t
            if self._tokens < 1:
                return self._refused(request)
            self._tokens -= 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        self.completions.append(self._now())
        n = len(self.completions)
        sid = f"GT{n:032x}"
        return httpx.Response(
            202,
            content=json.dumps({"sid": sid, "service_sid": SERVICE_SID, "status": "queued"}).encode(),
            headers={"Content-Type": "application/json"},
            request=request,
        )

    def goodput(self, lo: float, hi: float) -> float:
        """Completed requests per second in [lo, hi) seconds after the first request."""
        return sum(lo <= t < hi for t in self.completions) / (hi - lo)
