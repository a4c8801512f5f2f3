"""A transport wrapper that fills a `LoadMetrics` from every request a client sends — for reports of runs that
are not `cintel load` (a batch, a scenario):

    metrics = LoadMetrics(loop.time(), time.time())
    transport = MeteredTransport(AiohttpTransport(), metrics, limit=lambda: client.limiter.limit)
    client = IntelligenceClient(..., transport=transport)
    ...                                            # the run
    metrics.finish(loop.time())
    write_report(metrics, Path("report"))

Each request counts as offered and sent when it goes out (a closed model: latency is the wait for its answer) and
as an outcome when it is answered or fails; requests are grouped by operation from their method and path (create,
fetch, sentences, operator_results, other). The limit and the requests in flight are sampled at the first answer
of every second. Retries are requests of their own, as they are on the wire.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable

import httpx

from harness.load._metrics import OK, OTHER_ERROR, RATE_LIMITED, SERVER_ERROR, LoadMetrics

_TRANSCRIPT = re.compile(r"^/v2/Transcripts/[^/]+(?P<rest>/Sentences|/OperatorResults)?/?$")


def operation_of(method: str, path: str) -> str:
    """The mix's name for a request: create, fetch, sentences, operator_results — or other."""
    if method == "POST" and path.rstrip("/") == "/v2/Transcripts":
        return "create"
    match = _TRANSCRIPT.match(path) if method == "GET" else None
    if match is None:
        return "other"
    rest = match.group("rest")
    return "fetch" if rest is None else "sentences" if rest == "/Sentences" else "operator_results"


class MeteredTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        metrics: LoadMetrics,
        *,
        limit: Callable[[], float | None] | None = None,
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.limit = limit  # what the limit is now (e.g. the client's limiter); may be set after the client is made
        self.in_flight = 0
        self._peak = 0
        self._sampled_second = -math.inf

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        metrics = self.metrics
        operation = operation_of(request.method, request.url.path)
        start = loop.time()
        metrics.offered(start)
        metrics.sent(start, start)
        self.in_flight += 1
        self._peak = max(self._peak, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            self.in_flight -= 1
            now = loop.time()
            metrics.done(now, operation, OTHER_ERROR, now - start, type(exc).__name__)
            self._maybe_sample(now)
            raise
        self.in_flight -= 1
        now = loop.time()
        status = response.status_code
        if status < 300:
            outcome, error = OK, None
        elif status == 429:
            outcome, error = RATE_LIMITED, None
        elif status >= 500:
            outcome, error = SERVER_ERROR, None
        else:
            outcome, error = OTHER_ERROR, f"HTTP {status}"
        metrics.done(now, operation, outcome, now - start, error)
        self._maybe_sample(now)
        return response

    def _maybe_sample(self, now: float) -> None:
        second = self.metrics.second_start(now)
        if second != self._sampled_second:
            self._sampled_second = second
            self.metrics.sample(now, self.in_flight, self._peak, self.limit() if self.limit else None)
            self._peak = self.in_flight

    async def aclose(self) -> None:
        await self.inner.aclose()
