"""``ServerConnection``, and ``ConnectionRunner``, which runs one from accept to close.

Each accepted connection owns a task group with two members: the connection's reader
and the handler. When the connection is over (closing handshake done, peer gone,
protocol error, server shutdown) the handler's scope is cancelled once it has taken
every message that had arrived and holds none (a message is in hand from the moment a
receive call gives it out until the same task asks for the next one), and
``close_timeout`` seconds later at the latest; a
task waiting in ``recv()``, ``send()`` or ``wait_closed()`` then gets
``ConnectionClosed`` rather than a bare cancellation. So a handler never outlives its
connection, and no message that was accepted is lost.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteStream

from ._handlers import Handler
from ._streams import abort
from .connection import Connection
from .core.handshake import ServerHandshake
from .core.http import Request, Response
from .core.protocol import Protocol, State
from .exceptions import ConnectionClosed
from .typing import LoggerLike

if TYPE_CHECKING:
    from ._server_handshake import OpeningHandshake
    from ._server_lifecycle import Server

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "ConnectionRunner",
    "CreateServerConnection",
    "HookResult",
    "ProcessRequest",
    "ProcessResponse",
    "SelectSubprotocol",
    "ServerConnection",
]


class ServerConnection(Connection):
    """A connection accepted by a ``Server``; what a handler receives.

    ``request`` holds the client's handshake request (``request.path``,
    ``request.headers``); ``server`` is the ``Server`` that accepted it.

    The connection exists from the start of the opening handshake, as in websockets,
    so that ``process_request`` and ``process_response`` get it: until the handshake
    succeeds its ``state`` is ``CONNECTING``, ``request`` is set once the request has
    been read, and ``response`` and ``subprotocol`` once the handshake is done.
    ``username`` is set by ``basic_auth`` when the client authenticated.
    """

    def __init__(
        self, stream: ByteStream, protocol: Protocol, *, server: Server | None = None, **kwargs: Any
    ) -> None:
        super().__init__(stream, protocol, **kwargs)
        self.server = server
        self.username: str | None = None
        self._handshake: ServerHandshake | None = None
        """The opening handshake under way, which ``respond()`` builds responses with."""

    def respond(self, status: int, text: str) -> Response:
        """Build a plain-text HTTP response for ``process_request`` or ``process_response``.

        The body is ``text`` in UTF-8 with its ``Content-Type`` and ``Content-Length``;
        the response carries ``Connection: close`` and the server's ``Server`` header.
        Change its headers before returning it if need be.
        """
        handshake = self._handshake or ServerHandshake(server_header=None)
        return handshake.reject(status, text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; during the opening handshake, drop the transport.

        A hook may close a connection it does not want to answer at all: there is no
        WebSocket connection yet to run a closing handshake on.
        """
        if self.protocol.state is State.CONNECTING:
            await abort(self.stream)
            return
        await super().close(code, reason)

    # ----------------------------------------------- the opening handshake

    def _handshake_began(self, handshake: ServerHandshake) -> None:
        """Keep the handshake under way, for ``respond()``."""
        self._handshake = handshake

    def _handshake_ended(self) -> None:
        """Let the handshake go: h11's buffer may hold the client's first frames, and
        ``select_subprotocol`` a cycle; neither should live as long as the connection."""
        self._handshake = None

    def _opened(self, protocol: Protocol, response: Response, subprotocol: str | None) -> None:
        """Take the protocol the handshake negotiated, in place of the stand-in."""
        self.protocol = protocol
        self.response = response
        self.subprotocol = subprotocol

    # ------------------------------------------------------------ the handler

    async def _run_handler(self, handler: Handler, pass_path: bool) -> None:
        """Run the handler in a scope the connection can cancel; then close.

        ``ConnectionClosed`` out of the handler is the connection's normal end; any
        other exception is logged and closes the connection with 1011.
        """
        code, reason = 1000, ""
        with anyio.CancelScope() as scope:
            self._release_scope = scope
            try:
                if pass_path:
                    assert self.request is not None
                    await handler(self, self.request.path)
                else:
                    await handler(self)
            except ConnectionClosed:
                pass
            except BaseExceptionGroup as group:  # from a task group inside the handler
                _, rest = group.split(ConnectionClosed)  # the end of the connection: normal
                failure, cancelled = rest.split(Exception) if rest else (None, None)
                if failure is not None:
                    self.logger.error("connection handler failed", exc_info=failure)
                    code, reason = 1011, "internal error"
                if cancelled is not None and not scope.cancel_called:
                    raise cancelled from None  # not ours: let it reach its scope
            except Exception:
                self.logger.exception("connection handler failed")
                code, reason = 1011, "internal error"
        self._handler_finished()
        await self.close(code, reason)

    def _handler_finished(self) -> None:
        self._receiver.nobody_reads()

    async def _after_closed(self) -> None:
        """Cancel the handler once it took every message and holds none, or after
        ``close_timeout``."""
        with anyio.move_on_after(self.close_timeout):  # None: no limit, as documented
            await self._receiver.all_taken.wait()
        if self._release_scope is not None:
            self._release_scope.cancel()


