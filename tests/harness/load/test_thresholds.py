"""Thresholds: parsed with units, judged against a run's summary, a parse error names the expression."""

from __future__ import annotations

import pytest

from harness.load._thresholds import ThresholdError, evaluate, parse_threshold

SUMMARY = {
    "latency_ms": {"p50": 10.0, "p99": 750.0, "p99.9": 900.0, "max": 1200.0, "mean": 20.0},
    "429_rate": 0.03,
    "5xx_rate": 0.0,
    "error_rate": 0.001,
    "dropped_rate": 0.0,
    "goodput": 0.96,
    "achieved_rate": 199.5,
    "webhook_lag_ms": {"p50": 5.0, "p99": None},
    "schedule_lag_ms": {"p99": 1.5},
    "by_operation": {"create": {"latency_ms": {"p99": 900.0}, "429_rate": 0.05}},
}


@pytest.mark.parametrize(
    ("expression", "passed", "actual"),
    [
        ("p99<800ms", True, 750.0),
        ("p99<0.7s", False, 750.0),
        ("p99 <= 750", True, 750.0),
        ("p99.9<900000us", False, 900.0),
        ("max<1s", False, 1200.0),
        ("429_rate<2%", False, 0.03),
        ("429_rate<0.05", True, 0.03),
        ("goodput>0.95", True, 0.96),
        ("goodput>=97%", False, 0.96),
        ("achieved_rate>=190/s", True, 199.5),
        ("create.p99<800ms", False, 900.0),
        ("create.429_rate<10%", True, 0.05),
        ("webhook_lag_p50<10ms", True, 5.0),
        ("webhook_lag_p99<10ms", False, None),  # no data: crossed, a run that measured nothing must not pass
        ("schedule_lag_p99<5ms", True, 1.5),
    ],
)
def test_thresholds_are_judged_against_the_summary(expression: str, passed: bool, actual: float | None) -> None:
    [verdict] = evaluate([parse_threshold(expression)], SUMMARY)
    assert (verdict.passed, verdict.actual) == (passed, actual)
    assert expression.strip() in verdict.describe()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("p99", "not METRIC<VALUE"),
        ("p98<100ms", "unknown metric 'p98'"),
        ("p99<100%", "is a time"),
        ("429_rate<2ms", "is a fraction"),
        ("429_rate<200%", "at most 1"),
        ("goodput>1.5", "at most 1"),
        ("delete.p99<1s", "unknown operation 'delete'"),
        ("achieved_rate>10ms", "per second"),
        ("p99<1.2.3ms", "is not a number"),
    ],
)
def test_a_bad_threshold_is_refused_naming_it(expression: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message) as error:
        parse_threshold(expression)
    assert repr(expression) in str(error.value)
