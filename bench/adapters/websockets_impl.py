"""websockets: its asyncio API and (since 16) its trio API.

Broadcast (f): ``websockets.asyncio.server.broadcast()`` (synchronous: writes the frame
to every open connection) and ``websockets.trio.server.broadcast()`` (a coroutine: one
``send`` per connection, in a nursery), each over the set of open connections.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Callable
from typing import Any

from .. import config, fanout
from .base import ClientConn, Implementation


def _options(compression: bool) -> dict[str, Any]:
    return {"max_size": config.MAX_SIZE, "compression": "deflate" if compression else None}


async def _echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


class WebsocketsAsyncio(Implementation):
    name = "websockets-asyncio"
    backend = "asyncio"
    distribution = "websockets"
    requires = ("websockets",)

    def supports_compression(self) -> bool:
        return True

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        from websockets.asyncio.server import serve

        async with serve(_echo, host, 0, **_options(compression)) as server:
            ready(server.sockets[0].getsockname()[1])
            await server.serve_forever()

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import asyncio

        from websockets.asyncio.server import ServerConnection, broadcast, serve

        room: fanout.Room[ServerConnection] = fanout.Room()

        async def handler(ws: ServerConnection) -> None:
            room.clients.add(ws)
            try:
                async for request in ws:  # until it closes; only one client asks
                    for seq in await room.round(request):
                        broadcast(room.clients, fanout.message(seq))
                        await asyncio.sleep(0)
            finally:
                room.clients.discard(ws)

        async with serve(handler, host, 0, **_options(compression)) as server:
            ready(server.sockets[0].getsockname()[1])
            await server.serve_forever()

    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        from websockets.asyncio.client import connect

        return connect(f"ws://{host}:{port}/", **_options(compression))


class WebsocketsTrio(Implementation):
    name = "websockets-trio"
    backend = "trio"
    distribution = "websockets"
    requires = ("websockets", "trio")

    def supports_compression(self) -> bool:
        return True

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import trio
        from websockets.trio.server import serve

        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve, _echo, 0, host=host, **_options(compression))
            )
            ready(server.listeners[0].socket.getsockname()[1])

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import trio
        from websockets.trio.server import ServerConnection, broadcast, serve

        room: fanout.Room[ServerConnection] = fanout.Room()

        async def handler(ws: ServerConnection) -> None:
            room.clients.add(ws)
            try:
                async for request in ws:  # until it closes; only one client asks
                    for seq in await room.round(request):
                        await broadcast(room.clients, fanout.message(seq))
                        await trio.lowlevel.checkpoint()
            finally:
                room.clients.discard(ws)

        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve, handler, 0, host=host, **_options(compression))
            )
            ready(server.listeners[0].socket.getsockname()[1])

    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        from websockets.trio.client import connect

        return connect(f"ws://{host}:{port}/", **_options(compression))


def _has_trio_api() -> bool:
    """websockets has a trio API since version 16; not before."""
    try:
        return importlib.util.find_spec("websockets.trio") is not None
    except ImportError:
        return False


IMPLEMENTATIONS: list[Implementation] = [WebsocketsAsyncio()]
if _has_trio_api():
    IMPLEMENTATIONS.append(WebsocketsTrio())
