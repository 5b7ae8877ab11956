"""The client: ``connect()`` and ``ClientConnection``.

``connect()`` is an async context manager that owns the connection's task group, and
an awaitable for callers who bring their own group (``task_group=``): the reader task
has to live in some scope, and structured concurrency means the caller says which.
"""

from __future__ import annotations

import logging
import ssl as ssl_module
from collections.abc import Callable, Generator, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from anyio.abc import ByteStream

from ._options import check_limit, check_seconds, parse_write_limit, with_compression
from ._streams import abort, open_tcp
from .connection import Connection
from .core.extensions.base import ClientExtensionFactory
from .core.extensions.permessage_deflate import enable_client_permessage_deflate
from .core.handshake import ClientHandshake
from .core.http import HeadersLike, Response
from .core.protocol import Protocol, Side
from .core.uri import parse_uri
from .typing import LoggerLike

__all__ = ["ClientConnection", "connect"]

client_logger = logging.getLogger("anyio_ws.client")


class ClientConnection(Connection):
    """A connection opened by ``connect()``.

    Unlike a server handler, the code using it is never cancelled when the peer
    closes: operations raise ``ConnectionClosed`` instead.
    """


CreateClientConnection = Callable[..., ClientConnection]
"""Builds a connection like ``ClientConnection(stream, protocol, **options)``."""


class connect:
    """Open a WebSocket connection to ``uri`` (``ws://`` or ``wss://``).

    ::

        async with anyio_ws.connect("ws://127.0.0.1:8765/chat") as ws:
            await ws.send("hello")

        ws = await anyio_ws.connect("ws://127.0.0.1:8765/", task_group=tg)

    Leaving the ``async with`` block closes the connection with 1000. Awaiting needs
    ``task_group=``; the connection's reader runs there until the connection closes.

    Args:
        uri: The server's URI; ``InvalidURI`` is raised here when it is not valid.
        ssl: Client ``ssl.SSLContext`` for ``wss://`` (default: the system's trust).
        server_hostname: Name to check the certificate against (default: URI host).
        origin: ``Origin`` header to send.
        compression: ``"deflate"`` (the default) negotiates permessage-deflate with
            settings tuned for many connections; ``None`` turns it off.
        extensions: Extension factories to offer, in order of preference.
        subprotocols: Subprotocols to offer, in order of preference.
        additional_headers: More headers for the handshake request.
        user_agent_header: ``User-Agent`` value; ``None`` to send none.
        create_connection: Builds the connection; pass a ``ClientConnection`` subclass.
        open_timeout: Seconds for TCP, TLS and the handshake (``None``: no limit).
        close_timeout: Seconds for the closing handshake (``None``: no limit).
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a pong before closing with 1011
            "keepalive ping timeout" (``None``: don't wait).
        write_limit: Bytes buffered for writing above which ``send()`` waits, or
            ``(high, low)``; ``broadcast()`` skips connections above it.
        max_size: Largest incoming message in bytes (``None``: no limit), or a pair
            ``(message_limit, fragment_limit)`` that also bounds each frame.
        max_queue: Most unread messages before reading pauses (``None``: no limit).
        max_header_size: Largest handshake response head in bytes.
        logger: Logger to use instead of ``anyio_ws.client``.
        task_group: Where the reader task runs when ``connect()`` is awaited.
    """

    def __init__(
        self,
        uri: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        origin: str | None = None,
        compression: str | None = "deflate",
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = "anyio_ws",
        create_connection: CreateClientConnection | None = None,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        write_limit: int | tuple[int, int | None] = 32768,
        max_size: int | None | tuple[int | None, int | None] = 2**20,
        max_queue: int | None = 16,
        max_header_size: int = 16384,
        logger: LoggerLike | None = None,
        task_group: anyio.abc.TaskGroup | None = None,
    ) -> None:
        self.uri = parse_uri(uri)
        if ssl is not None and not self.uri.secure:
            raise ValueError("ssl= is only for wss:// URIs")
        if self.uri.secure and ssl is None:
            ssl = ssl_module.create_default_context()
        check_limit("max_size", max_size, pair=True)
        check_limit("max_queue", max_queue)
        for name, seconds in [
            ("open_timeout", open_timeout),
            ("close_timeout", close_timeout),
            ("ping_interval", ping_interval),
            ("ping_timeout", ping_timeout),
        ]:
            check_seconds(name, seconds)
        parse_write_limit(write_limit)
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.origin = origin
        self.extensions = with_compression(
            compression, extensions, enable_client_permessage_deflate
        )
        self.subprotocols = subprotocols
        self.additional_headers = additional_headers
        self.user_agent_header = user_agent_header
        self.create_connection: CreateClientConnection = create_connection or ClientConnection
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.write_limit = write_limit
        self.max_size = max_size
        self.max_queue = max_queue
        self.max_header_size = max_header_size
        self.logger: LoggerLike = logger or client_logger
        self.task_group = task_group
        self._own_group: anyio.abc.TaskGroup | None = None
        self._connection: ClientConnection | None = None

    # --------------------------------------------------------- entry points

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        if self.task_group is None:
            raise TypeError(
                "await connect(...) needs task_group=: the connection's reader task must "
                "run in a scope you own; or use `async with connect(...) as ws:`"
            )
        return self._open(self.task_group).__await__()

    async def __aenter__(self) -> ClientConnection:
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            self._connection = await self._open(group)
        except BaseException:
            # Exit the group without the exception so that it is not wrapped in a group.
            await group.__aexit__(None, None, None)
            raise
        self._own_group = group
        return self._connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._own_group is not None and self._connection is not None
        await self._connection.close()
        await self._own_group.__aexit__(None, None, None)

    # ------------------------------------------------------------- opening

    async def _open(self, task_group: anyio.abc.TaskGroup) -> ClientConnection:
        """Connect, run the handshake within ``open_timeout``, start the reader."""
        handshake = ClientHandshake(
            self.uri,
            origin=self.origin,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            additional_headers=self.additional_headers,
            user_agent_header=self.user_agent_header,
            max_header_size=self.max_header_size,
        )
        with anyio.fail_after(self.open_timeout):
            stream = await open_tcp(self.uri.host, self.uri.port, self.ssl, self.server_hostname)
            try:
                await stream.send(handshake.data_to_send())
                response = await _read_response(stream, handshake)
                handshake.process_response(response)
            except BaseException:
                await abort(stream)
                raise
        protocol = Protocol(
            Side.CLIENT,
            max_size=self.max_size,
            extensions=handshake.extensions,
            trailing_data=handshake.trailing_data,
            logger=self.logger,
            stream_fragments=True,
        )
        connection = self.create_connection(
            stream,
            protocol,
            request=handshake.request,
            response=response,
            subprotocol=handshake.subprotocol,
            max_queue=self.max_queue,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            write_limit=self.write_limit,
            logger=self.logger,
        )
        connection.start(task_group)
        return connection


async def _read_response(stream: ByteStream, handshake: ClientHandshake) -> Response:
    """Read until the handshake has a whole response (it bounds the size)."""
    while True:
        response = handshake.next_response()
        if response is not None:
            return response
        try:
            data = await stream.receive()
        except anyio.EndOfStream:
            handshake.receive_eof()
        else:
            handshake.receive_data(data)
