"""The request loop every call goes through: limiter → transport → error mapping → retry decision.

Requests are `httpx.Request`s sent straight to an `httpx.AsyncBaseTransport` (the lean aiohttp one by default; a
respx `MockTransport` in tests). `httpx.AsyncClient` is not in the hot path: measured here, its per-request
machinery (cookies, hooks, redirects, timeout objects) halves throughput against the same transport.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from harness._credentials import TWILIO_BASE_URL, Credentials
from harness._errors import (
    OutcomeUnknown,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
    TwilioApiError,
    error_from_response,
    retry_after_seconds,
)
from harness._limiter import AdaptiveLimiter
from harness._retry import RetryBudget, RetryEvent, RetryPolicy

Pairs = Sequence[tuple[str, str]]
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD"})
USER_AGENT = "cintel-harness/0.1"
# Retries are logged with method, path and reason only: never headers, bodies or query strings (secrets, PII).
logger = logging.getLogger("harness")


class Requester:
    def __init__(
        self,
        credentials: Credentials,
        transport: httpx.AsyncBaseTransport,
        limiter: AdaptiveLimiter,
        retry: RetryPolicy,
        *,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.transport = transport
        self.limiter = limiter
        self.retry = retry
        self.budget = budget or RetryBudget()
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Built once: httpx copies a Headers object cheaply but normalises a list on every request.
        self._headers = httpx.Headers(
            [("Authorization", credentials.authorization), ("Accept", "application/json"), ("User-Agent", USER_AGENT)]
        )
        self._form_headers = httpx.Headers(
            [*self._headers.multi_items(), ("Content-Type", "application/x-www-form-urlencoded")]
        )
        self._urls: dict[str, httpx.URL] = {}  # parsed once per distinct URL (a create always posts to one)
        self.retries = 0
        self.retry_listeners: list[Callable[[RetryEvent], None]] = []  # e.g. the batch runner's health watch

    def __repr__(self) -> str:
        return f"Requester(base_url={self.credentials.base_url!r}, account_sid={self.credentials.account_sid!r})"

    def url(self, path_or_url: str) -> str:
        """Absolute URL for a path; Twilio's canonical URLs (paging, links) are re-pointed at our base URL."""
        if path_or_url.startswith(TWILIO_BASE_URL):
            return self.credentials.base_url + path_or_url[len(TWILIO_BASE_URL) :]
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.credentials.base_url + path_or_url

    def _parsed(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) < 1024:  # paging and per-SID URLs are many and used once: keep the cache small
                self._urls[url] = parsed
        return parsed

    def _build(self, method: str, url: str, params: Pairs | None, data: Pairs | None) -> httpx.Request:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        if data is None:
            return httpx.Request(method, self._parsed(url), headers=self._headers)
        body = urlencode(data).encode()
        # A ready byte stream plus Content-Length: httpx's own `content=` encoding costs ~4× more per request.
        headers = self._form_headers.copy()
        headers["Content-Length"] = str(len(body))
        return httpx.Request(method, self._parsed(url), headers=headers, stream=httpx.ByteStream(body))

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Pairs | None = None,
        data: Pairs | None = None,
        headers: Sequence[tuple[str, str]] = (),
        customer_key: str | None = None,
    ) -> bytes:
        """Send with limiting and retries; return the body of a 2xx answer or raise from the harness error tree."""
        url = self.url(path_or_url)
        idempotent = method in IDEMPOTENT
        start = self.limiter.now()
        attempt = 0
        while True:
            attempt += 1
            request = self._build(method, url, params, data)
            for name, value in headers:
                request.headers[name] = value
            ticket = await self.limiter.acquire()
            retry_after: float | None = None
            try:
                response = await self.transport.handle_async_request(request)
                body = await response.aread()  # already read by our transport: returns at once
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self.limiter.cancel(ticket)  # never reached the server: says nothing about its limit
                error: Exception = TransportError(f"could not connect: {exc}", method=method, url=url)
                timed_out = False
            except httpx.TimeoutException as exc:
                self.limiter.release(ticket, timed_out=True)
                error, timed_out = self._lost(method, url, data, customer_key, exc, "timed out"), True
            except httpx.TransportError as exc:
                self.limiter.cancel(ticket)
                error, timed_out = self._lost(method, url, data, customer_key, exc, "connection lost"), False
            except BaseException:
                self.limiter.cancel(ticket)
                raise
            else:
                status = response.status_code
                if status == 429:
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    self.limiter.release(ticket, dropped=True, retry_after=retry_after)
                else:
                    self.limiter.release(ticket)
                if status < 400:
                    self.budget.refund()
                    return body
                error = error_from_response(status, body, response.headers, method=method, url=url)
                if isinstance(error, ServerError) and not idempotent:
                    # The service answered, but a 5xx to a create says nothing about whether it was made.
                    lost = self._lost(method, url, data, customer_key, error, f"answered {status}")
                    raise lost from error
                timed_out = False
            if isinstance(error, OutcomeUnknown) or not self._retryable(error, idempotent):
                raise error
            await self._wait_before_retry(error, attempt, start, timed_out, retry_after, method, request.url.path)

    async def _wait_before_retry(
        self,
        error: Exception,
        attempt: int,
        start: float,
        timed_out: bool,
        retry_after: float | None,
        method: str,
        path: str,
    ) -> None:
        policy = self.retry
        if attempt >= policy.max_attempts or self.limiter.now() - start >= policy.max_elapsed_s:
            raise error
        if not isinstance(error, RateLimited) and not self.budget.try_spend(timeout=timed_out):
            raise RetryBudgetExhausted("retry budget exhausted: the service keeps failing", last_error=error)
        wait = policy.compute_backoff(attempt, self._rng, retry_after)
        self.retries += 1
        logger.debug("retry %d of %s %s in %.3f s after %s", attempt, method, path, wait, type(error).__name__)
        event = RetryEvent(attempt, wait, type(error).__name__, method, path, str(error))
        if policy.on_retry is not None:
            policy.on_retry(event)
        for listener in self.retry_listeners:
            listener(event)
        if wait > 0:
            await (self._sleep or asyncio.sleep)(wait)

    @staticmethod
    def _retryable(error: Exception, idempotent: bool) -> bool:
        if isinstance(error, RateLimited):
            return True  # 20429: not processed, always safe
        if isinstance(error, TransportError):
            return True  # never reached the server
        if isinstance(error, ServerError):
            return idempotent
        return False

    @staticmethod
    def _lost(
        method: str, url: str, data: Pairs | None, customer_key: str | None, exc: BaseException, what: str
    ) -> Exception:
        if method in IDEMPOTENT:
            return TransportError(f"{what}: {exc}", method=method, url=url)
        params = {k: v for k, v in (data or ()) if k != "Channel"}  # the Channel may carry pre-signed URLs
        return OutcomeUnknown(
            f"{method} {url} {what}; the resource may exist — reconcile by CustomerKey before retrying",
            method=method,
            url=url,
            params=params,
            customer_key=customer_key,
        )

    async def json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        body = await self.request(method, path_or_url, **kwargs)
        return json.loads(body) if body else None

    async def pages(self, path: str, params: Pairs | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's records, following `meta.next_page_url` verbatim (re-pointed at our base URL)."""
        next_url: str | None = path
        next_params = params
        while next_url:
            page = await self.json("GET", next_url, params=next_params)
            if not isinstance(page, dict) or not isinstance(page.get("meta"), dict):
                raise TwilioApiError(200, None, "list answer without meta", None, method="GET", url=next_url)
            meta = page["meta"]
            records = page.get(meta.get("key", ""), [])
            yield records if isinstance(records, list) else []
            next_url, next_params = meta.get("next_page_url"), None
