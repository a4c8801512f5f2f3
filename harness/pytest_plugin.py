"""cintel's pytest plugin (entry point `pytest11`, so installing cintel-harness enables it).

Scenario files: `pytest scenarios/` runs each `scenarios/*.toml` as a test (`harness.scenarios._pytest`).
"""

from __future__ import annotations

from harness.scenarios._pytest import pytest_addoption, pytest_collect_file

__all__ = ["pytest_addoption", "pytest_collect_file"]
pytest_plugins = ["harness._pytest_fixtures"]  # the cintel_* fixtures (a module of its own: it has its own options)
