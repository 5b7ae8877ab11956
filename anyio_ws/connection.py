"""``Connection``: one WebSocket connection over any anyio byte stream.

The sans-I/O ``Protocol`` decides everything; this layer moves bytes. One reader task
(started by ``serve``/``connect`` in the connection's task group, never in ``__init__``)
reads the stream, feeds the protocol, writes its replies, and queues messages for
``recv()``. Writers share one lock, so the frames of one message never interleave.

Fragmented messages. The protocol reports the frames of a message sent in several
frames as they complete; the reader queues one ``PartialMessage`` for them (one slot of
``max_queue``), which ``recv()`` joins once complete and ``recv_streaming()`` hands out
fragment by fragment. Sending an iterable writes one frame per item, taking the send
lock per frame, so pings, pongs and close replies can go between fragments, while
``_sending_fragments`` keeps other messages out until the last fragment is sent.

The reader never raises: a broken transport, a protocol violation or a bug ends the
connection, and the cause is kept as ``__cause__`` of the ``ConnectionClosed`` that
every later operation raises.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, Generic, Literal, NoReturn, TypeVar, overload

import anyio
import anyio.abc
from anyio.abc import ByteStream, SocketAttribute

from ._options import parse_write_limit
from ._queue import MessageQueue, PartialMessage, QueueClosed
from ._streams import TRANSPORT_ERRORS, abort, address_of, half_close
from ._sync import Flag, SendLock
from .core.events import (
    BinaryFragment,
    BinaryMessage,
    PongReceived,
    TextFragment,
    TextMessage,
)
from .core.http import Request, Response
from .core.protocol import Protocol, State
from .core.utf8 import Utf8Decoder
from .exceptions import ConcurrencyError, ConnectionClosed, ConnectionClosedOK
from .typing import Data, DataLike, LoggerLike

__all__ = ["Connection", "MessageStream", "PongWaiter"]

_RECEIVE_SIZE = 65536


class PongWaiter:
    """What ``ping()`` returns: await it to get the latency once the pong arrives.

    Raises ``ConnectionClosed`` when the connection closes first.
    """

    __slots__ = ("_connection", "_done", "_latency", "data", "sent_at")

    def __init__(self, connection: Connection, data: bytes, sent_at: float) -> None:
        self._connection = connection
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
            await self._connection._wait_for(self._done)
        except anyio.get_cancelled_exc_class():
            self._connection._raise_if_released()
            raise
        if self._latency is None:
            raise self._connection._closed_exception()
        return self._latency

    def __await__(self) -> Generator[Any, None, float]:
        return self.wait().__await__()


class Connection:
    """A WebSocket connection: send and receive messages, ping, close.

    ``ServerConnection`` and ``ClientConnection`` are what users get; both can be
    subclassed and built through ``create_connection``. Construction has no side
    effect: the owner starts ``run()`` in the connection's task group.

    Args:
        stream: The transport, after the opening handshake.
        protocol: The sans-I/O protocol, built with the handshake's trailing bytes.
        request: The opening handshake request.
        response: The opening handshake response.
        max_queue: Most whole messages kept unread before reading pauses (``None``:
            no limit); reading resumes once a quarter are left, or give ``(high, low)``.
            Memory is bounded by ``max_queue * max_size``. While the queue is full
            nothing is read, so pings wait unanswered too.
        close_timeout: Seconds to wait for the closing handshake and the transport to
            close before dropping it (``None``: wait forever).
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011
            (``None``: pings are sent but never awaited).
        write_limit: Bytes buffered for writing above which ``send()`` waits and
            ``broadcast()`` skips the connection; or a ``(high, low)`` pair.
        logger: Logger for this connection.
    """

    def __init__(
        self,
        stream: ByteStream,
        protocol: Protocol,
        *,
        request: Request | None = None,
        response: Response | None = None,
        subprotocol: str | None = None,
        max_queue: int | None | tuple[int | None, int | None] = 16,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        write_limit: int | tuple[int, int | None] = 32768,
        logger: LoggerLike | None = None,
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self.request = request
        self.response = response
        self.subprotocol = subprotocol
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.write_limit = write_limit
        self._write_high, write_low = parse_write_limit(write_limit)
        set_write_limits = getattr(stream, "set_write_limits", None)
        if set_write_limits is not None:  # asyncio: the transport's own buffer
            set_write_limits(self._write_high, write_low)
        self._unsent = 0
        self._stream_buffer_size: Callable[[], int] | None = getattr(
            stream, "write_buffer_size", None
        )
        """Bytes of the write in progress that the stream has not taken yet."""
        self._flush_scheduled = False
        self.id = uuid.uuid4()
        self.logger: LoggerLike = logger or logging.getLogger("anyio_ws")
        self.latency = 0.0
        """Round-trip time of the last ping answered, in seconds."""

        protocol.stream_fragments = True  # recv_streaming() needs fragments as they come
        self._messages: MessageQueue[Data | PartialMessage] = MessageQueue(max_queue)
        self._message_in_hand = False
        """A receive call handed out a message (or a fragment of one) and its task has
        not asked for the next one yet: the work on it is under way."""
        self._incoming: PartialMessage | None = None
        """The fragmented message the reader is receiving, until its last fragment."""
        self._send_lock = SendLock()
        self._recv_in_progress = False
        self._pending_pings: dict[bytes, PongWaiter] = {}
        self._closed = Flag()
        self._transport_error: BaseException | None = None
        self._release_scope: anyio.CancelScope | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._inline = False
        """No reader task: the calls that wait for the peer read for themselves."""
        self._read_lock: anyio.Lock | None = None
        self._close_deadline: float | None = None
        self._keepalive_scope: anyio.CancelScope | None = None
        self._sending_fragments = False
        """True while ``send()`` writes a fragmented message: other messages wait for it
        (``broadcast()`` skips the connection); control frames may go between fragments."""
        self._fragments_sent: anyio.Event | None = None
        self.local_address = address_of(stream, SocketAttribute.local_address)
        self.remote_address = address_of(stream, SocketAttribute.remote_address)

    # --------------------------------------------------------------- state

    @property
    def state(self) -> State:
        """``OPEN``, ``CLOSING`` or ``CLOSED`` (as in the sans-I/O protocol)."""
        if self._closed.is_set():
            return State.CLOSED
        return self.protocol.state

    @property
    def close_code(self) -> int | None:
        """The close code the peer sent (1006 if none), once the connection is closed."""
        if not self._closed.is_set():
            return None
        return self._closed_exception().code

    @property
    def close_reason(self) -> str | None:
        """The close reason the peer sent, once the connection is closed."""
        if not self._closed.is_set():
            return None
        return self._closed_exception().reason

    # ------------------------------------------------------------- receive

    @overload
    async def recv(self, decode: None = None) -> Data: ...

    @overload
    async def recv(self, decode: Literal[True]) -> str: ...

    @overload
    async def recv(self, decode: Literal[False]) -> bytes: ...

    async def recv(self, decode: bool | None = None) -> Data:
        """Return the next message: ``str`` for text, ``bytes`` for binary.

        A fragmented message is returned whole, once its last fragment arrived.
        ``decode=False`` returns a text message as UTF-8 ``bytes``; ``decode=True``
        decodes a binary message to ``str`` and, as in websockets, fails the connection
        with 1007 (raising ``ConnectionClosedError``) when it is not valid UTF-8.

        Messages received before the connection closed are all returned first; then
        ``ConnectionClosed`` is raised. Cancelling a waiting ``recv()`` loses nothing.
        Two tasks calling it at once (or during ``recv_streaming()``) is a
        ``ConcurrencyError``.
        """
        if self._recv_in_progress:
            raise ConcurrencyError("another task is already in recv() or recv_streaming()")
        self._recv_in_progress = True
        self._next_message_asked()
        try:
            message = self._messages.get_nowait()
            if message is None:
                message = await self._next_in_queue()
            if type(message) is PartialMessage:
                message = await self._assemble(message)
            if decode is not None:
                message = await self._convert(message, decode)  # type: ignore[arg-type]
            self._message_in_hand = True
            return message  # type: ignore[return-value]
        except QueueClosed:
            self._raise_closed()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise
        finally:
            self._recv_in_progress = False

    @overload
    def recv_streaming(self, decode: None = None) -> MessageStream[Data]: ...

    @overload
    def recv_streaming(self, decode: Literal[True]) -> MessageStream[str]: ...

    @overload
    def recv_streaming(self, decode: Literal[False]) -> MessageStream[bytes]: ...

    def recv_streaming(self, decode: bool | None = None) -> MessageStream[Any]:
        """Iterate over the fragments of the next message as they arrive.

        ``async for fragment in ws.recv_streaming(): ...`` yields ``str`` fragments for
        a text message (a character split across frames comes whole in the next one)
        and ``bytes`` for binary; ``decode`` overrides it as in ``recv()``. A message
        in one frame is one fragment. Cancelling before the first fragment loses
        nothing; cancelling later, or leaving the loop early, drops the rest of that
        message (``aclose()`` the iterator to drop it at once): the next ``recv()``
        returns the message after it. Raises as ``recv()`` does.
        """
        return MessageStream(self, decode)

    async def _next_in_queue(self) -> Data | PartialMessage:
        """Wait for the next message; inline, read the stream until one arrives."""
        if not self._inline:
            return await self._messages.get()
        while True:
            message = self._messages.get_nowait()
            if message is not None:
                return message
            if self._messages.closed:
                raise QueueClosed
            # Done as soon as a message is queued, whoever read it.
            await self._read_inline(wait_for_room=False, done=self._messages.__len__)

    async def _assemble(self, partial: PartialMessage) -> Data:
        """Wait for the last fragment of ``partial``; give it back to the queue if cancelled."""
        try:
            while not partial.complete:
                if partial.aborted:
                    raise self._closed_exception()
                await partial.wait()
        except anyio.get_cancelled_exc_class():
            self._messages.unget(partial)
            raise
        return partial.joined()

    async def _convert(self, message: Data, decode: bool) -> Data:
        """Apply ``recv(decode=...)`` to a whole message."""
        if decode and type(message) is not str:
            try:
                return message.decode()  # type: ignore[union-attr]
            except UnicodeDecodeError as exc:
                await self._fail_invalid_utf8(exc)
        if not decode and type(message) is str:
            return message.encode()
        return message

    async def _fail_invalid_utf8(self, exc: UnicodeDecodeError) -> NoReturn:
        """A binary message read with ``decode=True`` is not UTF-8: fail with 1007."""
        await self._fail(1007, "invalid UTF-8 in a message decoded as text", wait=True)
        raise self._closed_exception() from exc

    async def _fail(self, code: int, reason: str, *, wait: bool = False) -> None:
        """Fail the connection with ``code`` (shielded, bounded by ``close_timeout``).

        With ``wait``, also wait (within the same bound) until it is closed, reading
        for ourselves when inline, and drop the transport of a peer that does not
        answer in time, as ``close()`` does.
        """
        self._messages.drop_when_full()
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(_timeout(self.close_timeout)):
                try:
                    async with self._send_lock:
                        if self.protocol.state is State.OPEN:
                            self.protocol.fail(code, reason)
                        await self._write_pending()
                except ConnectionClosed:
                    pass
                if wait:
                    await self._wait_until_closed(wait_for_room=False)
            if wait:
                await self._drop_if_still_open()
        if not wait and self._task_group is not None and not self._closed.is_set():
            # The reader may wait in a receive with no deadline: bound the handshake here.
            self._task_group.start_soon(self._drop_unless_closed)

    async def _drop_unless_closed(self) -> None:
        """Drop the transport unless the connection is closed within ``close_timeout``."""
        with anyio.move_on_after(_timeout(self.close_timeout)):
            await self._closed.wait()
        await self._drop_if_still_open()

    def __aiter__(self) -> AsyncIterator[Data]:
        return self

    async def __anext__(self) -> Data:
        """The next message; iteration ends quietly on a normal closure (1000/1001).

        A plain method rather than an async generator, so that leaving a loop early
        leaves nothing for the garbage collector to finalize.
        """
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    # ---------------------------------------------------------------- send

    async def send(
        self,
        message: DataLike | Iterable[DataLike] | AsyncIterable[DataLike],
        *,
        text: bool | None = None,
    ) -> None:
        """Send a message: ``str`` as text, bytes-like as binary.

        ``text=True`` sends bytes as a text frame (they must be UTF-8: nothing checks);
        ``text=False`` sends a ``str`` as binary, UTF-8 encoded.

        An iterable or async iterable of ``str`` or of bytes-like sends one fragmented
        message, one frame per item (an async iterable ends with an empty final frame,
        so that each fragment leaves as soon as it is produced). An empty iterable sends
        nothing. Other messages wait until the last fragment is sent; pings, pongs and
        close replies do not. If the iterable raises, mixes ``str`` and bytes, or the
        send is cancelled once a fragment is on the wire, the message cannot be
        finished: the connection is closed with 1011 and the exception propagates.

        Safe to call from several tasks: each message goes out whole. Raises
        ``ConnectionClosed`` once the connection is closing or closed, and
        ``TypeError`` for other types (a ``dict`` included, a likely mistake).
        """
        if isinstance(message, str):
            payload: bytes = message.encode()
            as_text = text is not False
        elif isinstance(message, (bytes, bytearray, memoryview)):
            payload = bytes(message)
            as_text = text is True
        elif isinstance(message, Mapping):
            raise TypeError("message is a mapping: send a str, bytes, or an iterable of them")
        elif isinstance(message, Iterable):
            await self._send_fragments(_SyncFragments(iter(message)), text, lookahead=True)
            return
        elif isinstance(message, AsyncIterable):
            await self._send_fragments(aiter(message), text, lookahead=False)
            return
        else:
            raise TypeError(
                "message must be str, bytes-like, or an iterable or async iterable of them,"
                f" not {type(message).__name__}"
            )
        try:
            while True:
                async with self._send_lock:
                    if self.protocol.state is State.OPEN and not self._sending_fragments:
                        if as_text:
                            self.protocol.send_text(payload)
                        else:
                            self.protocol.send_binary(payload)
                        await self._write_pending()
                        return
                    if self.protocol.state is not State.OPEN:
                        await self._write_pending()  # replies the reader left to the lock holder
                        raise self._closed_exception()
                await self._wait_fragments_sent()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise

    async def _wait_fragments_sent(self) -> None:
        """Wait until the fragmented message under way is sent (or the connection ends)."""
        if self._fragments_sent is None:
            self._fragments_sent = anyio.Event()
        await self._fragments_sent.wait()

    async def _send_fragments(
        self, fragments: AsyncIterator[DataLike], text: bool | None, *, lookahead: bool
    ) -> None:
        """Send the items of ``fragments`` as one message, one frame each.

        With ``lookahead`` (a plain iterable: the next item costs no wait) the last item
        is sent with the FIN bit; otherwise each item leaves as soon as it is produced
        and an empty final frame ends the message. An async iterator left unfinished
        (error, cancellation, closure) is closed, so its cleanup runs now.
        """
        try:
            await self._send_fragments_of(fragments, text, lookahead)
        except BaseException:
            aclose = getattr(fragments, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    with anyio.move_on_after(_timeout(self.close_timeout)):
                        await aclose()
            raise

    async def _send_fragments_of(
        self, fragments: AsyncIterator[DataLike], text: bool | None, lookahead: bool
    ) -> None:
        try:
            try:
                item = await anext(fragments)
            except StopAsyncIteration:
                return
            while self._sending_fragments:  # another task's fragmented message
                if self.protocol.state is not State.OPEN:
                    raise self._closed_exception()
                await self._wait_fragments_sent()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise
        if not isinstance(item, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"fragments must be str or bytes-like, not {type(item).__name__}")
        is_str = isinstance(item, str)
        as_text = is_str if text is None else text
        self._sending_fragments = True
        started = False
        try:
            while True:
                if lookahead:
                    following = await anext(fragments, _END)
                    if following is not _END:
                        _check_same_kind(following, is_str)
                    fin = following is _END
                else:
                    fin = False
                await self._send_frame(item, as_text, first=not started, fin=fin)
                started = True
                if not lookahead:
                    following = await anext(fragments, _END)
                    if following is _END:
                        await self._send_frame(b"", as_text, first=False, fin=True)
                        return
                    _check_same_kind(following, is_str)
                if following is _END:
                    return
                item = following
        except BaseException:
            if started:
                await self._fail(1011, "error in fragmented message")  # it cannot be finished
            raise
        finally:
            self._sending_fragments = False
            if self._fragments_sent is not None:
                self._fragments_sent.set()
                self._fragments_sent = None

    async def _send_frame(self, data: DataLike, text: bool, *, first: bool, fin: bool) -> None:
        """Write one frame of the fragmented message under way."""
        payload = data.encode() if isinstance(data, str) else bytes(data)
        try:
            async with self._send_lock:
                if self.protocol.state is not State.OPEN:
                    await self._write_pending()
                    raise self._closed_exception()
                if not first:
                    self.protocol.send_continuation(payload, fin)
                elif text:
                    self.protocol.send_text(payload, fin)
                else:
                    self.protocol.send_binary(payload, fin)
                await self._write_pending()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise

    async def ping(self, data: DataLike | None = None) -> PongWaiter:
        """Send a ping; return a ``PongWaiter`` to await for the latency.

        ``data`` defaults to 4 random bytes; a ``str`` is UTF-8 encoded. Pinging again
        with the payload of a ping still waiting is a ``ConcurrencyError``.
        """
        payload = os.urandom(4) if data is None else _as_bytes(data)
        if payload in self._pending_pings:
            raise ConcurrencyError("a ping with the same payload is already waiting")
        try:
            async with self._send_lock:
                if self.protocol.state is not State.OPEN:
                    await self._write_pending()  # replies the reader left to the lock holder
                    raise self._closed_exception()
                self.protocol.send_ping(payload)
                waiter = PongWaiter(self, payload, anyio.current_time())
                self._pending_pings[payload] = waiter
                await self._write_pending()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise
        return waiter

    async def pong(self, data: DataLike = b"") -> None:
        """Send an unsolicited pong (a unidirectional heartbeat)."""
        payload = _as_bytes(data)
        try:
            async with self._send_lock:
                if self.protocol.state is not State.OPEN:
                    await self._write_pending()  # replies the reader left to the lock holder
                    raise self._closed_exception()
                self.protocol.send_pong(payload)
                await self._write_pending()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise

    # ----------------------------------------------------------- broadcast

    def write_buffer_size(self) -> int:
        """Bytes that ``send()`` or ``broadcast()`` accepted and the kernel has not taken yet.

        That is: frames waiting for a write, the rest of the write in progress, and
        on asyncio the transport's own buffer (bounded by ``write_limit`` there).
        """
        pending = self._unsent
        for chunk in self.protocol._output:
            pending += len(chunk)
        if self._stream_buffer_size is not None:
            pending += self._stream_buffer_size()
        return pending

    def _broadcast_refusal(self) -> str | None:
        """Why a broadcast message cannot be queued now, or ``None`` if it can."""
        if self.protocol.state is not State.OPEN:
            return "connection is not open"
        if self._sending_fragments:
            return "a fragmented message is being sent"
        if self._task_group is None:
            return "connection is not running"
        if self.write_buffer_size() > self._write_high:
            return "write buffer over write_limit"
        return None

    def _send_nowait(self, payload: bytes, text: bool) -> None:
        """Queue one message without waiting; a flush task (or the lock holder) writes it.

        Only after ``_broadcast_refusal()`` said yes: nothing in between may yield.
        """
        if text:
            self.protocol.send_text(payload)
        else:
            self.protocol.send_binary(payload)
        # Whoever holds the send lock writes everything queued before releasing it.
        if not self._send_lock.locked() and not self._flush_scheduled:
            assert self._task_group is not None
            self._flush_scheduled = True
            self._task_group.start_soon(self._flush_queued)

    async def _flush_queued(self) -> None:
        try:
            async with self._send_lock:
                self._flush_scheduled = False
                await self._write_pending()
        except ConnectionClosed:
            pass  # the reader sees the broken transport and ends the connection
        finally:
            self._flush_scheduled = False

    async def _wait_writable(self) -> None:
        """Wait until a broadcast message can be queued (no fragmented send, room left)."""
        while self._broadcast_refusal() not in (None, "connection is not open"):
            if self._task_group is None:
                return
            # Writers hand the lock on in order: once we hold it, what was queued is out.
            await self._send_lock.acquire()
            self._send_lock.release()
            if self._broadcast_refusal() is not None:
                await anyio.sleep(0.01)  # a fragmented send, or the kernel still full

    # --------------------------------------------------------------- close

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake, then close the transport.

        Waits at most ``close_timeout`` for the peer, then drops the transport.
        Closing an already closed connection does nothing. Safe to call from a
        cancelled scope: the handshake runs shielded, bounded by the timeout.
        """
        # Messages that still fit in the queue are kept for recv(); the others are
        # dropped, so that the reader goes on to the peer's close frame.
        self._messages.drop_when_full()
        with anyio.CancelScope(shield=True):
            # The timeout covers the write too: a peer that stops reading, or another
            # task's send() stuck on a full buffer, must not block close() for ever.
            with anyio.move_on_after(_timeout(self.close_timeout)):
                try:
                    async with self._send_lock:
                        if self.protocol.state is State.OPEN and self._sending_fragments:
                            # The message under way can never be finished (websockets: same).
                            self.protocol.fail(1011, "close during fragmented message")
                        elif self.protocol.state is State.OPEN:
                            self.protocol.send_close(code, reason)
                        await self._write_pending()  # also replies the reader left to us
                except ConnectionClosed:
                    pass  # the transport broke; the reader sees it and finishes
                await self._wait_until_closed(wait_for_room=False)
            await self._drop_if_still_open()

    async def _drop_if_still_open(self) -> None:
        """Once ``close_timeout`` is over, drop the transport of a peer that did not end
        the closing handshake, and wait for the reader (or ourselves, inline) to see it."""
        if not self._closed.is_set():
            await abort(self.stream)
            await self._wait_until_closed(wait_for_room=False)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed, transport included."""
        try:
            await self._wait_until_closed()
        except anyio.get_cancelled_exc_class():
            self._raise_if_released()
            raise

    # ------------------------------------------------------ the reader task

    def start_inline(self) -> None:
        """Run without tasks: ``recv()``, ``close()``, ``wait_closed()`` and pong waiters
        read the stream themselves, so the connection holds no task group.

        For ``async for ws in connect(uri)`` without a task group, whose body may be
        left at any point. What it gives up: no keepalive; the peer's pings are only
        answered while a call reads; ``recv_streaming()`` yields whole messages;
        ``broadcast()`` skips the connection.
        """
        self._inline = True
        self.protocol.stream_fragments = False

    async def _wait_until_closed(self, *, wait_for_room: bool = True) -> None:
        await self._wait_for(self._closed, wait_for_room=wait_for_room)

    async def _wait_for(self, event: Flag | anyio.Event, *, wait_for_room: bool = True) -> None:
        """Wait for ``event``; inline, read the stream until it is set."""
        if not self._inline:
            await event.wait()
            return
        while not event.is_set():
            await self._read_inline(wait_for_room=wait_for_room, done=event.is_set)

    async def _read_inline(self, *, wait_for_room: bool, done: Callable[[], object]) -> None:
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
            protocol = self.protocol
            if self._closed.is_set() or done():
                return
            # Frames that came behind the handshake were parsed when the protocol was
            # built: their events and replies come first.
            if await self._process_inline():
                return
            if wait_for_room:
                await self._messages.wait_for_room()
            if protocol.close_expected() and self._close_deadline is None:
                self._close_deadline = anyio.current_time() + _timeout(self.close_timeout)
            await self._receive_into_protocol(self._close_deadline)
            await self._process_inline()

    async def _process_inline(self) -> bool:
        """Queue the protocol's events, write its replies; whether anything happened."""
        protocol = self.protocol
        with anyio.CancelScope(shield=True):
            events = protocol.events_received()
            await self._dispatch(events, bounded=False)
            if self._replies_due():
                await self._flush_replies()
            if _is_closed(protocol):
                await self._finish()
                return True
        return bool(events)

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the reader (and the keepalive, if on) in the connection's task group."""
        self._task_group = task_group
        task_group.start_soon(self.run)
        if self.ping_interval is not None:
            task_group.start_soon(self._keepalive)

    async def _keepalive(self) -> None:
        """Ping every ``ping_interval``; close with 1011 when a pong is ``ping_timeout`` late.

        While the queue of unread messages is full nothing is read, pongs included: a
        handler that stops reading for longer than ``ping_timeout`` loses its connection.
        """
        assert self.ping_interval is not None
        with anyio.CancelScope() as scope:
            self._keepalive_scope = scope
            if self._closed.is_set():
                return
            while True:
                await anyio.sleep(self.ping_interval)
                # The send is bounded too: a peer that stopped reading is as dead as
                # one that stopped answering.
                with anyio.move_on_after(_timeout(self.ping_timeout)):
                    try:
                        waiter = await self.ping()
                        if self.ping_timeout is not None:
                            await waiter
                    except ConnectionClosed:
                        return
                    continue
                if self.state is not State.OPEN:
                    return
                self.logger.info("keepalive ping timeout")
                await self.close(1011, "keepalive ping timeout")
                return

    async def run(self) -> None:
        """Read until the connection is over; never raises. Run in the connection's group.

        Cancelled from outside (its owner's scope was cancelled) while the connection is
        open, it first runs the closing handshake with ``_close_code_when_cancelled()``,
        shielded and bounded by ``close_timeout``, then lets the cancellation through.
        """
        try:
            try:
                await self._read_frames()
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    await self._close_when_cancelled()
                raise
        except Exception as exc:
            self.logger.exception("unexpected error in the connection reader")
            self._transport_error = self._transport_error or exc
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()
        await self._after_closed()

    def _close_code_when_cancelled(self) -> int | None:
        """The close code to send when the reader is cancelled; ``None``: drop the transport."""
        return None

    async def _close_when_cancelled(self) -> None:
        code = self._close_code_when_cancelled()
        if code is None or self.protocol.state is State.CLOSED:
            return
        # Open: send the close frame. Closing already (close() sent it): the peer's
        # answer is still to be read, or the connection would end as 1006.
        with anyio.move_on_after(_timeout(self.close_timeout)):
            try:
                async with self._send_lock:
                    if self.protocol.state is State.OPEN:
                        self.protocol.send_close(code)
                    await self._write_pending()
            except ConnectionClosed:
                return
            await self._read_frames()  # until the peer's close frame, or close_timeout

    async def _read_frames(self) -> None:
        protocol = self.protocol
        messages = self._messages
        receive = self.stream.receive
        close_deadline: float | None = None
        # Frames that came behind the handshake were parsed when the protocol was built:
        # their replies and events come first.
        await self._flush_replies()
        await self._dispatch(protocol.events_received())
        while protocol.state is not State.CLOSED:
            if protocol.close_expected() and close_deadline is None:
                close_deadline = anyio.current_time() + _timeout(self.close_timeout)
            if close_deadline is None:
                try:
                    data = await receive(_RECEIVE_SIZE)
                except TRANSPORT_ERRORS as exc:
                    self._transport_failed(exc)
                else:
                    protocol.receive_data(data)
            else:
                await self._receive_into_protocol(close_deadline)
            if self._replies_due():
                await self._flush_replies()
            events = protocol.events_received()
            if events:
                if len(events) == 1 and type(events[0]) in _MESSAGE_TYPES:
                    await messages.put(events[0].data)  # type: ignore[union-attr]
                else:
                    await self._dispatch(events)

    def _replies_due(self) -> bool:
        """Whether the reader writes the protocol's replies now, after a read.

        Whoever holds the send lock writes them before releasing it; but once too many
        wait (a ping flood while a send() is stuck on a peer that does not read), the
        reader waits for the lock too, and so stops reading.
        """
        return (
            self.protocol.state is State.CLOSED
            or not self._send_lock.locked()
            or len(self.protocol._output) >= _MAX_PENDING_REPLIES
        )

    async def _receive_into_protocol(self, close_deadline: float | None) -> None:
        """Receive one chunk and feed it to the protocol: data, EOF, or a transport error.

        Past ``close_deadline`` (the peer did not finish the closing handshake in time)
        the transport is dropped.
        """
        try:
            with anyio.fail_after(
                None if close_deadline is None else close_deadline - anyio.current_time()
            ):
                data = await self.stream.receive(_RECEIVE_SIZE)
        except TimeoutError:
            await abort(self.stream)
            self.protocol.receive_eof()
        except TRANSPORT_ERRORS as exc:
            self._transport_failed(exc)
        else:
            self.protocol.receive_data(data)

    def _transport_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, anyio.EndOfStream):
            self._transport_error = self._transport_error or exc
        self.protocol.receive_eof()

    async def _dispatch(self, events: list[Any], *, bounded: bool = True) -> None:
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                await self._messages.put(event.data, bounded=bounded)
            elif kind is TextFragment or kind is BinaryFragment:
                await self._fragment_received(event.data, event.fin)
            elif kind is PongReceived:
                self._pong_received(event.data)

    async def _fragment_received(self, data: str | bytes, fin: bool) -> None:
        """Add a fragment to the message under way; the first one takes a queue slot."""
        partial = self._incoming
        if partial is None:
            # A fragmented message starts: it takes one slot, however many fragments.
            partial = self._incoming = PartialMessage(text=isinstance(data, str))
            partial.add(data, fin)
            if not await self._messages.put(partial):
                partial.drop()  # nobody will read it: drop its fragments as they come
        else:
            partial.add(data, fin)
        if fin:
            self._incoming = None

    def _pong_received(self, data: bytes) -> None:
        """Resolve the ping with this payload, and every ping sent before it."""
        waiter = self._pending_pings.get(data)
        if waiter is None:
            return
        now = anyio.current_time()
        for payload in list(self._pending_pings):
            earlier = self._pending_pings.pop(payload)
            earlier._resolve(now)
            if payload == data:
                break
        self.latency = now - waiter.sent_at

    async def _flush_replies(self) -> None:
        """Write what the protocol queued (pongs, close frames, EOF), if anything."""
        if not self.protocol._output:
            return
        try:
            async with self._send_lock:
                await self._write_pending()
        except ConnectionClosed:
            # The write failed: _write_pending kept the transport error and dropped it.
            self.protocol.receive_eof()
            self.protocol.data_to_send()

    async def _write_pending(self) -> None:
        """Write the protocol's output; call with the send lock held.

        Loops until the output is empty, so replies the reader queued meanwhile go out
        before the lock is released. An interrupted write leaves a partial frame on the
        wire, so the transport is dropped rather than reused.
        """
        stream = self.stream
        protocol = self.protocol
        while True:
            chunks = protocol.data_to_send()
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
                if isinstance(exc, TRANSPORT_ERRORS):
                    self._transport_error = self._transport_error or exc
                await abort(stream)
                if isinstance(exc, TRANSPORT_ERRORS):
                    raise self._closed_exception() from exc
                raise

    async def _finish(self) -> None:
        """The connection is over: close the transport, wake everyone who waits."""
        if self.protocol.state is not State.CLOSED:
            self.protocol.receive_eof()
            self.protocol.data_to_send()
        await abort(self.stream)
        self._closed.set()
        if self._keepalive_scope is not None:
            self._keepalive_scope.cancel()
        if self._incoming is not None:
            self._incoming.abort()  # never complete: not a message
            self._incoming = None
        if self._fragments_sent is not None:
            self._fragments_sent.set()  # senders waiting for fragments see the closure
            self._fragments_sent = None
        self._messages.close()
        self._check_all_taken()
        for waiter in self._pending_pings.values():
            waiter._abandon()
        self._pending_pings.clear()

    async def _after_closed(self) -> None:
        """Hook for subclasses, run in the reader task once the connection is closed."""

    def _reading_over(self) -> None:
        """Nobody will read any more (the handler or the client's block is over):
        what arrives from now on is dropped instead of queued."""
        self._messages.drop_all()

    def _next_message_asked(self) -> None:
        """A receive call starts: the message handed out before is no longer in hand."""
        self._message_in_hand = False
        if self._closed.is_set():
            self._check_all_taken()

    def _check_all_taken(self) -> None:
        if not self._message_in_hand and self._messages.closed and not len(self._messages):
            self._all_messages_taken()

    def _all_messages_taken(self) -> None:
        """Hook for subclasses: closed, every message taken, and none is still in hand."""

    # ------------------------------------------------------------- helpers

    def _closed_exception(self) -> ConnectionClosed:
        exc = self.protocol.close_exc()
        if exc.__cause__ is None and self._transport_error is not None:
            exc.__cause__ = self._transport_error
        return exc

    def _raise_if_released(self) -> None:
        """Turn our own end-of-connection cancellation into ``ConnectionClosed``."""
        scope = self._release_scope
        if scope is not None and scope.cancel_called and self._closed.is_set():
            self._raise_closed()

    def _raise_closed(self) -> NoReturn:
        """Raise ``_closed_exception()`` from within an ``except`` block: its cause (the
        protocol error, the transport error) is kept, the exception being handled hidden."""
        exc = self._closed_exception()
        raise exc from exc.__cause__

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.state.name}>"


