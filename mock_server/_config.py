"""The mock's configuration: DESIGN.md's control-plane keys as frozen dataclasses, validated eagerly.

`MockConfig()` is "all limits off, no faults". The JSON form (control plane and TOML file) is the one DESIGN.md
states; every unknown key or bad value is a `ConfigError` naming the dotted key and the value, so a typo in a config
file fails at start instead of silently doing nothing. Updates are RFC 7396 JSON merge patches over `to_json()`
(`null` removes a key, which brings back its default), re-validated whole.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

FAMILIES = ("services", "transcripts", "sentences", "media", "operator_results", "operators")
Distribution = Literal["fixed", "uniform", "lognormal"]
LifecycleMode = Literal["immediate", "after_seconds", "after_polls"]


class ConfigError(ValueError):
    """A configuration key or value the mock cannot accept; the message names the key."""


@dataclass(frozen=True, slots=True)
class LatencySpec:
    distribution: Distribution = "fixed"
    ms: float = 0.0
    low_ms: float = 0.0
    high_ms: float = 0.0
    median_ms: float = 0.0
    sigma: float = 0.5

    @property
    def is_zero(self) -> bool:
        return self.distribution == "fixed" and self.ms == 0.0


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    default: LatencySpec = LatencySpec()
    routes: Mapping[str, LatencySpec] = field(default_factory=dict)

    def for_family(self, family: str) -> LatencySpec:
        return self.routes.get(family, self.default)


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class CapacityStep:
    at_s: float
    concurrency_limit: int | None


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    mode: LifecycleMode = "after_seconds"
    seconds: float = 2.0
    per_media_second: float = 0.0
    polls: int = 2
    failure_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultsConfig:
    error_5xx: float = 0.0
    reset_before: float = 0.0
    reset_after_commit: float = 0.0
    latency_spike: float = 0.0
    spike_ms: float = 1000.0

    @property
    def any(self) -> bool:
        return bool(self.error_5xx or self.reset_before or self.reset_after_commit or self.latency_spike)


@dataclass(frozen=True, slots=True)
class WebhookFaultsConfig:
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_ms: float = 0.0
    max_attempts: int = 5
    retry_base_ms: float = 200.0


@dataclass(frozen=True, slots=True)
class MockConfig:
    concurrency_limit: int | None = None
    latency_ms: LatencyConfig = LatencyConfig()
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    retry_after: bool = False
    capacity_schedule: tuple[CapacityStep, ...] = ()
    lifecycle: LifecycleConfig = LifecycleConfig()
    faults: FaultsConfig = FaultsConfig()
    webhook_faults: WebhookFaultsConfig = WebhookFaultsConfig()
    media_url_ttl_s: int = 3600

    @property
    def has_limits(self) -> bool:
        return self.concurrency_limit is not None or bool(self.rate_limits) or bool(self.capacity_schedule)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "config") -> MockConfig:
        return _parse_config(data, where)

    def to_json(self) -> dict[str, Any]:
        return _dump_config(self)

    def patched(self, patch: Mapping[str, Any], where: str = "config") -> MockConfig:
        if not isinstance(patch, Mapping):
            raise ConfigError(f"{where}: a merge patch must be a JSON object, got {type(patch).__name__}")
        return _parse_config(merge_patch(self.to_json(), patch), where)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, `null` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def load_config_file(path: str | Path) -> MockConfig:
    """Read a TOML config file; every error names the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return _parse_config(data, str(path))


# --- parsing -------------------------------------------------------------------------------------------------------


