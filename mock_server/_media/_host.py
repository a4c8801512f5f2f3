"""A media host inside the mock, for tests and scenarios that need a URL serving real audio, and the streamed body
reads the control plane uses for audio uploads.

`PUT /__mock__/media/{name}?ttl_s=N` (control token rules apply) stores the body and answers a pre-signed-style URL
on the mock itself, `/__mock__/media/{name}?Expires=…&Signature=…`, signed exactly as the Media subresource's URLs
are (`Context.sign`: HMAC-SHA256 over path and expiry with the app's secret). `GET` on that URL needs no token (the
signature is the credential, as on S3): a valid unexpired signature serves the bytes with a Content-Type sniffed
from them; after the expiry, or with a wrong or missing signature, it answers 403 with an S3-style XML error
(`AccessDenied` "Request has expired", `SignatureDoesNotMatch`), and an unknown name 404 `NoSuchKey`. So a transcript
created with an expired URL meets the same refusal a pre-signed S3 URL gives Twilio.

Uploads are read in chunks up to `media.max_bytes` (the app's 1 MiB request limit is for API forms, not audio).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from aiohttp import web

from mock_server._bounds import BOUNDS
from mock_server._errors import ApiError
from mock_server._handlers import json_response
from mock_server._model._render import iso

if TYPE_CHECKING:
    from mock_server._app import MockState

__all__ = ["HostedObject", "MediaHost", "read_blob", "sniff_content_type"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
CHUNK = 64 * 1024


def sniff_content_type(head: bytes) -> str:
    """The media type the first bytes say (what S3 would have been told at upload), octet-stream if unknown."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"fLaC":
        return "audio/flac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.lstrip()[:1] == b"<":
        return "text/html"
    return "application/octet-stream"


async def read_blob(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The whole body of an upload, up to `limit` bytes (else 413) and within `timeout_s` (else 408)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ApiError(413, 20001, f"Request body too large: {declared} bytes, at most {limit} (media.max_bytes)",
                       {"Connection": "close"})  # fmt: skip
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_chunked(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise ApiError(413, 20001, f"Request body too large: more than {limit} bytes (media.max_bytes)",
                                   {"Connection": "close"})  # fmt: skip
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408, 20408, f"Request body not received within {timeout_s:g} s", {"Connection": "close"}
        ) from None
    return b"".join(chunks)


def _s3_error(status: int, code: str, message: str, **extra: str) -> web.Response:
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in {"Code": code, "Message": message, **extra}.items())
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{fields}</Error>'
    return web.Response(status=status, text=body, content_type="application/xml")


@dataclass(frozen=True, slots=True)
class HostedObject:
    data: bytes
    content_type: str
    created: float


class MediaHost:
    """The hosted objects of one mock (forgotten on reset), and the two handlers that serve them."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    @property
    def objects(self) -> dict[str, HostedObject]:
        return self.state.hosted_media  # on the state, so a reset forgets them

    @staticmethod
    def _name(request: web.Request) -> str:
        name = request.match_info["name"]
        if NAME.fullmatch(name) is None:
            raise ApiError(
                400, 20001, "A media name is 1-200 characters from A-Z a-z 0-9 . _ - (not starting with . _ -)"
            )
        return name

    def _ttl(self, request: web.Request) -> int:
        raw = request.query.get("ttl_s")
        bound = BOUNDS["media_url_ttl_s"]
        if raw is None:
            return self.state.config.media_url_ttl_s
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not bound.contains(int(raw)):
            raise ApiError(400, 20001, f"'ttl_s' must be {bound.describe()}, got {raw[:40]!r}")
        return int(raw)

    async def put(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        name = self._name(request)
        ttl_s = self._ttl(request)
        data = await read_blob(request, state.config.media.max_bytes, state.read_timeout_s)
        if not state.base_url_known:  # behind a test server: signed URLs take the host this client used
            state.registry.public_base_url = f"{request.scheme}://{request.host}"
            state.base_url_known = True
        now = state.clock.now()
        content_type = sniff_content_type(data[:64])
        self.objects[name] = HostedObject(data, content_type, now)
        ctx = state.registry.ctx
        path = f"/__mock__/media/{name}"
        expires = int(now) + ttl_s
        url = f"{ctx.public_base_url}{path}?Expires={expires}&Signature={ctx.sign(path, expires)}"
        body = {"url": url, "name": name, "size": len(data), "content_type": content_type, "expires": iso(expires)}
        return json_response(201, body)

    async def get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        query = request.rel_url.query
        expires, signature = query.get("Expires"), query.get("Signature")
        verdict = self.state.registry.check_signed(f"/__mock__/media/{name}", expires, signature)
        if verdict == "expired":
            return _s3_error(403, "AccessDenied", "Request has expired", Expires=iso(float(expires or 0)),
                             ServerTime=iso(self.state.clock.now()))  # fmt: skip
        if verdict != "ok":
            if expires is None or signature is None:
                return _s3_error(403, "AccessDenied", "Query-string authentication requires Expires and Signature")
            mismatch = "The request signature we calculated does not match the signature you provided."
            return _s3_error(403, "SignatureDoesNotMatch", mismatch)
        hosted = self.objects.get(name)
        if hosted is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.", Key=name)
        return web.Response(body=hosted.data, content_type=hosted.content_type)
