"""The `cintel_*` fixtures of cintel's pytest plugin (`harness.pytest_plugin`, entry point `pytest11`).

- `cintel_mock`: a fresh account, and a fresh service on it, on an in-process mock listening on a random loopback
  port, with a small sync client of the mock's control plane scoped to that account (config, faults, media,
  recordings, scripts, rooms, API keys, stats, alerts).
- `cintel_client`: an `IntelligenceClient` for that account (use it as `async with cintel_client as client:`).
- `cintel_twilio`: the official twilio client (sync) for that account; skipped without the `twilio` extra.
- `cintel_replay`: the cassette named by `@pytest.mark.cintel_cassette("path")` (relative to the test file) served
  strictly by a respx router, every exchange used by the end of the test; with `--cintel-record` the test runs
  against `cintel_mock` instead and its passing run (re)writes the cassette.

The mock is served by its own event loop in a daemon thread, one per test session (so one per pytest-xdist worker),
which lets sync tests, async tests on any runner, and `asyncio.run` in a sync test all talk to it. Every test gets
its own account; the plugin only ever changes that account's configuration, never the global one, and keeps no
module-level state — so tests in one worker, or side by side under `pytest -n 2`, never see each other's changes.
The mock and the client are imported by the fixtures, not with the plugin, which every pytest run here loads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import warnings
from collections.abc import Coroutine, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
import pytest

if TYPE_CHECKING:
    from harness._client import IntelligenceClient
    from harness.replay import CassetteRouter, Recorder
    from mock_server import RunningMock

__all__ = [
    "CintelMock",
    "CintelReplay",
    "MockControlError",
    "cintel_client",
    "cintel_mock",
    "cintel_replay",
    "cintel_twilio",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
]

T = TypeVar("T")
RECORD_OPTION = "--cintel-record"
CASSETTE_MARKER = "cintel_cassette"
SERVICE_NAME = "cintel-test"  # every fresh account's service (its UniqueName)
REPLAY_SERVICE_NAME = "cintel-replay"  # the service cintel_replay creates through the cassette
REPLAY_TOKEN = "cintel-replay-token"  # noqa: S105 - a placeholder: a cassette holds no token and replay checks none
START_TIMEOUT_S = 60.0  # a cold import of the mock (numpy, PyAV) on a busy CI machine
STOP_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 30.0
MEDIA_TTL_S = 3600
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


class MockControlError(Exception):
    """The mock's control plane refused a request; the message names the request and the mock's reason."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("cintel").addoption(
        RECORD_OPTION,
        action="store_true",
        dest="cintel_record",
        help="cintel_replay: run against the in-process mock instead of the cassette, and (re)write the cassette "
        "of every test that passes",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CASSETTE_MARKER}(path): the cassette the cintel_replay fixture serves (a path relative to the test "
        f"file; written by {RECORD_OPTION})",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Kept so a fixture's teardown knows whether the test passed: only a passing run may rewrite a cassette.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _passed(node: pytest.Item) -> bool:
    call = node.stash.get(_REPORTS, {}).get("call")  # only a test whose setup passed has one
    return call is not None and call.passed


def _run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a new event loop in a new thread: right from a sync fixture whether or not the
    test's own thread has a loop running (pytest-asyncio's, anyio's, or none)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cintel-fixture") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _MockThread:
    """A mock served on a random loopback port by an event loop of its own in a daemon thread."""

    def __init__(self) -> None:
        self._ready: concurrent.futures.Future[RunningMock] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="cintel-mock", daemon=True)

    def start(self) -> RunningMock:
        self._thread.start()
        return self._ready.result(timeout=START_TIMEOUT_S)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=STOP_TIMEOUT_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to start(), which raises it in the waiting thread
            if not self._ready.done():
                self._ready.set_exception(exc)

    async def _serve(self) -> None:
        from mock_server import serve

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(port=0) as mock:  # the global config stays the default one: tests change their account's
            self._ready.set_result(mock)
            await self._stop.wait()


