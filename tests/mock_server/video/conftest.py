"""Fixtures for the Video subset: mocks on random loopback ports whose every Video body is spec-checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from mock_server import MockConfig, create_app
from tests.mock_server.video.video_support import CallbackReceiver, VideoApi, VideoRecorder, start_video_api

VideoApiFactory = Callable[..., Any]


@pytest.fixture
def video_recorder(video_spec: dict[str, Any]) -> Iterator[VideoRecorder]:
    """Records every response of the test's apps; at teardown validates them all against Twilio's Video spec."""
    recorder = VideoRecorder()
    yield recorder
    recorder.check(video_spec)


@pytest.fixture
async def make_video_api(video_recorder: VideoRecorder) -> AsyncIterator[VideoApiFactory]:
    """`await make_video_api(config_json_or_None, seed=0, clock=None)` → a `VideoApi` on a fresh app."""
    apis: list[VideoApi] = []

    async def make(config: dict[str, Any] | None = None, **kwargs: Any) -> VideoApi:
        app = create_app(MockConfig.from_json(config or {}), **kwargs)
        api = await start_video_api(video_recorder, app)
        apis.append(api)
        return api

    yield make
    for api in apis:
        assert api.state.unexpected_errors == 0
        await api.client.close()


@pytest.fixture
async def video_api(make_video_api: VideoApiFactory) -> VideoApi:
    """A mock whose lifecycle is `immediate`: a composition completes as soon as its media is made."""
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "immediate"}})
    return api


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    """A status-callback receiver on a random loopback port."""
    r = CallbackReceiver()
    await r.start()
    yield r
    await r.close()
