"""Reach a WebSocket server through a proxy: HTTP ``CONNECT`` or SOCKS.

``parse_proxy`` checks a proxy URI when ``connect()`` is called; ``get_proxy`` finds
the one the environment configures (``https_proxy``, ``no_proxy``... as urllib reads
them); ``open_tunnel`` returns a byte stream that reaches the server, over which the
caller runs TLS (for ``wss://``) and the WebSocket handshake.

HTTP proxies are spoken to here, over anyio streams, with h11 parsing the answer to
``CONNECT``. SOCKS needs the optional ``python-socks`` package (``anyio-ws[socks]``),
imported only when a SOCKS proxy is used: most users never need it.
"""

from __future__ import annotations

import base64
import ssl as ssl_module
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import anyio
import h11
from anyio.abc import ByteStream

from ._streams import abort, open_tcp, wrap_tls
from .core.handshake import check_head
from .core.http import Headers, Response
from .core.uri import WebSocketURI
from .exceptions import (
    InvalidMessage,
    InvalidProxy,
    InvalidProxyMessage,
    InvalidProxyStatus,
    ProxyError,
    shorten,
)

__all__ = ["Proxy", "check_socks_support", "get_proxy", "open_tunnel", "parse_proxy"]

SOCKS_SCHEMES = ("socks5h", "socks5", "socks4a", "socks4")
HTTP_SCHEMES = ("https", "http")
_MAX_RESPONSE_HEAD = 16384


