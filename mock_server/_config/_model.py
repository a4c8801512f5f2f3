"""The sections of the mock's configuration, declared once: every key with its type, default, range and description.

Parsing, validation, the dump, merge patches, error messages, the JSON Schema and the reference table are all derived
from these declarations (`_document.py`, `_keys.py`, `_reference.py`): adding a key here is the whole change. A
number's range is its `Bound` (`_bound.py`); a rule between keys of one section is checked in `__post_init__`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    WithJsonSchema,
    model_serializer,
)
from pydantic.dataclasses import dataclass

from mock_server._config._bound import FRACTION, LATENCY, LIMIT, Bound
from mock_server._config._section import SETTINGS, Invalid, Section, bound_of, declared

__all__ = [
    "FAMILIES",
    "CapacityStep",
    "Distribution",
    "Family",
    "FaultsConfig",
    "LatencyConfig",
    "LatencySpec",
    "LifecycleConfig",
    "LifecycleMode",
    "MediaConfig",
    "RateLimit",
    "WebhookFaultsConfig",
    "by_time",
]

# The route families limits and latencies are configured by (each route names its own: mock_server/_routes.py and
# mock_server/_video/_routes.py).
FAMILIES = ("services", "transcripts", "sentences", "media", "operator_results", "operators", "video")
Distribution = Literal["fixed", "uniform", "lognormal"]
LifecycleMode = Literal["immediate", "after_seconds", "after_polls"]


def _known_family(name: str) -> str:
    if name not in FAMILIES:
        raise ValueError(f"not a route family: {name!r}")  # reported as an unknown key
    return name


# A str to the code that looks a family up by a route's name; an enum to the JSON Schema.
Family = Annotated[str, AfterValidator(_known_family), WithJsonSchema({"type": "string", "enum": list(FAMILIES)})]


def _number_or_object(schema: dict[str, Any], cls: type) -> None:
    """The JSON Schema of a section with a SHORTHAND: the plain number it stands for, or the object."""
    shorthand = getattr(cls, "SHORTHAND", None)
    if shorthand is None:
        return
    low, high = bound_of(cls, shorthand).ends()
    number = {"type": "number", "minimum": low, "maximum": high, "description": f"the same as {{{shorthand} = …}}"}
    named: dict[str, Any] = {key: schema[key] for key in ("title", "description") if key in schema}
    the_object = {key: value for key, value in schema.items() if key not in named}
    schema.clear()
    schema.update(named, anyOf=[number, the_object])


_LATENCY_SETTINGS = ConfigDict(extra="forbid", json_schema_extra=_number_or_object)

# Which parameters each distribution uses; the others are put back to their defaults, so to_json() round-trips.
_PARAMETERS = {"fixed": ("ms",), "uniform": ("low_ms", "high_ms"), "lognormal": ("median_ms", "sigma")}
_ALL_PARAMETERS = tuple(name for names in _PARAMETERS.values() for name in names)


@dataclass(frozen=True, slots=True, config=_LATENCY_SETTINGS)
class LatencySpec(Section):
    """How long an answer waits: a distribution and its parameters, or a plain number (a fixed wait)."""

    SHORTHAND: ClassVar[str | None] = "ms"

    distribution: Distribution = Field(
        default="fixed", description="fixed: `ms`; uniform: `low_ms` to `high_ms`; lognormal: `median_ms`, `sigma`"
    )
    ms: Annotated[float, LATENCY] = Field(default=0.0, description="fixed: every answer waits this long")
    low_ms: Annotated[float, LATENCY] = Field(default=0.0, description="uniform: the shortest wait")
    high_ms: Annotated[float, LATENCY] = Field(default=0.0, description="uniform: the longest wait (≥ `low_ms`)")
    median_ms: Annotated[float, LATENCY] = Field(default=0.0, description="lognormal: the median wait (capped at 60 s)")
    sigma: Annotated[float, Bound(0, 10)] = Field(default=0.5, description="lognormal: σ of the underlying normal")

    def __post_init__(self) -> None:
        if self.distribution == "uniform" and self.high_ms < self.low_ms:
            raise Invalid("high_ms", f"must be ≥ low_ms ({self.low_ms:g})", self.high_ms)
        kept = _PARAMETERS[self.distribution]
        for name in _ALL_PARAMETERS:
            if name not in kept:
                object.__setattr__(self, name, declared(LatencySpec)[name].default)

    @property
    def is_zero(self) -> bool:
        return self.distribution == "fixed" and self.ms == 0.0

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the chosen distribution's parameters (and `routes` only when there are some), as DESIGN.md shows."""
        out: dict[str, Any] = handler(self)
        kept = _PARAMETERS[self.distribution]
        for name in _ALL_PARAMETERS:
            if name not in kept:
                del out[name]
        if "routes" in out and not out["routes"]:
            del out["routes"]
        return out


@dataclass(frozen=True, slots=True, config=_LATENCY_SETTINGS)
class LatencyConfig(LatencySpec):
    """The default latency (its own keys) and, per route family, another one."""

    routes: Mapping[Family, LatencySpec] = Field(
        default_factory=dict, description="per route family, its own latency (a number or an object)"
    )
    # The default as a plain LatencySpec, made once: the mock reads it on every request.
    default: LatencySpec = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        LatencySpec.__post_init__(self)  # zero-argument super() does not work in a slotted dataclass
        own = {field.name: getattr(self, field.name) for field in dataclasses.fields(LatencySpec)}
        object.__setattr__(self, "default", LatencySpec(**own))

    def for_family(self, family: str) -> LatencySpec:
        return self.routes.get(family, self.default)


