"""The whole client on virtual time against a simulated Twilio: concurrency limits, capacity steps, rate limits.

Real asyncio, real IntelligenceClient, real limiter and retry loop — only the clock is virtual (tests/harness/sim.py),
so 30 s of traffic at hundreds of requests per second runs in about a second of CPU and never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib

from harness import AdaptiveLimiter, IntelligenceClient, RateLimited, RetryPolicy
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, SimulatedIntelligence, run_virtual


async def _closed_loop(server: SimulatedIntelligence, seconds: float, tasks: int = 128) -> AdaptiveLimiter:
    """`tasks` workers create transcripts back to back for `seconds` of virtual time."""
    limiter = AdaptiveLimiter()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    client = IntelligenceClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url="http://sim", transport=server, limiter=limiter,
        retry=RetryPolicy(max_attempts=20),
    )  # fmt: skip
    async with client:

        async def task(n: int) -> None:
            while loop.time() < end:
                with contextlib.suppress(RateLimited):  # retries exhausted: lost to goodput, keep going
                    await client.create_transcript(SERVICE_SID, "{}", customer_key=str(n))

        await asyncio.gather(*(task(n) for n in range(tasks)))
    return limiter


def test_virtual_time_really_is_virtual() -> None:
    """asyncio.sleep on the virtual loop advances its clock and returns at once."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return loop.time() - start

    assert run_virtual(main) == 3600


def test_finds_a_concurrency_limit_and_follows_capacity_steps() -> None:
    """Capacity 16 → 8 → 32 slots of 50 ms: goodput ≥ 95 % of capacity 3 s after each step, < 2 % answered 429."""
    server = SimulatedIntelligence(capacity=lambda t: 16 if t < 10 else 8 if t < 20 else 32, latency_s=0.05)
    limiter = run_virtual(lambda: _closed_loop(server, 30.0))

    assert server.rejected / server.requests < 0.02
    assert server.goodput(1, 10) >= 0.95 * 320
    assert server.goodput(13, 20) >= 0.95 * 160
    assert server.goodput(24, 30) >= 0.95 * 640
    assert 28 <= limiter.limit <= 36


def test_retry_after_on_probing_refusals_does_not_stall_the_client() -> None:
    """A concurrency limit whose 429s carry Retry-After: 1 (the mock's `retry_after`): an isolated refusal while
    probing delays only the refused request, not every task, so goodput stays near capacity."""
    server = SimulatedIntelligence(capacity=lambda t: 16, latency_s=0.05, retry_after=1.0)
    run_virtual(lambda: _closed_loop(server, 20.0))

    assert server.goodput(3, 20) >= 0.9 * 320
    assert server.rejected / server.requests < 0.02


def test_follows_a_token_bucket_rate_limit() -> None:
    """A 100/s token bucket and no concurrency limit: goodput at the rate, few 429s."""
    server = SimulatedIntelligence(rate=100.0, burst=10.0, latency_s=0.05)
    run_virtual(lambda: _closed_loop(server, 20.0))

    assert server.goodput(3, 20) >= 0.9 * 100
    assert server.rejected / server.requests < 0.05


def test_paces_under_a_token_bucket_that_concurrency_cannot_hold() -> None:
    """A 400/s bucket (20 requests in flight at 50 ms): refusals at every concurrency turn on pacing, which settles
    near the bucket's rate with few refusals (cutting concurrency alone gave 240/s with 6 % refused)."""
    server = SimulatedIntelligence(rate=400.0, burst=40.0, latency_s=0.05)
    limiter = run_virtual(lambda: _closed_loop(server, 30.0))

    assert limiter.rate_cap is not None
    assert server.goodput(10, 30) >= 0.9 * 400
    assert server.rejected / server.requests < 0.03


def test_honours_retry_after_from_a_rate_limit() -> None:
    """With Retry-After on the bucket's 429s, every wait respects it, requests still flow and 429s stay rare."""
    server = SimulatedIntelligence(rate=100.0, burst=10.0, retry_after=1.0, latency_s=0.05)
    run_virtual(lambda: _closed_loop(server, 20.0))

    assert server.goodput(5, 20) >= 0.5 * 100
    assert server.rejected / server.requests < 0.05


def test_no_limit_no_refusals() -> None:
    """Against an unlimited server the limiter grows to the offered load and nothing is refused."""
    server = SimulatedIntelligence(latency_s=0.05)
    limiter = run_virtual(lambda: _closed_loop(server, 5.0, tasks=64))

    assert server.rejected == 0
    assert server.peak_in_flight == 64
    assert limiter.limit >= 64
