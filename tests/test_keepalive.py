"""Keepalive: pings every ping_interval, 1011 when a pong is ping_timeout late."""

from __future__ import annotations

import logging

import anyio
import anyio.lowlevel
import pytest
from helpers import Peer, connection_pair

import anyio_ws
from anyio_ws import ConnectionClosedError, ServerConnection, State
from anyio_ws.connection import Connection
from anyio_ws.core.events import CloseReceived, Event, PingReceived

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def answer_until_closed(peer: Peer) -> None:
    """Read (and so answer pings) until the other side closes."""
    await peer.read_until_eof()


async def answer_pings(peer: Peer, count: int, *, after: float) -> list[float]:
    """Answer ``count`` pings, each ``after`` seconds after it arrives; return the arrivals."""
    arrivals: list[float] = []
    while len(arrivals) < count:
        peer.protocol.receive_data(await peer.stream.receive())
        for event in peer.protocol.events_received():
            assert isinstance(event, PingReceived)
            arrivals.append(anyio.current_time())
        await anyio.sleep(after)
        await peer.flush()
    return arrivals


@pytest.mark.fake_clock
class TestOnAFakeClock:
    """The keepalive logic, timed exactly: the clock jumps when every task waits."""

    async def test_pongs_within_ping_timeout_keep_the_connection_open_and_set_latency(self):
        """Each pong 0.4 s after its ping, ping_timeout 0.5: open after 10 rounds."""
        async with connection_pair(ping_interval=1, ping_timeout=0.5) as (ws, peer):
            start = anyio.current_time()
            arrivals = await answer_pings(peer, 10, after=0.4)
            assert ws.state is State.OPEN
            assert ws.latency == pytest.approx(0.4)
            # The first ping after ping_interval, each next one ping_interval after a pong.
            gaps = [b - a for a, b in zip([start, *arrivals[:-1]], arrivals, strict=True)]
            assert gaps == pytest.approx([1] + [1.4] * 9)
            async with anyio.create_task_group() as group:
                group.start_soon(answer_until_closed, peer)
                await ws.close()
            assert ws.close_code == 1000

    async def test_a_late_pong_closes_with_1011_and_drops_the_transport(self, caplog):
        """No pong within ping_timeout: close 1011, and drop a silent peer after close_timeout."""
        caplog.set_level(logging.INFO, logger="anyio_ws")
        async with connection_pair(ping_interval=1, ping_timeout=0.5, close_timeout=2) as (
            ws,
            peer,
        ):
            start = anyio.current_time()
            # The peer reads nothing: no pong, and no reply to the close frame either.
            with anyio.fail_after(60):
                await ws.wait_closed()
            # The ping at 1, no pong by 1.5: close; no answer by 3.5: transport dropped.
            assert anyio.current_time() - start == pytest.approx(3.5)
            events = await peer.read_until_eof()
        assert isinstance(events[0], PingReceived)
        closes = [(e.close.code, e.close.reason) for e in events if isinstance(e, CloseReceived)]
        assert closes == [(1011, "keepalive ping timeout")]
        assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1011
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        lines = [r for r in caplog.records if r.getMessage() == "keepalive ping timeout"]
        assert len(lines) == 1 and lines[0].levelno == logging.INFO

    async def test_a_pong_just_after_ping_timeout_is_too_late(self):
        """A pong 0.6 s after its ping, ping_timeout 0.5: the close frame is already out."""
        events: list[Event] = []

        async def answer_late_then_read(peer: Peer) -> None:
            await answer_pings(peer, 1, after=0.6)
            events.extend(await peer.read_until_eof())

        async with connection_pair(ping_interval=1, ping_timeout=0.5, close_timeout=2) as (
            ws,
            peer,
        ):
            start = anyio.current_time()
            async with anyio.create_task_group() as group:
                group.start_soon(answer_late_then_read, peer)
                with anyio.fail_after(60):  # had the pong counted, nothing would close
                    await ws.wait_closed()
            # Closed when the peer answered the close frame, right after its late pong.
            assert anyio.current_time() - start == pytest.approx(1.6)
        assert [(e.close.code, e.close.reason) for e in events if isinstance(e, CloseReceived)] == [
            (1011, "keepalive ping timeout")
        ]
        assert not any(isinstance(e, PingReceived) for e in events)

    async def test_ping_timeout_none_sends_pings_without_waiting(self):
        """With ping_timeout=None, unanswered pings go every ping_interval; nothing closes."""
        async with connection_pair(ping_interval=1, ping_timeout=None, close_timeout=2) as (
            ws,
            peer,
        ):
            await anyio.sleep(7.5)  # on the fake clock: 7 intervals, nobody answers
            assert ws.state is State.OPEN
            async with anyio.create_task_group() as group:
                group.start_soon(ws.close)
                events = await peer.read_until_eof()
        assert [type(event) for event in events] == [PingReceived] * 7 + [CloseReceived]

    async def test_ping_interval_none_sends_no_ping(self):
        """With ping_interval=None, an hour passes without a ping."""
        async with connection_pair(ping_interval=None, close_timeout=2) as (ws, peer):
            await anyio.sleep(3600)  # on the fake clock
            async with anyio.create_task_group() as group:
                group.start_soon(ws.close)
                events = await peer.read_until_eof()
        assert [type(event) for event in events] == [CloseReceived]

    async def test_a_full_queue_stops_reading_pongs_so_keepalive_closes(self):
        """Documented: while max_queue unread messages wait, pongs wait too."""
        async with connection_pair(
            ping_interval=1, ping_timeout=0.5, close_timeout=2, max_queue=1
        ) as (ws, peer):
            start = anyio.current_time()
            async with anyio.create_task_group() as group:
                group.start_soon(answer_until_closed, peer)
                for n in range(3):  # the second fills the queue; the third is not read
                    await peer.send_text(f"message {n}")
                with anyio.fail_after(60):
                    await ws.wait_closed()
            # The peer answered the ping at 1 at once, but the pong was never read.
            assert anyio.current_time() - start == pytest.approx(1.5)
        assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1011
        # Every message read before the close is still delivered (the queued one and the one
        # the paused reader held); the third found the queue full once closing: dropped.
        assert [await ws.recv() for _ in range(2)] == ["message 0", "message 1"]
        with pytest.raises(ConnectionClosedError):
            await ws.recv()


