"""The send side of a connection: one lock, one place that writes, one that refuses.

``Sender.send_frames()`` is the single send context: it checks the state, holds the
lock, lets the caller queue frames on the protocol, writes them, and turns a failure
into the connection's ``ConnectionClosed``. ``send()``, fragments, ``ping()``, ``pong()``
all go through it. ``write_pending()`` is the one function that writes to the
transport, and keeps the count of bytes accepted but not yet taken by the kernel.

``try_send()`` is what ``broadcast()`` uses: it queues a message without waiting, or
says why it cannot as a ``Refusal``. When nobody holds the lock it also writes the
message at once where the stream allows it (``_streams.nowait_writer``), so that one
message to a thousand connections starts no task; only what the kernel did not take
(a slow reader) is left to a flush task.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

import anyio

from ._link import Link
from ._locks import SendLock
from ._options import parse_write_limit
from ._streams import TRANSPORT_ERRORS, abort, half_close, nowait_writer
from .core.frames import PreparedMessage
from .core.protocol import State
from .exceptions import ConnectionClosed

__all__ = ["Refusal", "Sender"]

_R = TypeVar("_R")

_WRITE_JOIN_LIMIT = 65536
_MAX_PENDING_REPLIES = 32
"""Replies (pongs, mostly) left to the send lock's holder above which the reader stops
reading until they are written: what a ping flood can make us hold."""


class Refusal(enum.Enum):
    """Why ``try_send()`` did not queue a message; the value is what the log says."""

    NOT_OPEN = "connection is not open"
    FRAGMENTING = "a fragmented message is being sent"
    NOT_RUNNING = "connection is not running"
    BUFFER_FULL = "write buffer over write_limit"


class Sender:
    """Writes a connection's frames: whole, in order, within its ``write_limit``."""

    __slots__ = (
        "_backlog",
        "_backlog_size",
        "_flush_scheduled",
        "_fragments_sent",
        "_link",
        "_nowait",
        "_nowait_known",
        "_stream_buffer_size",
        "_unsent",
        "_write_high",
        "lock",
        "sending_fragments",
    )

    def __init__(self, link: Link, write_limit: int | tuple[int, int | None]) -> None:
        self._link = link
        self.lock = SendLock()
        """Held by whoever writes; the holder writes everything queued before releasing it."""
        stream = link.stream
        self._write_high, write_low = parse_write_limit(write_limit)
        set_write_limits = getattr(stream, "set_write_limits", None)
        if set_write_limits is not None:  # asyncio: the transport's own buffer
            set_write_limits(self._write_high, write_low)
        self._unsent = 0
        """Bytes of the write in progress that the stream has not taken yet."""
        self._stream_buffer_size: Callable[[], int] | None = getattr(
            stream, "write_buffer_size", None
        )
        self._flush_scheduled = False
        self._nowait: Callable[[bytes], int] | None = None
        self._nowait_known = False  # looked up on first use: most connections never need it
        self._backlog: list[bytes] | None = None
        """Output a write without waiting left over, written before anything else."""
        self._backlog_size = 0
        self.sending_fragments = False
        """True while ``send()`` writes a fragmented message: other messages wait for it
        (``broadcast()`` skips the connection); control frames may go between fragments."""
        self._fragments_sent: anyio.Event | None = None

    # ------------------------------------------------------ the send context

    async def send_frames(
        self, queue: Callable[[bytes], _R], payload: bytes, *, after_fragments: bool = False
    ) -> _R:
        """Queue frames with ``queue(payload)`` and write them, holding the lock.

        Raises the connection's ``ConnectionClosed`` once it is not open (after writing
        the replies the reader left to the lock holder). With ``after_fragments``, first
        wait for a fragmented message under way to be sent. A cancellation caused by the
        end of the connection itself becomes ``ConnectionClosed``.
        """
        link = self._link
        protocol = link.protocol
        try:
            while True:
                async with self.lock:
                    if protocol.state is State.OPEN and not (
                        after_fragments and self.sending_fragments
                    ):
                        result = queue(payload)
                        await self.write_pending()
                        return result
                    if protocol.state is not State.OPEN:
                        await self.write_pending()  # replies the reader left to the lock holder
                        raise link.closed_exception()
                await self.wait_fragments_sent()
        except anyio.get_cancelled_exc_class():
            link.raise_if_released()
            raise

    async def flush(self) -> None:
        """Write what the protocol queued, taking the lock; ``ConnectionClosed`` if it fails."""
        async with self.lock:
            await self.write_pending()

    async def write_pending(self) -> None:
        """Write the protocol's output; call with the lock held.

        Loops until the output is empty, so replies the reader queued meanwhile go out
        before the lock is released. An interrupted write leaves a partial frame on the
        wire, so the transport is dropped rather than reused.
        """
        link = self._link
        stream = link.stream
        protocol = link.protocol
        while True:
            chunks = protocol.data_to_send()
            if self._backlog:
                chunks = self._backlog + chunks
                self._backlog = None
                self._backlog_size = 0
            if not chunks:
                return
            writes = _coalesce(chunks)
            self._unsent = sum(map(len, writes)) if len(writes) > 1 else len(writes[0])
            try:
                for chunk in writes:
                    if chunk:
                        if self._stream_buffer_size is not None:
                            self._unsent -= len(chunk)  # in the transport's buffer at once
                            await stream.send(chunk)
                        else:
                            await stream.send(chunk)
                            self._unsent -= len(chunk)
                    else:
                        await half_close(stream)
            except BaseException as exc:
                transport_failed = isinstance(exc, TRANSPORT_ERRORS)
                if transport_failed:
                    link.keep_error(exc)
                await abort(stream)
                if transport_failed:
                    raise link.closed_exception() from exc
                raise

    def replies_due(self) -> bool:
        """Whether the reader writes the protocol's replies now, after a read.

        Whoever holds the lock writes them before releasing it; but once too many wait
        (a ping flood while a send() is stuck on a peer that does not read), the reader
        waits for the lock too, and so stops reading.
        """
        protocol = self._link.protocol
        return (
            protocol.state is State.CLOSED
            or not self.lock.locked()
            or protocol.pending_chunks() >= _MAX_PENDING_REPLIES
        )

    # ---------------------------------------------------- fragmented sends

    async def wait_fragments_sent(self) -> None:
        """Wait until the fragmented message under way is sent (or the connection ends)."""
        if self._fragments_sent is None:
            self._fragments_sent = anyio.Event()
        await self._fragments_sent.wait()

    def fragments_done(self) -> None:
        """The fragmented message is over (or the connection is): wake who waits for it."""
        self.sending_fragments = False
        if self._fragments_sent is not None:
            self._fragments_sent.set()
            self._fragments_sent = None

    # ---------------------------------------------------- without waiting

    def buffer_size(self) -> int:
        """Bytes accepted for sending that the kernel has not taken yet."""
        pending = self._unsent + self._backlog_size
        protocol = self._link.protocol
        if protocol.pending_chunks():
            pending += protocol.pending_bytes()
        if self._stream_buffer_size is not None:
            pending += self._stream_buffer_size()
        return pending

    def refusal(self) -> Refusal | None:
        """Why a message cannot be queued without waiting now, or ``None`` if it can."""
        link = self._link
        if link.protocol.state is not State.OPEN:
            return Refusal.NOT_OPEN
        if self.sending_fragments:
            return Refusal.FRAGMENTING
        if link.task_group is None:
            return Refusal.NOT_RUNNING
        if self.buffer_size() > self._write_high:
            return Refusal.BUFFER_FULL
        return None

    def try_send(
        self, payload: bytes, text: bool, prepared: PreparedMessage | None = None
    ) -> Refusal | None:
        """Queue one message without waiting, or return why it cannot be.

        ``prepared``, if given, is the same message encoded once for the connections
        that can share its frame (``Protocol.send_prepared``). Nothing here yields.
        """
        link = self._link
        protocol = link.protocol
        # refusal()'s checks, in line: broadcast() runs this once per connection.
        if not (
            protocol.state is State.OPEN
            and not self.sending_fragments
            and link.task_group is not None
            and self.buffer_size() <= self._write_high
        ):
            return self.refusal()
        if prepared is None or not protocol.send_prepared(prepared):
            if text:
                protocol.send_text(payload)
            else:
                protocol.send_binary(payload)
        self.flush_soon()
        return None

    def flush_soon(self) -> None:
        """Have what the protocol queued written without waiting here: by the lock holder,
        who writes everything before releasing it; else at once, if the stream takes it
        without waiting; else, for what is left, by a flush task."""
        if self.lock.locked() or self._flush_scheduled:
            return
        if not self._backlog and self._write_now():
            return
        task_group = self._link.task_group
        assert task_group is not None
        task_group.start_soon(self._flush_queued)
        self._flush_scheduled = True

    def _write_now(self) -> bool:
        """Write the protocol's output without waiting; whether all of it went out.

        What the stream did not take goes to the backlog, for a flush task: the end of
        a chunk the kernel had no room for, an EOF (a half-close waits), or everything
        after a transport error (the task meets the error again, and handles it).
        """
        if not self._nowait_known:
            self._nowait = nowait_writer(self._link.stream)
            self._nowait_known = True
        write = self._nowait
        if write is None:
            return False
        chunks = self._link.protocol.data_to_send()
        for index, chunk in enumerate(chunks):
            try:
                written = write(chunk) if chunk else -1
            except TRANSPORT_ERRORS:
                written = 0
            if written != len(chunk):
                left = chunks[index:]
                if written > 0:
                    left[0] = chunk[written:]
                self._backlog = left
                self._backlog_size = sum(map(len, left))
                return False
        return True

    async def _flush_queued(self) -> None:
        try:
            async with self.lock:
                self._flush_scheduled = False
                await self.write_pending()
        except ConnectionClosed:
            pass  # the reader sees the broken transport and ends the connection
        finally:
            self._flush_scheduled = False

    async def wait_writable(self) -> None:
        """Wait until ``try_send()`` can queue a message (no fragmented send, room left),
        or cannot ever (the connection is not open)."""
        while self.refusal() not in (None, Refusal.NOT_OPEN):
            if self._link.task_group is None:
                return
            # Writers hand the lock on in order: once we hold it, what was queued is out.
            await self.lock.acquire()
            self.lock.release()
            if self.refusal() is not None:
                await anyio.sleep(0.01)  # a fragmented send, or the kernel still full


def _coalesce(chunks: list[bytes]) -> list[bytes]:
    """Group chunks into writes: small ones joined, large ones alone, EOF (``b""``) apart."""
    if len(chunks) == 1:
        return chunks
    writes: list[bytes] = []
    pending: list[bytes] = []
    pending_size = 0
    for chunk in chunks:
        if chunk and len(chunk) + pending_size <= _WRITE_JOIN_LIMIT:
            pending.append(chunk)
            pending_size += len(chunk)
            continue
        if pending:
            writes.append(pending[0] if len(pending) == 1 else b"".join(pending))
            pending = []
            pending_size = 0
        if chunk and len(chunk) <= _WRITE_JOIN_LIMIT:
            pending.append(chunk)
            pending_size = len(chunk)
        else:
            writes.append(chunk)
    if pending:
        writes.append(pending[0] if len(pending) == 1 else b"".join(pending))
    return writes
