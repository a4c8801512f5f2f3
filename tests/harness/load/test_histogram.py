"""The log-linear histogram: percentiles within its stated relative error of the exact ones, exact merges."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load._histogram import (
    BUCKETS,
    HIGHEST_US,
    RELATIVE_ERROR,
    Histogram,
    bucket_bounds,
    bucket_index,
)

latencies_us = st.lists(st.integers(min_value=0, max_value=HIGHEST_US), min_size=1, max_size=400)
percentiles = st.floats(min_value=0.01, max_value=100.0)


def exact_percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1]


def histogram_of(values: list[int]) -> Histogram:
    h = Histogram()
    for v in values:
        h.record(v / 1_000_000)
    return h


@given(latencies_us, percentiles)
@settings(max_examples=300)
def test_percentile_is_within_the_stated_relative_error(values: list[int], p: float) -> None:
    got = histogram_of(values).percentile(p)
    exact = exact_percentile(values, p)
    assert got is not None
    assert abs(got - exact) <= max(RELATIVE_ERROR * exact, 0.5)


@given(latencies_us)
def test_max_min_count_and_mean_are_exact(values: list[int]) -> None:
    h = histogram_of(values)
    assert (h.total, h.max_us, h.min_us) == (len(values), max(values), min(values))
    assert h.percentile(100) == max(values)
    assert h.mean_us == pytest.approx(sum(values) / len(values))


@given(latencies_us, latencies_us)
def test_merge_equals_recording_everything_in_one(a: list[int], b: list[int]) -> None:
    merged = histogram_of(a)
    merged.merge(histogram_of(b))
    together = histogram_of(a + b)
    assert merged.counts == together.counts
    assert (merged.total, merged.max_us, merged.min_us) == (together.total, together.max_us, together.min_us)


@given(latencies_us)
def test_json_round_trip_keeps_every_count(values: list[int]) -> None:
    h = histogram_of(values)
    back = Histogram.from_json(h.to_json())
    assert back.counts == h.counts
    assert (back.total, back.max_us, back.min_us, back.total_us) == (h.total, h.max_us, h.min_us, h.total_us)


@given(st.integers(min_value=0, max_value=HIGHEST_US))
def test_every_value_lies_in_its_bucket_and_buckets_are_narrow(value: int) -> None:
    index = bucket_index(value)
    low, high = bucket_bounds(index)
    assert 0 <= index < BUCKETS
    assert low <= value < high
    assert high - low == 1 or (high - low) / low <= 2 * RELATIVE_ERROR


def test_out_of_range_values_are_clamped_and_empty_has_no_percentile() -> None:
    h = Histogram()
    assert h.percentile(50) is None
    h.record(-1.0)
    h.record(10 * 3600.0)
    assert (h.min_us, h.max_us) == (0, HIGHEST_US)


@pytest.mark.parametrize(
    "bad",
    [{"layout": "other"}, {"layout": "log-linear/8", "buckets": "x"}, {"layout": "log-linear/8", "buckets": [[-1, 2]]}],
)
def test_a_malformed_histogram_is_refused_by_name(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="where"):
        Histogram.from_json(bad, where="where")
