"""``Fifo``: a first-in first-out list that costs little while empty.

A list with a moving head, compacted as it goes, rather than a ``collections.deque``:
an empty deque costs ~0.7 KiB, and every idle connection keeps two of these (its
received chunks and its message queue) for its whole life. Taking from the head is
amortised O(1): each item is moved at most once by a compaction.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

__all__ = ["Fifo"]

T = TypeVar("T")

_COMPACT_AFTER = 32
"""Items taken from the head before the list is compacted (once half of it is taken)."""


class Fifo(Generic[T]):
    """Append at the tail, take from the head, give back to the head."""

    __slots__ = ("_head", "_items")

    def __init__(self) -> None:
        self._items: list[T | None] = []
        self._head = 0

    def __len__(self) -> int:
        return len(self._items) - self._head

    def append(self, item: T) -> None:
        self._items.append(item)

    def popleft(self) -> T:
        """Take the oldest item (there must be one); the list lets go of it at once."""
        items = self._items
        item = items[self._head]
        items[self._head] = None
        self._head += 1
        if self._head == len(items):
            items.clear()
            self._head = 0
        elif self._head > _COMPACT_AFTER and self._head * 2 > len(items):
            del items[: self._head]
            self._head = 0
        return cast(T, item)

    def appendleft(self, item: T) -> None:
        """Put an item back at the head (just taken, and given back)."""
        if self._head:
            self._head -= 1
            self._items[self._head] = item
        else:
            self._items.insert(0, item)
