"""The message queue between the reader task and recv(): order, bounds, drain, cancel."""

from __future__ import annotations

import anyio
import pytest

from anyio_ws._queue import MessageQueue, QueueClosed


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
    queue: MessageQueue[str] = MessageQueue(2)
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


async def test_close_drains_then_raises_and_reports_once() -> None:
    """After close(), get() returns what is left, then raises; drained is reported once."""
    drained: list[bool] = []
    queue: MessageQueue[int] = MessageQueue(4, lambda: drained.append(True))
    await queue.put(1)
    queue.close()
    assert drained == []
    assert await queue.get() == 1
    assert drained == [True]
    with pytest.raises(QueueClosed):
        await queue.get()
    assert drained == [True]


async def test_cancelled_get_loses_nothing() -> None:
    """Cancelling a waiting get() leaves later items for the next get()."""
    queue: MessageQueue[int] = MessageQueue(None)
    with anyio.move_on_after(0.01):
        await queue.get()
    await queue.put(7)
    assert await queue.get() == 7
