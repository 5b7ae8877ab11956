"""Plain helpers for the I/O tests: in-memory byte streams, a bare-protocol peer, raw TCP."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from anyio.abc import ByteStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

import anyio_ws
from anyio_ws.connection import Connection
from anyio_ws.core.events import Event
from anyio_ws.core.handshake import accept_key
from anyio_ws.core.protocol import Protocol, Side

GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)
"""What a raw stream raises once the other end is gone."""


# ------------------------------------------------------------ in-memory streams


class MemoryByteStream(ByteStream):
    """One end of an in-memory byte pipe that behaves like a socket.

    ``send`` cuts the data into pieces of ``chunk_size`` bytes with a checkpoint
    between them, as a socket does with partial writes: writers that do not hold a
    lock would interleave their bytes here. With ``buffer=0`` a write waits until the
    other end reads, which is how a full TCP window looks. As with a socket, closing
    the stream makes a ``send`` or ``receive`` waiting in another task fail.
    """

    def __init__(
        self,
        send_stream: MemoryObjectSendStream[bytes],
        receive_stream: MemoryObjectReceiveStream[bytes],
        chunk_size: int,
    ) -> None:
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._chunk_size = chunk_size
        self._pending = b""
        self._closed = False
        self._waiting: set[anyio.CancelScope] = set()

    async def _interruptible(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        if self._closed:
            raise anyio.ClosedResourceError
        with anyio.CancelScope() as scope:
            self._waiting.add(scope)
            try:
                return await operation()
            finally:
                self._waiting.discard(scope)
        raise anyio.ClosedResourceError

    async def send(self, item: bytes) -> None:
        data = bytes(item)

        async def write() -> None:
            for start in range(0, len(data), self._chunk_size):
                await self._send_stream.send(data[start : start + self._chunk_size])

        await self._interruptible(write)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._pending:
            self._pending = await self._interruptible(self._receive_stream.receive)
        data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    async def send_eof(self) -> None:
        await self._send_stream.aclose()

    async def aclose(self) -> None:
        self._closed = True
        for scope in self._waiting:
            scope.cancel()
        await self._send_stream.aclose()
        await self._receive_stream.aclose()

    async def close_reading(self) -> None:
        """Stop reading: the other end's writes now fail (a reset, in TCP terms)."""
        await self._receive_stream.aclose()


def memory_stream_pair(
    *,
    buffer: float = 0,
    chunk_size: int = 16384,
    first: type[MemoryByteStream] = MemoryByteStream,
) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two connected in-memory byte streams; the first of class ``first`` (a subclass
    that fails on cue, say)."""
    a_send, b_receive = anyio.create_memory_object_stream[bytes](buffer)
    b_send, a_receive = anyio.create_memory_object_stream[bytes](buffer)
    return (
        first(a_send, a_receive, chunk_size),
        MemoryByteStream(b_send, b_receive, chunk_size),
    )


# ----------------------------------------------------------- a bare-protocol peer


class Peer:
    """The far end of a connection, driven by a bare sans-I/O ``Protocol``.

    It answers pings and close frames only when ``next_event()`` reads; between two
    calls it reads nothing at all.
    """

    def __init__(self, stream: MemoryByteStream, side: Side = Side.CLIENT) -> None:
        self.stream = stream
        self.protocol = Protocol(side, max_size=None)
        self._events: deque[Event] = deque()
        self.eof = False

    async def flush(self) -> None:
        """Write what the protocol queued; ``b""`` is a half-close."""
        for chunk in self.protocol.data_to_send():
            if chunk:
                await self.stream.send(chunk)
            else:
                await self.stream.send_eof()

    async def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        await self.flush()

    async def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        await self.flush()

    async def send_ping(self, data: bytes) -> None:
        self.protocol.send_ping(data)
        await self.flush()

    async def send_close(self, code: int = 1000, reason: str = "") -> None:
        self.protocol.send_close(code, reason)
        await self.flush()

    async def next_event(self) -> Event:
        """Read until the protocol has an event; replies are written on the way."""
        while not self._events:
            if self.eof:
                raise anyio.EndOfStream
            try:
                data = await self.stream.receive()
            except anyio.EndOfStream:
                self.eof = True
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            self._events.extend(self.protocol.events_received())
            try:
                await self.flush()
            except GONE:
                pass
        return self._events.popleft()

    async def read_until_eof(self) -> list[Event]:
        """Read everything until the other end closes its side; return the events."""
        events = []
        while True:
            try:
                events.append(await self.next_event())
            except anyio.EndOfStream:
                return events


@asynccontextmanager
async def connection_pair(
    *,
    side: Side = Side.SERVER,
    buffer: float = float("inf"),
    chunk_size: int = 16384,
    trailing_data: bytes = b"",
    max_size: int | None = None,
    **options: Any,
) -> AsyncIterator[tuple[Connection, Peer]]:
    """A running ``Connection`` on ``side``, and a ``Peer`` on the other side."""
    ours, theirs = memory_stream_pair(buffer=buffer, chunk_size=chunk_size)
    protocol = Protocol(side, max_size=max_size, trailing_data=trailing_data)
    connection = Connection(ours, protocol, **options)
    peer_side = Side.CLIENT if side is Side.SERVER else Side.SERVER
    peer = Peer(theirs, peer_side)
    async with anyio.create_task_group() as group:
        connection.start(group)
        try:
            yield connection, peer
        finally:
            await theirs.aclose()
            with anyio.fail_after(5):
                await connection.wait_closed()


# ------------------------------------------------------------------- raw TCP


async def read_http_head(stream: ByteStream) -> tuple[bytes, bytes]:
    """Read an HTTP head; return it (without the blank line) and the bytes after it."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive()
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


