"""The generator's HTTP/1.1 client against raw servers on loopback: every way an answer's body can end, keep-alive
reuse, a server that closes, timeouts, refused connections and malformed answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from harness.load._http import HttpError, HttpPool

GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


@asynccontextmanager
async def raw_server(
    answers: Callable[[int], bytes | None], *, close_after: bool = False
) -> AsyncIterator[tuple[str, list[int]]]:
    """Answers the n-th request (counted over all connections) with `answers(n)` bytes; None closes the connection,
    and so does every answer with `close_after`."""
    seen = [0]
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                seen[0] += 1
                reply = answers(seen[0])
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n", b"hello"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", b""),
    ],
    ids=["length", "chunked", "interim", "empty"],
)
async def test_bodies_end_where_the_answer_says_and_the_connection_is_reused(reply: bytes, body: bytes) -> None:
    async with raw_server(lambda n: reply) as (url, connections):
        pool = HttpPool(url)
        for _ in range(3):
            answer = await pool.request(GET)
            assert answer.body == body
        pool.close()
    assert len(connections) == 1


async def test_a_body_without_length_ends_with_the_connection_and_is_not_reused() -> None:
    async with raw_server(lambda n: b"HTTP/1.0 200 OK\r\n\r\nall of it", close_after=True) as (url, connections):
        pool = HttpPool(url, timeout_s=5)
        assert (await pool.request(GET)).body == b"all of it"
        assert (await pool.request(GET)).body == b"all of it"
        pool.close()
    assert len(connections) == 2


async def test_retry_after_and_connection_close_are_read() -> None:
    reply = b"HTTP/1.1 429 Too Many\r\nRetry-After: 2\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    async with raw_server(lambda n: reply) as (url, connections):
        pool = HttpPool(url)
        first = await pool.request(GET)
        second = await pool.request(GET)
        pool.close()
    assert (first.status, first.retry_after, second.status) == (429, "2", 429)
    assert len(connections) == 2


async def test_a_lost_connection_a_timeout_a_refusal_and_a_bad_answer_are_errors_by_kind() -> None:
    async with raw_server(lambda n: None) as (url, _):
        with pytest.raises(HttpError, match="connection lost"):
            await HttpPool(url).request(GET)
    async with raw_server(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort") as (url, _):
        with pytest.raises(HttpError, match="timeout"):
            await HttpPool(url, timeout_s=0.2).request(GET)
    async with raw_server(lambda n: b"garbage that is no status line\r\n\r\n") as (url, _):
        with pytest.raises(HttpError, match="bad answer"):
            await HttpPool(url).request(GET)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(HttpError) as refused:
        await HttpPool(f"http://127.0.0.1:{port}").request(GET)
    assert refused.value.kind == "connect"


async def test_at_most_max_connections_are_opened_and_the_rest_wait() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/x", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    pool = HttpPool(f"http://127.0.0.1:{port}", max_connections=3)
    try:
        answers = await asyncio.gather(*(pool.request(GET) for _ in range(12)))
        assert [a.body for a in answers] == [b"ok"] * 12
        assert pool._open == 3
    finally:
        pool.close()
        await runner.cleanup()
