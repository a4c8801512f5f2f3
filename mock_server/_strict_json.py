"""JSON as a strict server reads it: what Python's `json.loads` lets through that no JSON service would keep.

`json.loads` accepts `NaN`, `Infinity` and numbers that overflow to infinity (the mock would then answer with
invalid JSON), lone UTF-16 surrogates in strings (which cannot be encoded back to UTF-8: a 500 on the way out), and
nesting deep enough to exhaust the interpreter's stack (a `RecursionError`, not a `ValueError`). `loads` refuses
all of them with a `ValueError` saying why, so every caller has one error to turn into a 400. Used for the
`Channel` and `Config` parameters and for control-plane bodies alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "loads"]

MAX_DEPTH = 32  # far deeper than anything the API or the control plane defines


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def loads(raw: str | bytes) -> Any:
    """Parse strict JSON; ValueError (with a short reason) for anything a strict parser would refuse."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")  # json.loads would guess UTF-16/32 from the first bytes
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    _check(value)
    return value


def _check(value: Any) -> None:
    """Depth and string contents, iteratively (the point is not to recurse on untrusted nesting)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _text(node)
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                for key, item in node.items():
                    _text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node)


def _text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
