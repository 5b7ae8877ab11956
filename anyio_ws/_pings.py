"""Pings and their pongs: the waiters ``ping()`` returns, and keepalive.

A pong answers the ping with the same payload and, as RFC 6455 allows a peer to answer
only the latest of several pings, every ping sent before it.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Callable, Generator
from typing import Any

import anyio

from ._link import Link
from ._locks import Flag
from .exceptions import ConcurrencyError

__all__ = ["Keepalive", "KeepaliveTicket", "Pings", "PongWaiter"]

_logger = logging.getLogger("anyio_ws")


class PongWaiter:
    """What ``ping()`` returns: await it to get the latency once the pong arrives.

    Raises ``ConnectionClosed`` when the connection closes first.
    """

    __slots__ = ("_done", "_latency", "_link", "data", "sent_at")

    def __init__(self, link: Link, data: bytes, sent_at: float) -> None:
        self._link = link
        self._done = Flag()  # no event until someone awaits the pong: keepalive does not
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

    def fresh_payload(self) -> bytes:
        """Four random bytes that no waiting ping uses."""
        payload = os.urandom(4)
        while payload in self._waiting:
            payload = os.urandom(4)
        return payload

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


class Keepalive:
    """Pings connections every ``interval`` from one task, and closes those whose pong
    is more than ``timeout`` late (``None``: pings are sent, never awaited).

    A server runs one for all its connections, so that keepalive costs no task and no
    cancel scope per connection; a client connection runs its own. The next ping goes
    ``interval`` after the pong (websockets does the same). Pings are queued without
    waiting: a peer that stopped reading does not hold up the others, and its missing
    pong closes it.
    """

    __slots__ = ("_due", "_interval", "_order", "_timeout", "_wake")

    def __init__(self, interval: float, timeout: float | None) -> None:
        self._interval = interval
        self._timeout = timeout
        self._due: list[tuple[float, int, KeepaliveTicket]] = []
        self._order = 0  # breaks ties in the heap: tickets are not comparable
        self._wake: anyio.Event | None = None

    def fits(self, interval: float, timeout: float | None) -> bool:
        """Whether this keepalive pings as a connection with these settings asks."""
        return interval == self._interval and timeout == self._timeout

    def add(self, ping: PingNowait, timed_out: Callable[[], None]) -> KeepaliveTicket:
        """Ping with ``ping()`` every ``interval`` from now; call ``timed_out()`` when a
        pong is late. ``cancel()`` the ticket once the connection is over."""
        ticket = KeepaliveTicket(ping, timed_out)
        self._schedule(anyio.current_time() + self._interval, ticket)
        return ticket

    def _schedule(self, when: float, ticket: KeepaliveTicket) -> None:
        self._order += 1
        heapq.heappush(self._due, (when, self._order, ticket))
        if self._wake is not None:  # asleep with nothing to ping: wake up
            self._wake.set()

    async def run(self) -> None:
        """Ping on time, for ever (until cancelled with the owner's task group)."""
        due = self._due
        while True:
            now = anyio.current_time()
            batch = []
            while due and due[0][0] <= now:  # taken first: what a visit reschedules,
                batch.append(heapq.heappop(due)[2])  # even at ``now``, waits for a sleep
            for ticket in batch:
                try:
                    self._visit(ticket, now)
                except Exception:  # a bug in one connection must not stop the others'
                    _logger.exception("keepalive failed for a connection; it is not pinged")
                    ticket.cancel()
            if due:
                # Every entry is scheduled at most ``interval`` after the time it is
                # scheduled, and a new connection's first ping exactly ``interval``
                # after now: nothing added while we sleep can be due before the head.
                await anyio.sleep_until(due[0][0])
            else:
                wake = self._wake = anyio.Event()
                await wake.wait()
                self._wake = None

    def _visit(self, ticket: KeepaliveTicket, now: float) -> None:
        ping = ticket.ping
        if ping is None:  # the connection is over
            return
        waiter = ticket.waiter
        if waiter is not None:
            if waiter._latency is not None:  # answered: the next ping, interval after it
                ticket.waiter = None
                pong_at = waiter.sent_at + waiter._latency
                if pong_at + self._interval > now:
                    self._schedule(pong_at + self._interval, ticket)
                    return
            elif self._timeout is not None and now >= waiter.sent_at + self._timeout:
                timed_out = ticket.timed_out
                ticket.cancel()
                timed_out()
                return
            else:
                assert self._timeout is not None
                self._schedule(min(waiter.sent_at + self._timeout, now + self._interval), ticket)
                return
        waiter = ping()
        if waiter is None:  # closing: no more pings
            ticket.cancel()
            return
        if self._timeout is None:
            self._schedule(now + self._interval, ticket)  # never awaited
        else:
            ticket.waiter = waiter
            self._schedule(now + min(self._interval, self._timeout), ticket)


PingNowait = Callable[[], "PongWaiter | None"]
"""Queue a ping without waiting; its waiter, or ``None`` once the connection is closing."""


class KeepaliveTicket:
    """One connection's place in a ``Keepalive``: its ping, and the ping under way."""

    __slots__ = ("ping", "timed_out", "waiter")

    def __init__(self, ping: PingNowait, timed_out: Callable[[], None]) -> None:
        self.ping: PingNowait | None = ping
        self.timed_out = timed_out
        self.waiter: PongWaiter | None = None

    def cancel(self) -> None:
        """No more pings: let go of the connection (the ticket may wait in the heap)."""
        self.ping = None
        self.timed_out = _nothing
        self.waiter = None


def _nothing() -> None:
    pass
