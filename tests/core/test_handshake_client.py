"""Tests for anyio_ws.core.handshake.client: the client side of the opening handshake."""

from __future__ import annotations

import base64

import h11
import pytest

from anyio_ws.core.extensions.base import ClientExtensionFactory
from anyio_ws.core.handshake.client import ClientHandshake
from anyio_ws.core.handshake.common import accept_key
from anyio_ws.core.http import Headers, Request, Response
from anyio_ws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
)

from .handshake_helpers import (
    ACCEPT,
    FEEDS,
    FRAME,
    KEY,
    FakeClientFactory,
    FakeExtension,
    client,
    feed,
    h11_response_bytes,
    upgrade_headers,
    with_headers,
)

# Client: the request.


def test_request() -> None:
    """The request carries the WebSocket headers in order, with the given key."""
    request = client().request
    assert request.path == "/chat"
    assert list(request.headers.raw_items()) == [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        ("User-Agent", "anyio_ws"),
    ]


def test_request_options() -> None:
    """Origin, extensions, subprotocols, user info and additional headers are sent."""
    request = client(
        "wss://user:pässword@example.com:8443/a?b=c",
        origin="https://example.com",
        extensions=[
            FakeClientFactory("x-a", [("p", "1"), ("q", None)]),
            FakeClientFactory("x-a"),
            FakeClientFactory("x-b"),
        ],
        subprotocols=["chat", "superchat"],
        additional_headers=[("X-Extra", "1")],
        user_agent_header=None,
    ).request
    credentials = base64.b64encode("user:pässword".encode()).decode()
    assert request.path == "/a?b=c"
    assert list(request.headers.raw_items()) == [
        ("Host", "example.com:8443"),
        ("Authorization", f"Basic {credentials}"),
        ("Origin", "https://example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Extensions", "x-a; p=1; q, x-a, x-b"),
        ("Sec-WebSocket-Protocol", "chat, superchat"),
        ("X-Extra", "1"),
    ]


def test_request_ipv6_host() -> None:
    """The Host header brackets an IPv6 literal."""
    assert client("ws://[::1]:8765/").request.headers["Host"] == "[::1]:8765"


def test_client_validates_subprotocols() -> None:
    """The client refuses subprotocols that are not tokens."""
    with pytest.raises(ValueError):
        client(subprotocols=["a b"])


def test_data_to_send() -> None:
    """data_to_send gives the request bytes once, as h11 reads them."""
    client_handshake = client()
    data = client_handshake.data_to_send()
    assert client_handshake.data_to_send() == b""
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    event = server.next_event()
    assert isinstance(event, h11.Request)
    assert event.target == b"/chat"
    assert (b"sec-websocket-key", KEY.encode()) in event.headers


# Client: receiving the response.


@pytest.mark.parametrize("how", FEEDS)
def test_next_response_101(how: str) -> None:
    """A 101 is returned as soon as its head is complete; what follows is trailing data."""
    client_handshake = client()
    data = h11_response_bytes(client_handshake, 101, upgrade_headers(client_handshake))
    trailing = FRAME if how == "trailing" else b""
    if how == "trailing":
        data, how = data + FRAME, "whole"
    response = feed(client_handshake.receive_data, client_handshake.next_response, data, how)
    assert isinstance(response, Response)
    assert response.status_code == 101
    assert response.headers["Sec-WebSocket-Accept"] == accept_key(client_handshake.key)
    assert client_handshake.trailing_data == trailing
    assert client_handshake.next_response() is response


@pytest.mark.parametrize("how", FEEDS)
def test_next_response_error_with_body(how: str) -> None:
    """Another status is returned with its body, read up to Content-Length."""
    client_handshake = client()
    data = h11_response_bytes(client_handshake, 404, [("Content-Length", "5")], b"gone!")
    response = feed(client_handshake.receive_data, client_handshake.next_response, data, how)
    assert isinstance(response, Response)
    assert (response.status_code, response.body) == (404, b"gone!")


