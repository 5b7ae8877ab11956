"""anyio_ws on asyncio and on trio: the same code, two backends.

Broadcast (f): ``anyio_ws.broadcast(connections, message)`` over the set of open
connections, which queues the message on each and returns. (fzs) is the same server
with ``serve(shared_compression=True)``: each message is compressed once for all.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

from .. import config, fanout
from .base import ClientConn, Implementation, Unsupported


def _compression_kwargs(factory: Any, compression: bool) -> dict[str, Any]:
    """``compression=`` if this anyio_ws takes it; else nothing (it cannot compress)."""
    if "compression" in inspect.signature(factory).parameters:
        return {"compression": "deflate" if compression else None}
    if compression:
        raise Unsupported("this anyio_ws has no compression= parameter yet")
    return {}


class AnyioWs(Implementation):
    distribution = "anyio-ws"
    no_compression_reason = "this anyio_ws has no compression= parameter yet"

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"anyio_ws-{backend}"
        self.requires = ("anyio_ws", "trio") if backend == "trio" else ("anyio_ws",)

    def supports_compression(self) -> bool:
        import anyio_ws

        return "compression" in inspect.signature(anyio_ws.serve).parameters

    def supports_shared_compression(self) -> bool:
        import anyio_ws

        return "shared_compression" in inspect.signature(anyio_ws.serve).parameters

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import anyio_ws

        async def echo(ws: anyio_ws.ServerConnection) -> None:
            async for message in ws:
                await ws.send(message)

        kwargs = _compression_kwargs(anyio_ws.serve, compression)
        async with anyio_ws.serve(echo, host, 0, max_size=config.MAX_SIZE, **kwargs) as server:
            ready(server.port)
            await server.serve_forever()

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import anyio_ws

        kwargs = _compression_kwargs(anyio_ws.serve, compression)
        await self._serve_fanout(host, kwargs, ready)

    async def serve_fanout_shared(self, host: str, *, ready: Callable[[int], None]) -> None:
        if not self.supports_shared_compression():
            raise Unsupported(self.no_shared_compression_reason)
        kwargs: dict[str, Any] = {"compression": "deflate", "shared_compression": True}
        await self._serve_fanout(host, kwargs, ready)

    async def _serve_fanout(
        self, host: str, kwargs: dict[str, Any], ready: Callable[[int], None]
    ) -> None:
        import anyio.lowlevel

        import anyio_ws

        room: fanout.Room[anyio_ws.ServerConnection] = fanout.Room()

        async def handler(ws: anyio_ws.ServerConnection) -> None:
            room.clients.add(ws)
            try:
                async for request in ws:  # until it closes; only one client asks
                    for seq in await room.round(request):
                        anyio_ws.broadcast(room.clients, fanout.message(seq))
                        await anyio.lowlevel.checkpoint()
            finally:
                room.clients.discard(ws)

        async with anyio_ws.serve(handler, host, 0, **kwargs) as server:
            ready(server.port)
            await server.serve_forever()

    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        import anyio_ws

        kwargs = _compression_kwargs(anyio_ws.connect, compression)
        return anyio_ws.connect(f"ws://{host}:{port}/", max_size=config.MAX_SIZE, **kwargs)


IMPLEMENTATIONS = [AnyioWs("asyncio"), AnyioWs("trio")]
