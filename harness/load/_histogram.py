"""A small HDR-style log-linear histogram of latencies in microseconds.

Why not the `hdrhistogram` wheel: recording is the one step on the generator's hot path (one call per request,
thousands per second), and here a record is a rounding, one `bit_length`, a shift and a dict increment. Measured
side by side on this machine (300,000 values, BENCHMARKS.md): `hdrhistogram` 0.10.8's `record_value` took 1.0–1.4 µs
a value, this `record` 0.5 µs (its percentile read is slower, but it runs once a second). The wheel would also be a
dependency, and its merge format (base64 + zlib) says less in a JSON report than plain (index, count) pairs.

Layout (HdrHistogram's, with `SUB_BUCKET_BITS` = 8): values below 256 µs have a bucket each (exact); above that,
every power of two is cut into 128 equal buckets. A bucket's width is at most 1/128 of its lower bound, and a
percentile is reported as its bucket's midpoint, so it is within `RELATIVE_ERROR` (1/256 ≈ 0.4 %) of the exact
value. Values are clamped to [0, `HIGHEST_US`] (one hour); the exact maximum and minimum are kept apart from the
buckets. Histograms with this layout merge exactly (counts add).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

SUB_BUCKET_BITS = 8
SUB_BUCKETS = 1 << SUB_BUCKET_BITS  # 256: exact below this many microseconds
HALF = SUB_BUCKETS >> 1  # buckets per power of two above the exact range
HIGHEST_US = 3_600_000_000  # one hour
RELATIVE_ERROR = 1.0 / SUB_BUCKETS


def bucket_index(value_us: int) -> int:
    """The bucket a (clamped, non-negative) integer value falls in."""
    if value_us < SUB_BUCKETS:
        return max(0, value_us)
    shift = value_us.bit_length() - SUB_BUCKET_BITS
    return SUB_BUCKETS + (shift - 1) * HALF + (value_us >> shift) - HALF


def bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) of a bucket, in microseconds."""
    if index < SUB_BUCKETS:
        return index, index + 1
    shift, offset = divmod(index - SUB_BUCKETS, HALF)
    shift += 1
    low = (offset + HALF) << shift
    return low, low + (1 << shift)


def bucket_value(index: int) -> float:
    """The value a bucket stands for: itself in the exact range, else its midpoint."""
    low, high = bucket_bounds(index)
    return float(low) if high - low == 1 else (low + high) / 2.0


BUCKETS = bucket_index(HIGHEST_US) + 1


class Histogram:
    """Counts of latencies by log-linear bucket; `record` takes seconds (as a float) and is the hot path."""

    __slots__ = ("counts", "max_us", "min_us", "total", "total_us")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.total_us = 0
        self.max_us = 0
        self.min_us = HIGHEST_US

    def record(self, seconds: float) -> None:
        value = int(seconds * 1_000_000 + 0.5)  # to the nearest microsecond (int() alone floors 2.9999… to 2)
        if value < 0:
            value = 0
        elif value > HIGHEST_US:
            value = HIGHEST_US
        if value < SUB_BUCKETS:
            index = value
        else:
            shift = value.bit_length() - SUB_BUCKET_BITS
            index = SUB_BUCKETS + (shift - 1) * HALF + (value >> shift) - HALF
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.total += 1
        self.total_us += value
        if value > self.max_us:
            self.max_us = value
        if value < self.min_us:
            self.min_us = value

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts to this one (exact: same layout)."""
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n
        self.total += other.total
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)
        self.min_us = min(self.min_us, other.min_us)

    def percentile(self, p: float) -> float | None:
        """The p-th percentile (0 < p ≤ 100) in microseconds, nearest-rank, or None when empty.

        The exact maximum is returned for p = 100, and no percentile is reported above it (a bucket's midpoint can
        lie above the largest value recorded in it)."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Iterable[float]) -> list[float | None]:
        wanted = list(ps)
        if self.total == 0:
            return [None] * len(wanted)
        ranks = [max(1, math.ceil(p / 100.0 * self.total)) for p in wanted]
        order = sorted(range(len(wanted)), key=ranks.__getitem__)
        out: list[float | None] = [None] * len(wanted)
        seen = 0
        position = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            while position < len(order) and ranks[order[position]] <= seen:
                rank = ranks[order[position]]
                # The top rank is the maximum, which is known exactly.
                out[order[position]] = (
                    float(self.max_us) if rank >= self.total else min(bucket_value(index), float(self.max_us))
                )
                position += 1
            if position == len(order):
                break
        for rest in order[position:]:
            out[rest] = float(self.max_us)
        return out

    @property
    def mean_us(self) -> float | None:
        return self.total_us / self.total if self.total else None

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """(bucket index, count) in increasing order of latency."""
        return iter(sorted(self.counts.items()))

    def to_json(self) -> dict[str, object]:
        """Plain JSON: sparse (index, count) pairs plus the exact extremes; `from_json` reads it back."""
        return {
            "layout": f"log-linear/{SUB_BUCKET_BITS}",
            "unit": "us",
            "total": self.total,
            "total_us": self.total_us,
            "min_us": self.min_us if self.total else None,
            "max_us": self.max_us if self.total else None,
            "buckets": [[index, n] for index, n in self],
        }

    @classmethod
    def from_json(cls, data: dict[str, object], where: str = "histogram") -> Histogram:
        if data.get("layout") != f"log-linear/{SUB_BUCKET_BITS}":
            raise ValueError(f"{where}: layout {data.get('layout')!r} is not log-linear/{SUB_BUCKET_BITS}")
        histogram = cls()
        buckets = data.get("buckets")
        if not isinstance(buckets, list):
            raise ValueError(f"{where}: 'buckets' must be a list of [index, count] pairs")
        for pair in buckets:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(x, int) for x in pair)
                or not 0 <= pair[0] < BUCKETS
                or pair[1] < 0
            ):
                raise ValueError(f"{where}: bad bucket {pair!r}")
            histogram.counts[pair[0]] = histogram.counts.get(pair[0], 0) + pair[1]
        histogram.total = sum(histogram.counts.values())
        total_us, low, high = data.get("total_us"), data.get("min_us"), data.get("max_us")
        histogram.total_us = total_us if isinstance(total_us, int) else 0
        if histogram.total:
            histogram.min_us = low if isinstance(low, int) else bucket_bounds(min(histogram.counts))[0]
            histogram.max_us = high if isinstance(high, int) else bucket_bounds(max(histogram.counts))[1] - 1
        return histogram
