"""Fixtures shared by every test package."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The machine is shared and noisy: a wall-clock deadline per example would make property tests flaky without
# telling us anything about correctness, so no deadline; and the number of examples stays modest so the whole
# suite fits comfortably in CI's time.
settings.register_profile(
    "cintel", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("cintel")

SPECS = Path(__file__).resolve().parent / "specs"  # Twilio's OpenAPI files, vendored (tests/specs/README.md)
INTELLIGENCE_SPEC = SPECS / "twilio_intelligence_v2.json"
VIDEO_SPEC = SPECS / "twilio_video_v1.json"


def _load(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="session")
def intelligence_spec() -> dict[str, Any]:
    """Twilio's official OpenAPI file for Intelligence v2 (twilio-oai 2.6.7, in tests/specs/)."""
    return _load(INTELLIGENCE_SPEC)


@pytest.fixture(scope="session")
def video_spec() -> dict[str, Any]:
    """Twilio's official OpenAPI file for Video v1 (twilio-oai 2.6.7, in tests/specs/)."""
    return _load(VIDEO_SPEC)


@pytest.fixture(autouse=True)
def _restore_cli_logging() -> Any:
    """`harness.cli.main()` run in-process sets up the command's logging (its own handler, no propagation to the
    root logger); put the loggers back after each test, so a later test's `caplog` still sees their records."""
    import logging

    names = ("harness", "mock_server", "aiohttp")
    saved = [(logging.getLogger(n), logging.getLogger(n).handlers[:], logging.getLogger(n).level,
              logging.getLogger(n).propagate) for n in names]  # fmt: skip
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """An S3 stand-in (moto's server) on a random 127.0.0.1 port, one per test module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def served_dir(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A directory a user serves over HTTP (aiohttp's static files): its base URL `…/calls` and its path."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    root = tmp_path / "www"
    root.mkdir()
    app = web.Application()
    app.router.add_static("/calls/", root)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/calls")), root
    finally:
        await server.close()
