"""One connection's opening handshake on the server: TLS, the request, the hooks, the answer.

``OpeningHandshake`` holds what one ``serve()`` was given for opening connections and
opens each of them in turn; it keeps nothing per connection. The connection is built
(by ``create_connection``) as soon as the transport is up, so that ``process_request``
and ``process_response`` get it; it gets its protocol, with the negotiated extensions,
once the 101 is sent. A handshake answered in HTTP instead gets one INFO line, in the
manner of an access log, and its response is written even while the server shuts down.
"""

from __future__ import annotations

import functools
import inspect
import socket
import ssl as ssl_module
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio
import anyio.streams.tls
from anyio.abc import ByteStream

from ._asyncio_stream import open_accepted
from ._http_head import read_head
from ._options import ConnectionOptions
from ._server_connection import (
    CreateServerConnection,
    HookResult,
    ProcessRequest,
    ProcessResponse,
    SelectSubprotocol,
    ServerConnection,
)
from ._streams import TRANSPORT_ERRORS
from .core.extensions.base import ServerExtensionFactory
from .core.handshake import OriginPattern, ServerHandshake
from .core.http import Request, Response
from .core.protocol import Protocol, Side
from .exceptions import InvalidHandshake, InvalidMessage, shorten
from .typing import LoggerLike

if TYPE_CHECKING:
    from ._server_lifecycle import Server

__all__ = [
    "OpeningHandshake",
    "complete_response",
    "format_address",
    "log_response",
    "loggable_target",
    "run_hook",
    "send_rejection",
]


class OpeningHandshake:
    """Opens the connections of one server, with its options.

    The options are ``serve()``'s of the same names; ``options`` holds those that
    build each connection and its protocol, shared with ``serve()`` as they are.
    """

    def __init__(
        self,
        *,
        options: ConnectionOptions,
        ssl: ssl_module.SSLContext | None,
        create_connection: CreateServerConnection,
        origins: Sequence[OriginPattern] | None,
        extensions: Sequence[ServerExtensionFactory],
        subprotocols: Sequence[str] | None,
        select_subprotocol: SelectSubprotocol | None,
        process_request: ProcessRequest | None,
        process_response: ProcessResponse | None,
        server_header: str | None,
        max_header_size: int,
    ) -> None:
        self.options = options
        self.logger = options.logger
        self.ssl = ssl
        self.create_connection = create_connection
        self.origins = origins
        self.extensions = extensions
        self.subprotocols = subprotocols
        self.select_subprotocol = select_subprotocol
        self.process_request = process_request
        self.process_response = process_response
        self.server_header = server_header
        self.max_header_size = max_header_size

    async def open(
        self, server: Server | None, accepted: ByteStream | socket.socket, streams: list[ByteStream]
    ) -> ServerConnection | None:
        """TLS and the opening handshake, within ``open_timeout``; None if they fail.

        ``accepted`` is a byte stream, or on asyncio a socket the server accepted,
        which is made a stream here (TLS included) and added to ``streams`` for the
        caller to close. ``server`` is ``None`` for ``serve_stream()``.
        """
        stream: ByteStream
        try:
            with anyio.fail_after(self.options.open_timeout):
                if isinstance(accepted, socket.socket):  # asyncio, TLS there included
                    stream = await open_accepted(accepted, self.ssl)
                    streams.append(stream)
                elif self.ssl is not None:
                    stream = await anyio.streams.tls.TLSStream.wrap(
                        accepted, server_side=True, ssl_context=self.ssl, standard_compatible=False
                    )
                else:
                    stream = accepted
                connection, handshake = self._new_connection(stream, server)
                try:
                    response = await self._exchange(connection, handshake)
                finally:
                    connection._handshake_ended()
        except TimeoutError:
            self.logger.info("opening handshake timed out")
            return None
        except TRANSPORT_ERRORS as exc:
            self.logger.debug("connection lost during the opening handshake: %s", exc)
            return None
        if response is None:
            return None
        protocol = self.options.protocol(Side.SERVER, handshake.extensions, handshake.trailing_data)
        connection._opened(protocol, response, handshake.subprotocol)
        return connection

    def _new_connection(
        self, stream: ByteStream, server: Server | None
    ) -> tuple[ServerConnection, ServerHandshake]:
        """Build the connection for the handshake: ``CONNECTING``, with its handshake."""
        # A stand-in until the handshake is done: nothing is fed to it, it only tells
        # the state, and send() or ping() in a hook raises ConnectionClosed.
        protocol = Protocol(Side.SERVER, logger=self.logger, connecting=True)
        connection = self.options.connection(
            self.create_connection, stream, protocol, server=server
        )
        select = self.select_subprotocol
        handshake = ServerHandshake(
            origins=self.origins,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            select_subprotocol=None if select is None else functools.partial(select, connection),
            server_header=self.server_header,
            max_header_size=self.max_header_size,
        )
        connection._handshake_began(handshake)
        return connection, handshake

    async def _exchange(
        self, connection: ServerConnection, handshake: ServerHandshake
    ) -> Response | None:
        """Read the request, decide, write the response; the 101 sent, or None."""
        try:
            # A peer that sends nothing (a port scanner, a health probe) raises
            # EndOfStream: not worth an HTTP error, nor an INFO line.
            request = await read_head(
                connection.stream, handshake, handshake.next_request, quiet_if_silent=True
            )
        except InvalidMessage as exc:
            log_response(self.logger, connection.remote_address, None, exc.status, exc)
            await send_rejection(
                connection.stream, handshake.send_response(handshake.response_for(exc))
            )
            return None
        connection.request = request
        response = await self._decide(connection, handshake, request)
        try:
            data = handshake.send_response(response)
        except Exception:  # a hook built a response HTTP cannot carry
            self.logger.exception("cannot send the handshake response")
            return None
        if response.status_code != 101:
            await send_rejection(connection.stream, data)
            return None
        await connection.stream.send(data)
        return response

    async def _decide(
        self, connection: ServerConnection, handshake: ServerHandshake, request: Request
    ) -> Response:
        """The response to send: the handshake's, or a hook's; run ``process_response``.

        A response other than 101 gets one INFO line, with the reason when the handshake
        failed. A hook or ``select_subprotocol`` that raises is a bug: its traceback is
        logged at ERROR as well, and the client gets a 500.
        """
        response, failure = await self._first_response(connection, handshake, request)
        if self.process_response is not None:
            try:
                replacement = await run_hook(self.process_response, connection, request, response)
            except Exception:
                replacement = self._internal_error(handshake, "process_response failed")
            if replacement is not None:
                complete_response(replacement, self.server_header)
                response, failure = replacement, None
        if response.status_code != 101:
            log_response(
                self.logger, connection.remote_address, request, response.status_code, failure
            )
        return response

    async def _first_response(
        self, connection: ServerConnection, handshake: ServerHandshake, request: Request
    ) -> tuple[Response, InvalidHandshake | None]:
        """``process_request``'s response if it gives one, else the handshake's answer."""
        if self.process_request is not None:
            try:
                response = await run_hook(self.process_request, connection, request)
            except Exception:
                return self._internal_error(handshake, "process_request failed"), None
            if response is not None:
                complete_response(response, self.server_header)
                return response, None
        try:
            return handshake.accept(request), None
        except InvalidHandshake as exc:
            return handshake.response_for(exc), exc
        except Exception:  # from select_subprotocol, or an extension factory
            return self._internal_error(handshake, "opening handshake failed"), None

    def _internal_error(self, handshake: ServerHandshake, message: str) -> Response:
        """Log the exception being handled, with its traceback; build the 500."""
        self.logger.exception(message)
        text = "Failed to open a WebSocket connection.\nSee server log for more information.\n"
        return handshake.reject(HTTPStatus.INTERNAL_SERVER_ERROR, text)


