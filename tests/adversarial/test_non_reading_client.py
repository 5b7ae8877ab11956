"""A client that never reads: the server's memory for it stays bounded by write_limit."""

from __future__ import annotations

import tracemalloc

import anyio
import pytest
from helpers import handshake_request

from anyio_ws import ConnectionClosed, ServerConnection

from .peer import TIMEOUT, RawPeer, check_echo, echo, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

KiB = 1024
WRITE_LIMIT = 32 * KiB
MESSAGE = b"x" * (64 * KiB)
BOUND = WRITE_LIMIT + 2 * len(MESSAGE) + 512 * KiB
"""What the whole process may grow by: the write buffer, a message being framed, and a
constant for the echo client, the sockets and the interpreter's own bookkeeping.
Measured (CPython 3.11, loopback): about 255 KiB on asyncio in debug mode and 96 KiB on
trio while stalled, after the handler had handed ~3.7 MiB to the kernel; 66 MiB with a
write_limit of 64 MiB, which is the failure this bound is here to catch."""


async def test_flooding_handler_with_a_client_that_never_reads():
    """The handler blocks in send() once write_limit is reached; memory stays bounded."""
    sent = 0
    stopped = anyio.Event()

    async def flood(ws: ServerConnection) -> None:
        """Send forever on /flood; echo elsewhere (the well-behaved client)."""
        nonlocal sent
        assert ws.request is not None
        if ws.request.path != "/flood":
            return await echo(ws)
        try:
            while True:
                await ws.send(MESSAGE)
                sent += 1
        except ConnectionClosed:
            stopped.set()
            raise

    async with serving(flood, write_limit=WRITE_LIMIT) as (server, tasks):
        await check_echo(server)  # one-time costs (buffers, caches) before measuring
        tracemalloc.start()
        try:
            baseline, _ = tracemalloc.get_traced_memory()
            async with RawPeer.connect(server.port) as peer:
                assert await peer.handshake(handshake_request("/flood")) == 101
                peer.buffer = b""  # the frames read with the 101 are this side's memory
                with anyio.fail_after(TIMEOUT):  # a handler never blocked would spin here
                    await anyio.wait_all_tasks_blocked()
                stalled_at = sent
                growth_stalled = tracemalloc.get_traced_memory()[0] - baseline
                await check_echo(server)  # others are served meanwhile
                growth_after_echo, peak = (m - baseline for m in tracemalloc.get_traced_memory())
                assert sent - stalled_at <= 2, "nothing read, so hardly anything more was sent"
                peer.reset()
        finally:
            tracemalloc.stop()
        with anyio.fail_after(TIMEOUT):
            await stopped.wait()
        await survived(server, tasks)
    assert sent >= 1
    assert growth_stalled < BOUND
    assert growth_after_echo < BOUND
    assert peak < BOUND
