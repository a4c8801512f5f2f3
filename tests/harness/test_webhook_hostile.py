"""The webhook receiver under hostile input, over real sockets: every malformed request gets a 4xx, never a 500 or
a traceback; nothing is recorded unless it is validly signed for the receiver's own URL; no secret reaches a log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from harness._signature import compute_signature
from harness._webhooks import WebhookReceiver

TOKEN = "f" * 32
SID = "GT" + "2" * 32
BODY = json.dumps({"transcript_sid": SID, "customer_key": "call-7"}).encode()
Hook = tuple[WebhookReceiver, list[tuple[str, str | None]]]


@pytest.fixture
async def receiver() -> AsyncIterator[Hook]:
    seen: list[tuple[str, str | None]] = []
    hook = WebhookReceiver(TOKEN, lambda sid, key: seen.append((sid, key)))
    await hook.start()
    yield hook, seen
    await hook.close()


def _port(hook: WebhookReceiver) -> int:
    return int(hook.base_url.rsplit(":", 1)[1])


def _request(method: str, target: str, headers: dict[str, str], body: bytes = b"", *, host: str = "") -> bytes:
    head = [f"{method} {target} HTTP/1.1", f"Host: {host or 'localhost'}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    if "Transfer-Encoding" not in headers and "Content-Length" not in headers:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


async def _send(port: int, raw: bytes) -> int:
    """Send raw bytes and return the final status of the answer (the test fails on a hang)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return _final_status(await asyncio.wait_for(reader.read(), 10))
    finally:
        writer.close()


def _final_status(answer: bytes) -> int:
    """The status of the final response, after any interim 1xx (e.g. 100 Continue)."""
    while True:
        status = int(answer.split(b" ", 2)[1])
        if status >= 200:
            return status
        answer = answer.split(b"\r\n\r\n", 1)[1]


def _signed_json(url: str, body: bytes) -> tuple[str, dict[str, str]]:
    signed = f"{url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return signed, {"X-Twilio-Signature": compute_signature(signed, None, TOKEN), "Content-Type": "application/json"}


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _signed_form(url: str, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    signature = compute_signature(url, {k: [v] for k, v in fields.items()}, TOKEN)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return urlencode(fields).encode(), headers


# -- the inputs that answered 500 with a traceback -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=transcript_sid\r\n\r\nGT1\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n"),
        ("application/x-www-form-urlencoded; charset=klingon", b"transcript_sid=" + SID.encode()),
        ("application/x-www-form-urlencoded", b"transcript_sid=GT\xff\xfe"),
        ("application/x-www-form-urlencoded", b"transcript_sid=%ff%fe"),
        ("text/plain", b"hello"),
        ("", b"transcript_sid=" + SID.encode()),
    ],
)
async def test_unsigned_odd_bodies_are_refused_with_a_4xx_and_no_traceback(
    receiver: Hook, caplog: pytest.LogCaptureFixture, content_type: str, body: bytes
) -> None:
    hook, seen = receiver
    headers = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    if content_type:
        headers["Content-Type"] = content_type
    with caplog.at_level(logging.DEBUG):
        status = await _send(_port(hook), _request("POST", "/callbacks", headers, body))
    assert status in (400, 403)
    assert seen == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "body",
    [b'{"transcript_sid": "GT\xff"}', b"[" * 100_000 + b"]" * 100_000, b"[" * 50_000, b"\xef\xbb\xbf{}", b"[1]"],
    ids=["invalid-utf8", "deep-64k", "deep-open", "bom", "not-an-object"],
)
async def test_validly_signed_but_malformed_json_is_400_or_413_and_nothing_is_recorded(
    receiver: Hook, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, body)
    with caplog.at_level(logging.DEBUG):
        status = await _send(_port(hook), _request("POST", _target(url), headers, body))
    assert status == (413 if len(body) > 64 * 1024 else 400)
    assert seen == []
    assert hook.accepted == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_non_ascii_signature_header_is_a_403_not_a_500(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, BODY)
    headers["X-Twilio-Signature"] = "sïgnature"
    assert await _send(_port(hook), _request("POST", _target(url), headers, BODY)) == 403
    assert seen == []