def _default_burst(data: dict[str, Any]) -> int:
    return max(1, int(data["per_second"]))


@dataclass(frozen=True, slots=True, config=SETTINGS)
class RateLimit(Section):
    """A token bucket for one route family."""

    per_second: Annotated[float, Bound(0.001, 1_000_000, "requests per second")] = Field(
        description="tokens added per second (required)"
    )
    burst: Annotated[int, Bound(1, 1_000_000, "requests", integer=True)] = Field(
        default_factory=_default_burst, description="bucket size (default: `per_second` rounded down, at least 1)"
    )


@dataclass(frozen=True, slots=True, config=SETTINGS)
class CapacityStep(Section):
    """From `at_s` on, the account's concurrency limit is `concurrency_limit`."""

    at_s: Annotated[float, Bound(0, 86_400, "seconds")] = Field(
        description="seconds from when the config was applied (required)"
    )
    concurrency_limit: Annotated[int, LIMIT] | None = Field(
        default=None, description="the limit from then on; null: none"
    )


def by_time(steps: tuple[CapacityStep, ...]) -> tuple[CapacityStep, ...]:
    return tuple(sorted(steps, key=lambda step: step.at_s))  # whatever order the file lists them in


@dataclass(frozen=True, slots=True, config=SETTINGS)
class LifecycleConfig(Section):
    """How a transcript goes from `queued` to `completed` (or `failed`)."""

    mode: LifecycleMode = Field(default="after_seconds", description="when a transcript with media completes")
    seconds: Annotated[float, Bound(0, 86_400, "seconds")] = Field(default=2.0, description="after_seconds: the base")
    per_media_second: Annotated[float, Bound(0, 10, "seconds per second of media")] = Field(
        default=0.0, description="after_seconds: added per second of heard media"
    )
    polls: Annotated[int, Bound(1, 10_000, "fetches", integer=True)] = Field(
        default=2, description="after_polls: fetches until it is done"
    )
    failure_rate: Annotated[float, FRACTION] = Field(default=0.0, description="share of transcripts that end `failed`")


@dataclass(frozen=True, slots=True, config=SETTINGS)
class FaultsConfig(Section):
    """Seeded faults of the API's answers: shares of requests."""

    error_5xx: Annotated[float, FRACTION] = Field(default=0.0, description="answered 500, nothing done")
    reset_before: Annotated[float, FRACTION] = Field(default=0.0, description="connection dropped, nothing done")
    reset_after_commit: Annotated[float, FRACTION] = Field(
        default=0.0, description="a POST is done, then the connection drops (the answer is lost)"
    )
    latency_spike: Annotated[float, FRACTION] = Field(default=0.0, description="answers that wait `spike_ms` longer")
    spike_ms: Annotated[float, LATENCY] = Field(default=1000.0, description="the extra wait of a latency spike")

    def __post_init__(self) -> None:
        total = self.error_5xx + self.reset_before + self.reset_after_commit
        if total > 1.0:
            raise Invalid(None, "error_5xx + reset_before + reset_after_commit must not exceed 1", total)

    @property
    def any(self) -> bool:
        return bool(self.error_5xx or self.reset_before or self.reset_after_commit or self.latency_spike)


@dataclass(frozen=True, slots=True, config=SETTINGS)
class WebhookFaultsConfig(Section):
    """Seeded faults of the completion callbacks, and how they are retried."""

    drop: Annotated[float, FRACTION] = Field(default=0.0, description="share of callbacks never sent")
    duplicate: Annotated[float, FRACTION] = Field(default=0.0, description="share of callbacks sent twice")
    reorder: Annotated[float, FRACTION] = Field(
        default=0.0, description="share held back until the account's next callback"
    )
    delay_ms: Annotated[float, Bound(0, 60_000, "milliseconds")] = Field(
        default=0.0, description="wait before a callback's first attempt"
    )
    max_attempts: Annotated[int, Bound(1, 10, "attempts", integer=True)] = Field(
        default=5, description="attempts per callback that the receiver does not answer 2xx"
    )
    retry_base_ms: Annotated[float, Bound(0, 60_000, "milliseconds")] = Field(
        default=200.0, description="first retry wait, doubled each time (each wait capped at 60 s)"
    )


@dataclass(frozen=True, slots=True, config=SETTINGS)
class MediaConfig(Section):
    """How the mock gets a transcript's audio: download `media_url` (or read the recordings store for `source_sid`)
    and analyse it, as Twilio does; `fetch = false` keeps the synthetic behaviour (any URL "works": load tests with
    fake URLs). The bounds apply per fetch."""

    fetch: Annotated[bool, Strict()] = Field(default=True, description="hear the media; false: any URL completes")
    # Twilio tries a download for up to 10 minutes and takes recordings up to 3 GB (twilio-wire.md §2.3).
    timeout_s: Annotated[float, Bound(0.01, 600, "seconds")] = Field(
        default=30.0, description="the whole download, redirects included"
    )
    max_bytes: Annotated[int, Bound(1, 3 * 1024**3, "bytes", integer=True)] = Field(
        default=512 * 1024 * 1024, description="larger downloads fail (17551); caps uploads too"
    )
    max_redirects: Annotated[int, Bound(0, 20, "redirects", integer=True)] = Field(
        default=5, description="redirects followed (to http/https only)"
    )
