"""The recording transport around httpx's own (streamed) transport: media downloads, gzip, redirects, the body cap."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from harness.replay import Recorder, ReplayMiss, load_cassette, respx_router

MEDIA = os.urandom(50_000)
SIGNED = "/media/a.mka?Expires=99&Signature=c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def media(request: web.Request) -> web.StreamResponse:
        return web.Response(body=MEDIA, content_type="audio/x-matroska")

    async def zipped(request: web.Request) -> web.StreamResponse:
        body = gzip.compress(json.dumps({"meta": {"key": "rooms"}, "rooms": []}).encode())
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.json_response({"redirect_to": f"http://{request.host}{SIGNED}"}, status=302,
                                 headers={"Location": f"http://{request.host}{SIGNED}"})  # fmt: skip

    app = web.Application()
    app.router.add_get("/media/a.mka", media)
    app.router.add_get("/v1/Rooms", zipped)
    app.router.add_get("/v1/Recordings/RT1/Media", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def _download(client: httpx.AsyncClient, base: str) -> tuple[bytes, dict[str, object], str]:
    """What VideoClient does: a JSON list, a redirect to a signed URL, the media streamed."""
    rooms = (await client.get(f"{base}/v1/Rooms")).json()
    answer = await client.get(f"{base}/v1/Recordings/RT1/Media")
    url = answer.json()["redirect_to"]
    async with client.stream("GET", url) as media:
        chunks = [chunk async for chunk in media.aiter_bytes()]
    return b"".join(chunks), rooms, url


async def test_a_streamed_download_reaches_the_client_whole_and_is_kept_as_base64(server: str, tmp_path: Path) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=recorder.wrap(httpx.AsyncHTTPTransport())) as client:
        media, rooms, _ = await _download(client, server)
    recorder.save(tmp_path / "c.json")

    assert media == MEDIA
    cassette = load_cassette(tmp_path / "c.json")
    zipped, _redirect, download = cassette.exchanges
    assert zipped.response is not None
    assert zipped.response.body is not None
    assert zipped.response.body.json_value == rooms  # gzip undone: readable JSON, and no Content-Encoding left
    assert "content-encoding" not in dict(zipped.response.headers)
    assert download.response is not None
    assert download.response.body is not None
    assert download.response.body.size == len(MEDIA)
    assert download.response.body.content() == MEDIA
    raw = (tmp_path / "c.json").read_text()
    assert "c2VjcmV0LXNpZ25hdHVyZQ" not in raw  # the signature: in the redirect body, Location header and URL
    assert raw.count("Signature=<redacted>") == 3


async def test_the_replayed_download_is_the_recorded_one_through_a_redacted_signed_url(
    server: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=recorder.wrap(httpx.AsyncHTTPTransport())) as client:
        recorded = await _download(client, server)
    recorder.save(tmp_path / "c.json")

    router = respx_router(load_cassette(tmp_path / "c.json"))
    async with httpx.AsyncClient(transport=router.transport()) as client:
        media, rooms, url = await _download(client, "http://127.0.0.1:9")

    assert (media, rooms) == recorded[:2]
    assert url.endswith("Signature=<redacted>")  # what the cassette holds is followed as it is, and matched
    router.assert_all_used()


async def test_a_body_over_the_cap_keeps_its_size_and_hash_and_cannot_be_replayed(server: str, tmp_path: Path) -> None:
    recorder = Recorder(max_body_bytes=10_000)
    async with httpx.AsyncClient(transport=recorder.wrap(httpx.AsyncHTTPTransport())) as client:
        media, _, _ = await _download(client, server)
    recorder.save(tmp_path / "c.json")
    assert media == MEDIA  # the cap is the cassette's, never the client's

    body = load_cassette(tmp_path / "c.json").exchanges[2].response.body  # type: ignore[union-attr]
    assert body is not None
    assert body.omitted
    assert body.size == len(MEDIA)
    assert body.base64 is None
    router = respx_router(load_cassette(tmp_path / "c.json"))
    async with httpx.AsyncClient(transport=router.transport()) as client:
        with pytest.raises(ReplayMiss, match=r"#3 GET /media/a.mka: this body \(50000 bytes\) was over the"):
            await _download(client, "http://127.0.0.1:9")


async def test_a_download_cut_short_by_the_client_is_recorded_as_partial(server: str, tmp_path: Path) -> None:
    recorder = Recorder()
    async with (
        httpx.AsyncClient(transport=recorder.wrap(httpx.AsyncHTTPTransport())) as client,
        client.stream("GET", f"{server}/media/a.mka") as media,
    ):
        async for _ in media.aiter_raw(1024):
            break
    recorder.save(tmp_path / "c.json")

    response = load_cassette(tmp_path / "c.json").exchanges[0].response
    assert response is not None
    assert response.partial
    assert response.body is not None
    assert MEDIA.startswith(response.body.content())
