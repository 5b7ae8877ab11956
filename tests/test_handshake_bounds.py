"""What a hostile peer sends in the opening handshake is bounded, and never forges output.

Issue 13, items 5, 7 and 8, end to end over loopback TCP (or in memory): header floods
get a short 431, a hook cannot inject headers through a reason phrase, and passwords,
close reasons and long peer values stay out of messages and log lines.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import anyio
import pytest
from helpers import handshake_request, headers_of, raw_exchange, raw_server, read_http_head

import anyio_ws
from anyio_ws import (
    ConnectionClosed,
    InvalidMessage,
    InvalidProxy,
    InvalidProxyMessage,
    Request,
    Response,
    Server,
    ServerConnection,
)
from anyio_ws._proxy import parse_proxy
from anyio_ws.core.handshake import accept_key
from anyio_ws.core.http import Headers
from anyio_ws.testing import connect_in_memory

pytestmark = pytest.mark.usefixtures("anyio_backend")


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def check_echo(server: Server, **kwargs: Any) -> None:
    """The server still completes a handshake and echoes a message."""
    with anyio.fail_after(5):
        async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/", **kwargs) as ws:
            await ws.send("still there?")
            assert await ws.recv() == "still there?"


def split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a raw HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), headers_of(head), body


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="anyio_ws")
    return caplog


# ------------------------------------------------------------ header floods (5)


@pytest.mark.parametrize(
    "extra",
    [
        "X-Flood: 1\r\n" * 129,
        "X-Flood: 1\r\n" * 500,
        "X:1\r\n" * 2500,
        "X-Big: " + "x" * 9000 + "\r\n",
    ],
    ids=["129-headers", "500-headers", "2500-headers", "9000-byte-line"],
)
async def test_header_flood_gets_a_short_431(extra: str) -> None:
    """Too many headers, or a line over 8 KiB, in under 16 KiB: 431, and serving goes on."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        raw = await raw_exchange(server.port, handshake_request(extra=extra))
        await check_echo(server)
    status, headers, body = split(raw)
    assert status == 431
    assert headers["connection"] == "close"
    assert len(body) < 100
    assert body.startswith(b"Failed to open a WebSocket connection: ")


async def test_extension_offer_flood_gets_400() -> None:
    """8000 extension offers in two headers get a 400 (parsing stops after 64)."""
    offers = ("Sec-WebSocket-Extensions: " + ",".join(["x"] * 4000) + "\r\n") * 2
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        raw = await raw_exchange(server.port, handshake_request(extra=offers))
        await check_echo(server)
    status, _, body = split(raw)
    assert status == 400
    assert b"too many values" in body


async def test_client_refuses_a_header_flood() -> None:
    """A 101 with 200 headers is an InvalidMessage for the client."""

    async def flood(stream: anyio.abc.SocketStream) -> None:
        head, _ = await read_http_head(stream)
        key = headers_of(head)["sec-websocket-key"]
        response = accept_key(key)
        await stream.send(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {response}\r\n".encode()
            + b"X: 1\r\n" * 200
            + b"\r\n"
        )
        await stream.receive()

    async with raw_server(flood) as port:
        with anyio.fail_after(5), pytest.raises(InvalidMessage, match="more than 128 headers"):
            await anyio_ws.connect(f"ws://127.0.0.1:{port}/", proxy=None).__aenter__()


async def test_client_refuses_a_proxy_header_flood() -> None:
    """A proxy answering CONNECT with 200 headers is an InvalidProxyMessage."""

    async def flood(stream: anyio.abc.SocketStream) -> None:
        await read_http_head(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 200 + b"\r\n")
        await stream.receive()

    async with raw_server(flood) as port:
        with anyio.fail_after(5), pytest.raises(InvalidProxyMessage, match="128 headers"):
            async with anyio_ws.connect("ws://example.com/", proxy=f"http://127.0.0.1:{port}"):
                pass


# ------------------------------------------------------- header injection (7)


async def test_reason_phrase_with_crlf_never_reaches_the_wire(
    logs: pytest.LogCaptureFixture,
) -> None:
    """A hook's reason phrase with CR/LF is refused: a 500, and no injected header."""

    def process_request(connection: ServerConnection, request: Request) -> Response:
        return Response(403, "Nope\r\nSet-Cookie: session=evil", Headers(), b"no\n")

    def process_response(
        connection: ServerConnection, request: Request, response: Response
    ) -> None:
        response.reason_phrase = "Switching\r\nSet-Cookie: session=evil"

    for hooks in ({"process_request": process_request}, {"process_response": process_response}):
        async with anyio_ws.serve(echo, "127.0.0.1", 0, **hooks) as server:
            raw = await raw_exchange(server.port, handshake_request())
        status, headers, _ = split(raw)
        assert status == 500
        assert b"Set-Cookie" not in raw and "set-cookie" not in headers
    assert [r.getMessage() for r in logs.records if r.exc_info] == [
        "process_request failed",
        "process_response failed",
    ]


