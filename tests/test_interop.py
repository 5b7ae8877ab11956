"""Interop with the ``websockets`` library, compression negotiated, on both backends.

On asyncio the peer is websockets' asyncio API, on trio its trio API: the same test
body, so each of our sides is checked against an independent implementation on each
backend. Also: the offer browsers send, ``permessage-deflate; client_max_window_bits``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

import anyio_ws
from anyio_ws.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)

pytestmark = pytest.mark.usefixtures("anyio_backend")

MESSAGES: list[str | bytes] = ["text " * 40, b"\x00\x01" * 40000, "", b""]


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


@asynccontextmanager
async def websockets_client(backend: str, uri: str) -> AsyncIterator[Any]:
    if backend == "asyncio":
        from websockets.asyncio.client import connect
    else:
        from websockets.trio.client import connect  # type: ignore[assignment]
    async with connect(uri) as ws:
        yield ws


@asynccontextmanager
async def websockets_server(backend: str) -> AsyncIterator[int]:
    """A websockets echo server with its default compression; yields its port."""
    if backend == "asyncio":
        from websockets.asyncio.server import serve

        async with serve(echo, "127.0.0.1", 0) as server:
            yield server.sockets[0].getsockname()[1]
        return
    from websockets.trio.server import serve as trio_serve

    async with anyio.create_task_group() as group:
        server = await group.start(functools.partial(trio_serve, echo, 0, host="127.0.0.1"))
        try:
            yield server.listeners[0].socket.getsockname()[1]
        finally:
            await server.aclose()


async def test_websockets_client_to_our_server(anyio_backend: tuple[str, Any]) -> None:
    """A websockets client negotiates permessage-deflate with our server and echoes."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with websockets_client(anyio_backend[0], uri) as ws:
            extensions = ws.response.headers["Sec-WebSocket-Extensions"]
            assert extensions.startswith("permessage-deflate")
            for message in MESSAGES:
                await ws.send(message)
                assert await ws.recv() == message


async def test_our_client_to_websockets_server(anyio_backend: tuple[str, Any]) -> None:
    """Our client negotiates permessage-deflate with a websockets server and echoes."""
    async with websockets_server(anyio_backend[0]) as port:
        async with anyio_ws.connect(f"ws://127.0.0.1:{port}/") as ws:
            assert ws.response is not None
            extensions = ws.response.headers["Sec-WebSocket-Extensions"]
            assert extensions.startswith("permessage-deflate")
            assert [type(e).__name__ for e in ws.protocol.extensions] == ["PerMessageDeflate"]
            for message in MESSAGES:
                await ws.send(message)
                assert await ws.recv() == message
        assert ws.close_code == 1000


async def test_browser_offer_is_accepted() -> None:
    """The offer a browser sends is accepted, with the server's 12-bit windows."""
    offer = [ClientPerMessageDeflateFactory(client_max_window_bits=True)]
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with anyio_ws.connect(uri, compression=None, extensions=offer) as ws:
            assert ws.request is not None and ws.response is not None
            sent = ws.request.headers["Sec-WebSocket-Extensions"]
            assert sent == "permessage-deflate; client_max_window_bits"
            answer = ws.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in answer and "client_max_window_bits=12" in answer
            await ws.send("compressible " * 1000)
            assert await ws.recv() == "compressible " * 1000


async def test_shared_compression_reaches_websockets_and_browser_offers_intact(
    anyio_backend: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With serve(shared_compression=True), one compressed frame goes to a websockets
    client, our client, and a browser's offer; each inflates the original exactly."""
    compressed: list[bytes] = []
    encode = PerMessageDeflate.encode

    def counted(self: PerMessageDeflate, data: bytes, *, first: bool, fin: bool) -> Any:
        compressed.append(data)
        return encode(self, data, first=first, fin=fin)

    monkeypatch.setattr(PerMessageDeflate, "encode", counted)
    ready = anyio.Event()
    connections: set[anyio_ws.ServerConnection] = set()

    async def register(ws: anyio_ws.ServerConnection) -> None:
        connections.add(ws)
        if len(connections) == 3:
            ready.set()
        await ws.wait_closed()

    messages: list[str | bytes] = [
        '{"symbol": "ACME", "price": 101.25, "volume": 1200}' * 30,
        bytes(range(256)) * 64,
        "",
    ]
    offer = [ClientPerMessageDeflateFactory(client_max_window_bits=True)]
    async with anyio_ws.serve(register, "127.0.0.1", 0, shared_compression=True) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with (
            websockets_client(anyio_backend[0], uri) as theirs,
            anyio_ws.connect(uri) as ours,
            anyio_ws.connect(uri, compression=None, extensions=offer) as browser_like,
        ):
            with anyio.fail_after(5):
                await ready.wait()
            for connection in connections:
                answer = connection.response.headers["Sec-WebSocket-Extensions"]
                assert "server_no_context_takeover" in answer
            for message in messages:
                anyio_ws.broadcast(connections, message)
            assert len(compressed) == len(messages)  # once each, not once per connection
            with anyio.fail_after(5):
                for client in (theirs, ours, browser_like):
                    assert [await client.recv() for _ in messages] == messages


def test_shared_compression_needs_compression() -> None:
    with pytest.raises(ValueError, match="shared_compression needs compression='deflate'"):
        anyio_ws.serve(echo, "127.0.0.1", 0, compression=None, shared_compression=True)
