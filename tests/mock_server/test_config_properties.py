"""The configuration model over its whole space: strategies read off the declarations (`keys(MockConfig)`), so a key
added to the model is covered here without editing this file.

- any valid document parses, and its config round-trips through `to_json()` / `from_json()` unchanged;
- any merge patch of random JSON gives a valid config or a ConfigError naming a key that is in the document — never
  another exception;
- every key of the committed JSON Schema (what the scenario validator reads) can be set with
  `PATCH /__mock__/config`, and the mock then reports that value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from mock_server._config import ConfigError, MockConfig, merge_patch
from mock_server._config._keys import REQUIRED, keys
from tests.mock_server.support import Api

TABLE = keys(MockConfig)
SCHEMA_PATH = Path(__file__).parents[2] / "harness" / "scenarios" / "mock_config.schema.json"

# The two rules between keys of one section, which a document built key by key can break.
_CROSS_RULE = re.compile(r"'latency_ms(\.routes\.\w+)?\.high_ms' must be ≥ low_ms|'faults' error_5xx \+ reset_before")


def _child(pattern: str, name: str) -> str:
    return f"{pattern}.{name}" if pattern else name


def _number(pattern: str) -> st.SearchStrategy[Any]:
    bound = TABLE[pattern].bound
    assert bound is not None
    whole = st.integers(math.ceil(bound.low), math.floor(bound.high))
    return whole if bound.integer else st.floats(bound.low, bound.high) | whole


def documents(pattern: str = "", noise: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """Values the declaration of the key at `pattern` allows (the rules between keys aside); with `noise`, any
    value at any depth may be replaced by one of its values instead."""
    key = TABLE[pattern]
    strategy: st.SearchStrategy[Any]
    if key.shape == "number":
        strategy = _number(pattern) | st.none() if key.nullable else _number(pattern)
    elif key.shape == "boolean":
        strategy = st.booleans()
    elif key.shape == "choice":
        strategy = st.sampled_from(key.names)
    elif key.shape == "map":
        strategy = st.dictionaries(st.sampled_from(key.names), documents(f"{pattern}.*", noise), max_size=3)
    elif key.shape == "list":
        strategy = st.lists(documents(f"{pattern}[]", noise), max_size=3)
    else:
        children = {name: documents(_child(pattern, name), noise) for name in key.names}
        required = {name: s for name, s in children.items() if TABLE[_child(pattern, name)].default == REQUIRED}
        optional = {name: s for name, s in children.items() if name not in required}
        strategy = st.fixed_dictionaries(required, optional=optional)
        if key.bound is not None:
            strategy |= _number(pattern)  # the plain-number form (latency_ms = 25)
    return strategy if noise is None else strategy | noise


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(documents())
def test_any_valid_config_round_trips_through_its_json_form(document: dict[str, Any]) -> None:
    try:
        config = MockConfig.from_json(document)
    except ConfigError as exc:
        assert _CROSS_RULE.search(str(exc)), exc  # nothing else can refuse a document built from the declarations
        reject()
    dumped = config.to_json()
    assert json.loads(json.dumps(dumped, allow_nan=False)) == dumped  # plain, finite JSON
    again = MockConfig.from_json(dumped)
    assert again == config
    assert again.to_json() == dumped
    assert config.patched({}) == config


# Random JSON whose object keys are mostly the configuration's own names, so patches reach deep into it.
_NAMES = sorted(
    {part for path in TABLE for part in re.split(r"[.\[\]*]+", path) if part} | set(TABLE["rate_limits"].names)
)
_names = st.sampled_from(_NAMES) | st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=4))


def _places(document: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    for name, value in items:
        yield from _places(value, (*path, name))


@st.composite
def _one_bad_value(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with one value, at any depth, replaced by random JSON (or one random key added)."""
    document = draw(documents().filter(lambda d: isinstance(d, dict) and bool(d)))
    *parents, last = draw(st.sampled_from([place for place in _places(document) if place]))
    node: Any = document
    for part in parents:
        node = node[part]
    if isinstance(node, dict) and draw(st.booleans()):
        node[draw(_names)] = draw(_json)
    else:
        node[last] = draw(_json)
    return document


