"""Test support for the mock's HTTP layer: a response recorder checked against Twilio's spec, a small client,
and a mock served from a background thread (for sync clients: twilio-python's TwilioHttpClient, hypothesis).

Every app built here records each response it sends (aiohttp's `on_response_prepare` signal, so responses to any
client are seen, twilio-python's included); `Recorder.check()` then validates every 2xx Intelligence body against
the spec's schema for its operation and every error body against Twilio's error shape.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from mock_server import STATE, MockConfig, MockState, create_app, serve
from mock_server._clock import Clock
from mock_server._routes import RouteTable

TABLE = RouteTable()
ERROR_KEYS = {"code", "message", "more_info", "status"}
# Tests with fake media URLs (https://media.example.com/…) keep the synthetic media: nothing is fetched.
OFFLINE: dict[str, Any] = {"media": {"fetch": False}}


def offline(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """`config` with media fetching off unless it says otherwise."""
    config = dict(config or {})
    config.setdefault("media", OFFLINE["media"])
    return config


@dataclass
class Seen:
    method: str
    path: str
    operation_id: str | None
    status: int
    content_type: str
    body: bytes


@dataclass
class Recorder:
    seen: list[Seen] = field(default_factory=list)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        operation_id = None
        methods, _ = TABLE.match(request.path)
        if methods is not None and request.method in methods:
            operation_id = methods[request.method].operation_id
        body = response.body if isinstance(response, web.Response) else b""
        raw = body if isinstance(body, bytes) else b""
        self.seen.append(Seen(request.method, request.path, operation_id, response.status, response.content_type, raw))

    def check(self, spec: dict[str, Any]) -> int:
        """Validate everything recorded; returns how many bodies were checked."""
        from tests.spec_schema import validate_response  # engineer A's validator of the spec's schemas

        checked = 0
        for seen in self.seen:
            where = f"{seen.method} {seen.path} → {seen.status}"
            if seen.status == 204:
                assert seen.body == b"", where
                continue
            if seen.content_type.startswith("audio/"):  # media: a generated WAV, or the bytes a transcript was made of
                assert seen.status == 200
                assert seen.content_type != "audio/wav" or seen.body[:4] in (b"RIFF", b""), where  # b"": a file
                continue
            if seen.path.startswith("/__mock__/media/") and seen.content_type != "application/json":
                continue  # the media host serves any bytes and refuses in S3's XML (see test_media_host.py)
            assert seen.content_type == "application/json", where
            body = json.loads(seen.body)
            if seen.status >= 400:
                assert set(body) == ERROR_KEYS, (where, body)
                assert body["status"] == seen.status, where
                assert isinstance(body["code"], int), where
                assert isinstance(body["message"], str), where
                assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}", where
            elif seen.operation_id is not None:
                validate_response(spec, seen.operation_id, seen.status, body)
            checked += 1
        return checked


def recorded_app(
    recorder: Recorder, config: MockConfig | None = None, *, seed: int = 0, clock: Clock | None = None, **kwargs: Any
) -> web.Application:
    app = create_app(config, seed=seed, clock=clock, **kwargs)
    app.on_response_prepare.append(recorder.on_prepare)
    return app


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Creds:
    sid: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return basic(self.sid, self.token)


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]
    body: Any


class Api:
    """A thin client over aiohttp's TestClient: control-plane helpers and `call()` returning parsed JSON."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client

    @property
    def state(self) -> MockState:
        return self.client.app[STATE]

    @property
    def dev(self) -> Creds:
        account = self.state.dev_account
        return Creds(account.sid, account.auth_token)

    async def account(self, **config: Any) -> Creds:
        r = await self.control("POST", "/__mock__/accounts", config)
        assert r.status == 201, r.body
        return Creds(r.body["account_sid"], r.body["auth_token"])

    async def key(self, account: Creds, permissions: list[str] | None) -> Creds:
        r = await self.control("POST", f"/__mock__/accounts/{account.sid}/keys", {"permissions": permissions})
        assert r.status == 201, r.body
        return Creds(r.body["sid"], r.body["secret"])

    async def control(self, method: str, path: str, body: Any = None) -> Reply:
        async with self.client.request(method, path, json=body) as r:
            return Reply(r.status, CIMultiDict(r.headers), await r.json(content_type=None))

    async def call(
        self,
        method: str,
        path: str,
        creds: Creds | None,
        *,
        data: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {**(creds.headers if creds else {}), **(headers or {})}
        async with self.client.request(method, path, data=data, params=params, headers=all_headers) as r:
            raw = await r.read()
            body = json.loads(raw) if raw and r.content_type == "application/json" else raw
            return Reply(r.status, CIMultiDict(r.headers), body)

    async def service(self, creds: Creds, **fields: str) -> str:
        r = await self.call("POST", "/v2/Services", creds, data={"UniqueName": "svc", **fields})
        assert r.status == 201, r.body
        return str(r.body["sid"])

    async def transcript(self, creds: Creds, service_sid: str, customer_key: str | None = None) -> dict[str, Any]:
        form = {"ServiceSid": service_sid, "Channel": channel_json()}
        if customer_key is not None:
            form["CustomerKey"] = customer_key
        r = await self.call("POST", "/v2/Transcripts", creds, data=form)
        assert r.status == 202, r.body
        return dict(r.body)


def channel_json(url: str = "https://media.example.com/call.wav") -> str:
    return json.dumps(
        {
            "media_properties": {"media_url": url},
            "participants": [
                {"channel_participant": 1, "role": "Agent"},
                {"channel_participant": 2, "role": "Customer"},
            ],
        }
    )


@dataclass
class Threaded:
    base_url: str
    dev: Creds
    state: MockState


@contextmanager
def threaded_mock(
    config: MockConfig | None = None, *, seed: int = 0, recorder: Recorder | None = None, **kwargs: Any
) -> Iterator[Threaded]:
    """A mock listening on 127.0.0.1:<free port>, served by its own event loop in a background thread."""
    ready = threading.Event()
    box: dict[str, Any] = {}
    loop = asyncio.new_event_loop()

    async def run() -> None:
        stop = asyncio.Event()
        box["stop"] = stop
        cfg = config if config is not None else MockConfig.from_json(OFFLINE)
        if recorder is None:
            app = create_app(cfg, seed=seed, **kwargs)
        else:
            app = recorded_app(recorder, cfg, seed=seed, **kwargs)
        async with serve(app=app) as mock:
            box["mock"] = Threaded(mock.base_url, Creds(mock.account_sid, mock.auth_token), mock.state)
            ready.set()
            await stop.wait()

    def target() -> None:
        try:
            loop.run_until_complete(run())
        except BaseException as exc:  # surfaced to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, name="threaded-mock", daemon=True)
    thread.start()
    assert ready.wait(10), "mock did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["mock"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()
