"""A ping flood while a send() is stuck on this peer, which does not read.

Each ping asks for a pong, which waits for the send lock's holder (the stuck send).
The reader stops reading once replies wait, so what the flood makes the server hold is
bounded by one read (64 KiB of pings), instead of one pending pong per ping.
"""

from __future__ import annotations

import anyio
import pytest
from helpers import handshake_request

from anyio_ws import ConnectionClosed, ServerConnection
from anyio_ws.core.frames import Opcode, encode_frame

from .peer import MASK, TIMEOUT, RawPeer, echo, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

PINGS = 100_000
"""600 KB of empty pings: within the kernel's loopback buffers, so the peer's writes
complete whether or not the server reads them."""


async def test_ping_flood_while_a_send_is_stuck_holds_few_replies():
    """At most one read's worth of pongs waits, not one per ping."""
    stalled: list[ServerConnection] = []

    async def send_forever(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path != "/stall":
            return await echo(ws)
        stalled.append(ws)
        try:
            while True:
                await ws.send(b"x" * 65536)
        except ConnectionClosed:
            pass

    async with serving(send_forever, ping_interval=None) as (server, tasks):
        async with RawPeer.connect(server.port) as peer:
            assert await peer.handshake(handshake_request("/stall")) == 101
            with anyio.fail_after(TIMEOUT):  # the handler is stuck in send() once blocked
                await anyio.wait_all_tasks_blocked()
            await peer.send(encode_frame(Opcode.PING, b"", mask=MASK) * PINGS)
            for _ in range(20):  # let the reader take in what it will
                await anyio.wait_all_tasks_blocked()
            pending = len(stalled[0].protocol._output)
            peer.reset()
        await survived(server, tasks)
    # The reader stops once replies wait, so at most one read's worth of pings (64 KiB
    # of 6-byte pings) is answered into memory. Before: one pong per ping, ~PINGS.
    assert pending <= 65536 // 6 + 32, f"{pending} replies wait for the stuck send"
