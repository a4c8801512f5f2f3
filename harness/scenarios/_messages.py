"""pydantic's validation errors, as a reader of a scenario file wants them: `key.path: value why`.

A location is written as the file writes it (`expect.sentences[2].channel`, keys quoted when TOML would quote them,
a step's `do` tag — which pydantic puts in the path — left out); an unknown key lists the keys its table allows.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from harness.scenarios._model import STEP_KINDS, Scenario

__all__ = ["describe_error", "key", "key_path", "show"]

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, float) else f"{value:g}"
    return text if len(text) <= 60 else text[:59] + "…"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (`statuses."*"`, `metadata."a b"`)."""
    return name if BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def key_path(loc: Iterable[int | str]) -> str:
    """`('expect', 'sentences', 2, 'channel')` → `expect.sentences[2].channel` (a step's union tag left out)."""
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in STEP_KINDS and isinstance(previous, int) and out.startswith("steps["):
            pass  # pydantic puts the chosen `do` in the path: `steps[0].submit.items` reads as `steps[0].items`
        elif part == "[key]":
            out += " (the name)"
        else:
            out += f".{key(str(part))}" if out else key(str(part))
        previous = part
    return out or "(the file)"


_WHY: dict[str, Callable[[dict[str, Any]], str]] = {
    "literal_error": lambda c: f"is not {c['expected']}",
    "int_type": lambda c: "is not an integer",
    "float_type": lambda c: "is not a number",
    "string_type": lambda c: "is not a string",
    "bool_type": lambda c: "is not true or false",
    "list_type": lambda c: "is not a list",
    "dict_type": lambda c: "is not a table",
    "model_type": lambda c: "is not a table",
    "model_attributes_type": lambda c: "is not a table",
    "finite_number": lambda c: "is not a finite number",
    "greater_than_equal": lambda c: f"is less than {_num(c['ge'])}",
    "greater_than": lambda c: f"is not more than {_num(c['gt'])}",
    "less_than_equal": lambda c: f"is more than {_num(c['le'])}",
    "less_than": lambda c: f"is not less than {_num(c['lt'])}",
    "string_too_short": lambda c: f"is shorter than {c['min_length']} characters",
    "string_too_long": lambda c: f"is longer than {c['max_length']} characters",
    "too_short": lambda c: f"has fewer than {c['min_length']} entries",
    "too_long": lambda c: f"has more than {c['max_length']} entries",
    "string_pattern_mismatch": lambda c: (
        "is not a valid name (letters, digits, _ and -, from a letter or digit)"
        if "A-Za-z0-9_-" in c["pattern"]
        else "is not 1 to 60 printable ASCII characters"
    ),
}


def describe_error(error: Mapping[str, Any]) -> str:
    """One pydantic error as `key.path: value why`."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"{key_path(loc)}: required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{key_path(loc)}: unknown key{hint}"
    if kind == "union_tag_invalid":
        return f"{key_path(loc)}.do: {show(ctx.get('tag'))} is not one of {', '.join(STEP_KINDS)}"
    if kind == "union_tag_not_found":
        return f"{key_path(loc)}.do: required (one of {', '.join(STEP_KINDS)})"
    if kind == "value_error":
        why = str(error["msg"]).removeprefix("Value error, ")
        if loc and isinstance(error.get("input"), Mapping):  # a table's rule over several keys
            return f"{key_path(loc)}: {why}"
        return f"{key_path(loc)}: {show(error.get('input'))} {why}"
    render = _WHY.get(kind)
    why = render(ctx) if render is not None else str(error["msg"]).lower()
    return f"{key_path(loc)}: {show(error.get('input'))} {why}"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the table at `loc` accepts (for an unknown key's message), or [] if it cannot tell."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current, part)
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _field_type(tp: Any, name: str) -> Any:
    return tp.model_fields[name].annotation if _is_model(tp) and name in tp.model_fields else None


def _unwrap(tp: Any, part: int | str) -> Any:
    """The type one step down `loc` from `tp`: a model's field, a list's element, a dict's value, a step by tag."""
    tp = _strip(tp)
    if tp is None:
        return None
    if _is_model(tp):
        return _strip(_field_type(tp, part)) if isinstance(part, str) else None
    origin = typing.get_origin(tp)
    args = [_strip(a) for a in typing.get_args(tp)]
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if _is_model(a)]
        if isinstance(part, str) and part in STEP_KINDS:
            return next((m for m in models if _tag(m) == part), None)
        inner = next((a for a in args if a is not type(None)), None)
        return _unwrap(inner, part) if inner is not None else None
    if origin is list and isinstance(part, int):
        return args[0]
    if origin is dict and isinstance(part, str):
        return args[1]
    return None


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("do")
    choices = typing.get_args(field.annotation) if field is not None else ()
    return str(choices[0]) if choices else None
