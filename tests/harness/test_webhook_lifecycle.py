"""The webhook receiver's life: a clear error when it cannot listen, bounded waits for slow or silent clients, and a
close() that held-open sockets cannot delay (it once took 61 s)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import time

import pytest

from harness._errors import CintelError
from harness._signature import compute_signature
from harness._webhooks import WebhookReceiver, WebhookReceiverError

TOKEN = "f" * 32
SID = "GT" + "2" * 32
BODY = json.dumps({"transcript_sid": SID}).encode()


def _ignore(sid: str, key: str | None) -> None:
    pass


def _port(hook: WebhookReceiver) -> int:
    return int(hook.base_url.rsplit(":", 1)[1])


def _head(hook: WebhookReceiver, content_length: int) -> bytes:
    signed = f"{hook.callback_url}?bodySHA256={hashlib.sha256(BODY).hexdigest()}"
    target = signed.removeprefix(hook.base_url)
    return (
        f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n"
        f"X-Twilio-Signature: {compute_signature(signed, None, TOKEN)}\r\n\r\n"
    ).encode()


# -- start(): a clear error when the receiver cannot listen -----------------------------------------------------------


async def test_a_port_in_use_is_a_clear_error_naming_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hook = WebhookReceiver(TOKEN, _ignore)
        with pytest.raises(
            WebhookReceiverError, match=rf"webhook port {port} on 127\.0\.0\.1 is already in use"
        ) as err:
            await hook.start(port=port)
        assert "--webhook-port" in str(err.value)
        assert isinstance(err.value, CintelError)
        await hook.close()  # nothing was left half-started
    await hook.start(port=port)  # and the same receiver can start once the port is free
    try:
        assert _port(hook) == port
    finally:
        await hook.close()


@pytest.mark.parametrize(
    ("host", "port", "words"),
    [
        ("127.0.0.1", 99999, "not a TCP port"),
        ("127.0.0.1", -1, "not a TCP port"),
        ("192.0.2.1", 0, "cannot listen on 192.0.2.1"),  # TEST-NET-1: never an address of this machine
        ("no such host", 0, "cannot listen on 'no such host'"),
    ],
)
async def test_a_bad_host_or_port_is_a_clear_error(host: str, port: int, words: str) -> None:
    hook = WebhookReceiver(TOKEN, _ignore)
    with pytest.raises(WebhookReceiverError, match=words):
        await hook.start(host, port)
    await hook.close()


@pytest.mark.parametrize("url", ["ftp://t.example", "https://", "https://t.example:port", "https://t.example/?a=1"])
def test_a_malformed_public_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(WebhookReceiverError, match="--public-url"):
        WebhookReceiver(TOKEN, _ignore, public_url=url)


async def test_start_twice_is_an_error() -> None:
    hook = WebhookReceiver(TOKEN, _ignore)
    await hook.start()
    try:
        with pytest.raises(WebhookReceiverError, match="already started"):
            await hook.start()
    finally:
        await hook.close()


# -- slow and silent clients ------------------------------------------------------------------------------------------


async def test_a_client_that_withholds_the_body_is_answered_408_and_dropped_after_the_body_timeout() -> None:
    hook = WebhookReceiver(TOKEN, _ignore, body_timeout=0.3)
    await hook.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(hook))
        writer.write(_head(hook, len(BODY)) + BODY[:5])  # then nothing more
        await writer.drain()
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 5)  # read() returns at EOF: the server closed
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 4
        writer.close()
    finally:
        await hook.close()
    assert hook.accepted == 0


async def test_a_client_that_trickles_the_body_is_dropped_after_the_body_timeout() -> None:
    hook = WebhookReceiver(TOKEN, _ignore, body_timeout=0.5)
    await hook.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(hook))
        writer.write(_head(hook, len(BODY)))
        started = time.monotonic()

        async def trickle() -> None:  # one byte every 0.1 s: ~3 s for the body, far over the 0.5 s bound
            with contextlib.suppress(ConnectionError):
                for byte in BODY[:-1]:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.1)

        trickling = asyncio.create_task(trickle())
        answer = await asyncio.wait_for(reader.read(), 5)
        trickling.cancel()
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 4
        writer.close()
    finally:
        await hook.close()


async def test_a_connection_that_never_completes_its_headers_is_closed_after_the_idle_timeout() -> None:
    hook = WebhookReceiver(TOKEN, _ignore, idle_timeout=0.3)
    await hook.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(hook))
        writer.write(b"POST /callbacks HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
        writer.close()
    finally:
        await hook.close()


async def test_close_returns_promptly_with_held_open_sockets() -> None:
    hook = WebhookReceiver(TOKEN, _ignore)  # the default timeouts: 10 s for a body, longer for idle sockets
    await hook.start()
    port = _port(hook)
    writers: list[asyncio.StreamWriter] = []
    for kind in ["silent", "half-headers", "withheld-body", "refused-still-sending", "keep-alive"] * 3:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        if kind == "half-headers":
            writer.write(b"POST /callbacks HTTP/1.1\r\nHost: x\r\nContent-Le")
        elif kind == "withheld-body":
            writer.write(_head(hook, 100) + b"{")
        elif kind == "refused-still-sending":  # answered 413 at once; the server reads the rest for a while
            writer.write(_head(hook, 10_000_000) + b"{" * 1000)
        elif kind == "keep-alive":
            writer.write(_head(hook, len(BODY)) + BODY)
            await writer.drain()
            assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 204")
        await writer.drain()
    await asyncio.sleep(0.2)  # let the server take every request in hand
    started = time.monotonic()
    await asyncio.wait_for(hook.close(), 10)
    elapsed = time.monotonic() - started
    for writer in writers:
        writer.close()
    assert hook.accepted == 3
    assert elapsed < 2, f"close() took {elapsed:.1f} s with held-open sockets"
