"""The mock's configuration: DESIGN.md's control-plane keys as frozen dataclasses, validated eagerly.

`MockConfig()` is "all limits off, no faults". The JSON form (control plane and TOML file) is the one DESIGN.md
states; every unknown key or bad value is a `ConfigError` naming the dotted key and the value, so a typo in a config
file fails at start instead of silently doing nothing. Updates are RFC 7396 JSON merge patches over `to_json()`
(`null` removes a key, which brings back its default), re-validated whole.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from mock_server._bounds import BOUNDS, MAX_CAPACITY_STEPS, Bound

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
class MediaConfig:
    """How the mock gets a transcript's audio (`media` in the config).

    `fetch`: download `media_url` (or read the recordings store for `source_sid`) and analyse it, as Twilio does;
    false keeps the synthetic behaviour (any URL "works": load tests with fake URLs). The bounds apply per fetch:
    the whole download within `timeout_s`, at most `max_bytes`, at most `max_redirects` redirects followed.
    """

    fetch: bool = True
    timeout_s: float = 30.0
    max_bytes: int = 512 * 1024 * 1024
    max_redirects: int = 5


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
    media: MediaConfig = MediaConfig()

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

    def number(self, name: str, default: float, bound: Bound) -> float:
        value = self.get(name)
        return default if value is None else float(check_number(value, bound, self.err_for(name)))

    def integer(self, name: str, default: int, bound: Bound) -> int:
        value = self.get(name)
        return default if value is None else int(check_number(value, bound, self.err_for(name)))

    def limit(self, name: str, bound: Bound) -> int | None:
        value = self.get(name)
        if value is None:
            return None  # no limit
        return int(check_number(value, bound, self.err_for(name), suffix=" or null (no limit)"))

    def err_for(self, name: str) -> Callable[[Any, str], ConfigError]:
        return lambda value, why: self.err(name, value, why)

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


def check_number(value: Any, bound: Bound, err: Callable[[Any, str], ConfigError], suffix: str = "") -> float:
    """`value` if it is a finite JSON number inside `bound` (an integer when the bound says so); else `err`."""
    if bound.integer:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not bound.contains(value):
        raise err(value, f"must be {bound.describe()}{suffix}")
    return cast(float, value)


def _parse_latency_spec(value: Any, path: str, where: str) -> LatencySpec:
    if isinstance(value, int | float) and not isinstance(value, bool):
        ms = check_number(
            value, BOUNDS["latency_ms"], lambda v, why: ConfigError(f"{where}: '{path}' {why}, got {v!r}")
        )
        return LatencySpec(ms=float(ms))
    if not isinstance(value, Mapping):
        why = f"must be {BOUNDS['latency_ms'].describe()} or an object with a distribution"
        raise ConfigError(f"{where}: '{path}' {why}, got {value!r}")
    r = _Reader(value, path, where)
    spec = _latency_from_reader(r)
    r.finish()
    return spec


def _latency_from_reader(r: _Reader) -> LatencySpec:
    dist = cast(Distribution, r.choice("distribution", "fixed", ("fixed", "uniform", "lognormal")))
    ms, low, high, median, sigma = (
        r.number(name, default, BOUNDS[f"latency_ms.{name}"])
        for name, default in (("ms", 0.0), ("low_ms", 0.0), ("high_ms", 0.0), ("median_ms", 0.0), ("sigma", 0.5))
    )
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
            if fr.get("per_second") is None:
                raise ConfigError(f"{where}: 'rate_limits.{family}.per_second' is required")
            per_second = fr.number("per_second", 0.0, BOUNDS["rate_limits.*.per_second"])
            burst = fr.integer("burst", max(1, int(per_second)), BOUNDS["rate_limits.*.burst"])
            limits[family] = RateLimit(per_second=per_second, burst=burst)
            fr.finish()
    r.finish()
    return limits


def _parse_schedule(value: Any, where: str) -> tuple[CapacityStep, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_CAPACITY_STEPS:
        raise ConfigError(
            f"{where}: 'capacity_schedule' must be a list of at most {MAX_CAPACITY_STEPS} steps, got {value!r}"
        )
    steps = []
    for i, raw in enumerate(value):
        r = _Reader(raw, f"capacity_schedule[{i}]", where)
        if r.get("at_s") is None:
            raise ConfigError(f"{where}: 'capacity_schedule[{i}].at_s' is required")
        at_s = r.number("at_s", 0.0, BOUNDS["capacity_schedule[].at_s"])
        steps.append(CapacityStep(at_s, r.limit("concurrency_limit", BOUNDS["capacity_schedule[].concurrency_limit"])))
        r.finish()
    return tuple(sorted(steps, key=lambda s: s.at_s))


def _section(r: _Reader, name: str) -> _Reader:
    value = r.get(name)
    return _Reader({} if value is None else value, name, r.where)  # absent or null: all defaults


def _numbers(r: _Reader, defaults: Mapping[str, float]) -> dict[str, Any]:
    """Each of `defaults`' keys read from `r` within its bound (integers stay integers); then no other key."""
    out: dict[str, Any] = {}
    for name, default in defaults.items():
        bound = BOUNDS[f"{r.path}.{name}"]
        out[name] = r.integer(name, int(default), bound) if bound.integer else r.number(name, default, bound)
    r.finish()
    return out


def _parse_config(data: Mapping[str, Any], where: str) -> MockConfig:
    r = _Reader(data, "", where)
    lc = _section(r, "lifecycle")
    mode = cast(LifecycleMode, lc.choice("mode", "after_seconds", ("immediate", "after_seconds", "after_polls")))
    lifecycle = LifecycleConfig(
        mode, **_numbers(lc, {"seconds": 2.0, "per_media_second": 0.0, "polls": 2, "failure_rate": 0.0})
    )
    faults = FaultsConfig(
        **_numbers(
            _section(r, "faults"),
            {"error_5xx": 0, "reset_before": 0, "reset_after_commit": 0, "latency_spike": 0, "spike_ms": 1000.0},
        )
    )
    if faults.error_5xx + faults.reset_before + faults.reset_after_commit > 1.0:
        raise ConfigError(f"{where}: 'faults' error_5xx + reset_before + reset_after_commit must not exceed 1")
    webhook_faults = WebhookFaultsConfig(
        **_numbers(
            _section(r, "webhook_faults"),
            {"drop": 0, "duplicate": 0, "reorder": 0, "delay_ms": 0, "max_attempts": 5, "retry_base_ms": 200.0},
        )
    )
    md = _section(r, "media")
    media = MediaConfig(
        md.boolean("fetch", True),
        **_numbers(md, {"timeout_s": 30.0, "max_bytes": 512 * 1024 * 1024, "max_redirects": 5}),
    )
    config = MockConfig(
        concurrency_limit=r.limit("concurrency_limit", BOUNDS["concurrency_limit"]),
        latency_ms=_parse_latency(r.get("latency_ms"), where),
        rate_limits=_parse_rate_limits(r.get("rate_limits"), where),
        retry_after=r.boolean("retry_after", False),
        capacity_schedule=_parse_schedule(r.get("capacity_schedule"), where),
        lifecycle=lifecycle,
        faults=faults,
        webhook_faults=webhook_faults,
        media_url_ttl_s=r.integer("media_url_ttl_s", 3600, BOUNDS["media_url_ttl_s"]),
        media=media,
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
        "lifecycle": asdict(c.lifecycle),
        "faults": asdict(c.faults),
        "webhook_faults": asdict(c.webhook_faults),
        "media_url_ttl_s": c.media_url_ttl_s,
        "media": asdict(c.media),
    }
