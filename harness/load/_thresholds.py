"""Thresholds: `p99<800ms`, `429_rate<2%`, `goodput>0.95`, `create.p99<1s` — parsed eagerly, judged at the end.

Grammar: `[OPERATION.]METRIC COMPARATOR VALUE[UNIT]`, comparator one of < <= > >=.

    latency (ms unless a unit is given: us, ms, s)  p50 p90 p95 p99 p99.9 max mean, webhook_lag_p50 webhook_lag_p99
                                                    webhook_lag_max, schedule_lag_p99
    fractions (0.02 or 2%)                          429_rate 5xx_rate error_rate dropped_rate goodput
    rates (per second; "/s" optional)               achieved_rate

`429_rate`, `5xx_rate` and `error_rate` (5xx, other 4xx and transport errors — not 429s) are fractions of the
requests that got an outcome; `dropped_rate` and `goodput` (2xx answers) are fractions of the offered arrivals, so
arrivals the generator dropped count against goodput. A threshold without data (no request got an answer, no
callback came) is crossed: a run that measured nothing must not pass CI. Any crossed threshold makes `cintel load`
exit 99 (k6's convention).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.load._units import OPERATIONS

LATENCY_METRICS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")
LAG_METRICS = ("webhook_lag_p50", "webhook_lag_p99", "webhook_lag_max", "schedule_lag_p99")
FRACTION_METRICS = ("429_rate", "5xx_rate", "error_rate", "dropped_rate", "goodput")
RATE_METRICS = ("achieved_rate",)
METRICS = LATENCY_METRICS + LAG_METRICS + FRACTION_METRICS + RATE_METRICS
_EXPRESSION = re.compile(r"^\s*(?:([a-z_]+)\.)?([a-z0-9_.]+?)\s*(<=|>=|<|>)\s*([0-9.eE+-]+)\s*(%|us|µs|ms|s|/s)?\s*$")
_TIME_UNITS_MS = {None: 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class ThresholdError(ValueError):
    """A threshold expression that cannot be read; the message quotes it."""


@dataclass(frozen=True)
class Threshold:
    expression: str
    metric: str
    operation: str | None  # None: every operation together
    comparator: str
    limit: float  # ms for latencies, a fraction for rates of requests, per second for achieved_rate

    @property
    def unit(self) -> str:
        if self.metric in FRACTION_METRICS:
            return ""
        return "/s" if self.metric in RATE_METRICS else "ms"


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    actual: float | None
    passed: bool

    def to_json(self) -> dict[str, Any]:
        t = self.threshold
        return {
            "expression": t.expression, "metric": t.metric, "operation": t.operation, "comparator": t.comparator,
            "limit": t.limit, "unit": t.unit, "actual": self.actual, "passed": self.passed,
        }  # fmt: skip

    def describe(self) -> str:
        t = self.threshold
        actual = "no data" if self.actual is None else _show(self.actual, t)
        verdict = "ok" if self.passed else "CROSSED"
        return f"{verdict:7} {t.expression}  (actual {actual})"


def _show(value: float, threshold: Threshold) -> str:
    if threshold.metric in FRACTION_METRICS:
        return f"{value * 100:.3g}%"
    return f"{value:.4g}{threshold.unit}"


def parse_threshold(text: str) -> Threshold:
    """One expression; `ThresholdError` quotes it and says what is wrong."""
    if not isinstance(text, str):
        raise ThresholdError(f"threshold {text!r}: must be a string like 'p99<800ms'")
    match = _EXPRESSION.match(text)
    if not match:
        raise ThresholdError(f"threshold {text!r}: not METRIC<VALUE (like 'p99<800ms', '429_rate<2%', 'goodput>0.95')")
    operation, metric, comparator, number, unit = match.groups()
    if operation is not None and operation not in OPERATIONS:
        raise ThresholdError(f"threshold {text!r}: unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
    if metric not in METRICS:
        raise ThresholdError(f"threshold {text!r}: unknown metric {metric!r}; known: {', '.join(METRICS)}")
    try:
        value = float(number)
    except ValueError:
        raise ThresholdError(f"threshold {text!r}: {number!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ThresholdError(f"threshold {text!r}: the value must be a number ≥ 0")
    if metric in FRACTION_METRICS:
        if unit not in (None, "%"):
            raise ThresholdError(f"threshold {text!r}: {metric} is a fraction (0.02 or 2%), not {unit}")
        value = value / 100.0 if unit == "%" else value
        if value > 1:
            raise ThresholdError(f"threshold {text!r}: a fraction is at most 1 (100%)")
    elif metric in RATE_METRICS:
        if unit not in (None, "/s"):
            raise ThresholdError(f"threshold {text!r}: {metric} is per second, not {unit}")
    else:
        if unit not in _TIME_UNITS_MS:
            raise ThresholdError(f"threshold {text!r}: {metric} is a time (us, ms or s), not {unit}")
        value *= _TIME_UNITS_MS[unit]
    return Threshold(text.strip(), metric, operation, comparator, value)


def actual_value(summary: Mapping[str, Any], threshold: Threshold) -> float | None:
    """The summary's value for a threshold's metric (see `LoadMetrics.summary`), or None without data."""
    scope: Mapping[str, Any] = summary
    if threshold.operation is not None:
        scope = summary.get("by_operation", {}).get(threshold.operation, {})
    metric = threshold.metric
    value: Any
    if metric in LATENCY_METRICS:
        value = scope.get("latency_ms", {}).get(metric)
    elif metric.startswith("webhook_lag_"):
        value = summary.get("webhook_lag_ms", {}).get(metric.removeprefix("webhook_lag_"))
    elif metric == "schedule_lag_p99":
        value = summary.get("schedule_lag_ms", {}).get("p99")
    else:
        value = scope.get(metric)
    return float(value) if isinstance(value, int | float) else None


def evaluate(thresholds: list[Threshold], summary: Mapping[str, Any]) -> list[Verdict]:
    verdicts = []
    for threshold in thresholds:
        actual = actual_value(summary, threshold)
        passed = actual is not None and bool(_COMPARE[threshold.comparator](actual, threshold.limit))
        verdicts.append(Verdict(threshold, actual, passed))
    return verdicts
