"""Per-account admission: Twilio's concurrency gate, token buckets per route family, and a capacity schedule.

Twilio documents one per-account limit, on *concurrent* requests: a request beyond it is answered 429 / 20429 at
once and is not processed (twilio-wire.md §5). `AccountLimiter.admit` therefore raises before the caller does any
work, and a refused request never holds a slot or spends a token. Token buckets per route family (`rate_limits`)
and a time-varying concurrency limit (`capacity_schedule`, measured from when the config was applied) let tests
model a service whose capacity changes under load.

`admit` sits on the hot path of the throughput benchmark: with no limit configured it bumps two counters and
returns a shared `Admission`; with limits it does O(1) work (the schedule pointer only moves forward).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mock_server._clock import Clock
from mock_server._config import MockConfig, RateLimit
from mock_server._errors import ApiError, too_many_requests

__all__ = ["AccountLimiter", "Admission"]


class Admission:
    """One admitted request: the rate-limit headers its response carries (empty when no limit applies)."""

    __slots__ = ("headers",)

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def __repr__(self) -> str:
        return f"Admission({self.headers!r})"


# Shared by every request admitted with no limit in force: nothing per request to allocate.
_FREE = Admission({})


class _Bucket:
    """A token bucket refilled lazily from the clock: `burst` tokens at most, `per_second` added each second."""

    __slots__ = ("burst", "last", "per_second", "tokens")

    def __init__(self, rate: RateLimit, now: float) -> None:
        self.per_second = rate.per_second
        self.burst = rate.burst
        self.tokens = float(rate.burst)
        self.last = now

    def refill(self, now: float) -> None:
        if now > self.last:  # a wall clock may step back; never un-grant tokens for that
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.per_second)
            self.last = now

    def wait_s(self) -> float:
        """Seconds until one whole token is available."""
        return max(0.0, (1.0 - self.tokens) / self.per_second)


class AccountLimiter:
    """One account's admission control, reconfigurable while requests are in flight."""

    def __init__(self, config: MockConfig, clock: Clock) -> None:
        self._clock = clock
        self.in_flight = 0
        self.peak_in_flight = 0
        self.rejected_429 = 0
        self._buckets: dict[str, _Bucket] = {}
        self._rates: Mapping[str, RateLimit] = {}
        self.reconfigure(config)

    # --- configuration ----------------------------------------------------------------------------------------

    def reconfigure(self, config: MockConfig) -> None:
        """Apply a new config: the capacity schedule restarts now; unchanged buckets keep their tokens."""
        now = self._clock.now()
        self._config = config
        self._active = config.has_limits
        self._retry_after = config.retry_after
        buckets: dict[str, _Bucket] = {}
        for family, rate in config.rate_limits.items():
            old = self._buckets.get(family)
            keep = old is not None and self._rates.get(family) == rate
            buckets[family] = old if keep and old is not None else _Bucket(rate, now)
        self._buckets = buckets
        self._rates = dict(config.rate_limits)
        self._applied_at = now
        self._steps = config.capacity_schedule
        self._step_index = 0  # steps[:index] have started
        self._limit = config.concurrency_limit
        self._next_step_at = self._step_time(0)
        self._config_text: dict[str, str] = {}
        self._advance(now)

    def _step_time(self, index: int) -> float:
        return self._applied_at + self._steps[index].at_s if index < len(self._steps) else math.inf

    def _advance(self, now: float) -> None:
        """Move the schedule pointer past every step that has started (amortised O(1) per call)."""
        if now < self._next_step_at:
            return
        while now >= self._next_step_at:
            self._limit = self._steps[self._step_index].concurrency_limit
            self._step_index += 1
            self._next_step_at = self._step_time(self._step_index)
        self._config_text = {}  # the concurrency part of X-Rate-Limit-Config changed

    @property
    def current_limit(self) -> int | None:
        """The concurrency limit in force now (the latest started schedule step, else `concurrency_limit`)."""
        self._advance(self._clock.now())
        return self._limit

    # --- the hot path -----------------------------------------------------------------------------------------

    def admit(self, family: str) -> Admission:
        """Admit one request of `family`, or raise 429 / 20429 at once (the request must then not be processed)."""
        if not self._active:
            n = self.in_flight + 1
            self.in_flight = n
            if n > self.peak_in_flight:
                self.peak_in_flight = n
            return _FREE
        return self._admit_limited(family)

    def release(self, admission: Admission) -> None:
        """The admitted request has been answered (or dropped): free its concurrency slot."""
        self.in_flight -= 1

    def _admit_limited(self, family: str) -> Admission:
        now = self._clock.now()
        if now >= self._next_step_at:
            self._advance(now)
        limit = self._limit
        in_flight = self.in_flight
        # The concurrency gate first: a refused request must not spend a token.
        if limit is not None and in_flight >= limit:
            self.rejected_429 += 1
            raise self._refusal(family, limit, 0, 1.0)
        bucket = self._buckets.get(family)
        if bucket is not None:
            bucket.refill(now)
            if bucket.tokens < 1.0:
                self.rejected_429 += 1
                raise self._refusal(family, bucket.burst, 0, bucket.wait_s())
            bucket.tokens -= 1.0
        n = in_flight + 1
        self.in_flight = n
        if n > self.peak_in_flight:
            self.peak_in_flight = n
        # Report whichever limit is closer to refusing the next request.
        if limit is not None and (bucket is None or limit - n <= bucket.tokens):
            return Admission(self._headers(family, limit, limit - n))
        if bucket is not None:
            return Admission(self._headers(family, bucket.burst, int(bucket.tokens)))
        return _FREE

    # --- headers ----------------------------------------------------------------------------------------------

    def _refusal(self, family: str, limit: int, remaining: int, wait_s: float) -> ApiError:
        headers = self._headers(family, limit, remaining)
        if self._retry_after:
            # Integer seconds (RFC 9110), rounded up and never 0, so a client that honours it waits long enough.
            headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
        return too_many_requests(headers)

    def _headers(self, family: str, limit: int, remaining: int) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, remaining)),
            "X-Rate-Limit-Config": self._describe(family),
        }

    def _describe(self, family: str) -> str:
        """X-Rate-Limit-Config: what limits this family, e.g. "concurrency=10;transcripts=5/s,burst=20"."""
        text = self._config_text.get(family)
        if text is None:
            parts = []
            if self._limit is not None:
                parts.append(f"concurrency={self._limit}")
            rate = self._rates.get(family)
            if rate is not None:
                parts.append(f"{family}={rate.per_second:g}/s,burst={rate.burst}")
            text = ";".join(parts)
            self._config_text[family] = text
        return text