class ConnectionRunner:
    """Runs each connection of one server, from accept to close.

    One per ``serve()``, with its handshake options and handler: the opening
    handshake, then the connection's task group (reader, keepalive, handler), then the
    transport is dropped. It keeps nothing per connection.
    """

    def __init__(
        self, opening: OpeningHandshake, handler: Handler, *, pass_path: bool, logger: LoggerLike
    ) -> None:
        self.opening = opening
        self.handler = handler
        self.pass_path = pass_path
        """The handler is the classic ``(ws, path)`` form."""
        self.logger = logger

    async def run(self, server: Server | None, accepted: ByteStream | socket.socket) -> None:
        """Run one connection from accept to close; never raises.

        ``accepted`` is a byte stream, or on asyncio a socket the server accepted,
        which the handshake makes a stream of (see ``Server._accept``). ``server`` is
        ``None`` for ``serve_stream()``; otherwise it is told when the handshake
        starts and ends and when the connection opens and closes, for its shutdown.
        """
        streams: list[ByteStream] = [] if isinstance(accepted, socket.socket) else [accepted]
        try:
            connection: ServerConnection | None = None
            with anyio.CancelScope() as handshake:
                if server is not None:
                    server._handshake_started(handshake)
                try:
                    connection = await self.opening.open(server, accepted, streams)
                finally:
                    if server is not None:
                        server._handshake_ended(handshake)
            if connection is None:
                return
            late_code = None if server is None else server._connection_opened(connection)
            try:
                async with anyio.create_task_group() as group:
                    connection.start(group, keepalive=None if server is None else server._keepalive)
                    if late_code is not None:
                        group.start_soon(connection.close, late_code, "server shutting down")
                    await connection._run_handler(self.handler, self.pass_path)
            finally:
                if server is not None:
                    server._connection_closed(connection)
        except Exception:
            self.logger.exception("unexpected error while serving a connection")
        finally:
            for stream in streams:
                await abort(stream)


CreateServerConnection = Callable[..., ServerConnection]
"""Builds a connection like ``ServerConnection(stream, protocol, server=..., **options)``."""

HookResult = Awaitable["Response | None"] | Response | None

ProcessRequest = Callable[[ServerConnection, Request], HookResult]
"""``process_request(connection, request)``: ``None`` goes on, a ``Response`` answers."""

ProcessResponse = Callable[[ServerConnection, Request, Response], HookResult]
"""``process_response(connection, request, response)``: ``None`` keeps ``response``."""

SelectSubprotocol = Callable[[ServerConnection, Sequence[str]], "str | None"]
"""``select_subprotocol(connection, offered)``: one of ``offered``, or ``None``."""
