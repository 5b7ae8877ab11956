"""Doubles and helpers shared by the handshake tests (``tests/core/test_handshake*.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import h11
import pytest

from anyio_ws.core.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)
from anyio_ws.core.handshake.client import ClientHandshake
from anyio_ws.core.handshake.common import accept_key
from anyio_ws.core.handshake.server import ServerHandshake
from anyio_ws.core.http import Request, Response
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import InvalidHandshake, InvalidMessage, NegotiationError

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
FRAME = b"\x81\x05hello"  # an unmasked text frame, as the server's first frame
MASKED_FRAME = b"\x81\x85\x00\x00\x00\x00hello"  # a masked one, as the client's
FEEDS = ["whole", "bytewise", "trailing"]


def fixed_key(size: int) -> bytes:
    return b"the sample nonce"[:size]


# Extension doubles.


class FakeExtension(Extension):
    def __init__(self, name: str, params: Sequence[ExtensionParameter]) -> None:
        self.name = name
        self.params = list(params)

    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        return data, 0

    def begin_message(self, rsv: int) -> bool:
        return False

    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        return data


class FakeServerFactory(ServerExtensionFactory):
    """Accepts offers and echoes their parameters, unless one is named "refuse"."""

    def __init__(self, name: str = "x-test") -> None:
        self.name = name
        self.calls: list[tuple[list[ExtensionParameter], list[Extension]]] = []

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        self.calls.append((list(params), list(accepted)))
        if ("refuse", None) in params:
            raise NegotiationError("refused")
        return list(params), FakeExtension(self.name, params)


class RefusingServerFactory(FakeServerFactory):
    """Declines every offer."""

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        raise NegotiationError("refused")


class FakeClientFactory(ClientExtensionFactory):
    """Offers ``params`` and accepts answers, unless one is named "refuse"."""

    def __init__(self, name: str = "x-test", params: Sequence[ExtensionParameter] = ()) -> None:
        self.name = name
        self.params = list(params)

    def get_request_params(self) -> list[ExtensionParameter]:
        return list(self.params)

    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> Extension:
        if ("refuse", None) in params:
            raise NegotiationError("refused")
        return FakeExtension(self.name, params)


# Helpers: feed bytes whole, byte by byte, or with trailing bytes (h11's tr()).


def feed(
    receive: Callable[[bytes], None],
    parse: Callable[[], object],
    data: bytes,
    how: str,
) -> object:
    """Feed ``data`` as ``how`` says and return what ``parse`` gives once it is complete."""
    if how == "bytewise":
        for i in range(len(data) - 1):
            receive(data[i : i + 1])
            assert parse() is None
        receive(data[-1:])
    else:
        receive(data + (MASKED_FRAME if how == "trailing" else b""))
    return parse()


def client(uri: str = "ws://example.com/chat", **kwargs: Any) -> ClientHandshake:
    return ClientHandshake(parse_uri(uri), key_source=fixed_key, **kwargs)


def valid_request(**kwargs: Any) -> Request:
    """A request as our client builds it, to tweak before handing it to accept()."""
    return client(**kwargs).request


def with_headers(request: Request, **changes: str | list[str] | None) -> Request:
    """Copy ``request`` replacing headers: None removes one, a list repeats it."""
    headers = request.headers.copy()
    for name, value in changes.items():
        name = name.replace("_", "-")
        if name in headers:
            del headers[name]
        for item in [] if value is None else [value] if isinstance(value, str) else value:
            headers[name] = item
    return Request(request.path, headers)


def h11_request_bytes(
    method: str = "GET", target: str = "/", headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """Serialize a request with an h11 client."""
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(method=method, target=target, headers=[("Host", "x"), *headers])
    return (connection.send(request) or b"") + (connection.send(h11.EndOfMessage()) or b"")


def h11_response_bytes(
    handshake: ClientHandshake, status: int, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    """Answer the handshake's request with an h11 server."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(handshake.data_to_send())
    assert isinstance(connection.next_event(), h11.Request)
    assert isinstance(connection.next_event(), h11.EndOfMessage)
    if status == 101:
        return connection.send(h11.InformationalResponse(status_code=101, headers=headers)) or b""
    data = connection.send(h11.Response(status_code=status, headers=headers)) or b""
    data += (connection.send(h11.Data(data=body)) or b"") if body else b""
    return data + (connection.send(h11.EndOfMessage()) or b"")


def upgrade_headers(handshake: ClientHandshake, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(handshake.key)),
        *extra,
    ]


def answer(server: ServerHandshake, request: Request) -> Response:
    """What a server I/O layer does: accept, or map the failure to its response."""
    try:
        return server.accept(request)
    except InvalidHandshake as exc:
        return server.response_for(exc)


def connect(
    client_handshake: ClientHandshake, server: ServerHandshake, extra: bytes = b""
) -> Response:
    """Run a whole handshake, client bytes to server and back; return the client's response."""
    server.receive_data(client_handshake.data_to_send() + extra)
    request = server.next_request()
    assert request is not None
    client_handshake.receive_data(server.send_response(answer(server, request)))
    response = client_handshake.next_response()
    assert response is not None
    return response


def parse_response(data: bytes) -> tuple[h11.Response | h11.InformationalResponse, bytes]:
    """Parse bytes sent by the server with an h11 client; return the head and the body."""
    connection = h11.Connection(h11.CLIENT)
    headers = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade")]
    connection.send(h11.Request(method="GET", target="/", headers=headers))
    connection.send(h11.EndOfMessage())
    connection.receive_data(data)
    connection.receive_data(b"")
    head = connection.next_event()
    assert isinstance(head, (h11.Response, h11.InformationalResponse))
    body = b""
    if isinstance(head, h11.Response):
        while isinstance(event := connection.next_event(), h11.Data):
            body += event.data
    return head, body


# A server's refusal and its answer; a response head written by hand.


def request_error(data: bytes, *, eof: bool = False, **kwargs: Any) -> tuple[InvalidMessage, bytes]:
    """Feed ``data`` to a server; return the InvalidMessage raised and the answer's bytes."""
    server = ServerHandshake(**kwargs)
    server.receive_data(data)
    if eof:
        server.receive_eof()
    with pytest.raises(InvalidMessage) as exc_info:
        for _ in range(2):  # without eof, the first call may ask for more data
            server.next_request()
    return exc_info.value, server.send_response(server.response_for(exc_info.value))


def response_head_bytes(handshake: ClientHandshake, reason: bytes = b"", *extra: bytes) -> bytes:
    """A 101 head with the given reason phrase and extra header lines, as literal bytes."""
    lines = [
        b"HTTP/1.1 101 " + reason,
        *(f"{n}: {v}".encode() for n, v in upgrade_headers(handshake)),
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"
