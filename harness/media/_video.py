"""VideoClient: the few Video v1 calls that turn a room into per-participant audio files.

    async with VideoClient() as video:                         # credentials from the environment
        room = await video.fetch_room("RM…")
        for recording in await video.list_recordings(room.sid):
            url = await video.recording_media_url(recording.sid)  # a temporary, pre-signed URL
            await video.download(url, Path(f"{recording.sid}.mka"))

Credentials are the harness's own (`resolve_credentials`: account SID + auth token, or API key + secret, falling
back to the environment). The base URL is `base_url`, else `CINTEL_VIDEO_BASE_URL`, else https://video.twilio.com
(`CINTEL_BASE_URL` is Intelligence's, so it is not used here); Twilio's canonical URLs in `meta.next_page_url` are
re-pointed at it, so a mock serving /v1/… on its one base URL works.

Why not the IntelligenceClient's requester: a merge makes a few sequential calls (no limiter needed), and media
must be streamed to disk, which the lean transport (it reads bodies whole) does not do. So this client keeps an
`httpx.AsyncClient` (any `transport` may be injected: respx in tests) and the harness's `RetryPolicy`: 429s are
retried always, 5xx and transport errors for GETs only. Errors are the harness's (`TwilioApiError` subclasses with
Twilio's code and message, `TransportError`) plus `MediaDownloadError` for the media host.

Media: `…/Media` answers 302 with a JSON body `{"redirect_to": URL}` and a Location header (twilio-wire.md §6); the
body is preferred. Downloads are streamed to `path.part` and renamed when complete, bounded in size, and send the
Authorization header only to the Video API itself (same origin as the base URL, path under /v1/): a pre-signed URL's
signature is its credential, and Twilio's credentials must not reach S3 or any other host.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from pydantic import BaseModel

from harness._credentials import Credentials, resolve_credentials
from harness._errors import (
    CintelError,
    RateLimited,
    ServerError,
    TransportError,
    TwilioApiError,
    error_from_response,
)
from harness._redact import scrub_text
from harness._retry import RetryPolicy
from harness.media._video_models import Composition, Participant, Recording, Room

VIDEO_BASE_URL = "https://video.twilio.com"
MAX_DOWNLOAD_BYTES = 4 * 2**30  # 4 GiB: an 8-hour composition (Intelligence's longest media) fits with room to spare
MAX_REDIRECTS = 5
USER_AGENT = "cintel-harness/0.1"
M = TypeVar("M", bound=BaseModel)


class MediaDownloadError(CintelError):
    """The media host refused a download, or the file is larger than allowed (the URL is named without its query)."""


class VideoClient:
    """Async Video v1 client (see the module docstring); use it as an async context manager."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        url = base_url or env.get("CINTEL_VIDEO_BASE_URL") or VIDEO_BASE_URL
        self.credentials: Credentials = resolve_credentials(
            account_sid, auth_token, api_key=api_key, api_secret=api_secret, base_url=url, environ=env
        )
        self.retry = retry or RetryPolicy(max_attempts=6, max_elapsed_s=120.0)
        self.max_download_bytes = max_download_bytes
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            follow_redirects=False,  # every hop is ours to decide: the Authorization header must not follow one
            headers={"User-Agent": USER_AGENT},
        )
        self._auth = {"Authorization": self.credentials.authorization, "Accept": "application/json"}

    def __repr__(self) -> str:
        return f"VideoClient(base_url={self.credentials.base_url!r}, account_sid={self.credentials.account_sid!r})"

    async def __aenter__(self) -> VideoClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- URLs and the request loop -------------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """Absolute URL: a path is joined to the base URL; Twilio's canonical Video URLs are re-pointed at it."""
        if path_or_url.startswith(VIDEO_BASE_URL + "/"):
            return self.credentials.base_url + path_or_url[len(VIDEO_BASE_URL) :]
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.credentials.base_url + "/" + path_or_url.lstrip("/")

    def is_api(self, url: str) -> bool:
        """Whether `url` is the Video API itself (the only place the Authorization header goes)."""
        base, target = urlsplit(self.credentials.base_url), urlsplit(url)
        same_origin = (base.scheme, base.netloc.lower()) == (target.scheme, target.netloc.lower())
        return same_origin and target.path.startswith("/v1/")

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One request with retries: 429 always, 5xx and transport errors only for GET. A response below 400 is
        returned (opened but unread when `stream`); anything else raises from the harness's error tree."""
        idempotent = method == "GET"
        send_headers = {**(self._auth if self.is_api(url) else {}), **(headers or {})}
        # Form pairs encoded here: a repeated key (AudioSources=…&AudioSources=…) is what Twilio reads as a list.
        body = urlencode(data).encode() if data is not None else None
        form = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            request = self._http.build_request(
                method, url, params=list(params) if params else None, content=body, headers={**send_headers, **form}
            )
            try:
                response = await self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error: CintelError = TransportError(f"could not connect: {exc}", method=method, url=url)
                retryable = True  # never reached the server
            except httpx.TransportError as exc:
                what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection lost"
                error = TransportError(f"{what}: {exc}", method=method, url=url)
                retryable = idempotent
            else:
                if response.status_code < 400:
                    return response
                body = await response.aread()
                await response.aclose()
                error = error_from_response(response.status_code, body, response.headers, method=method, url=url)
                if isinstance(error, RateLimited):
                    retryable, retry_after = True, error.retry_after
                else:
                    retryable = isinstance(error, ServerError) and idempotent
            if not retryable or attempt >= self.retry.max_attempts:
                raise error
            await self._sleep(self.retry.compute_backoff(attempt, self._rng, retry_after))

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self.url(path)
        response = await self._send(method, url, **kwargs)
        try:
            document = json.loads(response.content)
        except ValueError:
            start = response.content[:120]
            raise TransportError(f"the answer is not JSON: {start!r}", method=method, url=url) from None
        if not isinstance(document, dict):
            raise TransportError("the answer is not a JSON object", method=method, url=url)
        return document

    async def _one(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(await self._json(method, path, **kwargs))

    async def _all(self, model: type[M], path: str, key: str) -> list[M]:
        """Every record of a list, following `meta.next_page_url` (absolute, Twilio's host: re-pointed)."""
        items: list[M] = []
        page: str | None = path
        params: list[tuple[str, str]] | None = [("PageSize", "100")]
        while page:
            document = await self._json("GET", page, params=params)
            items.extend(model.model_validate(record) for record in document.get(key) or [])
            meta = document.get("meta")
            next_page = meta.get("next_page_url") if isinstance(meta, dict) else None
            page, params = (next_page if isinstance(next_page, str) and next_page else None), None
        return items

    # --- resources ------------------------------------------------------------------------------------------------

    async def fetch_room(self, room_sid: str) -> Room:
        return await self._one(Room, "GET", f"/v1/Rooms/{room_sid}")

    async def list_participants(self, room_sid: str) -> list[Participant]:
        return await self._all(Participant, f"/v1/Rooms/{room_sid}/Participants", "participants")

    async def list_recordings(self, room_sid: str) -> list[Recording]:
        """The room's track recordings (audio, video and data; `Recording.type` tells them apart)."""
        return await self._all(Recording, f"/v1/Rooms/{room_sid}/Recordings", "recordings")

    async def create_composition(
        self,
        room_sid: str,
        *,
        audio_sources: Sequence[str],
        trim: bool = True,
        format: str = "mp4",
        status_callback: str | None = None,
        status_callback_method: str | None = None,
    ) -> Composition:
        """An audio-only composition of `audio_sources` (participant SIDs, track names or wildcards)."""
        data = [("RoomSid", room_sid), ("Trim", "true" if trim else "false"), ("Format", format)]
        data += [("AudioSources", source) for source in audio_sources]  # a repeated key, as twilio-python sends
        if status_callback:
            data.append(("StatusCallback", status_callback))
        if status_callback_method:
            data.append(("StatusCallbackMethod", status_callback_method))
        return await self._one(Composition, "POST", "/v1/Compositions", data=data)

    async def fetch_composition(self, composition_sid: str) -> Composition:
        return await self._one(Composition, "GET", f"/v1/Compositions/{composition_sid}")

    async def recording_media_url(self, recording_sid: str, *, ttl_s: int = 3600) -> str:
        return await self.media_url(f"/v1/Recordings/{recording_sid}/Media", ttl_s=ttl_s)

    async def composition_media_url(self, composition_sid: str, *, ttl_s: int = 3600) -> str:
        return await self.media_url(f"/v1/Compositions/{composition_sid}/Media", ttl_s=ttl_s)

    async def media_url(self, path: str, *, ttl_s: int = 3600) -> str:
        """The temporary URL a `…/Media` resource points at: `redirect_to` of its JSON body, else `Location`."""
        url = self.url(path)
        response = await self._send("GET", url, params=[("Ttl", str(ttl_s))])
        target: str | None = None
        try:
            document = json.loads(response.content) if response.content else None
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("redirect_to"), str):
            target = document["redirect_to"]
        elif 300 <= response.status_code < 400:
            target = response.headers.get("Location")
        if not target:
            raise TransportError(f"HTTP {response.status_code} without redirect_to or Location", method="GET", url=url)
        return urljoin(url, target)

    # --- downloads ------------------------------------------------------------------------------------------------

    async def download(
        self, url: str, path: Path, *, max_bytes: int | None = None, head_bytes: int | None = None
    ) -> int:
        """Stream `url` to `path` (via `path.part`, renamed when complete); returns the bytes written.

        Redirects are followed (at most 5), the Authorization header sent only to the Video API itself (`is_api`);
        a `…/Media` URL of the API is resolved through its `redirect_to`. `max_bytes` (default the client's
        `max_download_bytes`) bounds the size: a larger file is refused, the partial file removed. `head_bytes`
        fetches only the start of the file (a Range request; cut there if the host sends it all)."""
        limit = self.max_download_bytes if max_bytes is None else max_bytes
        target = self.url(url)
        headers = {"Range": f"bytes=0-{head_bytes - 1}"} if head_bytes else {}
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await self._send("GET", target, headers=headers, stream=True)
            except TwilioApiError as error:
                if self.is_api(target):
                    raise
                # A media host's refusal (an expired signature, a missing object) is about the file, not the account.
                raise MediaDownloadError(f"{_named(target)}: HTTP {error.status}: {error.message}") from None
            if response.status_code in (301, 302, 303, 307, 308):
                await response.aread()
                await response.aclose()
                location = _redirect_target(response)
                if not location:
                    raise MediaDownloadError(f"{_named(target)}: HTTP {response.status_code} without a Location")
                target = urljoin(target, location)
                continue
            try:
                return await self._save(response, target, path, limit, head_bytes)
            finally:
                await response.aclose()
        raise MediaDownloadError(f"{_named(url)}: more than {MAX_REDIRECTS} redirects")

    async def _save(self, response: httpx.Response, url: str, path: Path, limit: int, head: int | None) -> int:
        declared = response.headers.get("Content-Length")
        if head is None and declared and declared.isdigit() and int(declared) > limit:
            raise MediaDownloadError(f"{_named(url)}: {int(declared)} bytes, more than the {limit} allowed")
        part = path.with_name(path.name + ".part")
        written = 0
        try:
            with part.open("wb") as out:
                async for chunk in response.aiter_bytes(1 << 16):
                    if head is not None:
                        chunk = chunk[: head - written]
                    written += len(chunk)
                    if written > limit:
                        raise MediaDownloadError(f"{_named(url)}: more than the {limit} bytes allowed")
                    out.write(chunk)
                    if head is not None and written >= head:
                        break
            part.replace(path)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return written


def _redirect_target(response: httpx.Response) -> str | None:
    """A redirect's target: the Location header, else a JSON body's `redirect_to` (Twilio's `…/Media` sends both)."""
    location = response.headers.get("Location")
    if location:
        return str(location)
    try:
        document = json.loads(response.content)
    except ValueError:
        return None
    value: object = document.get("redirect_to") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _named(url: str) -> str:
    """A URL fit for an error message: its query (a pre-signed URL's signature) and userinfo dropped."""
    return scrub_text(url)
