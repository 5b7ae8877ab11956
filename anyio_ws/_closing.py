"""Ending a connection from our side: the closing handshake, failing, dropping a peer.

Each step runs shielded and bounded by ``close_timeout``: closing is safe from a
cancelled scope, and a peer that never answers costs at most that long before its
transport is dropped. The functions work on a connection's parts (``Link``, ``Sender``,
``Receiver``, ``Reader``) rather than on ``Connection``, which calls them.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from ._link import Link
from ._reader import Reader
from ._receiving import Receiver
from ._sending import Sender
from ._streams import abort
from .core.protocol import State
from .exceptions import ConnectionClosed

__all__ = ["close", "close_when_cancelled", "drop_if_still_open", "fail"]


async def close(link: Link, sender: Sender, receiver: Receiver, code: int, reason: str) -> None:
    """``Connection.close()``: send a close frame, wait for the end, drop a silent peer."""
    # Messages that still fit in the queue are kept for recv(); the others are
    # dropped, so that the reader goes on to the peer's close frame.
    receiver.messages.drop_when_full()
    protocol = link.protocol

    def queue_close() -> None:
        if protocol.state is State.OPEN and sender.sending_fragments:
            # The message under way can never be finished (websockets: same).
            protocol.fail(1011, "close during fragmented message")
        elif protocol.state is State.OPEN:
            protocol.send_close(code, reason)

    with anyio.CancelScope(shield=True):
        # The timeout covers the write too: a peer that stops reading, or another
        # task's send() stuck on a full buffer, must not block close() for ever.
        with anyio.move_on_after(link.timeout()):
            await _queue_and_write(sender, queue_close)
            await link.wait_for(link.closed, wait_for_room=False)
        await drop_if_still_open(link)


async def fail(
    link: Link, sender: Sender, receiver: Receiver, code: int, reason: str, *, wait: bool
) -> None:
    """Fail the connection with ``code`` (shielded, bounded by ``close_timeout``).

    With ``wait``, also wait (within the same bound) until it is closed, reading for
    ourselves when inline, and drop the transport of a peer that does not answer in
    time, as ``close()`` does.
    """
    receiver.messages.drop_when_full()
    protocol = link.protocol

    def queue_failure() -> None:
        if protocol.state is State.OPEN:
            protocol.fail(code, reason)

    with anyio.CancelScope(shield=True):
        with anyio.move_on_after(link.timeout()):
            await _queue_and_write(sender, queue_failure)
            if wait:
                await link.wait_for(link.closed, wait_for_room=False)
        if wait:
            await drop_if_still_open(link)
    if not wait and link.task_group is not None and not link.closed.is_set():
        # The reader may wait in a receive with no deadline: bound the handshake here.
        link.task_group.start_soon(_drop_unless_closed, link)


async def close_when_cancelled(link: Link, sender: Sender, reader: Reader, code: int) -> None:
    """The reader was cancelled from outside: close with ``code`` before letting it go."""
    protocol = link.protocol
    if protocol.state is State.CLOSED:
        return
    # Open: send the close frame. Closing already (close() sent it): the peer's
    # answer is still to be read, or the connection would end as 1006.

    def queue_close() -> None:
        if protocol.state is State.OPEN:
            protocol.send_close(code)

    with anyio.move_on_after(link.timeout()):
        if await _queue_and_write(sender, queue_close):
            await reader.read_frames()  # until the peer's close frame, or close_timeout


async def _queue_and_write(sender: Sender, queue: Callable[[], None]) -> bool:
    """Under the send lock, queue a closing frame with ``queue()`` (which checks the
    state) and write it with the replies the reader left to the lock holder.

    False when the transport broke: the reader sees it and finishes the connection.
    """
    try:
        async with sender.lock:
            queue()
            await sender.write_pending()
    except ConnectionClosed:
        return False
    return True


async def _drop_unless_closed(link: Link) -> None:
    """Drop the transport unless the connection is closed within ``close_timeout``."""
    with anyio.move_on_after(link.timeout()):
        await link.closed.wait()
    await drop_if_still_open(link)


async def drop_if_still_open(link: Link) -> None:
    """Once ``close_timeout`` is over, drop the transport of a peer that did not end the
    closing handshake, and wait for the reader (or ourselves, inline) to see it."""
    if not link.closed.is_set():
        await abort(link.stream)
        await link.wait_for(link.closed, wait_for_room=False)
