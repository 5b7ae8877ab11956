"""The receive side of a connection: the queue of messages and the calls that take them.

``Receiver`` owns the bounded queue the reader fills, the fragmented message under way,
``recv()`` and ``recv_streaming()`` (with the rule that one task receives at a time),
and the "in hand" rule: the message a task took is being worked on until that task
asks for the next one, which is what lets a server cancel a handler only once every
message it accepted has been dealt with (design.md).

The reader (the connection's task, or a waiting call when inline) feeds it with
``put()``, ``fragment_received()`` and, at the end, ``close()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, NoReturn, TypeVar

import anyio

from ._link import Link
from ._locks import Flag
from ._queue import MessageQueue, PartialMessage, QueueClosed
from .core.utf8 import Utf8Decoder
from .exceptions import ConcurrencyError
from .typing import Data

__all__ = ["MessageStream", "Receiver"]

FailInvalidUtf8 = Callable[[UnicodeDecodeError], Awaitable[NoReturn]]


class Receiver:
    """Messages received and not yet taken, and the calls that take them."""

    __slots__ = (
        "_incoming",
        "_link",
        "_message_in_hand",
        "_recv_in_progress",
        "all_taken",
        "messages",
    )

    def __init__(
        self,
        link: Link,
        max_queue: int | None | tuple[int | None, int | None],
    ) -> None:
        self._link = link
        self.messages: MessageQueue[Data | PartialMessage] = MessageQueue(max_queue)
        self._message_in_hand = False
        """A receive call handed out a message (or a fragment of one) and its task has
        not asked for the next one yet: the work on it is under way."""
        self._recv_in_progress = False
        self._incoming: PartialMessage | None = None
        """The fragmented message the reader is receiving, until its last fragment."""
        self.all_taken = Flag()
        """Set once the connection is closed, every message was taken and none is in
        hand (or once the owner says nobody will take any: see ``nobody_reads``)."""

    # ------------------------------------------------------- taking messages

    async def recv(self, decode: bool | None, fail: FailInvalidUtf8) -> Data:
        """``Connection.recv()``: the next whole message, converted as asked."""
        self.begin_receive()
        try:
            message = self.messages.get_nowait()
            if message is None:
                message = await self.next_in_queue()
            if type(message) is PartialMessage:
                message = await self._assemble(message)
            if decode is not None:
                message = await _convert(message, decode, fail)  # type: ignore[arg-type]
            self._message_in_hand = True
            return message  # type: ignore[return-value]
        except QueueClosed:
            self._link.raise_closed()
        except anyio.get_cancelled_exc_class():
            self._link.raise_if_released()
            raise
        finally:
            self._recv_in_progress = False

    async def next_in_queue(self) -> Data | PartialMessage:
        """Wait for the next message; inline, read the stream until one arrives."""
        read = self._link.read_inline
        if read is None:
            return await self.messages.get()
        while True:
            message = self.messages.get_nowait()
            if message is not None:
                return message
            if self.messages.closed:
                raise QueueClosed
            # Done as soon as a message is queued, whoever read it.
            await read(False, self.messages.__len__)

    async def _assemble(self, partial: PartialMessage) -> Data:
        """Wait for the last fragment of ``partial``; give it back to the queue if cancelled."""
        try:
            while not partial.complete:
                if partial.aborted:
                    raise self._link.closed_exception()
                await partial.wait()
        except anyio.get_cancelled_exc_class():
            self.messages.unget(partial)
            raise
        return partial.joined()

    # ---------------------------------------------------- the in-hand rule

    def begin_receive(self) -> None:
        """A receive call starts: one task at a time, and what it took before is done."""
        if self._recv_in_progress:
            raise ConcurrencyError("another task is already in recv() or recv_streaming()")
        self._recv_in_progress = True
        self._next_message_asked()

    def end_receive(self, *, in_hand: bool) -> None:
        """The receive call is over; ``in_hand``: it handed out (part of) a message."""
        self._recv_in_progress = False
        if in_hand:
            self._message_in_hand = True

    def hand_out(self) -> None:
        """A fragment of the streamed message was handed out: the work on it is under way."""
        self._message_in_hand = True

    def message_dropped(self) -> None:
        """A streamed message ended without its last fragment: nothing more is in hand."""
        self._next_message_asked()

    def _next_message_asked(self) -> None:
        """A receive call starts: the message handed out before is no longer in hand."""
        self._message_in_hand = False
        if self.messages.closed:
            self._check_all_taken()

    def _check_all_taken(self) -> None:
        if not self._message_in_hand and self.messages.closed and not len(self.messages):
            self.all_taken.set()

    # ---------------------------------------------------------- the reader

    async def put(self, message: Data, *, bounded: bool = True) -> None:
        """Queue a whole message (waiting for room when ``bounded``)."""
        await self.messages.put(message, bounded=bounded)

    async def fragment_received(self, data: str | bytes, fin: bool) -> None:
        """Add a fragment to the message under way; the first one takes a queue slot."""
        partial = self._incoming
        if partial is None:
            # A fragmented message starts: it takes one slot, however many fragments.
            partial = self._incoming = PartialMessage(text=isinstance(data, str))
            partial.add(data, fin)
            if not await self.messages.put(partial):
                partial.drop()  # nobody will read it: drop its fragments as they come
        else:
            partial.add(data, fin)
        if fin:
            self._incoming = None

    def reading_over(self) -> None:
        """Nobody will read any more: what arrives from now on is dropped, not queued."""
        self.messages.drop_all()

    def nobody_reads(self) -> None:
        """The one who took messages is gone (a server's handler returned): whatever is
        left will never be taken, so waiting for it is over."""
        self.reading_over()
        self.all_taken.set()

    def close(self) -> None:
        """The connection is over: no more messages; calls drain what is left, then raise."""
        if self._incoming is not None:
            self._incoming.abort()  # never complete: not a message
            self._incoming = None
        self.messages.close()
        self._check_all_taken()


async def _convert(message: Data, decode: bool, fail: FailInvalidUtf8) -> Data:
    """Apply ``recv(decode=...)`` to a whole message; not UTF-8 fails the connection."""
    if decode and type(message) is not str:
        try:
            return message.decode()  # type: ignore[union-attr]
        except UnicodeDecodeError as exc:
            await fail(exc)
    if not decode and type(message) is str:
        return message.encode()
    return message


_T = TypeVar("_T", str, bytes, "str | bytes")
_NEW, _STREAMING, _DONE = 0, 1, 2


class MessageStream(AsyncIterator[_T], Generic[_T]):
    """What ``recv_streaming()`` returns: the fragments of one message, as they arrive.

    A class rather than an async generator, so that leaving a loop early releases the
    message at once (when the iterator is dropped) instead of when the garbage
    collector finalizes a generator.
    """

    __slots__ = (
        "_decode",
        "_decoder",
        "_fail",
        "_link",
        "_partial",
        "_receiver",
        "_state",
        "_text",
    )

    def __init__(
        self, receiver: Receiver, link: Link, decode: bool | None, fail: FailInvalidUtf8
    ) -> None:
        self._receiver = receiver
        self._fail = fail
        self._link = link
        self._decode: bool | None = decode
        self._decoder: Utf8Decoder | None = None
        self._partial: PartialMessage | None = None
        self._state = _NEW
        self._text = False

    def __aiter__(self) -> MessageStream[_T]:
        return self

    async def __anext__(self) -> _T:
        if self._state == _NEW:
            fragment = await self._first()
        elif self._state == _DONE:
            raise StopAsyncIteration
        else:
            fragment = await self._next()
        return fragment  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop here: the rest of the message is dropped; the next ``recv()`` goes on after it."""
        self._release()

    def __del__(self) -> None:
        self._release()

    async def _first(self) -> Any:
        receiver = self._receiver
        receiver.begin_receive()
        try:
            item = receiver.messages.get_nowait()
            if item is None:
                item = await receiver.next_in_queue()
        except QueueClosed:
            receiver.end_receive(in_hand=False)
            self._state = _DONE
            self._link.raise_closed()
        except anyio.get_cancelled_exc_class():
            receiver.end_receive(in_hand=False)
            self._link.raise_if_released()
            raise
        if type(item) is PartialMessage:
            self._partial = item
            self._text = item.text
            self._state = _STREAMING
            return await self._take(item)
        self._state = _DONE
        receiver.end_receive(in_hand=True)
        self._text = type(item) is str
        return await self._converted(item, True)  # type: ignore[arg-type]

    async def _next(self) -> Any:
        partial = self._partial
        assert partial is not None
        while not partial.has_parts():
            if partial.aborted:
                self._release()
                self._receiver.message_dropped()  # nothing more will come of this one
                raise self._link.closed_exception()
            try:
                await partial.wait()
            except anyio.get_cancelled_exc_class():
                self._release()  # mid-message: the rest of it is dropped
                self._link.raise_if_released()
                raise
        return await self._take(partial)

    async def _take(self, partial: PartialMessage) -> Any:
        fragment = partial.take()
        self._receiver.hand_out()
        fin = partial.complete and not partial.has_parts()
        if fin:
            self._state = _DONE
            self._partial = None
            self._receiver.end_receive(in_hand=True)
        return await self._converted(fragment, fin)

    async def _converted(self, fragment: str | bytes, fin: bool) -> Any:
        decode = self._decode
        if decode is None or decode is self._text:
            return fragment
        if not decode:
            return fragment.encode()  # type: ignore[union-attr]
        if self._decoder is None:
            self._decoder = Utf8Decoder()
        try:
            return self._decoder.decode(fragment, fin)  # type: ignore[arg-type]
        except UnicodeDecodeError as exc:
            self._release()
            await self._fail(exc)

    def _release(self) -> None:
        """Give up the message under way, if any: its other fragments are dropped."""
        if self._state != _STREAMING:
            return
        self._state = _DONE
        if self._partial is not None:
            self._partial.drop()
            self._partial = None
        self._receiver.end_receive(in_hand=False)
