"""The server's entry points: ``serve()``, ``unix_serve()`` and ``serve_stream()``.

They check their options when called, so that a mistake raises at the call rather
than on every connection, and build the listeners on entry. The parts have modules
of their own, and this one re-exports their public names:
``_server_lifecycle`` (``Server``: accepting, one task per connection, shutdown),
``_server_connection`` (``ServerConnection``, its handler's scope, the task that runs
it), ``_server_handshake`` (TLS, the request, the hooks, the answer, the access log),
``_listeners`` (sockets and listeners) and ``_handlers`` (what a handler may be).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import ssl as ssl_module
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from anyio.abc import ByteStream

from ._handlers import Handler as Handler
from ._handlers import check_handler
from ._listeners import (
    SocketPath,
    UnixSocketFile,
    check_socket,
    check_transport,
    listen,
    listen_unix,
    listener_on,
)
from ._options import ConnectionOptions, OptionAttributes, with_compression
from ._pings import Keepalive
from ._server_connection import ConnectionRunner
from ._server_connection import CreateServerConnection as CreateServerConnection
from ._server_connection import HookResult as HookResult
from ._server_connection import ProcessRequest as ProcessRequest
from ._server_connection import ProcessResponse as ProcessResponse
from ._server_connection import SelectSubprotocol as SelectSubprotocol
from ._server_connection import ServerConnection as ServerConnection
from ._server_handshake import OpeningHandshake, format_address
from ._server_lifecycle import Server as Server
from ._startable import Startable
from ._task_groups import leave_group, open_in_group
from .core.extensions.base import ServerExtensionFactory
from .core.extensions.permessage_deflate import enable_server_permessage_deflate
from .core.handshake import OriginPattern, validate_origins
from .core.headers import validate_subprotocols
from .typing import LoggerLike

__all__ = ["Server", "ServerConnection", "serve", "serve_stream", "unix_serve"]

server_logger = logging.getLogger("anyio_ws.server")


class serve(OptionAttributes, Startable):
    """Start a WebSocket server on ``host:port``; use it as an async context manager.

    Instead of ``host:port`` it can serve on a listening socket of yours (``sock=``)
    or on any anyio ``Listener`` of byte streams (``listener=``); ``unix_serve()``
    serves on a Unix socket and ``serve_stream()`` runs one connection on a stream.

    ::

        async with anyio_ws.serve(handler, "127.0.0.1", 8765) as server:
            await server.serve_forever()

    or, trio style, inside your own task group (returns once listening)::

        server = await task_group.start(anyio_ws.serve(handler, "127.0.0.1", 0))
        server = await task_group.start(anyio_ws.serve, handler, "127.0.0.1", 0)

    The second form is trio's ``serve_tcp`` and trio-websocket's ``serve_websocket``
    one; keyword options go through ``functools.partial(anyio_ws.serve, ...)``.

    Leaving the block (or cancelling it) stops accepting, closes every connection with
    1001, gives handlers ``close_timeout`` seconds, cancels the rest, and returns with
    no task left behind.

    Args:
        handler: ``async def handler(ws)``, or ``(ws, path)`` in the classic form: an
            async function or method, a ``functools.partial`` of one, or an object
            with an ``async def __call__``. Anything else is a ``TypeError`` here
            rather than a failure on every connection.
        host: Interface to listen on; ``None`` listens on all of them.
        port: TCP port; ``0`` picks a free one (see ``Server.port``).
        sock: A bound TCP socket to serve on instead of ``host:port`` (``listen()``
            is called if it is not listening yet). The server owns it from then on
            and closes it when it stops.
        listener: Any ``anyio.abc.Listener`` of byte streams to serve on instead of
            ``host:port``; ``ssl=`` still applies on top of its streams. Closed when
            the server stops.
        ssl: A server ``ssl.SSLContext`` to serve ``wss://``.
        create_connection: Builds each connection; pass a ``ServerConnection``
            subclass to add your own attributes or methods.
        compression: ``"deflate"`` (the default) negotiates permessage-deflate with
            settings tuned for many connections; ``None`` turns it off.
        shared_compression: Compress each ``broadcast()`` message once for all the
            compressed connections, instead of once per connection. The server then
            compresses every message without context takeover (it asks for
            ``server_no_context_takeover``): less CPU per broadcast, a lower ratio on
            small similar messages. Needs ``compression="deflate"``. See
            :doc:`backpressure` for figures.
        origins: Allowed ``Origin`` values, against Cross-Site WebSocket Hijacking:
            ``str`` for an exact match, a compiled ``re.Pattern`` to fullmatch, and
            ``None`` to allow requests without ``Origin``. Others get a 403.
        extensions: Extension factories, in the server's order of preference.
        subprotocols: Subprotocols the server supports, most preferred first. The
            server picks its most preferred among the client's offers, and answers
            400 when the client offers none of them (as websockets does).
        select_subprotocol: ``select_subprotocol(connection, offered)`` replaces that
            choice: return one of ``offered``, or ``None`` for no subprotocol; raise
            ``NegotiationError`` to answer 400. Returning anything else is a 500.
        process_request: ``process_request(connection, request)``, a function or a
            coroutine function, runs before the handshake is checked: return
            ``None`` to go on, or a ``Response`` (``connection.respond(...)``) to
            send instead; the handler then never starts.
        process_response: ``process_response(connection, request, response)``, a
            function or a coroutine function, sees every response before it is sent:
            change its headers, or return another ``Response``.
        server_header: ``Server`` header value; ``None`` to send none.
        open_timeout: Seconds for TLS and the opening handshake (``None``: no limit).
        close_timeout: Seconds for the closing handshake, and for a handler to
            finish after its connection closed (``None``: no limit).
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a pong before closing with 1011
            "keepalive ping timeout" (``None``: don't wait).
        write_limit: Bytes buffered for writing above which ``send()`` waits, or
            ``(high, low)``; ``broadcast()`` skips connections above it.
        max_size: Largest incoming message in bytes (``None``: no limit); 1009 beyond. A pair
            ``(message_limit, fragment_limit)`` also bounds each frame.
        max_queue: Most unread messages per connection before reading pauses; it
            resumes at a quarter of that, or give ``(high, low)``.
        max_header_size: Largest handshake request head in bytes.
        reuse_port: Let several processes listen on the same port (``host:port``
            only; ``SO_REUSEPORT``, Linux and BSDs).
        logger: Logger to use instead of ``anyio_ws.server``.
        task_group: Run each connection's task, handler included, in this task
            group of yours rather than in the server's own (as trio-websocket's
            ``handler_nursery``). Shutdown still closes every connection, waits
            ``close_timeout`` and cancels what is left, but only those tasks:
            never the group itself. Cancelling the group cancels its handlers (their
            connections are dropped, 1006); once it has exited, the server stops.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | None = None,
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        listener: anyio.abc.Listener[Any] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        create_connection: CreateServerConnection | None = None,
        compression: str | None = "deflate",
        shared_compression: bool = False,
        origins: Sequence[OriginPattern] | None = None,
        extensions: Sequence[ServerExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        select_subprotocol: SelectSubprotocol | None = None,
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        server_header: str | None = "anyio_ws",
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        write_limit: int | tuple[int, int | None] = 32768,
        max_size: int | None | tuple[int | None, int | None] = 2**20,
        max_queue: int | None | tuple[int | None, int | None] = 16,
        max_header_size: int = 16384,
        reuse_port: bool = False,
        logger: LoggerLike | None = None,
        task_group: anyio.abc.TaskGroup | None = None,
    ) -> None:
        check_transport(host, port, sock, listener, reuse_port)
        if task_group is not None and not isinstance(task_group, anyio.abc.TaskGroup):
            raise TypeError(f"task_group must be an anyio TaskGroup, not {task_group!r}")
        self.options = ConnectionOptions(
            max_size=max_size,
            max_queue=max_queue,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            write_limit=write_limit,
            logger=logger or server_logger,
        )
        validate_origins(origins)
        if subprotocols is not None:
            validate_subprotocols(subprotocols)
        for name, hook in [
            ("select_subprotocol", select_subprotocol),
            ("process_request", process_request),
            ("process_response", process_response),
        ]:
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, not {type(hook).__name__}")
        pass_path = check_handler(handler)
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl = ssl
        self.create_connection: CreateServerConnection = create_connection or ServerConnection
        if shared_compression and compression != "deflate":
            raise ValueError("shared_compression needs compression='deflate'")
        self.extensions = with_compression(
            compression,
            extensions,
            functools.partial(
                enable_server_permessage_deflate, server_no_context_takeover=shared_compression
            ),
        )
        self.origins = origins
        self.subprotocols = subprotocols
        self.select_subprotocol = select_subprotocol
        self.process_request = process_request
        self.process_response = process_response
        self.server_header = server_header
        self.max_header_size = max_header_size
        self.reuse_port = reuse_port
        self.sock = sock
        self.listener = listener
        self.task_group = task_group
        opening = OpeningHandshake(
            options=self.options,
            ssl=ssl,
            create_connection=self.create_connection,
            origins=origins,
            extensions=self.extensions,
            subprotocols=subprotocols,
            select_subprotocol=select_subprotocol,
            process_request=process_request,
            process_response=process_response,
            server_header=server_header,
            max_header_size=max_header_size,
        )
        self._runner = ConnectionRunner(opening, handler, pass_path=pass_path, logger=self.logger)
        self._server_group: anyio.abc.TaskGroup | None = None
        self._server: Server | None = None

    async def __aenter__(self) -> Server:
        listeners, ours = await self._listen()
        server = Server(
            listeners,
            self._runner.run,
            close_timeout=self.options.close_timeout,
            logger=self.logger,
            task_group=self.task_group,
            accept_sockets=ours,
            keepalive=(
                None
                if self.options.ping_interval is None
                else Keepalive(self.options.ping_interval, self.options.ping_timeout)
            ),
        )
        self._server_group = anyio.create_task_group()
        await open_in_group(self._server_group, server._start_in)
        self._server = server
        where = ", ".join(map(format_address, server.addresses)) or ", ".join(map(repr, listeners))
        self.logger.info("server listening on %s", where)
        return server

    async def _listen(self) -> tuple[list[anyio.abc.Listener[Any]], bool]:
        """The listeners to accept on, and whether they are socket listeners we made."""
        return await listen(
            host=self.host,
            port=self.port,
            sock=self.sock,
            listener=self.listener,
            reuse_port=self.reuse_port,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server_group is not None and self._server is not None
        # The body's own exception is not passed in: the task group would wrap it in
        # an ExceptionGroup. It propagates unchanged once the server is down.
        self._server.close()
        with anyio.CancelScope(shield=True):
            await self._server.wait_closed()
        await leave_group(self._server_group)

    async def __call__(
        self, *, task_status: anyio.abc.TaskStatus[Server] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until closed or cancelled; for ``await task_group.start(serve(...))``.

        ``await task_group.start(serve, handler, host, port)`` runs it too.
        """
        async with self as server:
            task_status.started(server)
            await server.serve_forever()

    def _run_started(self, task_status: anyio.abc.TaskStatus[Server]) -> Coroutine[Any, Any, None]:
        """For ``task_group.start(serve, handler, host, port)`` (see ``Startable``)."""
        return self(task_status=task_status)


class unix_serve(serve):
    """Start a WebSocket server on a Unix socket; used as ``serve()`` is.

    ::

        async with anyio_ws.unix_serve(handler, "/run/app.sock") as server:
            await server.serve_forever()

        server = await task_group.start(anyio_ws.unix_serve(handler, "/run/app.sock"))
        server = await task_group.start(anyio_ws.unix_serve, handler, "/run/app.sock")

    Give ``path`` (an existing socket file there is replaced, as anyio does; ours is
    removed when the server stops) or ``sock=``, a bound ``AF_UNIX`` socket, which the
    server owns from then on. Every other option is ``serve()``'s, except the TCP ones
    (``host``, ``port``, ``reuse_port``) and ``listener``. ``Server.addresses`` holds
    the path; ``Server.port`` raises ``RuntimeError``.
    """

    def __init__(
        self,
        handler: Handler,
        path: SocketPath | None = None,
        *,
        sock: socket.socket | None = None,
        **kwargs: Any,
    ) -> None:
        _reject_options("unix_serve", kwargs, ("host", "port", "reuse_port", "listener"))
        if (path is None) == (sock is None):
            raise ValueError("unix_serve() takes a path or sock=, exactly one of them")
        if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"path must be a str, bytes or path-like, not {path!r}")
        if sock is not None:
            check_socket(sock, unix=True)
        super().__init__(handler, **kwargs)
        self.path = path
        self.sock = sock
        self._socket_file: UnixSocketFile | None = None

    async def _listen(self) -> tuple[list[anyio.abc.Listener[Any]], bool]:
        if self.sock is not None:
            return [await listener_on(self.sock)], True
        assert self.path is not None
        listener, self._socket_file = await listen_unix(self.path)
        return [listener], True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            socket_file, self._socket_file = self._socket_file, None
            if socket_file is not None:
                socket_file.remove()


async def serve_stream(handler: Handler, stream: ByteStream, **options: Any) -> None:
    """Serve one WebSocket connection over ``stream``, an ``anyio.abc.ByteStream``.

    Runs the opening handshake (TLS first with ``ssl=``), the handler, and the
    closing handshake, then closes ``stream``; returns when the connection is over.
    Never raises for network problems or a bad handshake (they are logged, as
    ``serve()`` does). Options are ``serve()``'s, except those about listening
    (``host``, ``port``, ``sock``, ``listener``, ``reuse_port``, ``task_group``); the
    connection's ``server`` is ``None``. Useful for in-memory tests, or for streams
    that come from somewhere other than a listener.
    """
    if not isinstance(stream, ByteStream):
        raise TypeError(f"stream must be an anyio.abc.ByteStream, not {stream!r}")
    _reject_options(
        "serve_stream",
        options,
        ("host", "port", "sock", "listener", "reuse_port", "task_group"),
    )
    await serve(handler, **options)._runner.run(None, stream)


def _reject_options(function: str, options: dict[str, Any], names: Sequence[str]) -> None:
    for name in names:
        if name in options:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