async def test_header_with_crlf_never_reaches_the_wire() -> None:
    """A hook's header value with CR/LF is refused (by h11): no injected header is sent."""

    def process_request(connection: ServerConnection, request: Request) -> Response:
        return Response(403, "Forbidden", Headers([("X-Note", "a\r\nSet-Cookie: evil")]))

    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        raw = await raw_exchange(server.port, handshake_request())
    assert b"Set-Cookie" not in raw


# --------------------------------------------------------- secrets and logs (8)


async def test_rejected_handshake_log_line_is_bounded(logs: pytest.LogCaptureFixture) -> None:
    """The INFO line leaves the query out and cuts a peer's 8000-byte Origin short."""
    origin = "https://" + "o" * 8000
    path = "/chat?token=s3cret&" + "q" * 5000
    async with anyio_ws.serve(echo, "127.0.0.1", 0, origins=["https://app.example"]) as server:
        logs.clear()
        raw = await raw_exchange(
            server.port, handshake_request(path, extra=f"Origin: {origin}\r\n")
        )
    assert split(raw)[0] == 403
    (record,) = [r for r in logs.records if r.name == "anyio_ws.server"]
    message = record.getMessage()
    assert '"GET /chat?... HTTP/1.1" 403 rejected handshake: invalid Origin header: https://o' in (
        message
    )
    assert "s3cret" not in message
    assert len(message) < 400


async def test_long_path_is_cut_short_in_the_log(logs: pytest.LogCaptureFixture) -> None:
    """A 6000-character path shows as 100 characters and an ellipsis."""
    path = "/" + "p" * 6000
    async with anyio_ws.serve(echo, "127.0.0.1", 0) as server:
        logs.clear()
        await raw_exchange(server.port, handshake_request(path, version="8"))
    (record,) = [r for r in logs.records if r.name == "anyio_ws.server"]
    assert f'"GET {path[:100]}... HTTP/1.1" 426' in record.getMessage()


async def test_close_reason_cannot_forge_log_lines(logs: pytest.LogCaptureFixture) -> None:
    """A peer's close reason with newlines shows escaped in ConnectionClosed and DEBUG lines."""
    reason = "bye\nINFO forged: admin logged in\r"

    async def close_with_newlines(ws: ServerConnection) -> None:
        await ws.close(4000, reason)

    with anyio.fail_after(5):
        async with connect_in_memory(close_with_newlines) as ws:
            with pytest.raises(ConnectionClosed) as exc_info:
                await ws.recv()
    assert exc_info.value.reason == reason
    assert "\n" not in str(exc_info.value) and "\r" not in str(exc_info.value)
    assert repr(reason)[1:-1] in str(exc_info.value)
    frames = [r.getMessage() for r in logs.records if "CLOSE" in r.getMessage()]
    assert frames  # the client logs the close frame it received
    assert not any("\n" in line or "\r" in line for line in frames)


async def test_redirect_error_hides_the_password() -> None:
    """A relative redirect that cannot be followed is reported without the URI's password."""

    def redirect(connection: ServerConnection, request: Request) -> Response:
        return Response(302, "Found", Headers([("Location", "/elsewhere")]))

    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=redirect) as server:
        port = server.port
        sock = socket.create_connection(("127.0.0.1", port))
        uri = f"ws://alice:s3cret@127.0.0.1:{port}/"
        with pytest.raises(ValueError) as exc_info:  # the connection owns sock, closes it
            async with anyio_ws.connect(uri, sock=sock):
                pass
    message = str(exc_info.value)
    assert f"ws://alice:***@127.0.0.1:{port}/elsewhere" in message
    assert "s3cret" not in message


async def test_one_authorization_reaches_the_server() -> None:
    """URI user info and an Authorization header: the server gets the header, once."""
    seen: list[list[str]] = []

    def record(connection: ServerConnection, request: Request) -> None:
        seen.append(request.headers.get_all("Authorization"))

    async with anyio_ws.serve(echo, "127.0.0.1", 0, process_request=record) as server:
        await check_echo(server, additional_headers={"Authorization": "Bearer t0k"})
        uri = f"ws://alice:s3cret@127.0.0.1:{server.port}/"
        async with anyio_ws.connect(uri, additional_headers={"Authorization": "Bearer t0k"}):
            pass
    assert seen == [["Bearer t0k"], ["Bearer t0k"]]


def test_proxy_password_is_hidden() -> None:
    """InvalidProxy's message and Proxy's repr show the password as ***."""
    with pytest.raises(InvalidProxy) as exc_info:
        anyio_ws.connect("ws://example.com/", proxy="http://bob:s3cret@proxy:notaport")
    assert "s3cret" not in str(exc_info.value)
    assert "http://bob:***@proxy:notaport" in str(exc_info.value)
    proxy = parse_proxy("http://bob:s3cret@proxy:3128")
    assert proxy.password == "s3cret"
    assert "s3cret" not in repr(proxy) and "password='***'" in repr(proxy)
