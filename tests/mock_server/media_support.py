"""Test support for the mock's media pipeline: WAV bytes made with the stdlib, a fake analyser with the API of
`mock_server._media.analyse` (so these tests do not depend on the audio libraries), and a small media server on a
random loopback port whose routes answer each way a real media host can fail.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import struct
import threading
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer


def wav_bytes(seconds: float = 3.0, rate: int = 16_000, channels: int = 2) -> bytes:
    """A PCM WAV with a tone on every channel (a different one each)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        for c in range(channels):
            frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * (300 + 200 * c) * n / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


@dataclass(frozen=True)
class FakeSegment:
    channel: int
    start_s: float
    end_s: float
    level_db: float


@dataclass(frozen=True)
class FakeAnalysis:
    format: str
    sample_rate: int
    channels: int
    duration_s: float
    segments: tuple[FakeSegment, ...]


class FakeRejected(Exception):
    """Shaped like `mock_server._media.MediaRejected`: a Twilio code and a message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fake_analyse(source: bytes | str | os.PathLike[str]) -> FakeAnalysis:
    """WAV only (stdlib `wave`); one segment per channel over the whole file. Runs in the pipeline's thread pool."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise FakeRejected(95104, "Invalid media type: not WAV, MP3 or FLAC audio")
    with wave.open(io.BytesIO(data)) as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
    if rate < 8000:
        raise FakeRejected(95104, f"Invalid media type: {rate} Hz is below 8 kHz")
    duration = frames / rate
    segments = tuple(FakeSegment(c, 0.0, duration, -20.0) for c in range(1, channels + 1))
    return FakeAnalysis("wav", rate, channels, duration, segments)


@dataclass
class GatedAnalyser:
    """`fake_analyse` that waits (in its worker thread) until `release()`: audio work in progress, observable."""

    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    threads: list[str] = field(default_factory=list)

    def __call__(self, source: bytes | str | os.PathLike[str]) -> FakeAnalysis:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(30), "never released"
        return fake_analyse(source)

    def release(self) -> None:
        self.gate.set()


@dataclass
class MediaServer:
    """Routes: /ok.wav, /status/{code}, /slow, /html, /big (declared), /stream (undeclared size),
    /redirect/{n} (n hops to /ok.wav), /to-ftp; every request is recorded with its headers."""

    base_url: str = ""
    wav: bytes = field(default_factory=wav_bytes)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def app(self) -> web.Application:
        async def record(request: web.Request) -> None:
            self.requests.append((request.path, dict(request.headers)))

        async def ok(request: web.Request) -> web.StreamResponse:
            await record(request)
            return web.Response(body=self.wav, content_type="audio/wav")

        async def status(request: web.Request) -> web.StreamResponse:
            await record(request)
            return web.Response(status=int(request.match_info["code"]), text="<Error>no</Error>")

        async def slow(request: web.Request) -> web.StreamResponse:
            await record(request)
            await asyncio.sleep(10)
            return web.Response(body=self.wav)

        async def html(request: web.Request) -> web.StreamResponse:
            await record(request)
            return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

        async def big(request: web.Request) -> web.StreamResponse:
            await record(request)
            return web.Response(body=self.wav * 4, content_type="audio/wav")

        async def stream(request: web.Request) -> web.StreamResponse:
            await record(request)
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(64):
                await response.write(b"\0" * 1024)
            await response.write_eof()
            return response

        async def redirect(request: web.Request) -> web.StreamResponse:
            await record(request)
            n = int(request.match_info["n"])
            raise web.HTTPFound(f"/redirect/{n - 1}" if n > 1 else "/ok.wav")

        async def to_ftp(request: web.Request) -> web.StreamResponse:
            await record(request)
            raise web.HTTPFound("ftp://127.0.0.1/x.wav")

        app = web.Application()
        app.router.add_get("/ok.wav", ok)
        app.router.add_get("/status/{code}", status)
        app.router.add_get("/slow", slow)
        app.router.add_get("/html", html)
        app.router.add_get("/big", big)
        app.router.add_get("/stream", stream)
        app.router.add_get("/redirect/{n}", redirect)
        app.router.add_get("/to-ftp", to_ftp)
        return app


@asynccontextmanager
async def media_server() -> AsyncIterator[MediaServer]:
    server = MediaServer()
    test_server = TestServer(server.app(), host="127.0.0.1")
    await test_server.start_server()
    server.base_url = str(test_server.make_url("")).rstrip("/")
    try:
        yield server
    finally:
        await test_server.close()


async def settle(check: object, timeout_s: float = 10.0) -> None:
    """Wait (on the real clock: fetches are real I/O) until `check()` is true."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
