"""Test support for the mock's Video subset: an app on a random loopback port whose every Video body is checked
against Twilio's Video spec, a small client for the control plane and the `/v1/…` routes, a status-callback receiver,
and audio helpers that decode what the mock wrote (PyAV) and find where a known utterance lies in it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from twilio.request_validator import RequestValidator

from mock_server._routes import RouteTable
from mock_server._video import video_routes
from mock_server._video._speech import RATE, _voice
from tests.mock_server.support import ERROR_KEYS, Api, Creds, Reply
from tests.spec_schema import operation_ids, validate_response

Samples = npt.NDArray[np.float32]
VIDEO_TABLE = RouteTable(video_routes(cast(Any, None)))  # the operation IDs only: no call is ever made
MEDIA_OPERATIONS = {"FetchRecordingMedia", "FetchRoomRecordingMedia", "FetchCompositionMedia"}  # not in the spec
ROOM_ANSWER_KEYS = {
    "account_sid", "room_sid", "unique_name", "status", "date_created", "end_time", "duration_s", "participants",
}  # fmt: skip
PARTICIPANT_ANSWER_KEYS = {
    "identity", "participant_sid", "recording_sid", "source_sid", "track_name", "joined_s", "left_s",
    "start_time_s", "duration_s", "size",
}  # fmt: skip


@dataclass
class Seen:
    method: str
    path: str
    operation_id: str | None
    status: int
    content_type: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class VideoRecorder:
    """Every response of the test's apps; `check` validates each Video body against the spec (and errors' shape)."""

    seen: list[Seen] = field(default_factory=list)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        methods, _ = VIDEO_TABLE.match(request.path)
        operation_id = None
        if methods is not None and request.method in methods:
            operation_id = methods[request.method].operation_id
        body = response.body if isinstance(response, web.Response) else b""
        raw = body if isinstance(body, bytes) else b""
        headers = CIMultiDict(response.headers)
        self.seen.append(
            Seen(request.method, request.path, operation_id, response.status, response.content_type, headers, raw)
        )

    def check(self, spec: dict[str, Any]) -> dict[str, int]:
        """Validate everything recorded; returns how many bodies each operation had checked against the spec."""
        in_spec = operation_ids(spec)
        checked: dict[str, int] = {}
        for seen in self.seen:
            where = f"{seen.method} {seen.path} → {seen.status}"
            if seen.status == 204:
                assert seen.body == b"", where
                continue
            if seen.content_type.startswith("audio/"):  # a recording's or composition's file
                assert seen.status in (200, 206), where
                continue
            if seen.path.startswith("/__mock__/media/") and seen.content_type != "application/json":
                continue  # the media host (S3-style XML errors, any bytes)
            assert seen.content_type == "application/json", where
            body = json.loads(seen.body)
            if seen.status >= 400:
                assert set(body) == ERROR_KEYS, (where, body)
                assert body["status"] == seen.status, where
                assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}", where
            elif seen.operation_id in MEDIA_OPERATIONS:
                assert seen.status == 302, where
                assert set(body) == {"redirect_to"}, where
                assert body["redirect_to"] == seen.headers["Location"], where
            elif seen.operation_id is not None:
                assert seen.operation_id in in_spec, seen.operation_id
                validate_response(spec, seen.operation_id, seen.status, body)
            elif seen.path == "/__mock__/rooms" and seen.status == 201:
                assert set(body) == ROOM_ANSWER_KEYS, body
                assert all(set(p) == PARTICIPANT_ANSWER_KEYS for p in body["participants"]), body
            else:
                continue
            name = seen.operation_id or seen.path
            checked[name] = checked.get(name, 0) + 1
        return checked


class VideoApi(Api):
    """`Api` (control plane, `call`) plus the Video helpers: media host, rooms, redirects, downloads, waiting."""

    def __init__(self, client: TestClient[web.Request, web.Application], recorder: VideoRecorder) -> None:
        super().__init__(client)
        self.recorder = recorder

    async def host(self, name: str, data: bytes) -> str:
        async with self.client.put(f"/__mock__/media/{name}", data=data) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["url"])

    async def room(self, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.control("POST", "/__mock__/rooms", body)
        assert r.status == 201, r.body
        return dict(r.body)

    async def get(self, path: str, creds: Creds | None, params: Any = None) -> Reply:
        """A GET that does not follow redirects (the Media subresources answer 302)."""
        headers = creds.headers if creds else {}
        async with self.client.get(path, params=params, headers=headers, allow_redirects=False) as r:
            raw = await r.read()
            body = json.loads(raw) if raw and r.content_type == "application/json" else raw
            return Reply(r.status, CIMultiDict(r.headers), body)

    async def download(self, url: str) -> tuple[int, CIMultiDict[str], bytes]:
        async with self.client.session.get(url) as r:
            return r.status, CIMultiDict(r.headers), await r.read()

    async def media(self, creds: Creds, path: str, **params: str) -> bytes:
        """Follow a `…/Media` redirect by hand, as a client of the real API must."""
        r = await self.get(path, creds, params or None)
        assert r.status == 302, r.body
        status, _, data = await self.download(r.body["redirect_to"])
        assert status == 200
        return data

    async def compose(self, creds: Creds, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        r = await self.call("POST", "/v1/Compositions", creds, data=list(form))
        assert r.status == 201, r.body
        return dict(r.body)

    async def wait_composition(self, creds: Creds, sid: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until the composition is completed or failed (its media is made in the mock's worker threads)."""
        async with asyncio.timeout(timeout_s):
            while True:
                r = await self.call("GET", f"/v1/Compositions/{sid}", creds)
                assert r.status == 200, r.body
                if r.body["status"] in ("completed", "failed"):
                    return dict(r.body)
                await asyncio.sleep(0.02)