# Any JSON object; one shaped like the configuration with random JSON anywhere inside; or one wrong value in it.
_patches = (
    st.dictionaries(_names, _json, max_size=4)
    | documents(noise=_json).filter(lambda patch: isinstance(patch, dict))
    | _one_bad_value()
)


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    """(whether `path` — as an error message writes it — is in `document`, the value there)."""
    node = document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return False, None
            node = node[int(index)]
        elif isinstance(node, dict) and name in node:
            node = node[name]
        else:
            return False, None
    return True, node


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=400)
@given(base=documents(), patch=_patches)
def test_a_random_merge_patch_gives_a_config_or_an_error_naming_a_key_in_the_document(
    base: dict[str, Any], patch: dict[str, Any]
) -> None:
    try:
        config = MockConfig.from_json(base)
    except ConfigError:
        reject()
    try:
        patched = config.patched(patch)
    except ConfigError as exc:
        message = str(exc)
        named = re.match(r"config: (?:unknown key )?'([^']+)'", message)
        assert named is not None, message
        document = merge_patch(config.to_json(), patch)
        path = named.group(1)
        missing = f"'{path}' is required" in message or _CROSS_RULE.search(message)
        where = path.rpartition(".")[0] if missing else path  # a required or defaulted key: its section is there
        assert not where or _lookup(document, where)[0], (message, document)
    else:
        assert isinstance(patched, MockConfig)
        assert MockConfig.from_json(patched.to_json()) == patched


# --- every key of the committed schema is settable through the control plane -------------------------------------

# A latency parameter is kept only with its distribution; burst and concurrency_limit need their required siblings.
_CONTEXT = {
    "low_ms": {"distribution": "uniform", "high_ms": 60_000},
    "high_ms": {"distribution": "uniform"},
    "median_ms": {"distribution": "lognormal"},
    "sigma": {"distribution": "lognormal"},
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {**_SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _settable(node: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every leaf under `node`: (path, the schema of its value); a shorthand number counts as a leaf of its own."""
    node = _resolve(node)
    for branch in node.get("anyOf", ()):
        if branch.get("type") == "number":  # the plain-number form of a section (latency_ms = 25)
            yield path, branch
        elif branch.get("type") == "object":
            yield from _settable(branch, path)
        elif branch.get("type") != "null":
            yield path, branch  # an integer that may also be null
    if node.get("type") == "object" and "properties" in node:
        for name, child in node["properties"].items():
            yield from _settable(child, (*path, name))
    elif node.get("type") == "object" and "additionalProperties" in node:
        for family in node["propertyNames"]["enum"]:
            yield from _settable(node["additionalProperties"], (*path, family))
    elif node.get("type") == "array":
        yield from _settable(node["items"], (*path, 0))
    elif "anyOf" not in node:
        yield path, node


_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) if SCHEMA_PATH.exists() else {}
_LEAVES = dict(_settable(_SCHEMA, ())) if _SCHEMA else {}


def _candidates(schema: dict[str, Any]) -> list[Any]:
    if "enum" in schema:
        return list(schema["enum"])
    if schema.get("type") == "boolean":
        return [True, False]
    return [schema["maximum"], schema["minimum"]]


def _patch_for(path: tuple[str | int, ...], value: Any) -> Any:
    """A merge patch setting `path` to `value`, with what the key needs beside it to be valid and kept."""
    *parents, name = path
    leaf: Any = {name: value, **_CONTEXT.get(str(name), {})} if isinstance(name, str) else [value]
    if parents and parents[0] == "rate_limits" and name != "per_second" and len(path) == 3:
        leaf.setdefault("per_second", 1)
    if parents and parents[0] == "capacity_schedule" and name != "at_s":
        leaf.setdefault("at_s", 1)
    for parent in reversed(parents):
        leaf = [leaf] if isinstance(parent, int) else {parent: leaf}
    return leaf


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def test_the_schema_walk_finds_every_key() -> None:
    assert _LEAVES, f"{SCHEMA_PATH} is missing"
    # Each leaf of the model (a route family's keys once per family), and the two plain-number forms per latency.
    leaves = [key for key in TABLE.values() if key.shape in ("number", "boolean", "choice")]
    per_family = len(TABLE["latency_ms.routes"].names)
    routes = [key for key in leaves if key.path.startswith(("latency_ms.routes.*", "rate_limits.*"))]
    assert len(_LEAVES) == len(leaves) + (per_family - 1) * len(routes) + 1 + per_family


@pytest.mark.parametrize("path", list(_LEAVES), ids=_dotted)
async def test_every_key_in_the_schema_is_settable_through_the_control_plane(
    api: Api, path: tuple[str | int, ...]
) -> None:
    before = (await api.control("GET", "/__mock__/config")).body
    found, current = _lookup(before, _dotted(path))
    value = next(v for v in _candidates(_LEAVES[path]) if not (found and v == current))
    r = await api.control("PATCH", "/__mock__/config", _patch_for(path, value))
    assert r.status == 200, r.body
    after = (await api.control("GET", "/__mock__/config")).body
    assert after == r.body
    found, reported = _lookup(after, _dotted(path))
    if isinstance(reported, dict) and _LEAVES[path].get("type") == "number" and "ms" in reported:
        reported = reported["ms"]  # the shorthand, reported in its object form
    assert found, (path, after)
    assert reported == value, (path, value, after)
