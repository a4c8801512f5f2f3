"""`cintel merge` runs `harness.cli.main`, which configures the harness loggers; put them back after each test so
tests that capture log records (in the same worker) still see them. The respx room fixtures live in room_support."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from .room_support import api, room  # noqa: F401 - fixtures for the room tests (test_room, test_cli_room)


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    saved = {}
    for name in ("harness", "mock_server", "aiohttp"):
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate
