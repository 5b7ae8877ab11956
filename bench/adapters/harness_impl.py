"""The harness's own echo server, measured like a server under test.

Not a library: it is the fixed echo server of the client role (raw protocols on
uvloop). Driven by the generator it shows the ceiling of the harness, the most either
role can measure on this machine. Server role only; no ratios are computed against it.

Broadcast (f): the same raw protocols, writing each message's frame (built once) to
every client's transport; no (fz), as this server does not compress.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .. import fanout
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

    def fanout_unsupported(self, compression: bool) -> str | None:
        return "the harness's server does not compress" if compression else None

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        import asyncio

        import anyio

        from .. import wsframes
        from ..echo_server import WebSocketEcho

        loop = asyncio.get_running_loop()
        room: fanout.Room[asyncio.Transport] = fanout.Room()
        rounds: set[asyncio.Task[None]] = set()

        async def send_round(request: bytes) -> None:
            for seq in await room.round(request):
                frame = fanout.frame(seq)
                for transport in room.clients:
                    transport.write(frame)
                await asyncio.sleep(0)

        class FanoutClient(WebSocketEcho):
            """The echo server's handshake; then a text message asks for a round."""

            def _handshake(self) -> None:
                super()._handshake()
                if self.open:
                    assert self.transport is not None
                    room.clients.add(self.transport)
                    self.parser = wsframes.FrameParser()

            def _echo_frames(self) -> None:
                assert self.transport is not None
                self.parser.feed(bytes(self.buffer))
                self.buffer.clear()
                while (f := self.parser.next_frame()) is not None:
                    if f.opcode == wsframes.OP_TEXT:
                        task = loop.create_task(send_round(f.payload))
                        rounds.add(task)
                        task.add_done_callback(rounds.discard)
                    elif f.opcode == wsframes.OP_CLOSE:
                        room.clients.discard(self.transport)
                        self.transport.write(wsframes.frame(wsframes.OP_CLOSE, f.payload))
                        self.transport.close()
                        return

            def connection_lost(self, exc: Exception | None) -> None:
                room.clients.discard(self.transport)

        server = await loop.create_server(FanoutClient, host, 0, backlog=4096)
        async with server:
            ready(server.sockets[0].getsockname()[1])
            await anyio.sleep_forever()

    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        raise NotImplementedError("the harness echo server has no client")


IMPLEMENTATIONS = [HarnessEcho()]
