"""Reading the opening handshake's HTTP head, the same way on both sides.

The sans-I/O handshake parses and bounds the head (``max_header_size``); this loop
only feeds it what the stream gives until it has one. The sides differ in one
thing, what an end of stream means: a client whose server hangs up wants to retry
it as a network error, while a server whose peer left before sending a byte (a
port scanner, a health probe) has nothing to answer and nothing worth logging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio
from anyio.abc import ByteStream

from .exceptions import InvalidMessage

__all__ = ["HeadParser", "read_head"]

Head = TypeVar("Head")


class HeadParser(Protocol):
    """What ``read_head`` feeds: ``ServerHandshake`` and ``ClientHandshake`` both are."""

    def receive_data(self, data: bytes) -> None: ...
    def receive_eof(self) -> None: ...


async def read_head(
    stream: ByteStream,
    parser: HeadParser,
    next_head: Callable[[], Head | None],
    *,
    quiet_if_silent: bool = False,
) -> Head:
    """Feed ``parser`` from ``stream`` until ``next_head()`` returns a head.

    Args:
        stream: Where the peer's bytes come from.
        parser: The handshake that takes them.
        next_head: The handshake's ``next_request`` or ``next_response``: ``None``
            until a whole head has arrived; it raises ``InvalidMessage`` for a bad
            one, or one over its size bound.
        quiet_if_silent: A peer that closes before sending any byte raises
            ``EndOfStream`` rather than ``InvalidMessage`` (for the server).

    Raises:
        InvalidMessage: the head is invalid or too large, or the peer closed before
            it was complete; in the last case its ``__cause__`` is an ``EOFError``,
            which tells a peer that left from one that sent garbage.
        anyio.EndOfStream: with ``quiet_if_silent``, the peer sent nothing at all.
    """
    received = False
    while (head := next_head()) is None:
        try:
            data = await stream.receive()
        except anyio.EndOfStream:
            if quiet_if_silent and not received:
                raise
            return _head_at_eof(parser, next_head)
        received = True
        parser.receive_data(data)
    return head


def _head_at_eof(parser: HeadParser, next_head: Callable[[], Head | None]) -> Head:
    """The head that the end of stream completes (a response body without a length
    ends there), or the parser's ``InvalidMessage`` with an ``EOFError`` cause."""
    parser.receive_eof()
    closed = EOFError("connection closed during the opening handshake")
    try:
        head = next_head()
    except InvalidMessage as exc:
        raise exc from closed
    if head is None:  # not from h11, which fails a head cut short; but never loop
        raise InvalidMessage("connection closed during the opening handshake") from closed
    return head