class _Reader:
    """Reads one JSON object, remembering which keys were used so leftovers can be reported as unknown."""

    def __init__(self, data: Any, path: str, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: '{path or 'config'}' must be an object, got {data!r}")
        self.data = data
        self.path = path
        self.where = where
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def err(self, name: str, value: Any, why: str) -> ConfigError:
        return ConfigError(f"{self.where}: '{self.key(name)}' {why}, got {value!r}")

    def get(self, name: str) -> Any:
        self.used.add(name)
        return self.data.get(name)

    def number(self, name: str, default: float, *, low: float = 0.0, high: float = math.inf) -> float:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.err(name, value, "must be a number")
        if not low <= value <= high:
            raise self.err(name, value, f"must be between {low:g} and {high:g}")
        return float(value)

    def fraction(self, name: str) -> float:
        return self.number(name, 0.0, low=0.0, high=1.0)

    def integer(self, name: str, default: int, *, low: int = 0) -> int:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.err(name, value, f"must be an integer ≥ {low}")
        return value

    def limit(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.err(name, value, "must be an integer ≥ 1 or null (no limit)")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.err(name, value, "must be true or false")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.get(name)
        if value is None:
            return default
        if value not in choices:
            raise self.err(name, value, f"must be one of {', '.join(choices)}")
        return str(value)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key '{self.key(unknown[0])}'")


def _parse_latency_spec(value: Any, path: str, where: str) -> LatencySpec:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}: '{path}' must be a number of milliseconds ≥ 0, got {value!r}")
        return LatencySpec(ms=float(value))
    r = _Reader(value, path, where)
    spec = _latency_from_reader(r)
    r.finish()
    return spec


def _latency_from_reader(r: _Reader) -> LatencySpec:
    dist = cast(Distribution, r.choice("distribution", "fixed", ("fixed", "uniform", "lognormal")))
    ms, low, high = r.number("ms", 0.0), r.number("low_ms", 0.0), r.number("high_ms", 0.0)
    median, sigma = r.number("median_ms", 0.0), r.number("sigma", 0.5, high=10.0)
    if dist == "uniform" and high < low:
        raise r.err("high_ms", high, f"must be ≥ low_ms ({low:g})")
    # Only the chosen distribution's parameters are kept (the others stay default), so to_json() round-trips.
    if dist == "uniform":
        return LatencySpec(dist, low_ms=low, high_ms=high)
    return LatencySpec(dist, median_ms=median, sigma=sigma) if dist == "lognormal" else LatencySpec(ms=ms)


def _parse_latency(value: Any, where: str) -> LatencyConfig:
    if value is None:
        return LatencyConfig()
    if not isinstance(value, Mapping):
        return LatencyConfig(default=_parse_latency_spec(value, "latency_ms", where))
    r = _Reader(value, "latency_ms", where)
    default = _latency_from_reader(r)
    routes_raw = r.get("routes")
    routes: dict[str, LatencySpec] = {}
    if routes_raw is not None:
        routes_reader = _Reader(routes_raw, "latency_ms.routes", where)
        for family in FAMILIES:
            if family in routes_raw:
                routes[family] = _parse_latency_spec(routes_reader.get(family), f"latency_ms.routes.{family}", where)
        routes_reader.finish()
    r.finish()
    return LatencyConfig(default=default, routes=routes)


def _parse_rate_limits(value: Any, where: str) -> dict[str, RateLimit]:
    if value is None:
        return {}
    r = _Reader(value, "rate_limits", where)
    limits: dict[str, RateLimit] = {}
    for family in FAMILIES:
        if family in value:
            fr = _Reader(r.get(family), f"rate_limits.{family}", where)
            per_second = fr.number("per_second", 0.0, low=1e-6)
            if fr.get("per_second") is None:
                raise ConfigError(f"{where}: 'rate_limits.{family}.per_second' is required")
            limits[family] = RateLimit(per_second=per_second, burst=fr.integer("burst", max(1, int(per_second)), low=1))
            fr.finish()
    r.finish()
    return limits


def _parse_schedule(value: Any, where: str) -> tuple[CapacityStep, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'capacity_schedule' must be a list of steps, got {value!r}")
    steps = []
    for i, raw in enumerate(value):
        r = _Reader(raw, f"capacity_schedule[{i}]", where)
        if r.get("at_s") is None:
            raise ConfigError(f"{where}: 'capacity_schedule[{i}].at_s' is required")
        steps.append(CapacityStep(at_s=r.number("at_s", 0.0), concurrency_limit=r.limit("concurrency_limit")))
        r.finish()
    return tuple(sorted(steps, key=lambda s: s.at_s))


def _section(r: _Reader, name: str) -> Any:
    value = r.get(name)
    return {} if value is None else value  # absent or null: all defaults; anything else must be an object


def _parse_config(data: Mapping[str, Any], where: str) -> MockConfig:
    r = _Reader(data, "", where)
    lc = _Reader(_section(r, "lifecycle"), "lifecycle", where)
    lifecycle = LifecycleConfig(
        mode=cast(LifecycleMode, lc.choice("mode", "after_seconds", ("immediate", "after_seconds", "after_polls"))),
        seconds=lc.number("seconds", 2.0),
        per_media_second=lc.number("per_media_second", 0.0),
        polls=lc.integer("polls", 2, low=1),
        failure_rate=lc.fraction("failure_rate"),
    )
    lc.finish()
    fr = _Reader(_section(r, "faults"), "faults", where)
    faults = FaultsConfig(
        error_5xx=fr.fraction("error_5xx"),
        reset_before=fr.fraction("reset_before"),
        reset_after_commit=fr.fraction("reset_after_commit"),
        latency_spike=fr.fraction("latency_spike"),
        spike_ms=fr.number("spike_ms", 1000.0),
    )
    if faults.error_5xx + faults.reset_before + faults.reset_after_commit > 1.0:
        raise ConfigError(f"{where}: 'faults' error_5xx + reset_before + reset_after_commit must not exceed 1")
    fr.finish()
    wr = _Reader(_section(r, "webhook_faults"), "webhook_faults", where)
    webhook_faults = WebhookFaultsConfig(
        drop=wr.fraction("drop"),
        duplicate=wr.fraction("duplicate"),
        reorder=wr.fraction("reorder"),
        delay_ms=wr.number("delay_ms", 0.0),
        max_attempts=wr.integer("max_attempts", 5, low=1),
        retry_base_ms=wr.number("retry_base_ms", 200.0),
    )
    wr.finish()
    config = MockConfig(
        concurrency_limit=r.limit("concurrency_limit"),
        latency_ms=_parse_latency(r.get("latency_ms"), where),
        rate_limits=_parse_rate_limits(r.get("rate_limits"), where),
        retry_after=r.boolean("retry_after", False),
        capacity_schedule=_parse_schedule(r.get("capacity_schedule"), where),
        lifecycle=lifecycle,
        faults=faults,
        webhook_faults=webhook_faults,
        media_url_ttl_s=r.integer("media_url_ttl_s", 3600, low=1),
    )
    r.finish()
    return config


# --- dumping -------------------------------------------------------------------------------------------------------


def _dump_spec(spec: LatencySpec) -> dict[str, Any]:
    out: dict[str, Any] = {"distribution": spec.distribution}
    if spec.distribution == "fixed":
        out["ms"] = spec.ms
    elif spec.distribution == "uniform":
        out.update(low_ms=spec.low_ms, high_ms=spec.high_ms)
    else:
        out.update(median_ms=spec.median_ms, sigma=spec.sigma)
    return out


def _dump_config(c: MockConfig) -> dict[str, Any]:
    latency = _dump_spec(c.latency_ms.default)
    if c.latency_ms.routes:
        latency["routes"] = {k: _dump_spec(v) for k, v in c.latency_ms.routes.items()}
    return {
        "concurrency_limit": c.concurrency_limit,
        "latency_ms": latency,
        "rate_limits": {k: {"per_second": v.per_second, "burst": v.burst} for k, v in c.rate_limits.items()},
        "retry_after": c.retry_after,
        "capacity_schedule": [{"at_s": s.at_s, "concurrency_limit": s.concurrency_limit} for s in c.capacity_schedule],
        "lifecycle": {
            "mode": c.lifecycle.mode,
            "seconds": c.lifecycle.seconds,
            "per_media_second": c.lifecycle.per_media_second,
            "polls": c.lifecycle.polls,
            "failure_rate": c.lifecycle.failure_rate,
        },
        "faults": {
            "error_5xx": c.faults.error_5xx,
            "reset_before": c.faults.reset_before,
            "reset_after_commit": c.faults.reset_after_commit,
            "latency_spike": c.faults.latency_spike,
            "spike_ms": c.faults.spike_ms,
        },
        "webhook_faults": {
            "drop": c.webhook_faults.drop,
            "duplicate": c.webhook_faults.duplicate,
            "reorder": c.webhook_faults.reorder,
            "delay_ms": c.webhook_faults.delay_ms,
            "max_attempts": c.webhook_faults.max_attempts,
            "retry_base_ms": c.webhook_faults.retry_base_ms,
        },
        "media_url_ttl_s": c.media_url_ttl_s,
    }
