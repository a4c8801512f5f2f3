"""AccountLimiter: Twilio's concurrency gate, token buckets, the capacity schedule and the rate-limit headers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._clock import ManualClock
from mock_server._config import MockConfig
from mock_server._errors import ApiError
from mock_server._limits import AccountLimiter, Admission


def limiter(clock: ManualClock | None = None, **config: Any) -> AccountLimiter:
    return AccountLimiter(MockConfig.from_json(config), clock or ManualClock())


def test_no_limits_admits_everything_without_headers_and_counts_in_flight() -> None:
    lim = limiter()
    held = [lim.admit("transcripts") for _ in range(1000)]
    assert lim.in_flight == 1000
    assert lim.peak_in_flight == 1000
    assert all(a.headers == {} for a in held)
    for a in held:
        lim.release(a)
    assert lim.in_flight == 0
    assert lim.peak_in_flight == 1000
    assert lim.rejected_429 == 0
    assert lim.current_limit is None


def test_over_the_concurrency_limit_is_429_20429_at_once() -> None:
    lim = limiter(concurrency_limit=2)
    a, b = lim.admit("transcripts"), lim.admit("services")
    with pytest.raises(ApiError) as info:
        lim.admit("transcripts")
    assert (info.value.status, info.value.code) == (429, 20429)
    assert lim.in_flight == 2  # the refused request holds no slot
    assert lim.rejected_429 == 1
    assert "Retry-After" not in info.value.headers  # retry_after is off by default
    assert info.value.headers["X-Rate-Limit-Limit"] == "2"
    assert info.value.headers["X-Rate-Limit-Remaining"] == "0"
    assert "concurrency=2" in info.value.headers["X-Rate-Limit-Config"]
    lim.release(a)
    c = lim.admit("transcripts")  # a freed slot is usable again at once
    assert lim.in_flight == 2
    lim.release(b)
    lim.release(c)


def test_admitted_responses_carry_remaining_capacity() -> None:
    lim = limiter(concurrency_limit=3)
    first = lim.admit("media")
    second = lim.admit("media")
    assert first.headers["X-Rate-Limit-Limit"] == "3"
    assert first.headers["X-Rate-Limit-Remaining"] == "2"
    assert second.headers["X-Rate-Limit-Remaining"] == "1"


def test_retry_after_is_one_second_for_the_concurrency_gate() -> None:
    lim = limiter(concurrency_limit=1, retry_after=True)
    lim.admit("transcripts")
    with pytest.raises(ApiError) as info:
        lim.admit("transcripts")
    assert info.value.headers["Retry-After"] == "1"


def test_retry_after_for_a_bucket_is_the_time_until_a_token() -> None:
    clock = ManualClock()
    lim = limiter(clock, rate_limits={"transcripts": {"per_second": 0.25, "burst": 1}}, retry_after=True)
    lim.release(lim.admit("transcripts"))
    with pytest.raises(ApiError) as info:
        lim.admit("transcripts")
    assert info.value.headers["Retry-After"] == "4"
    clock.advance(2.5)
    with pytest.raises(ApiError) as info:
        lim.admit("transcripts")
    assert info.value.headers["Retry-After"] == "2"  # 1.5 s rounded up: never earlier than a token exists
    clock.advance(1.5)
    lim.admit("transcripts")


def test_buckets_are_per_family_and_refill_from_the_clock() -> None:
    clock = ManualClock()
    lim = limiter(clock, rate_limits={"transcripts": {"per_second": 2, "burst": 3}})
    for _ in range(3):
        admission = lim.admit("transcripts")
        assert admission.headers["X-Rate-Limit-Limit"] == "3"
        lim.release(admission)
    with pytest.raises(ApiError) as info:
        lim.admit("transcripts")
    assert info.value.headers["X-Rate-Limit-Config"] == "transcripts=2/s,burst=3"
    for _ in range(50):
        lim.release(lim.admit("services"))  # another family is not limited by this bucket
    clock.advance(0.5)
    lim.release(lim.admit("transcripts"))  # one token back after 1 / per_second
    with pytest.raises(ApiError):
        lim.admit("transcripts")
    clock.advance(100)
    for _ in range(3):  # never more than burst, however long the wait
        lim.release(lim.admit("transcripts"))
    with pytest.raises(ApiError):
        lim.admit("transcripts")
    assert lim.rejected_429 == 3


def test_a_request_refused_by_the_gate_spends_no_token() -> None:
    lim = limiter(concurrency_limit=1, rate_limits={"media": {"per_second": 0.001, "burst": 2}})
    held = lim.admit("media")
    for _ in range(5):
        with pytest.raises(ApiError):
            lim.admit("media")
    lim.release(held)
    lim.release(lim.admit("media"))  # the second token is still there


@given(
    limit=st.integers(1, 8),
    ops=st.lists(st.one_of(st.just("admit"), st.integers(0, 20)), max_size=200),
)
def test_concurrency_gate_never_exceeds_its_limit(limit: int, ops: list[str | int]) -> None:
    lim = limiter(concurrency_limit=limit)
    held: list[Admission] = []
    refused = 0
    for op in ops:
        if op == "admit":
            if len(held) < limit:
                held.append(lim.admit("transcripts"))  # must not raise: there is room
            else:
                with pytest.raises(ApiError) as info:
                    lim.admit("transcripts")
                assert info.value.status == 429
                refused += 1
        elif held:
            lim.release(held.pop(int(op) % len(held)))
        assert lim.in_flight == len(held) <= limit
    assert lim.rejected_429 == refused
    assert lim.peak_in_flight <= limit


@given(
    rate=st.floats(0.1, 50),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 2), st.integers(0, 30)), max_size=40),
)
def test_token_bucket_never_grants_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    clock = ManualClock()
    lim = limiter(clock, rate_limits={"operators": {"per_second": rate, "burst": burst}})
    granted = 0
    elapsed = 0.0
    for wait, attempts in steps:
        clock.advance(wait)
        elapsed += wait
        for _ in range(attempts):
            try:
                lim.release(lim.admit("operators"))
                granted += 1
            except ApiError:
                pass
        assert granted <= burst + rate * elapsed + 1e-9
    # And the bucket is not stingier than promised: after a full refill, burst requests pass.
    clock.advance(burst / rate + 1)
    for _ in range(burst):
        lim.release(lim.admit("operators"))


@given(
    base=st.one_of(st.none(), st.integers(1, 50)),
    steps=st.lists(
        st.tuples(st.integers(0, 100).map(lambda t: t / 2), st.one_of(st.none(), st.integers(1, 50))), max_size=5
    ),
    probes=st.lists(st.integers(0, 120).map(lambda t: t / 2), max_size=10).map(sorted),
)
def test_capacity_schedule_steps_apply_at_their_times(
    base: int | None, steps: list[tuple[float, int | None]], probes: list[float]
) -> None:
    clock = ManualClock()
    schedule = [{"at_s": at, "concurrency_limit": n} for at, n in steps]
    lim = limiter(clock, concurrency_limit=base, capacity_schedule=schedule)
    start = clock.now()
    ordered = sorted(steps, key=lambda s: s[0])  # stable: equal times apply in listed order
    for t in probes:
        clock.advance(start + t - clock.now())
        expected = base
        for at, n in ordered:
            if at <= t:
                expected = n
        assert lim.current_limit == expected


def test_schedule_gates_admission_and_restarts_on_reconfigure() -> None:
    clock = ManualClock()
    config = MockConfig.from_json(
        {"capacity_schedule": [{"at_s": 5, "concurrency_limit": 1}, {"at_s": 10, "concurrency_limit": None}]}
    )
    lim = AccountLimiter(config, clock)
    held = [lim.admit("transcripts") for _ in range(3)]  # no limit before the first step
    assert held[0].headers == {}
    clock.advance(5)
    with pytest.raises(ApiError):
        lim.admit("transcripts")  # 3 in flight, limit now 1
    for a in held:
        lim.release(a)
    one = lim.admit("transcripts")
    assert one.headers["X-Rate-Limit-Limit"] == "1"
    with pytest.raises(ApiError):
        lim.admit("transcripts")
    clock.advance(5)
    assert lim.current_limit is None
    lim.admit("transcripts")
    lim.reconfigure(config)  # the schedule is measured from when the config was applied
    assert lim.current_limit is None
    clock.advance(4.9)
    assert lim.current_limit is None
    clock.advance(0.1)
    assert lim.current_limit == 1


def test_reconfigure_keeps_counters_and_unchanged_buckets() -> None:
    clock = ManualClock()
    lim = limiter(clock, rate_limits={"media": {"per_second": 0.001, "burst": 1}})
    held = lim.admit("media")
    with pytest.raises(ApiError):
        lim.admit("media")
    lim.reconfigure(MockConfig.from_json({"rate_limits": {"media": {"per_second": 0.001, "burst": 1}}}))
    with pytest.raises(ApiError):
        lim.admit("media")  # same bucket: reconfiguring does not hand out free tokens
    lim.reconfigure(MockConfig.from_json({"concurrency_limit": 1}))
    assert lim.in_flight == 1
    with pytest.raises(ApiError):
        lim.admit("media")  # the request admitted before still holds its slot
    lim.release(held)
    lim.admit("media")
    assert lim.rejected_429 == 3
    lim.reconfigure(MockConfig())
    assert lim.admit("media").headers == {}


def test_tighter_limit_is_the_one_reported() -> None:
    lim = limiter(concurrency_limit=10, rate_limits={"transcripts": {"per_second": 1, "burst": 2}})
    a = lim.admit("transcripts")
    assert a.headers["X-Rate-Limit-Limit"] == "2"
    assert a.headers["X-Rate-Limit-Remaining"] == "1"
    assert a.headers["X-Rate-Limit-Config"] == "concurrency=10;transcripts=1/s,burst=2"
    b = lim.admit("services")
    assert b.headers["X-Rate-Limit-Limit"] == "10"
    assert b.headers["X-Rate-Limit-Remaining"] == "8"
