"""The bounded queue of received messages between the reader task and ``recv()``.

A ``Fifo`` and two events rather than an anyio memory object stream, for two reasons:
cancelling ``get()`` can never lose an item (items only leave the FIFO in the getter's
own task, after its wait is over), and closing it lets ``get()`` drain what is left
before reporting the end — the order design.md promises.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import anyio

from ._fifo import Fifo
from ._locks import EventLike, new_event
from .core._parts import append_part

__all__ = ["MessageQueue", "PartialMessage", "QueueClosed"]

T = TypeVar("T")

_KEEP_APART = 32
"""Fragments waiting in a ``PartialMessage`` that are kept as sent, before joining."""


class QueueClosed(Exception):
    """The queue is closed and empty."""


class MessageQueue(Generic[T]):
    """FIFO of at most ``max_size`` items (``None``: unbounded) with drain-then-close.

    ``max_size`` may be a ``(high, low)`` pair: once full, a put waits until the
    queue is down to ``low`` items (default ``high // 4``, as websockets' max_queue),
    so a reader paused by a slow consumer resumes for a batch, not for every item.
    """

    def __init__(
        self,
        max_size: int | None | tuple[int | None, int | None],
    ) -> None:
        high, low = max_size if isinstance(max_size, tuple) else (max_size, None)
        self.max_size = high
        self._low = low if low is not None else (high // 4 if high is not None else 0)
        self._items: Fifo[T] = Fifo()
        self._closed = False
        self._item_arrived: EventLike | None = None
        self._space_freed: EventLike | None = None
        self._dropping_when_full = False
        self._dropping_all = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def full(self) -> bool:
        return self.max_size is not None and len(self) >= self.max_size

    async def put(self, item: T, *, bounded: bool = True) -> bool:
        """Append ``item``; return whether it was kept.

        When the queue is full, a ``bounded`` put first waits for room, an unbounded one
        appends all the same. Once ``drop_when_full()`` was called, an item that finds
        the queue full is dropped instead; after ``drop_all()``, every item is.
        """
        if self._dropping_all:
            return False
        if self.full():
            if self._dropping_when_full:
                return False
            if bounded:
                await self.wait_for_room()
                if self._dropping_all:
                    return False
                # Woken by drop_when_full(): this one was read already; keep it.
        self._items.append(item)
        if self._item_arrived is not None:
            self._item_arrived.set()
            self._item_arrived = None
        return True

    async def wait_for_room(self) -> None:
        """Wait, as a bounded ``put()`` would, until the queue has room for one more."""
        if self.full():
            while (
                self.max_size is not None
                and len(self) > self._low
                and not (self._closed or self._dropping_when_full or self._dropping_all)
            ):
                self._space_freed = event = new_event()
                await event.wait()

    async def get(self) -> T:
        """Take the oldest item, waiting for one; raise ``QueueClosed`` once drained."""
        while not self._items:
            if self._closed:
                raise QueueClosed
            self._item_arrived = event = new_event()
            await event.wait()
        return self._pop()

    def get_nowait(self) -> T | None:
        """Take the oldest item if there is one."""
        if not self._items:
            return None
        return self._pop()

    def unget(self, item: T) -> None:
        """Put back at the head an item just taken (its taker was cancelled)."""
        self._items.appendleft(item)

    def _pop(self) -> T:
        item = self._items.popleft()
        if self._space_freed is not None:
            self._space_freed.set()
            self._space_freed = None
        return item

    def drop_when_full(self) -> None:
        """From now on, drop what finds the queue full rather than wait for room.

        For a connection that is closing: its reader must go on reading, to see the
        peer's close frame, without the queue growing past its bound.
        """
        self._dropping_when_full = True
        self._wake_putter()

    def drop_all(self) -> None:
        """From now on, drop every item: nobody will take them."""
        self._dropping_all = True
        self._wake_putter()

    def _wake_putter(self) -> None:
        if self._space_freed is not None:
            self._space_freed.set()
            self._space_freed = None

    def close(self) -> None:
        """No more items will come; waiting getters wake up and drain what is left."""
        self._closed = True
        for event in (self._item_arrived, self._space_freed):
            if event is not None:
                event.set()
        self._item_arrived = self._space_freed = None


class PartialMessage:
    """A fragmented message still arriving: one queue slot, however many fragments.

    The reader adds each fragment as it completes; ``recv()`` waits for the last one and
    joins them once, ``recv_streaming()`` takes them as they come. ``max_size`` bounds the
    fragments' total; and past the first ``_KEEP_APART`` fragments not taken yet, small
    ones are joined as they arrive (``append_part``), so that a message in one-byte or
    empty fragments costs about its size too: the queue stays bounded by ``max_queue``
    messages of ``max_size`` bytes. A streaming reader that falls behind may thus get
    several small fragments as one. Once
    ``discard`` is set (a streaming reader gave up on the message), later fragments are
    dropped on arrival.
    """

    __slots__ = ("_changed", "aborted", "complete", "discard", "parts", "taken", "text")

    def __init__(self, text: bool) -> None:
        self.text = text
        self.parts: list[str] | list[bytes] = []
        self.taken = 0
        self.complete = False
        self.aborted = False
        self.discard = False
        self._changed: anyio.Event | None = None

    def add(self, data: str | bytes, fin: bool) -> None:
        """Append a fragment (``fin``: the last one), joined to small ones not taken yet."""
        if not self.discard:
            # The first fragments waiting stay apart, as sent; past them, a reader that
            # does not keep up gets small ones joined.
            append_part(self.parts, data, self.taken + _KEEP_APART)  # type: ignore[misc]
        self.complete = fin
        self._wake()

    def abort(self) -> None:
        """The connection ended before the last fragment: the message is incomplete."""
        self.aborted = True
        self._wake()

    def take(self) -> str | bytes:
        """Remove and return the oldest fragment not taken yet (there must be one)."""
        part = self.parts[self.taken]
        self.taken += 1
        if self.taken == len(self.parts):
            self.parts.clear()
            self.taken = 0
        return part

    def has_parts(self) -> bool:
        return self.taken < len(self.parts)

    def drop(self) -> None:
        """Forget what arrived and drop what will arrive."""
        self.discard = True
        self.parts.clear()
        self.taken = 0

    def joined(self) -> str | bytes:
        """The whole message, joined once (call when ``complete``)."""
        parts = self.parts
        if self.text:
            return "".join(parts)  # type: ignore[arg-type]
        return b"".join(parts)  # type: ignore[arg-type]

    async def wait(self) -> None:
        """Wait until a fragment arrives or the message is aborted."""
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
