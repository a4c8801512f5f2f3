"""MockConfig: defaults, JSON round-trip, validation errors that name the key (and the likely one), merge patches, TOML
files, frozen slotted sections, and the `video` route family."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._config import (
    FAMILIES,
    CapacityStep,
    ConfigError,
    FaultsConfig,
    LatencySpec,
    LifecycleConfig,
    MediaConfig,
    MockConfig,
    RateLimit,
    WebhookFaultsConfig,
    load_config_file,
    merge_patch,
)
from mock_server._faults import FaultInjector
from mock_server._routes import ROUTES
from mock_server._video import video_routes
from tests.mock_server.support import Api


def test_defaults_are_all_limits_off_and_no_faults() -> None:
    c = MockConfig()
    assert c.concurrency_limit is None
    assert not c.has_limits
    assert not c.faults.any
    assert c.latency_ms.default.is_zero
    assert c.lifecycle.mode == "after_seconds"
    assert c.lifecycle.seconds == 2.0
    assert MockConfig.from_json({}) == c


def test_documented_json_forms_parse() -> None:
    c = MockConfig.from_json(
        {
            "concurrency_limit": 10,
            "latency_ms": {"distribution": "uniform", "low_ms": 5, "high_ms": 40, "routes": {"transcripts": 50}},
            "rate_limits": {"transcripts": {"per_second": 10, "burst": 20}},
            "retry_after": True,
            "capacity_schedule": [{"at_s": 5, "concurrency_limit": 10}, {"at_s": 1, "concurrency_limit": None}],
            "lifecycle": {"mode": "after_polls", "polls": 3, "failure_rate": 0.1},
            "faults": {"error_5xx": 0.1, "reset_before": 0.05},
            "webhook_faults": {"drop": 0.5, "delay_ms": 10},
        }
    )
    assert c.concurrency_limit == 10
    assert c.latency_ms.default == LatencySpec("uniform", low_ms=5, high_ms=40)
    assert c.latency_ms.for_family("transcripts") == LatencySpec(ms=50)
    assert c.latency_ms.for_family("services") == c.latency_ms.default
    assert c.rate_limits == {"transcripts": RateLimit(10.0, 20)}
    # Steps are kept sorted by time, whatever order the file lists them in.
    assert c.capacity_schedule == (CapacityStep(1.0, None), CapacityStep(5.0, 10))
    assert c.lifecycle.mode == "after_polls"
    assert c.lifecycle.polls == 3
    assert c.faults.error_5xx == 0.1
    assert c.webhook_faults.drop == 0.5
    assert MockConfig.from_json({"latency_ms": 25}).latency_ms.default == LatencySpec(ms=25)


fractions = st.floats(0, 1, allow_nan=False)
latency = st.one_of(
    st.integers(0, 500),
    st.fixed_dictionaries({"distribution": st.just("fixed"), "ms": st.floats(0, 500)}),
    st.tuples(st.floats(0, 100), st.floats(0, 100)).map(
        lambda lh: {"distribution": "uniform", "low_ms": min(lh), "high_ms": max(lh)}
    ),
    st.fixed_dictionaries(
        {"distribution": st.just("lognormal"), "median_ms": st.floats(0, 100), "sigma": st.floats(0, 2)}
    ),
)
configs = st.fixed_dictionaries(
    {},
    optional={
        "concurrency_limit": st.one_of(st.none(), st.integers(1, 1000)),
        "latency_ms": latency,
        "rate_limits": st.dictionaries(
            st.sampled_from(FAMILIES),
            st.fixed_dictionaries({"per_second": st.floats(0.1, 100), "burst": st.integers(1, 100)}),
        ),
        "retry_after": st.booleans(),
        "capacity_schedule": st.lists(
            st.fixed_dictionaries(
                {"at_s": st.floats(0, 100), "concurrency_limit": st.one_of(st.none(), st.integers(1, 50))}
            ),
            max_size=4,
        ),
        "lifecycle": st.fixed_dictionaries(
            {},
            optional={
                "mode": st.sampled_from(["immediate", "after_seconds", "after_polls"]),
                "seconds": st.floats(0, 60),
                "polls": st.integers(1, 10),
                "failure_rate": fractions,
            },
        ),
        "faults": st.fixed_dictionaries(
            {},
            optional={"error_5xx": st.floats(0, 0.3), "reset_before": st.floats(0, 0.3), "latency_spike": fractions},
        ),
        "webhook_faults": st.fixed_dictionaries(
            {}, optional={"drop": fractions, "duplicate": fractions, "max_attempts": st.integers(1, 9)}
        ),
        "media_url_ttl_s": st.integers(1, 604_800),
    },
)


@given(configs)
def test_to_json_round_trips(data: dict[str, Any]) -> None:
    config = MockConfig.from_json(data)
    dumped = config.to_json()
    assert MockConfig.from_json(dumped) == config
    assert MockConfig.from_json(dumped).to_json() == dumped
    assert config.patched({}) == config


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"concurency_limit": 3}, "unknown key 'concurency_limit'"),
        ({"lifecycle": {"modee": "immediate"}}, "unknown key 'lifecycle.modee'"),
        ({"faults": {"error5xx": 0.1}}, "unknown key 'faults.error5xx'"),
        ({"webhook_faults": {"dorp": 0.1}}, "unknown key 'webhook_faults.dorp'"),
        ({"latency_ms": {"routes": {"transcript": 5}}}, "unknown key 'latency_ms.routes.transcript'"),
        ({"latency_ms": {"routes": {"media": {"mss": 5}}}}, "unknown key 'latency_ms.routes.media.mss'"),
        ({"latency_ms": {"median": 5}}, "unknown key 'latency_ms.median'"),
        ({"rate_limits": {"sentence": {"per_second": 1}}}, "unknown key 'rate_limits.sentence'"),
        ({"rate_limits": {"media": {"per_second": 1, "bust": 2}}}, "unknown key 'rate_limits.media.bust'"),
        ({"capacity_schedule": [{"at_s": 1, "limit": 2}]}, "unknown key 'capacity_schedule[0].limit'"),
        ({"concurrency_limit": 0}, "'concurrency_limit'"),
        ({"concurrency_limit": "10"}, "'concurrency_limit'"),
        ({"concurrency_limit": True}, "'concurrency_limit'"),
        ({"concurrency_limit": 2.5}, "'concurrency_limit'"),
        ({"faults": {"error_5xx": 1.5}}, "'faults.error_5xx'"),
        ({"faults": {"reset_before": -0.1}}, "'faults.reset_before'"),
        ({"faults": {"error_5xx": 0.6, "reset_before": 0.6}}, "'faults'"),
        ({"webhook_faults": {"reorder": 2}}, "'webhook_faults.reorder'"),
        ({"webhook_faults": {"max_attempts": 0}}, "'webhook_faults.max_attempts'"),
        ({"webhook_faults": {"delay_ms": -1}}, "'webhook_faults.delay_ms'"),
        ({"lifecycle": {"mode": "later"}}, "'lifecycle.mode'"),
        ({"lifecycle": {"failure_rate": 1.01}}, "'lifecycle.failure_rate'"),
        ({"lifecycle": {"polls": 0}}, "'lifecycle.polls'"),
        ({"lifecycle": False}, "'lifecycle'"),
        ({"faults": []}, "'faults'"),
        ({"latency_ms": -5}, "'latency_ms'"),
        ({"latency_ms": "fast"}, "'latency_ms'"),
        ({"latency_ms": {"distribution": "gamma"}}, "'latency_ms.distribution'"),
        ({"latency_ms": {"distribution": "uniform", "low_ms": 9, "high_ms": 3}}, "'latency_ms.high_ms'"),
        ({"latency_ms": {"distribution": "lognormal", "sigma": -1}}, "'latency_ms.sigma'"),
        ({"latency_ms": {"routes": {"media": -1}}}, "'latency_ms.routes.media'"),
        ({"rate_limits": {"media": {"burst": 2}}}, "'rate_limits.media.per_second'"),
        ({"rate_limits": {"media": {"per_second": 0}}}, "'rate_limits.media.per_second'"),
        ({"rate_limits": {"media": {"per_second": 1, "burst": 0}}}, "'rate_limits.media.burst'"),
        ({"rate_limits": [1]}, "'rate_limits'"),
        ({"capacity_schedule": {"at_s": 1}}, "'capacity_schedule'"),
        ({"capacity_schedule": [{"concurrency_limit": 2}]}, "'capacity_schedule[0].at_s'"),
        ({"capacity_schedule": [{"at_s": -1}]}, "'capacity_schedule[0].at_s'"),
        ({"capacity_schedule": [{"at_s": 1, "concurrency_limit": 0}]}, "'capacity_schedule[0].concurrency_limit'"),
        ({"retry_after": "yes"}, "'retry_after'"),
        ({"media_url_ttl_s": 0}, "'media_url_ttl_s'"),
    ],
)
def test_every_validation_error_names_its_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        MockConfig.from_json(data, where="PATCH /__mock__/config")
    message = str(info.value)
    assert named in message
    assert message.startswith("PATCH /__mock__/config: ")


def test_bad_values_are_quoted_in_the_message() -> None:
    with pytest.raises(ConfigError, match=r"'faults\.error_5xx'.*1\.5"):
        MockConfig.from_json({"faults": {"error_5xx": 1.5}})
    with pytest.raises(ConfigError, match=r"'lifecycle\.mode'.*'later'"):
        MockConfig.from_json({"lifecycle": {"mode": "later"}})


def test_from_json_rejects_a_non_object() -> None:
    with pytest.raises(ConfigError):
        MockConfig.from_json([])  # type: ignore[arg-type]


def test_merge_patch_follows_rfc_7396() -> None:
    # The RFC's own example (appendix A, abridged).
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["a", "b"]}
    patch = {"title": "Hello!", "author": {"familyName": None}, "tags": ["c"], "phone": "+01"}
    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["c"],
        "phone": "+01",
    }
    assert merge_patch({"a": 1}, ["x"]) == ["x"]
    assert merge_patch({"a": 1}, {"a": {"b": None}}) == {"a": {}}
    assert target["author"] == {"givenName": "John", "familyName": "Doe"}  # the input is not modified


def test_patched_merges_deeply_and_null_restores_defaults() -> None:
    base = MockConfig.from_json(
        {"concurrency_limit": 5, "faults": {"error_5xx": 0.2, "latency_spike": 0.1}, "rate_limits": {}}
    )
    c = base.patched({"faults": {"error_5xx": 0.3}})
    assert c.faults.error_5xx == 0.3
    assert c.faults.latency_spike == 0.1  # untouched sibling survives
    assert c.concurrency_limit == 5
    c = c.patched({"concurrency_limit": None, "faults": {"latency_spike": None}})
    assert c.concurrency_limit is None
    assert c.faults.latency_spike == 0.0
    c = c.patched({"rate_limits": {"media": {"per_second": 2, "burst": 4}}})
    c = c.patched({"rate_limits": {"services": {"per_second": 1}}})
    assert set(c.rate_limits) == {"media", "services"}
    assert c.rate_limits["services"] == RateLimit(1.0, 1)
    c = c.patched({"rate_limits": {"media": None}})
    assert set(c.rate_limits) == {"services"}
    c = c.patched({"latency_ms": 25}).patched({"latency_ms": {"routes": {"media": 5}}})
    assert c.latency_ms.default == LatencySpec(ms=25)
    assert c.latency_ms.for_family("media") == LatencySpec(ms=5)
    # A patch switching distribution keeps working although the old parameters were merged in.
    c = c.patched({"latency_ms": {"distribution": "lognormal", "median_ms": 20}})
    assert c.latency_ms.default == LatencySpec("lognormal", median_ms=20, sigma=0.5)


def test_patched_revalidates_and_names_the_key() -> None:
    base = MockConfig()
    with pytest.raises(ConfigError, match=r"unknown key 'lifecycle\.modee'"):
        base.patched({"lifecycle": {"modee": "immediate"}})
    with pytest.raises(ConfigError, match="'concurrency_limit'"):
        base.patched({"concurrency_limit": -1})
    with pytest.raises(ConfigError):
        base.patched(["not", "an", "object"])  # type: ignore[arg-type]


def test_toml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(
        """
