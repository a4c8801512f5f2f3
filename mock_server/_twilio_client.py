"""The official twilio-python client, pointed at a running mock (twilio-wire.md §7).

The client keeps building canonical `https://intelligence.twilio.com/v2/…` URLs; its http client rewrites every
`*.twilio.com` host to the mock just before sending. Rewriting at that last step also catches the absolute
`meta.next_page_url` of list pages, so paging works without the mock emitting its own address. `environment={}`
stops the client from reading TWILIO_* variables (a TWILIO_REGION would otherwise mangle the host).

`twilio` is an optional extra (`pip install cintel-harness[twilio]`); it is imported only when a client is asked for.
"""

from __future__ import annotations

import urllib.parse
from typing import Any


def _rewrite(url: str, scheme: str, netloc: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host == "twilio.com" or host.endswith(".twilio.com"):
        return urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def twilio_client(
    base_url: str,
    account_sid: str,
    auth_token: str,
    *,
    async_: bool = False,
    api_key_sid: str | None = None,
    timeout: float = 10.0,
) -> Any:
    """A `twilio.rest.Client` for `account_sid` whose requests go to the mock at `base_url`.

    With `api_key_sid`, the client authenticates as that API key and `auth_token` is the key's secret (as
    `Client(key_sid, secret, account_sid)` does against the real service). With `async_=True` the client uses
    twilio's `AsyncTwilioHttpClient`, which opens an aiohttp session when it is built: call this inside a running
    event loop and `await client.http_client.close()` when done.
    """
    try:
        from twilio.rest import Client
    except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
        raise ImportError(
            "mock_server.twilio_client() needs the official 'twilio' package: pip install 'cintel-harness[twilio]'"
        ) from exc
    http_client = twilio_http_client(base_url, async_=async_, timeout=timeout)
    if api_key_sid is not None:
        return Client(api_key_sid, auth_token, account_sid=account_sid, http_client=http_client, environment={})
    return Client(account_sid, auth_token, http_client=http_client, environment={})


def twilio_http_client(base_url: str, *, async_: bool = False, timeout: float = 10.0) -> Any:
    """twilio's own (sync or async) http client, subclassed to send `*.twilio.com` requests to `base_url`."""
    try:
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.http.http_client import TwilioHttpClient
    except ImportError as exc:  # pragma: no cover
        raise ImportError(
            "mock_server.twilio_http_client() needs the official 'twilio' package: pip install 'cintel-harness[twilio]'"
        ) from exc
    target = urllib.parse.urlsplit(base_url)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    scheme, netloc = target.scheme, target.netloc

    if async_:

        class _AsyncMockHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
            async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                return await super().request(method, _rewrite(url, scheme, netloc), *args, **kwargs)

        return _AsyncMockHttpClient(timeout=timeout)

    class _MockHttpClient(TwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return super().request(method, _rewrite(url, scheme, netloc), *args, **kwargs)

    return _MockHttpClient(timeout=timeout)
