"""trio-websocket (on wsproto): trio only, no compression."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

from .. import config
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
