"""`MockConfig`: the whole configuration — the top-level keys, and the JSON form's entry points."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, TypeAdapter
from pydantic.dataclasses import dataclass

from mock_server._config._bound import LIMIT, MAX_CAPACITY_STEPS, Bound
from mock_server._config._document import dump, merge_patch, parse, read_toml
from mock_server._config._model import (
    CapacityStep,
    Family,
    FaultsConfig,
    LatencyConfig,
    LifecycleConfig,
    MediaConfig,
    RateLimit,
    WebhookFaultsConfig,
    by_time,
)
from mock_server._config._section import SETTINGS, ConfigError, Section

__all__ = ["MockConfig", "load_config_file"]


@dataclass(frozen=True, slots=True, config=SETTINGS)
class MockConfig(Section):
    """The mock's configuration: DESIGN.md's control-plane keys. `MockConfig()` is all limits off, no faults."""

    concurrency_limit: Annotated[int, LIMIT] | None = Field(
        default=None,
        description="requests in flight per account; the next one is refused 429/20429 at once; null: none",
    )
    latency_ms: LatencyConfig = Field(
        default=LatencyConfig(), description="how long answers wait, holding their concurrency slot (a number: fixed)"
    )
    rate_limits: Mapping[Family, RateLimit] = Field(default_factory=dict, description="token buckets per route family")
    retry_after: Annotated[bool, Strict()] = Field(default=False, description="send Retry-After (seconds) with 429s")
    capacity_schedule: Annotated[
        tuple[CapacityStep, ...], Field(max_length=MAX_CAPACITY_STEPS), AfterValidator(by_time)
    ] = Field(default=(), description="concurrency limit steps over time")
    lifecycle: LifecycleConfig = Field(default=LifecycleConfig(), description="how transcripts progress")
    faults: FaultsConfig = Field(default=FaultsConfig(), description="seeded faults of the API's answers")
    webhook_faults: WebhookFaultsConfig = Field(
        default=WebhookFaultsConfig(), description="seeded faults of completion callbacks"
    )
    media_url_ttl_s: Annotated[int, Bound(1, 604_800, "seconds", integer=True)] = Field(
        default=3600, description="lifetime of a signed `media_url`"
    )
    media: MediaConfig = Field(default=MediaConfig(), description="how the mock gets and hears a transcript's media")

    @property
    def has_limits(self) -> bool:
        return self.concurrency_limit is not None or bool(self.rate_limits) or bool(self.capacity_schedule)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "config") -> MockConfig:
        return parse(cls, data, where)

    def to_json(self) -> dict[str, Any]:
        return dump(self)

    def patched(self, patch: Mapping[str, Any], where: str = "config") -> MockConfig:
        """This config with an RFC 7396 merge patch applied over `to_json()` (`null` brings a default back)."""
        if not isinstance(patch, Mapping):
            raise ConfigError(f"{where}: a merge patch must be a JSON object, got {type(patch).__name__}")
        try:
            document = merge_patch(self.to_json(), patch)
        except RecursionError:  # thousands of levels deep (the control plane's JSON reader refuses those first)
            raise ConfigError(f"{where}: the merge patch is nested too deeply") from None
        return parse(MockConfig, document, where)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (2020-12) of the JSON/TOML form, every key with its description, default and range."""
        schema = TypeAdapter(cls).json_schema(mode="validation")
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def load_config_file(path: str | Path) -> MockConfig:
    """Read a TOML config file; every error names the file and the key."""
    path = Path(path)
    return parse(MockConfig, read_toml(path), str(path))
