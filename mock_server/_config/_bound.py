"""Ranges: every number in the configuration is declared with one (`Annotated[float, LATENCY]`).

A duration nobody meant (`latency_ms: 1e308`, `lifecycle.seconds: inf`, a retry base of a year) would hang requests
or webhooks instead of failing loudly, so every number the mock is configured with has a range, and anything outside
it — and every NaN or infinity, and `1.0` where an integer is meant — is refused with an error naming the key and the
range. A `Bound` is at once the range pydantic enforces (it unpacks into `Ge`, `Le`, `Strict` and, for reals,
`AllowInfNan(False)`), the words of the error message and the range column of the reference table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import AllowInfNan, Strict

__all__ = [
    "FRACTION",
    "LATENCY",
    "LIMIT",
    "MAX_CAPACITY_STEPS",
    "MAX_LATENCY_MS",
    "MAX_RETRY_WAIT_MS",
    "SEED",
    "Bound",
]


@dataclass(frozen=True, slots=True)
class Bound(annotated_types.GroupedMetadata):
    """A closed range `[low, high]`, in `unit`; `integer` when only whole numbers are meaningful."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        unit = f" ({self.unit})" if self.unit else ""
        return f"{kind} from {_show(self.low)} to {_show(self.high)}{unit}"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high  # False for NaN

    def admits(self, value: Any) -> bool:
        """Whether `value` is a JSON number of the right kind inside the range — what the pydantic checks accept."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer:
            return isinstance(value, int) and self.contains(value)
        return math.isfinite(value) and self.contains(value)

    def ends(self) -> tuple[float, float]:
        """`(low, high)`, whole numbers as integers: the JSON Schema then reads `"maximum": 60000`, not `60000.0`."""
        return _whole(self.low), _whole(self.high)

    def __iter__(self) -> Iterator[object]:
        # Strict: "10", true and (for integers) 1.0 are refused, not coerced.
        low, high = self.ends()
        yield Strict()
        yield annotated_types.Ge(low)
        yield annotated_types.Le(high)
        if not self.integer:
            yield AllowInfNan(False)


def _whole(value: float) -> float:
    return int(value) if value == int(value) else value


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


MAX_LATENCY_MS = 60_000.0  # one answer never takes longer than a minute (a spike adds at most another)
MAX_RETRY_WAIT_MS = 60_000.0  # one webhook retry never waits longer than this, whatever the backoff says
MAX_CAPACITY_STEPS = 1_000

LATENCY = Bound(0, MAX_LATENCY_MS, "milliseconds")
FRACTION = Bound(0, 1)
LIMIT = Bound(1, 1_000_000, "requests in flight", integer=True)

# `--seed N` and `POST /__mock__/seed`: any 63-bit non-negative integer (not a configuration key).
SEED = Bound(0, 2**63 - 1, integer=True)
