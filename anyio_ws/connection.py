"""``Connection``: one WebSocket connection over any anyio byte stream.

The sans-I/O ``Protocol`` decides everything; this layer moves bytes. One reader task
(started by ``serve``/``connect`` in the connection's task group, never in ``__init__``)
reads the stream, feeds the protocol, writes its replies, and queues messages for
``recv()``.

``Connection`` is the public face over parts that each own one thing: the receive side
(``_receiving.Receiver``: the queue, ``recv()``, ``recv_streaming()``), the send side
(``_sending.Sender``: the lock, the writes, ``broadcast()``'s non-blocking path),
fragmented sends (``_fragments``), pings (``_pings``) and the reader (``_reader``, in
its task or inline). They share a ``_link.Link``: the transport, the protocol, and how
the connection ended. What stays here is the public API, closing, and the hooks
``ServerConnection`` and ``ClientConnection`` override.

The reader never raises: a broken transport, a protocol violation or a bug ends the
connection, and the cause is kept as ``__cause__`` of the ``ConnectionClosed`` that
every later operation raises.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, NoReturn, overload

import anyio
import anyio.abc
from anyio.abc import ByteStream, SocketAttribute

from . import _closing
from ._fragments import FragmentedSend, SyncFragments
from ._link import Link
from ._pings import Keepalive, Pings, PongWaiter
from ._reader import Reader
from ._receiving import MessageStream, Receiver
from ._sending import Refusal, Sender
from ._streams import address_of
from .core.frames import PreparedMessage
from .core.http import Request, Response
from .core.protocol import Protocol, State
from .exceptions import ConnectionClosed, ConnectionClosedOK
from .typing import Data, DataLike, LoggerLike

__all__ = ["Connection", "MessageStream", "PongWaiter", "Refusal"]


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
        self.request = request
        self.response = response
        self.subprotocol = subprotocol
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.write_limit = write_limit
        self._link = link = Link(stream, protocol, close_timeout)
        self._sender = Sender(link, write_limit)
        self.id = uuid.uuid4()
        self.logger: LoggerLike = logger or logging.getLogger("anyio_ws")
        protocol.stream_fragments = True  # recv_streaming() needs fragments as they come
        self._receiver = Receiver(link, max_queue)
        self._reader = Reader(link, self._receiver, self._sender)
        self.local_address = address_of(stream, SocketAttribute.local_address)
        self.remote_address = address_of(stream, SocketAttribute.remote_address)

    # --------------------------------------------------------------- state

    @property
    def stream(self) -> ByteStream:
        """The transport."""
        return self._link.stream

    @stream.setter
    def stream(self, stream: ByteStream) -> None:
        self._link.stream = stream

    @property
    def protocol(self) -> Protocol:
        """The sans-I/O protocol that decides what is sent and what events mean."""
        return self._link.protocol

    @protocol.setter
    def protocol(self, protocol: Protocol) -> None:
        self._link.protocol = protocol

    @property
    def state(self) -> State:
        """``OPEN``, ``CLOSING`` or ``CLOSED`` (as in the sans-I/O protocol)."""
        if self._link.closed.is_set():
            return State.CLOSED
        return self.protocol.state

    @property
    def close_code(self) -> int | None:
        """The close code the peer sent (1006 if none), once the connection is closed."""
        if not self._link.closed.is_set():
            return None
        return self._link.closed_exception().code

    @property
    def close_reason(self) -> str | None:
        """The close reason the peer sent, once the connection is closed."""
        if not self._link.closed.is_set():
            return None
        return self._link.closed_exception().reason

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered, in seconds (0 before any)."""
        pings = self._reader.pings
        return 0.0 if pings is None else pings.latency

    @property
    def close_timeout(self) -> float | None:
        """Seconds to wait for the closing handshake before dropping the transport."""
        return self._link.close_timeout

    @close_timeout.setter
    def close_timeout(self, value: float | None) -> None:
        self._link.close_timeout = value

    @property
    def _release_scope(self) -> anyio.CancelScope | None:
        """The scope cancelled once the connection is over and its messages taken."""
        return self._link.release_scope

    @_release_scope.setter
    def _release_scope(self, scope: anyio.CancelScope | None) -> None:
        self._link.release_scope = scope

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
        return await self._receiver.recv(decode, self._fail_invalid_utf8)

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
        return MessageStream(self._receiver, self._link, decode, self._fail_invalid_utf8)

    def __aiter__(self) -> AsyncIterator[Data]:
        return self

    async def __anext__(self) -> Data:
        """The next message; iteration ends quietly on a normal closure (1000/1001).

        A plain method rather than an async generator, so that leaving a loop early
        leaves nothing for the garbage collector to finalize.
        """
        try:
            return await self._receiver.recv(None, self._fail_invalid_utf8)
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    async def _fail_invalid_utf8(self, exc: UnicodeDecodeError) -> NoReturn:
        """A binary message read with ``decode=True`` is not UTF-8: fail with 1007."""
        await self._fail(1007, "invalid UTF-8 in a message decoded as text", wait=True)
        raise self._link.closed_exception() from exc

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
            fragments = SyncFragments(iter(message))
            await self._send_fragments(fragments, text, lookahead=True)
            return
        elif isinstance(message, AsyncIterable):
            await self._send_fragments(aiter(message), text, lookahead=False)
            return
        else:
            raise TypeError(
                "message must be str, bytes-like, or an iterable or async iterable of them,"
                f" not {type(message).__name__}"
            )
        protocol = self.protocol
        queue = protocol.send_text if as_text else protocol.send_binary
        await self._sender.send_frames(queue, payload, after_fragments=True)

    async def _send_fragments(
        self, fragments: AsyncIterator[DataLike], text: bool | None, *, lookahead: bool
    ) -> None:
        send = FragmentedSend(self._sender, self._link, self._fail)
        await send.send(fragments, text, lookahead=lookahead)

    async def ping(self, data: DataLike | None = None) -> PongWaiter:
        """Send a ping; return a ``PongWaiter`` to await for the latency.

        ``data`` defaults to 4 random bytes; a ``str`` is UTF-8 encoded. Pinging again
        with the payload of a ping still waiting is a ``ConcurrencyError``.
        """
        payload = os.urandom(4) if data is None else _as_bytes(data)
        pings = self._reader.pings
        if pings is None:
            pings = self._reader.pings = Pings(self._link)
        pings.check_free(payload)
        return await self._sender.send_frames(self._queue_ping, payload)

    def _queue_ping(self, payload: bytes) -> PongWaiter:
        pings = self._reader.pings
        assert pings is not None
        pings.check_free(payload)  # again, under the lock: another ping() may have won
        self.protocol.send_ping(payload)
        return pings.sent(payload)

    async def pong(self, data: DataLike = b"") -> None:
        """Send an unsolicited pong (a unidirectional heartbeat)."""
        await self._sender.send_frames(self.protocol.send_pong, _as_bytes(data))

    # ----------------------------------------------------------- broadcast

    def write_buffer_size(self) -> int:
        """Bytes that ``send()`` or ``broadcast()`` accepted and the kernel has not taken yet.

        That is: frames waiting for a write, the rest of the write in progress, and
        on asyncio the transport's own buffer (bounded by ``write_limit`` there).
        """
        return self._sender.buffer_size()

    def try_send(
        self, payload: bytes, text: bool, prepared: PreparedMessage | None = None
    ) -> Refusal | None:
        """Queue a message without waiting (``broadcast()``), or say why it cannot.

        ``prepared``: the same message, encoded once for all the connections that
        encode it alike (``Protocol.send_prepared``).
        """
        return self._sender.try_send(payload, text, prepared)

    async def wait_writable(self) -> None:
        """Wait until ``try_send()`` has room (``abroadcast()``)."""
        await self._sender.wait_writable()

    # --------------------------------------------------------------- close

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake, then close the transport.

        Waits at most ``close_timeout`` for the peer, then drops the transport.
        Closing an already closed connection does nothing. Safe to call from a
        cancelled scope: the handshake runs shielded, bounded by the timeout.
        """
        await _closing.close(self._link, self._sender, self._receiver, code, reason)

    async def _fail(self, code: int, reason: str, *, wait: bool = False) -> None:
        """Fail the connection with ``code``; with ``wait``, until it is closed."""
        await _closing.fail(self._link, self._sender, self._receiver, code, reason, wait=wait)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed, transport included."""
        try:
            await self._link.wait_for(self._link.closed)
        except anyio.get_cancelled_exc_class():
            self._link.raise_if_released()
            raise

    # ------------------------------------------------------------ inline

    def start_inline(self) -> None:
        """Run without tasks: ``recv()``, ``close()``, ``wait_closed()`` and pong waiters
        read the stream themselves, so the connection holds no task group.

        For ``async for ws in connect(uri)`` without a task group, whose body may be
        left at any point. What it gives up: no keepalive; the peer's pings are only
        answered while a call reads; ``recv_streaming()`` yields whole messages;
        ``broadcast()`` skips the connection.
        """
        self._link.read_inline = self._reader.read_inline
        self.protocol.stream_fragments = False

    # ------------------------------------------------------ the reader task

    def start(self, task_group: anyio.abc.TaskGroup, *, keepalive: Keepalive | None = None) -> None:
        """Start the reader in the connection's task group, and keepalive if it is on:
        in ``keepalive`` (a server's, shared by its connections) or else in a task."""
        link = self._link
        link.task_group = task_group
        task_group.start_soon(self.run)
        if self.ping_interval is None or link.closed.is_set():
            return
        if keepalive is None or not keepalive.fits(self.ping_interval, self.ping_timeout):
            keepalive = Keepalive(self.ping_interval, self.ping_timeout)
            task_group.start_soon(self._run_keepalive, keepalive)
        self._reader.keepalive_ticket = keepalive.add(self._ping_nowait, self._keepalive_timed_out)

    async def _run_keepalive(self, keepalive: Keepalive) -> None:
        with anyio.CancelScope() as scope:
            self._reader.keepalive_scope = scope
            if not self._link.closed.is_set():
                await keepalive.run()

    def _ping_nowait(self) -> PongWaiter | None:
        """Queue a keepalive ping without waiting; ``None`` once the connection is closing."""
        if self.protocol.state is not State.OPEN:
            return None
        pings = self._reader.pings
        if pings is None:
            pings = self._reader.pings = Pings(self._link)
        waiter = self._queue_ping(pings.fresh_payload())
        self._sender.flush_soon()
        return waiter

    def _keepalive_timed_out(self) -> None:
        task_group = self._link.task_group
        if task_group is not None and self.state is State.OPEN:
            task_group.start_soon(self._close_on_keepalive_timeout)

    async def _close_on_keepalive_timeout(self) -> None:
        if self.state is not State.OPEN:
            return
        self.logger.info("keepalive ping timeout")
        await self.close(1011, "keepalive ping timeout")

    async def run(self) -> None:
        """Read until the connection is over; never raises. Run in the connection's group.

        Cancelled from outside (its owner's scope was cancelled) while the connection is
        open, it first runs the closing handshake with ``_close_code_when_cancelled()``,
        shielded and bounded by ``close_timeout``, then lets the cancellation through.
        """
        try:
            try:
                await self._reader.read_frames()
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    await self._close_when_cancelled()
                raise
        except Exception as exc:
            self.logger.exception("unexpected error in the connection reader")
            self._link.keep_error(exc)
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()
        await self._after_closed()

    def _close_code_when_cancelled(self) -> int | None:
        """The close code to send when the reader is cancelled; ``None``: drop the transport."""
        return None

    async def _close_when_cancelled(self) -> None:
        code = self._close_code_when_cancelled()
        if code is not None:
            await _closing.close_when_cancelled(self._link, self._sender, self._reader, code)

    async def _finish(self) -> None:
        await self._reader.finish()

    async def _after_closed(self) -> None:
        """Hook for subclasses, run in the reader task once the connection is closed."""

    def _reading_over(self) -> None:
        """Nobody will read any more (the handler or the client's block is over):
        what arrives from now on is dropped instead of queued."""
        self._receiver.reading_over()

    # ------------------------------------------------------------- helpers

    def _closed_exception(self) -> ConnectionClosed:
        return self._link.closed_exception()

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


def _as_bytes(data: DataLike) -> bytes:
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"data must be str or bytes-like, not {type(data).__name__}")
