"""The allowed range of every number the mock is configured with, in one table.

A duration nobody meant (`latency_ms: 1e308`, `lifecycle.seconds: inf`, a retry base of a year) would hang requests
or webhooks instead of failing loudly, so every number in the configuration has a range here; the parser refuses
anything outside it (and every NaN or infinity) with an error naming the key and the range. README's configuration
table lists the same ranges; `tests/mock_server/test_bounds.py` drives every entry.

Keys are written as paths in a config document: `*` stands for a route family, `[]` for a list index, and the
latency keys hold for the top-level `latency_ms` and for every `latency_ms.routes.<family>` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BOUNDS",
    "MAX_CAPACITY_STEPS",
    "MAX_LATENCY_MS",
    "MAX_RETRY_WAIT_MS",
    "SEED",
    "Bound",
]


@dataclass(frozen=True, slots=True)
class Bound:
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


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


MAX_LATENCY_MS = 60_000.0  # one answer never takes longer than a minute (a spike adds at most another)
MAX_RETRY_WAIT_MS = 60_000.0  # one webhook retry never waits longer than this, whatever the backoff says
MAX_CAPACITY_STEPS = 1_000

_LATENCY = Bound(0, MAX_LATENCY_MS, "milliseconds")
_FRACTION = Bound(0, 1)
_LIMIT = Bound(1, 1_000_000, "requests in flight", integer=True)

BOUNDS: dict[str, Bound] = {
    "concurrency_limit": _LIMIT,
    "latency_ms": _LATENCY,  # the plain-number form
    "latency_ms.ms": _LATENCY,
    "latency_ms.low_ms": _LATENCY,
    "latency_ms.high_ms": _LATENCY,
    "latency_ms.median_ms": _LATENCY,
    "latency_ms.sigma": Bound(0, 10),
    "rate_limits.*.per_second": Bound(0.001, 1_000_000, "requests per second"),
    "rate_limits.*.burst": Bound(1, 1_000_000, "requests", integer=True),
    "capacity_schedule[].at_s": Bound(0, 86_400, "seconds"),
    "capacity_schedule[].concurrency_limit": _LIMIT,
    "lifecycle.seconds": Bound(0, 86_400, "seconds"),
    "lifecycle.per_media_second": Bound(0, 10, "seconds per second of media"),
    "lifecycle.polls": Bound(1, 10_000, "fetches", integer=True),
    "lifecycle.failure_rate": _FRACTION,
    "faults.error_5xx": _FRACTION,
    "faults.reset_before": _FRACTION,
    "faults.reset_after_commit": _FRACTION,
    "faults.latency_spike": _FRACTION,
    "faults.spike_ms": Bound(0, MAX_LATENCY_MS, "milliseconds"),
    "webhook_faults.drop": _FRACTION,
    "webhook_faults.duplicate": _FRACTION,
    "webhook_faults.reorder": _FRACTION,
    "webhook_faults.delay_ms": Bound(0, 60_000, "milliseconds"),
    "webhook_faults.max_attempts": Bound(1, 10, "attempts", integer=True),
    "webhook_faults.retry_base_ms": Bound(0, 60_000, "milliseconds"),
    "media_url_ttl_s": Bound(1, 604_800, "seconds", integer=True),
    # Twilio tries a download for up to 10 minutes and takes recordings up to 3 GB (twilio-wire.md §2.3).
    "media.timeout_s": Bound(0.01, 600, "seconds"),
    "media.max_bytes": Bound(1, 3 * 1024**3, "bytes", integer=True),
    "media.max_redirects": Bound(0, 20, "redirects", integer=True),
}

# `--seed N` and `POST /__mock__/seed`: any 63-bit non-negative integer.
SEED = Bound(0, 2**63 - 1, integer=True)
