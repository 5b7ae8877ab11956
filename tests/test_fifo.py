"""The FIFO under the message queue and the asyncio stream's received chunks."""

from __future__ import annotations

import gc
import weakref

from anyio_ws._fifo import Fifo


def test_items_come_out_in_order_through_splits_and_compaction() -> None:
    """Order holds when items are given back to the head, as receive(max_bytes) does."""
    chunks: Fifo[bytes] = Fifo()
    for number in range(1000):
        chunks.append(b"%d," % number)
    out = []
    while chunks:
        chunk = chunks.popleft()
        if len(chunk) > 2:
            chunks.appendleft(chunk[2:])
            chunk = chunk[:2]
        out.append(chunk)
    assert b"".join(out) == b"".join(b"%d," % number for number in range(1000))
    assert len(chunks) == 0


def test_an_item_given_back_to_an_empty_head_comes_out_first() -> None:
    fifo: Fifo[int] = Fifo()
    fifo.append(2)
    fifo.appendleft(1)
    assert [fifo.popleft(), fifo.popleft()] == [1, 2]


class Item:
    """Something a weak reference can follow."""


def test_a_taken_item_is_let_go_at_once() -> None:
    """The FIFO keeps no reference to what it handed out, compaction or not."""
    fifo: Fifo[Item] = Fifo()
    items = [Item() for _ in range(10)]
    refs = [weakref.ref(item) for item in items]
    for item in items:
        fifo.append(item)
    del items, item
    for _ in range(5):
        fifo.popleft()
    gc.collect()
    assert [ref() is None for ref in refs] == [True] * 5 + [False] * 5
    assert len(fifo) == 5


def test_memory_stays_bounded_when_the_consumer_keeps_up() -> None:
    """Compaction moves each item at most once: the list never holds more than twice
    what is waiting, plus the compaction threshold."""
    fifo: Fifo[int] = Fifo()
    for number in range(10_000):
        fifo.append(number)
        fifo.append(number)
        fifo.popleft()
        assert len(fifo._items) <= 2 * len(fifo) + 34
