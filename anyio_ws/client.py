"""The client: ``connect()``, ``unix_connect()`` and ``ClientConnection``.

``connect()`` is an async context manager that owns the connection's task group, and
an awaitable for callers who bring their own group (``task_group=``): the reader task
has to live in some scope, and structured concurrency means the caller says which.
Iterating over it reconnects with back-off: each connection then lives in a task
group of the iterator's own, from the step that yields it to the next one.

The stream under the handshake comes from ``_client_transport`` (TCP, a proxy, a
Unix socket, ``sock=``, ``stream=``; TLS on top), and ``_redirects`` decides which
refusals send the handshake elsewhere.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import ssl as ssl_module
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Generator, Sequence
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.abc
from anyio.abc import ByteStream

from ._client_transport import check_proxy, check_tls, check_transport, open_stream
from ._http_head import read_head
from ._options import ConnectionOptions, OptionAttributes, with_compression
from ._reconnect import RETRYABLE_STATUSES as RETRYABLE_STATUSES
from ._reconnect import (
    ReconnectDelays,
    Reconnecting,
    backoff,
    check_delays,
    process_exception,
)
from ._redirects import MAX_REDIRECTS as MAX_REDIRECTS
from ._redirects import REDIRECT_STATUSES as REDIRECT_STATUSES
from ._redirects import follow_redirect
from ._startable import Startable
from ._streams import abort
from ._task_groups import leave_group, open_in_group
from .connection import Connection
from .core.extensions.base import ClientExtensionFactory
from .core.extensions.permessage_deflate import enable_client_permessage_deflate
from .core.handshake import ClientHandshake
from .core.http import HeadersLike, Response
from .core.protocol import Side
from .core.uri import WebSocketURI, parse_uri
from .exceptions import InvalidStatus
from .typing import LoggerLike

__all__ = ["ClientConnection", "backoff", "connect", "process_exception", "unix_connect"]

client_logger = logging.getLogger("anyio_ws.client")


class ClientConnection(Connection):
    """A connection opened by ``connect()``.

    Unlike a server handler, the code using it is never cancelled when the peer
    closes: operations raise ``ConnectionClosed`` instead. When the scope it lives in
    is cancelled, it still closes with 1000 (shielded, within ``close_timeout``).
    """

    def _close_code_when_cancelled(self) -> int | None:
        return 1000


CreateClientConnection = Callable[..., ClientConnection]
"""Builds a connection like ``ClientConnection(stream, protocol, **options)``."""


class connect(OptionAttributes, Startable):
    """Open a WebSocket connection to ``uri`` (``ws://`` or ``wss://``).

    ::

        async with anyio_ws.connect("ws://127.0.0.1:8765/chat") as ws:
            await ws.send("hello")

        ws = await anyio_ws.connect("ws://127.0.0.1:8765/", task_group=tg)

        ws = await tg.start(anyio_ws.connect, "ws://127.0.0.1:8765/")   # trio style

        async for ws in anyio_ws.connect(uri):                  # reconnects
            ...

        async for ws in anyio_ws.connect(uri, task_group=tg):   # with keepalive
            ...

    Leaving the ``async with`` block closes the connection with 1000. Awaiting needs
    ``task_group=``; the connection's reader runs there until the connection closes.
    ``task_group.start(connect, uri)`` returns the connection too, held by the task
    it starts until the connection is closed; cancelling the group closes it with
    1000. Keyword options go through ``functools.partial(anyio_ws.connect, ...)``.

    Iterating yields a new connection each time: the previous one is closed with 1000
    when the loop asks for the next. An attempt that fails with an error that
    ``process_exception`` calls retryable is logged at INFO and tried again after the
    next delay of ``reconnect_delays``; other errors end the loop, which can be left
    in any way (``break``, ``return``, an exception, a cancellation). With
    ``task_group=``, a task in that group holds each connection with its reader and
    keepalive, and leaving the loop closes it at once. Without, each connection runs
    inline (no task of its own: ``recv()``, ``close()``, ``wait_closed()`` and ping
    waiters read the socket; no keepalive, pings answered only while they run), and
    the loop's async generator closes it when dropped, or at once inside
    ``contextlib.aclosing(...)``.

    Redirects (301, 302, 303, 307, 308 with ``Location``) are followed, relative
    locations resolved against the current URI, up to ``MAX_REDIRECTS`` within
    ``open_timeout``; more, or one from ``wss://`` to ``ws://``, is a
    ``SecurityError``. A redirect to another host, port or scheme drops the
    ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` headers given in
    ``additional_headers``.

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
        proxy: ``True`` (the default) uses the proxy the environment sets
            (``https_proxy``, ``http_proxy``, ``all_proxy``, ``socks_proxy``, with
            ``no_proxy``); ``None`` connects directly; a URI uses that proxy:
            ``http://``, ``https://``, ``socks5h://``, ``socks5://``, ``socks4a://``
            or ``socks4://``, with ``user:password@`` for credentials. SOCKS needs
            ``anyio-ws[socks]``.
        proxy_ssl: ``ssl.SSLContext`` for TLS to an ``https://`` proxy.
        proxy_server_hostname: Name to check the proxy's certificate against.
        process_exception: When reconnecting, ``f(exc)`` returns ``None`` to retry
            or the exception to raise (default: ``process_exception``).
        reconnect_delays: Seconds to wait before each retry: a sequence of numbers,
            or a function returning a fresh iterable of them (``backoff``, the
            default). When they run out, the last error is raised.
        sock: An already connected socket to run the connection over.
        stream: An ``anyio.abc.ByteStream`` to run the connection over (an
            in-memory pipe in tests, say). TLS is never added on top of it.
        unix_path: A Unix socket to connect to (see ``unix_connect``).
        create_connection: Builds the connection; pass a ``ClientConnection`` subclass.
        open_timeout: Seconds for connecting, TLS, proxy and handshake, redirects
            included (``None``: no limit).
        close_timeout: Seconds for the closing handshake (``None``: no limit).
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a pong before closing with 1011
            "keepalive ping timeout" (``None``: don't wait).
        write_limit: Bytes buffered for writing above which ``send()`` waits, or
            ``(high, low)``; ``broadcast()`` skips connections above it.
        max_size: Largest incoming message in bytes (``None``: no limit), or a pair
            ``(message_limit, fragment_limit)`` that also bounds each frame.
        max_queue: Most unread messages before reading pauses (``None``: no limit);
            it resumes at a quarter of that, or give ``(high, low)``.
        max_header_size: Largest handshake response head in bytes.
        logger: Logger to use instead of ``anyio_ws.client``.
        task_group: Where the reader task runs when ``connect()`` is awaited, and
            where each connection of ``async for`` is held.

    Raises:
        TypeError, ValueError: at the call, for arguments that cannot work
            (``InvalidURI`` and ``InvalidProxy`` are ``ValueError`` s as well).
        ImportError: a SOCKS proxy without python-socks installed.
        ConnectionRefusedError: nothing listens there, on either backend (trio's
            ``OSError("All connection attempts failed")`` is its ``__cause__``).
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
        proxy: str | Literal[True] | None = True,
        proxy_ssl: ssl_module.SSLContext | None = None,
        proxy_server_hostname: str | None = None,
        process_exception: Callable[[Exception], Exception | None] = process_exception,
        reconnect_delays: ReconnectDelays = backoff,
        sock: socket.socket | None = None,
        stream: ByteStream | None = None,
        unix_path: str | os.PathLike[str] | None = None,
        create_connection: CreateClientConnection | None = None,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        write_limit: int | tuple[int, int | None] = 32768,
        max_size: int | None | tuple[int | None, int | None] = 2**20,
        max_queue: int | None | tuple[int | None, int | None] = 16,
        max_header_size: int = 16384,
        logger: LoggerLike | None = None,
        task_group: anyio.abc.TaskGroup | None = None,
    ) -> None:
        self.uri = parse_uri(uri)
        self.uri_string = uri
        ssl = check_tls(self.uri, ssl)
        self.options = ConnectionOptions(
            max_size=max_size,
            max_queue=max_queue,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            write_limit=write_limit,
            logger=logger or client_logger,
        )
        check_transport(sock, stream, unix_path)
        self.sock = sock
        self.stream = stream
        self.unix_path = unix_path
        self.proxy = check_proxy(proxy, proxy_ssl, sock, stream, unix_path)
        self.proxy_ssl = proxy_ssl
        self.proxy_server_hostname = proxy_server_hostname
        if not callable(process_exception):
            raise TypeError(f"process_exception must be callable, not {process_exception!r}")
        self.process_exception = process_exception
        self.reconnect_delays = check_delays(reconnect_delays)
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
        self.max_header_size = max_header_size
        self.task_group = task_group
        self._own_group: anyio.abc.TaskGroup | None = None
        self._connection: ClientConnection | None = None
        self._iterator: weakref.ref[Reconnecting[ClientConnection]] | None = None
        self._loop: AsyncGenerator[ClientConnection, None] | None = None

    # --------------------------------------------------------- entry points

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        if self.task_group is None:
            raise TypeError(
                "await connect(...) needs task_group=: the connection's reader task must "
                "run in a scope you own; or use `async with connect(...) as ws:`"
            )
        return self._open(self.task_group).__await__()

    def _run_started(
        self, task_status: anyio.abc.TaskStatus[ClientConnection]
    ) -> Coroutine[Any, Any, None]:
        """For ``task_group.start(connect, uri)`` (see ``Startable``)."""
        if self.task_group is not None:
            raise TypeError(
                "task_group.start(connect, ...) runs the connection in the task it "
                "starts: leave task_group= out"
            )
        return self._hold(task_status)

    async def _hold(self, task_status: anyio.abc.TaskStatus[ClientConnection]) -> None:
        """Open the connection, hand it to ``task_group.start``, keep it until closed.

        Cancelling the caller's group closes it with 1000: the cancelled reader runs
        the closing handshake itself (see ``ClientConnection``).
        """
        async with self as connection:
            task_status.started(connection)
            await connection.wait_closed()

    async def __aenter__(self) -> ClientConnection:
        group = anyio.create_task_group()
        self._connection = await open_in_group(group, self._open)
        self._own_group = group
        return self._connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._own_group is not None and self._connection is not None
        self._connection._reading_over()
        await self._connection.close()
        await leave_group(self._own_group)

    def __aiter__(self) -> AsyncIterator[ClientConnection]:
        if self.sock is not None or self.stream is not None:
            raise TypeError(
                "reconnecting needs a new transport each time: not with sock= or stream="
            )
        if self.task_group is not None:
            iterator = Reconnecting(self)
            # A weak reference: dropping the iterator must release its connection.
            self._iterator = weakref.ref(iterator)
            return iterator
        # Without a task group each connection runs inline (no task, no scope held
        # across the body), and an async generator gets the event loop's finalizer:
        # a loop left by break, return or an exception closes its connection (1000)
        # when the generator is dropped, with nothing for the user to write. The
        # generator works on a copy of this object, so that holding it here makes no
        # cycle: a bare loop's generator is dropped (and finalized) as soon as the
        # loop is left, while `aclosing(connect(...))` keeps it for aclose().
        self._loop = _connections(Reconnecting(copy.copy(self)))
        return self._loop

    async def aclose(self) -> None:
        """End the iteration: close the current connection and let its tasks finish."""
        if self._loop is not None:
            await self._loop.aclose()
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            await iterator.aclose()

    # ------------------------------------------------------------- opening

    async def _open(self, task_group: anyio.abc.TaskGroup | None) -> ClientConnection:
        """Connect, run the handshake within ``open_timeout``, start the reader.

        Without a task group the connection runs inline: it has no task of its own.
        """
        options = self.options
        with anyio.fail_after(options.open_timeout):
            stream, handshake, response = await self._handshake_following_redirects()
        protocol = options.protocol(Side.CLIENT, handshake.extensions, handshake.trailing_data)
        connection = options.connection(
            self.create_connection,
            stream,
            protocol,
            request=handshake.request,
            response=response,
            subprotocol=handshake.subprotocol,
        )
        if task_group is None:
            connection.start_inline()
        else:
            connection.start(task_group)
        return connection

    async def _handshake_following_redirects(
        self,
    ) -> tuple[ByteStream, ClientHandshake, Response]:
        """Run the handshake, then again wherever redirects send it (see ``_redirects``)."""
        uri_string, uri, headers = self.uri_string, self.uri, self.additional_headers
        followed = 0
        while True:
            try:
                return await self._handshake(uri, headers)
            except InvalidStatus as exc:
                redirect = follow_redirect(
                    exc.response,
                    uri_string,
                    uri,
                    headers,
                    followed=followed,
                    given_stream=self.sock is not None or self.stream is not None,
                    unix_socket=self.unix_path is not None,
                )
                if redirect is None:
                    raise
                uri_string, uri, headers = redirect
                followed += 1

    async def _handshake(
        self, uri: WebSocketURI, headers: HeadersLike | None
    ) -> tuple[ByteStream, ClientHandshake, Response]:
        """One request and its response, on a new stream to ``uri`` (aborted on failure)."""
        handshake = ClientHandshake(
            uri,
            origin=self.origin,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            additional_headers=headers,
            user_agent_header=self.user_agent_header,
            max_header_size=self.max_header_size,
        )
        stream = await open_stream(self, uri)
        try:
            await stream.send(handshake.data_to_send())
            # A hang-up raises InvalidMessage from EOFError: process_exception retries it.
            response = await read_head(stream, handshake, handshake.next_response)
            handshake.process_response(response)
        except BaseException:
            await abort(stream)
            raise
        return stream, handshake, response


def unix_connect(
    path: str | os.PathLike[str] | None = None, uri: str | None = None, **kwargs: Any
) -> connect:
    """Connect to a WebSocket server on a Unix socket; ``connect()``'s other options apply.

    ``uri`` gives the request's ``Host`` and path: ``ws://localhost/`` by default, or
    ``wss://localhost/`` when ``ssl=`` is given (TLS then runs over the Unix socket).
    ``path`` may be left out only when ``sock=`` passes a connected Unix socket.
    """
    if uri is None:
        uri = "ws://localhost/" if kwargs.get("ssl") is None else "wss://localhost/"
    if path is None and kwargs.get("sock") is None:
        raise TypeError("unix_connect() needs path= (or a connected Unix socket as sock=)")
    return connect(uri, unix_path=path, **kwargs)


# ------------------------------------------------------------------ helpers


async def _connections(
    iterator: Reconnecting[ClientConnection],
) -> AsyncGenerator[ClientConnection, None]:
    """The connections of ``iterator``, closing the last one when the loop is left.

    Here, not in ``_reconnect``: trio's ``ResourceWarning`` for a generator dropped
    unfinished names it by module, and filters name ``anyio_ws.client._connections``.
    """
    try:
        async for connection in iterator:
            yield connection
    finally:
        await iterator.aclose()
