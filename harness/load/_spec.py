"""What to run: the load model, profile, mix, thresholds and target, from flags and/or a TOML file's `[load]` table.

Everything is checked before anything is sent; an error names where the value came from — the flag (`--rate`) or
the file and key (`load.toml: [load].rate`) — and the value. Flags override the file's keys. The file's keys are
the flags' names with underscores (`max_in_flight = 500`), plus `profile` to name the shape explicitly.

    [load]
    profile = "spike"            # constant | ramp | steps | spike (inferred from the keys when absent)
    rate = "100/s"               # constant, and spike's base rate
    duration = "60s"
    spike_rate = "1000/s"        # spike: the spike's rate, start and length
    spike_at = "20s"
    spike_duration = "5s"
    # ramp_from = "10/s"  ramp_to = "500/s"         ramp
    # steps = ["100/s", "200/s"]  step_duration = "20s"   steps
    # concurrency = 32  adaptive = true              closed model
    mix = { create = 5, fetch = 3, sentences = 1, operator_results = 1 }
    thresholds = ["p99<800ms", "429_rate<2%", "goodput>0.95"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness._errors import CintelError
from harness.load._profile import Profile, ProfileError, constant, ramp, spike, steps
from harness.load._thresholds import Threshold, ThresholdError, parse_threshold
from harness.load._units import parse_duration, parse_mix, parse_rate

T = TypeVar("T")
KINDS = ("constant", "ramp", "steps", "spike")
KEYS = (
    "profile", "rate", "duration", "ramp_from", "ramp_to", "steps", "step_duration", "spike_rate", "spike_at",
    "spike_duration", "concurrency", "adaptive", "mix", "thresholds", "max_in_flight", "max_lag", "drain", "timeout",
    "seed", "prepare", "connections", "base_url", "mock_config", "service", "media_url", "webhooks", "out",
)  # fmt: skip


class LoadSpecError(CintelError):
    """A load test that cannot run as given; the message names the flag or file key and the value."""


@dataclass(frozen=True)
class LoadSpec:
    profile: Profile | None  # the open model's schedule; None for the closed model
    duration_s: float
    concurrency: int | None = None  # closed model: workers (with adaptive: the most the limiter may allow)
    adaptive: bool = False
    mix: dict[str, float] = field(default_factory=lambda: {"create": 1.0})
    thresholds: tuple[Threshold, ...] = ()
    max_in_flight: int = 1000
    # Keep-alive connections at most; more requests out at once wait for one (and that wait counts as latency).
    # Measured here: a pool that grows with every burst (1000) cost 20 % more CPU per request than 256 or 64.
    connections: int = 256
    max_lag_s: float = 1.0
    drain_s: float = 10.0
    timeout_s: float = 30.0
    seed: int = 1
    prepare: int = 10
    base_url: str | None = None
    mock_config: Path | None = None
    service: str | None = None
    media_url: str | None = None
    webhooks: bool = True
    out: Path | None = None

    @property
    def model(self) -> str:
        return "open" if self.profile is not None else "closed"

    @property
    def reads(self) -> bool:
        return any(w > 0 for op, w in self.mix.items() if op != "create")

    def planned(self) -> tuple[int | None, int | None]:
        """(requests, transcripts created) the run will send at most; None where the closed model cannot know."""
        prepare = self.prepare if self.reads else 0
        if self.profile is None:
            return None, None
        total = self.profile.total_arrivals
        share = self.mix.get("create", 0.0) / sum(self.mix.values())
        return total + prepare, round(total * share) + prepare

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "profile": self.profile.to_json() if self.profile else None,
            "duration_s": self.duration_s, "concurrency": self.concurrency, "adaptive": self.adaptive,
            "mix": self.mix, "thresholds": [t.expression for t in self.thresholds],
            "max_in_flight": self.max_in_flight, "connections": self.connections, "max_lag_s": self.max_lag_s,
            "drain_s": self.drain_s, "timeout_s": self.timeout_s, "seed": self.seed,
        }  # fmt: skip


class _Source:
    """Values from flags (given ones only) over values from the file, each with the name to blame."""

    def __init__(self, flags: Mapping[str, Any], table: Mapping[str, Any], file: Path | None) -> None:
        self.flags = {k: v for k, v in flags.items() if v is not None and v != []}  # None: the flag was not given
        self.table = table
        self.file = file

    def where(self, key: str) -> str:
        if key in self.flags:
            return "--threshold" if key == "thresholds" else "--" + key.replace("_", "-")  # the flag is singular
        return f"{self.file}: [load].{key}"

    def has(self, key: str) -> bool:
        return key in self.flags or key in self.table

    def raw(self, key: str) -> Any:
        return self.flags[key] if key in self.flags else self.table.get(key)

    def get(self, key: str, parse: Callable[[Any], T], default: T) -> T:
        if not self.has(key):
            return default
        value = self.raw(key)
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            raise LoadSpecError(f"{self.where(key)} {value!r}: {exc}") from None


def _int(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("must be a whole number")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ValueError("must be a list")
    return value


def read_table(file: Path) -> dict[str, Any]:
    """The `[load]` table of a TOML file; unknown keys are refused by name."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadSpecError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadSpecError(f"{file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LoadSpecError(f"{file}: not valid TOML: {exc}") from None
    table = data.get("load")
    if not isinstance(table, dict):
        raise LoadSpecError(f"{file}: no [load] table (the load test's settings go under [load])")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise LoadSpecError(f"{file}: [load].{unknown[0]}: unknown key; known: {', '.join(KEYS)}")
    if "mock_config" in table and isinstance(table["mock_config"], str):
        table["mock_config"] = str(file.parent / table["mock_config"])  # relative to the file, not the cwd
    return table


def build_spec(flags: Mapping[str, Any], file: Path | None = None) -> LoadSpec:
    """A checked `LoadSpec` from flags (argparse's values, None when not given) over the file's `[load]` table."""
    src = _Source(flags, read_table(file) if file is not None else {}, file)
    open_keys = [k for k in ("rate", "ramp_from", "steps", "spike_rate", "profile") if src.has(k)]
    if src.has("concurrency") and open_keys:
        raise LoadSpecError(
            f"{src.where('concurrency')} and {src.where(open_keys[0])}: choose the closed model (a number of "
            "concurrent requests) or the open model (an arrival rate), not both; --max-in-flight bounds the open one"
        )
    closed = not open_keys
    profile = None if closed else _profile(src)
    if profile is None and not src.has("concurrency"):
        adaptive_only = src.get("adaptive", _bool, False)
        if not adaptive_only:
            raise LoadSpecError(
                "no load model: give --rate R --duration D (open model; or a ramp, steps, spike), or --concurrency N "
                "--duration D / --adaptive --duration D (closed model)"
            )
    duration = profile.duration_s if profile else src.get("duration", parse_duration, 0.0)
    if profile is None and duration <= 0:
        raise LoadSpecError("the closed model needs --duration (like 60s)")
    mix = src.get("mix", parse_mix, {"create": 1.0, "fetch": 0.0, "sentences": 0.0, "operator_results": 0.0})
    thresholds: list[Threshold] = []
    expressions: list[Any] = src.get("thresholds", _list, [])
    for expression in expressions:
        try:
            thresholds.append(parse_threshold(expression))
        except ThresholdError as exc:
            raise LoadSpecError(f"{src.where('thresholds')}: {exc}") from None
    out = src.get("out", _text, "")
    mock_config = src.get("mock_config", _text, "")
    return LoadSpec(
        profile=profile,
        duration_s=duration,
        concurrency=src.get("concurrency", _int(1, 100_000), None if not src.has("adaptive") else 256),
        adaptive=src.get("adaptive", _bool, False),
        mix=mix,
        thresholds=tuple(thresholds),
        max_in_flight=src.get("max_in_flight", _int(1, 1_000_000), 1000),
        connections=src.get("connections", _int(1, 100_000), 256),
        max_lag_s=src.get("max_lag", parse_duration, 1.0),
        drain_s=src.get("drain", parse_duration, 10.0),
        timeout_s=src.get("timeout", parse_duration, 30.0) or 30.0,
        seed=src.get("seed", _int(0, 2**63 - 1), 1),
        prepare=src.get("prepare", _int(0, 10_000), 10),
        base_url=src.get("base_url", _text, "") or None,
        mock_config=Path(mock_config) if mock_config else None,
        service=src.get("service", _text, "") or None,
        media_url=src.get("media_url", _text, "") or None,
        webhooks=src.get("webhooks", _bool, True),
        out=Path(out) if out else None,
    )


def _profile(src: _Source) -> Profile | None:
    kind = src.get("profile", _text, "")
    if not kind:
        kind = next(
            (k for k, key in (("spike", "spike_rate"), ("steps", "steps"), ("ramp", "ramp_from"), ("constant", "rate"))
             if src.has(key)), "",
        )  # fmt: skip
        if not kind:
            return None
    if kind not in KINDS:
        raise LoadSpecError(f"{src.where('profile')} {kind!r}: not one of {', '.join(KINDS)}")
    rate = src.get("rate", parse_rate, -1.0)
    try:
        if kind == "steps":
            given: list[Any] = src.get("steps", _list, [])
            step_rates = [_each(src, "steps", v) for v in given]
            return steps(step_rates, _required(src, "step_duration", parse_duration, kind))
        duration = _required(src, "duration", parse_duration, kind)
        if kind == "constant":
            return constant(_required(src, "rate", parse_rate, kind), duration)
        if kind == "ramp":
            return ramp(_required(src, "ramp_from", parse_rate, kind), _required(src, "ramp_to", parse_rate, kind),
                        duration)  # fmt: skip
        if rate < 0:
            raise LoadSpecError("a spike needs --rate (the rate before and after the spike)")
        return spike(
            rate, _required(src, "spike_rate", parse_rate, kind), _required(src, "spike_at", parse_duration, kind),
            _required(src, "spike_duration", parse_duration, kind), duration,
        )  # fmt: skip
    except ProfileError as exc:
        raise LoadSpecError(f"{src.file or 'flags'}: {exc}") from None


def _required(src: _Source, key: str, parse: Callable[[Any], float], kind: str) -> float:
    if not src.has(key):
        flag = "--ramp FROM:TO" if key.startswith("ramp_") else "--" + key.replace("_", "-")
        raise LoadSpecError(f"a {kind} profile needs {flag} ({key} in [load])")
    return src.get(key, parse, 0.0)


def _each(src: _Source, key: str, value: Any) -> float:
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise LoadSpecError(f"{src.where(key)}: {exc}") from None
