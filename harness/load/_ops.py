"""The four operations of the mix, sent with aiohttp directly: the generator's hot path.

Why not `IntelligenceClient`: measured here (benchmarks/bench_load.py), the client's per-request machinery —
httpx request objects, the limiter, the retry loop, pydantic models — caps one process at about half of the 3,000
creates/s the generator must sustain, and its retries would hide the very 429s a load test counts. These requests
go out once each, with headers and the create's form body built once per run, and only what the generator needs
is read from the answers: the status, a Retry-After, and a create's or fetch's transcript SID and status. The
limiter, when asked for (`--adaptive`), is applied by the generator around these sends.

The reads (fetch, sentences, operator results) pick a transcript created in this run (the most recent 10,000),
so a run with reads creates a few transcripts first (`prepare`).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from harness._credentials import Credentials
from harness._errors import retry_after_seconds
from harness.load._generator import NOT_SENT, SendResult
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
        self._session: aiohttp.ClientSession | None = None
        self.sids: collections.deque[str] = collections.deque(maxlen=KEEP_SIDS)
        base = target.credentials.base_url.rstrip("/")
        self._base = base
        self._create_url = URL(f"{base}/v2/Transcripts")
        self._headers = {"Authorization": target.credentials.authorization, "Accept": "application/json"}
        self._form_headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
        self._templated = "{n}" in target.media_url
        self._create_prefix = urlencode({"ServiceSid": target.service_sid}).encode() + b"&Channel="
        self._fixed_channel = quote(self._channel(0), safe="").encode()

    def _channel(self, k: int) -> str:
        url = self.target.media_url.replace("{n}", str(k)) if self._templated else self.target.media_url
        return json.dumps({"media_properties": {"media_url": url}})

    async def __aenter__(self) -> HttpOperations:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, skip_auto_headers=("User-Agent",), auto_decompress=True,
            headers={"User-Agent": USER_AGENT},
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def create_body(self, k: int) -> bytes:
        channel = quote(self._channel(k), safe="").encode() if self._templated else self._fixed_channel
        return b"%s%s&CustomerKey=load-%s-%d" % (self._create_prefix, channel, self.run_id.encode(), k)

    async def __call__(self, operation: str, k: int) -> SendResult:
        session = self._session
        assert session is not None, "use `async with HttpOperations(...)`"
        sid = None
        if operation == "create":
            method, url, body, headers = "POST", self._create_url, self.create_body(k), self._form_headers
        else:
            if not self.sids:
                return OTHER_ERROR, "no transcript to read yet", None
            sid = self.sids[self._rng.randrange(len(self.sids))]
            method, body, headers = "GET", None, self._headers
            url = URL(_read_url(self._base, operation, sid), encoded=True)
        try:
            async with session.request(method, url, data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                payload = await response.read()
                retry_after = response.headers.get("Retry-After") if status == 429 else None
        except aiohttp.ClientConnectorError:
            return OTHER_ERROR, NOT_SENT, None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return OTHER_ERROR, "timeout", None
        except aiohttp.ClientError as exc:
            return OTHER_ERROR, type(exc).__name__, None
        if status < 300:
            if operation == "create" or operation == "fetch":
                self._note(payload, operation == "create")
            return OK, None, None
        if status == 429:
            return RATE_LIMITED, None, retry_after_seconds(retry_after)
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

    async def point_webhook(self, callback_url: str | None) -> str | None:
        """Set the service's WebhookUrl (POST); returns the one it had, to put back after the run."""
        assert self._session is not None
        url = f"{self._base}/v2/Services/{self.target.service_sid}"
        async with self._session.get(url, headers=self._headers) as response:
            response.raise_for_status()
            before = (await response.json()).get("webhook_url")
        form = {"WebhookUrl": callback_url or "", "WebhookHttpMethod": "POST"}
        async with self._session.post(url, data=form, headers=self._headers) as response:
            response.raise_for_status()
        return before if isinstance(before, str) else None


def _read_url(base: str, operation: str, sid: str) -> str:
    if operation == "fetch":
        return f"{base}/v2/Transcripts/{sid}"
    if operation == "sentences":
        return f"{base}/v2/Transcripts/{sid}/Sentences?PageSize=50"
    return f"{base}/v2/Transcripts/{sid}/OperatorResults"
