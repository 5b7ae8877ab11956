"""asyncio only: an ``anyio.abc.SocketStream`` over an ``asyncio.Protocol``.

Why this exists: anyio's own asyncio ``SocketStream`` keeps its transport paused between
reads, so every ``receive()`` calls ``resume_reading()`` and then ``pause_reading()``:
an epoll registration added and removed per message (~32 of ~42 µs per receive under
py-spy), and every ``send()`` yields to the event loop once more (~20 µs). That capped
anyio_ws on asyncio at 0.41x websockets in a 64-connection small-message echo.

This stream leaves reading on and buffers what arrives, pausing the transport only
above ``_READ_HIGH`` buffered bytes; ``receive()`` returns buffered bytes without a loop
round trip and waits only when the buffer is empty. ``send()`` hands the bytes to the
transport and waits only while its write buffer is above ``_WRITE_LIMIT`` (as
``StreamWriter.drain()`` and websockets do); so that a task that keeps sending to a
fast peer cannot starve the loop, every ``_SENDS_PER_YIELD``-th send that had no reason
to wait yields once, before writing. TLS is asyncio's own (``ssl=`` on the transport),
so there is no ``TLSStream`` layer either.

The connection layer sees an ``anyio.abc.ByteStream`` as ever; trio keeps anyio's
stream, and both paths run the same tests. Differences from anyio's asyncio stream:
``receive()`` with data ready and ``send()`` below the limit are not checkpoints (a
cancelled scope is noticed at the next wait); ``aclose()`` closes gracefully (what was
written still goes out, TLS sends close_notify) and aborts the transport if cancelled
meanwhile, e.g. by ``anyio.aclose_forcefully()``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, cast

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute

from ._fifo import Fifo

__all__ = ["AsyncioSocketStream", "accept_socket", "open_accepted", "open_tcp"]

_READ_HIGH = 256 * 1024
"""Buffered incoming bytes above which the transport stops reading."""
_READ_LOW = 64 * 1024
"""Buffered incoming bytes at or below which reading resumes."""
_WRITE_LIMIT = 32 * 1024
"""Transport write buffer high-water mark (low: a quarter), as websockets' write_limit."""
_SENDS_PER_YIELD = 64


_RECEIVE_BUFFER_SIZE = 256 * 1024
_local = threading.local()


def _receive_buffer() -> memoryview:
    """One receive buffer per thread (so per event loop), shared by its connections.

    asyncio reads into it and calls ``buffer_updated()`` in the same callback, so no
    two connections ever use it at once. Reading into a fresh 256 KiB ``bytes`` per
    ``recv()`` (what a plain ``Protocol`` gets) costs a large allocation per message,
    which glibc may serve by mmap: a page fault and an munmap per message, measured at
    up to a third of a small-message echo's time.
    """
    try:
        buffer: memoryview = _local.buffer
    except AttributeError:
        buffer = _local.buffer = memoryview(bytearray(_RECEIVE_BUFFER_SIZE))
    return buffer