def test_next_response_body_ends_with_connection() -> None:
    """A body without a length ends when the server closes the connection."""
    client_handshake = client()
    # h11 never writes such a response to an HTTP/1.1 request, hence the literal bytes.
    client_handshake.receive_data(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\noops")
    assert client_handshake.next_response() is None
    client_handshake.receive_eof()
    response = client_handshake.next_response()
    assert response is not None
    assert response.body == b"oops"


def test_next_response_skips_other_informational() -> None:
    """A 100 Continue before the 101 is skipped."""
    client_handshake = client()
    data = h11_response_bytes(client_handshake, 101, upgrade_headers(client_handshake))
    client_handshake.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n" + data)
    response = client_handshake.next_response()
    assert response is not None
    assert response.status_code == 101


def test_next_response_needs_data() -> None:
    """Without a complete response, next_response returns None."""
    assert client().next_response() is None


def test_next_response_body_too_large() -> None:
    """A body over max_body_size is an InvalidMessage."""
    client_handshake = client(max_body_size=3)
    data = h11_response_bytes(client_handshake, 404, [("Content-Length", "5")], b"gone!")
    client_handshake.receive_data(data)
    with pytest.raises(InvalidMessage, match="exceeds 3 bytes"):
        client_handshake.next_response()


def test_next_response_unlimited_body() -> None:
    """max_body_size=None reads bodies of any size."""
    client_handshake = client(max_body_size=None)
    body = b"x" * 100_000
    data = h11_response_bytes(client_handshake, 404, [("Content-Length", str(len(body)))], body)
    client_handshake.receive_data(data)
    response = client_handshake.next_response()
    assert response is not None
    assert response.body == body


def test_next_response_headers_too_large() -> None:
    """A response head over max_header_size is an InvalidMessage."""
    client_handshake = client(max_header_size=100)
    headers = upgrade_headers(client_handshake, ("X-Big", "x" * 200))
    client_handshake.receive_data(h11_response_bytes(client_handshake, 101, headers))
    with pytest.raises(InvalidMessage):
        client_handshake.next_response()


@pytest.mark.parametrize(
    "data", [b"HTTP/1.1 1O1 Switching\r\n\r\n", b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 101"]
)
def test_next_response_invalid(data: bytes) -> None:
    """A malformed or truncated response is an InvalidMessage."""
    client_handshake = client()
    client_handshake.data_to_send()
    client_handshake.receive_data(data)
    client_handshake.receive_eof()
    with pytest.raises(InvalidMessage):
        client_handshake.next_response()


@pytest.mark.parametrize("data", [b"", b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\ngo"])
def test_next_response_eof(data: bytes) -> None:
    """EOF before the response is complete is an InvalidMessage."""
    client_handshake = client()
    client_handshake.receive_data(data)
    client_handshake.receive_eof()
    with pytest.raises(InvalidMessage, match="connection closed before the response"):
        client_handshake.next_response()


# Client: processing the response.


def response_101(handshake: ClientHandshake, *extra: tuple[str, str]) -> Response:
    return Response(101, "Switching Protocols", Headers(upgrade_headers(handshake, *extra)))


def test_process_response_non_101() -> None:
    """A status other than 101 is an InvalidStatus carrying the response."""
    client_handshake = client()
    response = Response(403, "Forbidden", body=b"no")
    with pytest.raises(InvalidStatus) as exc_info:
        client_handshake.process_response(response)
    assert exc_info.value.response is response
    assert client_handshake.response is response


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"Upgrade": None}, InvalidUpgrade),
        ({"Upgrade": "h2c"}, InvalidUpgrade),
        ({"Connection": "close"}, InvalidUpgrade),
        ({"Sec-WebSocket-Accept": None}, InvalidHeader),
        ({"Sec-WebSocket-Accept": [ACCEPT, ACCEPT]}, InvalidHeader),
        ({"Sec-WebSocket-Accept": "wrong"}, InvalidHeaderValue),
        ({"Sec-WebSocket-Extensions": "x-test;"}, InvalidHeaderFormat),
    ],
)
def test_process_response_invalid_headers(
    changes: dict[str, str | list[str] | None], error: type[Exception]
) -> None:
    """Wrong Upgrade, Connection or Sec-WebSocket-Accept headers are refused."""
    client_handshake = client()
    response = response_101(client_handshake)
    changed = with_headers(Request("/", response.headers), **changes)
    with pytest.raises(error):
        client_handshake.process_response(Response(101, "", changed.headers))


