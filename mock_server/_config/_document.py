"""The configuration's JSON form: parsing (pydantic, errors in the configuration's words), merge patches, TOML files."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from mock_server._config._errors import config_error
from mock_server._config._section import ConfigError, Section

__all__ = ["dump", "merge_patch", "parse", "read_toml"]

S = TypeVar("S", bound=Section)


_ADAPTERS: dict[type[Section], TypeAdapter[Any]] = {}  # one per class: building one compiles its validator


def _adapter(cls: type[S]) -> TypeAdapter[S]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def parse(cls: type[S], data: Any, where: str) -> S:
    """`data` (a JSON/TOML document) as a `cls`, or a ConfigError naming `where`, the key and the value."""
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as exc:
        raise config_error(exc, cls, where) from None


def dump(section: Section) -> dict[str, Any]:
    result: dict[str, Any] = _adapter(type(section)).dump_python(section, mode="json")
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, `null` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's document; every error names the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