class _StreamProtocol(asyncio.BufferedProtocol):
    """Buffers what the transport delivers and wakes the stream's waiting tasks."""

    __slots__ = (
        "buffered",
        "chunks",
        "eof",
        "exception",
        "lost",
        "lost_waiter",
        "read_waiter",
        "reading_paused",
        "tls",
        "transport",
        "write_waiter",
        "writing_paused",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: Fifo[bytes] = Fifo()
        self.buffered = 0
        self.eof = False
        self.lost = False
        self.exception: Exception | None = None
        self.tls = False
        self.reading_paused = False
        self.writing_paused = False
        self.read_waiter: asyncio.Future[None] | None = None
        self.write_waiter: asyncio.Future[None] | None = None
        self.lost_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.tls = transport.get_extra_info("ssl_object") is not None
        self.transport.set_write_buffer_limits(high=_WRITE_LIMIT)
        self.lost_waiter = asyncio.get_running_loop().create_future()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._received(bytes(_receive_buffer()[:nbytes]))

    def _received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _READ_HIGH and not self.reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.reading_paused = True
        _wake(self.read_waiter)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self.read_waiter)
        return not self.tls  # keep a TCP transport open for writing: a half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.exception = exc
        _wake(self.read_waiter)
        _wake(self.write_waiter)
        _wake(self.lost_waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.write_waiter)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class AsyncioSocketStream(anyio.abc.SocketStream):
    """A TCP (or TLS) connection on an asyncio transport; see the module docstring.

    Supports the ``SocketAttribute`` extras and, over TLS, the ``TLSAttribute`` ones
    (``standard_compatible`` is ``False``: closing does not wait for the peer's
    close_notify). Build it with ``open_tcp()`` or ``open_accepted()``.
    """

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._receiving = False
        self._sending = False
        self._unyielded_sends = 0
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with suppress(OSError):  # asyncio sets it too; say so explicitly, as anyio does
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        if self._closed:
            raise anyio.ClosedResourceError
        if self._receiving:
            raise anyio.BusyResourceError("reading from")
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            self._receiving = True
            try:
                while not chunks and not protocol.eof and not protocol.lost and not self._closed:
                    waiter = protocol.read_waiter = self._loop.create_future()
                    try:
                        await waiter
                    finally:
                        protocol.read_waiter = None
            finally:
                self._receiving = False
            if self._closed:
                raise anyio.ClosedResourceError
            if not chunks:
                if protocol.exception is not None:
                    raise anyio.BrokenResourceError from protocol.exception
                raise anyio.EndOfStream
        data = chunks.popleft()
        if len(data) > max_bytes:
            chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        elif chunks and len(data) < max_bytes:
            data = _take(data, chunks, max_bytes)
        protocol.buffered -= len(data)
        if protocol.reading_paused and protocol.buffered <= _READ_LOW:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def send(self, item: bytes) -> None:
        self._check_writable()
        if self._sending:
            raise anyio.BusyResourceError("writing to")
        protocol = self._protocol
        if not protocol.writing_paused:
            self._unyielded_sends += 1
            if self._unyielded_sends >= _SENDS_PER_YIELD:
                self._unyielded_sends = 0
                self._sending = True
                try:
                    await asyncio.sleep(0)
                finally:
                    self._sending = False
                self._check_writable()
        try:
            self._transport.write(item)
        except RuntimeError as exc:  # write() after write_eof(), or on a closing transport
            if self._transport.is_closing():
                raise anyio.BrokenResourceError from exc
            raise
        if protocol.writing_paused:
            self._unyielded_sends = 0
            self._sending = True
            try:
                while protocol.writing_paused and not protocol.lost and not self._closed:
                    waiter = protocol.write_waiter = self._loop.create_future()
                    try:
                        await waiter
                    finally:
                        protocol.write_waiter = None
            finally:
                self._sending = False
            self._check_writable()

    def send_nowait(self, item: bytes) -> int:
        """Hand ``item`` to the transport without waiting; how many bytes it took (all).

        The transport buffers what the kernel does not take at once; the caller bounds
        that buffer (``write_buffer_size()``). Only for a caller that knows no ``send()``
        is under way, as the connection's send lock tells it.
        """
        transport = self._transport
        if self._closed or self._protocol.lost or transport.is_closing():
            self._check_writable()  # raises the right error
        try:
            transport.write(item)
        except RuntimeError as exc:  # as in send()
            if transport.is_closing():
                raise anyio.BrokenResourceError from exc
            raise
        return len(item)

    def set_write_limits(self, high: int, low: int | None = None) -> None:
        """Make ``send()`` wait while more than ``high`` bytes are buffered (until ``low``)."""
        self._transport.set_write_buffer_limits(high=high, low=low)

    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self._transport.get_write_buffer_size()

    def socket_address(self, local: bool) -> object:
        """``SocketAttribute.local_address`` (or ``remote_address``) without building
        every attribute: the transport noted both when it was made. ``None`` if unknown."""
        address = self._transport.get_extra_info("sockname" if local else "peername")
        if isinstance(address, tuple) and len(address) == 4:  # IPv6: as anyio gives it
            host, port, _flowinfo, scope_id = address
            if scope_id:
                host = f"{host.split('%')[0]}%{scope_id}"
            return host, port
        return address

    def close_at_once(self) -> bool:
        """Close without waiting, when waiting would change nothing; whether it did.

        Plain TCP with nothing left to write: the transport closes the socket in the
        loop's next step, so there is nothing to wait for and no cancel scope to pay.
        Otherwise (TLS, or bytes still buffered for a slow peer) it is ``aclose()``'s
        job, bounded by the caller.
        """
        protocol = self._protocol
        if protocol.tls or self._transport.get_write_buffer_size():
            return self._closed and protocol.lost
        if not self._closed:
            self._closed = True
            self._transport.close()
            _wake(protocol.read_waiter)
            _wake(protocol.write_waiter)
        return True

    def _check_writable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._protocol.lost or self._transport.is_closing():
            raise anyio.BrokenResourceError from self._protocol.exception

    async def send_eof(self) -> None:
        """Half-close: TCP only; TLS cannot, so ``NotImplementedError`` (as ``TLSStream``)."""
        if self._closed:
            raise anyio.ClosedResourceError
        if not self._transport.can_write_eof():
            raise NotImplementedError("this transport cannot half-close (TLS)")
        with suppress(OSError):
            self._transport.write_eof()

    async def aclose(self) -> None:
        """Close; wait until the transport is gone. Cancelled meanwhile: abort it."""
        protocol = self._protocol
        if not self._closed:
            self._closed = True
            self._transport.close()
            _wake(protocol.read_waiter)
            _wake(protocol.write_waiter)
        if protocol.lost or protocol.lost_waiter is None:
            return
        try:
            await asyncio.shield(protocol.lost_waiter)
        except asyncio.CancelledError:
            self._transport.abort()
            raise

    @property
    def _raw_socket(self) -> socket.socket:
        sock: socket.socket = self._transport.get_extra_info("socket")
        return sock

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        attributes = dict(super().extra_attributes)
        ssl_object: ssl_module.SSLObject | None = self._transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            attributes.update(_tls_attributes(ssl_object))
        return attributes


