"""Random mutations of valid scenarios: the loader answers a scenario or an error naming the file and a key path —
never a crash, never a problem without a path."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.cli._scenario import mock_validator
from harness.scenarios import LoadedScenario, ScenarioError
from harness.scenarios._load import parse_scenario
from harness.scenarios._messages import key_path

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios"
BASES = {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(LIBRARY.glob("*.toml"))}
VALIDATE = mock_validator()
# `key.path: …` (a key bare or quoted as in TOML, `[n]` for an index), `key.path (the name): …`, `(the file): …`
_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")'
PROBLEM = re.compile(rf"^(?P<path>\(the file\)|{_KEY}(?:\.{_KEY}|\[\d+\])*)(?: \(the name\))?: \S")

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["hello", "yes", "call", "main", "completed", "submit", "wait", "merge", "immediate"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, (*prefix, index))
    return out


def mutate(data: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if not rest and how == "delete":
            copy.pop(head, None)
        elif not rest and how == "add":
            copy[f"{head}_extra"] = value
        else:
            copy[head] = mutate(copy[head], rest, how, value)
        return copy
    copy_list = list(data)
    if not rest and how == "delete":
        copy_list.pop(head)
    else:
        copy_list[head] = mutate(copy_list[head], rest, how, value)
    return copy_list


@given(
    base=st.sampled_from(sorted(BASES)),
    pick=st.integers(0, 10_000),
    how=st.sampled_from(["replace", "delete", "add"]),
    value=values,
)
def test_a_mutated_scenario_loads_or_is_an_error_naming_a_key_path(base: str, pick: int, how: str, value: Any) -> None:
    data = BASES[base]
    candidates = paths(data)
    path = candidates[pick % len(candidates)]
    mutated = mutate(data, path, how, value)
    where = LIBRARY / base
    try:
        loaded = parse_scenario(mutated, where, validate_mock=VALIDATE)
    except ScenarioError as error:
        assert error.problems
        named = []
        for problem in error.problems:
            assert problem.startswith(f"{where}: "), problem
            match = PROBLEM.match(problem.removeprefix(f"{where}: "))
            assert match, problem
            named.append(match["path"])
        if how == "replace" and path[0] != "mock" and not isinstance(value, str):
            # A value of another kind is refused where it was put, or by a table that holds it.
            mine = key_path(path)
            assert any(mine.startswith(n) or n.startswith(mine) for n in named) or any(
                "is no item" in p or "is not declared" in p or "used twice" in p for p in error.problems
            ), (mine, error.problems)
        return
    assert isinstance(loaded, LoadedScenario)
