"""Fixtures for the mock's HTTP layer: an app on aiohttp's test server whose every response is spec-checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mock_server import MockConfig
from tests.mock_server.support import Api, Recorder, offline, recorded_app


@pytest.fixture
def recorder(intelligence_spec: dict[str, Any]) -> Iterator[Recorder]:
    """Records every response of the test's apps; at teardown validates them all against the spec."""
    rec = Recorder()
    yield rec
    rec.check(intelligence_spec)


ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api(recorder: Recorder) -> AsyncIterator[ApiFactory]:
    """`await make_api(config_json_or_None, seed=0, clock=None)` → an `Api` on a fresh app (closed at teardown).

    Media fetching is off unless `config` has a `media` key (these tests use fake media URLs).
    """
    clients: list[TestClient[Any, Any]] = []

    async def make(config: dict[str, Any] | None = None, **kwargs: Any) -> Api:
        app = recorded_app(recorder, MockConfig.from_json(offline(config)), **kwargs)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return Api(client)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    """A mock with lifecycle `immediate` (transcripts complete at create) and no limits."""
    result: Api = await make_api({"lifecycle": {"mode": "immediate"}})
    return result
