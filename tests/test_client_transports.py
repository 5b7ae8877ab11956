"""The client over other transports: a connected socket, a Unix socket, any anyio stream."""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest
import trustme
from anyio.streams.tls import TLSListener
from helpers import headers_of, memory_stream_pair, read_http_head, switching_response

import anyio_ws
from anyio_ws import ConnectionClosed, ServerConnection
from anyio_ws.connection import Connection
from anyio_ws.core.protocol import Protocol, Side

pytestmark = pytest.mark.usefixtures("anyio_backend")

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for localhost and a client context trusting it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return server, client


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def tiny_echo_server(stream: anyio.abc.ByteStream, heads: list[bytes]) -> None:
    """Accept one WebSocket connection on ``stream`` by hand and echo what it receives."""
    async with stream:
        head, rest = await read_http_head(stream)
        heads.append(head)
        await stream.send(switching_response(headers_of(head)["sec-websocket-key"]))
        async with anyio.create_task_group() as group:
            protocol = Protocol(Side.SERVER, max_size=None, trailing_data=rest)
            connection = Connection(stream, protocol)
            connection.start(group)
            try:
                async for message in connection:
                    await connection.send(message)
            except ConnectionClosed:
                pass


@asynccontextmanager
async def unix_echo_server(
    path: Path, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[list[bytes]]:
    """Serve ``tiny_echo_server`` on a Unix socket (TLS on top with ``ssl_context``)."""
    heads: list[bytes] = []
    listener: anyio.abc.Listener[anyio.abc.ByteStream] = await anyio.create_unix_listener(path)
    if ssl_context is not None:
        listener = TLSListener(listener, ssl_context, standard_compatible=False)

    async def handle(stream: anyio.abc.ByteStream) -> None:
        await tiny_echo_server(stream, heads)

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        yield heads
        group.cancel_scope.cancel()


async def round_trip(connector: anyio_ws.connect) -> anyio_ws.ClientConnection:
    with anyio.fail_after(10):
        async with connector as ws:
            await ws.send("over there")
            assert await ws.recv() == "over there"
    assert ws.close_code == 1000
    return ws


# -------------------------------------------------------------------- sock=


async def test_connect_over_a_connected_socket():
    """sock= runs the connection over a socket the caller connected; it is closed after."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        await round_trip(anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", sock=sock))
    assert sock.fileno() == -1


async def test_wss_over_a_connected_socket(tls):
    """With a wss:// URI, TLS runs over the given socket (checked against the URI host)."""
    server_ssl, client_ssl = tls
    async with anyio_ws.serve(echo, "127.0.0.1", 0, ssl=server_ssl) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        port = server.port
        uri = f"wss://localhost:{port}/"
        ws = await round_trip(anyio_ws.connect(uri, sock=sock, ssl=client_ssl))
    assert ws.request is not None and ws.request.headers["Host"] == f"localhost:{port}"


# ------------------------------------------------------------------ Unix sockets


@unix_only
async def test_unix_connect(tmp_path):
    """unix_connect(path) talks to a server on a Unix socket; the URI is ws://localhost/."""
    path = tmp_path / "ws.sock"
    async with unix_echo_server(path) as heads:
        await round_trip(anyio_ws.unix_connect(path))
    assert heads[0].startswith(b"GET / HTTP/1.1\r\n")
    assert headers_of(heads[0])["host"] == "localhost"


@unix_only
async def test_unix_connect_with_a_uri(tmp_path):
    """uri= sets the request's path and Host over the Unix socket."""
    path = tmp_path / "ws.sock"
    async with unix_echo_server(path) as heads:
        await round_trip(anyio_ws.unix_connect(str(path), "ws://example.test/chat?room=1"))
    assert heads[0].startswith(b"GET /chat?room=1 HTTP/1.1\r\n")
    assert headers_of(heads[0])["host"] == "example.test"


@unix_only
async def test_unix_connect_with_tls(tmp_path, tls):
    """ssl= makes the default URI wss://localhost/ and runs TLS over the Unix socket."""
    server_ssl, client_ssl = tls
    path = tmp_path / "wss.sock"
    async with unix_echo_server(path, server_ssl) as heads:
        await round_trip(anyio_ws.unix_connect(path, ssl=client_ssl))
    assert len(heads) == 1


@unix_only
async def test_unix_connect_over_a_connected_unix_socket(tmp_path):
    """unix_connect(sock=...) uses a Unix socket the caller connected."""
    path = tmp_path / "ws.sock"
    async with unix_echo_server(path) as heads:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        await round_trip(anyio_ws.unix_connect(sock=sock))
    assert len(heads) == 1 and sock.fileno() == -1


@unix_only
async def test_unix_connect_to_a_missing_socket_raises_os_error(tmp_path):
    """No server at the path: an OSError, as for a refused TCP connection."""
    with pytest.raises(OSError):
        async with anyio_ws.unix_connect(tmp_path / "nobody.sock"):
            pytest.fail("nothing listens there")


# -------------------------------------------------------------------- stream=


async def test_connect_over_any_byte_stream():
    """stream= runs the client over an in-memory byte stream."""
    ours, theirs = memory_stream_pair(buffer=float("inf"))
    heads: list[bytes] = []
    async with anyio.create_task_group() as group:
        group.start_soon(tiny_echo_server, theirs, heads)
        ws = await round_trip(anyio_ws.connect("ws://memory.test/x", stream=ours))
    assert ws.request is not None and ws.request.path == "/x"
    assert headers_of(heads[0])["host"] == "memory.test"


# ------------------------------------------------------------------ arguments


async def test_sock_and_stream_together_raise_value_error():
    """Only one transport may be given."""
    ours, theirs = memory_stream_pair()
    async with ours, theirs:
        with socket.socket() as sock, pytest.raises(ValueError, match="at most one"):
            anyio_ws.connect("ws://localhost/", sock=sock, stream=ours)


def test_unix_path_and_sock_together_raise_value_error(tmp_path):
    """unix_connect(path, sock=...) is ambiguous."""
    with socket.socket(socket.AF_UNIX) as sock, pytest.raises(ValueError, match="at most one"):
        anyio_ws.unix_connect(tmp_path / "ws.sock", sock=sock)


def test_unix_connect_without_a_path_raises_type_error():
    """unix_connect() needs a path or a socket."""
    with pytest.raises(TypeError, match="path"):
        anyio_ws.unix_connect()


@pytest.mark.parametrize(
    ("option", "value"), [("sock", 1234), ("stream", b"bytes"), ("unix_path", 1.5)]
)
def test_transport_of_a_wrong_type_raises_type_error(option, value):
    """sock must be a socket, stream an anyio ByteStream, a path a str or PathLike."""
    with pytest.raises(TypeError, match=option.split("_")[-1]):
        anyio_ws.connect("ws://localhost/", **{option: value})


async def test_reconnecting_over_a_given_stream_raises_type_error():
    """A stream or socket can be used once: async for over connect(stream=...) is refused."""
    ours, theirs = memory_stream_pair()
    async with ours, theirs:
        with pytest.raises(TypeError, match="reconnecting"):
            anyio_ws.connect("ws://localhost/", stream=ours).__aiter__()
