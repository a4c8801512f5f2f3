"""Outbound completion webhooks: signed like Twilio's, retried with backoff, and faulted from a seeded generator.

`submit` never blocks the request that produced the event: each delivery runs as a background task over one shared
`aiohttp.ClientSession`. A POST carries the JSON body, `?bodySHA256=` and `X-Twilio-Signature` (twilio-wire.md §3,
§4 JSON variant); a GET carries the body's fields as query parameters and is signed over the full URL.

Faults (`webhook_faults`) are drawn at submit time, in submission order, so a seed decides them no matter how the
network behaves: `drop` never sends (counted as dropped), `duplicate` delivers twice (each copy counts as sent),
`reorder` holds the event until the next event of the same account has had its first attempt (or until a short
timeout), and `delay_ms` waits before the first attempt. A non-2xx answer or a connection failure is retried after
`retry_base_ms × 2ⁿ` (each wait at most a minute) up to `max_attempts` attempts, then counted as failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from yarl import URL

from mock_server._bounds import MAX_RETRY_WAIT_MS
from mock_server._clock import Clock
from mock_server._config import WebhookFaultsConfig
from mock_server._signature import SIGNATURE_HEADER, compute_signature, signed_json_request, with_query

__all__ = ["USER_AGENT", "CallbackLike", "WebhookDispatcher", "deliver"]

log = logging.getLogger("mock_server.webhooks")

USER_AGENT = "TwilioProxy/1.1"
REORDER_HOLD_S = 0.2  # a held event goes out after this long if no later event of its account comes first
REQUEST_TIMEOUT_S = 10.0


class CallbackLike(Protocol):
    """Anything shaped like a completion callback: the domain model's `CallbackEvent` (its repr hides the token)."""

    @property
    def account_sid(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def auth_token(self) -> str: ...
    @property
    def body(self) -> Mapping[str, Any]: ...


@dataclass(slots=True)
class _Stats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass(slots=True)
class _Job:
    event: CallbackLike
    faults: WebhookFaultsConfig


def _redact(url: str) -> str:
    """The URL for logs: Twilio webhook URLs may carry `user:password@` credentials, which never reach a log."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def _query_value(value: Any) -> str:
    """A body field as a query-string value: strings as is, booleans as JSON, objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class WebhookDispatcher:
    """Sends webhooks in the background and counts, per account, what was sent, failed and dropped."""

    def __init__(
        self,
        rng: random.Random,
        clock: Clock | None = None,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        reorder_hold_s: float = REORDER_HOLD_S,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._rng = rng
        self._clock = clock  # accepted for symmetry with the rest of the mock; every wait goes through `sleep`
        self._sleep = sleep
        self._reorder_hold_s = reorder_hold_s
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[str, list[_Job]] = {}  # account → reordered jobs waiting for the next event
        self._hold_timers: dict[str, asyncio.Task[None]] = {}
        self._stats: dict[str, _Stats] = {}
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the shared HTTP session (also opened lazily by the first delivery)."""
        self._closed = False
        self._ensure_session()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s), headers={"User-Agent": USER_AGENT}
            )
        return self._session

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - the agreed interface
        """Wait until no delivery is pending or held; True if that happened within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def close(self) -> None:
        """Cancel every pending delivery, wait for the cancellations, and close the session."""
        self._closed = True
        self._held.clear()
        self._hold_timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- counters ---------------------------------------------------------------------------------------------

    def stats_for(self, account_sid: str) -> dict[str, int]:
        stats = self._stats.get(account_sid) or _Stats()
        return {"webhooks_sent": stats.sent, "webhooks_failed": stats.failed, "webhooks_dropped": stats.dropped}

    def reset_stats(self) -> None:
        """Forget every counter (for the control plane's reset; deliveries in progress keep going)."""
        self._stats.clear()

    def _count(self, account_sid: str) -> _Stats:
        stats = self._stats.get(account_sid)
        if stats is None:
            stats = self._stats[account_sid] = _Stats()
        return stats

    # --- submission -------------------------------------------------------------------------------------------

    def submit(self, event: CallbackLike, faults: WebhookFaultsConfig) -> None:
        """Schedule `event` for delivery under `faults`; returns at once (needs a running event loop)."""
        account = event.account_sid
        if self._closed:
            self._count(account).failed += 1
            return
        drop = duplicate = reorder = False
        if faults.drop or faults.duplicate or faults.reorder:
            # Always three draws, so one event's faults never shift the next event's.
            rng = self._rng
            drop, duplicate, reorder = (
                rng.random() < faults.drop,
                rng.random() < faults.duplicate,
                rng.random() < faults.reorder,
            )
        if drop:
            self._count(account).dropped += 1
            return
        jobs = [_Job(event, faults)] * (2 if duplicate else 1)
        if reorder:
            self._held.setdefault(account, []).extend(jobs)
            if account not in self._hold_timers:
                self._hold_timers[account] = self._spawn(self._hold_timeout(account))
            return
        released = self._release(account)
        for i, job in enumerate(jobs):
            # Held events go out after the first copy's first attempt: "delivered after the next event".
            self._spawn(self._deliver(job, released if i == 0 else []))

    def _release(self, account: str) -> list[_Job]:
        timer = self._hold_timers.pop(account, None)
        if timer is not None:
            timer.cancel()
        return self._held.pop(account, [])

    async def _hold_timeout(self, account: str) -> None:
        await self._sleep(self._reorder_hold_s)
        # Nothing came after the held events in time: send them anyway, in their own order.
        self._hold_timers.pop(account, None)
        for job in self._held.pop(account, []):
            self._spawn(self._deliver(job, []))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- delivery ---------------------------------------------------------------------------------------------

    async def _deliver(self, job: _Job, then: list[_Job]) -> None:
        faults = job.faults
        account = job.event.account_sid
        try:
            if faults.delay_ms > 0:
                await self._sleep(faults.delay_ms / 1000.0)
            ok = await self._attempt(job.event)
        finally:
            if not self._closed:  # on close nothing new may start: it would never be awaited
                for later in then:
                    self._spawn(self._deliver(later, []))
        attempt = 1
        while not ok and attempt < faults.max_attempts:
            await self._sleep(min(faults.retry_base_ms * (2 ** (attempt - 1)), MAX_RETRY_WAIT_MS) / 1000.0)
            ok = await self._attempt(job.event)
            attempt += 1
        stats = self._count(account)
        if ok:
            stats.sent += 1
        else:
            stats.failed += 1
            log.warning("webhook for %s to %s failed after %d attempts", account, _redact(job.event.url), attempt)

    async def _attempt(self, event: CallbackLike) -> bool:
        """One HTTP attempt; True on a 2xx answer."""
        method = event.method.upper()
        if method == "GET":
            pairs = [(k, _query_value(v)) for k, v in event.body.items() if v is not None]
            url = with_query(event.url, pairs)
            signature = compute_signature(url, None, event.auth_token)
            headers = {SIGNATURE_HEADER: signature}
            data: bytes | None = None
        else:
            data = json.dumps(event.body, separators=(",", ":")).encode("utf-8")
            url, signature = signed_json_request(event.url, data, event.auth_token)
            headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
            method = "POST"
        return await deliver(self._ensure_session(), method, url, data, headers, f"webhook to {_redact(event.url)}")


async def deliver(
    session: aiohttp.ClientSession, method: str, url: str, data: bytes | None, headers: dict[str, str], what: str
) -> bool:
    """Send one signed callback; True when answered 2xx. `what` names it in the log, its URL already redacted."""
    try:
        # encoded=True: send the URL byte for byte as signed, so yarl's requoting cannot break the signature.
        async with session.request(method, URL(url, encoded=True), data=data, headers=headers) as response:
            await response.read()
            ok = 200 <= response.status < 300
            if not ok:
                log.info("%s answered %d", what, response.status)
            return ok
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.info("%s failed: %s", what, type(exc).__name__)
        return False
