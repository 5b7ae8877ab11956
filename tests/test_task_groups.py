"""Task groups entered and left by hand: exceptions come out as they were raised."""

from __future__ import annotations

import sys

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from anyio_ws._task_groups import leave_group, open_in_group

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def test_open_in_group_returns_what_the_opener_returns():
    """The opener runs inside the entered group and its result is handed back."""
    group = anyio.create_task_group()
    started = anyio.Event()

    async def task() -> None:
        started.set()

    async def opener(given: anyio.abc.TaskGroup) -> str:
        given.start_soon(task)
        return "opened"

    assert await open_in_group(group, opener) == "opened"
    await leave_group(group)
    assert started.is_set()


async def test_failed_opener_raises_unwrapped_after_its_tasks_finish():
    """An opener's exception is not wrapped in an ExceptionGroup, and its tasks are done."""
    group = anyio.create_task_group()
    finished = anyio.Event()

    async def task() -> None:
        await anyio.lowlevel.checkpoint()
        finished.set()

    async def opener(given: anyio.abc.TaskGroup) -> None:
        given.start_soon(task)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await open_in_group(group, opener)
    assert finished.is_set()


async def test_leave_group_does_not_cancel_for_the_callers_exception():
    """Leaving while an exception is handled waits for the tasks, uncancelled."""
    group = anyio.create_task_group()
    finished = anyio.Event()

    async def task() -> None:
        await anyio.lowlevel.checkpoint()  # where a cancelled group would stop it
        finished.set()

    async def opener(given: anyio.abc.TaskGroup) -> None:
        given.start_soon(task)

    await open_in_group(group, opener)
    with pytest.raises(KeyError):
        try:
            raise KeyError("the caller's own")
        finally:
            await leave_group(group)
    assert finished.is_set()


async def test_leave_group_raises_a_failed_task():
    """A task of the group that failed is not hidden."""
    group = anyio.create_task_group()

    async def task() -> None:
        raise OSError("gone")

    async def opener(given: anyio.abc.TaskGroup) -> None:
        given.start_soon(task)

    await open_in_group(group, opener)
    with pytest.raises(ExceptionGroup) as info:
        await leave_group(group)
    assert info.group_contains(OSError, match="gone")
