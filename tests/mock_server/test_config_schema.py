"""The configuration's JSON Schema: the committed copy the scenario validator reads is the model's, and the schema and
the model accept and refuse the same documents (NaN/inf aside: JSON Schema cannot say "finite")."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from mock_server._config import ConfigError, MockConfig, markdown, schema_text
from mock_server._config.__main__ import main
from mock_server._config._keys import keys
from tests.mock_server.test_config_properties import documents

ROOT = Path(__file__).parents[2]
SCHEMA_PATH = ROOT / "harness" / "scenarios" / "mock_config.schema.json"
REGENERATE = "python -m mock_server._config --schema > harness/scenarios/mock_config.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    assert SCHEMA_PATH.exists(), f"{SCHEMA_PATH.relative_to(ROOT)} is missing; make it with: {REGENERATE}"
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_committed_schema_is_the_models() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert committed == schema_text(), (
        f"{SCHEMA_PATH.relative_to(ROOT)} differs from mock_server/_config's model; regenerate it with: {REGENERATE}"
    )
    assert json.loads(committed) == MockConfig.json_schema()


def test_the_regeneration_command_prints_the_committed_schema() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mock_server._config", "--schema"], cwd=ROOT, capture_output=True, check=True, timeout=60
    )
    assert run.stdout.decode("utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")


def test_every_key_is_described_and_in_the_reference_table() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--markdown"]) == 0
    table = out.getvalue()
    assert table == markdown()
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]}
    for key in keys(MockConfig).values():
        if key.path:
            assert key.description, key.path
        if key.path and not key.path.startswith("latency_ms.routes.*."):  # those read exactly as latency_ms.*
            assert key.path.replace(".*", ".<family>").replace("[]", "[i]") in rows, key.path
    assert "| `media_url_ttl_s` | integer | `3600` | 1–604800 (seconds) | lifetime of a signed `media_url` |" in table


def test_the_schema_describes_every_key_with_its_range_and_default() -> None:
    schema = MockConfig.json_schema()
    ttl = schema["properties"]["media_url_ttl_s"]
    assert (ttl["type"], ttl["minimum"], ttl["maximum"], ttl["default"]) == ("integer", 1, 604_800, 3600)
    assert ttl["description"]
    latency = schema["$defs"]["LatencyConfig"]["anyOf"]
    assert latency[0] == {"type": "number", "minimum": 0, "maximum": 60_000, "description": "the same as {ms = …}"}
    assert latency[1]["properties"]["routes"]["propertyNames"]["enum"][-1] == "video"
    assert schema["additionalProperties"] is False


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(documents())
def test_what_the_model_accepts_the_schema_accepts(validator: Draft202012Validator, document: Any) -> None:
    assert not list(validator.iter_errors(document)), document  # built from the declarations: schema-valid
    try:
        config = MockConfig.from_json(document)
    except ConfigError:
        return  # a rule between keys (uniform high < low; faults summing over 1) the schema does not state
    assert not list(validator.iter_errors(config.to_json()))


@pytest.mark.parametrize(
    "document",
    [
        {"concurency_limit": 3},
        {"concurrency_limit": 0},
        {"concurrency_limit": 2.5},
        {"concurrency_limit": "10"},
        {"latency_ms": 60_001},
        {"latency_ms": "fast"},
        {"latency_ms": {"distribution": "gamma"}},
        {"latency_ms": {"routes": {"transcript": 5}}},
        {"latency_ms": {"routes": {"video": {"sigma": 11}}}},
        {"rate_limits": {"video": {"burst": 2}}},
        {"rate_limits": {"sentence": {"per_second": 1}}},
        {"retry_after": 1},
        {"capacity_schedule": [{"at_s": 1}] * 1001},
        {"capacity_schedule": [{"concurrency_limit": 2}]},
        {"lifecycle": {"modee": "immediate"}},
        {"lifecycle": {"polls": 1.5}},
        {"faults": {"error_5xx": 1.5}},
        {"webhook_faults": {"max_attempts": 11}},
        {"media": {"fetch": "no"}},
        {"media": {"max_bytes": 3 * 1024**3 + 1}},
        {"media_url_ttl_s": 0},
    ],
)
def test_what_the_model_refuses_the_schema_refuses(validator: Draft202012Validator, document: Any) -> None:
    with pytest.raises(ConfigError):
        MockConfig.from_json(document)
    assert list(validator.iter_errors(document)), document
