"""Serving the mock for real: the command line's errors, the banner, off-loopback safety and slow clients.

Every test here uses real sockets on 127.0.0.1 with small timeouts, so each takes well under two seconds.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

import mock_server
from mock_server import ListenError, MockConfig, RunningMock, serve
from mock_server._serve import banner, is_loopback
from tests.mock_server.support import basic, channel_json

TOKEN = "s3cret-control-token-0123"


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# --- item 5: where it listens, and what goes wrong ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "99999"], "--port: must be an integer from 0 to 65535"),
        (["--port", "-1"], "--port"),
        (["--port", "٨٠٨٠"], "--port"),  # int() would read Arabic-Indic digits as 8080
        (["--port", "80_80"], "--port"),
        (["--seed", "٣"], "--seed"),
        (["--host", "0.0.0.0"], "not loopback"),
        (["--host", "192.0.2.1", "--control-token", "short"], "--control-token"),
        # TEST-NET-1: a valid address that is not this machine's, so binding fails at once (no DNS).
        (["--host", "192.0.2.1", "--port", "0", "--control-token", TOKEN], "cannot listen on 192.0.2.1:0"),
    ],
)
def test_bad_listen_arguments_exit_2_with_a_message_and_no_traceback(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mock_server.main(argv, prog="cintel mock") == 2
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err
    assert err.startswith(("cintel mock: error:", "usage: cintel mock"))


def test_a_port_in_use_exits_2_naming_it(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert mock_server.main(["--port", str(taken_port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{taken_port}" in err
    assert "in use" in err
    assert "Traceback" not in err


async def test_serve_raises_clear_errors(taken_port: int) -> None:
    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535"):
        async with serve(port=99999):
            pass
    with pytest.raises(ListenError, match=f"127.0.0.1:{taken_port}"):
        async with serve(port=taken_port):
            pass


# --- item 1: off loopback the control plane needs a token ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_serve_refuses_a_non_loopback_host_without_a_token() -> None:
    for host in ("0.0.0.0", "", "::"):
        with pytest.raises(ValueError, match="not loopback"):
            async with serve(host=host):
                pass
    with pytest.raises(ValueError, match="16 to 256 characters"):
        async with serve(control_token="too short"):
            pass


async def _get(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url, headers=headers) as r:
        assert r.content_type == "application/json"
        return r.status, await r.json()


async def test_with_a_token_every_control_endpoint_but_media_needs_it() -> None:
    async with serve(control_token=TOKEN) as mock, aiohttp.ClientSession() as session:
        assert mock.control_token == TOKEN
        assert TOKEN not in repr(mock)
        for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"X-Mock-Control-Token": TOKEN[:-1]},
                        {"Authorization": f"Basic {TOKEN}"}):  # fmt: skip
            for path in ("/__mock__/", "/__mock__/stats", "/__mock__/config"):
                status, body = await _get(session, mock.base_url + path, **headers)
                assert status == 401, (path, headers)
                assert body["code"] == 20003
                assert "control plane needs its token" in body["message"]
        async with session.post(f"{mock.base_url}/__mock__/reset") as r:
            assert r.status == 401
        assert (await _get(session, f"{mock.base_url}/__mock__/stats", Authorization=f"Bearer {TOKEN}"))[0] == 200
        assert (await _get(session, f"{mock.base_url}/__mock__/stats", **{"X-Mock-Control-Token": TOKEN}))[0] == 200
        # The signed media download stays open: its signature is the credential, as on Twilio's media URLs.
        auth = basic(mock.account_sid, mock.auth_token)
        form = {"ServiceSid": mock.service_sid, "Channel": channel_json()}
        async with session.post(f"{mock.base_url}/v2/Transcripts", data=form, headers=auth) as r:
            sid = (await r.json())["sid"]
        async with session.get(f"{mock.base_url}/v2/Transcripts/{sid}/Media", headers=auth) as r:
            media_url = (await r.json())["media_url"]
        async with session.get(media_url) as r:
            assert r.status == 200
            assert r.content_type == "audio/wav"


async def test_without_a_token_loopback_needs_none() -> None:
    async with serve() as mock, aiohttp.ClientSession() as session:
        assert mock.control_token is None
        assert (await _get(session, f"{mock.base_url}/__mock__/"))[0] == 200


# --- item 7: the banner and the dev service -----------------------------------------------------------------------


def _exports(text: str) -> dict[str, str]:
    line = next(line for line in text.splitlines() if line.strip().startswith("export "))
    return dict(word.split("=", 1) for word in shlex.split(line.strip())[1:])


async def test_banner_has_copy_paste_exports_that_work() -> None:
    async with serve(seed=7) as mock, aiohttp.ClientSession() as session:
        text = banner(mock, seed=7)
        env = _exports(text)
        assert env == {
            "CINTEL_BASE_URL": mock.base_url,
            "TWILIO_ACCOUNT_SID": mock.account_sid,
            "TWILIO_AUTH_TOKEN": mock.auth_token,
            "CINTEL_SERVICE_SID": mock.service_sid,
        }
        assert f"{mock.base_url}/__mock__/" in text
        assert "WARNING" not in text
        auth = basic(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
        async with session.get(f"{env['CINTEL_BASE_URL']}/v2/Services/{env['CINTEL_SERVICE_SID']}", headers=auth) as r:
            assert r.status == 200
            assert (await r.json())["unique_name"] == "dev"


def test_banner_warns_off_loopback_and_names_the_token_headers() -> None:
    mock = RunningMock("http://127.0.0.1:8080", "AC" + "1" * 32, "t" * 32, None, "GA" + "2" * 32, TOKEN, "0.0.0.0")  # type: ignore[arg-type]
    text = banner(mock, seed=0)
    assert "WARNING: listening on 0.0.0.0, not loopback" in text
    assert "Authorization: Bearer" in text
    assert "X-Mock-Control-Token" in text
    assert TOKEN not in text  # the user chose it; it is not echoed into logs


async def test_reset_and_seed_bring_back_the_same_dev_service() -> None:
    async with serve(seed=3) as mock, aiohttp.ClientSession() as session:
        auth = basic(mock.account_sid, mock.auth_token)
        service_url = f"{mock.base_url}/v2/Services/{mock.service_sid}"
        async with session.post(service_url, data={"FriendlyName": "changed"}, headers=auth) as r:
            assert r.status == 200
        async with session.post(f"{mock.base_url}/__mock__/reset") as r:
            body = await r.json()
            assert (body["dev_account_sid"], body["dev_service_sid"]) == (mock.account_sid, mock.service_sid)
        async with session.get(service_url, headers=auth) as r:
            assert r.status == 200
            assert (await r.json())["friendly_name"] is None  # a fresh dev service, same SID
        async with session.post(f"{mock.base_url}/__mock__/seed", json={"seed": 3}) as r:
            assert (await r.json())["dev_service_sid"] == mock.service_sid
        assert mock.state.dev_service_sid == mock.service_sid


def test_python_m_mock_server_prints_the_banner_and_its_exports_work() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", "0", "--seed", "11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("Press Ctrl-C")):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        env = _exports("\n".join(lines))
        assert set(env) == {"CINTEL_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CINTEL_SERVICE_SID"}
        import httpx

        creds = (env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
        r = httpx.get(f"{env['CINTEL_BASE_URL']}/v2/Services/{env['CINTEL_SERVICE_SID']}", auth=creds, timeout=5)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
        proc.stdout.close() if proc.stdout else None


# --- item 4: slow clients are dropped -----------------------------------------------------------------------------


async def _drip_until_closed(port: int, head: bytes, *, drip: bytes, seconds: float) -> tuple[float | None, bytes]:
    """Send `head`, then one `drip` every 50 ms; return (when the server closed the connection, what it answered)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = b""
    try:
        writer.write(head)
        while loop.time() - start < seconds:
            try:
                writer.write(drip)
                await writer.drain()
                chunk = await asyncio.wait_for(reader.read(4096), 0.05)
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                return loop.time() - start, answered
            if not chunk:
                return loop.time() - start, answered
            answered += chunk
        return None, answered
    finally:
        writer.close()