_MESSAGE_TYPES = (TextMessage, BinaryMessage)
_T = TypeVar("_T", str, bytes, "str | bytes")


class MessageStream(AsyncIterator[_T], Generic[_T]):
    """What ``recv_streaming()`` returns: the fragments of one message, as they arrive.

    A class rather than an async generator, so that leaving a loop early releases the
    message at once (when the iterator is dropped) instead of when the garbage
    collector finalizes a generator.
    """

    __slots__ = ("_connection", "_decode", "_decoder", "_partial", "_state", "_text")

    def __init__(self, connection: Connection, decode: bool | None) -> None:
        self._connection: Connection = connection
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
        connection = self._connection
        if connection._recv_in_progress:
            raise ConcurrencyError("another task is already in recv() or recv_streaming()")
        connection._recv_in_progress = True
        connection._next_message_asked()
        try:
            item = connection._messages.get_nowait()
            if item is None:
                item = await connection._next_in_queue()
        except QueueClosed:
            connection._recv_in_progress = False
            self._state = _DONE
            connection._raise_closed()
        except anyio.get_cancelled_exc_class():
            connection._recv_in_progress = False
            connection._raise_if_released()
            raise
        if type(item) is PartialMessage:
            self._partial = item
            self._text = item.text
            self._state = _STREAMING
            return await self._take(item)
        self._state = _DONE
        connection._recv_in_progress = False
        connection._message_in_hand = True
        self._text = type(item) is str
        return await self._converted(item, True)  # type: ignore[arg-type]

    async def _next(self) -> Any:
        partial = self._partial
        assert partial is not None
        connection = self._connection
        while not partial.has_parts():
            if partial.aborted:
                self._release()
                connection._next_message_asked()  # nothing more will come of this one
                raise connection._closed_exception()
            try:
                await partial.wait()
            except anyio.get_cancelled_exc_class():
                self._release()  # mid-message: the rest of it is dropped
                connection._raise_if_released()
                raise
        return await self._take(partial)

    async def _take(self, partial: PartialMessage) -> Any:
        fragment = partial.take()
        self._connection._message_in_hand = True
        fin = partial.complete and not partial.has_parts()
        if fin:
            self._state = _DONE
            self._partial = None
            self._connection._recv_in_progress = False
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
            await self._connection._fail_invalid_utf8(exc)

    def _release(self) -> None:
        """Give up the message under way, if any: its other fragments are dropped."""
        if self._state != _STREAMING:
            return
        self._state = _DONE
        if self._partial is not None:
            self._partial.drop()
            self._partial = None
        self._connection._recv_in_progress = False


