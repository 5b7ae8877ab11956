"""``Link``: what every part of one connection shares, and the errors it turns into.

A connection is built of parts that each own one thing (the receive side, the send
side, the pings); they all need the transport, the protocol, whether the connection is
closed, and one way to say why. ``Link`` holds that, so that no part reaches into
another's fields, and the translation of a failure into ``ConnectionClosed`` is
written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

import anyio
import anyio.abc
from anyio.abc import ByteStream

from ._locks import Flag
from .core.protocol import Protocol
from .exceptions import ConnectionClosed

__all__ = ["InlineReader", "Link"]

InlineReader = Callable[[bool, Callable[[], object]], Awaitable[None]]
"""``read(wait_for_room, done)``: read and process one chunk for a waiting call."""


class Link:
    """The transport, the protocol and the end of one connection, shared by its parts."""

    __slots__ = (
        "close_timeout",
        "closed",
        "protocol",
        "read_inline",
        "release_scope",
        "stream",
        "task_group",
        "transport_error",
    )

    def __init__(self, stream: ByteStream, protocol: Protocol, close_timeout: float | None):
        self.stream = stream
        self.protocol = protocol
        self.close_timeout = close_timeout
        self.closed = Flag()
        """Set once the connection is over, transport included."""
        self.transport_error: BaseException | None = None
        """The first transport failure (or reader bug): the cause of ``ConnectionClosed``."""
        self.release_scope: anyio.CancelScope | None = None
        """The scope the connection cancels once it is over (the server's handler)."""
        self.task_group: anyio.abc.TaskGroup | None = None
        """The connection's task group, once started; ``None`` inline."""
        self.read_inline: InlineReader | None = None
        """Set when the connection runs without a reader task (see ``start_inline``)."""

    def keep_error(self, exc: BaseException) -> None:
        """Remember ``exc`` as the cause of the closure, unless one is known already."""
        if self.transport_error is None:
            self.transport_error = exc

    def closed_exception(self) -> ConnectionClosed:
        """The ``ConnectionClosed`` every operation raises once the connection is over."""
        exc = self.protocol.close_exc()
        if exc.__cause__ is None and self.transport_error is not None:
            exc.__cause__ = self.transport_error
        return exc

    def raise_closed(self) -> NoReturn:
        """Raise ``closed_exception()`` from within an ``except`` block: its cause (the
        protocol error, the transport error) is kept, the exception being handled hidden."""
        exc = self.closed_exception()
        raise exc from exc.__cause__

    def raise_if_released(self) -> None:
        """Turn our own end-of-connection cancellation into ``ConnectionClosed``."""
        scope = self.release_scope
        if scope is not None and scope.cancel_called and self.closed.is_set():
            self.raise_closed()

    async def wait_for(self, event: Flag | anyio.Event, *, wait_for_room: bool = True) -> None:
        """Wait for ``event``; inline, read the stream until it is set."""
        read = self.read_inline
        if read is None:
            await event.wait()
            return
        while not event.is_set():
            await read(wait_for_room, event.is_set)

    def timeout(self) -> float:
        """``close_timeout`` as a number of seconds for anyio (``None``: no limit)."""
        return float("inf") if self.close_timeout is None else self.close_timeout