async def test_a_deeply_nested_signed_form_field_is_just_a_string(receiver: Hook) -> None:
    hook, seen = receiver
    body, headers = _signed_form(hook.callback_url, {"transcript_sid": SID, "customer_key": "[" * 10_000})
    assert await _send(_port(hook), _request("POST", "/callbacks", headers, body)) == 204
    assert seen == [(SID, "[" * 10_000)]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_get_405_with_allow(receiver: Hook, method: str) -> None:
    hook, _ = receiver
    url, headers = _signed_json(hook.callback_url, BODY)
    assert await _send(_port(hook), _request(method, _target(url), headers, BODY)) == 405
    assert hook.accepted == 0


async def test_a_body_over_64_kib_is_413_before_it_is_read(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, b"")
    huge = f"POST {_target(url)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n"
    raw = (huge + f"X-Twilio-Signature: {headers['X-Twilio-Signature']}\r\n\r\n").encode() + b"{" * 1000
    assert await _send(_port(hook), raw) == 413  # answered without waiting for the other 9.999 MB
    chunked = _request("POST", _target(url), {**headers, "Transfer-Encoding": "chunked"}, b"")
    body = b"".join(b"%x\r\n%s\r\n" % (8192, b" " * 8192) for _ in range(9)) + b"0\r\n\r\n"
    assert await _send(_port(hook), chunked + body) == 413
    assert seen == []


async def test_compressed_bodies_are_refused(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, BODY)
    raw = _request("POST", _target(url), {**headers, "Content-Encoding": "gzip"}, BODY)
    assert await _send(_port(hook), raw) == 400
    assert seen == []


@pytest.mark.parametrize("sid", ["GT", "GT123", "GT" + "Z" * 32, "GT" + "2" * 33, "CA" + "2" * 32, "GT" + "A" * 32])
async def test_a_transcript_sid_not_shaped_like_gt_and_32_hex_is_400(receiver: Hook, sid: str) -> None:
    hook, seen = receiver
    body = json.dumps({"transcript_sid": sid}).encode()
    url, headers = _signed_json(hook.callback_url, body)
    assert await _send(_port(hook), _request("POST", _target(url), headers, body)) == 400
    assert seen == []
    assert hook.rejected == 1


async def test_a_json_body_without_body_hash_is_not_authenticated_by_a_url_signature(receiver: Hook) -> None:
    hook, seen = receiver
    headers = {
        "X-Twilio-Signature": compute_signature(hook.callback_url, None, TOKEN),
        "Content-Type": "application/json",
    }
    assert await _send(_port(hook), _request("POST", "/callbacks", headers, BODY)) in (400, 403)
    assert seen == []


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /callbacks HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 10_000 + b"\r\n\r\n",
        b"POST /callbacks HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        b"POST /callbacks?\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /callbacks?é HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS to a plain-HTTP port
    ],
    ids=["no-colon", "bad-length", "two-lengths", "bad-chunk", "length-and-chunked", "long-header", "200-headers",
         "nul-in-target", "utf8-in-target", "tls-hello"],
)  # fmt: skip
async def test_requests_that_are_not_valid_http_get_400_and_one_log_line_without_traceback(
    receiver: Hook, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    hook, seen = receiver
    with caplog.at_level(logging.DEBUG):
        assert await _send(_port(hook), raw) == 400
    assert seen == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r.getMessage() for r in caplog.records if r.name == "harness.webhooks"]


# -- the URL that is validated is the receiver's own, never the Host header's -----------------------------------------


