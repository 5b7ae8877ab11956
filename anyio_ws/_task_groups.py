"""Task groups entered in one method and left in another, errors unwrapped.

``connect()``'s ``async with``, the reconnecting loop's held connections and
``serve()`` open something in a task group of their own and hand it out: the group is
entered before the caller's block and left after it, so ``async with`` cannot span it.
And anyio wraps an exception raised in a group's body in an ``ExceptionGroup``, even
alone: a failed handshake or the caller's own error would reach them wrapped. These two
functions enter and leave such a group by hand without ever passing it an exception,
so that every exception propagates as it was raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from anyio.abc import TaskGroup

__all__ = ["leave_group", "open_in_group"]

Opened = TypeVar("Opened")


async def open_in_group(
    group: TaskGroup, opener: Callable[[TaskGroup], Awaitable[Opened]]
) -> Opened:
    """Enter ``group`` and return ``await opener(group)``; ``leave_group`` leaves it later.

    When ``opener`` fails, the group is left first (waiting for any task ``opener``
    started), then the exception propagates, unwrapped.
    """
    await group.__aenter__()
    try:
        return await opener(group)
    except BaseException:
        await leave_group(group)
        raise


def leave_group(group: TaskGroup) -> Awaitable[bool]:
    """Wait for ``group``'s tasks and leave it, without the caller's exception.

    The exception the caller is handling, if any, is not the group's business: given
    to ``__aexit__`` it would cancel the group and come back inside an
    ``ExceptionGroup``. A task of the group that failed still raises here.
    A plain function returning the awaitable: one frame less per connection.
    """
    return group.__aexit__(None, None, None)