class CintelMock:
    """A fresh account and service on the session's in-process mock, and its control plane (sync, this account's)."""

    def __init__(self, server: RunningMock) -> None:
        self.base_url = server.base_url
        self.control_url = server.control_url
        self._http = httpx.Client(base_url=self.base_url, timeout=CONTROL_TIMEOUT_S)
        account = self._control("POST", "/__mock__/accounts", json={})
        self.account_sid: str = account["account_sid"]
        self.auth_token: str = account["auth_token"]
        service = self._http.post("/v2/Services", data={"UniqueName": SERVICE_NAME}, auth=self.auth)
        if service.status_code != 201:
            raise MockControlError(f"POST /v2/Services: {service.status_code} {_reason(service)}")
        self.service_sid: str = service.json()["sid"]

    def __repr__(self) -> str:
        return f"CintelMock(base_url={self.base_url!r}, account_sid={self.account_sid!r})"

    @property
    def auth(self) -> tuple[str, str]:
        """(account SID, auth token): HTTP basic auth for the mock's API, e.g. `httpx.get(url, auth=mock.auth)`."""
        return self.account_sid, self.auth_token

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise MockControlError(f"{method} {path}: {response.status_code} {_reason(response)}")
        return response.json() if response.content else None

    def config(self, patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This account's effective configuration, after applying `patch` (a JSON merge patch) if one is given."""
        path = f"/__mock__/accounts/{self.account_sid}/config"
        answer = self._control("GET", path) if patch is None else self._control("PATCH", path, json=patch)
        return cast("dict[str, Any]", answer)

    def faults(self, **fractions: float) -> dict[str, Any]:
        """Patch this account's API faults, e.g. `faults(error_5xx=0.2, reset_after_commit=0.1)`; its config."""
        return self.config({"faults": fractions})

    def webhook_faults(self, **values: float) -> dict[str, Any]:
        """Patch this account's callback faults, e.g. `webhook_faults(drop=0.5, delay_ms=200)`; its config."""
        return self.config({"webhook_faults": values})

    def put_media(self, name: str, data: bytes, *, ttl_s: int = MEDIA_TTL_S) -> str:
        """Host `data` on the mock's media host and return its signed URL (valid for `ttl_s` seconds). `room()`
        finds it by `name`: the media host is shared by the session's tests, so both prefix it with the account."""
        path = f"/__mock__/media/{self._media_name(name)}"
        return cast(str, self._control("PUT", path, params={"ttl_s": ttl_s}, content=data)["url"])

    def _media_name(self, name: str) -> str:
        return f"{self.account_sid}-{name}"

    def put_recording(self, recording_sid: str, data: bytes) -> None:
        """Store the audio of a Recording of this account (for transcripts created with `source_sid`)."""
        self._control("PUT", f"/__mock__/accounts/{self.account_sid}/recordings/{recording_sid}", content=data)

    def script(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Say what a media says: `{"sha256": hex | "media_url": url, "channels": {"1": [lines], "2": [lines]}}`."""
        return cast("dict[str, Any]", self._control("POST", "/__mock__/scripts", json=dict(body)))

    def room(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A completed Video room of this account: `{"participants": [...]}` → its Room, Participant and Recording
        SIDs (README: *Rooms on the mock*); a participant's `media` is a name given to `put_media`."""
        sent = {"account_sid": self.account_sid, **body}
        if isinstance(sent.get("participants"), list):  # anything else goes as it is, for the mock to judge
            sent["participants"] = [
                {**p, "media": self._media_name(p["media"])} if isinstance(p, dict) and "media" in p else p
                for p in sent["participants"]
            ]
        return cast("dict[str, Any]", self._control("POST", "/__mock__/rooms", json=sent))

    def api_key(self, permissions: list[str] | None = None) -> dict[str, Any]:
        """A new API key of this account, `{"sid", "secret", "permissions"}` (None: full access)."""
        path = f"/__mock__/accounts/{self.account_sid}/keys"
        return cast("dict[str, Any]", self._control("POST", path, json={"permissions": permissions}))

    def stats(self) -> dict[str, Any]:
        """This account's counters (README's stats row: requests, responses_by_status, rejected_429, …)."""
        return cast("dict[str, Any]", self._control("GET", f"/__mock__/accounts/{self.account_sid}/stats"))

    def alerts(self) -> list[dict[str, Any]]:
        """This account's alert log, oldest first (media failures with Twilio's codes)."""
        return cast("list[dict[str, Any]]", self._control("GET", f"/__mock__/accounts/{self.account_sid}/alerts"))

    def close(self) -> None:
        self._http.close()


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text[:200]))  # Twilio's error body
    except (ValueError, AttributeError):
        return response.text[:200]


@pytest.fixture(scope="session")
def _cintel_mock_server() -> Iterator[RunningMock]:
    server = _MockThread()
    yield server.start()
    server.stop()


@pytest.fixture
def cintel_mock(_cintel_mock_server: RunningMock) -> Iterator[CintelMock]:
    """A fresh account and service on an in-process mock (random port), with this account's control plane."""
    mock = CintelMock(_cintel_mock_server)
    try:
        yield mock
    finally:
        mock.close()


