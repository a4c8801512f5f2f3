"""Download a transcript's `media_url` the way Twilio does: once, no auth, bounded in time and size.

Twilio documents (twilio-wire.md §2.3): a public or pre-signed URL, no Basic auth, retrieved once without retry, a
non-200 answer fails the transcript. The mock adds the bounds a server needs: the whole download (redirects
included) within `timeout_s`, at most `max_bytes` (checked against Content-Length first, then counted while
streaming, so a lying or compressed body is cut off too), at most `max_redirects` redirects, each to http/https.

The body is streamed to a file, never held in memory, and file writes go to a worker thread in 1 MiB batches so
the event loop keeps serving the API. Userinfo in the URL is dropped rather than sent as credentials, no cookies
are kept, and no proxy from the environment is used. Every failure is a `MediaFailure` (1755x, see `_alerts.py`)
whose message names the host and what happened, never the query (a pre-signed URL's signature is a credential).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
from yarl import URL

from mock_server._config import MediaConfig
from mock_server._media._alerts import DOWNLOAD_FAILED, fetch_failure, status_failure

__all__ = ["USER_AGENT", "Fetched", "fetch_to_file", "new_session"]

USER_AGENT = "cintel-mock-media-fetcher/1 (like Twilio's media download)"
CHUNK = 64 * 1024
WRITE_BATCH = 1024 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REASONS = {403: "403 Forbidden (an expired or invalid pre-signed URL?)", 404: "404 Not Found"}


@dataclass(frozen=True, slots=True)
class Fetched:
    path: Path
    size: int
    content_type: str | None
    redirects: int


def new_session() -> aiohttp.ClientSession:
    """A session for media downloads: no cookies, no environment proxy, no connection limit beyond aiohttp's."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "audio/*, */*;q=0.5"},
    )


def _host(url: URL) -> str:
    """The host as written (never decoded: a bad IDNA label must not raise here), bracketed if IPv6, shortened."""
    host = url.raw_host or ""
    host = host if len(host) <= 80 else host[:80] + "…"
    return f"[{host}]" if ":" in host else host


def _where(url: URL) -> str:
    """The part of a URL a message may show: scheme, host and port (no path: it may name a private object)."""
    port = f":{url.explicit_port}" if url.explicit_port is not None else ""
    return f"{url.scheme}://{_host(url)}{port}"


async def fetch_to_file(session: aiohttp.ClientSession, url: str, dest: Path, limits: MediaConfig) -> Fetched:
    """Download `url` into `dest` (created or truncated) within `limits`; `MediaFailure` when it cannot."""
    try:
        current = URL(url, encoded=True)  # exactly as given: a pre-signed URL's signature covers its encoding
        if current.user is not None or current.password is not None:
            current = current.with_user(None)  # Twilio sends no credentials; neither does the mock
    except (TypeError, ValueError):
        raise fetch_failure("not a URL that can be fetched") from None
    try:
        async with asyncio.timeout(limits.timeout_s):
            return await _follow(session, current, dest, limits)
    except TimeoutError:
        raise fetch_failure(f"the download did not finish within {limits.timeout_s:g} s", DOWNLOAD_FAILED) from None


async def _follow(session: aiohttp.ClientSession, url: URL, dest: Path, limits: MediaConfig) -> Fetched:
    redirects = 0
    while True:
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise fetch_failure(f"cannot fetch a {url.scheme or 'relative'} URL (http and https only)")
        try:
            async with session.get(url, allow_redirects=False, auto_decompress=True) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    redirects += 1
                    if redirects > limits.max_redirects:
                        raise fetch_failure(f"more than {limits.max_redirects} redirects, the last from {_where(url)}")
                    try:
                        url = url.join(URL(location, encoded=True))
                    except (TypeError, ValueError):
                        raise fetch_failure(f"{_where(url)} redirected to something that is not a URL") from None
                    continue
                if response.status != 200:
                    reason = _REASONS.get(response.status, f"{response.status} {response.reason or ''}".strip())
                    raise status_failure(response.status, f"{_where(url)} answered HTTP {reason}")
                size = await _save(response, dest, limits.max_bytes, _where(url))
                return Fetched(dest, size, response.headers.get("Content-Type"), redirects)
        except aiohttp.ClientConnectorDNSError:
            raise fetch_failure(f"cannot resolve the host {_host(url)}") from None
        except aiohttp.ClientConnectorError as exc:
            refused = f"cannot connect to {_where(url)}: {exc.os_error.strerror or exc}"
            raise fetch_failure(refused, DOWNLOAD_FAILED) from None
        except aiohttp.InvalidURL:
            raise fetch_failure("not a URL that can be fetched") from None
        except aiohttp.ClientError as exc:
            what = f"the download from {_where(url)} broke off ({type(exc).__name__})"
            raise fetch_failure(what, DOWNLOAD_FAILED) from None
        except (ValueError, UnicodeError) as exc:  # a host no resolver or TLS stack accepts (e.g. bad IDNA)
            raise fetch_failure(f"cannot fetch from {_where(url)} ({type(exc).__name__})") from None


async def _save(response: aiohttp.ClientResponse, dest: Path, max_bytes: int, where: str) -> int:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        what = f"{where} sent {declared} bytes, more than the {max_bytes} allowed (media.max_bytes)"
        raise fetch_failure(what, DOWNLOAD_FAILED)
    handle: IO[bytes] = await asyncio.to_thread(open, dest, "wb")  # closed below, off the loop
    try:
        total = 0
        batch = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                what = f"{where} sent more than the {max_bytes} bytes allowed (media.max_bytes)"
                raise fetch_failure(what, DOWNLOAD_FAILED)
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await asyncio.to_thread(handle.write, bytes(batch))
                batch.clear()
        if batch:
            await asyncio.to_thread(handle.write, bytes(batch))
        return total
    finally:
        await asyncio.to_thread(handle.close)
