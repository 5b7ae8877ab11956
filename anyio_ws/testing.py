"""Test your handlers without a socket: a server and clients joined by in-memory streams.

In the spirit of aiohttp's test client, for your own application's tests, on asyncio
and trio alike::

    from anyio_ws.testing import connect_in_memory

    async def test_echo():
        async with connect_in_memory(echo, "/chat") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"

Everything else is real: the opening handshake (with your ``process_request``,
``origins``, subprotocols...), the framing, the closing handshake and the handler's
scope. Only the transport is a pair of in-memory byte streams, so no port is used
and nothing can get in the way. Several clients can share one server with
``serve_in_memory()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._memory import MemoryListener
from .client import ClientConnection, connect
from .server import Handler, Server, serve

__all__ = ["InMemoryServer", "connect_in_memory", "serve_in_memory"]

HOST = "testserver"
"""The host name clients put in their URI (and ``Host`` header)."""


class InMemoryServer:
    """A running server whose listener is in memory; ``connect()`` opens clients to it.

    ``server`` is the ``Server`` (``connections``, ``close()``...).
    """

    def __init__(self, server: Server, listener: MemoryListener) -> None:
        self.server = server
        self._listener = listener

    @asynccontextmanager
    async def connect(self, path: str = "/", **options: Any) -> AsyncIterator[ClientConnection]:
        """Open a client to ``path`` with ``connect()``'s options; close it on exit."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must be a string starting with '/', not {path!r}")
        stream = await self._listener.connect()
        async with connect(f"ws://{HOST}{path}", stream=stream, **options) as ws:
            yield ws


@asynccontextmanager
async def serve_in_memory(handler: Handler, **options: Any) -> AsyncIterator[InMemoryServer]:
    """Run ``handler`` as ``serve()`` does (same options), listening in memory.

    Leaving the block shuts the server down as leaving ``serve()`` does.
    """
    for name in ("host", "port", "sock", "listener", "reuse_port"):
        if name in options:
            raise TypeError(f"serve_in_memory() has no {name!r} option: it listens in memory")
    listener = MemoryListener()
    async with serve(handler, listener=listener, **options) as server:
        yield InMemoryServer(server, listener)


@asynccontextmanager
async def connect_in_memory(
    handler: Handler,
    path: str = "/",
    *,
    server_options: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[ClientConnection]:
    """One client talking to ``handler`` in memory: the shortest way to test a handler.

    ``server_options`` go to ``serve()``, the other keyword arguments to ``connect()``.
    """
    async with (
        serve_in_memory(handler, **(server_options or {})) as server,
        server.connect(path, **options) as ws,
    ):
        yield ws
