"""The shape of two JSON answers to the same request, compared: fields, types, nulls and paging — not values.

Values differ between any two runs (SIDs, times, text); what a client depends on is which fields are there, what
JSON type each has, whether it can be null, and how lists page. A path names where: `$.sentences[].words[].start_time`
(`[]` for any element of a list: the elements of both lists are compared pairwise, and a difference is reported once
per path). Kinds:

    missing  a field the recorded answer has and the mock's does not
    extra    a field only the mock's answer has
    type     both have it, with different JSON types (integer and number count as one: JSON has one number type)
    null     one is null and the other is not (often timing: a field filled once processing is done)
    paging   anything under `meta`, its `key` and `page_size` values, and the query parameter names of paging URLs
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PAGING_VALUES = ("key", "page_size")
PAGING_URLS = ("first_page_url", "next_page_url", "previous_page_url", "url")


@dataclass(frozen=True, slots=True)
class ShapeDifference:
    kind: str
    path: str
    recorded: str
    mock: str


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def shape_differences(recorded: Any, mock: Any) -> list[ShapeDifference]:
    """Every difference of shape between a recorded answer and the mock's, in document order, once per path."""
    found: dict[tuple[str, str], ShapeDifference] = {}
    _compare(recorded, mock, "$", found, in_meta=False)
    return list(found.values())


def _add(found: dict[tuple[str, str], ShapeDifference], kind: str, path: str, recorded: str, mock: str) -> None:
    found.setdefault((kind, path), ShapeDifference(kind, path, recorded, mock))


def _compare(recorded: Any, mock: Any, path: str, found: dict[tuple[str, str], ShapeDifference], in_meta: bool) -> None:
    a, b = json_type(recorded), json_type(mock)
    if a != b:
        kind = "paging" if in_meta else "null" if "null" in (a, b) else "type"
        _add(found, kind, path, a, b)
        return
    if a == "object":
        for name in recorded:
            child = f"{path}.{name}"
            meta = in_meta or (path == "$" and name == "meta")
            if name not in mock:
                _add(found, "paging" if meta else "missing", child, json_type(recorded[name]), "absent")
            else:
                _compare(recorded[name], mock[name], child, found, meta)
        for name in mock:
            if name not in recorded:
                meta = in_meta or (path == "$" and name == "meta")
                _add(found, "paging" if meta else "extra", f"{path}.{name}", "absent", json_type(mock[name]))
        if path == "$.meta":
            _compare_paging(recorded, mock, found)
    elif a == "array":
        for left, right in zip(recorded, mock, strict=False):
            _compare(left, right, f"{path}[]", found, in_meta)


def _compare_paging(
    recorded: dict[str, Any], mock: dict[str, Any], found: dict[tuple[str, str], ShapeDifference]
) -> None:
    for name in PAGING_VALUES:
        if name in recorded and name in mock and recorded[name] != mock[name]:
            _add(found, "paging", f"$.meta.{name}", repr(recorded[name]), repr(mock[name]))
    for name in PAGING_URLS:
        left, right = recorded.get(name), mock.get(name)
        if isinstance(left, str) and isinstance(right, str):
            names_left = sorted({k for k, _ in parse_qsl(urlsplit(left).query, keep_blank_values=True)})
            names_right = sorted({k for k, _ in parse_qsl(urlsplit(right).query, keep_blank_values=True)})
            if names_left != names_right:
                _add(found, "paging", f"$.meta.{name}", "parameters " + ",".join(names_left),
                     "parameters " + ",".join(names_right))  # fmt: skip
