"""A peer's fragments are bounded at the connection: count (1009) and memory (issue 13).

A bare ``Peer`` writes raw frames to a server ``Connection`` over an in-memory stream;
a ping after the frames proves they were all read (the pong comes back behind them).
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from anyio_ws import ConnectionClosedError
from anyio_ws.core.events import CloseReceived, PongReceived
from anyio_ws.core.frames import Opcode, encode_frame
from tests.helpers import Peer, connection_pair

pytestmark = pytest.mark.usefixtures("anyio_backend")

MASK = bytes.fromhex("a1b2c3d4")


def to_server(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked frame, as a client writes it."""
    return encode_frame(opcode, payload, fin=fin, mask=MASK)


def held_by_anyio_ws() -> int:
    """Bytes traced as allocated by anyio_ws's own code (not the loop, logs or tests)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/anyio_ws/*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def pong(peer: Peer) -> None:
    """Ping and wait for the pong: everything written before the ping has been read."""
    await peer.send_ping(b"sync")
    while not isinstance(await peer.next_event(), PongReceived):
        pass


async def test_empty_fragment_flood_is_closed_with_1009() -> None:
    """Empty continuations beyond max_size // 16 frames close with 1009 'too many fragments'."""
    async with connection_pair(max_size=2**16) as (ws, peer):  # at most 4096 frames
        data = to_server(Opcode.TEXT, b"a", fin=False)
        data += to_server(Opcode.CONT, b"", fin=False) * 10_000
        await peer.stream.send(data + to_server(Opcode.CONT, b"b"))
        await peer.send_ping(b"still open?")  # a pong would mean the flood went through
        event = await peer.next_event()
        while not isinstance(event, (CloseReceived, PongReceived)):
            event = await peer.next_event()
        assert isinstance(event, CloseReceived)
        assert event.close.code == 1009
        assert "too many fragments" in event.close.reason
        await peer.read_until_eof()
        await peer.stream.aclose()
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.sent is not None
        assert info.value.sent.code == 1009


async def test_tiny_fragments_cost_about_their_size_in_the_queue() -> None:
    """An unread message in 2-byte fragments holds about its size, not ~20x."""
    size = 2**15
    async with connection_pair(max_size=None) as (ws, peer):
        # Warm up first: asyncio's debug mode caches source lines on first use.
        await peer.stream.send(to_server(Opcode.BINARY, b"a", fin=False) + to_server(0, b"b"))
        assert await ws.recv() == b"ab"
        await pong(peer)
        gc.collect()
        tracemalloc.start()
        try:
            before = held_by_anyio_ws()
            data = to_server(Opcode.BINARY, b"ab", fin=False)
            data += to_server(Opcode.CONT, b"ab", fin=False) * (size // 2 - 1)
            await peer.stream.send(data)
            del data
            await pong(peer)
            held = held_by_anyio_ws() - before
        finally:
            tracemalloc.stop()
        assert held <= 1.25 * size + 16384  # the message, plus bookkeeping
        await peer.stream.send(to_server(Opcode.CONT, b""))
        assert await ws.recv() == b"ab" * (size // 2)


async def test_streaming_reader_gets_every_byte_in_order() -> None:
    """Fragments a streaming reader has not taken yet may be joined; nothing is lost."""
    async with connection_pair(max_size=2**20) as (ws, peer):
        data = to_server(Opcode.TEXT, b"0", fin=False)
        digits = (b"%d" % (i % 10) for i in range(1, 5000))
        data += b"".join(to_server(Opcode.CONT, digit, fin=False) for digit in digits)
        await peer.stream.send(data)
        await pong(peer)
        stream = ws.recv_streaming()
        first = await stream.__anext__()
        await peer.stream.send(to_server(Opcode.CONT, "€".encode()))
        rest = [fragment async for fragment in stream]
        assert len(rest) < 64  # 32 kept apart, the rest joined
        assert first + "".join(rest) == "".join(str(i % 10) for i in range(5000)) + "€"
