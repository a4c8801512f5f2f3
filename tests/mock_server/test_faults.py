"""FaultInjector: seeded, deterministic fault kinds and latencies that match the configured fractions."""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from typing import Any

import pytest

from mock_server._config import MockConfig
from mock_server._faults import FaultDecision, FaultInjector

DRAWS = 10_000


def decisions(config: dict[str, Any], seed: int, family: str = "transcripts", method: str = "POST") -> list[Any]:
    injector = FaultInjector(random.Random(seed))
    c = MockConfig.from_json(config)
    return [injector.decide(c, family, method) for _ in range(DRAWS)]


def test_no_faults_no_latency_draws_nothing() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    decision = FaultInjector(rng).decide(MockConfig(), "transcripts", "POST")
    assert decision == FaultDecision("none", 0.0)
    assert rng.getstate() == state


def test_fixed_latency_per_family() -> None:
    c = MockConfig.from_json({"latency_ms": {"ms": 10, "routes": {"media": 250}}})
    injector = FaultInjector(random.Random(0))
    assert injector.decide(c, "transcripts", "GET") == FaultDecision("none", 0.01)
    assert injector.decide(c, "media", "GET") == FaultDecision("none", 0.25)


def test_same_seed_same_faults_different_seed_different_faults() -> None:
    config = {
        "faults": {"error_5xx": 0.2, "reset_before": 0.1, "reset_after_commit": 0.1, "latency_spike": 0.05},
        "latency_ms": {"distribution": "uniform", "low_ms": 1, "high_ms": 9},
    }
    assert decisions(config, 7) == decisions(config, 7)
    assert decisions(config, 7) != decisions(config, 8)


def test_fractions_roughly_match_over_10k_draws() -> None:
    config = {"faults": {"error_5xx": 0.1, "reset_before": 0.05, "reset_after_commit": 0.2}}
    counts = Counter(d.kind for d in decisions(config, 3))
    # 4 standard deviations of a binomial: a correct injector fails this about once in 15,000 runs.
    for kind, p in (("error_5xx", 0.1), ("reset_before", 0.05), ("reset_after_commit", 0.2)):
        tolerance = 4 * math.sqrt(DRAWS * p * (1 - p))
        assert abs(counts[kind] - DRAWS * p) < tolerance, (kind, counts)


def test_reset_after_commit_only_for_post() -> None:
    config = {"faults": {"reset_after_commit": 0.5}}
    for method in ("GET", "DELETE"):
        assert {d.kind for d in decisions(config, 1, method=method)} == {"none"}
    assert "reset_after_commit" in {d.kind for d in decisions(config, 1, method="POST")}


def test_every_draw_is_a_fault_when_the_fractions_sum_to_one() -> None:
    config = {"faults": {"error_5xx": 0.5, "reset_before": 0.5}}
    assert {d.kind for d in decisions(config, 2)} == {"error_5xx", "reset_before"}


def test_latency_spikes_add_spike_ms_at_the_configured_rate() -> None:
    config = {"latency_ms": 20, "faults": {"latency_spike": 0.1, "spike_ms": 500}}
    got = Counter(round(d.latency_s, 6) for d in decisions(config, 5))
    assert set(got) == {0.02, 0.52}
    assert abs(got[0.52] - 1000) < 4 * math.sqrt(DRAWS * 0.1 * 0.9)
    assert all(d.kind == "none" for d in decisions(config, 5))


def test_uniform_latency_stays_in_its_range_and_spreads() -> None:
    config = {"latency_ms": {"distribution": "uniform", "low_ms": 5, "high_ms": 40}}
    samples = [d.latency_s * 1000 for d in decisions(config, 9)]
    assert min(samples) >= 5
    assert max(samples) <= 40
    assert statistics.mean(samples) == pytest.approx(22.5, abs=1.0)


def test_lognormal_latency_has_the_configured_median_and_spread() -> None:
    config = {"latency_ms": {"routes": {"sentences": {"distribution": "lognormal", "median_ms": 30, "sigma": 0.5}}}}
    samples = [d.latency_s * 1000 for d in decisions(config, 11, family="sentences")]
    assert statistics.median(samples) == pytest.approx(30, rel=0.05)
    assert statistics.stdev(math.log(s) for s in samples) == pytest.approx(0.5, rel=0.05)
    assert {d.latency_s for d in decisions(config, 11, family="services")} == {0.0}  # other routes: default
