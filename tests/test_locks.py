"""The send lock and the closed flag: FIFO hand-off, cancellation, no cost until waited on."""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
import pytest

from anyio_ws._locks import Flag, SendLock, new_event

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def test_an_uncontended_acquire_neither_yields_nor_allocates_a_queue() -> None:
    lock = SendLock()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await lock.acquire()  # would raise at a checkpoint
    assert lock.locked()
    assert lock._waiters is None
    lock.release()
    assert not lock.locked()


async def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    lock = SendLock()
    order: list[int] = []

    async def take(number: int) -> None:
        async with lock:
            order.append(number)
            await anyio.lowlevel.checkpoint()

    await lock.acquire()
    async with anyio.create_task_group() as group:
        for number in range(5):
            group.start_soon(take, number)
            await anyio.wait_all_tasks_blocked()
        lock.release()
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked()


async def test_the_holder_hands_the_lock_on_so_a_newcomer_cannot_overtake() -> None:
    lock = SendLock()
    order: list[str] = []

    async def waiter() -> None:
        async with lock:
            order.append("waiter")

    await lock.acquire()
    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        lock.release()
        assert lock.locked()  # already the waiter's, before it even ran
        async with lock:
            order.append("newcomer")
    assert order == ["waiter", "newcomer"]


async def test_a_waiter_cancelled_before_its_turn_leaves_the_queue() -> None:
    lock = SendLock()
    await lock.acquire()
    async with anyio.create_task_group() as group:
        group.start_soon(lock.acquire)
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert lock._waiters is not None and not lock._waiters
    lock.release()
    assert not lock.locked()


async def test_cancelling_a_waiter_just_handed_the_lock_never_leaks_it() -> None:
    """Whether the cancelled waiter still runs (the wake-up came first) or passes the
    lock on, the next waiter gets it and the lock ends free."""
    lock = SendLock()
    order: list[str] = []
    first_scope = anyio.CancelScope()

    async def first() -> None:
        with first_scope:
            async with lock:
                order.append("first")

    async def second() -> None:
        async with lock:
            order.append("second")

    await lock.acquire()
    async with anyio.create_task_group() as group:
        group.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        lock.release()  # hands the lock to first...
        first_scope.cancel()  # ...which is cancelled before it runs
    assert order in (["first", "second"], ["second"])
    assert not lock.locked()


async def test_flag_wait_returns_at_once_when_set_and_is_still_a_checkpoint() -> None:
    flag = Flag()
    flag.set()
    with anyio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(anyio.get_cancelled_exc_class()):
            await flag.wait()
    assert flag.is_set()


async def three_waiters_woken(
    wait: Callable[[], Awaitable[None]], set_: Callable[[], None], while_waiting: Callable[[], None]
) -> list[int]:
    """Start three tasks that ``wait()``; once all wait (none woken yet), call
    ``while_waiting()`` and then ``set_()``; return the numbers of the tasks that woke."""
    woken: list[int] = []

    async def waiter(number: int) -> None:
        await wait()
        woken.append(number)

    async with anyio.create_task_group() as group:
        for number in range(3):
            group.start_soon(waiter, number)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        while_waiting()
        set_()
    return sorted(woken)


async def test_flag_wakes_every_waiter_and_allocates_an_event_only_for_them() -> None:
    flag = Flag()
    assert flag._event is None

    def event_made() -> None:
        assert flag._event is not None

    assert await three_waiters_woken(flag.wait, flag.set, event_made) == [0, 1, 2]


# ------------------------------------------------------------------ new_event


async def test_new_event_wakes_every_waiter_once_set() -> None:
    event = new_event()

    def not_yet() -> None:
        assert not event.is_set()

    def set_twice() -> None:
        event.set()
        event.set()  # a second set changes nothing

    assert await three_waiters_woken(event.wait, set_twice, not_yet) == [0, 1, 2]


async def test_new_event_already_set_is_still_a_checkpoint() -> None:
    event = new_event()
    event.set()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await event.wait()  # raises at the checkpoint: the scope catches it
        pytest.fail("wait() did not check for cancellation")
    assert scope.cancelled_caught


async def test_a_cancelled_waiter_leaves_the_others_waiting() -> None:
    """Cancelling one waiter (a cancel scope) neither wakes nor breaks the others."""
    event = new_event()
    woken: list[str] = []

    async def wait(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            await event.wait()
            woken.append(name)

    first, second = anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as group:
        group.start_soon(wait, "first", first)
        group.start_soon(wait, "second", second)
        await anyio.wait_all_tasks_blocked()
        first.cancel()
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        event.set()
    assert woken == ["second"] and first.cancelled_caught


def bytes_each(make: Callable[[], object], count: int = 200) -> float:
    """Bytes that ``make()`` allocates per object, measured with tracemalloc."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(count)]
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == count
    return size / count


async def test_new_event_costs_a_tenth_of_anyio_event_on_asyncio(anyio_backend_name: str) -> None:
    """What every idle connection's waiting recv() holds: no 0.6 KiB deque on asyncio."""
    if anyio_backend_name != "asyncio":
        assert isinstance(new_event(), anyio.Event)  # trio's Event is light already
        return
    assert bytes_each(anyio.Event) > 600  # the measure tells the two apart
    assert bytes_each(new_event) < 100
