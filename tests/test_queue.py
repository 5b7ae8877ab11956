"""The message queue between the reader task and recv(): order, bounds, drain, cancel."""

from __future__ import annotations

import anyio
import pytest

import anyio_ws
from anyio_ws._queue import MessageQueue, PartialMessage, QueueClosed


async def test_fifo_across_compaction() -> None:
    """Items come out in order, however the internal list is compacted."""
    queue: MessageQueue[int] = MessageQueue(None)
    expected = []
    produced = 0
    for burst in range(50):
        for _ in range(burst % 7 + 1):
            await queue.put(produced)
            produced += 1
        for _ in range(burst % 5):
            if len(queue):
                expected.append(await queue.get())
    while len(queue):
        expected.append(await queue.get())
    assert expected == list(range(produced))


async def test_put_waits_when_full_and_resumes_after_get() -> None:
    """A bounded put waits for room; an unbounded put (closing) does not."""
    queue: MessageQueue[str] = MessageQueue((2, 1))  # resumes with one item left
    await queue.put("a")
    await queue.put("b")
    done = anyio.Event()

    async def third() -> None:
        await queue.put("c")
        done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        assert await queue.get() == "a"
        await done.wait()
    await queue.put("d", bounded=False)
    assert [await queue.get() for _ in range(3)] == ["b", "c", "d"]


async def test_close_drains_then_raises() -> None:
    """After close(), get() returns what is left, then raises QueueClosed."""
    queue: MessageQueue[int] = MessageQueue(4)
    await queue.put(1)
    queue.close()
    assert await queue.get() == 1
    with pytest.raises(QueueClosed):
        await queue.get()


async def test_cancelled_get_loses_nothing() -> None:
    """Cancelling a waiting get() leaves later items for the next get()."""
    queue: MessageQueue[int] = MessageQueue(None)
    with anyio.move_on_after(0.01):
        await queue.get()
    await queue.put(7)
    assert await queue.get() == 7


async def test_unget_puts_an_item_back_at_the_head() -> None:
    """unget() returns a taken item to the front, before items queued after it."""
    queue: MessageQueue[int] = MessageQueue(None)
    for item in (1, 2, 3):
        await queue.put(item)
    first = await queue.get()
    queue.unget(first)
    assert [await queue.get() for _ in range(3)] == [1, 2, 3]
    await queue.put(4)
    queue.unget(await queue.get())  # the list was emptied and reset in between
    assert len(queue) == 1
    assert await queue.get() == 4


async def test_partial_message_joins_its_fragments_once_complete() -> None:
    """A PartialMessage collects fragments, then joins them as str or bytes."""
    text = PartialMessage(text=True)
    text.add("ab", False)
    assert not text.complete
    text.add("c", True)
    assert text.complete and text.joined() == "abc"
    binary = PartialMessage(text=False)
    binary.add(b"\x00", False)
    binary.add(b"\xff", True)
    assert binary.joined() == b"\x00\xff"


async def test_partial_message_hands_out_fragments_and_wakes_its_waiter() -> None:
    """take() returns fragments in order; wait() returns when the next one arrives."""
    partial = PartialMessage(text=False)
    partial.add(b"1", False)
    assert partial.take() == b"1"
    assert not partial.has_parts()
    async with anyio.create_task_group() as group:
        group.start_soon(partial.wait)
        await anyio.wait_all_tasks_blocked()
        partial.add(b"2", True)
    assert partial.take() == b"2"
    assert partial.complete and not partial.has_parts()


async def test_dropped_partial_message_keeps_nothing() -> None:
    """After drop(), arriving fragments are discarded but completion is still tracked."""
    partial = PartialMessage(text=True)
    partial.add("kept?", False)
    partial.drop()
    partial.add("x" * 1000, False)
    partial.add("end", True)
    assert not partial.has_parts()
    assert partial.complete


async def test_aborted_partial_message_wakes_its_waiter() -> None:
    """abort() (the connection ended mid-message) wakes a task waiting for fragments."""
    partial = PartialMessage(text=True)
    async with anyio.create_task_group() as group:
        group.start_soon(partial.wait)
        await anyio.wait_all_tasks_blocked()
        partial.abort()
    assert partial.aborted and not partial.complete


async def test_a_full_queue_takes_more_only_once_down_to_its_low_mark():
    """(high, low): a put waiting on a full queue goes on at ``low`` items, not before."""
    queue: MessageQueue[int] = MessageQueue((4, 1))
    for item in range(4):
        await queue.put(item)
    putting_done = anyio.Event()

    async def put_one() -> None:
        await queue.put(99)
        putting_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(put_one)
        for expected in range(3):  # 3, 2, then 1 left: the put waits until then
            await anyio.wait_all_tasks_blocked()
            assert not putting_done.is_set()
            assert await queue.get() == expected
        await putting_done.wait()
    assert len(queue) == 2


async def test_an_int_bound_resumes_at_a_quarter():
    queue: MessageQueue[int] = MessageQueue(8)
    assert (queue.max_size, queue._low) == (8, 2)


async def ignore(ws: anyio_ws.ServerConnection) -> None:
    """A handler for tests that only build a server."""


@pytest.mark.parametrize("value", [(16, 4), (None, None), 16, None])
async def test_max_queue_pairs_are_accepted_at_the_call(value):
    """An int, None, or a (high, low) pair of them is kept as given for the connections."""
    assert anyio_ws.connect("ws://127.0.0.1:1/", max_queue=value).max_queue == value
    assert anyio_ws.serve(ignore, "127.0.0.1", 0, max_queue=value).max_queue == value


@pytest.mark.parametrize("value", [(16,), (0, 1), "16", (16, 4, 1)])
async def test_bad_max_queue_raises_at_the_call(value):
    with pytest.raises((TypeError, ValueError)):
        anyio_ws.connect("ws://127.0.0.1:1/", max_queue=value)


async def test_drop_when_full_keeps_what_fits_and_releases_a_waiting_put() -> None:
    """Closing: a put waiting for room keeps its item; later ones that find it full are dropped."""
    queue: MessageQueue[int] = MessageQueue(2)
    assert await queue.put(1) and await queue.put(2)
    kept: list[bool] = []

    async def waiting_put() -> None:
        kept.append(await queue.put(3))

    async with anyio.create_task_group() as group:
        group.start_soon(waiting_put)
        await anyio.wait_all_tasks_blocked()
        assert kept == []
        queue.drop_when_full()
    assert kept == [True]  # read already when the close began
    assert await queue.put(4) is False
    assert [await queue.get() for _ in range(3)] == [1, 2, 3]
    assert await queue.put(5) is True  # room again: still kept for a reader


async def test_drop_all_drops_every_item() -> None:
    """Once nobody will read, nothing is queued any more."""
    queue: MessageQueue[int] = MessageQueue(None)
    assert await queue.put(1)
    queue.drop_all()
    assert await queue.put(2) is False
    assert len(queue) == 1
