"""Every number in the configuration has a range (mock_server/_bounds.py): outside it, or NaN/infinite, is refused
with an error naming the key and the range — in a patch, a TOML file and the control plane alike.

`latency_ms: 1e308` used to be accepted and hung every request; a lognormal tail or a retry backoff could still
exceed any configured maximum, so the draws are capped too.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server import ConfigError, MockConfig, load_config_file
from mock_server._bounds import BOUNDS, MAX_LATENCY_MS, MAX_RETRY_WAIT_MS, Bound
from mock_server._config import LatencySpec, WebhookFaultsConfig
from mock_server._faults import sample_latency_ms
from mock_server._webhooks import WebhookDispatcher
from tests.mock_server.support import Api

# Whatever else a key needs to be valid when the key itself is (e.g. a uniform distribution for low_ms).
_CONTEXT: dict[str, dict[str, Any]] = {
    "latency_ms.low_ms": {"distribution": "uniform", "high_ms": MAX_LATENCY_MS},
    "latency_ms.high_ms": {"distribution": "uniform"},
    "latency_ms.median_ms": {"distribution": "lognormal"},
    "latency_ms.sigma": {"distribution": "lognormal"},
    "rate_limits.*.burst": {"per_second": 1},
    "capacity_schedule[].concurrency_limit": {"at_s": 1},
}


def _document(pattern: str, value: Any) -> tuple[dict[str, Any], str]:
    """A config document setting the key `pattern` to `value`, and the concrete key an error must name."""
    context = dict(_CONTEXT.get(pattern, {}))
    if pattern == "latency_ms":
        return {"latency_ms": value}, "latency_ms"
    if pattern.startswith("rate_limits.*."):
        name = pattern.rsplit(".", 1)[1]
        return {"rate_limits": {"transcripts": {**context, name: value}}}, f"rate_limits.transcripts.{name}"
    if pattern.startswith("capacity_schedule[]."):
        name = pattern.rsplit(".", 1)[1]
        return {"capacity_schedule": [{**context, name: value}]}, f"capacity_schedule[0].{name}"
    if "." in pattern:
        section, name = pattern.split(".")
        return {section: {**context, name: value}}, pattern
    return {pattern: value}, pattern


def _outside(bound: Bound) -> list[Any]:
    values: list[Any] = [math.inf, -math.inf, math.nan, 1e308, bound.high + 1, bound.low - 1, "1", True]
    if bound.integer:
        values += [bound.low + 0.5, float(bound.low)]
    return values


@pytest.mark.parametrize("pattern", sorted(BOUNDS))
def test_every_bounded_key_refuses_values_outside_its_range_naming_key_and_range(pattern: str) -> None:
    bound = BOUNDS[pattern]
    for value in _outside(bound):
        document, key = _document(pattern, value)
        with pytest.raises(ConfigError) as info:
            MockConfig.from_json(document)
        message = str(info.value)
        assert f"'{key}'" in message, (value, message)
        assert bound.describe() in message, (value, message)
    for value in {bound.low, bound.high}:
        document, _ = _document(pattern, int(value) if bound.integer else value)
        MockConfig.from_json(document)  # both ends are allowed


@pytest.mark.parametrize("pattern", ["latency_ms", "latency_ms.ms", "lifecycle.seconds", "faults.spike_ms",
                                     "webhook_faults.delay_ms", "webhook_faults.retry_base_ms",
                                     "capacity_schedule[].at_s", "media_url_ttl_s"])  # fmt: skip
@given(value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30))
def test_a_duration_is_accepted_exactly_when_it_is_finite_and_in_range(pattern: str, value: float) -> None:
    bound = BOUNDS[pattern]
    document, key = _document(pattern, value)
    ok = (not bound.integer or isinstance(value, int)) and math.isfinite(value) and bound.contains(value)
    if ok:
        MockConfig.from_json(document)
    else:
        with pytest.raises(ConfigError, match=f"'{re.escape(key)}' must be"):
            MockConfig.from_json(document)


@pytest.mark.parametrize("literal", ["inf", "-inf", "nan", "1e308"])
def test_toml_infinities_and_nans_are_refused(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(f"latency_ms = {literal}\n[lifecycle]\nseconds = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'latency_ms' must be a number from 0 to 60000 \(milliseconds\)"):
        load_config_file(path)
    path.write_text(f"[lifecycle]\nseconds = {literal}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'lifecycle.seconds' must be a number from 0 to 86400"):
        load_config_file(path)


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"latency_ms": 1e308}, "'latency_ms' must be a number from 0 to 60000 (milliseconds)"),
        ({"lifecycle": {"seconds": 1e12}}, "'lifecycle.seconds' must be a number from 0 to 86400 (seconds)"),
        ({"faults": {"spike_ms": 1e9}}, "'faults.spike_ms'"),
        ({"webhook_faults": {"delay_ms": 1e9}}, "'webhook_faults.delay_ms'"),
        ({"webhook_faults": {"retry_base_ms": 1e9}}, "'webhook_faults.retry_base_ms'"),
        ({"capacity_schedule": [{"at_s": 1e12}]}, "'capacity_schedule[0].at_s'"),
        ({"media_url_ttl_s": 10**12}, "'media_url_ttl_s' must be an integer from 1 to 604800 (seconds)"),
    ],
)
async def test_the_control_plane_answers_400_naming_the_key_and_range(
    api: Api, patch: dict[str, Any], named: str
) -> None:
    before = await api.control("GET", "/__mock__/config")
    r = await api.control("PATCH", "/__mock__/config", patch)
    assert r.status == 400
    assert r.body["code"] == 20001
    assert named in r.body["message"]
    assert (await api.control("GET", "/__mock__/config")).body == before.body  # nothing applied
    r = await api.control("POST", "/__mock__/accounts", patch)
    assert r.status == 400
    assert named in r.body["message"]


def test_a_lognormal_draw_never_exceeds_the_latency_maximum() -> None:
    spec = LatencySpec("lognormal", median_ms=MAX_LATENCY_MS, sigma=BOUNDS["latency_ms.sigma"].high)
    rng = random.Random(1)
    draws = [sample_latency_ms(spec, rng) for _ in range(2000)]
    assert max(draws) == MAX_LATENCY_MS
    assert min(draws) >= 0


async def test_a_webhook_retry_never_waits_longer_than_the_maximum() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    class AlwaysFails(WebhookDispatcher):
        async def _attempt(self, event: Any) -> bool:
            return False

    faults = WebhookFaultsConfig(max_attempts=int(BOUNDS["webhook_faults.max_attempts"].high), retry_base_ms=60_000)
    dispatcher = AlwaysFails(random.Random(0), sleep=sleep)
    event = type("E", (), {"account_sid": "AC1", "url": "http://x/", "method": "POST", "auth_token": "t", "body": {}})
    dispatcher.submit(event(), faults)
    assert await dispatcher.drain(5)
    assert len(waits) == faults.max_attempts - 1
    assert max(waits) == MAX_RETRY_WAIT_MS / 1000
    assert dispatcher.stats_for("AC1")["webhooks_failed"] == 1
    await dispatcher.close()
