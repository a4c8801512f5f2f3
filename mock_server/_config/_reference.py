"""Views of the declarations for people and other programs: the range table, the JSON Schema, a Markdown table."""

from __future__ import annotations

import json

from mock_server._config._bound import Bound
from mock_server._config._keys import DERIVED, REQUIRED, Key, keys
from mock_server._config._mock import MockConfig

__all__ = ["bounds", "markdown", "schema_text"]


def bounds() -> dict[str, Bound]:
    """Every bounded key's range by path (`latency_ms` for its plain-number form). A route's latency keys have the
    top-level ones' ranges, so `latency_ms.routes.*` is left out, as the table always did."""
    return {
        key.path: key.bound
        for key in keys(MockConfig).values()
        if key.bound is not None and not key.path.startswith("latency_ms.routes.")
    }


def schema_text() -> str:
    """The JSON Schema as committed in harness/scenarios/mock_config.schema.json (stable key order, final newline)."""
    return json.dumps(MockConfig.json_schema(), indent=2, ensure_ascii=False) + "\n"


def markdown() -> str:
    """The configuration reference: every key with its type, default, range and description.

    A key inside a map's entry that reads exactly like its twin one level up (`latency_ms.routes.<family>.ms` and
    `latency_ms.ms`) is left out: the entry's own row says it has the same keys."""
    table = keys(MockConfig)
    lines = ["| key | type | default | range | description |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_cells(key)) + " |" for key in table.values() if key.path and not _twin(key, table)]
    return "\n".join(lines) + "\n"


def _twin(key: Key, table: dict[str, Key]) -> bool:
    map_path, found, name = key.path.rpartition(".*.")
    if not found or "." in name:
        return False
    twin = table.get(f"{map_path.rpartition('.')[0]}.{name}")
    return twin is not None and _cells(twin)[1:] == _cells(key)[1:]


def _cells(key: Key) -> list[str]:
    path = key.path.replace(".*", ".<family>").replace("[]", "[i]")
    return [f"`{path}`", _type(key), _default(key), _range(key), key.description.replace("|", "\\|")]


def _type(key: Key) -> str:
    if key.shape == "number":
        kind = "integer" if key.bound is not None and key.bound.integer else "number"
        return f"{kind} or null" if key.nullable else kind
    if key.shape == "choice":
        return " \\| ".join(f'"{name}"' for name in key.names)
    if key.shape == "section":
        return "number or object" if key.bound is not None else "object"
    return {"map": "object", "list": "array", "boolean": "boolean"}[key.shape]


def _default(key: Key) -> str:
    if key.default == REQUIRED:
        return "required" if not key.path.endswith("*") and not key.path.endswith("[]") else ""
    if key.default == DERIVED:
        return "see description"
    if key.shape == "section":
        return ""  # each of its keys has its own
    return f"`{json.dumps(key.default)}`"


def _range(key: Key) -> str:
    if key.bound is not None:
        return key.bound.describe().removeprefix("an integer from ").removeprefix("a number from ").replace(" to ", "–")
    if key.shape == "list":
        return f"at most {key.max_items} entries"
    if key.shape == "map":
        return ", ".join(key.names)
    return ""