async def run_hook(hook: Callable[..., HookResult], *args: Any) -> Response | None:
    """Call a hook that may be a plain function or a coroutine function."""
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    if result is not None and not isinstance(result, Response):
        name = getattr(hook, "__name__", "hook")
        raise TypeError(f"{name} must return a Response or None, not {type(result).__name__}")
    return result


def complete_response(response: Response, server_header: str | None) -> None:
    """Add what a response a hook built by hand lacks: ``Server``, and the framing.

    ``Content-Length`` rather than h11's chunked encoding for a body sent at once,
    and ``Connection: close``, since the connection closes after an error answer.
    """
    headers = response.headers
    if server_header is not None and "Server" not in headers:
        headers["Server"] = server_header
    if response.status_code == 101:
        return
    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        if response.status_code not in (204, 304):
            headers["Content-Length"] = str(len(response.body))
    if "Connection" not in headers:
        headers["Connection"] = "close"


async def send_rejection(stream: ByteStream, data: bytes) -> None:
    """Write an HTTP error response; the connection closes after it.

    The write is shielded, and bounded, so that the client still gets its answer
    when the server is shutting down.
    """
    with anyio.move_on_after(1), anyio.CancelScope(shield=True):
        try:
            await stream.send(data)
        except TRANSPORT_ERRORS:
            pass


# ------------------------------------------------------------------ the access log


def log_response(
    logger: LoggerLike,
    client: Any,
    request: Request | None,
    status: int,
    failure: InvalidHandshake | None,
) -> None:
    """One INFO line, in the manner of an access log, for a handshake answered in HTTP.

    ``client`` is the peer's address. What the client sent is cut short: the path to
    100 characters and the reason to 300, and the query string is left out
    (``?...``): WebSocket clients in browsers cannot send headers, so tokens travel in
    the query, and an access log is no place for them.
    """
    address = format_address(client)
    target = "-" if request is None else loggable_target(request.path)
    if failure is None:
        logger.info('%s "GET %s HTTP/1.1" %d', address, target, status)
    else:
        reason = shorten(str(failure), 300)
        logger.info(
            '%s "GET %s HTTP/1.1" %d rejected handshake: %s', address, target, status, reason
        )


def loggable_target(target: str) -> str:
    """The request target for a log line: the path, short, without the query."""
    path, question_mark, _ = target.partition("?")
    return shorten(path, 100) + ("?..." if question_mark else "")


def format_address(address: Any) -> str:
    """A socket address as log lines show it: ``host:port``, ``[v6 host]:port``, a path."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)
