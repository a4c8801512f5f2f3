"""A faithful, stateful, rate-limited mock of Twilio Conversational Intelligence v2 (see README).

In-process: `create_app(config, seed=…)` is an aiohttp application; `serve(...)` listens on a socket and yields a
`RunningMock` (base URL, dev account and dev service); `main(argv)` is the command line behind
`python -m mock_server` and `cintel mock`; `twilio_client(base_url, account_sid, auth_token)` is the official
twilio-python client pointed at a running mock (needs the `twilio` extra); `demo_call(seed, seconds=…)` is a stereo
WAV of real (generated) speech in turns on channels 1 and 2, for the media host (`cintel demo` uses it).
"""

from mock_server._app import STATE, AccountRuntime, MockState, create_app
from mock_server._clock import Clock, ManualClock, SystemClock
from mock_server._config import ConfigError, MockConfig, load_config_file
from mock_server._errors import ApiError
from mock_server._media._voices import demo_call
from mock_server._routes import ROUTES, Route
from mock_server._serve import ListenError, RunningMock, main, serve
from mock_server._twilio_client import twilio_client, twilio_http_client

__all__ = [
    "ROUTES",
    "STATE",
    "AccountRuntime",
    "ApiError",
    "Clock",
    "ConfigError",
    "ListenError",
    "ManualClock",
    "MockConfig",
    "MockState",
    "Route",
    "RunningMock",
    "SystemClock",
    "create_app",
    "demo_call",
    "load_config_file",
    "main",
    "serve",
    "twilio_client",
    "twilio_http_client",
]
