"""The server: ``serve()``, ``Server`` and ``ServerConnection``.

Each accepted connection owns a task group with two members: the connection's reader
and the handler. When the connection is over (closing handshake done, peer gone,
protocol error, server shutdown) the handler's scope is cancelled as soon as it has read
every message that had arrived, and ``close_timeout`` seconds later at the latest; a
task waiting in ``recv()``, ``send()`` or ``wait_closed()`` then gets
``ConnectionClosed`` rather than a bare cancellation. So a handler never outlives its
connection, and no message that was accepted is lost.
"""

from __future__ import annotations

import inspect
import logging
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, cast

import anyio
import anyio.abc
import anyio.streams.tls
from anyio.abc import ByteStream, SocketAttribute

from ._asyncio_stream import accept_socket, open_accepted
from ._options import check_limit, with_compression
from ._streams import TRANSPORT_ERRORS, _running_asyncio, abort
from ._sync import Flag
from .connection import Connection
from .core.extensions.base import ServerExtensionFactory
from .core.extensions.permessage_deflate import enable_server_permessage_deflate
from .core.handshake import ServerHandshake
from .core.http import Request, Response
from .core.protocol import Protocol, Side
from .exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage
from .typing import LoggerLike

__all__ = ["Server", "ServerConnection", "serve"]

server_logger = logging.getLogger("anyio_ws.server")

Handler = Callable[..., Awaitable[Any]]
"""``async def handler(ws)``, or the classic ``async def handler(ws, path)``."""


class ServerConnection(Connection):
    """A connection accepted by a ``Server``; what a handler receives.

    ``request`` holds the client's handshake request (``request.path``,
    ``request.headers``); ``server`` is the ``Server`` that accepted it.
    """

    def __init__(
        self, stream: ByteStream, protocol: Protocol, *, server: Server | None = None, **kwargs: Any
    ) -> None:
        super().__init__(stream, protocol, **kwargs)
        self.server = server
        self._handler_may_stop = Flag()

    def _on_messages_drained(self) -> None:
        self._handler_may_stop.set()

    def _handler_finished(self) -> None:
        self._handler_may_stop.set()

    async def _after_closed(self) -> None:
        """Cancel the handler once it read everything, or after ``close_timeout``."""
        with anyio.move_on_after(self.close_timeout if self.close_timeout is not None else 1e9):
            await self._handler_may_stop.wait()
        if self._release_scope is not None:
            self._release_scope.cancel()


CreateServerConnection = Callable[..., ServerConnection]
"""Builds a connection like ``ServerConnection(stream, protocol, server=..., **options)``."""


