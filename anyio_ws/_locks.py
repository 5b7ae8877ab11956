"""The send lock and the closed flag: two primitives that cost nothing until someone waits.

Every connection needs a "closed" flag and a send lock, but most never wait on either:
an ``anyio.Event`` or ``anyio.Lock`` allocates its waiter queue up front (about 0.6 KiB
each on asyncio), which adds up over thousands of idle connections. These two make
an event only when a task actually has to wait, and ``new_event()`` makes it cheap on
asyncio too, where every idle connection has one: its handler waiting in ``recv()``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Protocol

import anyio
import anyio.lowlevel

__all__ = ["EventLike", "Flag", "SendLock", "new_event"]


class EventLike(Protocol):
    """What anyio_ws uses of ``anyio.Event``."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> None: ...


class _AsyncioEvent:
    """``anyio.Event`` on asyncio without its waiter deque: a future per waiting task.

    anyio's asyncio ``Event`` wraps an ``asyncio.Event``, whose empty ``deque`` alone is
    ~0.6 KiB. A waiter is cancelled as any asyncio task awaiting a future is, which is
    how anyio's cancel scopes reach it.
    """

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        if self._is_set:
            return
        self._is_set = True
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        if self._is_set:
            await anyio.lowlevel.checkpoint()
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)


def new_event() -> EventLike:
    """A one-shot event for the running backend: ``anyio.Event``, lighter on asyncio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.Event()  # trio (its Event allocates nothing large up front)
    return _AsyncioEvent()


class Flag:
    """A one-shot event: ``set()`` once, ``wait()`` from any number of tasks."""

    __slots__ = ("_is_set", "_event")

    def __init__(self) -> None:
        self._is_set = False
        self._event: EventLike | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Return once set; a checkpoint even when it already is."""
        if self._is_set:
            await anyio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = new_event()
        await self._event.wait()


class SendLock:
    """A FIFO lock whose uncontended acquire neither allocates nor yields.

    Ownership passes directly to the next waiter on release, so a writer that was
    waiting cannot be overtaken; a waiter cancelled after being handed the lock passes
    it on.
    """

    __slots__ = ("_locked", "_waiters")

    def __init__(self) -> None:
        self._locked = False
        self._waiters: deque[EventLike] | None = None

    def locked(self) -> bool:
        return self._locked

    async def acquire(self) -> None:
        if not self._locked:
            self._locked = True
            return
        event = new_event()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                self.release()
            else:
                self._waiters.remove(event)
            raise

    def release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()
            return
        self._locked = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