@pytest.mark.parametrize(
    ("offered", "answer", "accepted"),
    [
        ([], None, []),
        ([FakeClientFactory("x-a")], None, []),
        ([FakeClientFactory("x-a")], "x-a", [("x-a", [])]),
        (
            [FakeClientFactory("x-a"), FakeClientFactory("x-b")],
            "x-b, x-a",
            [("x-b", []), ("x-a", [])],
        ),
        (
            [FakeClientFactory("x-a", [("refuse", None)]), FakeClientFactory("x-a")],
            "x-a; p=1",
            [("x-a", [("p", "1")])],
        ),
    ],
)
def test_process_response_extensions(
    offered: list[ClientExtensionFactory], answer: str | None, accepted: list[object]
) -> None:
    """Extensions accepted by the server are built by the matching offering factory."""
    client_handshake = client(extensions=offered)
    extra = [] if answer is None else [("Sec-WebSocket-Extensions", answer)]
    client_handshake.process_response(response_101(client_handshake, *extra))
    extensions = client_handshake.extensions
    assert all(isinstance(e, FakeExtension) for e in extensions)
    assert [(e.name, e.params) for e in extensions if isinstance(e, FakeExtension)] == accepted


@pytest.mark.parametrize(
    ("offered", "answer"),
    [
        ([], "x-a"),
        ([FakeClientFactory("x-a")], "x-b"),
        ([FakeClientFactory("x-a")], "x-a; refuse"),
        ([FakeClientFactory("x-a")], "x-a, x-a"),
    ],
)
def test_process_response_extensions_refused(
    offered: list[ClientExtensionFactory], answer: str
) -> None:
    """An unoffered extension, or one every factory refuses, is a NegotiationError."""
    client_handshake = client(extensions=offered)
    response = response_101(client_handshake, ("Sec-WebSocket-Extensions", answer))
    with pytest.raises(NegotiationError):
        client_handshake.process_response(response)


def test_process_response_subprotocol() -> None:
    """A subprotocol the client offered is recorded."""
    client_handshake = client(subprotocols=["chat", "superchat"])
    response = response_101(client_handshake, ("Sec-WebSocket-Protocol", "superchat"))
    client_handshake.process_response(response)
    assert client_handshake.subprotocol == "superchat"


@pytest.mark.parametrize(
    ("offered", "answer", "message"),
    [
        (None, "chat", "unsupported subprotocol"),
        (["chat"], "superchat", "unsupported subprotocol"),
        (["chat", "superchat"], "chat, superchat", "multiple subprotocols"),
    ],
)
def test_process_response_subprotocol_refused(
    offered: list[str] | None, answer: str, message: str
) -> None:
    """An unoffered subprotocol, or several, is a NegotiationError."""
    client_handshake = client(subprotocols=offered)
    response = response_101(client_handshake, ("Sec-WebSocket-Protocol", answer))
    with pytest.raises(NegotiationError, match=message):
        client_handshake.process_response(response)


# Credentials (issue 13, item 8).


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_request_sends_one_authorization(name: str) -> None:
    """With user info in the URI and an Authorization header, only the header is sent."""
    handshake = client("ws://user:pass@example.com/", additional_headers={name: "Bearer t"})
    assert handshake.request.headers.get_all("Authorization") == ["Bearer t"]
    assert b"Basic" not in handshake.data_to_send()


def test_request_authorization_one_way() -> None:
    """Either way alone sends exactly one Authorization header."""
    from_uri = client("ws://user:pass@example.com/").request.headers
    from_headers = client(additional_headers=[("Authorization", "Bearer t")]).request.headers
    assert from_uri.get_all("Authorization") == ["Basic dXNlcjpwYXNz"]
    assert from_headers.get_all("Authorization") == ["Bearer t"]


