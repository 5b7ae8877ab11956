"""The send lock and the closed flag: two primitives that cost nothing until someone waits.

Every connection needs a "closed" flag and a send lock, but most never wait on either:
an ``anyio.Event`` or ``anyio.Lock`` allocates its waiter queue up front (about 0.6 KiB
each on asyncio), which adds up over thousands of idle connections. These two make
their ``anyio.Event`` only when a task actually has to wait.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

import anyio
import anyio.lowlevel

__all__ = ["Flag", "SendLock"]


class Flag:
    """A one-shot event: ``set()`` once, ``wait()`` from any number of tasks."""

    __slots__ = ("_is_set", "_event")

    def __init__(self) -> None:
        self._is_set = False
        self._event: anyio.Event | None = None

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
            self._event = anyio.Event()
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
        self._waiters: deque[anyio.Event] | None = None

    def locked(self) -> bool:
        return self._locked

    async def acquire(self) -> None:
        if not self._locked:
            self._locked = True
            return
        event = anyio.Event()
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
