"""The mock's configuration: DESIGN.md's control-plane keys, declared once (`_model.py`, `_mock.py`) as frozen
pydantic dataclasses, validated eagerly.

`MockConfig()` is "all limits off, no faults". The JSON form (control plane and TOML file) is the one DESIGN.md
states; every unknown key or bad value is a `ConfigError` naming the dotted key and the value, so a typo in a config
file fails at start instead of silently doing nothing. Updates are RFC 7396 JSON merge patches over `to_json()`
(`null` removes a key, which brings back its default), re-validated whole. `MockConfig.json_schema()` is the same
declarations as a JSON Schema; `python -m mock_server._config --schema` / `--markdown` print it and the reference.
"""

from mock_server._config._bound import MAX_CAPACITY_STEPS, MAX_LATENCY_MS, MAX_RETRY_WAIT_MS, SEED, Bound
from mock_server._config._document import merge_patch
from mock_server._config._mock import MockConfig, load_config_file
from mock_server._config._model import (
    FAMILIES,
    CapacityStep,
    Distribution,
    FaultsConfig,
    LatencyConfig,
    LatencySpec,
    LifecycleConfig,
    LifecycleMode,
    MediaConfig,
    RateLimit,
    WebhookFaultsConfig,
)
from mock_server._config._reference import bounds, markdown, schema_text
from mock_server._config._section import ConfigError

# Every bounded key's range by path (the table tests and the media host's `ttl_s` check read), from the declarations.
BOUNDS: dict[str, Bound] = bounds()

__all__ = [
    "BOUNDS",
    "FAMILIES",
    "MAX_CAPACITY_STEPS",
    "MAX_LATENCY_MS",
    "MAX_RETRY_WAIT_MS",
    "SEED",
    "Bound",
    "CapacityStep",
    "ConfigError",
    "Distribution",
    "FaultsConfig",
    "LatencyConfig",
    "LatencySpec",
    "LifecycleConfig",
    "LifecycleMode",
    "MediaConfig",
    "MockConfig",
    "RateLimit",
    "WebhookFaultsConfig",
    "load_config_file",
    "markdown",
    "merge_patch",
    "schema_text",
]
