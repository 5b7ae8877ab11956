"""Clients that hold the server's resources without playing their part: slowloris, idlers."""

from __future__ import annotations

import anyio
import pytest
from helpers import GONE, handshake_request

from .peer import RawPeer, check_echo, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def test_handshake_dripped_byte_by_byte_is_dropped_at_open_timeout():
    """A request sent a byte every 50 ms (7 s in all) is cut off at open_timeout (0.5 s)."""
    request = handshake_request()
    sent = 0

    async def drip(peer: RawPeer) -> None:
        nonlocal sent
        for byte in request:
            try:
                await peer.stream.send(bytes([byte]))
            except GONE:
                return
            sent += 1
            await anyio.sleep(0.05)  # the attack's pace, not a wait for an outcome

    async with serving(open_timeout=0.5) as (server, tasks):
        async with RawPeer.connect(server.port) as peer, anyio.create_task_group() as group:
            start = anyio.current_time()
            group.start_soon(drip, peer)
            answer = await peer.read_until_eof()
            elapsed = anyio.current_time() - start
            group.cancel_scope.cancel()
        assert answer == b"", "a timed-out handshake gets no answer"
        assert sent < len(request)
        assert elapsed >= 0.4
        await survived(server, tasks)


async def test_many_idle_sockets_do_not_stop_the_server():
    """100 sockets that send nothing (or half a request) are served around, then dropped."""
    count = 100
    dropped = 0
    connected = anyio.Event()
    opened = 0

    async def idle(port: int, first_bytes: bytes) -> None:
        nonlocal dropped, opened
        async with RawPeer.connect(port) as peer:
            if first_bytes:
                await peer.send(first_bytes)
            opened += 1
            if opened == count:
                connected.set()
            assert await peer.read_until_eof() == b""
            dropped += 1

    async with serving(open_timeout=2) as (server, tasks):
        async with anyio.create_task_group() as group:
            for i in range(count):
                group.start_soon(idle, server.port, handshake_request()[: 40 * (i % 2)])
            with anyio.fail_after(5):
                await connected.wait()
            await check_echo(server)
            assert dropped == 0, "the echo was served while every idle socket was still open"
        assert dropped == count
        await survived(server, tasks)