async def test_a_callback_signed_for_the_attackers_host_is_refused(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json(f"http://evil.example:{_port(hook)}/callbacks", BODY)
    raw = _request("POST", _target(url), headers, BODY, host=f"evil.example:{_port(hook)}")
    assert await _send(_port(hook), raw) == 403
    assert seen == []


async def test_a_callback_signed_for_the_configured_url_is_accepted_whatever_the_host(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, BODY)
    raw = _request("POST", _target(url), headers, BODY, host="evil.example")
    assert await _send(_port(hook), raw) == 204
    assert seen == [(SID, "call-7")]


async def test_behind_a_tunnel_only_the_public_url_validates() -> None:
    seen: list[tuple[str, str | None]] = []
    hook = WebhookReceiver(TOKEN, lambda sid, key: seen.append((sid, key)), public_url="https://t.example/hooks/")
    await hook.start()
    try:
        assert hook.callback_url == "https://t.example/hooks/callbacks"
        local, headers = _signed_json(hook.callback_url.replace("https://t.example/hooks", hook.base_url), BODY)
        assert await _send(_port(hook), _request("POST", _target(local), headers, BODY, host="t.example")) == 403
        public, headers = _signed_json(hook.callback_url, BODY)
        target = _target(public).removeprefix("/hooks")
        assert await _send(_port(hook), _request("POST", target, headers, BODY, host="127.0.0.1")) == 204
        assert seen == [(SID, "call-7")]
    finally:
        await hook.close()


async def test_an_absolute_form_request_target_cannot_choose_the_validated_url(receiver: Hook) -> None:
    hook, seen = receiver
    url, headers = _signed_json("http://evil.example/callbacks", BODY)
    assert await _send(_port(hook), _request("POST", url, headers, BODY)) in (400, 403)
    assert seen == []


# -- no secret in the logs --------------------------------------------------------------------------------------------


async def test_logs_never_hold_the_token_or_a_signature(receiver: Hook, caplog: pytest.LogCaptureFixture) -> None:
    hook, seen = receiver
    url, headers = _signed_json(hook.callback_url, BODY)
    forged = {**headers, "X-Twilio-Signature": "Zm9yZ2VkLXNpZ25hdHVyZS12YWx1ZQ=="}
    with caplog.at_level(logging.DEBUG):
        assert await _send(_port(hook), _request("POST", _target(url), forged, BODY)) == 403
        assert await _send(_port(hook), _request("POST", _target(url), headers, BODY)) == 204
        assert await _send(_port(hook), _request("POST", "/callbacks", forged, b"a=%ff")) in (400, 403)
    assert caplog.records  # the refusals were logged ...
    for text in (TOKEN, forged["X-Twilio-Signature"], headers["X-Twilio-Signature"]):
        assert text not in caplog.text  # ... without the secret or the signature
    assert TOKEN not in repr(hook)
    assert len(seen) == 1


# -- property: whatever arrives, the answer is a deliberate status and nothing unsigned is recorded ------------------


@contextmanager
def _threaded_receiver() -> Iterator[Hook]:
    """A receiver on its own event loop in a thread, so a synchronous hypothesis test can talk to it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    seen: list[tuple[str, str | None]] = []
    hook = WebhookReceiver(TOKEN, lambda sid, key: seen.append((sid, key)))
    asyncio.run_coroutine_threadsafe(hook.start(), loop).result(10)
    try:
        yield hook, seen
    finally:
        asyncio.run_coroutine_threadsafe(hook.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _status(port: int, raw: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return _final_status(answer)


# Weighted so that a good share of examples get past the method and signature checks to the parsers (one_of picks
# each branch about equally often, whatever its size).
methods = st.just("POST") | st.just("GET") | st.sampled_from(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"])
content_types = (
    st.sampled_from(["application/json", "application/x-www-form-urlencoded"])
    | st.sampled_from([
        None, "application/json; charset=utf-8", "application/json; charset=utf-16", "application/json;;;", ";",
        "application/x-www-form-urlencoded; charset=klingon", 'application/x-www-form-urlencoded; charset="UTF-8"',
        "multipart/form-data", "multipart/form-data; boundary=b", "text/plain", "a/b; c", "APPLICATION/JSON",
    ])
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
)  # fmt: skip
sids = st.sampled_from([SID, "GT" + "a" * 32, "GT1", "", "GT" + "A" * 32])
good_json = st.builds(lambda sid, key: json.dumps({"transcript_sid": sid, "customer_key": key}).encode(),
                      sids, st.text(max_size=20))  # fmt: skip
good_form = st.builds(lambda sid, key: urlencode({"transcript_sid": sid, "customer_key": key}).encode(),
                      sids, st.text(max_size=20))  # fmt: skip
bodies = (
    good_json
    | good_form
    | st.binary(max_size=300)
    | st.sampled_from([b"[" * 70_000, b"{" * 20_000, b"a" * 70_000, b"a=%ff%fe", b'{"a": "\xff"}', b"\xff\xfe{}"])
)
signings = st.just("valid") | st.sampled_from(["none", "garbage", "non-ascii", "other-host"])


@contextmanager
def _collected_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record from any thread (caplog only sees the test's own thread reliably)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_any_request_gets_a_deliberate_status_and_only_a_valid_signature_records() -> None:
    with _threaded_receiver() as (hook, seen), _collected_logs() as records:
        port = _port(hook)

        @settings(max_examples=300)
        @given(
            method=methods,
            content_type=content_types,
            body=bodies,
            signing=signings,
            body_hash=st.sampled_from(["none", "right", "wrong"]),
            framing=st.sampled_from(["length", "chunked", "bad-chunk", "length-and-chunked", "two-lengths"]),
            host=st.sampled_from(["", "evil.example", "127.0.0.1:1"]),
            extra=st.dictionaries(st.sampled_from(["Content-Encoding", "Expect", "X-Other", "Accept-Charset"]),
                                  st.sampled_from(["gzip", "identity", "100-continue", "klingon", ""]), max_size=2),
        )  # fmt: skip
        def check(
            method: str,
            content_type: str | None,
            body: bytes,
            signing: str,
            body_hash: str,
            framing: str,
            host: str,
            extra: dict[str, str],
        ) -> None:
            before = len(seen)
            base = hook.callback_url if signing != "other-host" else f"http://evil.example:{port}/callbacks"
            digest = hashlib.sha256(body).hexdigest() if body_hash == "right" else "0" * 64
            url = base if body_hash == "none" else f"{base}?bodySHA256={digest}"
            if method == "GET":
                url = f"{base}?{urlencode({'transcript_sid': SID})}"
            params = None
            if method == "POST" and body_hash == "none" and body.isascii():
                params = parse_qs(body.decode("ascii"), keep_blank_values=True)
            headers = dict(extra)
            if signing in ("valid", "other-host"):
                headers["X-Twilio-Signature"] = compute_signature(url, params, TOKEN)
            elif signing == "garbage":
                headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
            elif signing == "non-ascii":
                headers["X-Twilio-Signature"] = "s\udcffg"
            if content_type is not None:
                headers["Content-Type"] = content_type
            payload = body
            if framing != "length":
                headers["Transfer-Encoding"] = "chunked"
                chunk = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
                payload = (chunk if framing != "bad-chunk" else b"zz\r\n" + chunk) + b"0\r\n\r\n"
            if framing == "length-and-chunked":
                headers["Content-Length"] = str(len(payload))
            elif framing == "two-lengths":
                del headers["Transfer-Encoding"]
                headers["Content-length"] = str(len(body) + 1)
            records.clear()
            status = _status(port, _request(method, _target(url), headers, payload, host=host))
            event(f"status {status}")
            assert status in {204, 400, 403, 405, 413}
            assert len(seen) == before + (status == 204)
            if status == 204:
                assert signing == "valid"
            assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR or r.exc_info]
            assert not [r.getMessage() for r in records if TOKEN in r.getMessage()]

        check()
