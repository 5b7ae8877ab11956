"""aiohttp: server (``web.WebSocketResponse``) and client (``ClientSession.ws_connect``).

Broadcast (f): aiohttp has no broadcast function; the server awaits ``send_str()`` on
each open connection in turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from .. import config, fanout
from .base import ClientConn, Implementation


class AiohttpConn:
    """``send``/``recv`` over aiohttp's typed methods."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            await self._ws.send_str(message)
        else:
            await self._ws.send_bytes(message)

    async def recv(self) -> str | bytes:
        import aiohttp

        msg = await self._ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT or msg.type is aiohttp.WSMsgType.BINARY:
            return msg.data  # type: ignore[no-any-return]
        raise ConnectionError(f"aiohttp received {msg.type!r}")


async def _run_app(handler: Any, host: str, ready: Callable[[int], None]) -> None:
    """Serve ``handler`` at ``/`` on ``host`` and a free port until cancelled."""
    import anyio
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        ready(runner.addresses[0][1])
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


class Aiohttp(Implementation):
    name = "aiohttp"
    backend = "asyncio"
    distribution = "aiohttp"
    requires = ("aiohttp",)

    def __init__(self) -> None:
        self._session: Any = None

    def supports_compression(self) -> bool:
        return True

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        from aiohttp import WSMsgType, web

        async def echo(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(max_msg_size=config.MAX_SIZE, compress=compression)
            await ws.prepare(request)
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await ws.send_str(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
            return ws

        await _run_app(echo, host, ready)

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import asyncio

        from aiohttp import WSMsgType, web

        room: fanout.Room[web.WebSocketResponse] = fanout.Room()

        async def send_round(request: str) -> None:
            for seq in await room.round(request):
                message = fanout.message(seq)
                for client in list(room.clients):
                    try:
                        await client.send_str(message)
                    except ConnectionError:
                        pass
                await asyncio.sleep(0)

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=compression)
            await ws.prepare(request)
            room.clients.add(ws)
            try:
                async for msg in ws:  # until it closes; only one client asks
                    if msg.type is WSMsgType.TEXT:
                        await send_round(msg.data)
            finally:
                room.clients.discard(ws)
            return ws

        await _run_app(handler, host, ready)

    @contextlib.asynccontextmanager
    async def client_scope(self) -> AsyncIterator[None]:
        import aiohttp

        # One session per program, as aiohttp recommends. Its connector's default limit
        # (100 connections) would hold back workload (e): lifted.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            self._session = session
            yield

    @contextlib.asynccontextmanager
    async def connect(
        self, host: str, port: int, *, compression: bool
    ) -> AsyncIterator[ClientConn]:
        assert self._session is not None, "connect() outside client_scope()"
        async with self._session.ws_connect(
            f"ws://{host}:{port}/", max_msg_size=config.MAX_SIZE, compress=15 if compression else 0
        ) as ws:
            yield AiohttpConn(ws)


IMPLEMENTATIONS = [Aiohttp()]
