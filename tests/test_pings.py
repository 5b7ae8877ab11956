"""Keepalive on its own: one task pings many connections on time, and lets go of the
ones that are over. Timed exactly on a fake clock."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest

from anyio_ws._pings import Keepalive, PongWaiter

pytestmark = [pytest.mark.usefixtures("anyio_backend"), pytest.mark.fake_clock]


class FakeConnection:
    """Records when it is pinged; answers each ping after ``answer_after`` (or never)."""

    def __init__(self, answer_after: float | None = 0.0) -> None:
        self.answer_after = answer_after
        self.pinged_at: list[float] = []
        self.timed_out_at: list[float] = []
        self.open = True
        self.answers: list[tuple[float, PongWaiter]] = []

    def ping(self) -> PongWaiter | None:
        if not self.open:
            return None
        now = anyio.current_time()
        self.pinged_at.append(now)
        waiter = PongWaiter(None, b"", now)  # type: ignore[arg-type]  # never awaited here
        if self.answer_after is not None:
            self.answers.append((now + self.answer_after, waiter))
        return waiter

    def timed_out(self) -> None:
        self.timed_out_at.append(anyio.current_time())


async def answer_pongs(connections: list[FakeConnection], until: float) -> None:
    """Resolve each waiter when its answer is due (polled every 10 ms of fake time)."""
    while anyio.current_time() < until:
        now = anyio.current_time()
        for connection in connections:
            for due, waiter in list(connection.answers):
                if due <= now:
                    waiter._resolve(due)
                    connection.answers.remove((due, waiter))
        await anyio.sleep(0.01)


async def run_for(keepalive: Keepalive, connections: list[FakeConnection], seconds: float) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(keepalive.run)
        await answer_pongs(connections, anyio.current_time() + seconds)
        group.cancel_scope.cancel()


async def test_each_connection_is_pinged_interval_after_its_last_pong() -> None:
    keepalive = Keepalive(interval=1, timeout=0.5)
    start = anyio.current_time()
    early, late = FakeConnection(answer_after=0.2), FakeConnection(answer_after=0.4)
    keepalive.add(early.ping, early.timed_out)
    await anyio.sleep(0.3)
    keepalive.add(late.ping, late.timed_out)
    await run_for(keepalive, [early, late], 5)
    assert [t - start for t in early.pinged_at] == pytest.approx([1, 2.2, 3.4, 4.6], abs=0.02)
    assert [t - start for t in late.pinged_at] == pytest.approx([1.3, 2.7, 4.1], abs=0.02)
    assert early.timed_out_at == late.timed_out_at == []


async def test_a_missing_pong_times_out_once_at_ping_timeout() -> None:
    keepalive = Keepalive(interval=1, timeout=0.5)
    start = anyio.current_time()
    silent, answering = FakeConnection(answer_after=None), FakeConnection(answer_after=0.1)
    keepalive.add(silent.ping, silent.timed_out)
    keepalive.add(answering.ping, answering.timed_out)
    await run_for(keepalive, [silent, answering], 4)
    assert [t - start for t in silent.pinged_at] == pytest.approx([1])
    assert [t - start for t in silent.timed_out_at] == pytest.approx([1.5])
    assert len(answering.pinged_at) == 3 and answering.timed_out_at == []


async def test_a_short_interval_with_a_long_timeout_still_pings_on_time() -> None:
    keepalive = Keepalive(interval=0.2, timeout=10)
    start = anyio.current_time()
    connection = FakeConnection(answer_after=0.05)
    keepalive.add(connection.ping, connection.timed_out)
    await run_for(keepalive, [connection], 1)
    assert [t - start for t in connection.pinged_at] == pytest.approx(
        [0.2, 0.45, 0.7, 0.95], abs=0.02
    )


async def test_without_timeout_pings_go_every_interval_unanswered() -> None:
    keepalive = Keepalive(interval=1, timeout=None)
    start = anyio.current_time()
    connection = FakeConnection(answer_after=None)
    keepalive.add(connection.ping, connection.timed_out)
    await run_for(keepalive, [connection], 3.5)
    assert [t - start for t in connection.pinged_at] == pytest.approx([1, 2, 3])
    assert connection.timed_out_at == []


async def test_a_closing_connection_is_not_pinged_again() -> None:
    keepalive = Keepalive(interval=1, timeout=0.5)
    connection = FakeConnection()
    keepalive.add(connection.ping, connection.timed_out)
    connection.open = False  # ping() answers None: closing
    await run_for(keepalive, [connection], 3)
    assert connection.pinged_at == [] and connection.timed_out_at == []


async def test_a_cancelled_ticket_lets_go_of_its_connection_at_once() -> None:
    """A connection that is over is not kept alive by its place in the heap."""
    keepalive = Keepalive(interval=20, timeout=20)
    connection = FakeConnection()
    gone = weakref.ref(connection)
    ticket = keepalive.add(connection.ping, connection.timed_out)
    ticket.cancel()
    del connection
    gc.collect()
    assert gone() is None
    await run_for(keepalive, [], 25)  # the stale ticket is dropped when due


async def test_a_connection_added_to_an_idle_keepalive_wakes_it() -> None:
    """With nothing to ping the task sleeps for ever; a new connection wakes it."""
    keepalive = Keepalive(interval=1, timeout=5)
    fresh = FakeConnection(answer_after=0)
    async with anyio.create_task_group() as group:
        group.start_soon(keepalive.run)
        await anyio.sleep(3)
        added = anyio.current_time()
        keepalive.add(fresh.ping, fresh.timed_out)
        await answer_pongs([fresh], added + 1.5)
        group.cancel_scope.cancel()
    assert [t - added for t in fresh.pinged_at] == pytest.approx([1], abs=0.02)


async def test_a_failing_ping_is_logged_and_stops_only_that_connection(caplog) -> None:
    """One connection's bug neither ends the shared keepalive nor escapes its task."""
    keepalive = Keepalive(interval=1, timeout=0.5)
    start = anyio.current_time()
    healthy = FakeConnection(answer_after=0.1)
    pinged_broken: list[float] = []

    def broken_ping() -> PongWaiter | None:
        pinged_broken.append(anyio.current_time())
        raise RuntimeError("bug")

    keepalive.add(broken_ping, healthy.timed_out)
    keepalive.add(healthy.ping, healthy.timed_out)
    await run_for(keepalive, [healthy], 3.5)
    assert [t - start for t in pinged_broken] == pytest.approx([1])  # not retried
    assert len(healthy.pinged_at) == 3 and healthy.timed_out_at == []
    assert "keepalive failed for a connection" in caplog.text
