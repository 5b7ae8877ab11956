"""connect() follows HTTP redirects during the opening handshake."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import pytest
import trustme
from anyio.streams.tls import TLSListener
from helpers import (
    GONE,
    headers_of,
    memory_stream_pair,
    raw_server,
    read_http_head,
    switching_response,
)

import anyio_ws
from anyio_ws import InvalidStatus, InvalidURI, SecurityError
from anyio_ws.core.frames import Opcode, encode_frame

pytestmark = pytest.mark.usefixtures("anyio_backend")

CLOSE_1000 = encode_frame(Opcode.CLOSE, b"\x03\xe8")


@dataclass
class Seen:
    """What a test server received: one (path, lowercased headers) per request."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def redirect(status: int, location: str | None) -> bytes:
    header = "" if location is None else f"Location: {location}\r\n"
    return f"HTTP/1.1 {status} Redirect\r\n{header}Content-Length: 0\r\n\r\n".encode()


def router(routes: dict[str, bytes | None], seen: Seen):
    """A raw handler: answer each path with its bytes, or accept when they are None.

    An accepted connection gets a 1000 close frame right away and is closed once the
    client answers it, so that the client's closing handshake ends at once.
    """

    async def handle(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            await answer(stream)

    async def answer(stream: anyio.abc.ByteStream) -> None:
        head, _ = await read_http_head(stream)
        path = head.split(b" ")[1].decode()
        headers = headers_of(head)
        seen.requests.append((path, headers))
        response = routes.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        if response is None:
            await stream.send(switching_response(headers["sec-websocket-key"]) + CLOSE_1000)
            await stream.receive()  # the client's close frame
            return
        await stream.send(response)
        try:
            while await stream.receive():
                pass
        except GONE:
            pass

    return handle


@asynccontextmanager
async def routed(routes: dict[str, bytes | None]) -> AsyncIterator[tuple[int, Seen]]:
    seen = Seen()
    async with raw_server(router(routes, seen)) as port:
        yield port, seen


async def open_and_close(uri: str, **options: object) -> anyio_ws.ClientConnection:
    with anyio.fail_after(10):
        async with anyio_ws.connect(uri, **options) as ws:  # type: ignore[arg-type]
            return ws


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_is_followed(status):
    """A 3xx with Location leads to a handshake at the new location."""
    async with routed({"/old": redirect(status, "/new"), "/new": None}) as (port, seen):
        ws = await open_and_close(f"ws://127.0.0.1:{port}/old")
    assert seen.paths == ["/old", "/new"]
    assert ws.request is not None and ws.request.path == "/new"


async def test_relative_location_is_resolved_against_the_uri():
    """Location "next?x=1" from /dir/old means /dir/next?x=1."""
    routes = {"/dir/old": redirect(302, "next?x=1"), "/dir/next?x=1": None}
    async with routed(routes) as (port, seen):
        await open_and_close(f"ws://127.0.0.1:{port}/dir/old")
    assert seen.paths == ["/dir/old", "/dir/next?x=1"]


async def test_redirect_chain_is_followed():
    """Several redirects in a row are followed, each from the previous location."""
    routes = {"/a": redirect(307, "/b"), "/b": redirect(308, "/c"), "/c": None}
    async with routed(routes) as (port, seen):
        await open_and_close(f"ws://127.0.0.1:{port}/a")
    assert seen.paths == ["/a", "/b", "/c"]


async def test_more_than_ten_redirects_raise_security_error():
    """A redirect loop stops after 10 redirects (11 requests) with SecurityError."""
    async with routed({"/loop": redirect(302, "/loop")}) as (port, seen):
        with pytest.raises(SecurityError, match="10 redirects"):
            await open_and_close(f"ws://127.0.0.1:{port}/loop")
    assert len(seen.requests) == 11


async def test_same_origin_redirect_keeps_credentials():
    """Authorization goes along to a location on the same host and port."""
    routes = {"/old": redirect(302, "/new"), "/new": None}
    async with routed(routes) as (port, seen):
        await open_and_close(
            f"ws://127.0.0.1:{port}/old", additional_headers={"Authorization": "Bearer t0k"}
        )
    assert [headers.get("authorization") for _, headers in seen.requests] == ["Bearer t0k"] * 2


async def test_cross_origin_redirect_drops_credentials():
    """Authorization, Cookie and URI credentials don't follow a redirect to another port."""
    async with routed({"/new": None}) as (other_port, other):
        target = f"ws://127.0.0.1:{other_port}/new"
        async with routed({"/old": redirect(302, target)}) as (port, first):
            await open_and_close(
                f"ws://user:pw@127.0.0.1:{port}/old",
                additional_headers={"Authorization": "Bearer t0k", "Cookie": "a=b", "X-Kept": "1"},
            )
    assert first.requests[0][1]["cookie"] == "a=b"
    (_, headers), *_ = other.requests
    assert "authorization" not in headers and "cookie" not in headers
    assert headers["x-kept"] == "1"


async def test_300_is_not_followed():
    """Multiple Choices is no redirect to follow: InvalidStatus."""
    async with routed({"/": redirect(300, "/elsewhere")}) as (port, seen):
        with pytest.raises(InvalidStatus) as info:
            await open_and_close(f"ws://127.0.0.1:{port}/")
    assert info.value.response.status_code == 300
    assert seen.paths == ["/"]


async def test_redirect_without_location_raises_invalid_status():
    """A 302 with no Location is an ordinary failure."""
    async with routed({"/": redirect(302, None)}) as (port, _):
        with pytest.raises(InvalidStatus) as info:
            await open_and_close(f"ws://127.0.0.1:{port}/")
    assert info.value.response.status_code == 302


async def test_redirect_to_a_non_websocket_uri_raises_invalid_uri():
    """Location http://... cannot be followed by a WebSocket client."""
    async with routed({"/": redirect(302, "http://127.0.0.1/")}) as (port, _):
        with pytest.raises(InvalidURI):
            await open_and_close(f"ws://127.0.0.1:{port}/")


async def test_redirect_from_wss_to_ws_raises_security_error():
    """A TLS downgrade is refused before anything is sent to the new location."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with routed({"/": None}) as (plain_port, plain):
        seen = Seen()
        routes = {"/": redirect(301, f"ws://localhost:{plain_port}/")}
        tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
        async with TLSListener(tcp, server_context) as listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, router(routes, seen))
            port = tcp.extra(anyio.abc.SocketAttribute.local_port)
            with pytest.raises(SecurityError, match="non-secure"):
                await open_and_close(f"wss://localhost:{port}/", ssl=client_context)
            tg.cancel_scope.cancel()
    assert seen.paths == ["/"] and plain.requests == []


async def test_redirect_over_a_given_stream_raises_value_error():
    """With stream= there is no way to open a connection to the new location."""
    ours, theirs = memory_stream_pair(buffer=float("inf"))
    seen = Seen()
    async with anyio.create_task_group() as tg:
        tg.start_soon(router({"/": redirect(302, "/new")}, seen), theirs)
        with pytest.raises(ValueError, match="redirect"):
            await open_and_close("ws://localhost/", stream=ours)
        tg.cancel_scope.cancel()
    assert seen.paths == ["/"]
