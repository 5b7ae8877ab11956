"""Transport helpers: open streams, half-close them, and name what "gone" means.

Every backend and TLS layer has its own way to say that the peer went away; the rest of
anyio_ws only needs to know that the transport is over. ``TRANSPORT_ERRORS`` is that one
list, in the spirit of httpcore's ``map_exceptions``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl as ssl_module
from collections.abc import Callable
from contextlib import suppress

import anyio
import anyio.abc
import anyio.streams.tls
from anyio.abc import ByteStream

from . import _asyncio_stream

__all__ = [
    "TRANSPORT_ERRORS",
    "abort",
    "address_of",
    "half_close",
    "nowait_writer",
    "open_socket",
    "open_tcp",
    "open_unix",
    "wrap_tls",
]

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,  # includes ssl.SSLError and ConnectionError
)


async def half_close(stream: ByteStream) -> None:
    """Send EOF; streams that cannot half-close (TLS) are closed instead."""
    if isinstance(stream, anyio.streams.tls.TLSStream):
        # anyio cannot half-close TLS; once the peer shut the session down, send_eof()
        # even raises TypeError (it reads a TLS version that is gone).
        await abort(stream)
        return
    try:
        await stream.send_eof()
    except NotImplementedError:
        await abort(stream)
    except TRANSPORT_ERRORS:
        await abort(stream)


async def abort(stream: ByteStream) -> None:
    """Close ``stream`` now, without waiting on the peer and without raising."""
    if type(stream) is _asyncio_stream.AsyncioSocketStream and stream.close_at_once():
        return  # the common case on asyncio: no scope, no wait
    with anyio.CancelScope(shield=True), suppress(*TRANSPORT_ERRORS):
        with anyio.move_on_after(1):
            await stream.aclose()
            return
        await anyio.aclose_forcefully(stream)


def nowait_writer(stream: ByteStream) -> Callable[[bytes], int] | None:
    """A function that writes to ``stream`` without waiting, or ``None`` if it cannot.

    It returns how many bytes went out (the rest is the caller's to send later) and
    raises the transport's error. On asyncio our stream hands bytes to its transport;
    on trio a plain socket takes what fits in the kernel's buffer (trio's sockets are
    non-blocking). A TLS stream must encrypt under its own lock: no such writer. Only
    for a caller that knows no ``send()`` is under way (the connection's send lock).
    """
    if type(stream) is _asyncio_stream.AsyncioSocketStream:
        return stream.send_nowait
    if isinstance(stream, anyio.abc.SocketStream) and type(stream).__module__.endswith("._trio"):
        sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)

        def send_nowait(data: bytes) -> int:
            try:
                return sock.send(data)
            except BlockingIOError:
                return 0

        return send_nowait
    return None


def address_of(stream: ByteStream, attribute: object) -> object:
    """The socket address behind ``stream`` (through TLS), or ``None``."""
    if type(stream) is _asyncio_stream.AsyncioSocketStream:
        return stream.socket_address(attribute is anyio.abc.SocketAttribute.local_address)
    try:
        return stream.extra(attribute)
    except anyio.TypedAttributeLookupError:
        return None


async def open_tcp(
    host: str, port: int, ssl: ssl_module.SSLContext | None, server_hostname: str | None
) -> ByteStream:
    """Connect to ``host:port``, with TLS when ``ssl`` is given.

    On asyncio the stream is an ``AsyncioSocketStream`` (see ``_asyncio_stream`` for
    why), TLS included; on trio it is anyio's own stream.
    """
    if _running_asyncio():
        return await _asyncio_stream.open_tcp(host, port, ssl, server_hostname)
    stream: ByteStream = await anyio.connect_tcp(host, port)
    if ssl is None:
        return stream
    return await wrap_tls(stream, ssl, server_hostname or host)


async def wrap_tls(stream: ByteStream, ssl: ssl_module.SSLContext, hostname: str) -> ByteStream:
    """Run a client TLS handshake over ``stream``; on failure ``stream`` is closed.

    Works over any byte stream: a socket, a Unix socket, or a tunnel through a proxy
    (even one that is itself TLS).
    """
    try:
        return await anyio.streams.tls.TLSStream.wrap(
            stream,
            server_side=False,
            hostname=hostname,
            ssl_context=ssl,
            standard_compatible=False,
        )
    except BaseException:
        await abort(stream)
        raise


async def open_unix(
    path: str | os.PathLike[str], ssl: ssl_module.SSLContext | None, server_hostname: str
) -> ByteStream:
    """Connect to the Unix socket at ``path``, with TLS when ``ssl`` is given."""
    stream: ByteStream = await anyio.connect_unix(path)
    if ssl is None:
        return stream
    return await wrap_tls(stream, ssl, server_hostname)


async def open_socket(
    sock: socket.socket, ssl: ssl_module.SSLContext | None, server_hostname: str
) -> ByteStream:
    """Make a stream of an already connected socket (which the stream now owns)."""
    stream: ByteStream
    if sock.family == socket.AF_UNIX:
        stream = await anyio.abc.UNIXSocketStream.from_socket(sock)
    else:
        stream = await anyio.abc.SocketStream.from_socket(sock)
    if ssl is None:
        return stream
    return await wrap_tls(stream, ssl, server_hostname)


def _running_asyncio() -> bool:
    """Whether this runs in an asyncio task (stdlib only: no sniffio, no trio import)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return asyncio.current_task() is not None
