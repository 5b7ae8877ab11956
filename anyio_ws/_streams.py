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
