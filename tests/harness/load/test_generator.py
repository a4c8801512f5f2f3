"""The generator on a virtual-time loop (no real sleeping): arrivals on schedule, drops counted, latency from due."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness._limiter import AdaptiveLimiter, LimiterParams
from harness.load._generator import BEHIND, IN_FLIGHT_CAP, Generator, SendResult
from harness.load._metrics import OK, RATE_LIMITED, LoadMetrics
from harness.load._profile import Profile, constant, ramp, spike, steps
from tests.harness.sim import VirtualTimeLoop, run_virtual

CREATE_ONLY = {"create": 1.0}


def answering_after(seconds: float, outcome: int = OK) -> object:
    async def send(operation: str, k: int) -> SendResult:
        await asyncio.sleep(seconds)
        return outcome, None, None

    return send


async def run_open(profile: Profile, send: object, **options: object) -> LoadMetrics:
    loop = asyncio.get_running_loop()
    metrics = LoadMetrics(loop.time(), 1000.0)  # a whole wall-clock second: seconds line up with the profile's
    generator = Generator(send, metrics, options.pop("mix", CREATE_ONLY), **options)  # type: ignore[arg-type]
    await generator.run_open(profile)
    await generator.drain(30.0)
    return metrics


@st.composite
def small_profiles(draw: st.DrawFn) -> Profile:
    kind = draw(st.sampled_from(["constant", "ramp", "steps", "spike"]))
    rate = draw(st.integers(min_value=1, max_value=300))
    if kind == "constant":
        return constant(rate, draw(st.integers(1, 5)))
    if kind == "ramp":
        return ramp(draw(st.integers(0, 300)), rate, draw(st.integers(1, 5)))
    if kind == "steps":
        return steps(draw(st.lists(st.integers(1, 300), min_size=1, max_size=4)), 1.0)
    return spike(rate, draw(st.integers(1, 600)), 1.0, 1.0, 3.0)


@given(small_profiles())
@settings(max_examples=25, deadline=None)
def test_offered_arrivals_per_second_follow_the_profile(profile: Profile) -> None:
    metrics = run_virtual(lambda: run_open(profile, answering_after(0.05)))
    offered = [s.offered for s in metrics.seconds][: len(list(range(int(profile.duration_s))))]
    for second, count in enumerate(offered):
        expected = profile.arrivals_until(second + 1) - profile.arrivals_until(second)
        assert abs(count - expected) < 1 + 1e-6
    totals = metrics.totals()
    assert totals["offered"] == totals["sent"] == totals["ok"] == profile.total_arrivals
    assert totals["dropped"] == 0


def test_a_slow_server_fills_the_in_flight_cap_and_the_rest_are_dropped_and_counted() -> None:
    metrics = run_virtual(lambda: run_open(constant(100, 3), answering_after(10.0), max_in_flight=50))
    totals = metrics.totals()
    assert totals["offered"] == 300
    assert totals["sent"] == 50
    assert totals["dropped"] == 250
    assert metrics.dropped_reasons == {IN_FLIGHT_CAP: 250}
    assert totals["sent"] + totals["dropped"] == totals["offered"]


def test_a_generator_too_slow_for_the_rate_drops_arrivals_it_is_late_for() -> None:
    async def costly(operation: str, k: int) -> SendResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        loop.virtual_now += 0.02  # 20 ms of this process's time per request: at most 50/s, 100/s asked
        await asyncio.sleep(0.01)
        return OK, None, None

    metrics = run_virtual(lambda: run_open(constant(100, 5), costly, max_lag_s=0.5))
    totals = metrics.totals()
    assert metrics.dropped_reasons.get(BEHIND, 0) == totals["dropped"] > 0
    assert totals["sent"] + totals["dropped"] == totals["offered"] == 500
    assert metrics.summary()["dropped_rate"] == pytest.approx(totals["dropped"] / 500)


def test_latency_counts_from_the_due_time_so_queueing_at_the_client_is_not_hidden() -> None:
    limiter = AdaptiveLimiter(LimiterParams(initial=1, floor=1, ceiling=1))
    metrics = run_virtual(lambda: run_open(constant(20, 1), answering_after(0.1), limiter=limiter))
    latency = metrics.latency()
    # One at a time, 0.1 s each, 20 arrivals 50 ms apart: the last waited ~1 s behind the others.
    assert latency.total == 20
    assert latency.percentile(50) == pytest.approx(550_000, rel=0.01)  # 0.1 s + 9 × 50 ms
    assert latency.max_us == pytest.approx(1_050_000, rel=0.01)
    assert metrics.schedule_lag.max_us == pytest.approx(950_000, rel=0.01)


def test_outcomes_are_counted_per_operation_with_the_mix() -> None:
    async def send(operation: str, k: int) -> SendResult:
        await asyncio.sleep(0.01)
        return (RATE_LIMITED, None, 1.0) if operation == "fetch" else (OK, None, None)

    mix = {"create": 3.0, "fetch": 1.0}
    metrics = run_virtual(lambda: run_open(constant(400, 2), send, mix=mix, rng=random.Random(7)))
    summary = metrics.summary()
    assert summary["completed"] == 800
    fetches = summary["by_operation"]["fetch"]["rate_limited"]
    assert summary["rate_limited"] == fetches
    assert 150 < fetches < 250  # ~1/4 of 800
    assert summary["by_operation"]["create"]["ok"] == 800 - fetches
    assert summary["429_rate"] == pytest.approx(fetches / 800)


def test_in_flight_and_limit_are_sampled_every_second() -> None:
    metrics = run_virtual(lambda: run_open(constant(100, 3), answering_after(0.5), max_in_flight=500))
    rows = metrics.timeseries()
    assert [r["limit"] for r in rows[:3]] == [500.0, 500.0, 500.0]
    assert all(45 <= (r["in_flight"] or 0) <= 55 for r in rows[:3])  # 100/s × 0.5 s
    assert all(r["in_flight_max"] >= r["in_flight"] for r in rows[:3])


def test_requests_unanswered_when_the_drain_ends_are_counted_unfinished() -> None:
    async def main() -> LoadMetrics:
        loop = asyncio.get_running_loop()
        metrics = LoadMetrics(loop.time(), 1000.0)
        generator = Generator(answering_after(60.0), metrics, CREATE_ONLY)  # type: ignore[arg-type]
        await generator.run_open(constant(10, 1))
        assert await generator.drain(1.0) == 10
        return metrics

    metrics = run_virtual(main)
    summary = metrics.summary()
    assert summary["unfinished"] == summary["other_errors"] == 10


def test_the_closed_model_keeps_n_requests_out() -> None:
    async def main() -> LoadMetrics:
        loop = asyncio.get_running_loop()
        metrics = LoadMetrics(loop.time(), 1000.0)
        generator = Generator(answering_after(0.1), metrics, CREATE_ONLY)  # type: ignore[arg-type]
        await generator.run_closed(2.0, 5)
        await generator.drain(5.0)
        return metrics

    metrics = run_virtual(main)
    totals = metrics.totals()
    assert totals["ok"] == 100  # 5 workers × 10/s × 2 s
    assert metrics.latency().percentile(99) == pytest.approx(100_000, rel=0.01)
