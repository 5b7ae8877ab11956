"""A hostile client over raw TCP, and the checks every attack ends with.

``RawPeer`` writes whatever bytes an attack needs (a hand-built handshake, frames with
any opcode, RSV bits, mask or length, half a frame) and reads the server's answer
byte-exactly: the HTTP status of a rejected handshake, or the server's frames and its
close code. Its frame reader is written here rather than borrowed from the core, so that
a server bug in framing cannot hide behind the same bug in the reader.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
from helpers import GONE, handshake_request

import anyio_ws
from anyio_ws import Server, ServerConnection
from anyio_ws.core.frames import encode_frame

MASK = bytes.fromhex("5ca1ab1e")
"""The mask key of the frames a ``RawPeer`` sends, unless told otherwise."""

TIMEOUT = 5
"""Seconds any single step of an attack may take before the test fails."""


@dataclass(frozen=True)
class RawFrame:
    """A frame as the server wrote it."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The code of a close frame (``None`` for an empty one)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class RawPeer:
    """One TCP connection to the server, driven byte by byte by the test."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    @asynccontextmanager
    async def connect(cls, port: int) -> AsyncIterator[RawPeer]:
        """Open a connection to ``127.0.0.1:port``; closed on exit."""
        with anyio.fail_after(TIMEOUT):
            stream = await anyio.connect_tcp("127.0.0.1", port)
        async with stream:
            yield cls(stream)

    # ------------------------------------------------------------------ writing

    async def send(self, data: bytes) -> None:
        """Write raw bytes."""
        with anyio.fail_after(TIMEOUT):
            await self.stream.send(data)

    async def send_frame(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
        mask: bytes | None = MASK,
    ) -> None:
        """Write one frame, masked with ``mask`` (``None``: unmasked, a violation)."""
        await self.send(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    async def handshake(self, request: bytes | None = None) -> int:
        """Send an opening handshake (a valid one by default); return the status.

        Bytes behind the response head (the server's first frames) stay buffered.
        """
        await self.send(handshake_request() if request is None else request)
        return status_line_code(await self.read_head())

    def reset(self) -> None:
        """Make the close that follows a TCP reset (``SO_LINGER`` 0) instead of a FIN."""
        sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # ------------------------------------------------------------------ reading

    async def _fill(self, size: int) -> None:
        """Read until ``size`` bytes are buffered; ``EndOfStream`` if the server left."""
        with anyio.fail_after(TIMEOUT):
            while len(self.buffer) < size:
                try:
                    self.buffer += await self.stream.receive()
                except GONE:
                    raise anyio.EndOfStream from None

    async def _take(self, size: int) -> bytes:
        await self._fill(size)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    async def read_head(self) -> bytes:
        """Read an HTTP response head (without the blank line)."""
        with anyio.fail_after(TIMEOUT):
            while b"\r\n\r\n" not in self.buffer:
                try:
                    self.buffer += await self.stream.receive()
                except GONE:
                    raise anyio.EndOfStream from None
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    async def read_frame(self) -> RawFrame:
        """Read one frame the server sent."""
        first, second = await self._take(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self._take(2), "big")
        elif length == 127:
            length = int.from_bytes(await self._take(8), "big")
        masked = bool(second & 0x80)
        if masked:
            await self._take(4)  # a server must not mask; the test looks at ``masked``
        payload = await self._take(length)
        return RawFrame(bool(first & 0x80), first & 0x70, first & 0x0F, masked, payload)

    async def read_close(self) -> RawFrame:
        """Skip data and control frames until the server's close frame; return it."""
        while True:
            frame = await self.read_frame()
            if frame.opcode == 0x8:
                return frame

    async def read_until_eof(self) -> bytes:
        """Read until the server closes the TCP connection (a reset counts)."""
        data, self.buffer = self.buffer, b""
        with anyio.fail_after(TIMEOUT):
            while True:
                try:
                    data += await self.stream.receive()
                except GONE:
                    return data


def status_line_code(head: bytes) -> int:
    """The status code of an HTTP response head."""
    return int(head.split(b" ", 2)[1])


# ------------------------------------------------------------------ the server side


async def echo(ws: ServerConnection) -> None:
    """Echo every message back."""
    async for message in ws:
        await ws.send(message)


async def check_echo(server: Server) -> None:
    """A well-behaved client still gets its message echoed."""
    with anyio.fail_after(TIMEOUT):
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("still serving?")
            assert await ws.recv() == "still serving?"


def task_count() -> int:
    """How many tasks run in this event loop (this test's and the server's)."""
    return len(anyio.get_running_tasks())


async def wait_until_idle(server: Server, tasks: int) -> None:
    """Wait (bounded) until no connection is open and only ``tasks`` tasks remain.

    ``tasks`` is the count taken while the server was idle, before the attack: any
    task above it is a handshake or connection task the attack left behind.
    """
    with anyio.fail_after(TIMEOUT):
        while server.connections or task_count() > tasks:
            await anyio.wait_all_tasks_blocked()


@asynccontextmanager
async def serving(
    handler: Callable[[ServerConnection], Awaitable[None]] = echo, **options: Any
) -> AsyncIterator[tuple[Server, int]]:
    """Serve ``handler`` on 127.0.0.1 (port 0, no compression unless asked).

    Yields the server and the task count while it is idle, for ``wait_until_idle``.
    """
    options.setdefault("compression", None)
    async with anyio_ws.serve(handler, "127.0.0.1", 0, **options) as server:
        await anyio.wait_all_tasks_blocked()
        yield server, task_count()


async def survived(server: Server, tasks: int) -> None:
    """The end of every attack: the server serves a normal client and leaked nothing."""
    await check_echo(server)
    await wait_until_idle(server, tasks)