class _WatchedTransport(httpx.AsyncBaseTransport):
    """Delegates to the client's transport and notes whether it was used and closed (see `cintel_client`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.used = self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.used = True
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


@pytest.fixture
def cintel_client(cintel_mock: CintelMock) -> Iterator[IntelligenceClient]:
    """An `IntelligenceClient` for `cintel_mock`'s account. Open it in the test: `async with cintel_client as
    client:` (an async test, or `asyncio.run` in a sync one) — its connections belong to the loop that used it."""
    from harness import AiohttpTransport, IntelligenceClient

    transport = _WatchedTransport(AiohttpTransport())
    client = IntelligenceClient(cintel_mock.account_sid, cintel_mock.auth_token, base_url=cintel_mock.base_url,
                                transport=transport)  # fmt: skip
    yield client
    if transport.used and not transport.closed:
        warnings.warn(
            pytest.PytestWarning(
                "cintel_client was used but not closed: use it as `async with cintel_client as client:` so its "
                "connections are closed on the event loop that opened them"
            ),
            stacklevel=1,
        )


@pytest.fixture
def cintel_twilio(cintel_mock: CintelMock) -> Iterator[Any]:
    """The official twilio client (`twilio.rest.Client`, sync) for `cintel_mock`'s account; skipped without the
    `twilio` extra (`pip install 'cintel-harness[twilio]'`)."""
    try:
        import twilio  # noqa: F401 - only to know whether the extra is installed
    except ImportError:
        pytest.skip("cintel_twilio needs the official twilio package: pip install 'cintel-harness[twilio]'")
    from mock_server import twilio_client

    client = twilio_client(cintel_mock.base_url, cintel_mock.account_sid, cintel_mock.auth_token)
    yield client
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


class CintelReplay:
    """What `cintel_replay` yields: give clients `transport()` (or use `client()`); the same test code records
    (`--cintel-record`: the mock, through a recording transport) and replays (the cassette, no network)."""

    def __init__(self, path: Path, *, base_url: str, account_sid: str, auth_token: str,
                 router: CassetteRouter | None = None, recorder: Recorder | None = None) -> None:  # fmt: skip
        self.path = path
        self.base_url = base_url
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.router = router  # replaying: the respx router serving the cassette
        self.recorder = recorder  # recording: what every transport() records into
        self.service_sid = ""

    def __repr__(self) -> str:
        return f"CintelReplay({'recording' if self.recording else 'replaying'} {str(self.path)!r})"

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def transport(self) -> httpx.AsyncBaseTransport:
        """A transport for `IntelligenceClient(transport=…)`, `VideoClient` or any `httpx.AsyncClient`: the
        cassette's router, or (recording) a new aiohttp transport to the mock, recorded."""
        if self.router is not None:
            return self.router.transport()
        from harness import AiohttpTransport

        assert self.recorder is not None  # one of the two is always set (see the fixture)
        return self.recorder.wrap(AiohttpTransport())

    def client(self, **kwargs: Any) -> IntelligenceClient:
        """An `IntelligenceClient` with this account and `transport()`; use it as `async with replay.client() as c:`."""
        from harness import IntelligenceClient

        return IntelligenceClient(self.account_sid, self.auth_token, base_url=self.base_url,
                                  transport=self.transport(), **kwargs)  # fmt: skip


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    if marker is None or len(marker.args) != 1 or not isinstance(marker.args[0], str | Path):
        pytest.fail(
            f'cintel_replay needs the cassette\'s path: @pytest.mark.{CASSETTE_MARKER}("cassettes/name.json") '
            "(relative to the test file)",
            pytrace=False,
        )
    return Path(request.node.path).parent / marker.args[0]


async def _create_service(replay: CintelReplay) -> tuple[str, str]:
    async with replay.client() as client:
        service = await client.create_service(REPLAY_SERVICE_NAME)
    return service.sid, service.account_sid or replay.account_sid


@pytest.fixture
def cintel_replay(request: pytest.FixtureRequest) -> Iterator[CintelReplay]:
    """The cassette of `@pytest.mark.cintel_cassette(path)` served strictly (every recorded exchange must be used by
    a passing test); with `--cintel-record`, `cintel_mock` recorded into that cassette when the test passes."""
    from harness.replay import CassetteError, Recorder, ReplayError, load_cassette, respx_router

    path = _cassette_path(request)
    hint = f"record it with: pytest {RECORD_OPTION} {request.node.nodeid}"
    if request.config.getoption("cintel_record"):
        mock: CintelMock = request.getfixturevalue("cintel_mock")
        recorder = Recorder(secrets=[mock.auth_token], command=f"pytest {request.node.nodeid}")
        recorder.base_url = mock.base_url
        replay = CintelReplay(path, base_url=mock.base_url, account_sid=mock.account_sid,
                              auth_token=mock.auth_token, recorder=recorder)  # fmt: skip
    else:
        if not path.is_file():
            pytest.fail(f"cintel_replay: no cassette at {path} — {hint}", pytrace=False)
        try:
            router = respx_router(load_cassette(path), strict=True)
        except CassetteError as exc:
            pytest.fail(f"cintel_replay: {exc}", pytrace=False)
        base_url = router.cassette.base_url or "http://cintel-replay.invalid"  # never reached: the router answers
        replay = CintelReplay(path, base_url=base_url, account_sid="AC" + "0" * 32, auth_token=REPLAY_TOKEN,
                              router=router)  # fmt: skip
    try:
        replay.service_sid, replay.account_sid = _run_in_thread(_create_service(replay))
    except ReplayError as exc:
        pytest.fail(f"cintel_replay: {path} was not recorded by cintel_replay ({hint}):\n{exc}", pytrace=False)
    yield replay
    if not _passed(request.node):
        return  # a failing run neither rewrites the cassette nor is judged on what it left unused
    if replay.recorder is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        replay.recorder.save(path)
    elif replay.router is not None:
        if replay.router.misses:  # raised in the test, but something there caught it
            raise replay.router.misses[0]
        replay.router.assert_all_used()