_NEW, _STREAMING, _DONE = 0, 1, 2
_END: Any = object()  # marks the end of an iterable of fragments


def _check_same_kind(item: object, is_str: bool) -> None:
    """All fragments of one message are ``str``, or all bytes-like."""
    if is_str:
        ok = isinstance(item, str)
    else:
        ok = isinstance(item, (bytes, bytearray, memoryview))
    if not ok:
        raise TypeError("fragments of one message must all be str or all bytes-like")


class _SyncFragments(AsyncIterator[DataLike]):
    """A plain iterator seen as an async one (for one code path for both kinds)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterator[DataLike]) -> None:
        self._items = items

    async def __anext__(self) -> DataLike:
        try:
            return next(self._items)
        except StopIteration:
            raise StopAsyncIteration from None


def _as_bytes(data: DataLike) -> bytes:
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"data must be str or bytes-like, not {type(data).__name__}")


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


_WRITE_JOIN_LIMIT = 65536
_MAX_PENDING_REPLIES = 32
"""Replies (pongs, mostly) left to the send lock's holder above which the reader stops
reading until they are written: what a ping flood can make us hold."""


def _is_closed(protocol: Protocol) -> bool:
    # A function, because mypy keeps the loop condition's narrowing across calls.
    return protocol.state is State.CLOSED


def _timeout(value: float | None) -> float:
    return float("inf") if value is None else value