class Server:
    """A running WebSocket server, as yielded by ``async with serve(...)``.

    ``connections`` is the set of open connections; ``addresses`` and ``port`` tell
    where it listens. ``close()`` stops it; ``wait_closed()`` waits for the end.
    """

    def __init__(
        self,
        listeners: Sequence[anyio.abc.Listener[Any]],
        handle_stream: Callable[[Server, ByteStream | socket.socket], Coroutine[Any, Any, None]],
        *,
        close_timeout: float | None,
        logger: LoggerLike,
    ) -> None:
        self.listeners = list(listeners)
        self.connections: set[ServerConnection] = set()
        self.close_timeout = close_timeout
        self.logger = logger
        self._handle_stream = handle_stream
        self._accept_scope = anyio.CancelScope()
        self._handlers: anyio.abc.TaskGroup | None = None
        self._closing = False
        self._handshakes: set[anyio.CancelScope] = set()
        self._closed = anyio.Event()
        self._connection_gone = anyio.Event()

    def _forget(self, connection: ServerConnection) -> None:
        self.connections.discard(connection)
        self._connection_gone.set()

    @property
    def addresses(self) -> list[Any]:
        """The local address of every listening socket."""
        return [listener.extra(SocketAttribute.local_address) for listener in self.listeners]

    @property
    def port(self) -> int:
        """The port of the first listening socket (handy with ``port=0``)."""
        port: int = self.listeners[0].extra(SocketAttribute.local_port)
        return port

    def close(self, close_connections: bool = True, code: int = 1001) -> None:
        """Stop accepting; with ``close_connections``, close them all with ``code``.

        Handlers get ``close_timeout`` seconds to finish after their connection closed;
        what remains is cancelled. Returns at once: ``wait_closed()`` waits for the end.
        """
        if self._closing:
            return
        self._closing = True
        self._accept_scope.cancel()
        for handshake in self._handshakes:  # not a connection yet: just drop it
            handshake.cancel()
        if close_connections and self._handlers is not None:
            self._handlers.start_soon(self._close_connections, code)

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every connection task has ended."""
        await self._closed.wait()

    async def serve_forever(self) -> None:
        """Serve until ``close()`` is called or the surrounding scope is cancelled."""
        await self._closed.wait()

    async def _run(self) -> None:
        try:
            async with anyio.create_task_group() as handlers:
                self._handlers = handlers
                try:
                    with self._accept_scope:
                        async with anyio.create_task_group() as acceptors:
                            for listener in self.listeners:
                                acceptors.start_soon(self._accept, listener, handlers)
                finally:
                    with anyio.CancelScope(shield=True):
                        for listener in self.listeners:
                            await listener.aclose()
        finally:
            self._closed.set()

    async def _accept(
        self, listener: anyio.abc.Listener[Any], handlers: anyio.abc.TaskGroup
    ) -> None:
        # On asyncio, accept on the listening socket itself and hand the bare socket to
        # the connection's task, which makes an AsyncioSocketStream of it (TLS handshake
        # included, within open_timeout): see _asyncio_stream for why. Trio: anyio's.
        raw: socket.socket | None = None
        if _running_asyncio():
            raw = listener.extra(SocketAttribute.raw_socket, None)
        while True:
            try:
                accepted: ByteStream | socket.socket
                if raw is None:
                    accepted = await cast(anyio.abc.SocketListener, listener).accept()
                else:
                    accepted = await accept_socket(raw)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            except OSError as exc:  # EMFILE and the like: wait a bit rather than spin
                if raw is not None and raw.fileno() < 0:  # the listener was closed
                    return
                self.logger.warning("failed to accept a connection: %s", exc)
                await anyio.sleep(0.1)
                continue
            handlers.start_soon(self._handle_stream, self, accepted)

    async def _close_connections(self, code: int) -> None:
        """Close every connection, then cancel whatever outlives ``close_timeout``."""
        async with anyio.create_task_group() as closers:
            for connection in list(self.connections):
                closers.start_soon(connection.close, code, "server shutting down")
        timeout = self.close_timeout if self.close_timeout is not None else 1e9
        with anyio.move_on_after(timeout):
            while self.connections:
                self._connection_gone = anyio.Event()
                await self._connection_gone.wait()
        if self.connections and self._handlers is not None:
            self._handlers.cancel_scope.cancel()


class serve:
    """Start a WebSocket server on ``host:port``; use it as an async context manager.

    ::

        async with anyio_ws.serve(handler, "127.0.0.1", 8765) as server:
            await server.serve_forever()

    or, trio style, inside your own task group (returns once listening)::

        server = await task_group.start(anyio_ws.serve(handler, "127.0.0.1", 0))

    Leaving the block (or cancelling it) stops accepting, closes every connection with
    1001, gives handlers ``close_timeout`` seconds, cancels the rest, and returns with
    no task left behind.

    Args:
        handler: ``async def handler(ws)``, or ``(ws, path)`` in the classic form.
        host: Interface to listen on; ``None`` listens on all of them.
        port: TCP port; ``0`` picks a free one (see ``Server.port``).
        ssl: A server ``ssl.SSLContext`` to serve ``wss://``.
        create_connection: Builds each connection; pass a ``ServerConnection``
            subclass to add your own attributes or methods.
        compression: ``"deflate"`` (the default) negotiates permessage-deflate with
            settings tuned for many connections; ``None`` turns it off.
        extensions: Extension factories, in the server's order of preference.
        subprotocols: Subprotocols the server supports, in order of preference.
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
        max_queue: Most unread messages per connection before reading pauses.
        max_header_size: Largest handshake request head in bytes.
        reuse_port: Let several processes listen on the same port.
        logger: Logger to use instead of ``anyio_ws.server``.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | None = None,
        port: int = 0,
        *,
        ssl: ssl_module.SSLContext | None = None,
        create_connection: CreateServerConnection | None = None,
        compression: str | None = "deflate",
        extensions: Sequence[ServerExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        server_header: str | None = "anyio_ws",
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        write_limit: int | tuple[int, int | None] = 32768,
        max_size: int | None | tuple[int | None, int | None] = 2**20,
        max_queue: int | None = 16,
        max_header_size: int = 16384,
        reuse_port: bool = False,
        logger: LoggerLike | None = None,
    ) -> None:
        if not callable(handler):
            raise TypeError("handler must be an async callable")
        check_limit("max_size", max_size, pair=True)
        check_limit("max_queue", max_queue)
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl = ssl
        self.create_connection: CreateServerConnection = create_connection or ServerConnection
        self.extensions = with_compression(
            compression, extensions, enable_server_permessage_deflate
        )
        self.subprotocols = subprotocols
        self.server_header = server_header
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.write_limit = write_limit
        self.max_size = max_size
        self.max_queue = max_queue
        self.max_header_size = max_header_size
        self.reuse_port = reuse_port
        self.logger: LoggerLike = logger or server_logger
        self._pass_path = _takes_path(handler)
        self._task_group: anyio.abc.TaskGroup | None = None
        self._server: Server | None = None

    async def __aenter__(self) -> Server:
        listener = await anyio.create_tcp_listener(
            local_host=self.host, local_port=self.port, reuse_port=self.reuse_port
        )
        server = Server(
            listener.listeners,
            self._handle_stream,
            close_timeout=self.close_timeout,
            logger=self.logger,
        )
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(server._run)
        self._server = server
        self.logger.info("server listening on %s", ", ".join(map(_format, server.addresses)))
        return server

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task_group is not None and self._server is not None
        # The body's own exception is not passed in: the task group would wrap it in
        # an ExceptionGroup. It propagates unchanged once the server is down.
        self._server.close()
        with anyio.CancelScope(shield=True):
            await self._server.wait_closed()
        await self._task_group.__aexit__(None, None, None)

    async def __call__(
        self, *, task_status: anyio.abc.TaskStatus[Server] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until closed or cancelled; for ``await task_group.start(serve(...))``."""
        async with self as server:
            task_status.started(server)
            await server.serve_forever()

    # ------------------------------------------------------ one connection

    async def _handle_stream(self, server: Server, accepted: ByteStream | socket.socket) -> None:
        """Run one TCP connection from accept to close; never raises.

        ``accepted`` is anyio's stream, or on asyncio the accepted socket, which
        ``_open`` makes a stream of (see ``Server._accept``).
        """
        streams: list[ByteStream] = [] if isinstance(accepted, socket.socket) else [accepted]
        try:
            connection: ServerConnection | None = None
            with anyio.CancelScope() as handshake:
                server._handshakes.add(handshake)
                if server._closing:
                    handshake.cancel()
                try:
                    connection = await self._open(server, accepted, streams)
                finally:
                    server._handshakes.discard(handshake)
            if connection is None:
                return
            server.connections.add(connection)
            try:
                async with anyio.create_task_group() as group:
                    connection.start(group)
                    await self._run_handler(connection)
            finally:
                server._forget(connection)
        except Exception:
            self.logger.exception("unexpected error while serving a connection")
        finally:
            for stream in streams:
                await abort(stream)

    async def _open(
        self, server: Server, accepted: ByteStream | socket.socket, streams: list[ByteStream]
    ) -> ServerConnection | None:
        """TLS and the opening handshake, within ``open_timeout``; None if they fail.

        A stream made of an accepted socket is added to ``streams`` for the caller to close.
        """
        handshake = ServerHandshake(
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            server_header=self.server_header,
            max_header_size=self.max_header_size,
        )
        stream: ByteStream
        try:
            with anyio.fail_after(self.open_timeout):
                if isinstance(accepted, socket.socket):  # asyncio, TLS there included
                    stream = await open_accepted(accepted, self.ssl)
                    streams.append(stream)
                elif self.ssl is not None:
                    stream = await anyio.streams.tls.TLSStream.wrap(
                        accepted, server_side=True, ssl_context=self.ssl, standard_compatible=False
                    )
                else:
                    stream = accepted
                request = await _read_request(stream, handshake)
                try:
                    response = handshake.accept(request)
                except InvalidHandshake as exc:
                    await self._reject(stream, handshake, exc, request)
                    return None
                await stream.send(handshake.send_response(response))
        except InvalidMessage as exc:
            await self._reject(stream, handshake, exc, None)
            return None
        except TimeoutError:
            self.logger.info("opening handshake timed out")
            return None
        except TRANSPORT_ERRORS as exc:
            self.logger.debug("connection lost during the opening handshake: %s", exc)
            return None
        protocol = Protocol(
            Side.SERVER,
            max_size=self.max_size,
            extensions=handshake.extensions,
            trailing_data=handshake.trailing_data,
            logger=self.logger,
            stream_fragments=True,
        )
        return self.create_connection(
            stream,
            protocol,
            server=server,
            request=request,
            response=response,
            subprotocol=handshake.subprotocol,
            max_queue=self.max_queue,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            write_limit=self.write_limit,
            logger=self.logger,
        )

    async def _reject(
        self,
        stream: ByteStream,
        handshake: ServerHandshake,
        exc: InvalidHandshake,
        request: Request | None,
    ) -> None:
        """Answer a bad handshake with its HTTP error; log one INFO line, no traceback."""
        response: Response = handshake.response_for(exc)
        path = request.path if request is not None else "-"
        self.logger.info("rejected handshake for %s: %d %s", path, response.status_code, exc)
        with anyio.move_on_after(1), anyio.CancelScope(shield=True):
            try:
                await stream.send(handshake.send_response(response))
            except TRANSPORT_ERRORS:
                pass

    async def _run_handler(self, connection: ServerConnection) -> None:
        """Run the handler in a scope the connection can cancel; then close."""
        code, reason = 1000, ""
        with anyio.CancelScope() as scope:
            connection._release_scope = scope
            try:
                if self._pass_path:
                    assert connection.request is not None
                    await self.handler(connection, connection.request.path)
                else:
                    await self.handler(connection)
            except ConnectionClosed:
                pass
            except Exception:
                self.logger.exception("connection handler failed")
                code, reason = 1011, "internal error"
        connection._handler_finished()
        await connection.close(code, reason)


async def _read_request(stream: ByteStream, handshake: ServerHandshake) -> Request:
    """Read until the handshake has a whole request (it bounds the header size).

    A peer that closes before sending a byte (a port scanner, a health probe) raises
    ``EndOfStream``: it is not worth an HTTP error, nor an INFO line.
    """
    received = False
    while True:
        request = handshake.next_request()
        if request is not None:
            return request
        try:
            data = await stream.receive()
        except anyio.EndOfStream:
            if not received:
                raise
            handshake.receive_eof()
        else:
            received = True
            handshake.receive_data(data)


def _takes_path(handler: Handler) -> bool:
    """Whether ``handler`` is the classic ``(ws, path)`` form."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2


def _format(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)
