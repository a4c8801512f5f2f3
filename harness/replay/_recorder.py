"""Recording: an `httpx.AsyncBaseTransport` that delegates every request and writes down the exchange.

    recorder = Recorder()
    client = IntelligenceClient(sid, token, transport=recorder.wrap(AiohttpTransport()))
    ...                                    # use the client as usual
    recorder.save("run.cassette.json")     # secrets scrubbed (harness.replay._scrub)

The wrapped transport changes nothing about the request or the answer: the client gets the inner transport's own
response (a streamed one — a media download — is passed through chunk by chunk and copied on the way, up to the
body cap). Without `--record` nothing is wrapped, so the client's hot path is untouched. A request that got no
answer is recorded with the httpx error it raised. The recorder is also the webhook receiver's callback tap
(`harness._webhooks.callback_tap`): it records each accepted callback, after how many answered exchanges it came,
without its signature, and puts a placeholder for the receiver's run-specific URL everywhere (RECEIVER_PLACEHOLDER).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import httpx

from harness.replay._cassette import (
    DEFAULT_MAX_BODY_BYTES,
    TRANSPORT_ERRORS,
    Body,
    Callback,
    Cassette,
    Exchange,
    RecordedError,
    RecordedRequest,
    RecordedResponse,
    write_private,
)
from harness.replay._scrub import Scrubber

if TYPE_CHECKING:
    from harness._webhooks import WebhookReceiver

# Where the receiver's own URL stood (its port is random, or a tunnel's name): `.invalid` can never resolve.
RECEIVER_PLACEHOLDER = "http://cintel-webhook-receiver.invalid"
# Not kept: framing that the body as recorded (decoded, whole) no longer has, and connection management.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"})


def recorded_request(request: httpx.Request, content: bytes, scrubber: Scrubber, max_bytes: int) -> RecordedRequest:
    """A request as a cassette holds it, scrubbed (replay puts live requests through this too, to match them)."""
    headers = [scrubber.header(name, value) for name, value in request.headers.multi_items()]
    body = Body.of(content, request.headers.get("content-type"), max_bytes=max_bytes)
    return RecordedRequest(
        method=request.method,
        url=scrubber.text(str(request.url)),
        headers=headers,
        **({"body": scrub_body(body, scrubber)} if body is not None else {}),
    )


def scrub_body(body: Body, scrubber: Scrubber) -> Body:
    if "json_value" in body.model_fields_set:
        return Body(json=scrubber.value(body.json_value))
    if body.form is not None:
        return Body(form=[(scrubber.text(name), scrubber.text(value)) for name, value in body.form])
    if body.text is not None:
        return Body(text=scrubber.text(body.text))
    if body.base64 is not None:
        content = scrubber.binary(body.content())
        return Body.of(content, "application/octet-stream", max_bytes=len(content)) or body
    return body


def error_name(error: httpx.TransportError) -> str:
    """The most specific httpx error class a cassette can name (replay raises it again)."""
    for cls in type(error).__mro__:
        name: str = cls.__name__
        if name in TRANSPORT_ERRORS and getattr(httpx, name, None) is cls:
            return name
    return "TransportError"


def _cintel_version() -> str:
    try:
        return str(version("cintel-harness"))
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


class Recorder:
    """Records what passes through the transports it wraps (`wrap`), and accepted webhook callbacks; `save` writes
    the cassette. `secrets` are scrubbed in addition to those learned from Authorization headers."""

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        pseudonymise: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        command: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scrubber = Scrubber(secrets, pseudonymise=pseudonymise)
        self.max_body_bytes = max_body_bytes
        self.command = command
        self.base_url: str | None = None
        self._clock = clock
        self._started = clock()
        self._recorded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._ids = itertools.count(1)
        self._exchanges: dict[int, Exchange] = {}
        self._answered = 0
        self._callbacks: list[Callback] = []

    def __repr__(self) -> str:
        return f"Recorder(exchanges={len(self._exchanges)}, callbacks={len(self._callbacks)})"

    def wrap(self, transport: httpx.AsyncBaseTransport) -> RecordingTransport:
        """A transport that sends through `transport` and records every exchange here."""
        return RecordingTransport(transport, self)

    @property
    def exchanges(self) -> list[Exchange]:
        return [self._exchanges[key] for key in sorted(self._exchanges)]

    @property
    def callbacks(self) -> list[Callback]:
        return list(self._callbacks)

    def cassette(self) -> Cassette:
        return Cassette(
            cintel=_cintel_version(),
            command=self.command,
            recorded_at=self._recorded_at,
            base_url=self.scrubber.text(self.base_url) if self.base_url else None,
            pseudonymised=self.scrubber.pseudonymise,
            exchanges=self.exchanges,
            callbacks=list(self._callbacks),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette (0600, atomic). Every learned secret is looked for once more in the final text."""
        from pathlib import Path

        text = self.cassette().to_json()
        for secret in sorted(self.scrubber.secrets, key=len, reverse=True):  # belt and braces: JSON-escaped too
            text = text.replace(secret, "<redacted>")
        write_private(Path(path), text)

    # --- exchanges -------------------------------------------------------------------------------------------------

    def _ms(self) -> float:
        return round((self._clock() - self._started) * 1000, 1)

    def begin(self) -> tuple[int, float]:
        """A new exchange's id (in the order requests were sent) and when it started."""
        return next(self._ids), self._ms()

    def finish(
        self,
        ident: int,
        at_ms: float,
        request: RecordedRequest,
        *,
        response: RecordedResponse | None = None,
        error: RecordedError | None = None,
    ) -> None:
        ms = round(max(0.0, self._ms() - at_ms), 1)
        exchange = Exchange(id=ident, at_ms=at_ms, ms=ms, request=request,
                            **({"response": response} if response else {"error": error}))  # fmt: skip
        self._exchanges[ident] = exchange
        self._answered += 1

    def response(
        self, response: httpx.Response, content: bytes, *, partial: bool = False, decoded: bool = True
    ) -> RecordedResponse:
        headers = [
            self.scrubber.header(name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _FRAMING or (name.lower() == "content-encoding" and not decoded)
        ]
        body = Body.of(content, response.headers.get("content-type"), max_bytes=self.max_body_bytes)
        fields: dict[str, object] = {"status": response.status_code, "headers": headers}
        if body is not None:
            fields["body"] = scrub_body(body, self.scrubber)
        if partial:
            fields["partial"] = True
        return RecordedResponse.model_validate(fields)

    # --- webhook callbacks (harness._webhooks.CallbackTap) ----------------------------------------------------------

    def receiver_started(self, receiver: WebhookReceiver, auth_token: str) -> None:
        self.scrubber.learn_secret(auth_token)
        for url in (receiver.public_url, receiver.base_url):
            if url:
                self.scrubber.alias(url, RECEIVER_PLACEHOLDER)

    async def receiver_closing(self, receiver: WebhookReceiver) -> None:
        """Nothing to do: what the receiver accepted is recorded already."""

    def callback_accepted(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        kept = [self.scrubber.header(name, value) for name, value in headers.items()
                if name.lower() not in ("host", "content-length", "connection")]  # fmt: skip
        self._callbacks.append(Callback(
            id=len(self._callbacks) + 1, at_ms=self._ms(), after_exchanges=self._answered,
            method="GET" if method == "GET" else "POST", target=self.scrubber.text(target), headers=kept,
            body=self.scrubber.text(body.decode("utf-8", "replace")),
        ))  # fmt: skip


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through `inner` and records each exchange in its `Recorder` (see the module docstring)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        recorder = self.recorder
        content = await request.aread()  # kept by the request: the inner transport reads the same bytes
        ident, at_ms = recorder.begin()
        recorded = recorded_request(request, content, recorder.scrubber, recorder.max_body_bytes)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as error:
            failure = RecordedError.model_validate({"type": error_name(error),
                                                    "message": recorder.scrubber.text(str(error))})  # fmt: skip
            recorder.finish(ident, at_ms, recorded, error=failure)
            raise
        try:
            body = response.content  # the lean transport's answers are read whole (and decoded) already
        except httpx.ResponseNotRead:
            return self._teed(response, request, ident, at_ms, recorded)
        recorder.finish(ident, at_ms, recorded, response=recorder.response(response, body))
        return response

    def _teed(
        self, response: httpx.Response, request: httpx.Request, ident: int, at_ms: float, recorded: RecordedRequest
    ) -> httpx.Response:
        recorder = self.recorder

        def done(raw: bytes, complete: bool, size: int, digest: str) -> None:
            content, decoded = _decoded(raw, response.headers.get("content-encoding"))
            if size > len(raw):  # over the cap: only its size and hash
                answer = recorder.response(response, b"", partial=not complete, decoded=decoded)
                answer.body = Body(omitted=True, size=size, sha256=digest)
            else:
                answer = recorder.response(response, content, partial=not complete, decoded=decoded)
            recorder.finish(ident, at_ms, recorded, response=answer)

        assert isinstance(response.stream, httpx.AsyncByteStream)
        tee = _Tee(response.stream, done, recorder.max_body_bytes)
        return httpx.Response(response.status_code, headers=response.headers, stream=tee,
                              extensions=response.extensions, request=request)  # fmt: skip

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Tee(httpx.AsyncByteStream):
    """Passes a streamed body through, keeping a copy up to `cap` bytes; reports once when closed."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[bytes, bool, int, str], None], cap: int) -> None:
        self._inner = inner
        self._done: Callable[[bytes, bool, int, str], None] | None = done
        self._cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self._hash = hashlib.sha256()
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._size += len(chunk)
            self._hash.update(chunk)
            if self._size <= self._cap:
                self._chunks.append(chunk)
            yield chunk
        self._complete = True

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done(b"".join(self._chunks), self._complete, self._size, self._hash.hexdigest())


def _decoded(raw: bytes, encoding: str | None) -> tuple[bytes, bool]:
    """The body as the client reads it (gzip and deflate undone) and whether it was decoded; an encoding this cannot
    undo keeps the raw bytes and the header."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return raw, True
    try:
        if coding == "gzip":
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS), True
        if coding == "deflate":
            try:
                return zlib.decompress(raw), True
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS), True
    except zlib.error:
        pass
    return raw, False
