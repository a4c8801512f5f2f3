"""A lean `httpx.AsyncBaseTransport` over one `aiohttp.ClientSession`.

Why: measured on this machine, httpx's default transport (httpcore) collapses under concurrency (~210 req/s at 64
concurrent requests where aiohttp's client does ~3,400), and the third-party httpx-aiohttp transport reaches only
~0.5× raw aiohttp on a POST. The client keeps httpx's types (`httpx.Request` / `httpx.Response`) so respx can
drive it in tests through an injected transport, but sends through this transport, which does the least it can:
one session and connection pool for the client's lifetime, headers passed through as they are, the body read
whole, aiohttp's errors mapped onto httpx's (so "was the request sent?" keeps its meaning: `ConnectError` means
it was not; `ReadError` / `RemoteProtocolError` / `ReadTimeout` mean it may have been).
"""

from __future__ import annotations

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx transport over one aiohttp session and connection pool (see the module docstring)."""

    def __init__(self, *, max_connections: int = 256, timeout_s: float = 30.0, connect_timeout_s: float = 10.0) -> None:
        self._max_connections = max_connections
        # No `total`: a total timeout also runs while waiting for a pooled connection, and then a request that was
        # never sent would look like one whose answer was lost. `connect` covers the pool wait and the connect
        # (→ ConnectTimeout: not sent); `sock_read` the wait for the answer (→ ReadTimeout: maybe processed).
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            # Reopening would leak a session nobody closes (a task still running after the client was closed).
            raise RuntimeError("cannot send a request: the transport has been closed")
        # Created lazily inside the running loop (aiohttp requires one) and reused for every request.
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # The body goes to httpx as it came, and httpx decodes it by its Content-Encoding header (decoding here
            # too would hand httpx a plain body labelled gzip). Offer only the codings httpx can always decode.
            auto_decompress=False,
            headers={"Accept-Encoding": "gzip, deflate"},
            skip_auto_headers=("User-Agent",),
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        content = await request.aread()  # the bytes, whether the request was built with content= or a stream
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return httpx.Response(
                    response.status,
                    headers=response.raw_headers,  # bytes pairs: httpx takes them without re-encoding
                    content=body,
                    request=request,
                )
        except aiohttp.ConnectionTimeoutError as exc:  # no pooled connection or no connect in time: not sent
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except aiohttp.ClientOSError as exc:  # reset by peer after the request went out
            raise httpx.ReadError(str(exc), request=request) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out waiting for the answer", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None
