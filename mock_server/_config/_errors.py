"""Pydantic's validation errors told in the configuration's own words: the dotted key, what it must be, the value.

"what it must be" comes from the key's declaration (`_keys.py`), not from pydantic's generic text, so a range error
reads `'lifecycle.seconds' must be a number from 0 to 86400 (seconds), got inf` wherever the value came from.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mock_server._config._keys import Key, keys
from mock_server._config._section import ConfigError, Invalid, Section

__all__ = ["config_error"]

_NOT_REPORTED = {"default_factory_not_called"}  # a consequence of another error (burst without a valid per_second)
_SHOWN_CHARS = 120


def config_error(exc: ValidationError, root: type[Section], where: str) -> ConfigError:
    """One ConfigError for `exc`: its first problem named in full, and how many more there are."""
    problems = [error for error in exc.errors(include_url=False) if error["type"] not in _NOT_REPORTED]
    # The shallowest first: a list that is too long, or an unknown key beside it, explains what is wrong inside.
    problems.sort(key=lambda error: len(error["loc"]))
    text = _describe(problems[0], keys(root)) if problems else str(exc)
    more = len(problems) - 1
    if more > 0:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(f"{where}: {text}")


def _describe(error: ErrorDetails, table: dict[str, Key]) -> str:
    path, pattern, bad_map_key = _locate(error["loc"], table)
    kind = error["type"]
    if bad_map_key or kind in ("unexpected_keyword_argument", "invalid_key"):
        return f"unknown key '{path}'" + _hint(path, pattern, table)
    if kind == "missing":
        return f"'{path}' is required"
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):  # a rule between keys of one section
        named = f"{path}.{cause.key}" if cause.key and path else cause.key or path
        return f"'{named}' {cause.why}, got {_show(cause.value)}"
    key = table.get(pattern)
    must = key.must if key is not None else error["msg"]
    return f"'{path or 'config'}' {must}, got {_show(error['input'])}"


def _locate(loc: tuple[int | str, ...], table: dict[str, Key]) -> tuple[str, str, bool]:
    """(the dotted path as the user wrote it, its pattern in `table`, whether it points at a map's key)."""
    path = pattern = ""
    for item in loc:
        if item == "[key]":
            return path, pattern, True
        parent = table.get(pattern)
        if parent is not None and parent.shape == "list":
            path, pattern = f"{path}[{item}]", f"{pattern}[]"
        elif parent is not None and parent.shape == "map":
            path, pattern = f"{path}.{item}", f"{pattern}.*"
        else:
            path = f"{path}.{item}" if path else str(item)
            pattern = f"{pattern}.{item}" if pattern else str(item)
    return path, pattern, False


def _hint(path: str, pattern: str, table: dict[str, Key]) -> str:
    """`(did you mean 'lifecycle.mode'?)` for a likely typo, else the keys that are allowed there."""
    parent_path, _, name = path.rpartition(".")
    parent = table.get(pattern.rpartition(".")[0] if "." in pattern else "")
    if parent is None or not parent.names:
        return ""
    close = difflib.get_close_matches(name, parent.names, n=1, cutoff=0.75)
    if close:
        return f" (did you mean '{parent_path + '.' if parent_path else ''}{close[0]}'?)"
    return f" (known: {', '.join(parent.names)})"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
