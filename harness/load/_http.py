"""A minimal HTTP/1.1 client on asyncio protocols: the generator's hot path, where aiohttp's client was the cost.

Why: profiled with py-spy at 3,000 creates/s, aiohttp's client machinery (request and response objects, header
merging, payload writers, per-read timeout rescheduling) was ~60 % of the generator's CPU time, ~200 µs of CPU per
request in the open model. This client writes a request prepared as bytes to a pooled keep-alive connection and
parses the answer's status line, the few headers it needs (Content-Length, Transfer-Encoding, Connection,
Retry-After) and the body (by length, chunked, or until close). Over TLS (Twilio) it is the same code: asyncio
wraps the connection in SSL.

What it does not do, because the generator never needs it: redirects, compression (no Accept-Encoding is sent, so
the body comes as it is), cookies, proxies, 1xx answers other than to be skipped, pipelining.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """A request that got no usable answer; `kind` names why ("connect", "timeout", "connection lost", …)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


class _Connection(asyncio.Protocol):
    __slots__ = ("_answer", "_buffer", "_pool", "closed", "keep_alive", "transport")

    def __init__(self, pool: HttpPool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._answer: asyncio.Future[Answer] | None = None
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes, answer: asyncio.Future[Answer]) -> None:
        assert self.transport is not None
        self._answer = answer
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._answer is not None:
            self._parse(eof=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        if self._answer is not None and not self._answer.done():
            self._parse(eof=True)
            if not self._answer.done():
                self._answer.set_exception(HttpError("connection lost", str(exc or "closed by the server")))

    def _parse(self, eof: bool) -> None:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                self._fail("bad answer", "headers too long")
            return
        head = bytes(buffer[:end]).split(b"\r\n")
        try:
            status = int(head[0][9:12])
        except ValueError:
            self._fail("bad answer", f"status line {head[0][:40]!r}")
            return
        if 100 <= status < 200:  # an interim answer: skip it and read on
            del buffer[: end + 4]
            self._parse(eof)
            return
        length = -1
        chunked = False
        retry_after = None
        keep_alive = not head[0].startswith(b"HTTP/1.0")
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep_alive = b"close" not in value.lower() and (keep_alive or b"keep-alive" in value.lower())
            elif name == b"retry-after":
                retry_after = value.strip().decode("latin-1")
        start = end + 4
        if chunked:
            body, consumed = _dechunk(buffer, start)
            if body is None:
                return
        elif length >= 0:
            if len(buffer) < start + length:
                return
            body, consumed = bytes(buffer[start : start + length]), start + length
        else:  # no length: the body ends when the connection does
            if not eof:
                return
            body, consumed, keep_alive = bytes(buffer[start:]), len(buffer), False
        del buffer[:consumed]
        self.keep_alive = keep_alive
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_result(Answer(status, body, retry_after))

    def _fail(self, kind: str, detail: str) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(HttpError(kind, detail))
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes | None, int]:
    """(body, bytes consumed) of a complete chunked body at `start`, or (None, 0) while it is incomplete."""
    parts: list[bytes] = []
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None, 0
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", position - 2)
            if trailer_end < 0:
                return None, 0
            return b"".join(parts), trailer_end + 4
        if len(buffer) < position + size + 2:
            return None, 0
        parts.append(bytes(buffer[position : position + size]))
        position += size + 2


class HttpPool:
    """Keep-alive connections to one origin, at most `max_connections`; `request(data)` sends prepared bytes."""

    def __init__(self, base_url: str, *, max_connections: int = 256, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        default_port = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        self.host_header = parts.netloc.rsplit("@", 1)[-1] if not default_port else self.host
        self._ssl = ssl.create_default_context() if self.tls else None
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self._idle: collections.deque[_Connection] = collections.deque()
        self._open = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._all: set[_Connection] = set()

    def _forget(self, connection: _Connection) -> None:
        if connection in self._all:
            self._all.discard(connection)
            self._open -= 1
            self._wake()
        if connection in self._idle:
            self._idle.remove(connection)

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connection(self) -> _Connection:
        while True:
            while self._idle:
                connection = self._idle.pop()  # the most recently used: warm, least likely closed by the server
                if not connection.closed:
                    return connection
            if self._open < self.max_connections:
                self._open += 1
                loop = asyncio.get_running_loop()
                try:
                    _, protocol = await loop.create_connection(
                        lambda: _Connection(self), self.host, self.port, ssl=self._ssl,
                        server_hostname=self.host if self.tls else None,
                    )  # fmt: skip
                except BaseException as exc:
                    self._open -= 1
                    self._wake()
                    if isinstance(exc, OSError):
                        raise HttpError("connect", str(exc)) from None
                    raise
                self._all.add(protocol)
                return protocol
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter

    async def request(self, data: bytes) -> Answer:
        connection = await self._connection()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        timer = loop.call_later(self.timeout_s, _time_out, answer)
        try:
            connection.send(data, answer)
            result = await answer
        except BaseException:
            connection.keep_alive = False
            raise
        finally:
            timer.cancel()
            if connection.keep_alive and not connection.closed:
                self._idle.append(connection)
                self._wake()
            elif not connection.closed and connection.transport is not None:
                connection.transport.close()  # connection_lost will forget it
        return result

    def close(self) -> None:
        for connection in list(self._all):
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()


def _time_out(answer: asyncio.Future[Answer]) -> None:
    if not answer.done():
        answer.set_exception(HttpError("timeout"))
