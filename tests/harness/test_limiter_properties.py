"""AdaptiveLimiter: the pure decision (hypothesis properties), the async admission, and a driven-clock timeline."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.limiter import AdaptiveLimiter, LimiterParams, LimiterState, Sample, decide

PARAMS = LimiterParams(initial=10, floor=2, ceiling=50)
states = st.builds(
    LimiterState,
    limit=st.floats(2, 50),
    last_drop_limit=st.none() | st.floats(2, 60),
    last_decrease_at=st.floats(-1e6, 100),
    growth=st.floats(0.02, 25),
    window_start=st.floats(0, 100),
    rtt_noload=st.none() | st.floats(0.001, 1),
    rtt_short=st.none() | st.floats(0.001, 2),
    rtt_long=st.none() | st.floats(0.001, 2),
)
samples = st.builds(
    Sample, rtt=st.floats(0, 5), in_flight=st.integers(1, 80), dropped=st.booleans(), sent_at=st.floats(0, 100)
)


@given(state=states, sample=samples, now=st.floats(100, 200))
def test_limit_stays_within_floor_and_ceiling(state: LimiterState, sample: Sample, now: float) -> None:
    assert PARAMS.floor <= decide(state, sample, PARAMS, now).limit <= PARAMS.ceiling


@given(state=states, sample=samples, now=st.floats(100, 200))
def test_a_fresh_refusal_never_raises_the_limit_and_caps_it_below_the_refused_concurrency(
    state: LimiterState, sample: Sample, now: float
) -> None:
    sample = Sample(sample.rtt, sample.in_flight, True, max(sample.sent_at, state.last_decrease_at))
    after = decide(state, sample, PARAMS, now)
    assert after.limit <= state.limit
    assert after.limit <= max(PARAMS.floor, sample.in_flight - 1)
    assert after.last_decrease_at == now


@given(state=states, sample=samples, now=st.floats(100, 200))
def test_refusals_of_requests_sent_before_the_last_decrease_change_nothing(
    state: LimiterState, sample: Sample, now: float
) -> None:
    stale = Sample(sample.rtt, sample.in_flight, True, state.last_decrease_at - 1)
    assert decide(state, stale, PARAMS, now) == state


@given(limit=st.floats(4, 50), base=st.floats(0.01, 0.5), extra=st.floats(1.01, 5), now=st.floats(100, 200))
def test_no_increase_while_the_server_queues(limit: float, base: float, extra: float, now: float) -> None:
    """Round trips well above their long-term average mean requests are queueing: the limit must not grow."""
    short = base * PARAMS.rtt_tolerance * extra + PARAMS.min_queue_delay_s * 2
    state = LimiterState(limit=limit, rtt_noload=base, rtt_short=short, window_start=0, rtt_long=base)
    sample = Sample(rtt=short, in_flight=int(limit), dropped=False, sent_at=now - short)
    assert decide(state, sample, PARAMS, now).limit <= limit


@given(limit=st.floats(4, 50), in_flight=st.integers(1, 100), now=st.floats(100, 200))
def test_no_increase_while_app_limited(limit: float, in_flight: int, now: float) -> None:
    state = LimiterState(limit=limit, rtt_noload=0.05, rtt_short=0.05)
    sample = Sample(rtt=0.05, in_flight=in_flight, dropped=False, sent_at=now - 0.05)
    after = decide(state, sample, PARAMS, now)
    if in_flight * 2 < limit:
        assert after.limit == limit
    else:
        assert after.limit >= limit


@given(st.lists(st.sampled_from(["acquire", "release", "drop"]), max_size=120), st.integers(2, 12))
def test_admission_never_exceeds_the_limit(ops: list[str], initial: int) -> None:
    async def run() -> None:
        clock = [0.0]
        params = LimiterParams(initial=initial, floor=1, ceiling=64, rate_pacing=False)  # admission alone
        limiter = AdaptiveLimiter(params, clock=lambda: clock[0])
        admitted: list[asyncio.Task[object]] = []
        for op in ops:
            clock[0] += 0.01
            if op == "acquire":
                admitted.append(asyncio.create_task(limiter.acquire()))
            else:
                done = [t for t in admitted if t.done()]
                if done:
                    ticket = done[0].result()
                    admitted.remove(done[0])
                    limiter.release(ticket, dropped=op == "drop")  # type: ignore[arg-type]
            for _ in range(3):  # a woken waiter resumes a loop iteration or two after its slot is reserved
                await asyncio.sleep(0)
            running = sum(t.done() for t in admitted)
            assert running == limiter.in_flight
            assert running <= max(limiter.limit, initial)
        for t in admitted:
            t.cancel()
        await asyncio.gather(*admitted, return_exceptions=True)

    asyncio.run(run())


def test_timeline_converges_on_a_server_limit_without_real_sleeping() -> None:
    """A simulated server with 20 slots and 50 ms latency, driven by the pure decision on a virtual clock."""
    server_limit, latency = 20, 0.05
    state = LimiterState(limit=8.0)
    params = LimiterParams(initial=8, floor=1, ceiling=200)
    now, refused, answered, limits = 0.0, 0, 0, []
    while now < 30.0:
        in_flight = int(state.limit)
        for _ in range(in_flight):  # one round trip: every slot sends one request
            dropped = in_flight > server_limit and _ >= server_limit
            state = decide(state, Sample(latency, in_flight, dropped, now), params, now + latency)
            refused += dropped
            answered += 1
        now += latency
        limits.append(state.limit)
    settled = limits[len(limits) // 2 :]
    assert min(settled) >= server_limit * 0.8
    assert max(settled) <= server_limit + 2
    assert refused / answered < 0.05


def test_retry_after_pauses_new_requests_when_refusals_repeat() -> None:
    """Two refusals in a row with Retry-After hold every new request until then; an isolated one (the usual cost of
    probing) delays only the refused request itself, which the retry policy handles."""

    async def run() -> None:
        clock = [100.0]
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock[0] += seconds

        limiter = AdaptiveLimiter(clock=lambda: clock[0], sleep=sleep)
        for _ in range(3):  # a few answers, so the limiter knows the round-trip time
            ticket = await limiter.acquire()
            clock[0] += 0.05
            limiter.release(ticket)
        first, second, third = await limiter.acquire(), await limiter.acquire(), await limiter.acquire()
        clock[0] += 0.05
        limiter.release(first, dropped=True, retry_after=2.0)
        assert limiter.pause_until <= clock[0]  # isolated: nobody else is held
        limiter.release(second, dropped=True, retry_after=2.0)
        limiter.release(third)
        await limiter.acquire()
        assert slept == [pytest.approx(2.0)]

    asyncio.run(run())


def test_refusals_far_below_the_concurrency_limit_turn_on_pacing() -> None:
    """A rate limit refuses at any concurrency: the limiter then paces sends instead of only shrinking."""

    async def run() -> None:
        clock = [0.0]

        async def sleep(seconds: float) -> None:
            clock[0] += seconds

        limiter = AdaptiveLimiter(LimiterParams(initial=40), clock=lambda: clock[0], sleep=sleep)
        for _ in range(30):  # 30 answered per second at in-flight 1
            ticket = await limiter.acquire()
            clock[0] += 1 / 30
            limiter.release(ticket)
        ticket = await limiter.acquire()
        limiter.release(ticket, dropped=True)
        assert limiter.rate_cap is not None
        assert limiter.rate_cap == pytest.approx(30, rel=0.2)  # pacing starts at the rate that got through
        cap, start = limiter.rate_cap, clock[0]
        for _ in range(10):
            limiter.release(await limiter.acquire())
        assert clock[0] - start >= 9 / cap * 0.99  # paced at (at most) the cap, not sent at once

    asyncio.run(run())


def test_metrics_expose_limit_in_flight_waiters_and_rtt() -> None:
    limiter = AdaptiveLimiter(clock=lambda: 0.0)
    metrics = limiter.metrics()
    for key in ("limit", "in_flight", "waiters", "rejected_429", "rtt_noload_s", "rtt_short_s", "rate_cap_per_s"):
        assert key in metrics