async def read_until_eof(stream: ByteStream) -> bytes:
    """Read everything until the peer closes (a reset counts as closing)."""
    data = b""
    while True:
        try:
            data += await stream.receive()
        except GONE:
            return data


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` over a plain TCP connection; return all that comes back."""
    with anyio.fail_after(5):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(request)
            return await read_until_eof(stream)


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response."""
    return int(response.split(b" ", 2)[1])


def headers_of(head: bytes) -> dict[str, str]:
    """The headers of a raw HTTP head, names lowercased (last one wins)."""
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


KEY = "dGhlIHNhbXBsZSBub25jZQ=="
"""The sample ``Sec-WebSocket-Key`` of RFC 6455."""


def handshake_request(
    path: str = "/", *, key: str = KEY, version: str = "13", extra: str = ""
) -> bytes:
    """A valid opening handshake request, written out as bytes."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: {version}\r\n"
        f"{extra}"
        "\r\n"
    ).encode()


def switching_response(key: str, *, accept: str | None = None) -> bytes:
    """A 101 answer to a request with ``key`` (``accept`` overrides the computed value)."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept if accept is not None else accept_key(key)}\r\n"
        "\r\n"
    ).encode()


@asynccontextmanager
async def raw_server(
    handle: Callable[[anyio.abc.SocketStream], Awaitable[None]],
) -> AsyncIterator[int]:
    """Serve each TCP connection on 127.0.0.1 with ``handle``; yield the port."""

    async def run(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                await handle(stream)
            except GONE:
                pass

    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as group,
    ):
        group.start_soon(listener.serve, run)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        group.cancel_scope.cancel()


@asynccontextmanager
async def client_of_a_waiting_handler() -> AsyncIterator[
    tuple[anyio_ws.Server, anyio_ws.ClientConnection]
]:
    """Serve on 127.0.0.1 with a handler that waits until its connection is closed;
    yield ``(server, client)`` once that handler runs, for tests of server shutdown."""
    entered = anyio.Event()

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        entered.set()
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await entered.wait()
            yield server, ws


def is_slow_step_note(record: logging.LogRecord) -> bool:
    """asyncio's debug-mode warning that one step of a task took over 100 ms.

    A loaded machine (pytest-xdist workers, other jobs) produces it with no bug anywhere:
    the one record a test that wants no warning at all must not count.
    """
    return record.name == "asyncio" and record.msg == "Executing %s took %.3f seconds"


def is_a_problem(record: logging.LogRecord) -> bool:
    """A warning of ours, or an error from anyone (asyncio included).

    asyncio's own warnings are left out: in debug mode it warns about any callback
    slower than 100 ms, which a loaded machine produces with no bug anywhere.
    """
    if record.levelno >= logging.ERROR or record.exc_info:
        return True
    return record.levelno >= logging.WARNING and record.name.startswith("anyio_ws")
