"""Replaying: a respx router that answers from a cassette, strictly, with no network at all.

    router = respx_router(load_cassette("run.cassette.json"))
    client = IntelligenceClient(sid, token, transport=router.transport())
    ...                                    # the same calls as when it was recorded
    router.assert_all_used()               # ReplayUnused lists what was recorded but not asked for

Each distinct method and path is a respx route whose side effect picks the recorded exchange that matches the
request (`harness.replay._match`); identical requests get their recorded answers in recorded order (a transcript
polled three times gets in-progress, in-progress, completed), a recorded transport error is raised again. A request
the cassette has no answer for — or asks once more than was recorded — raises `ReplayMiss`, whose message is a diff
against the closest recorded request; it is also kept in `misses`, since a caller might catch it. `strict=False`
answers a request asked more often than recorded with its last recorded answer instead.

The router is also the webhook receiver's callback tap: when the receiver starts, recorded callbacks are delivered
to it over loopback in recorded order, each once as many exchanges have been answered as had been when it arrived
— so a callback never comes before the answers that preceded it. Each is signed again with the receiver's own token
over its own URL (the recorded signature was dropped, and the token may differ), its `bodySHA256` recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import respx

from harness._signature import compute_signature, signs_body
from harness.replay._cassette import Body, Callback, Cassette, CassetteError, Exchange
from harness.replay._match import RequestKey, closest, difference, path_pattern, request_key
from harness.replay._recorder import RECEIVER_PLACEHOLDER, recorded_request
from harness.replay._scrub import REDACTED, Scrubber

if TYPE_CHECKING:
    from harness._webhooks import WebhookReceiver

MAX_LISTED = 20
DELIVERY_WAIT_S = 10.0


class ReplayError(AssertionError):
    """The run did not do what the cassette recorded. An AssertionError, not a harness error: no retry loop or
    error handler of the client may take it for a network failure and carry on."""


class ReplayMiss(ReplayError):
    """A request the cassette has no (more) answers for; the message holds the diff against the closest one."""


class ReplayUnused(ReplayError):
    """Recorded exchanges that the run never asked for (listed in the message)."""


class CassetteRouter(respx.MockRouter):
    """A respx `MockRouter` serving a cassette (see the module docstring). Give clients `transport()`."""

    def __init__(self, cassette: Cassette, *, strict: bool = True) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=True)
        self.cassette = cassette
        self.strict = strict
        self.scrubber = Scrubber()  # learns this run's secrets, so live requests are scrubbed as recorded ones were
        self.misses: list[ReplayMiss] = []
        self.served = 0
        self._keyed = [(exchange, request_key(exchange.request)) for exchange in cassette.exchanges]
        self._queues: dict[RequestKey, deque[Exchange]] = {}
        for exchange, key in sorted(self._keyed, key=lambda pair: pair[0].id):
            self._queues.setdefault(key, deque()).append(exchange)
        self._last: dict[RequestKey, Exchange] = {}
        self._used: set[int] = set()
        for method, path in dict.fromkeys((key.method, key.path) for _, key in self._keyed):
            self.route(method=method, path__regex=path_pattern(path), name=f"{method} {path}").mock(
                side_effect=self._answer
            )
        self.route(name="not in the cassette").mock(side_effect=self._miss)
        # Callbacks (webhook receiver): delivered once the receiver is up and their turn has come.
        self._receiver: WebhookReceiver | None = None
        self._token = ""
        self._live_receiver_url: str | None = None
        self._pending: deque[Callback] = deque(sorted(cassette.callbacks, key=lambda c: c.id))
        self._due: deque[Callback] = deque()
        self._delivering: asyncio.Task[None] | None = None
        self.delivered: list[int] = []
        self.callback_problems: list[str] = []

    def __repr__(self) -> str:
        return f"CassetteRouter(exchanges={len(self._keyed)}, used={len(self._used)}, strict={self.strict})"

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport answering from this router (for `IntelligenceClient(transport=…)`, `VideoClient`)."""
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        """respx's handler, minus respx in what it raises: a side effect's exception comes out of respx chained to
        a `SideEffectError` and carrying a dozen of respx's frames, so the first thing a user saw of a miss was
        respx's internals. Raised again from here, the traceback starts at the client's call to this transport
        and ends with the miss's diff (pytest hides this frame too)."""
        __tracebackhide__ = True
        try:
            return await self.async_handler(request)
        except (ReplayError, httpx.TransportError) as error:  # a miss, or a recorded transport error raised again
            raise error.with_traceback(None) from None

    # --- exchanges -------------------------------------------------------------------------------------------------

    def unused(self) -> list[Exchange]:
        return [exchange for exchange, _ in self._keyed if exchange.id not in self._used]

    def assert_all_used(self) -> None:
        """Raise `ReplayUnused` listing every recorded exchange the run did not ask for."""
        unused = self.unused()
        if not unused:
            return
        lines = [f"  {exchange.describe()}" for exchange in unused[:MAX_LISTED]]
        if len(unused) > MAX_LISTED:
            lines.append(f"  … and {len(unused) - MAX_LISTED} more")
        raise ReplayUnused(
            f"{len(unused)} of {len(self._keyed)} recorded exchanges were not used:\n" + "\n".join(lines)
        )

    def _key(self, request: httpx.Request) -> RequestKey:
        live = recorded_request(request, request.content, self.scrubber, max_bytes=2**62)
        return request_key(live)

    def _answer(self, request: httpx.Request) -> httpx.Response | None:
        key = self._key(request)
        queue = self._queues.get(key)
        if queue:
            exchange = queue.popleft()
        elif not self.strict and key in self._last:
            exchange = self._last[key]
        else:
            return None  # not this route's: the catch-all route reports the miss
        self._last[key] = exchange
        self._used.add(exchange.id)
        self.served += 1
        self._deliver_due()
        return self._serve(exchange, request)

    def _miss(self, request: httpx.Request) -> httpx.Response:
        key = self._key(request)
        if key in self._queues:  # recorded, but every recorded answer was given already
            ids = ", ".join(f"#{e.id}" for e, k in self._keyed if k == key)
            message = (
                f"{key.describe()} was sent more often than it was recorded: its recorded answers ({ids}) are all "
                "used (a strict replay gives each recorded answer once)"
            )
        else:
            found = closest(key, self._keyed, self._used)
            message = f"the cassette has no answer for {key.describe()}"
            if found is not None:
                state = "used" if found.id in self._used else "unused"
                lines = difference(key, request_key(found.request))
                message += f"\nclosest recorded request: {found.describe()} ({state})\n" + "\n".join(lines)
        miss = ReplayMiss(message)
        self.misses.append(miss)
        raise miss

    def _serve(self, exchange: Exchange, request: httpx.Request) -> httpx.Response:
        if exchange.error is not None:
            error_class = getattr(httpx, exchange.error.type, httpx.TransportError)
            raise error_class(exchange.error.message or f"recorded {exchange.error.type}", request=request)
        response = exchange.response
        assert response is not None  # an exchange has a response or an error (validated)
        body = response.body
        try:
            content = self._live(body).content() if body is not None else b""
        except CassetteError as error:
            miss = ReplayMiss(f"{exchange.describe()}: {error}")
            self.misses.append(miss)
            raise miss from None
        return httpx.Response(response.status, headers=response.headers, content=content, request=request)

    def _live(self, body: Body) -> Body:
        """The body with the receiver's placeholder turned back into this run's receiver URL."""
        live = self._live_receiver_url
        if live is None or body.base64 is not None:
            return body
        text = body.content().decode("utf-8")
        if RECEIVER_PLACEHOLDER not in text:
            return body
        if "json_value" in body.model_fields_set:
            return Body(json=_replace(body.json_value, RECEIVER_PLACEHOLDER, live))
        if body.form is not None:
            return Body(form=[(k, v.replace(RECEIVER_PLACEHOLDER, live)) for k, v in body.form])
        return Body(text=text.replace(RECEIVER_PLACEHOLDER, live))

    # --- webhook callbacks (harness._webhooks.CallbackTap) -----------------------------------------------------------

    def receiver_started(self, receiver: WebhookReceiver, auth_token: str) -> None:
        self._receiver, self._token = receiver, auth_token
        self._live_receiver_url = receiver.public_url or receiver.base_url
        self.scrubber.learn_secret(auth_token)
        for url in (receiver.public_url, receiver.base_url):
            if url:
                self.scrubber.alias(url, RECEIVER_PLACEHOLDER)
        self._deliver_due()

    def callback_accepted(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        """Callbacks that arrive during a replay are the replay's own deliveries: nothing to record."""

    async def receiver_closing(self, receiver: WebhookReceiver) -> None:
        """Deliver the callbacks already due before the receiver stops (bounded: a receiver that does not answer
        leaves them undelivered)."""
        if self._delivering is not None and not self._delivering.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._delivering), DELIVERY_WAIT_S)
        self._receiver = None

    def undelivered(self) -> list[Callback]:
        return [c for c in self.cassette.callbacks if c.id not in self.delivered]

    def _deliver_due(self) -> None:
        while self._pending and self._pending[0].after_exchanges <= self.served:
            self._due.append(self._pending.popleft())
        if self._receiver is None or not self._due or (self._delivering and not self._delivering.done()):
            return
        self._delivering = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as http:
            while self._due and self._receiver is not None:
                callback = self._due.popleft()
                try:
                    answer = await http.request(**self._signed(callback, self._receiver))
                except httpx.HTTPError:  # the receiver is gone (the run ended): the rest stay undelivered
                    break
                if answer.status_code >= 300:
                    self.callback_problems.append(
                        f"callback #{callback.id}: the receiver answered {answer.status_code}"
                    )
                else:
                    self.delivered.append(callback.id)

    def _signed(self, callback: Callback, receiver: WebhookReceiver) -> dict[str, Any]:
        body = callback.body.encode()
        parts = urlsplit(callback.target)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(name == "bodySHA256" for name, _ in pairs):  # the body may have been scrubbed: hash what is sent
            digest = hashlib.sha256(body).hexdigest()
            pairs = [(name, digest if name == "bodySHA256" else value) for name, value in pairs]
        target = urlunsplit(("", "", parts.path, urlencode(pairs), ""))
        signed_url = f"{receiver.public_url or receiver.base_url}{target}"
        headers = {name: value for name, value in callback.headers if value != REDACTED}
        params = None
        if callback.method == "POST" and not signs_body(signed_url):
            params = parse_qs(callback.body, keep_blank_values=True)
        headers["X-Twilio-Signature"] = compute_signature(signed_url, params, self._token)
        return {"method": callback.method, "url": f"{receiver.base_url}{target}", "headers": headers,
                "content": body if callback.method == "POST" else None}  # fmt: skip

    async def aclose(self) -> None:
        """Wait for the callback deliveries under way (they stop when the receiver is gone)."""
        if self._delivering is not None:
            with contextlib.suppress(Exception):
                await self._delivering


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    return value


def respx_router(cassette: Cassette, *, strict: bool = True) -> CassetteRouter:
    """A respx router serving `cassette`: pass `router.transport()` to a client; `router.assert_all_used()` at the
    end. `strict=False` repeats the last recorded answer of a request asked more often than recorded."""
    return CassetteRouter(cassette, strict=strict)
