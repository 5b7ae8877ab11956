"""Clients that vanish at the worst moments: resets and half frames, by the hundred."""

from __future__ import annotations

import logging

import anyio
import pytest
from helpers import GONE, handshake_request, is_a_problem

from anyio_ws.core.frames import Opcode, encode_frame

from .peer import MASK, RawPeer, serving, survived

pytestmark = pytest.mark.usefixtures("anyio_backend")

HALF_FRAME = encode_frame(Opcode.BINARY, b"y" * 1000, mask=MASK)[:500]


async def vanish(port: int, how: int) -> None:
    """One client that leaves abruptly, in one of five ways."""
    async with RawPeer.connect(port) as peer:
        try:
            if how == 0:  # half a request, then a reset
                await peer.send(handshake_request()[:50])
            elif how == 1:  # a whole request, reset before reading the answer
                await peer.send(handshake_request())
            else:
                assert await peer.handshake() == 101
                if how >= 3:  # half a frame, then a reset (3) or a plain close (4)
                    await peer.send(HALF_FRAME)
        except GONE:
            pass
        if how != 4:
            peer.reset()


async def test_hundreds_of_clients_that_reset_or_vanish_mid_frame(
    caplog: pytest.LogCaptureFixture,
):
    """200 clients reset or close mid-handshake or mid-frame: no error, no leak, serving on."""
    caplog.set_level(logging.INFO, logger="anyio_ws")
    limiter = anyio.CapacityLimiter(20)

    async def one(port: int, how: int) -> None:
        async with limiter:
            await vanish(port, how)

    async with serving() as (server, tasks):
        async with anyio.create_task_group() as group:
            for i in range(200):
                group.start_soon(one, server.port, i % 5)
        await survived(server, tasks)
    assert not [record for record in caplog.records if is_a_problem(record)]
