"""trio-websocket (on wsproto): trio only, no compression.

Broadcast (f): trio-websocket has no broadcast function; the server awaits
``send_message()`` on each open connection in turn.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

from .. import config, fanout
from .base import ClientConn, Implementation, check_compression


class TrioWebsocketConn:
    def __init__(self, ws: Any) -> None:
        self.send = ws.send_message
        self.recv = ws.get_message


class TrioWebsocket(Implementation):
    name = "trio-websocket"
    backend = "trio"
    distribution = "trio-websocket"
    requires = ("trio_websocket", "trio")

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import trio
        from trio_websocket import ConnectionClosed, serve_websocket

        check_compression(self, compression)

        async def echo(request: Any) -> None:
            ws = await request.accept()
            try:
                while True:
                    await ws.send_message(await ws.get_message())
            except ConnectionClosed:
                pass

        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(
                    serve_websocket, echo, host, 0, None, max_message_size=config.MAX_SIZE
                )
            )
            ready(server.port)

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import trio
        from trio_websocket import ConnectionClosed, serve_websocket

        check_compression(self, compression)
        room: fanout.Room[Any] = fanout.Room()

        async def send_round(request: str) -> None:
            for seq in await room.round(request):
                message = fanout.message(seq)
                for client in list(room.clients):
                    try:
                        await client.send_message(message)
                    except ConnectionClosed:
                        pass
                await trio.lowlevel.checkpoint()

        async def handler(request: Any) -> None:
            ws = await request.accept()
            room.clients.add(ws)
            try:
                while True:  # until it closes; only one client asks
                    await send_round(await ws.get_message())
            except ConnectionClosed:
                pass
            finally:
                room.clients.discard(ws)

        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve_websocket, handler, host, 0, None))
            ready(server.port)

    @contextlib.asynccontextmanager
    async def connect(
        self, host: str, port: int, *, compression: bool
    ) -> AsyncIterator[ClientConn]:
        from trio_websocket import open_websocket_url

        check_compression(self, compression)
        async with open_websocket_url(
            f"ws://{host}:{port}/", max_message_size=config.MAX_SIZE
        ) as ws:
            yield TrioWebsocketConn(ws)


IMPLEMENTATIONS = [TrioWebsocket()]
