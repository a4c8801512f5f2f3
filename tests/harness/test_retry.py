"""RetryPolicy and compute_backoff: bounds, monotonicity, Retry-After, the budget, hooks and the zero-wait mode."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import RetryBudget, RetryEvent, RetryPolicy, compute_backoff

policies = st.builds(
    RetryPolicy,
    base_s=st.floats(min_value=0.0, max_value=5.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    max_backoff_s=st.floats(min_value=0.0, max_value=60.0),
    jitter=st.booleans(),
)


@given(policy=policies, attempt=st.integers(min_value=1, max_value=200), seed=st.integers())
def test_backoff_within_bounds(policy: RetryPolicy, attempt: int, seed: int) -> None:
    """0 ≤ wait ≤ min(max_backoff_s, base_s × multiplier^(attempt−1)), for any attempt (no overflow)."""
    wait = compute_backoff(policy, attempt, random.Random(seed))
    cap = min(policy.max_backoff_s, policy.base_s * policy.multiplier ** min(attempt - 1, 64))

    assert 0.0 <= wait <= cap + 1e-12


@given(policy=policies, attempt=st.integers(min_value=1, max_value=100))
def test_backoff_without_jitter_is_non_decreasing(policy: RetryPolicy, attempt: int) -> None:
    """Without jitter the wait never shrinks from one attempt to the next."""
    fixed = dataclasses.replace(policy, jitter=False)

    assert compute_backoff(fixed, attempt) <= compute_backoff(fixed, attempt + 1)


@given(policy=policies, attempt=st.integers(min_value=1, max_value=50), retry_after=st.floats(0.0, 120.0))
def test_retry_after_is_a_lower_bound(policy: RetryPolicy, attempt: int, retry_after: float) -> None:
    """A Retry-After header is honoured: the wait is at least that long."""
    assert compute_backoff(policy, attempt, random.Random(0), retry_after) >= retry_after


def test_formula_without_jitter() -> None:
    """base × multiplier^(attempt−1), capped."""
    policy = RetryPolicy(base_s=0.1, multiplier=2.0, max_backoff_s=1.0, jitter=False)

    assert [policy.compute_backoff(n) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])


def test_no_wait_mode_waits_zero() -> None:
    """The test mode keeps the decisions and drops the waits."""
    policy = RetryPolicy.no_wait(max_attempts=3)

    assert policy.max_attempts == 3
    assert all(policy.compute_backoff(n, random.Random(n)) == 0.0 for n in range(1, 20))


def test_policy_is_frozen_and_validated() -> None:
    """Policies are immutable values; nonsense is refused at construction."""
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)
    with pytest.raises(ValueError, match="1-based"):
        compute_backoff(policy, 0)


def test_budget_drains_on_retries_and_refills_on_success() -> None:
    """AWS-style quota: retries cost tokens (timeouts more), successes refund, an empty budget refuses."""
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10, success_refund=1)

    assert budget.try_spend(timeout=True)
    assert budget.try_spend(timeout=False)
    assert budget.try_spend(timeout=False)
    assert not budget.try_spend(timeout=False)  # 0 left
    for _ in range(5):
        budget.refund()
    assert budget.try_spend(timeout=False)
    for _ in range(100):
        budget.refund()
    assert budget.tokens == 20


def test_hook_is_not_part_of_equality() -> None:
    """Two policies that decide alike are equal whatever hook they report to."""
    events: list[RetryEvent] = []

    assert RetryPolicy(on_retry=events.append) == RetryPolicy()
