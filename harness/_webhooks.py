"""The completion-webhook receiver: a small aiohttp server that takes Twilio's callbacks as nudges.

A callback is accepted only with a valid X-Twilio-Signature for the URL Twilio was given — the receiver's own
`public_url` when it sits behind a tunnel, else the base URL it bound, plus the path and query exactly as they
arrived; the Host header never enters it. What is checked, in order, doing no more work than each step needs:

    path /callbacks (404) · GET or POST (405) · a signature header (403) · no Content-Encoding (400)
    GET:   the signature over the URL (403) · the query as a strict form (400)
    POST:  Content-Length ≤ max_body (413) · the body read within body_timeout (408) and ≤ max_body (413)
           · with ?bodySHA256= (JSON variant): the signature and the body hash over the raw bytes (403), then the
             body parsed as JSON or a form, UTF-8 only (400)
           · without it (form variant): an x-www-form-urlencoded UTF-8 body parsed strictly (400), the signature
             over the URL and its parameters (403)
    then a transcript_sid shaped like GT + 32 hex digits (400)

A valid callback calls `on_transcript(transcript_sid, customer_key)`: callbacks may be duplicated, late, reordered or
lost, so the runner treats each as a reason to re-fetch the transcript, never as its status. A refusal is answered
with its status and a short fixed reason, logged in one line (never the token, the signature or the body), and
counted in `rejected`. Sockets cannot hold the receiver: a connection with no complete request is closed after
`idle_timeout`, and `close()` drops the connections still sending a body instead of waiting for them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from http import HTTPStatus
from ipaddress import ip_address
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from harness._errors import CintelError
from harness._redact import scrub_url
from harness._signature import signs_body, validate
from harness._webhook_parse import Refused, callback_fields, form_params, last_values, parse_body, parse_form

__all__ = ["MAX_BODY", "CallbackTap", "OnTranscript", "WebhookReceiver", "WebhookReceiverError", "callback_tap"]

log = logging.getLogger("harness.webhooks")
_http_log = logging.getLogger("harness.webhooks.http")  # aiohttp's own messages about the receiver's connections
OnTranscript = Callable[[str, str | None], None]
MAX_BODY = 64 * 1024  # Twilio's callbacks are a few hundred bytes
PATH = "/callbacks"
SIGNATURE_HEADER = "X-Twilio-Signature"


class CallbackTap(Protocol):
    """Sees the receiver start and every callback it accepted (harness.replay records and replays them)."""

    def receiver_started(self, receiver: WebhookReceiver, auth_token: str) -> None: ...

    def callback_accepted(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None: ...

    async def receiver_closing(self, receiver: WebhookReceiver) -> None: ...


# Set by `cintel … --record/--replay` around a command; a receiver made meanwhile reports to it. Unset, it costs one
# `is None` test per accepted callback.
callback_tap: ContextVar[CallbackTap | None] = ContextVar("callback_tap", default=None)


class WebhookReceiverError(CintelError):
    """The webhook receiver cannot run as configured: its port is in use, its host or port is invalid, or its
    public URL is malformed. The message says what to change."""


class WebhookReceiver:
    """Receives signed completion callbacks on `callback_url` and turns each valid one into `on_transcript`.

    public_url    the URL Twilio is given when the receiver sits behind a tunnel or proxy (signatures are
                  checked against it); without it, the base URL the receiver bound
    max_body      bodies larger than this are refused with 413 (default 64 KiB)
    body_timeout  seconds a request may take to deliver its body once its headers are in (408, then closed)
    idle_timeout  seconds a connection may stay open without a complete request (closed without an answer)
    """

    def __init__(
        self,
        auth_token: str,
        on_transcript: OnTranscript,
        *,
        public_url: str | None = None,
        max_body: int = MAX_BODY,
        body_timeout: float = 10.0,
        idle_timeout: float = 15.0,
    ) -> None:
        self._token = auth_token
        self._on_transcript = on_transcript
        self.public_url = _checked_public_url(public_url) if public_url else None
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.accepted = 0
        self.rejected = 0
        self.base_url = ""
        self._runner: web.ServerRunner | None = None
        self._tap = callback_tap.get()

    def __repr__(self) -> str:
        return f"WebhookReceiver(base_url={self.base_url!r}, public_url={self.public_url!r})"

    @property
    def callback_url(self) -> str:
        """The URL to give Twilio (the service's WebhookUrl)."""
        return f"{self.public_url or self.base_url}{PATH}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0: any free port). Raises WebhookReceiverError, saying why, when it cannot."""
        if self._runner is not None:
            raise WebhookReceiverError("the webhook receiver is already started")
        if not 0 <= port <= 65535:
            raise WebhookReceiverError(
                f"webhook port {port} is not a TCP port (0-65535); choose another --webhook-port"
            )
        server = web.Server(
            self._handle,
            keepalive_timeout=self.idle_timeout,  # also bounds a connection that never completes its headers
            lingering_time=min(2.0, self.body_timeout),  # reading the rest of a refused body, to answer cleanly
            auto_decompress=False,  # the signature covers the bytes as sent; compressed bodies are refused
            access_log=None,
            logger=_http_log,
        )
        runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise WebhookReceiverError(_listen_error(host, port, exc)) from exc
        self._runner = runner
        shown = f"[{host}]" if _is_ipv6(host) else host
        self.base_url = f"http://{shown}:{site.port}"
        log.info("webhook receiver listening on %s (callbacks at %s)", self.base_url, scrub_url(self.callback_url))
        if self._tap is not None:
            self._tap.receiver_started(self, self._token)

    async def close(self) -> None:
        """Stop listening and close every connection; requests still sending their body are dropped, not awaited."""
        if self._runner is None:
            return
        if self._tap is not None:  # a replay delivers the callbacks already due before the receiver goes
            await self._tap.receiver_closing(self)
        runner, self._runner = self._runner, None
        if runner.server is not None:  # a request still arriving (or a refused body still being drained) is dropped
            for connection in runner.server.connections:  # answers already written are flushed before the close
                connection.force_close()
        await runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            transcript_sid, customer_key, body = await self._callback(request)
        except Refused as refusal:
            if refusal.status == HTTPStatus.NOT_FOUND:  # not a callback at all (a scanner, a typo): not counted
                log.debug("answered 404 to a request from %s for another path", request.remote)
                return web.Response(status=HTTPStatus.NOT_FOUND, text="not found\n")
            self.rejected += 1
            level = logging.WARNING if refusal.status == HTTPStatus.FORBIDDEN else logging.INFO
            log.log(level, "refused a callback from %s: %d %s", request.remote, refusal.status, refusal.reason)
            response = web.Response(status=refusal.status, text=refusal.reason + "\n")
            if refusal.status == HTTPStatus.METHOD_NOT_ALLOWED:
                response.headers["Allow"] = "GET, POST"
            if refusal.status in (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.REQUEST_ENTITY_TOO_LARGE):
                response.force_close()
            return response
        self.accepted += 1
        if self._tap is not None:
            self._tap.callback_accepted(request.method, request.raw_path, request.headers, body)
        self._on_transcript(transcript_sid, customer_key)
        return web.Response(status=HTTPStatus.NO_CONTENT)

    async def _callback(self, request: web.BaseRequest) -> tuple[str, str | None, bytes]:
        target = request.raw_path  # the request target exactly as sent: what Twilio signed after the base URL
        if not target.startswith("/") or not target.isascii() or not target.isprintable():
            raise Refused(400, "the request target must be an ASCII path")
        path, _, query = target.partition("?")
        if path != PATH:
            raise Refused(404, "not found")
        if request.method not in ("GET", "POST"):
            raise Refused(405, "only GET and POST are accepted")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Refused(403, "missing X-Twilio-Signature")
        if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            raise Refused(400, "compressed bodies are not accepted")
        url = f"{self.public_url or self.base_url}{target}"  # never the Host header
        if request.method == "GET":  # the URL carries everything, and the signature covers it all
            if not validate(url, signature, self._token, form=None, body=b""):
                raise Refused(403, "invalid X-Twilio-Signature")
            return (*callback_fields(last_values(parse_form(query.encode()))), b"")
        body = await self._read_body(request)
        content_type = request.headers.get("Content-Type")
        if signs_body(url):  # JSON variant: check the raw bytes before parsing anything
            if not validate(url, signature, self._token, form=None, body=body):
                raise Refused(403, "invalid X-Twilio-Signature or body hash")
            return (*callback_fields(parse_body(content_type, body)), body)
        params = form_params(content_type, body)  # form variant: the signature covers the parsed parameters
        if not validate(url, signature, self._token, form=params, body=body):
            raise Refused(403, "invalid X-Twilio-Signature")
        return (*callback_fields(last_values(params)), body)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body:
            raise Refused(413, f"the body is over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
                    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as aiohttp's router would
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > self.max_body:
                        raise Refused(413, f"the body is over {self.max_body} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise Refused(408, f"the body did not arrive within {self.body_timeout:g} s") from None
        except (ConnectionError, HttpProcessingError):
            raise Refused(400, "the body was cut short or badly framed") from None
        return b"".join(chunks)


def _one_line_for_bad_http(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse — the client's fault — at ERROR with a traceback (after answering 400).
    Keep one line instead, naming the kind of error but never echoing the client's bytes."""
    error = record.exc_info[1] if record.exc_info else None
    if not isinstance(error, HttpProcessingError):
        return True
    level = logging.INFO if record.levelno >= logging.WARNING else logging.DEBUG
    log.log(level, "refused a request that is not valid HTTP: 400 %s (%s)", type(error).__name__, record.getMessage())
    return False


_http_log.addFilter(_one_line_for_bad_http)


def _checked_public_url(url: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise WebhookReceiverError(
            f"webhook public URL {scrub_url(url)!r} must be an http(s) URL with a host and no query (--public-url)"
        )
    return url.rstrip("/")


def _is_ipv6(host: str) -> bool:
    try:
        return ip_address(host).version == 6
    except ValueError:
        return False


def _listen_error(host: str, port: int, exc: OSError) -> str:
    where = f"webhook port {port} on {host}"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {host!r}: no such host or address ({exc.strerror})"
    if exc.errno == errno.EADDRINUSE:
        return f"{where} is already in use (another cintel run or program?); choose another --webhook-port"
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied (ports below 1024 need privileges); choose another --webhook-port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on {where}: {exc.strerror or exc}"
