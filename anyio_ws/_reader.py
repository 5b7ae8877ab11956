"""The reader of a connection: stream → protocol → messages, pongs and replies.

In a task (the usual case) it reads until the connection is over; inline (no task
group, see ``Connection.start_inline``) a call that waits for the peer reads one chunk
at a time through ``read_inline``. Either way, what was read is handed out whole:
messages to the receive side, pongs to the pings, and the protocol's replies (pongs,
the close frame) to the send side. ``finish()`` is the one place that ends the
connection and wakes everyone who waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from ._link import Link
from ._pings import KeepaliveTicket, Pings
from ._receiving import Receiver
from ._sending import Sender
from ._streams import TRANSPORT_ERRORS, abort
from .core.events import BinaryFragment, BinaryMessage, PongReceived, TextFragment, TextMessage
from .core.protocol import Protocol, State
from .exceptions import ConnectionClosed

__all__ = ["Reader"]

_RECEIVE_SIZE = 65536
_MESSAGE_TYPES = (TextMessage, BinaryMessage)


class Reader:
    """Reads one connection's stream and hands out what the protocol makes of it."""

    __slots__ = (
        "_close_deadline",
        "_link",
        "_read_lock",
        "_receiver",
        "_sender",
        "keepalive_scope",
        "keepalive_ticket",
        "pings",
    )

    def __init__(self, link: Link, receiver: Receiver, sender: Sender) -> None:
        self._link = link
        self._receiver = receiver
        self._sender = sender
        self.pings: Pings | None = None
        """The pings waiting for a pong; made by the first ``ping()``."""
        self.keepalive_ticket: KeepaliveTicket | None = None
        """The connection's place in its keepalive, cancelled when the connection is over."""
        self.keepalive_scope: anyio.CancelScope | None = None
        """The scope of a keepalive of its own (a client's), cancelled likewise."""
        self._read_lock: anyio.Lock | None = None
        self._close_deadline: float | None = None

    # ------------------------------------------------------------ in a task

    async def read_frames(self) -> None:
        """Read until the protocol is closed (or the peer misses the close deadline)."""
        link = self._link
        protocol = link.protocol
        put = self._receiver.put
        replies_due = self._sender.replies_due
        receive = link.stream.receive
        close_deadline: float | None = None
        # Frames that came behind the handshake were parsed when the protocol was built:
        # their replies and events come first.
        await self.flush_replies()
        await self._dispatch(protocol.events_received())
        while protocol.state is not State.CLOSED:
            if protocol.close_expected() and close_deadline is None:
                close_deadline = anyio.current_time() + link.timeout()
            if close_deadline is None:
                try:
                    data = await receive(_RECEIVE_SIZE)
                except TRANSPORT_ERRORS as exc:
                    self._transport_failed(exc)
                else:
                    protocol.receive_data(data)
            else:
                await self._receive_into_protocol(close_deadline)
            if replies_due():
                await self.flush_replies()
            events = protocol.events_received()
            if events:
                if len(events) == 1 and type(events[0]) in _MESSAGE_TYPES:
                    await put(events[0].data)  # type: ignore[union-attr]
                else:
                    await self._dispatch(events)

    async def _receive_into_protocol(self, close_deadline: float | None) -> None:
        """Receive one chunk and feed it to the protocol: data, EOF, or a transport error.

        Past ``close_deadline`` (the peer did not finish the closing handshake in time)
        the transport is dropped.
        """
        link = self._link
        try:
            with anyio.fail_after(
                None if close_deadline is None else close_deadline - anyio.current_time()
            ):
                data = await link.stream.receive(_RECEIVE_SIZE)
        except TimeoutError:
            await abort(link.stream)
            link.protocol.receive_eof()
        except TRANSPORT_ERRORS as exc:
            self._transport_failed(exc)
        else:
            link.protocol.receive_data(data)

    def _transport_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, anyio.EndOfStream):
            self._link.keep_error(exc)
        self._link.protocol.receive_eof()

    async def _dispatch(self, events: list[Any], *, bounded: bool = True) -> None:
        receiver = self._receiver
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                await receiver.put(event.data, bounded=bounded)
            elif kind is TextFragment or kind is BinaryFragment:
                await receiver.fragment_received(event.data, event.fin)
            elif kind is PongReceived and self.pings is not None:
                self.pings.pong_received(event.data)

    async def flush_replies(self) -> None:
        """Write what the protocol queued (pongs, close frames, EOF), if anything."""
        protocol = self._link.protocol
        if not protocol.pending_chunks():
            return
        try:
            await self._sender.flush()
        except ConnectionClosed:
            # The write failed: the sender kept the transport error and dropped it.
            protocol.receive_eof()
            protocol.data_to_send()

    # --------------------------------------------------------------- inline

    async def read_inline(self, wait_for_room: bool, done: Callable[[], object]) -> None:
        """Read and process one chunk, for a call waiting on the peer (inline mode).

        With ``wait_for_room``, first wait until the queue has room (as the reader
        task pauses): only ``recv()``, which takes messages, and ``close()`` read on
        regardless. What was read is processed whole, shielded, so that a cancelled
        call loses no message. Nothing is read once ``done()`` is true: another call
        may have read what this one waits for while it waited for the lock.
        """
        if self._read_lock is None:
            self._read_lock = anyio.Lock()
        async with self._read_lock:
            link = self._link
            if link.closed.is_set() or done():
                return
            # Frames that came behind the handshake were parsed when the protocol was
            # built: their events and replies come first.
            if await self._process_inline():
                return
            if wait_for_room:
                await self._receiver.messages.wait_for_room()
            if link.protocol.close_expected() and self._close_deadline is None:
                self._close_deadline = anyio.current_time() + link.timeout()
            await self._receive_into_protocol(self._close_deadline)
            await self._process_inline()

    async def _process_inline(self) -> bool:
        """Queue the protocol's events, write its replies; whether anything happened."""
        protocol = self._link.protocol
        with anyio.CancelScope(shield=True):
            events = protocol.events_received()
            await self._dispatch(events, bounded=False)
            if self._sender.replies_due():
                await self.flush_replies()
            if _is_closed(protocol):
                await self.finish()
                return True
        return bool(events)

    # ---------------------------------------------------------------- end

    async def finish(self) -> None:
        """The connection is over: close the transport, wake everyone who waits."""
        link = self._link
        protocol = link.protocol
        if protocol.state is not State.CLOSED:
            protocol.receive_eof()
            protocol.data_to_send()
        await abort(link.stream)
        link.closed.set()
        link.read_inline = None  # nothing to read any more; and no Link -> Reader cycle
        if self.keepalive_ticket is not None:
            self.keepalive_ticket.cancel()
        if self.keepalive_scope is not None:
            self.keepalive_scope.cancel()
        self._sender.fragments_done()  # senders waiting for fragments see the closure
        self._receiver.close()
        if self.pings is not None:
            self.pings.abandon_all()


def _is_closed(protocol: Protocol) -> bool:
    # A function, because mypy keeps the loop condition's narrowing across calls.
    return protocol.state is State.CLOSED
