"""Every key of the configuration, read off the declarations: the source of error messages and the reference table.

A key's path is written as in a config document: `*` stands for a route family (a map's key) and `[]` for a list
index, e.g. `rate_limits.*.burst` or `capacity_schedule[].at_s`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import annotated_types
from pydantic import WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from mock_server._config._bound import Bound
from mock_server._config._section import Section, bound_of, declared

__all__ = ["DERIVED", "REQUIRED", "Key", "keys"]

Shape = Literal["section", "map", "list", "number", "boolean", "choice"]
REQUIRED = "(required)"
DERIVED = "(derived)"  # a default computed from the section's other keys


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    path: str
    shape: Shape
    description: str = ""
    default: Any = REQUIRED  # in its JSON form
    nullable: bool = False
    bound: Bound | None = None  # a number's range; a section's plain-number shorthand
    names: tuple[str, ...] = ()  # a section's keys, a map's allowed keys, a choice's values
    max_items: int | None = None

    @property
    def must(self) -> str:
        """What a value of this key must be, for an error message: "must be an integer from 1 to 10"."""
        if self.shape == "number":
            assert self.bound is not None  # `keys()` refuses a number declared without a range
            return f"must be {self.bound.describe()}" + (" or null (no limit)" if self.nullable else "")
        if self.shape == "boolean":
            return "must be true or false"
        if self.shape == "choice":
            return f"must be one of {', '.join(self.names)}"
        if self.shape == "list":
            return f"must be a list of at most {self.max_items} entries"
        if self.shape == "map":
            return f"must be an object with keys among {', '.join(self.names)}"
        return f"must be {self.bound.describe()} or an object" if self.bound else "must be an object"


_TABLES: dict[type[Section], dict[str, Key]] = {}


def keys(root: type[Section]) -> dict[str, Key]:
    """Every key under `root` by path, parents before children; the root itself is the path ""."""
    table = _TABLES.get(root)
    if table is None:
        table = {"": _section_key(root, "", "")}
        table.update((key.path, key) for key in _fields(root, ""))
        _TABLES[root] = table
    return table


def _fields(cls: type[Section], prefix: str) -> Iterator[Key]:
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue  # derived at construction (LatencyConfig.default), not a key
        info = declared(cls)[field.name]
        path = f"{prefix}.{field.name}" if prefix else field.name
        yield from _typed(hints[field.name], path, info.description or "", _default(info))


def _typed(hint: Any, path: str, description: str, default: Any) -> Iterator[Key]:
    nullable = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint, nullable = members[0], len(members) < len(typing.get_args(hint))
    base: Any = hint
    metadata: tuple[Any, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        base, *rest = typing.get_args(hint)
        metadata = tuple(rest)
    origin = typing.get_origin(base)
    common = {"path": path, "description": description, "default": default, "nullable": nullable}
    if origin is Literal:
        yield Key(shape="choice", names=tuple(typing.get_args(base)), **common)
    elif base is bool:
        yield Key(shape="boolean", **common)
    elif base in (int, float):
        bounds = [item for item in metadata if isinstance(item, Bound)]
        if not bounds:
            raise TypeError(f"config key {path!r} is a number declared without a range")
        yield Key(shape="number", bound=bounds[0], **common)
    elif origin in (Mapping, dict):
        key_type, value_type = typing.get_args(base)
        yield Key(shape="map", names=_allowed(key_type), **common)
        yield from _typed(value_type, f"{path}.*", "", REQUIRED)
    elif origin is tuple:
        yield Key(shape="list", max_items=_max_length(metadata), **common)
        yield from _typed(typing.get_args(base)[0], f"{path}[]", "", REQUIRED)
    elif isinstance(base, type) and issubclass(base, Section):
        yield _section_key(base, path, description, default, nullable)
        yield from _fields(base, path)
    else:
        raise TypeError(f"config key {path!r} has a type the reference cannot describe: {base!r}")


def _section_key(
    cls: type[Section], path: str, description: str, default: Any = REQUIRED, nullable: bool = False
) -> Key:
    names = tuple(field.name for field in dataclasses.fields(cls) if field.init)
    shorthand = bound_of(cls, cls.SHORTHAND) if cls.SHORTHAND else None
    description = description or (cls.__doc__ or "").split("\n")[0]
    return Key(path, "section", description, default, nullable, shorthand, names)


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return DERIVED if info.default_factory_takes_validated_data else _json(info.default_factory())  # type: ignore[call-arg]
    return REQUIRED if info.default is PydanticUndefined else _json(info.default)


def _json(value: Any) -> Any:
    serializer = getattr(type(value), "__pydantic_serializer__", None)  # a section: dumped as to_json() would
    return serializer.to_python(value, mode="json") if serializer is not None else to_jsonable_python(value)


def _allowed(key_type: Any) -> tuple[str, ...]:
    for item in typing.get_args(key_type)[1:]:
        if isinstance(item, WithJsonSchema) and item.json_schema is not None:
            return tuple(item.json_schema.get("enum", ()))
    return ()


def _max_length(metadata: tuple[Any, ...]) -> int | None:
    for item in metadata:
        constraints: list[Any] = item.metadata if isinstance(item, FieldInfo) else [item]
        for constraint in constraints:
            if isinstance(constraint, annotated_types.MaxLen):
                return constraint.max_length
    return None
