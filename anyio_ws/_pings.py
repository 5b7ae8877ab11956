"""Pings and their pongs: the waiters ``ping()`` returns, and the keepalive loop.

A pong answers the ping with the same payload and, as RFC 6455 allows a peer to answer
only the latest of several pings, every ping sent before it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import anyio

from ._link import Link
from .core.protocol import State
from .exceptions import ConcurrencyError, ConnectionClosed

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Pings", "PongWaiter", "keep_alive"]


class PongWaiter:
    """What ``ping()`` returns: await it to get the latency once the pong arrives.

    Raises ``ConnectionClosed`` when the connection closes first.
    """

    __slots__ = ("_done", "_latency", "_link", "data", "sent_at")

    def __init__(self, link: Link, data: bytes, sent_at: float) -> None:
        self._link = link
        self._done = anyio.Event()
        self._latency: float | None = None
        self.data = data
        self.sent_at = sent_at

    def _resolve(self, now: float) -> None:
        self._latency = now - self.sent_at
        self._done.set()

    def _abandon(self) -> None:
        self._done.set()

    async def wait(self) -> float:
        """Wait for the pong; return the round-trip time in seconds."""
        try:
            await self._link.wait_for(self._done)
        except anyio.get_cancelled_exc_class():
            self._link.raise_if_released()
            raise
        if self._latency is None:
            raise self._link.closed_exception()
        return self._latency

    def __await__(self) -> Generator[Any, None, float]:
        return self.wait().__await__()


class Pings:
    """The pings of one connection still waiting for their pong, oldest first."""

    __slots__ = ("_link", "_waiting", "latency")

    def __init__(self, link: Link) -> None:
        self._link = link
        self._waiting: dict[bytes, PongWaiter] = {}
        self.latency = 0.0
        """Round-trip time of the last ping answered, in seconds."""

    def check_free(self, payload: bytes) -> None:
        """Refuse a second ping with the payload of one still waiting."""
        if payload in self._waiting:
            raise ConcurrencyError("a ping with the same payload is already waiting")

    def sent(self, payload: bytes) -> PongWaiter:
        """Record a ping queued for sending (before it is written, so no pong is missed)."""
        waiter = PongWaiter(self._link, payload, anyio.current_time())
        self._waiting[payload] = waiter
        return waiter

    def pong_received(self, data: bytes) -> None:
        """Resolve the ping with this payload and every ping before it."""
        waiter = self._waiting.get(data)
        if waiter is None:
            return
        now = anyio.current_time()
        for payload in list(self._waiting):
            earlier = self._waiting.pop(payload)
            earlier._resolve(now)
            if payload == data:
                break
        self.latency = now - waiter.sent_at

    def abandon_all(self) -> None:
        """The connection is over: every waiter raises ``ConnectionClosed``."""
        for waiter in self._waiting.values():
            waiter._abandon()
        self._waiting.clear()


async def keep_alive(connection: Connection, interval: float, timeout: float | None) -> None:  # noqa: ASYNC109
    """Ping every ``interval``; close with 1011 when a pong is ``timeout`` late.

    While the queue of unread messages is full nothing is read, pongs included: a
    handler that stops reading for longer than ``timeout`` loses its connection.
    """
    while True:
        await anyio.sleep(interval)
        # The send is bounded too: a peer that stopped reading is as dead as one that
        # stopped answering.
        with anyio.move_on_after(float("inf") if timeout is None else timeout):
            try:
                waiter = await connection.ping()
                if timeout is not None:
                    await waiter
            except ConnectionClosed:
                return
            continue
        if connection.state is not State.OPEN:
            return
        connection.logger.info("keepalive ping timeout")
        await connection.close(1011, "keepalive ping timeout")
        return
