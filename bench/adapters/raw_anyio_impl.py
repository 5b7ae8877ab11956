"""The raw baseline: TCP echo on anyio streams, no WebSocket at all.

Server: every chunk received is sent back. Client: ``send()`` writes the message's
bytes, ``recv()`` reads until as many bytes came back. Closing is EOF in each
direction (the client sends EOF, the server closes on it, the client waits for that),
the counterpart of a WebSocket closing handshake. With the generator, a raw "message"
is the same payload bytes without a frame header; the opening "handshake" is the TCP
connect.

Broadcast (f): the floor of a fan-out on anyio streams. A round request is a line of
text; each message is written, as the unmasked WebSocket text frame a server would send
(built once per message), with ``await stream.send(frame)`` to each client in turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from .. import fanout
from .base import ClientConn, Implementation

RECEIVE_SIZE = 65536


class RawConn:
    def __init__(self, stream: object) -> None:
        self._stream = stream
        self._text = False
        self._expected = 0

    async def send(self, message: str | bytes) -> None:
        self._text = isinstance(message, str)
        data = message.encode() if isinstance(message, str) else message
        self._expected = len(data)
        await self._stream.send(data)  # type: ignore[attr-defined]

    async def recv(self) -> str | bytes:
        receive = self._stream.receive  # type: ignore[attr-defined]
        data = await receive(RECEIVE_SIZE)
        if len(data) < self._expected:
            chunks = [data]
            size = len(data)
            while size < self._expected:
                chunk = await receive(RECEIVE_SIZE)
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        return data.decode() if self._text else data  # type: ignore[no-any-return]


class RawAnyio(Implementation):
    distribution = "anyio"
    raw = True

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"raw-anyio-{backend}"
        self.requires = ("anyio", "trio") if backend == "trio" else ("anyio",)

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import anyio
        from anyio.abc import SocketAttribute, SocketStream

        async def echo(stream: SocketStream) -> None:
            async with stream:
                try:
                    while True:
                        await stream.send(await stream.receive(RECEIVE_SIZE))
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    pass

        listener = await anyio.create_tcp_listener(local_host=host, local_port=0)
        ready(listener.extra(SocketAttribute.local_port))
        await listener.serve(echo)

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import anyio.lowlevel
        from anyio.abc import SocketAttribute, SocketStream

        room: fanout.Room[SocketStream] = fanout.Room()
        gone = (anyio.BrokenResourceError, anyio.ClosedResourceError)

        async def send_round(request: bytes) -> None:
            for seq in await room.round(request):
                frame = fanout.frame(seq)
                for client in list(room.clients):
                    try:
                        await client.send(frame)
                    except gone:
                        pass
                await anyio.lowlevel.checkpoint()

        async def handler(stream: SocketStream) -> None:
            room.clients.add(stream)
            try:
                async with stream:
                    pending = b""
                    while True:  # until EOF; only one client asks
                        pending += await stream.receive(RECEIVE_SIZE)
                        while b"\n" in pending:
                            line, pending = pending.split(b"\n", 1)
                            await send_round(line)
            except (anyio.EndOfStream, *gone, OSError):
                pass
            finally:
                room.clients.discard(stream)

        listener = await anyio.create_tcp_listener(local_host=host, local_port=0)
        ready(listener.extra(SocketAttribute.local_port))
        await listener.serve(handler)

    @contextlib.asynccontextmanager
    async def connect(
        self, host: str, port: int, *, compression: bool
    ) -> AsyncIterator[ClientConn]:
        import anyio

        stream = await anyio.connect_tcp(host, port)
        async with stream:
            yield RawConn(stream)
            await stream.send_eof()
            with anyio.fail_after(10):
                try:
                    while await stream.receive(RECEIVE_SIZE):
                        pass
                except anyio.EndOfStream:
                    pass


IMPLEMENTATIONS = [RawAnyio("asyncio"), RawAnyio("trio")]