def _take(first: bytes, chunks: Fifo[bytes], max_bytes: int) -> bytes:
    """``first`` joined with following chunks, up to ``max_bytes`` in all."""
    parts = [first]
    size = len(first)
    while chunks and size < max_bytes:
        chunk = chunks.popleft()
        room = max_bytes - size
        if len(chunk) > room:
            chunks.appendleft(chunk[room:])
            chunk = chunk[:room]
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _tls_attributes(ssl_object: ssl_module.SSLObject) -> dict[Any, Callable[[], Any]]:
    return {
        TLSAttribute.alpn_protocol: ssl_object.selected_alpn_protocol,
        TLSAttribute.channel_binding_tls_unique: ssl_object.get_channel_binding,
        TLSAttribute.cipher: ssl_object.cipher,
        TLSAttribute.peer_certificate: lambda: ssl_object.getpeercert(False),
        TLSAttribute.peer_certificate_binary: lambda: ssl_object.getpeercert(True),
        TLSAttribute.server_side: lambda: ssl_object.server_side,
        TLSAttribute.shared_ciphers: lambda: (
            ssl_object.shared_ciphers() if ssl_object.server_side else None
        ),
        TLSAttribute.standard_compatible: lambda: False,
        TLSAttribute.ssl_object: lambda: ssl_object,
        TLSAttribute.tls_version: ssl_object.version,
    }


# ----------------------------------------------------------------- opening streams


async def open_tcp(
    host: str, port: int, ssl: ssl_module.SSLContext | None, server_hostname: str | None
) -> AsyncioSocketStream:
    """Connect to ``host:port`` (TLS with ``ssl``: the handshake is done on return)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        _StreamProtocol,
        host,
        port,
        ssl=ssl,
        server_hostname=(server_hostname or host) if ssl is not None else None,
        ssl_handshake_timeout=None,  # the caller's open_timeout bounds it
        happy_eyeballs_delay=0.25,  # as anyio.connect_tcp
    )
    return AsyncioSocketStream(transport, protocol)


async def accept_socket(listening: socket.socket) -> socket.socket:
    """Accept one connection on ``listening`` (non-blocking); the caller owns the socket."""
    loop = asyncio.get_running_loop()
    try:
        sock, _ = await loop.sock_accept(listening)
    except asyncio.CancelledError:
        # bpo-41317: older Pythons leave the reader behind on cancellation (as anyio).
        with suppress(ValueError, NotImplementedError, OSError):
            loop.remove_reader(listening)
        raise
    return sock


async def open_accepted(
    sock: socket.socket, ssl: ssl_module.SSLContext | None
) -> AsyncioSocketStream:
    """Make a stream of an accepted socket (running the TLS handshake with ``ssl``).

    Takes ownership of ``sock``: on failure it is closed (asyncio closes the transport
    it made; the socket is closed afterwards in case no transport took it).
    """
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.connect_accepted_socket(
            _StreamProtocol, sock, ssl=ssl, ssl_handshake_timeout=None
        )
    except BaseException:
        # Scheduled after the transport's own connection_lost: a no-op if it took the
        # socket, and never a close of the fd while a selector still watches it.
        loop.call_soon(sock.close)
        raise
    return AsyncioSocketStream(transport, protocol)
