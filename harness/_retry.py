"""Retries: what is retried, how long to wait, and when to stop.

What is retried
- 429 always: Twilio answers 20429 *before* processing ("safe to retry after backing off").
- 5xx and transport errors only for idempotent requests (GET, DELETE), and for any request known not to have
  reached the server (connection refused).
- A create whose outcome is unknown — sent, then a timeout or a reset — is *not* retried: it raises
  `OutcomeUnknown` so the caller can reconcile by CustomerKey instead of making a second transcript.

How long to wait — `compute_backoff(attempt)` is pure (the random source is a parameter):

    cap_n  = min(max_backoff_s, base_s × multiplier ** (attempt − 1))      attempt = 1, 2, …
    wait_n = uniform(0, cap_n)   with jitter ("full jitter", AWS Architecture Blog, 2015)
    wait_n = cap_n               without jitter (non-decreasing in attempt)

A `Retry-After` header, when present, is honoured: the wait is at least that long.

When to stop: `max_attempts` attempts, or `max_elapsed_s` since the first one, or — for 5xx and transport errors —
when the `RetryBudget` is empty. The budget is AWS SDK "standard mode"'s retry quota: a bucket of `capacity` tokens;
a retry costs `retry_cost` (`timeout_cost` after a timeout), a success returns `success_refund`. A healthy service
refills it; a failing one drains it, and then requests fail fast instead of multiplying the load. 429s do not
draw on it — the adaptive limiter answers those by sending less.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryEvent:
    """Passed to `RetryPolicy.on_retry` before each wait: for logging and metrics."""

    attempt: int
    wait_s: float
    reason: str
    method: str
    path: str
    detail: str = ""  # the error's message (no credentials: URLs carry no query string here)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_elapsed_s: float = 600.0
    base_s: float = 0.1
    multiplier: float = 2.0
    max_backoff_s: float = 20.0
    jitter: bool = True
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError("base_s and max_backoff_s must be ≥ 0 and multiplier ≥ 1")

    @classmethod
    def no_wait(cls, max_attempts: int = 8) -> RetryPolicy:
        """Same decisions, zero waits: for tests."""
        return cls(max_attempts=max_attempts, base_s=0.0, max_backoff_s=0.0, jitter=False)

    def compute_backoff(
        self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None
    ) -> float:
        return compute_backoff(self, attempt, rng, retry_after)


def compute_backoff(
    policy: RetryPolicy, attempt: int, rng: random.Random | None = None, retry_after: float | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (1-based); formula in the module docstring."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    exponent = min(attempt - 1, 64)  # beyond this the cap wins anyway; avoids float overflow
    cap = min(policy.max_backoff_s, policy.base_s * policy.multiplier**exponent)
    wait = (rng or random).uniform(0.0, cap) if policy.jitter else cap
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


@dataclass
class RetryBudget:
    capacity: float = 500.0
    retry_cost: float = 5.0
    timeout_cost: float = 10.0
    success_refund: float = 1.0
    tokens: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def try_spend(self, *, timeout: bool) -> bool:
        cost = self.timeout_cost if timeout else self.retry_cost
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def refund(self) -> None:
        self.tokens = min(self.capacity, self.tokens + self.success_refund)