concurrency_limit = 8
retry_after = true
latency_ms = 12.5

[lifecycle]
mode = "immediate"

[rate_limits.transcripts]
per_second = 5
burst = 10

[[capacity_schedule]]
at_s = 3
concurrency_limit = 2
""",
        encoding="utf-8",
    )
    c = load_config_file(path)
    assert c.concurrency_limit == 8
    assert c.retry_after
    assert c.latency_ms.default == LatencySpec(ms=12.5)
    assert c.lifecycle.mode == "immediate"
    assert c.rate_limits["transcripts"] == RateLimit(5.0, 10)
    assert c.capacity_schedule == (CapacityStep(3.0, 2),)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[lifecycle]\nmodee = 'immediate'\n", "unknown key 'lifecycle.modee'"),
        ("concurrency_limit = 0\n", "'concurrency_limit'"),
        ("concurrency_limit = = 3\n", "not valid TOML"),
    ],
)
def test_toml_errors_name_the_file(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
    assert named in str(info.value)


def test_missing_or_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"absent\.toml"):
        load_config_file(missing)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"binary\.toml"):
        load_config_file(binary)


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        ({"lifecycle": {"modee": "immediate"}}, "(did you mean 'lifecycle.mode'?)"),
        ({"rate_limits": {"sentence": {"per_second": 1}}}, "(did you mean 'rate_limits.sentences'?)"),
        ({"capacity_schedule": [{"at_s": 1, "limit": 2}]}, "(known: at_s, concurrency_limit)"),
        ({"media": {"zzz": 1}}, "(known: fetch, timeout_s, max_bytes, max_redirects)"),
    ],
)
def test_an_unknown_key_suggests_the_likely_one_or_lists_the_known_ones(data: dict[str, Any], hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        MockConfig.from_json(data)
    assert str(info.value).endswith(hint)


def test_the_first_problem_is_named_and_the_others_counted() -> None:
    with pytest.raises(ConfigError) as info:
        MockConfig.from_json({"lifecycle": {"polls": 0, "seconds": -1}, "retry_aftr": True})
    # The shallowest first: a misspelt top-level key explains more than a value inside a section.
    assert str(info.value) == ("config: unknown key 'retry_aftr' (did you mean 'retry_after'?) (and 2 more problems)")


def test_sections_are_frozen_and_built_positionally_as_before() -> None:
    config = MockConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.concurrency_limit = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lifecycle.seconds = 1.0  # type: ignore[misc]
    assert RateLimit(2.5) == RateLimit(2.5, 2)  # burst defaults to per_second, rounded down
    assert LatencySpec("uniform", low_ms=5, high_ms=40).is_zero is False
    assert LifecycleConfig("immediate").mode == "immediate"
    assert MediaConfig(fetch=False).max_bytes == 512 * 1024 * 1024
    assert WebhookFaultsConfig(max_attempts=3).retry_base_ms == 200.0
    assert FaultsConfig(error_5xx=0.5).any
    # The runtime objects are slotted dataclasses: nothing between a request and its config value but a slot read.
    assert not hasattr(config, "__dict__")
    assert not hasattr(config.latency_ms, "__dict__")


def test_a_latency_keeps_only_its_distributions_parameters() -> None:
    spec = MockConfig.from_json({"latency_ms": {"distribution": "uniform", "ms": 7, "low_ms": 1, "high_ms": 2}})
    assert spec.latency_ms.default == LatencySpec("uniform", low_ms=1, high_ms=2)
    assert spec.to_json()["latency_ms"] == {"distribution": "uniform", "low_ms": 1.0, "high_ms": 2.0}


def test_every_route_family_can_be_configured(api: Api) -> None:
    routes = (*ROUTES, *video_routes(api.state.video))
    assert {route.family for route in routes} == set(FAMILIES)


async def test_video_routes_are_limited_and_delayed_as_family_video(api: Api) -> None:
    r = await api.control("PATCH", "/__mock__/config", {"rate_limits": {"video": {"per_second": 0.001, "burst": 1}}})
    assert r.status == 200, r.body
    assert (await api.call("GET", "/v1/Rooms", api.dev)).status == 200
    refused = await api.call("GET", "/v1/Rooms", api.dev)
    assert refused.status == 429
    assert "video=0.001/s,burst=1" in refused.headers["X-Rate-Limit-Config"]
    assert (await api.call("GET", "/v2/Services", api.dev)).status == 200  # another family's bucket
    config = MockConfig.from_json({"latency_ms": {"routes": {"video": 50}}})
    injector = FaultInjector(random.Random(0))
    assert injector.decide(config, "video", "GET").latency_s == 0.05
    assert injector.decide(config, "services", "GET").latency_s == 0.0
