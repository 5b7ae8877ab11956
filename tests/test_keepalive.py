"""Keepalive: pings every ping_interval, 1011 when a pong is ping_timeout late."""

from __future__ import annotations

import logging

import anyio
import pytest
from helpers import connection_pair

import anyio_ws
from anyio_ws import ConnectionClosedError, ServerConnection, State
from anyio_ws.core.events import CloseReceived, PingReceived

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def answer_until_closed(peer) -> None:  # type: ignore[no-untyped-def]
    """Read (and so answer pings) until the other side closes."""
    await peer.read_until_eof()


async def test_pings_answered_keep_the_connection_open_and_update_latency():
    async with connection_pair(ping_interval=0.02, ping_timeout=0.5) as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(answer_until_closed, peer)
            await anyio.sleep(0.3)  # many rounds
            assert ws.state is State.OPEN
            assert ws.latency > 0
            await ws.close()


async def test_a_late_pong_closes_with_1011_and_drops_the_transport(caplog):
    caplog.set_level(logging.INFO, logger="anyio_ws")
    async with connection_pair(ping_interval=0.02, ping_timeout=0.05, close_timeout=0.2) as (
        ws,
        peer,
    ):
        # The peer reads nothing: no pong, and no reply to the close frame either.
        with anyio.fail_after(5):
            await ws.wait_closed()
        events = await peer.read_until_eof()
    assert isinstance(events[0], PingReceived)
    closes = [event for event in events if isinstance(event, CloseReceived)]
    assert [(c.close.code, c.close.reason) for c in closes] == [(1011, "keepalive ping timeout")]
    assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1011
    with pytest.raises(ConnectionClosedError):
        await ws.recv()
    lines = [r for r in caplog.records if r.getMessage() == "keepalive ping timeout"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO


async def test_ping_timeout_none_sends_pings_without_waiting():
    async with connection_pair(ping_interval=0.02, ping_timeout=None, close_timeout=0.2) as (
        ws,
        peer,
    ):
        await anyio.sleep(0.15)  # nobody answers for several intervals
        assert ws.state is State.OPEN
        with anyio.fail_after(5):
            first = await peer.next_event()
            second = await peer.next_event()
        assert isinstance(first, PingReceived) and isinstance(second, PingReceived)
        await ws.close()


async def test_ping_interval_none_sends_no_ping():
    async with connection_pair(ping_interval=None, close_timeout=0.2) as (ws, peer):
        await anyio.sleep(0.1)
        await ws.close()
        events = await peer.read_until_eof()
    assert not any(isinstance(event, PingReceived) for event in events)


async def test_a_full_queue_stops_reading_pongs_so_keepalive_closes():
    """Documented: while max_queue unread messages wait, pongs wait too."""
    async with connection_pair(
        ping_interval=0.05, ping_timeout=0.1, close_timeout=0.2, max_queue=1
    ) as (ws, peer):
        async with anyio.create_task_group() as group:
            group.start_soon(answer_until_closed, peer)
            for n in range(3):  # the second fills the queue; the third is not read
                await peer.send_text(f"message {n}")
            with anyio.fail_after(5):
                await ws.wait_closed()
    assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1011
    # Every message read before the close is still delivered (the queued one and the one
    # the paused reader held); the third found the queue full once closing: dropped.
    assert [await ws.recv() for _ in range(2)] == ["message 0", "message 1"]
    with pytest.raises(ConnectionClosedError):
        await ws.recv()


async def test_serve_and_connect_keepalive_end_to_end():
    latencies: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        await anyio.sleep(0.2)
        latencies.append(ws.latency)

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ping_interval=0.02) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=0.02) as client:
            with anyio.fail_after(5):
                await client.wait_closed()
            assert client.latency > 0
    assert latencies and latencies[0] > 0


async def ignore(ws: anyio_ws.ServerConnection) -> None:
    """A handler for tests that only build a server."""


@pytest.mark.parametrize("value", [(1, 2), "big", (-1, None), True])
async def test_a_bad_write_limit_raises_at_the_call(value):
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.connect("ws://127.0.0.1:1/", write_limit=value)
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.serve(ignore, "127.0.0.1", 0, write_limit=value)


@pytest.mark.parametrize("option", ["ping_interval", "ping_timeout"])
@pytest.mark.parametrize("value", [0, -1, "20"])
async def test_a_bad_keepalive_setting_raises_at_the_call(option, value):
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.connect("ws://127.0.0.1:1/", **{option: value})
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.serve(ignore, "127.0.0.1", 0, **{option: value})
