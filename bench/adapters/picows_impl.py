"""picows: Cython WebSocket frames on asyncio, with a callback (listener) API.

picows has no ``recv()``: the client listener hands each data frame to the one waiting
``recv()`` future (or a small queue), which is how a request/response client is written
with it. No compression support.

Broadcast (f): picows has no broadcast function; its ``transport.send()`` is
synchronous, so the server calls it for each open connection in turn. The listener
starts a task for each round, to yield to the loop between two messages.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

from .. import config, fanout
from .base import ClientConn, Implementation, check_compression

CLOSE_TIMEOUT = 10.0


@functools.cache
def _listener_classes() -> tuple[type, type]:
    from picows import WSListener, WSMsgType, WSTransport

    text, binary, close = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE

    class EchoListener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            kind = frame.msg_type
            if kind is text or kind is binary:
                transport.send(kind, frame.get_payload_as_memoryview())
            elif kind is close:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    class ClientListener(WSListener):
        def __init__(self) -> None:
            self.waiter: asyncio.Future[Any] | None = None
            self.queue: collections.deque[Any] = collections.deque()
            self.gone = False

        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            kind = frame.msg_type
            if kind is text:
                data: Any = frame.get_payload_as_utf8_text()
            elif kind is binary:
                data = frame.get_payload_as_bytes()
            else:
                if kind is close:
                    transport.disconnect()
                return
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(data)
            else:
                self.queue.append(data)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            self.gone = True
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionError("picows connection lost"))

    return EchoListener, ClientListener


def _fanout_listener(room: fanout.Room[Any]) -> Callable[[], Any]:
    """A listener factory for the broadcast server: every listener shares ``room``."""
    from picows import WSListener, WSMsgType, WSTransport

    text, close = WSMsgType.TEXT, WSMsgType.CLOSE
    rounds: set[asyncio.Task[None]] = set()

    async def send_round(request: str) -> None:
        for seq in await room.round(request):
            payload = fanout.message(seq).encode()
            for transport in room.clients:
                transport.send(text, payload)
            await asyncio.sleep(0)

    class FanoutListener(WSListener):
        def on_ws_connected(self, transport: WSTransport) -> None:
            room.clients.add(transport)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            room.clients.discard(transport)

        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            if frame.msg_type is text:  # a round request: only one client asks
                task = asyncio.get_running_loop().create_task(
                    send_round(frame.get_payload_as_ascii_text())
                )
                rounds.add(task)
                task.add_done_callback(rounds.discard)
            elif frame.msg_type is close:
                room.clients.discard(transport)
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    return FanoutListener


class PicowsConn:
    def __init__(self, transport: Any, listener: Any) -> None:
        from picows import WSMsgType

        self._transport = transport
        self._listener = listener
        self._text = WSMsgType.TEXT
        self._binary = WSMsgType.BINARY

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self._transport.send(self._text, message.encode())
        else:
            self._transport.send(self._binary, message)

    async def recv(self) -> Any:
        listener = self._listener
        if listener.queue:
            return listener.queue.popleft()
        if listener.gone:
            raise ConnectionError("picows connection lost")
        listener.waiter = asyncio.get_running_loop().create_future()
        try:
            return await listener.waiter
        finally:
            listener.waiter = None


class Picows(Implementation):
    name = "picows"
    backend = "asyncio"
    distribution = "picows"
    requires = ("picows",)

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import anyio
        from picows import ws_create_server

        check_compression(self, compression)
        echo_listener, _ = _listener_classes()
        server = await ws_create_server(
            lambda request: echo_listener(), host, 0, max_frame_size=config.MAX_SIZE
        )
        try:
            ready(server.sockets[0].getsockname()[1])
            await anyio.sleep_forever()
        finally:
            server.close()

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import anyio
        from picows import ws_create_server

        check_compression(self, compression)
        listener = _fanout_listener(fanout.Room())
        server = await ws_create_server(lambda request: listener(), host, 0)
        try:
            ready(server.sockets[0].getsockname()[1])
            await anyio.sleep_forever()
        finally:
            server.close()

    @contextlib.asynccontextmanager
    async def connect(
        self, host: str, port: int, *, compression: bool
    ) -> AsyncIterator[ClientConn]:
        from picows import WSCloseCode, ws_connect

        check_compression(self, compression)
        _, client_listener = _listener_classes()
        transport, listener = await ws_connect(
            client_listener, f"ws://{host}:{port}/", max_frame_size=config.MAX_SIZE
        )
        try:
            yield PicowsConn(transport, listener)
        finally:
            transport.send_close(WSCloseCode.OK)
            try:
                await asyncio.wait_for(transport.wait_disconnected(), CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                transport.disconnect(graceful=False)


IMPLEMENTATIONS = [Picows()]