# Exact refusals: their messages become HTTP bodies and exception text users see.


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Sec-WebSocket-Accept": None}, "missing Sec-WebSocket-Accept header"),
        (
            {"Sec-WebSocket-Accept": [ACCEPT, ACCEPT]},
            "invalid Sec-WebSocket-Accept header: multiple values",
        ),
        ({"Sec-WebSocket-Accept": "wrong"}, "invalid Sec-WebSocket-Accept header: wrong"),
        ({"Sec-WebSocket-Extensions": "x-b; p=1"}, "unsupported extension: x-b; p=1"),
        ({"Sec-WebSocket-Protocol": "chat, superchat"}, "multiple subprotocols: chat, superchat"),
        ({"Sec-WebSocket-Protocol": "other"}, "unsupported subprotocol: other"),
    ],
)
def test_process_response_refusal_messages(
    changes: dict[str, str | list[str] | None], message: str
) -> None:
    """Each refused 101 gets its own exact message, naming the header and value."""
    client_handshake = client(
        extensions=[FakeClientFactory("x-a")], subprotocols=["chat", "superchat"]
    )
    response = response_101(client_handshake)
    changed = with_headers(Request("/", response.headers), **changes)
    with pytest.raises(InvalidHandshake) as exc_info:
        client_handshake.process_response(Response(101, "", changed.headers))
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("data", "max_header_size", "message", "status"),
    [
        (
            b"SSH-2.0-OpenSSH\r\n\r\n",
            16384,
            "invalid HTTP response: illegal status line: bytearray(b'SSH-2.0-OpenSSH')",
            400,
        ),
        (
            b"HTTP/1.1 101 Switching\r\n" + b"X: y\r\n" * 40,
            100,
            "invalid HTTP response: Receive buffer too long",
            400,
        ),
        (
            b"HTTP/1.1 101 " + b"x" * 8193 + b"\r\n\r\n",
            65536,
            "status line exceeds 8192 bytes",
            431,
        ),
        (
            b"HTTP/1.1 101 \r\n" + b"X-Big: " + b"x" * 8190 + b"\r\n\r\n",
            65536,
            "a header line exceeds 8192 bytes",
            431,
        ),
        (
            b"HTTP/1.1 101 \r\n" + b"X: y\r\n" * 100 + b"\r\n",
            200,
            "message head exceeds 200 bytes",
            431,
        ),
    ],
)
def test_next_response_refusal_messages(
    data: bytes, max_header_size: int, message: str, status: int
) -> None:
    """Each refused response gets its exact message and status; so does an overlong partial head."""
    client_handshake = client(max_header_size=max_header_size)
    client_handshake.receive_data(data)
    with pytest.raises(InvalidMessage) as exc_info:
        client_handshake.next_response()
    assert (str(exc_info.value), exc_info.value.status) == (message, status)


# The body limit, and what is known before the response.


def test_client_body_limit_is_exact() -> None:
    """By default an error body of 64 KiB is read, and one byte more refused."""
    for size in (65536, 65537):
        client_handshake = client()
        body = b"x" * size
        length = [("Content-Length", str(size))]
        client_handshake.receive_data(h11_response_bytes(client_handshake, 404, length, body))
        if size == 65536:
            response = client_handshake.next_response()
            assert response is not None
            assert response.body == body
        else:
            with pytest.raises(InvalidMessage) as exc_info:
                client_handshake.next_response()
            assert str(exc_info.value) == "response body exceeds 65536 bytes"


def test_client_negotiated_nothing_before_the_response() -> None:
    """Until a 101 is processed, the client has no extensions and no subprotocol."""
    client_handshake = client(extensions=[FakeClientFactory("x-a")], subprotocols=["chat"])
    assert client_handshake.extensions == []
    assert client_handshake.subprotocol is None
    with pytest.raises(InvalidStatus):
        client_handshake.process_response(Response(403, "Forbidden"))
    assert client_handshake.extensions == []
    assert client_handshake.subprotocol is None