async def start_video_api(recorder: VideoRecorder, app: web.Application) -> VideoApi:
    app.on_response_prepare.append(recorder.on_prepare)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return VideoApi(client, recorder)


# --- status callbacks ------------------------------------------------------------------------------------------


@dataclass
class Callback:
    method: str
    url: str
    params: dict[str, str]
    signature: str
    content_type: str


@dataclass
class CallbackReceiver:
    """An aiohttp app on a random loopback port that keeps every request it gets (answering `status`)."""

    status: int = 200
    received: asyncio.Queue[Callback] = field(default_factory=asyncio.Queue)
    server: TestServer | None = None
    url: str = ""  # where to send callbacks, once started

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.url = str(self.server.make_url("/hooks/composition"))
        return self.url

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        params = {k: str(v) for k, v in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        self.received.put_nowait(Callback(request.method, str(request.url), params, signature, request.content_type))
        return web.Response(status=self.status)

    async def next(self, timeout_s: float = 30.0) -> Callback:
        async with asyncio.timeout(timeout_s):
            return await self.received.get()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()


def signed_by(callback: Callback, auth_token: str) -> bool:
    """twilio-python's own check: the signature over the URL (and, for a POST, every form parameter)."""
    params = callback.params if callback.method == "POST" else {}
    return bool(RequestValidator(auth_token).validate(callback.url, params, callback.signature))


# --- audio -----------------------------------------------------------------------------------------------------


def decode(data: bytes | str) -> tuple[float, Samples]:
    """(container start time in seconds, all samples as 48 kHz mono float32) of a file the mock wrote."""
    import io

    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    with av.open(source) as container:
        start = (container.start_time or 0) / 1_000_000
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (RATE, 1)
        parts = [np.asarray(f.to_ndarray(), dtype=np.float32).reshape(-1) for f in container.decode(stream)]
    return start, np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def utterance_48k(voice: str) -> Samples:
    return _voice(voice)


def locate(signal: Samples, reference: Samples) -> int:
    """The sample offset where `reference` best matches inside `signal` (cross-correlation through the FFT)."""
    size = 1 << int(np.ceil(np.log2(len(signal) + len(reference))))
    spectrum = np.fft.rfft(signal, size) * np.conj(np.fft.rfft(reference, size))
    correlation = np.fft.irfft(spectrum, size)[: len(signal) - len(reference) + 1]
    return int(np.argmax(correlation))


def energy(signal: Samples, start_s: float, end_s: float) -> float:
    """RMS of `signal` between two times (seconds at 48 kHz)."""
    part = signal[round(start_s * RATE) : round(end_s * RATE)]
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) if len(part) else 0.0
