"""The mock fetches media from a real S3 API: moto's server on a random loopback port, a bucket, a WAV object, and
boto3 pre-signed GET URLs — one fresh (the transcript completes), one whose expiry passed before the fetch (the
transcript fails with 17553 — Twilio's "unauthorized" download code — and an alert).

moto 5 serves pre-signed URLs without checking their expiry (its S3 backend never answers "Request has expired":
checked in moto 5.2.5, whose authorisation only reads the Authorization header), so the pre-signed URLs point at a
thin gateway in front of moto that refuses expired query-string signatures exactly as S3 does — 403 with
`<Code>AccessDenied</Code><Message>Request has expired</Message>` — and passes everything else to moto unchanged.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import boto3
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from botocore.config import Config

import mock_server
from mock_server import MockConfig, create_app
from tests.mock_server.media_support import fake_analyse, wav_bytes

BUCKET, KEY = "call-recordings", "2026/11/call-0001.wav"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def _expired(query: Any) -> bool:
    """S3's rule for query-string authentication: SigV4 X-Amz-Date + X-Amz-Expires, or SigV2 Expires."""
    if "X-Amz-Date" in query and "X-Amz-Expires" in query:
        signed = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        return time.time() > signed + int(query["X-Amz-Expires"])
    return "Expires" in query and time.time() > int(query["Expires"])


@pytest.fixture
async def s3_gateway(moto_url: str) -> AsyncIterator[str]:
    async with aiohttp.ClientSession(auto_decompress=False) as upstream:

        async def forward(request: web.Request) -> web.StreamResponse:
            if _expired(request.rel_url.query):
                xml = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                return web.Response(status=403, text=xml + "<Message>Request has expired</Message></Error>",
                                    content_type="application/xml")  # fmt: skip
            url = moto_url + request.rel_url.raw_path_qs
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            async with upstream.request(request.method, url, headers=headers, data=await request.read()) as r:
                body = await r.read()
                kept = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "etag", "last-modified")}
                return web.Response(status=r.status, body=body, headers=kept)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


def _presign(endpoint: str, expires_in: int) -> str:
    s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"), **CREDENTIALS)
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=expires_in)
    return url


async def test_a_presigned_s3_url_is_fetched_and_an_expired_one_fails_with_an_alert(
    moto_url: str, s3_gateway: str
) -> None:
    wav = wav_bytes(2.0, rate=16_000, channels=2)
    s3 = boto3.client("s3", endpoint_url=moto_url, **CREDENTIALS)
    await asyncio.to_thread(s3.create_bucket, Bucket=BUCKET)
    await asyncio.to_thread(s3.put_object, Bucket=BUCKET, Key=KEY, Body=wav, ContentType="audio/wav")
    fresh = _presign(s3_gateway, 300)
    stale = _presign(s3_gateway, 1)
    assert "X-Amz-Signature=" in fresh
    await asyncio.sleep(2.1)  # the short one has expired before the mock ever sees it

    config = MockConfig.from_json({"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}})
    async with (
        mock_server.serve(app=create_app(config, seed=3, analyse=fake_analyse)) as mock,
        httpx.AsyncClient(base_url=mock.base_url, auth=(mock.account_sid, mock.auth_token), timeout=10) as api,
    ):
        sids = {}
        for name, url in (("fresh", fresh), ("stale", stale)):
            channel = json.dumps({"media_properties": {"media_url": url}})
            form = {"ServiceSid": mock.service_sid, "Channel": channel, "CustomerKey": name}
            r = await api.post("/v2/Transcripts", data=form)
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "queued"
            sids[name] = r.json()["sid"]
        final: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(15):
            while len(final) < 2:
                for name, sid in sids.items():
                    body = (await api.get(f"/v2/Transcripts/{sid}")).json()
                    if body["status"] in ("completed", "failed"):
                        final[name] = body
                await asyncio.sleep(0.05)
        assert (final["fresh"]["status"], final["fresh"]["duration"]) == ("completed", 2)
        assert final["stale"]["status"] == "failed"
        alerts = (await api.get(f"/__mock__/accounts/{mock.account_sid}/alerts")).json()
        assert [(a["code"], a["transcript_sid"], a["customer_key"]) for a in alerts] == [
            (17553, sids["stale"], "stale")
        ]
        assert "HTTP 403" in alerts[0]["message"]
        assert alerts[0]["media_url"] == f"{s3_gateway}/{BUCKET}/{KEY}"  # no X-Amz-Signature, no credential
        stats = (await api.get(f"/__mock__/accounts/{mock.account_sid}/stats")).json()
        assert (stats["media_fetched"], stats["media_failed"], stats["alerts"]) == (1, 1, 1)
        link = (await api.get(f"/v2/Transcripts/{sids['fresh']}/Media")).json()["media_url"]
        assert (await api.get(link)).content == wav  # the transcript's media is the object it was made from
