"""Where a server listens: ``host:port``, a socket of the caller's, a ``Listener``, a Unix path.

The transport arguments are checked when ``serve()`` or ``unix_serve()`` is called, so
that a mistake raises there rather than in the task that would listen. The socket file
a Unix listener made is removed when the server stops, unless another server took the
path over in the meantime.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from typing import Any

import anyio
import anyio.abc
import anyio.streams.stapled

__all__ = [
    "SocketPath",
    "UnixSocketFile",
    "check_socket",
    "check_transport",
    "listen",
    "listen_unix",
    "listener_on",
]

_BACKLOG = 65536
"""Listen queue for a socket given with ``sock=`` that is not listening yet (as anyio)."""

_INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_UNIX_FAMILY: int | None = getattr(socket, "AF_UNIX", None)

SocketPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def check_transport(
    host: str | None,
    port: int,
    sock: socket.socket | None,
    listener: anyio.abc.Listener[Any] | None,
    reuse_port: bool,
) -> None:
    """Raise at the call unless exactly one of host/port, ``sock`` and ``listener`` is set."""
    if not isinstance(port, int):
        raise TypeError(f"port must be an int, not {port!r}")
    given = [
        name
        for name, value in (
            ("host/port", host is not None or port != 0),
            ("sock", sock is not None),
            ("listener", listener is not None),
        )
        if value
    ]
    if len(given) > 1:
        raise ValueError(f"give one of host/port, sock= and listener=, not {' and '.join(given)}")
    if sock is not None:
        check_socket(sock, unix=False)
    if listener is not None and not isinstance(listener, anyio.abc.Listener):
        raise TypeError(f"listener must be an anyio.abc.Listener, not {listener!r}")
    if reuse_port and (sock is not None or listener is not None):
        raise ValueError("reuse_port applies to host/port only; set SO_REUSEPORT on your socket")


def check_socket(sock: socket.socket, *, unix: bool) -> None:
    """A bound stream socket of the right family, or ``TypeError``/``ValueError`` now."""
    if not isinstance(sock, socket.socket):
        raise TypeError(f"sock must be a socket.socket, not {sock!r}")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"sock must be a SOCK_STREAM socket, not {sock.type!r}")
    if unix and sock.family != _UNIX_FAMILY:
        raise ValueError(f"unix_serve() needs an AF_UNIX socket, not {sock.family!r}")
    if not unix and sock.family not in _INET_FAMILIES:
        hint = "; use unix_serve() for Unix sockets" if sock.family == _UNIX_FAMILY else ""
        raise ValueError(f"serve() needs an AF_INET or AF_INET6 socket{hint}")
    try:
        address = sock.getsockname()
    except OSError as exc:  # closed
        raise ValueError(f"sock is not usable: {exc}") from None
    if not (address[1] if sock.family in _INET_FAMILIES else address):
        raise ValueError("sock must be bound to an address (call bind() first)")


async def listen(
    *,
    host: str | None,
    port: int,
    sock: socket.socket | None,
    listener: anyio.abc.Listener[Any] | None,
    reuse_port: bool,
) -> tuple[list[anyio.abc.Listener[Any]], bool]:
    """The listeners to accept on, and whether they are socket listeners we made.

    A caller's ``MultiListener`` is taken apart, so that each of its listeners gets
    an accept loop of its own, as ours do.
    """
    if listener is not None:
        if isinstance(listener, anyio.streams.stapled.MultiListener):
            return list(listener.listeners), False
        return [listener], False
    if sock is not None:
        return [await listener_on(sock)], True
    listeners = await anyio.create_tcp_listener(
        local_host=host, local_port=port, reuse_port=reuse_port
    )
    return list(listeners.listeners), True


async def listener_on(sock: socket.socket) -> anyio.abc.SocketListener:
    """An anyio listener on ``sock``, which is made to listen if it does not yet."""
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except (AttributeError, OSError):  # no SO_ACCEPTCONN here: listen() again is harmless
        listening = 0
    if not listening:
        sock.listen(_BACKLOG)
    sock.setblocking(False)
    return await anyio.abc.SocketListener.from_socket(sock)


async def listen_unix(path: SocketPath) -> tuple[anyio.abc.Listener[Any], UnixSocketFile | None]:
    """A listener on the Unix socket ``path``, and its file to remove at the end.

    An existing socket file at ``path`` is replaced, as anyio does. An abstract socket
    (Linux) has no file: ``None``.
    """
    listener = await anyio.create_unix_listener(path)
    try:
        return listener, UnixSocketFile(path, os.stat(path).st_ino)
    except (OSError, ValueError):  # an abstract socket has no file
        return listener, None


class UnixSocketFile:
    """The socket file a Unix listener made, known by its inode."""

    def __init__(self, path: SocketPath, inode: int) -> None:
        self.path = path
        self.inode = inode

    def remove(self) -> None:
        """Remove the file, unless something else took its place since."""
        with suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
