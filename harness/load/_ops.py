"""The four operations of the mix, sent as prepared bytes over the generator's own HTTP/1.1 pool: the hot path.

Why not `IntelligenceClient`: its per-request machinery — httpx request objects, the limiter, the retry loop,
pydantic models — costs several times the CPU per request of these sends (benchmarks/bench_load.py), and its
retries would hide the very 429s a load test counts. Why not aiohttp's client: profiled at 3,000 creates/s it was
~60 % of the generator's time, ~200 µs of CPU per request in the open model against ~75 µs now (`_http.py`). These
requests go out once each, with the head and the create's form built once per run, and only what the generator
needs is read from the answers: the status, a Retry-After, and a create's or fetch's transcript SID and status. The
limiter, when asked for (`--adaptive`), is applied by the generator around these sends. The few requests outside
the hot path (checking the service, pointing its webhook) go through an aiohttp session.

The reads (fetch, sentences, operator results) pick a transcript created in this run (the most recent 10,000),
so a run with reads creates a few transcripts first (`prepare`).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from harness._credentials import Credentials
from harness._errors import (
    AccountBlocked,
    Forbidden,
    NotFound,
    TransportError,
    Unauthorized,
    error_from_response,
    retry_after_seconds,
)
from harness.load._generator import NOT_SENT, SendResult
from harness.load._http import HttpError, HttpPool
from harness.load._metrics import OK, OTHER_ERROR, RATE_LIMITED, SERVER_ERROR, LoadMetrics

USER_AGENT = "cintel-harness/0.1 (load)"
KEEP_SIDS = 10_000
DEFAULT_MEDIA_URL = "https://media.example.com/load/{n}.wav"


@dataclass(frozen=True)
class Target:
    """Where the requests go and as whom: credentials (with the base URL) and the service transcripts belong to."""

    credentials: Credentials
    service_sid: str
    media_url: str = DEFAULT_MEDIA_URL  # "{n}" becomes the arrival's number
    kind: str = "mock"  # "embedded mock", "mock" (--base-url) or "twilio"


class HttpOperations:
    """`await ops(operation, k)` sends one request and returns (outcome, error kind, Retry-After)."""

    def __init__(
        self,
        target: Target,
        metrics: LoadMetrics,
        *,
        run_id: str,
        rng: random.Random | None = None,
        max_connections: int = 1000,
        timeout_s: float = 30.0,
    ) -> None:
        self.target = target
        self.metrics = metrics
        self.run_id = run_id
        self._rng = rng or random.Random(0)
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, timeout_s), sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None  # the few requests outside the hot path
        self._pool = HttpPool(target.credentials.base_url, max_connections=max_connections, timeout_s=timeout_s)
        self.sids: collections.deque[str] = collections.deque(maxlen=KEEP_SIDS)
        base = target.credentials.base_url.rstrip("/")
        self._base = base
        self._headers = {"Authorization": target.credentials.authorization, "Accept": "application/json"}
        # The hot path's requests as bytes: the common head once, a create's only its length and body apart.
        self._path_prefix = urlsplit(base).path
        self._head = (
            f"Host: {self._pool.host_header}\r\nAuthorization: {target.credentials.authorization}\r\n"
            f"Accept: application/json\r\nUser-Agent: {USER_AGENT}\r\n"
        ).encode("latin-1")
        self._create_head = (
            f"POST {self._path_prefix}/v2/Transcripts HTTP/1.1\r\n".encode() + self._head
            + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        )  # fmt: skip
        # The create's form is built once, cut where the arrival's number goes: a create costs two byte joins.
        marker = "CINTELxARRIVALxNUMBER"  # letters only: JSON and form encoding leave it as it is
        channel = json.dumps({"media_properties": {"media_url": target.media_url.replace("{n}", marker, 1)}})
        form = urlencode({"ServiceSid": target.service_sid, "Channel": channel}).encode()
        before, _, after = form.partition(marker.encode())
        self._form_head, self._form_tail = before, after
        self._templated = "{n}" in target.media_url
        self._key_prefix = f"&CustomerKey=load-{run_id}-".encode()

    async def __aenter__(self) -> HttpOperations:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, skip_auto_headers=("User-Agent",), auto_decompress=True,
            headers={"User-Agent": USER_AGENT},
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def create_body(self, k: int) -> bytes:
        """The create's form: the service, the channel (the media URL with {n} = k) and CustomerKey load-RUN-k."""
        number = b"%d" % k
        if self._templated:
            return self._form_head + number + self._form_tail + self._key_prefix + number
        return self._form_head + self._key_prefix + number

    def _get(self, path: str) -> bytes:
        return b"GET %s HTTP/1.1\r\n%s\r\n" % (f"{self._path_prefix}{path}".encode(), self._head)

    async def __call__(self, operation: str, k: int) -> SendResult:
        if operation == "create":
            body = self.create_body(k)
            data = b"%s%d\r\n\r\n%s" % (self._create_head, len(body), body)
        else:
            if not self.sids:
                return OTHER_ERROR, "no transcript to read yet", None
            data = self._get(_read_path(operation, self.sids[self._rng.randrange(len(self.sids))]))
        try:
            answer = await self._pool.request(data)
        except HttpError as exc:
            return OTHER_ERROR, NOT_SENT if exc.kind == "connect" else exc.kind, None
        status, payload = answer.status, answer.body
        if status < 300:
            if operation == "create" or operation == "fetch":
                self._note(payload, operation == "create")
            return OK, None, None
        if status == 429:
            return RATE_LIMITED, None, retry_after_seconds(answer.retry_after)
        if status >= 500:
            return SERVER_ERROR, None, None
        return OTHER_ERROR, f"HTTP {status}", None

    def _note(self, payload: bytes, created: bool) -> None:
        """Remember a created transcript (for reads and webhook lag) and when it was seen completed."""
        try:
            transcript = json.loads(payload)
            sid, status = transcript["sid"], transcript.get("status")
        except (ValueError, KeyError, TypeError):
            return
        now = asyncio.get_running_loop().time()
        if created:
            self.sids.append(sid)
            self.metrics.transcript_created(sid, now, status == "completed")
        elif status == "completed":
            self.metrics.transcript_completed(sid, now)

    async def prepare(self, count: int) -> int:
        """Create `count` transcripts before the measurement (reads need something to read); returns how many."""
        made = 0
        for k in range(count):
            outcome, _, retry_after = await self("create", -1 - k)
            made += outcome == OK
            if outcome == RATE_LIMITED:
                await asyncio.sleep(min(retry_after or 0.2, 2.0))
        return made

    async def _service(self, form: dict[str, str] | None = None) -> dict[str, Any]:
        """GET (or, with a form, update) the target's service; errors raise from the harness error tree."""
        assert self._session is not None
        url = f"{self._base}/v2/Services/{self.target.service_sid}"
        method = "GET" if form is None else "POST"
        try:
            async with self._session.request(method, url, data=form, headers=self._headers) as response:
                body = await response.read()
                if response.status >= 300:
                    raise error_from_response(response.status, body, response.headers, method=method, url=url)
        except aiohttp.ClientError as exc:
            raise TransportError(f"cannot reach {self._base}: {exc}", method=method, url=url) from None
        service: dict[str, Any] = json.loads(body)
        return service

    async def check_service(self) -> str | None:
        """Prove the credentials and the service before measuring anything; returns the service's WebhookUrl.
        Refused credentials or an unknown service are `AccountBlocked` (exit 4), as for a batch."""
        try:
            service = await self._service()
        except (Unauthorized, Forbidden, NotFound) as refused:
            raise AccountBlocked(
                f"service {self.target.service_sid} at {self._base} refused: {refused}", cause=refused,
                hint="check TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (or the API key) and --service",
            ) from None  # fmt: skip
        webhook_url = service.get("webhook_url")
        return webhook_url if isinstance(webhook_url, str) else None

    async def warm(self, connections: int) -> None:
        """Open `connections` keep-alive connections with harmless reads (the service), so the first second's
        requests do not each pay for a new connection — a cold pool made the first second look like an overload.
        Refusals (a busy account answers some with 429) do not matter here: the connection was made all the same."""
        service = self._get(f"/v2/Services/{self.target.service_sid}")
        await asyncio.gather(*(self._pool.request(service) for _ in range(connections)), return_exceptions=True)

    async def point_webhook(self, callback_url: str | None) -> None:
        """Set the service's WebhookUrl (POST callbacks); None clears it."""
        await self._service({"WebhookUrl": callback_url or "", "WebhookHttpMethod": "POST"})


def _read_path(operation: str, sid: str) -> str:
    if operation == "fetch":
        return f"/v2/Transcripts/{sid}"
    if operation == "sentences":
        return f"/v2/Transcripts/{sid}/Sentences?PageSize=50"
    return f"/v2/Transcripts/{sid}/OperatorResults"
