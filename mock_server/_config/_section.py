"""What every part of the configuration is: a frozen, slotted dataclass that pydantic validates from its JSON form.

The declarations (`_model.py`) say each key once — type, default, range, description — and everything else is derived:
validation and the JSON dump (pydantic), error messages and the reference table (`_keys.py`), the JSON Schema. The
classes stay plain dataclasses at run time: the mock reads them on every request, and a slot read costs the same as
before pydantic was involved.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ConfigDict, model_validator
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from mock_server._config._bound import Bound

__all__ = ["SETTINGS", "ConfigError", "Invalid", "Section", "bound_of", "declared", "is_number"]

# Unknown keys are errors: a typo in a config file must fail at start, not silently do nothing.
SETTINGS = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """A configuration key or value the mock cannot accept; the message names the key and the value."""


class Invalid(ValueError):
    """A rule between keys of one section is broken (raised from `__post_init__`); `key` is the key to name."""

    def __init__(self, key: str | None, why: str, value: Any) -> None:
        super().__init__(f"'{key}' {why}, got {value!r}" if key else f"{why}, got {value!r}")
        self.key = key
        self.why = why
        self.value = value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def declared(cls: type) -> dict[str, FieldInfo]:
    """A section's fields as pydantic read them: default, default factory, description."""
    fields: dict[str, FieldInfo] = getattr(cls, "__pydantic_fields__")  # noqa: B009 — set by pydantic.dataclasses
    return fields


_BOUNDS: dict[tuple[type, str], Bound] = {}


def bound_of(cls: type, name: str) -> Bound:
    """The range declared on `cls.name` (every number has one)."""
    bound = _BOUNDS.get((cls, name))
    if bound is None:
        hint = typing.get_type_hints(cls, include_extras=True)[name]
        bounds = [item for item in getattr(hint, "__metadata__", ()) if isinstance(item, Bound)]
        if not bounds:
            raise TypeError(f"{cls.__name__}.{name} is declared without a range")
        bound = _BOUNDS[cls, name] = bounds[0]
    return bound


@dataclass(frozen=True, slots=True, config=SETTINGS)
class Section:
    """A JSON object of the configuration. `null` for a key means its default (TOML cannot say null; a JSON merge
    patch removes such keys before they get here). `SHORTHAND` names the key a plain number stands for
    (`latency_ms = 25` is `latency_ms = {ms = 25}`)."""

    SHORTHAND: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _from_document(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        if cls.SHORTHAND is not None and is_number(data):
            if not bound_of(cls, cls.SHORTHAND).admits(data):
                # Named as the shorthand itself ('latency_ms', not 'latency_ms.ms'): that is what the user wrote.
                raise PydanticCustomError("shorthand", "out of range")
            return {cls.SHORTHAND: data}
        return data  # not an object: pydantic says so, and the message comes from the declaration
