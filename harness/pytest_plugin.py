"""cintel's pytest plugin (entry point `pytest11`, so installing cintel-harness enables it; `-p no:cintel` disables).

Scenario files: `pytest scenarios/` runs each `scenarios/*.toml` as a test (`harness._pytest_scenarios`); the
fixtures `cintel_mock`, `cintel_client`, `cintel_twilio` and `cintel_replay` (`harness._pytest_fixtures`). Both
modules sit outside the packages they drive and import them only when a scenario is collected or a fixture is used,
so a pytest run that uses neither pays for little more than this import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness._pytest_scenarios import pytest_addoption, pytest_collect_file

if TYPE_CHECKING:
    from harness._pytest_fixtures import CintelMock, CintelReplay, MockControlError

__all__ = ["CintelMock", "CintelReplay", "MockControlError", "pytest_addoption", "pytest_collect_file"]
pytest_plugins = ["harness._pytest_fixtures"]  # the cintel_* fixtures (a module of its own: it has its own options)
_FIXTURE_TYPES = frozenset({"CintelMock", "CintelReplay", "MockControlError"})


def __getattr__(name: str) -> Any:
    """The fixtures' types, for annotations (`from harness.pytest_plugin import CintelMock`): looked up on use, so
    pytest loads `harness._pytest_fixtures` itself first and can rewrite its asserts."""
    if name in _FIXTURE_TYPES:
        from harness import _pytest_fixtures

        return getattr(_pytest_fixtures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