async def latency_measured(ws: Connection) -> float:
    """Wait until ``ws`` has had a pong (polled: no event marks it); return the latency."""
    with anyio.fail_after(5):
        while ws.latency == 0:  # noqa: ASYNC110 (a plain attribute, no event to wait on)
            await anyio.sleep(0.01)
    return ws.latency


async def test_serve_and_connect_keepalive_end_to_end():
    """Over TCP (on the real clock), serve() and connect() both ping and measure latency."""
    latencies: list[float] = []
    client_measured = anyio.Event()

    async def handler(ws: ServerConnection) -> None:
        latencies.append(await latency_measured(ws))
        await client_measured.wait()  # returning would close the connection

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ping_interval=0.02) as server:
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=0.02) as client:
            assert await latency_measured(client) > 0
            client_measured.set()
            with anyio.fail_after(5):
                await client.wait_closed()
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


async def test_a_zero_interval_keepalive_still_lets_other_tasks_run():
    """Entries a visit reschedules at once wait for the next pass: the task yields."""
    from anyio_ws._pings import Keepalive, PongWaiter

    keepalive = Keepalive(interval=0, timeout=None)
    pinged: list[float] = []

    def ping() -> PongWaiter:
        pinged.append(anyio.current_time())
        return PongWaiter(None, b"", 0.0)  # type: ignore[arg-type]

    keepalive.add(ping, lambda: None)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    with anyio.move_on_after(0.05):
        async with anyio.create_task_group() as group:
            group.start_soon(keepalive.run)
            group.start_soon(tick)
    assert ticks > 10 and len(pinged) > 10


async def test_two_pings_with_one_payload_at_once_one_is_refused_none_hangs():
    """Both pass the first check while another writer holds the lock; the second is
    refused under the lock instead of replacing the first one's waiter."""
    async with connection_pair(ping_interval=None) as (ws, peer):
        outcomes: list[object] = []

        async def ping() -> None:
            try:
                outcomes.append(await ws.ping(b"same"))
            except anyio_ws.ConcurrencyError as exc:
                outcomes.append(exc)

        lock = ws._sender.lock  # another writer (a send stuck on a slow peer, say)
        await lock.acquire()
        async with anyio.create_task_group() as group:
            group.start_soon(ping)
            group.start_soon(ping)
            await anyio.wait_all_tasks_blocked()
            assert outcomes == []  # both passed the first check and wait for the lock
            lock.release()
        waiters = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, anyio_ws.ConcurrencyError)]
        assert len(waiters) == 1 and len(refused) == 1
        with anyio.fail_after(5):
            assert await peer.next_event() == PingReceived(b"same")  # one ping on the wire
            await waiters[0]  # type: ignore[misc]  # its pong resolves the one waiter
        async with anyio.create_task_group() as group:
            group.start_soon(answer_until_closed, peer)
            await ws.close()