@dataclass(frozen=True)
class Proxy:
    """A parsed proxy URI: ``host`` is lower case, ``port`` always set.

    The repr shows the password as ``***``, as reprs end up in logs.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        password = None if self.password is None else "***"
        return (
            f"Proxy(scheme={self.scheme!r}, host={self.host!r}, port={self.port!r}, "
            f"username={self.username!r}, password={password!r})"
        )

    @property
    def is_socks(self) -> bool:
        return self.scheme in SOCKS_SCHEMES


def parse_proxy(proxy: str) -> Proxy:
    """Parse and check a proxy URI such as ``http://user:pass@proxy:3128``.

    Raises:
        InvalidProxy: unknown scheme, no host, a path, query or fragment, or a user
            name without a password (a ``ValueError`` too).
    """
    try:
        parts = urllib.parse.urlsplit(proxy)
        port = parts.port
    except ValueError as exc:
        raise InvalidProxy(proxy, str(exc)) from None
    if parts.scheme not in SOCKS_SCHEMES + HTTP_SCHEMES:
        raise InvalidProxy(proxy, f"scheme {parts.scheme!r} isn't supported")
    if not parts.hostname:
        raise InvalidProxy(proxy, "hostname isn't provided")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidProxy(proxy, "a path, query or fragment means nothing for a proxy")
    username, password = parts.username, parts.password
    if username is not None:
        if password is None:
            raise InvalidProxy(proxy, "username provided without password")
        username = urllib.parse.unquote(username)
        password = urllib.parse.unquote(password)
    host = parts.hostname
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    default_port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else 1080
    return Proxy(parts.scheme, host, port or default_port, username, password)


def get_proxy(uri: WebSocketURI) -> str | None:
    """The proxy that the environment configures for ``uri``, or ``None``.

    ``no_proxy`` (through urllib's ``proxy_bypass``) wins. Then, as RFC 6455 "Proxy
    Usage" suggests, a SOCKS proxy, then the HTTPS proxy, then (for ``ws://`` only)
    the HTTP one; a ``ws_proxy`` / ``wss_proxy`` variable comes first of all, and
    ``all_proxy`` last.
    """
    if urllib.request.proxy_bypass(f"{uri.host}:{uri.port}"):
        return None
    proxies = urllib.request.getproxies()
    order = (
        ("wss", "socks", "https", "all") if uri.secure else ("ws", "socks", "https", "http", "all")
    )
    for scheme in order:
        proxy = proxies.get(scheme)
        if proxy is None:
            continue
        # A `socks_proxy` variable is often written http://host:port: it means SOCKS.
        if scheme == "socks" and proxy.startswith("http://"):
            proxy = "socks5h://" + proxy.removeprefix("http://")
        return proxy
    return None


def check_socks_support() -> None:
    """Raise a clear ``ImportError`` when python-socks, needed for SOCKS, is missing."""
    try:
        import python_socks.async_.anyio  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "connecting through a SOCKS proxy needs python-socks: pip install 'anyio-ws[socks]'"
        ) from exc


async def open_tunnel(
    proxy: Proxy,
    uri: WebSocketURI,
    *,
    proxy_ssl: ssl_module.SSLContext | None,
    proxy_server_hostname: str | None,
    user_agent_header: str | None,
) -> ByteStream:
    """A byte stream through ``proxy`` to the server of ``uri`` (TLS to it not done)."""
    if proxy.is_socks:
        return await _open_socks(proxy, uri)
    stream = await open_tcp(proxy.host, proxy.port, None, None)
    if proxy_ssl is not None:
        stream = await wrap_tls(stream, proxy_ssl, proxy_server_hostname or proxy.host)
    try:
        await _http_connect(stream, proxy, uri, user_agent_header)
    except BaseException:
        await abort(stream)
        raise
    return stream


# --------------------------------------------------------------------- HTTP


def _connect_request(proxy: Proxy, uri: WebSocketURI, user_agent: str | None) -> h11.Request:
    host = f"[{uri.host}]" if ":" in uri.host else uri.host
    headers = [("Host", f"{host}:{uri.port}")]
    if user_agent is not None:
        headers.append(("User-Agent", user_agent))
    if proxy.username is not None:
        credentials = f"{proxy.username}:{proxy.password}".encode()
        headers.append(("Proxy-Authorization", f"Basic {base64.b64encode(credentials).decode()}"))
    return h11.Request(method="CONNECT", target=f"{host}:{uri.port}", headers=headers)


async def _http_connect(
    stream: ByteStream, proxy: Proxy, uri: WebSocketURI, user_agent: str | None
) -> None:
    """Ask the proxy to open a tunnel; return once it answered 2xx.

    Raises:
        InvalidProxyStatus: the proxy answered with another status (407: bad or
            missing credentials).
        InvalidProxyMessage: the answer is not HTTP, or the proxy sent bytes after it
            (nothing may come before our WebSocket request).
    """
    http = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_RESPONSE_HEAD)
    request = http.send(_connect_request(proxy, uri, user_agent))
    end = http.send(h11.EndOfMessage())
    await stream.send((request or b"") + (end or b""))
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            raise InvalidProxyMessage(
                f"invalid HTTP response from proxy: {shorten(str(exc))}"
            ) from exc
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive()
            except anyio.EndOfStream:
                data = b""
            http.receive_data(data)
        elif isinstance(event, h11.Response):
            try:  # the bounds of a handshake's head: a proxy is a peer too
                check_head(event, _MAX_RESPONSE_HEAD)
            except InvalidMessage as exc:
                raise InvalidProxyMessage(f"invalid HTTP response from proxy: {exc}") from exc
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise InvalidProxyMessage("proxy closed the connection before answering CONNECT")
        # An InformationalResponse (1xx) is skipped: the real answer follows.
    response = Response(
        event.status_code,
        event.reason.decode("latin-1"),
        Headers(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers]
        ),
    )
    if not 200 <= event.status_code < 300:
        raise InvalidProxyStatus(response)
    if http.trailing_data[0]:
        raise InvalidProxyMessage("proxy sent data before the WebSocket request")


# -------------------------------------------------------------------- SOCKS


async def _open_socks(proxy: Proxy, uri: WebSocketURI) -> ByteStream:
    """Connect through a SOCKS proxy with python-socks' anyio backend.

    python-socks raises ``ProxyConnectionError`` (an ``OSError``) when the proxy is
    unreachable and ``ProxyTimeoutError`` (a ``TimeoutError``): both stay as they are,
    so that reconnecting retries them. A refusal by the proxy becomes ``ProxyError``.
    """
    check_socks_support()
    from python_socks import ProxyType
    from python_socks.async_.anyio import Proxy as SocksProxy

    kind = ProxyType.SOCKS5 if proxy.scheme.startswith("socks5") else ProxyType.SOCKS4
    socks: Any = SocksProxy(
        kind,
        proxy.host,
        proxy.port,
        proxy.username,
        proxy.password,
        rdns=proxy.scheme in ("socks5h", "socks4a"),  # the proxy resolves the name
    )
    try:
        stream: ByteStream = await socks.connect(uri.host, uri.port, timeout=float("inf"))
    except (OSError, TimeoutError):
        raise
    except Exception as exc:
        raise ProxyError(f"SOCKS proxy refused the connection: {exc}") from exc
    return stream
