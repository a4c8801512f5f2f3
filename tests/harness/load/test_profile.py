"""Arrival profiles: the right number of arrivals in every second, for constant, ramp, steps and spike."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load._profile import Profile, ProfileError, constant, ramp, spike, steps

rates = st.floats(min_value=0.0, max_value=3000.0).map(lambda r: round(r, 2))
positive_rates = st.floats(min_value=1.0, max_value=3000.0).map(lambda r: round(r, 2))
durations = st.integers(min_value=1, max_value=20).map(float)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    kind = draw(st.sampled_from(["constant", "ramp", "steps", "spike"]))
    if kind == "constant":
        return constant(draw(positive_rates), draw(durations))
    if kind == "ramp":
        return ramp(draw(rates), draw(positive_rates), draw(durations))
    if kind == "steps":
        return steps(draw(st.lists(positive_rates, min_size=1, max_size=5)), draw(durations))
    duration = draw(st.integers(min_value=3, max_value=20))
    at = draw(st.integers(min_value=0, max_value=duration - 1))
    length = draw(st.integers(min_value=1, max_value=duration - at))
    return spike(draw(positive_rates), draw(positive_rates), float(at), float(length), float(duration))


def per_second(profile: Profile) -> list[int]:
    counts = [0] * math.ceil(profile.duration_s)
    for t in profile.arrival_times():
        counts[int(t)] += 1
    return counts


@given(profiles())
@settings(max_examples=150, deadline=None)
def test_every_second_gets_the_integral_of_the_rate(profile: Profile) -> None:
    counts = per_second(profile)
    for second, count in enumerate(counts):
        expected = profile.arrivals_until(second + 1) - profile.arrivals_until(second)
        assert abs(count - expected) < 1 + 1e-6, (second, count, expected)
    assert sum(counts) == profile.total_arrivals


@given(profiles())
@settings(max_examples=100, deadline=None)
def test_arrivals_are_in_order_and_inside_the_profile(profile: Profile) -> None:
    times = list(profile.arrival_times())
    assert times == sorted(times)
    assert all(0 <= t < profile.duration_s for t in times)


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=10))
def test_a_whole_constant_rate_gives_exactly_that_many_each_second(rate: int, duration: int) -> None:
    assert per_second(constant(rate, duration)) == [rate] * duration


def test_steps_and_spike_change_rate_where_asked() -> None:
    assert per_second(steps([10, 20, 40], 2)) == [10, 10, 20, 20, 40, 40]
    assert per_second(spike(10, 100, at_s=2, spike_s=1, duration_s=4)) == [10, 10, 100, 10]
    assert per_second(ramp(0, 100, 2)) == [25, 75]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: constant(-1, 10), "rate"),
        (lambda: constant(10, 0), "duration"),
        (lambda: constant(0, 10), "no arrivals"),
        (lambda: steps([], 1), "at least one"),
        (lambda: spike(10, 100, at_s=9, spike_s=5, duration_s=10), "spike"),
        (lambda: constant(5_000_000, 1), "rate"),
    ],
)
def test_impossible_profiles_are_refused_with_the_value(make: object, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        make()  # type: ignore[operator]
