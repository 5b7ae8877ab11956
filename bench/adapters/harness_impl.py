"""The harness's own echo server, measured like a server under test.

Not a library: it is the fixed echo server of the client role (raw protocols on
uvloop). Driven by the generator it shows the ceiling of the harness, the most either
role can measure on this machine. Server role only; no ratios are computed against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .base import ClientConn, Implementation


class HarnessEcho(Implementation):
    name = "harness-echo"
    backend = "asyncio"
    distribution = "uvloop"
    requires = ("uvloop",)
    force_uvloop = True
    server_only = True

    def supports_compression(self) -> bool:
        return True

    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        import asyncio

        import anyio

        from ..echo_server import WebSocketEcho

        server = await asyncio.get_running_loop().create_server(WebSocketEcho, host, 0)
        async with server:
            ready(server.sockets[0].getsockname()[1])
            await anyio.sleep_forever()

    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        raise NotImplementedError("the harness echo server has no client")


IMPLEMENTATIONS = [HarnessEcho()]
