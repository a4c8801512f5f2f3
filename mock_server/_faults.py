"""Seeded fault and latency decisions for one request: what goes wrong, and how long the answer takes.

Every draw comes from the injected `random.Random`, and a decision draws a fixed number of values for a given
config, so the same seed and the same sequence of requests give the same faults (DESIGN.md "Deterministic by
seed"). With no latency and no faults configured `decide` draws nothing and returns a shared constant.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from mock_server._bounds import MAX_LATENCY_MS
from mock_server._config import LatencySpec, MockConfig

__all__ = ["FaultDecision", "FaultInjector", "FaultKind", "sample_latency_ms"]

FaultKind = Literal["none", "error_5xx", "reset_before", "reset_after_commit"]


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request: a fault kind, and the latency (seconds, spike included) to wait first."""

    kind: FaultKind
    latency_s: float


_NOTHING = FaultDecision("none", 0.0)


def sample_latency_ms(spec: LatencySpec, rng: random.Random) -> float:
    """One latency draw in milliseconds from `spec` (fixed draws nothing from `rng`), at most `MAX_LATENCY_MS`."""
    if spec.distribution == "fixed":
        return spec.ms
    if spec.distribution == "uniform":
        return rng.uniform(spec.low_ms, spec.high_ms)
    # lognormal: median = exp(mu), so mu = ln(median); a zero median means no latency (still one draw, for
    # determinism across configs that differ only in the median). Its tail is unbounded: a draw is capped, so
    # even sigma = 10 never holds a request longer than the configured maximum.
    draw = rng.gauss(0.0, 1.0)
    if spec.median_ms <= 0:
        return 0.0
    return min(MAX_LATENCY_MS, spec.median_ms * math.exp(min(spec.sigma * draw, 700.0)))  # exp(>709) overflows


class FaultInjector:
    """Decides faults and latency for requests, from one seeded generator."""

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def decide(self, config: MockConfig, family: str, method: str) -> FaultDecision:
        """The fault (if any) and latency for one request of `family` with HTTP `method`.

        `reset_after_commit` means "the operation happened but the answer was lost", which only matters for a
        write; for any other method that share of draws is treated as no fault.
        """
        latency = config.latency_ms
        spec = latency.routes.get(family, latency.default) if latency.routes else latency.default
        latency_ms = spec.ms if spec.distribution == "fixed" else sample_latency_ms(spec, self.rng)
        faults = config.faults
        if not faults.any:
            return _NOTHING if latency_ms <= 0 else FaultDecision("none", latency_ms / 1000.0)
        rng = self.rng
        # Always two draws when any fault is configured, so one request's outcome never shifts the next one's.
        spike_draw = rng.random()
        kind_draw = rng.random()
        if spike_draw < faults.latency_spike:
            latency_ms += faults.spike_ms
        kind: FaultKind = "none"
        threshold = faults.error_5xx
        if kind_draw < threshold:
            kind = "error_5xx"
        else:
            threshold += faults.reset_before
            if kind_draw < threshold:
                kind = "reset_before"
            elif kind_draw < threshold + faults.reset_after_commit and method == "POST":
                kind = "reset_after_commit"
        if kind == "none" and latency_ms <= 0:
            return _NOTHING
        return FaultDecision(kind, max(0.0, latency_ms) / 1000.0)
