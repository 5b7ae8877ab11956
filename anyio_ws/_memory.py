"""In-memory byte streams and a listener of them: a socket pair without sockets.

Built on anyio memory object streams, so they run on both backends and need no port.
They keep anyio's stream contract, which the connection layer relies on:

- ``receive()`` returns what the peer sent, never ``b""``; once the peer sent EOF
  (``send_eof()``) or closed, and everything was read, it raises ``EndOfStream``.
- ``send()`` after our own ``send_eof()`` or ``aclose()`` raises ``ClosedResourceError``;
  once the peer closed, ``BrokenResourceError`` (a reset, in TCP terms).
- ``aclose()`` wakes our own tasks waiting in ``send()``/``receive()`` with
  ``ClosedResourceError``, as closing a socket does.

``serve(listener=MemoryListener())`` and ``serve_stream()`` run a server over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.abc import ByteStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["MemoryByteStream", "MemoryListener", "memory_stream_pair"]

DEFAULT_BUFFER = 64
"""Writes (not bytes) buffered between the two ends before ``send()`` waits."""


class MemoryByteStream(ByteStream):
    """One end of an in-memory connection; make a pair with ``memory_stream_pair()``."""

    def __init__(
        self,
        send_stream: MemoryObjectSendStream[bytes],
        receive_stream: MemoryObjectReceiveStream[bytes],
    ) -> None:
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._pending = b""
        self._closed = False
        self._receiving = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        if self._closed:
            raise anyio.ClosedResourceError
        if self._receiving:
            raise anyio.BusyResourceError("reading from")
        if self._pending:
            await anyio.lowlevel.checkpoint()
        else:
            self._receiving = True
            try:
                self._pending = await self._receive_stream.receive()
            finally:
                self._receiving = False
        if len(self._pending) <= max_bytes:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    async def send(self, item: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        data = bytes(item)
        if data:  # an empty write sends nothing, as with a socket
            await self._send_stream.send(data)
        else:
            await anyio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """Half-close: the peer reads what was sent, then ``EndOfStream``."""
        if self._closed:
            raise anyio.ClosedResourceError
        await self._send_stream.aclose()

    async def aclose(self) -> None:
        self._closed = True
        self._pending = b""
        await self._send_stream.aclose()
        await self._receive_stream.aclose()


def memory_stream_pair(
    *, max_buffer_size: float = DEFAULT_BUFFER
) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two connected in-memory byte streams: what one sends, the other receives.

    ``max_buffer_size`` counts writes in flight in each direction (``math.inf``: no
    limit, ``0``: a write waits for the peer to read it).
    """
    a_send, b_receive = anyio.create_memory_object_stream[bytes](max_buffer_size)
    b_send, a_receive = anyio.create_memory_object_stream[bytes](max_buffer_size)
    return MemoryByteStream(a_send, a_receive), MemoryByteStream(b_send, b_receive)


class MemoryListener(anyio.abc.Listener[ByteStream]):
    """A listener of in-memory connections: ``connect()`` is the client's side.

    ::

        listener = MemoryListener()
        async with anyio_ws.serve(handler, listener=listener):
            stream = await listener.connect()  # a ByteStream to the server

    ``serve()`` raises ``ClosedResourceError`` once the listener is closed, as a
    socket listener does; ``connect()`` then raises ``ConnectionRefusedError``.
    """

    def __init__(self, *, max_buffer_size: float = DEFAULT_BUFFER) -> None:
        self.max_buffer_size = max_buffer_size
        self._incoming_send, self._incoming = anyio.create_memory_object_stream[MemoryByteStream](
            math.inf
        )

    async def connect(self) -> MemoryByteStream:
        """Open a connection; return its client end (the server end is accepted)."""
        client, server = memory_stream_pair(max_buffer_size=self.max_buffer_size)
        try:
            self._incoming_send.send_nowait(server)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            await client.aclose()
            await server.aclose()
            raise ConnectionRefusedError("the memory listener is closed") from None
        await anyio.lowlevel.checkpoint()
        return client

    async def serve(
        self,
        handler: Callable[[ByteStream], Any],
        task_group: anyio.abc.TaskGroup | None = None,
    ) -> None:
        async with AsyncExitStack() as stack:
            if task_group is None:
                task_group = await stack.enter_async_context(anyio.create_task_group())
            while True:
                try:
                    stream = await self._incoming.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                task_group.start_soon(handler, stream)
        raise anyio.ClosedResourceError

    async def aclose(self) -> None:
        """Stop accepting; connections not accepted yet are closed (their peer sees EOF)."""
        self._incoming_send.close()
        while True:
            try:
                stream = self._incoming.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            await stream.aclose()
        self._incoming.close()
