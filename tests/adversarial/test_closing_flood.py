"""A peer that never answers the server's close frame and floods it with messages.

Once the server has sent its close frame, what still arrives is kept only while it fits
in the queue (and a reader may take it), then dropped: memory stays within
``max_queue × max_size`` plus a constant until ``close_timeout``, not the whole flood.
"""

from __future__ import annotations

import tracemalloc

import anyio
import pytest
from helpers import handshake_request

from anyio_ws import ServerConnection
from anyio_ws.core.frames import Opcode, encode_frame

from .peer import MASK, TIMEOUT, RawPeer, check_echo, echo, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

MiB = 1024 * 1024
FLOOD = 40
"""Messages of 1 MiB the peer sends after the server's close frame: far more than the
kernel's socket buffers hold, so the server must have read most of them."""


async def flood_then_close(port: int) -> None:
    async with RawPeer.connect(port) as peer:
        assert await peer.handshake(handshake_request("/flood")) == 101
        frame = encode_frame(Opcode.BINARY, b"x" * MiB, mask=MASK)
        for _ in range(FLOOD):
            await peer.send(frame)
        await peer.send_frame(Opcode.CLOSE, b"\x03\xe8")
        with anyio.fail_after(TIMEOUT):
            await peer.read_until_eof()


async def peak_growth_during_flood(port: int) -> int:
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        await flood_then_close(port)
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


async def test_flood_after_the_handler_returned_is_dropped():
    """The handler is over (close 1000 sent): nothing that arrives is queued any more."""

    async def returns_at_once(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path != "/flood":
            await echo(ws)

    async with serving(returns_at_once, close_timeout=30) as (server, tasks):
        await check_echo(server)
        growth = await peak_growth_during_flood(server.port)
        await survived(server, tasks)
    # Before: every message was queued (~FLOOD MiB). Now: one message being parsed.
    assert growth < 6 * MiB, f"the server grew by {growth / MiB:.1f} MiB"


async def test_flood_while_closing_keeps_the_queue_bound():
    """The handler still runs but does not read while closing: the queue keeps its bound."""
    max_queue = 4
    kept: list[int] = []
    done = anyio.Event()

    async def closes_then_reads(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path != "/flood":
            return await echo(ws)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ws.close)
                await ws.wait_closed()  # the whole flood went by meanwhile
            kept.append(len([message async for message in ws]))
        finally:
            done.set()

    async with serving(closes_then_reads, max_queue=max_queue) as (server, tasks):
        await check_echo(server)
        growth = await peak_growth_during_flood(server.port)
        with anyio.fail_after(TIMEOUT):
            await done.wait()
        await survived(server, tasks)
    # Queued: max_queue messages (and the one a paused reader held, if it was paused
    # when the close began); the rest dropped. Before: all FLOOD of them.
    assert len(kept) == 1 and max_queue <= kept[0] <= max_queue + 1
    # Those, one message being parsed and the peer's own frame: about 7 MiB. Before:
    # the whole flood (~FLOOD MiB).
    assert growth < (max_queue + 5) * MiB, f"the server grew by {growth / MiB:.1f} MiB"
