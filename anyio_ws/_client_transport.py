"""The client's way to the server: the byte stream under its opening handshake.

One of TCP (the default), a proxy (``proxy=``, see ``_proxy``), a Unix socket
(``unix_connect``), a connected socket (``sock=``) or any anyio byte stream
(``stream=``); TLS goes on top for ``wss://``, except on a given stream. The checks
run when ``connect()`` is called, so that a bad combination fails there and not in a
task later; ``open_stream`` runs for each handshake, redirects included.
"""

from __future__ import annotations

import os
import socket
import ssl as ssl_module
import sys
from typing import Literal, Protocol

from anyio.abc import ByteStream

from ._proxy import Proxy, check_socks_support, get_proxy, open_tunnel, parse_proxy
from ._streams import open_socket, open_tcp, open_unix, wrap_tls
from .core.uri import WebSocketURI

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "Route",
    "check_proxy",
    "check_tls",
    "check_transport",
    "default_tls",
    "open_stream",
    "proxy_for",
    "refusal",
]


class Route(Protocol):
    """What ``open_stream`` reads of ``connect()``'s options: how to reach the server.

    ``uri`` is the URI first given: ``server_hostname`` applies to its host only, so
    that after a redirect to another host the certificate is checked against that one.
    """

    @property
    def uri(self) -> WebSocketURI: ...
    @property
    def ssl(self) -> ssl_module.SSLContext | None: ...
    @property
    def server_hostname(self) -> str | None: ...
    @property
    def sock(self) -> socket.socket | None: ...
    @property
    def stream(self) -> ByteStream | None: ...
    @property
    def unix_path(self) -> str | os.PathLike[str] | None: ...
    @property
    def proxy(self) -> Proxy | Literal[True] | None: ...
    @property
    def proxy_ssl(self) -> ssl_module.SSLContext | None: ...
    @property
    def proxy_server_hostname(self) -> str | None: ...
    @property
    def user_agent_header(self) -> str | None: ...


# ------------------------------------------------------------ at the call


def check_tls(uri: WebSocketURI, ssl: ssl_module.SSLContext | None) -> ssl_module.SSLContext | None:
    """The TLS context for ``uri``: ``ssl``, or the system's trust for ``wss://``.

    ``ssl=`` with a ``ws://`` URI is a ``ValueError``: it would be silently unused.
    """
    if ssl is not None and not uri.secure:
        raise ValueError("ssl= is only for wss:// URIs")
    if uri.secure and ssl is None:
        ssl = ssl_module.create_default_context()
    return ssl


def check_transport(
    sock: socket.socket | None, stream: ByteStream | None, unix_path: object
) -> None:
    """Raise unless at most one of ``sock``, ``stream`` and ``unix_path`` is given, well typed."""
    given = [
        name
        for name, value in (("sock", sock), ("stream", stream), ("unix path", unix_path))
        if value is not None
    ]
    if len(given) > 1:
        raise ValueError(f"give at most one of sock=, stream= and a Unix path, not {given}")
    if sock is not None and not isinstance(sock, socket.socket):
        raise TypeError(f"sock must be a socket.socket, not {type(sock).__name__}")
    if stream is not None and not isinstance(stream, ByteStream):
        raise TypeError(f"stream must be an anyio.abc.ByteStream, not {type(stream).__name__}")
    if unix_path is not None and not isinstance(unix_path, (str, os.PathLike)):
        raise TypeError(f"a Unix socket path must be a str or a path, not {unix_path!r}")


def check_proxy(
    proxy: object,
    proxy_ssl: ssl_module.SSLContext | None,
    sock: object,
    stream: object,
    unix_path: object,
) -> Proxy | Literal[True] | None:
    """Validate ``proxy=`` and its TLS option; parse an explicit proxy URI now."""
    if proxy_ssl is not None and not isinstance(proxy_ssl, ssl_module.SSLContext):
        raise TypeError(f"proxy_ssl must be an ssl.SSLContext, not {proxy_ssl!r}")
    if proxy is None:
        return None
    if proxy is True:
        # A socket, a stream or a Unix path is already the way to the server.
        direct = sock is not None or stream is not None or unix_path is not None
        return None if direct else True
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be True, None or a proxy URI, not {proxy!r}")
    if sock is not None or stream is not None or unix_path is not None:
        raise ValueError("proxy= cannot be combined with sock=, stream= or a Unix socket")
    parsed = parse_proxy(proxy)
    if parsed.is_socks:
        check_socks_support()
    if proxy_ssl is not None and parsed.scheme != "https":
        raise ValueError(f"proxy_ssl= is only for https:// proxies, not {parsed.scheme}://")
    return parsed


# ------------------------------------------------------------ per handshake


async def open_stream(route: Route, uri: WebSocketURI) -> ByteStream:
    """The byte stream to the server at ``uri``, TLS included for ``wss://``.

    A refused connection raises ``ConnectionRefusedError`` on both backends, as
    websockets users expect: anyio says ``OSError("All connection attempts
    failed")`` on trio, with the refusals as its cause.
    """
    try:
        return await _connect_stream(route, uri)
    except OSError as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        raise refused from exc


async def _connect_stream(route: Route, uri: WebSocketURI) -> ByteStream:
    ssl = route.ssl if route.ssl is not None else default_tls(uri)
    hostname = route.server_hostname if uri.host == route.uri.host else None
    hostname = hostname or uri.host
    if route.stream is not None:
        return route.stream
    if route.sock is not None:
        return await open_socket(route.sock, ssl, hostname)
    if route.unix_path is not None:
        return await open_unix(route.unix_path, ssl, hostname)
    proxy = proxy_for(route.proxy, uri)
    if proxy is None:
        return await open_tcp(uri.host, uri.port, ssl, hostname)
    proxy_ssl = route.proxy_ssl
    if proxy.scheme == "https" and proxy_ssl is None:
        proxy_ssl = ssl_module.create_default_context()
    stream = await open_tunnel(
        proxy,
        uri,
        proxy_ssl=proxy_ssl if proxy.scheme == "https" else None,
        proxy_server_hostname=route.proxy_server_hostname,
        user_agent_header=route.user_agent_header,
    )
    return stream if ssl is None else await wrap_tls(stream, ssl, hostname)


def proxy_for(proxy: Proxy | Literal[True] | None, uri: WebSocketURI) -> Proxy | None:
    """The proxy to reach ``uri`` through: the one given, or the environment's (``True``)."""
    if isinstance(proxy, Proxy) or proxy is None:
        return proxy
    configured = get_proxy(uri)
    if configured is None:
        return None
    parsed = parse_proxy(configured)
    if parsed.is_socks:
        check_socks_support()
    return parsed


def default_tls(uri: WebSocketURI) -> ssl_module.SSLContext | None:
    """The system's trust for ``wss://`` (a redirect from ``ws://`` needs it too)."""
    return ssl_module.create_default_context() if uri.secure else None


def refusal(exc: OSError) -> ConnectionRefusedError | None:
    """A ``ConnectionRefusedError`` for an ``OSError`` that only wraps refusals, else None.

    anyio's ``connect_tcp`` tries every address and raises ``OSError`` from the one
    refusal, or from an ``ExceptionGroup`` of them.
    """
    if isinstance(exc, ConnectionRefusedError):
        return None
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        refused, rest = cause.split(ConnectionRefusedError)
        if refused is None or rest is not None:
            return None
        cause = refused
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
    if not isinstance(cause, ConnectionRefusedError):
        return None
    return ConnectionRefusedError(cause.errno, cause.strerror or str(cause))