async def test_many_slowloris_connections_are_all_dropped_after_the_read_timeout() -> None:
    async with serve(read_timeout_s=0.4) as mock:
        port = int(mock.base_url.rsplit(":", 1)[1])
        head = b"GET /v2/Services HTTP/1.1\r\nHost: x\r\nX-Slow: "
        results = await asyncio.gather(*(_drip_until_closed(port, head, drip=b"a", seconds=1.8) for _ in range(100)))
        closed_after = [t for t, _ in results]
        assert all(t is not None for t in closed_after), closed_after  # none held open
        assert max(t for t in closed_after if t is not None) < 1.5


@pytest.mark.parametrize("path", ["/v2/Transcripts", "/__mock__/accounts"])
async def test_a_body_that_never_finishes_is_answered_408_json_and_closed(path: str) -> None:
    async with serve(read_timeout_s=0.4) as mock:
        port = int(mock.base_url.rsplit(":", 1)[1])
        auth = basic(mock.account_sid, mock.auth_token)["Authorization"]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nServiceSid="
        ).encode()
        closed_after, answered = await _drip_until_closed(port, head, drip=b"", seconds=1.8)
        assert closed_after is not None
        assert closed_after < 1.5
        assert answered.startswith(b"HTTP/1.1 408"), answered[:200]
        assert b"application/json" in answered
        assert b'"code":20408' in answered
        assert mock.state.unexpected_errors == 0


async def test_exit_does_not_wait_for_a_request_held_by_latency() -> None:
    loop = asyncio.get_running_loop()
    async with serve(MockConfig.from_json({"latency_ms": 60_000})) as mock, aiohttp.ClientSession() as session:
        auth = basic(mock.account_sid, mock.auth_token)
        held = asyncio.ensure_future(session.get(f"{mock.base_url}/v2/Services", headers=auth))
        await asyncio.sleep(0.1)
        started = loop.time()
    assert loop.time() - started < mock_server._serve.SHUTDOWN_GRACE_S + 1.0
    with pytest.raises(aiohttp.ClientError):
        await held
