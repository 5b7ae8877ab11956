"""Tests for anyio_ws.core.handshake."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import h11
import pytest

from anyio_ws.core.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)
from anyio_ws.core.handshake import (
    ClientHandshake,
    ServerHandshake,
    UnsupportedVersion,
    accept_key,
    generate_key,
    validate_origins,
)
from anyio_ws.core.http import Headers, Request, Response
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
)

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


# Keys.


def test_accept_key() -> None:
    """accept_key gives the RFC 6455 section 1.3 example."""
    assert accept_key(KEY) == ACCEPT


def test_generate_key() -> None:
    """generate_key encodes 16 bytes of the given source in base64."""
    assert generate_key(fixed_key) == KEY
    assert len(base64.b64decode(generate_key())) == 16


def test_generate_key_is_random() -> None:
    """The default source gives a different key each time."""
    assert generate_key() != generate_key()


# The whole handshake, client against server.


def test_handshake_succeeds() -> None:
    """A client and a server complete the handshake and agree on nothing optional."""
    client_handshake, server = client(), ServerHandshake()
    response = connect(client_handshake, server)
    client_handshake.process_response(response)
    assert response.status_code == 101
    assert client_handshake.response is response
    assert client_handshake.extensions == server.extensions == []
    assert client_handshake.subprotocol is server.subprotocol is None


def test_handshake_negotiates() -> None:
    """Extensions and subprotocol negotiated by the server are recorded on both sides."""
    client_handshake = client(
        extensions=[FakeClientFactory("x-a", [("p", "1")]), FakeClientFactory("x-b")],
        subprotocols=["chat", "superchat"],
    )
    server = ServerHandshake(
        extensions=[FakeServerFactory("x-b"), FakeServerFactory("x-a")],
        subprotocols=["superchat", "chat"],
    )
    response = connect(client_handshake, server)
    client_handshake.process_response(response)
    assert response.headers["Sec-WebSocket-Extensions"] == "x-a; p=1, x-b"
    assert [e.name for e in client_handshake.extensions] == ["x-a", "x-b"]
    assert [e.name for e in server.extensions] == ["x-a", "x-b"]
    assert client_handshake.subprotocol == server.subprotocol == "superchat"


def test_handshake_rejected() -> None:
    """A rejected handshake gives the client an InvalidStatus carrying the response."""
    client_handshake = client()
    server = ServerHandshake(server_header=None)
    request_bytes = client_handshake.data_to_send().replace(b"Version: 13", b"Version: 8")
    server.receive_data(request_bytes)
    request = server.next_request()
    assert request is not None
    client_handshake.receive_data(server.send_response(answer(server, request)))
    response = client_handshake.next_response()
    assert response is not None
    with pytest.raises(InvalidStatus) as exc_info:
        client_handshake.process_response(response)
    assert exc_info.value.response.status_code == 426
    assert exc_info.value.response.headers["Sec-WebSocket-Version"] == "13"
    assert exc_info.value.response.body.startswith(b"Failed to open a WebSocket connection")


def test_first_frames_survive_on_both_sides() -> None:
    """Frames sent in the same segment as the request or the 101 land in trailing_data."""
    client_handshake, server = client(), ServerHandshake()
    server.receive_data(client_handshake.data_to_send() + MASKED_FRAME)
    request = server.next_request()
    assert request is not None
    assert server.trailing_data == MASKED_FRAME
    client_handshake.receive_data(server.send_response(server.accept(request)) + FRAME)
    assert client_handshake.next_response() is not None
    assert client_handshake.trailing_data == FRAME


# Server: receiving the request.


@pytest.mark.parametrize("how", FEEDS)
def test_next_request(how: str) -> None:
    """The server parses the client's request fed whole, byte by byte or with more bytes."""
    client_handshake, server = client(), ServerHandshake()
    request = feed(server.receive_data, server.next_request, client_handshake.data_to_send(), how)
    assert request == client_handshake.request
    assert server.request is request
    assert server.next_request() is request
    assert server.trailing_data == (MASKED_FRAME if how == "trailing" else b"")


def test_trailing_data_is_empty_before_the_request() -> None:
    """trailing_data is empty while the request is incomplete."""
    server = ServerHandshake()
    server.receive_data(client().data_to_send()[:-1])
    assert server.next_request() is None
    assert server.trailing_data == b""


def test_next_request_keeps_header_case() -> None:
    """Header names keep the case the client wrote."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(headers=[("X-Custom", "Value")]))
    request = server.next_request()
    assert request is not None
    assert list(request.headers.raw_items())[-1] == ("X-Custom", "Value")


def test_next_request_accepts_empty_body() -> None:
    """A request with Content-Length: 0 has no body and is accepted."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(headers=[("Content-Length", "0")]))
    assert server.next_request() is not None


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


@pytest.mark.parametrize(
    ("data", "max_header_size", "status"),
    [
        (b"GARBAGE\r\n\r\n", 16384, 400),
        (b"GET / HTTP/1.1\r\n\r\n", 16384, 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n", 16384, 400),
        (h11_request_bytes(headers=[("X-Big", "x" * 2000)]), 1000, 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 1000, 1000, 431),
        (h11_request_bytes("POST"), 16384, 405),
        (h11_request_bytes("PUT", headers=[("Content-Length", "0")]), 16384, 405),
        (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", 16384, 505),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 16384, 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 16384, 400),
    ],
)
def test_next_request_invalid(data: bytes, max_header_size: int, status: int) -> None:
    """Malformed, oversized, non-GET, HTTP/1.0 or body-carrying requests are refused."""
    exc, answer_bytes = request_error(data, max_header_size=max_header_size)
    assert exc.status == status
    head, body = parse_response(answer_bytes)
    assert head.status_code == status
    assert body.startswith(b"Failed to open a WebSocket connection: ")


def test_next_request_invalid_method_answer() -> None:
    """A 405 answer lists GET in Allow."""
    _, answer_bytes = request_error(h11_request_bytes("POST"))
    head, _ = parse_response(answer_bytes)
    assert (b"allow", b"GET") in head.headers


def test_next_request_head_gets_no_body() -> None:
    """A HEAD request gets a 405 whose body is left out, as HTTP requires."""
    exc, answer_bytes = request_error(h11_request_bytes("HEAD"))
    assert exc.status == 405
    assert answer_bytes.endswith(b"\r\n\r\n")
    assert b"Failed" not in answer_bytes


def test_next_request_eof_midway() -> None:
    """EOF in the middle of a request is an InvalidMessage answered with 400."""
    exc, answer_bytes = request_error(client().data_to_send()[:20], eof=True)
    assert exc.status == 400
    assert parse_response(answer_bytes)[0].status_code == 400


def test_next_request_eof_at_once() -> None:
    """EOF before any byte is an InvalidMessage, and there is nobody to answer."""
    exc, answer_bytes = request_error(b"", eof=True)
    assert "connection closed" in str(exc)
    assert answer_bytes == b""


@pytest.mark.parametrize("data", [b"GARBAGE\r\n\r\n", h11_request_bytes("POST")])
def test_next_request_error_is_final(data: bytes) -> None:
    """After a failure, next_request raises the same error again."""
    server = ServerHandshake()
    server.receive_data(data)
    with pytest.raises(InvalidMessage) as first:
        server.next_request()
    with pytest.raises(InvalidMessage) as second:
        server.next_request()
    assert second.value is first.value


def test_next_request_needs_data() -> None:
    """Without a complete request, next_request returns None."""
    assert ServerHandshake().next_request() is None


# Server: accepting.


def test_accept() -> None:
    """accept builds a 101 with Upgrade, Connection, Sec-WebSocket-Accept and Server."""
    response = ServerHandshake().accept(valid_request())
    assert response.status_code == 101
    assert response.reason_phrase == "Switching Protocols"
    assert list(response.headers.raw_items()) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ACCEPT),
        ("Server", "anyio_ws"),
    ]


def test_accept_without_server_header() -> None:
    """server_header=None leaves Server out."""
    assert "Server" not in ServerHandshake(server_header=None).accept(valid_request()).headers


@pytest.mark.parametrize(
    "changes",
    [
        {"Upgrade": "WebSocket"},
        {"Upgrade": "h2c, websocket"},
        {"Connection": "keep-alive, UPGRADE"},
        {"Connection": ["keep-alive", "upgrade"]},
    ],
)
def test_accept_upgrade_variants(changes: dict[str, str | list[str]]) -> None:
    """Upgrade and Connection are token lists compared case-insensitively."""
    assert ServerHandshake().accept(with_headers(valid_request(), **changes)).status_code == 101


def accept_error(**changes: str | list[str] | None) -> tuple[InvalidHandshake, Response]:
    """Run accept() on a request with changed headers; return the error and its response."""
    server = ServerHandshake()
    with pytest.raises(InvalidHandshake) as exc_info:
        server.accept(with_headers(valid_request(), **changes))
    return exc_info.value, server.response_for(exc_info.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"Upgrade": None},
        {"Upgrade": "h2c"},
        {"Connection": None},
        {"Connection": "keep-alive"},
    ],
)
def test_accept_invalid_upgrade(changes: dict[str, str | None]) -> None:
    """Missing or wrong Upgrade or Connection is an InvalidUpgrade answered with 426."""
    exc, response = accept_error(**changes)
    assert isinstance(exc, InvalidUpgrade)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"Sec-WebSocket-Key": None}, InvalidHeader),
        ({"Sec-WebSocket-Key": [KEY, KEY]}, InvalidHeader),
        ({"Sec-WebSocket-Key": "not base64!"}, InvalidHeaderValue),
        ({"Sec-WebSocket-Key": "AAAA"}, InvalidHeaderValue),
        ({"Sec-WebSocket-Key": base64.b64encode(b"x" * 17).decode()}, InvalidHeaderValue),
        ({"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=é"}, InvalidHeaderValue),
        ({"Sec-WebSocket-Extensions": "x-test; p=="}, InvalidHeaderFormat),
        ({"Sec-WebSocket-Protocol": "chat/1"}, InvalidHeaderFormat),
        ({"Connection": "Upgrade;"}, InvalidHeaderFormat),
    ],
)
def test_accept_invalid_header(
    changes: dict[str, str | list[str] | None], error: type[InvalidHandshake]
) -> None:
    """A missing, repeated or malformed header is an InvalidHeader answered with 400."""
    server = ServerHandshake(subprotocols=["chat"])
    with pytest.raises(error) as exc_info:
        server.accept(with_headers(valid_request(), **changes))
    assert server.response_for(exc_info.value).status_code == 400


@pytest.mark.parametrize("version", [None, "8", "13, 8", ["13", "13"]])
def test_accept_unsupported_version(version: str | list[str] | None) -> None:
    """A version other than 13 is answered with 426 and Sec-WebSocket-Version: 13."""
    exc, response = accept_error(Sec_WebSocket_Version=version)
    assert isinstance(exc, UnsupportedVersion)
    assert isinstance(exc, InvalidHeaderValue)
    assert response.status_code == 426
    assert response.headers["Sec-WebSocket-Version"] == "13"


def test_accept_failure_keeps_previous_negotiation() -> None:
    """A failed accept() does not touch extensions and subprotocol."""
    server = ServerHandshake(extensions=[FakeServerFactory()], subprotocols=["chat"])
    request = valid_request(extensions=[FakeClientFactory()], subprotocols=["chat"])
    with pytest.raises(UnsupportedVersion):
        server.accept(with_headers(request, Sec_WebSocket_Version="8"))
    assert server.extensions == []
    assert server.subprotocol is None


# Server: negotiating extensions.


def negotiate(
    factories: Sequence[ServerExtensionFactory], *offers: str
) -> tuple[ServerHandshake, Response]:
    server = ServerHandshake(extensions=factories)
    request = with_headers(valid_request(), Sec_WebSocket_Extensions=list(offers))
    return server, server.accept(request)


def test_extensions_not_offered() -> None:
    """Without an offer, no extension is accepted and no header is sent."""
    server, response = negotiate([FakeServerFactory()])
    assert server.extensions == []
    assert "Sec-WebSocket-Extensions" not in response.headers


def test_extensions_unknown_offer_ignored() -> None:
    """An offer no factory knows is ignored."""
    server, response = negotiate([FakeServerFactory()], "x-other; a=1")
    assert server.extensions == []
    assert "Sec-WebSocket-Extensions" not in response.headers


def test_extensions_accepted_in_offer_order() -> None:
    """Offers are accepted in the client's order, across several headers."""
    server, response = negotiate(
        [FakeServerFactory("x-a"), FakeServerFactory("x-b")], "x-b; q", "x-a; p=1"
    )
    assert response.headers["Sec-WebSocket-Extensions"] == "x-b; q, x-a; p=1"
    assert [e.name for e in server.extensions] == ["x-b", "x-a"]


def test_extensions_declined_offer_falls_back() -> None:
    """A declined offer (NegotiationError) lets the next offer of the same name be tried."""
    factory = FakeServerFactory()
    server, response = negotiate([factory], "x-test; refuse, x-test; p=2")
    assert response.headers["Sec-WebSocket-Extensions"] == "x-test; p=2"
    assert len(server.extensions) == 1
    assert len(factory.calls) == 2


def test_extensions_factory_used_once() -> None:
    """A factory that accepted an offer is not asked again for later offers."""
    factory = FakeServerFactory()
    server, response = negotiate([factory], "x-test; p=1, x-test; p=2")
    assert response.headers["Sec-WebSocket-Extensions"] == "x-test; p=1"
    assert len(factory.calls) == 1


def test_extensions_next_factory_after_decline() -> None:
    """When a factory declines, the next factory of that name gets the offer."""
    second = FakeServerFactory()
    server, _ = negotiate([RefusingServerFactory(), second], "x-test; p=1")
    assert len(second.calls) == 1
    assert len(server.extensions) == 1


def test_extensions_accepted_passed_to_factories() -> None:
    """Each factory sees the extensions accepted before it."""
    later = FakeServerFactory("x-b")
    server, _ = negotiate([FakeServerFactory("x-a"), later], "x-a, x-b")
    assert later.calls[0][1] == server.extensions[:1]


# Server: selecting a subprotocol.


@pytest.mark.parametrize(
    ("server_list", "offered", "selected"),
    [
        (None, ["chat"], None),
        ([], ["chat"], None),
        (None, [], None),
        (["chat", "superchat"], ["superchat", "chat"], "chat"),
        (["superchat", "chat"], ["chat", "superchat"], "superchat"),
        (["superchat"], ["chat, superchat"], "superchat"),
        (["chat"], ["other", "chat"], "chat"),
    ],
)
def test_subprotocol_selection(
    server_list: list[str] | None, offered: list[str], selected: str | None
) -> None:
    """The server picks its most preferred subprotocol among the client's offers."""
    server = ServerHandshake(subprotocols=server_list)
    request = with_headers(valid_request(), Sec_WebSocket_Protocol=offered)
    response = server.accept(request)
    assert server.subprotocol == selected
    assert response.headers.get("Sec-WebSocket-Protocol") == selected


@pytest.mark.parametrize(
    ("offered", "message"),
    [([], "missing subprotocol"), (["other"], "invalid subprotocol; expected one of chat, v2")],
)
def test_subprotocol_no_match(offered: list[str], message: str) -> None:
    """A server with subprotocols refuses a client offering none of them with a 400."""
    server = ServerHandshake(subprotocols=["chat", "v2"])
    request = with_headers(valid_request(), Sec_WebSocket_Protocol=offered)
    with pytest.raises(NegotiationError) as exc_info:
        server.accept(request)
    assert str(exc_info.value) == message
    assert server.response_for(exc_info.value).status_code == 400


@pytest.mark.parametrize(
    ("offered", "choice"),
    [(["a", "b"], "b"), (["a"], None), ([], None)],
)
def test_select_subprotocol_decides(offered: list[str], choice: str | None) -> None:
    """select_subprotocol gets the offers, overrides the default, and may pick nothing."""
    seen: list[Sequence[str]] = []

    def select(subprotocols: Sequence[str]) -> str | None:
        seen.append(list(subprotocols))
        return choice

    server = ServerHandshake(subprotocols=["a"], select_subprotocol=select)
    response = server.accept(with_headers(valid_request(), Sec_WebSocket_Protocol=offered))
    assert seen == [offered]
    assert server.subprotocol == choice
    assert response.headers.get("Sec-WebSocket-Protocol") == choice


def test_select_subprotocol_without_server_list() -> None:
    """select_subprotocol runs even when the server lists no subprotocols."""
    server = ServerHandshake(select_subprotocol=lambda offered: offered[-1])
    server.accept(with_headers(valid_request(), Sec_WebSocket_Protocol="a, b"))
    assert server.subprotocol == "b"


@pytest.mark.parametrize("choice", ["c", 42])
def test_select_subprotocol_unoffered_value(choice: Any) -> None:
    """select_subprotocol returning something not offered is a server bug: ValueError."""
    server = ServerHandshake(select_subprotocol=lambda offered: choice)
    with pytest.raises(ValueError, match="did not offer"):
        server.accept(with_headers(valid_request(), Sec_WebSocket_Protocol="a, b"))


def test_select_subprotocol_negotiation_error() -> None:
    """select_subprotocol may raise NegotiationError to refuse with a 400."""

    def select(offered: Sequence[str]) -> str | None:
        raise NegotiationError("no thanks")

    server = ServerHandshake(select_subprotocol=select)
    with pytest.raises(NegotiationError, match="no thanks"):
        server.accept(valid_request())


# Server: checking Origin.


@pytest.mark.parametrize(
    ("origins", "origin"),
    [
        (["https://a.example"], "https://a.example"),
        (["https://a.example", None], None),
        ([re.compile(r"https://[a-z]+\.example")], "https://b.example"),
        (None, "https://anything.example"),
        (None, None),
    ],
)
def test_origin_allowed(origins: list[Any] | None, origin: str | None) -> None:
    """An Origin equal to a str, fullmatching a pattern, or absent with None passes."""
    server = ServerHandshake(origins=origins)
    response = server.accept(with_headers(valid_request(), Origin=origin))
    assert response.status_code == 101


@pytest.mark.parametrize(
    ("origins", "origin"),
    [
        (["https://a.example"], "https://b.example"),
        (["https://a.example"], None),
        ([], "https://a.example"),
        ([re.compile(r"https://[a-z]+\.example")], "https://b.example.evil"),
        ([re.compile(r"https://a\.example")], None),
        (["https://a.example"], "HTTPS://A.EXAMPLE"),
    ],
)
def test_origin_refused(origins: list[Any], origin: str | None) -> None:
    """Any other Origin, or none when None is not allowed, is InvalidOrigin: 403."""
    server = ServerHandshake(origins=origins)
    with pytest.raises(InvalidOrigin) as exc_info:
        server.accept(with_headers(valid_request(), Origin=origin))
    response = server.response_for(exc_info.value)
    assert response.status_code == 403
    assert response.reason_phrase == "Forbidden"


def test_origin_repeated() -> None:
    """Two Origin headers are a 400, even when both are allowed (RFC 6454 7.3)."""
    server = ServerHandshake(origins=["https://a.example"])
    request = with_headers(valid_request(), Origin=["https://a.example", "https://a.example"])
    with pytest.raises(InvalidHeader) as exc_info:
        server.accept(request)
    assert not isinstance(exc_info.value, InvalidOrigin)
    assert server.response_for(exc_info.value).status_code == 400


@pytest.mark.parametrize(
    "origins",
    ["https://a.example", [b"https://a.example"], [42], [re.compile(rb"x")], {"a": 1}],
)
def test_origins_validated(origins: Any) -> None:
    """origins must be a sequence of str, None and re.Pattern[str]: TypeError otherwise."""
    with pytest.raises(TypeError):
        validate_origins(origins)
    with pytest.raises(TypeError):
        ServerHandshake(origins=origins)


def test_server_validates_subprotocols() -> None:
    """The server refuses a subprotocol list that is not a list of tokens."""
    with pytest.raises(TypeError):
        ServerHandshake(subprotocols="chat")


# Server: rejecting and sending.


def test_reject() -> None:
    """reject builds a plain-text response that closes the connection."""
    response = ServerHandshake().reject(403, "Forbidden.\n", {"X-Why": "because"})
    assert response.status_code == 403
    assert response.reason_phrase == "Forbidden"
    assert response.body == b"Forbidden.\n"
    assert list(response.headers.raw_items()) == [
        ("X-Why", "because"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", "11"),
        ("Connection", "close"),
        ("Server", "anyio_ws"),
    ]


def test_reject_unknown_status() -> None:
    """A status unknown to http.HTTPStatus gets an empty reason phrase."""
    assert ServerHandshake().reject(599, "").reason_phrase == ""


def test_reject_counts_bytes() -> None:
    """Content-Length counts the UTF-8 bytes of the body, not characters."""
    assert ServerHandshake().reject(400, "é").headers["Content-Length"] == "2"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InvalidMessage("bad"), 400),
        (InvalidMessage("big", HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE), 431),
        (InvalidUpgrade("Upgrade", "h2c"), 426),
        (InvalidHeader("Sec-WebSocket-Key"), 400),
        (NegotiationError("no"), 400),
    ],
)
def test_response_for(exc: InvalidHandshake, status: int) -> None:
    """response_for maps any handshake error to its status and a short body."""
    response = ServerHandshake().response_for(exc)
    assert response.status_code == status
    assert response.body == f"Failed to open a WebSocket connection: {exc}.\n".encode()
    assert "Sec-WebSocket-Version" not in response.headers


@pytest.mark.parametrize("how", FEEDS)
def test_send_response_101(how: str) -> None:
    """send_response writes a 101 that an h11 client reads, with its headers."""
    client_handshake, server = client(), ServerHandshake()
    request = feed(server.receive_data, server.next_request, client_handshake.data_to_send(), how)
    assert isinstance(request, Request)
    head, _ = parse_response(server.send_response(server.accept(request)))
    assert isinstance(head, h11.InformationalResponse)
    assert head.status_code == 101
    assert head.reason == b"Switching Protocols"
    assert (b"sec-websocket-accept", accept_key(client_handshake.key).encode()) in head.headers
    assert server.trailing_data == (MASKED_FRAME if how == "trailing" else b"")


def test_send_response_error() -> None:
    """send_response writes an error response with its body."""
    server = ServerHandshake()
    server.receive_data(client().data_to_send())
    assert server.next_request() is not None
    head, body = parse_response(server.send_response(server.reject(403, "No.\n")))
    assert head.status_code == 403
    assert body == b"No.\n"


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


# Bounds on what a peer sends (issue 13, item 5).


def test_next_request_header_count_is_bounded() -> None:
    """128 headers are accepted; 129 get a 431 with a short body, though the head is small."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(headers=[("X", "y")] * 127))  # and Host
    assert server.next_request() is not None
    exc, answer_bytes = request_error(h11_request_bytes(headers=[("X", "y")] * 128))
    assert exc.status == 431
    assert str(exc) == "more than 128 headers"
    head, body = parse_response(answer_bytes)
    assert head.status_code == 431
    assert len(body) < 100


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (h11_request_bytes(headers=[("X-Big", "x" * 8189)]), 431),  # 8192 + 1 with "X-Big: "
        (h11_request_bytes(target="/" + "x" * 8192), 414),
    ],
)
def test_next_request_line_length_is_bounded(data: bytes, status: int) -> None:
    """A header line over 8 KiB gets 431 and a target over 8 KiB 414, within max_header_size."""
    exc, answer_bytes = request_error(data)
    assert exc.status == status
    assert parse_response(answer_bytes)[0].status_code == status


def test_next_request_line_at_the_limit() -> None:
    """A header line of exactly 8 KiB is accepted."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(headers=[("X-Big", "x" * 8185)]))
    request = server.next_request()
    assert request is not None
    assert len(request.headers["X-Big"]) == 8185


@pytest.mark.parametrize(
    "extra",
    [[("X", "y")] * 130, [("X-Big", "x" * 9000)]],
    ids=["count", "line"],
)
def test_next_response_header_bounds(extra: list[tuple[str, str]]) -> None:
    """A response with more than 128 headers or a line over 8 KiB is an InvalidMessage."""
    client_handshake = client(max_header_size=65536)
    headers = upgrade_headers(client_handshake, *extra)
    client_handshake.receive_data(h11_response_bytes(client_handshake, 101, headers))
    with pytest.raises(InvalidMessage):
        client_handshake.next_response()


@pytest.fixture
def parsed_offers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every extension offer and subprotocol the header parsers read, in order."""
    from anyio_ws.core import headers as headers_module

    seen: list[str] = []
    parse_item = headers_module._parse_extension_item
    parse_token = headers_module._parse_token

    def count_item(header: str, pos: int, name: str) -> tuple[Any, int]:
        item, end = parse_item(header, pos, name)
        seen.append(item[0])
        return item, end

    def count_token(header: str, pos: int, name: str) -> tuple[str, int]:
        token, end = parse_token(header, pos, name)
        if name == "Sec-WebSocket-Protocol":
            seen.append(token)
        return token, end

    monkeypatch.setattr(headers_module, "_parse_extension_item", count_item)
    monkeypatch.setattr(headers_module, "_parse_token", count_token)
    return seen


@pytest.mark.parametrize(
    "changes",
    [
        {"Sec-WebSocket-Extensions": ", ".join(["x"] * 8000)},
        {"Sec-WebSocket-Extensions": [", ".join(["x"] * 60)] * 100},
        {"Sec-WebSocket-Protocol": ", ".join(["p"] * 8000)},
        {"Sec-WebSocket-Protocol": [", ".join(["p"] * 60)] * 100},
    ],
    ids=["extensions", "extensions-in-many-headers", "subprotocols", "subprotocols-in-many"],
)
def test_offers_are_bounded(changes: dict[str, Any], parsed_offers: list[str]) -> None:
    """Past 64 offers in all, parsing stops and the handshake gets a 400."""
    server = ServerHandshake(extensions=[RefusingServerFactory("x")], subprotocols=["q"])
    request = with_headers(valid_request(), **changes)
    with pytest.raises(InvalidHeaderValue, match="too many values") as exc_info:
        server.accept(request)
    assert exc_info.value.status == 400
    assert len(parsed_offers) == 64


def test_offers_at_the_limit(parsed_offers: list[str]) -> None:
    """64 extension offers and 64 subprotocols are all considered."""
    server = ServerHandshake(extensions=[FakeServerFactory("x63")], subprotocols=["p63"])
    request = with_headers(
        valid_request(),
        Sec_WebSocket_Extensions=", ".join(f"x{i}" for i in range(64)),
        Sec_WebSocket_Protocol=", ".join(f"p{i}" for i in range(64)),
    )
    server.accept(request)
    assert [e.name for e in server.extensions] == ["x63"]
    assert server.subprotocol == "p63"
    assert len(parsed_offers) == 128


def test_client_bounds_accepted_extensions(parsed_offers: list[str]) -> None:
    """A 101 listing thousands of extensions is refused after parsing 64 of them."""
    client_handshake = client(extensions=[FakeClientFactory("x")])
    headers = upgrade_headers(client_handshake, ("Sec-WebSocket-Extensions", "x," * 4000 + "x"))
    client_handshake.receive_data(h11_response_bytes(client_handshake, 101, headers))
    response = client_handshake.next_response()
    assert response is not None
    with pytest.raises(InvalidHeaderValue):
        client_handshake.process_response(response)
    assert len(parsed_offers) == 64


def test_long_header_values_are_shortened_in_messages() -> None:
    """An error about a 8 KiB header shows 200 characters of it, in the message and body."""
    server = ServerHandshake()
    value = "x" * 8000
    for changes in ({"Upgrade": value}, {"Sec-WebSocket-Extensions": "a=" + value}):
        request = with_headers(valid_request(), **changes)
        with pytest.raises(InvalidHeader) as exc_info:
            server.accept(request)
        assert len(str(exc_info.value)) < 300
        assert str(exc_info.value).endswith("...")
        assert len(server.response_for(exc_info.value).body) < 400


# Responses a hook builds (issue 13, item 7).


@pytest.mark.parametrize(
    "reason", ["Nope\r\nSet-Cookie: session=evil", "Nope\nX: y", "No\rpe", "No\x00pe", "No\x7f", 1]
)
def test_response_refuses_control_characters_in_reason(reason: Any) -> None:
    """A reason phrase with CR, LF or another control character is a ValueError."""
    with pytest.raises(ValueError, match="invalid reason phrase"):
        Response(403, reason)
    response = Response(403, "Forbidden")
    with pytest.raises(ValueError, match="invalid reason phrase"):
        response.reason_phrase = reason
    assert response.reason_phrase == "Forbidden"


def test_response_reason_allows_what_http_allows() -> None:
    """Tabs, spaces, visible ASCII and obs-text (as the client parses it) are fine."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes())
    assert server.next_request() is not None
    data = server.send_response(Response(403, "Nope\tcaf\xe9", body=b""))
    assert data.startswith(b"HTTP/1.1 403 Nope\tcaf\xe9\r\n")


@pytest.mark.parametrize(
    "header", [("X-Evil", "a\r\nSet-Cookie: x"), ("X-Evil\r\nSet-Cookie", "x"), ("X", "a\x00")]
)
def test_send_response_refuses_control_characters_in_headers(header: tuple[str, str]) -> None:
    """h11 refuses CR, LF and NUL in a header name or value: nothing reaches the wire."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes())
    assert server.next_request() is not None
    with pytest.raises(h11.LocalProtocolError):
        server.send_response(Response(403, "Forbidden", Headers([header])))


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

ORIGIN = "https://a.example"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Connection": None}, "missing Connection header"),
        ({"Connection": "keep-alive"}, "invalid Connection header: keep-alive"),
        ({"Connection": ["keep-alive", "close"]}, "invalid Connection header: keep-alive, close"),
        ({"Upgrade": None}, "missing Upgrade header"),
        ({"Upgrade": ["h2c", "spdy/3"]}, "invalid Upgrade header: h2c, spdy/3"),
        ({"Sec-WebSocket-Version": None}, "missing Sec-WebSocket-Version header"),
        ({"Sec-WebSocket-Version": "8"}, "invalid Sec-WebSocket-Version header: 8"),
        ({"Sec-WebSocket-Version": ["13", "13"]}, "invalid Sec-WebSocket-Version header: 13, 13"),
        ({"Sec-WebSocket-Key": None}, "missing Sec-WebSocket-Key header"),
        ({"Sec-WebSocket-Key": [KEY, KEY]}, "invalid Sec-WebSocket-Key header: multiple values"),
        ({"Sec-WebSocket-Key": "AAAA"}, "invalid Sec-WebSocket-Key header: AAAA"),
        ({"Sec-WebSocket-Key": "not base64!"}, "invalid Sec-WebSocket-Key header: not base64!"),
        ({"Sec-WebSocket-Key": KEY + "!"}, f"invalid Sec-WebSocket-Key header: {KEY}!"),
        (
            {"Sec-WebSocket-Key": "dGhlIHNhbXBs ZSBub25jZQ=="},
            "invalid Sec-WebSocket-Key header: dGhlIHNhbXBs ZSBub25jZQ==",
        ),
        ({"Origin": None}, "missing Origin header"),
        ({"Origin": "https://b.example"}, "invalid Origin header: https://b.example"),
        ({"Origin": [ORIGIN, ORIGIN]}, "invalid Origin header: multiple values"),
    ],
)
def test_accept_refusal_messages(changes: dict[str, str | list[str] | None], message: str) -> None:
    """Each refused request header gets its own exact message, naming the header and value."""
    server = ServerHandshake(origins=[ORIGIN])
    request = with_headers(valid_request(origin=ORIGIN), **changes)
    with pytest.raises(InvalidHeader) as exc_info:
        server.accept(request)
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("data", "message", "status"),
    [
        (
            b"GARBAGE\r\n\r\n",
            "invalid HTTP request: illegal request line: bytearray(b'GARBAGE')",
            400,
        ),
        (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", "unsupported HTTP version: 1.0", 505),
        (h11_request_bytes("POST"), "unsupported HTTP method: POST", 405),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "unsupported request body",
            400,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "unsupported request body",
            400,
        ),
        (h11_request_bytes(target="/" + "x" * 8192), "request target exceeds 8192 bytes", 414),
        (
            h11_request_bytes(headers=[("X-Big", "x" * 8189)]),
            "a header line exceeds 8192 bytes",
            431,
        ),
        (
            h11_request_bytes(headers=[("X-Big", "x" * 8000)] * 3),
            "message head exceeds 16384 bytes",
            431,
        ),
    ],
)
def test_next_request_refusal_messages(data: bytes, message: str, status: int) -> None:
    """Each refused request gets its own exact message and status."""
    exc, _ = request_error(data)
    assert (str(exc), exc.status) == (message, status)


def test_next_request_eof_message() -> None:
    """A client that leaves before sending a byte gets the closed-early message."""
    exc, _ = request_error(b"", eof=True)
    assert str(exc) == "connection closed before the request was complete"


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


def response_head_bytes(handshake: ClientHandshake, reason: bytes = b"", *extra: bytes) -> bytes:
    """A 101 head with the given reason phrase and extra header lines, as literal bytes."""
    lines = [
        b"HTTP/1.1 101 " + reason,
        *(f"{n}: {v}".encode() for n, v in upgrade_headers(handshake)),
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


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


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        (ORIGIN, "origins must be a sequence, not str"),
        ({"a": 1}, "origins must be a sequence, not dict"),
        ([42], "origins may hold str, None or re.Pattern[str], not int"),
        ([ORIGIN, 42], "origins may hold str, None or re.Pattern[str], not int"),
        ([None, b"x"], "origins may hold str, None or re.Pattern[str], not bytes"),
        ([re.compile("x"), 4.2], "origins may hold str, None or re.Pattern[str], not float"),
    ],
)
def test_origins_validated_messages(origins: Any, message: str) -> None:
    """Every item of origins is checked, and the TypeError names the wrong type."""
    with pytest.raises(TypeError) as exc_info:
        validate_origins(origins)
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("offered", "message"),
    [
        (
            ["a", "b"],
            "select_subprotocol returned 'c', which the client did not offer (offers: a, b)",
        ),
        ([], "select_subprotocol returned 'c', which the client did not offer (offers: none)"),
    ],
)
def test_select_subprotocol_unoffered_message(offered: list[str], message: str) -> None:
    """The ValueError for an unoffered choice lists the client's offers, or says none."""
    server = ServerHandshake(select_subprotocol=lambda offers: "c")
    with pytest.raises(ValueError) as exc_info:
        server.accept(with_headers(valid_request(), Sec_WebSocket_Protocol=offered))
    assert str(exc_info.value) == message


# Header names as written on the wire.


def test_accept_negotiated_header_names() -> None:
    """A 101 names Sec-WebSocket-Extensions and Sec-WebSocket-Protocol in their usual case."""
    server = ServerHandshake(extensions=[FakeServerFactory("x-a")], subprotocols=["chat"])
    request = valid_request(extensions=[FakeClientFactory("x-a")], subprotocols=["chat"])
    assert list(server.accept(request).headers.raw_items()) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ACCEPT),
        ("Sec-WebSocket-Extensions", "x-a"),
        ("Sec-WebSocket-Protocol", "chat"),
        ("Server", "anyio_ws"),
    ]


def test_response_for_unsupported_version_headers() -> None:
    """A 426 for a wrong version names Upgrade and Sec-WebSocket-Version in their usual case."""
    response = ServerHandshake().response_for(UnsupportedVersion("Sec-WebSocket-Version", "8"))
    assert list(response.headers.raw_items())[:2] == [
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
    ]


# Limits: what check_head counts, and the defaults.


def counted(first_line: int, headers: Sequence[tuple[str, str]]) -> int:
    """The size check_head counts: the first line plus 16, and each header plus 4."""
    return first_line + 16 + sum(len(name) + len(value) + 4 for name, value in headers)


def filler(room: int) -> list[tuple[str, str]]:
    """Two headers that check_head counts as ``room`` bytes, each line under 8 KiB."""
    value = room - 2 * (3 + 4)
    return [("X-A", "a" * (value // 2)), ("X-B", "b" * (value - value // 2))]


def test_server_head_limit_is_exact() -> None:
    """By default a request head counted at 16384 bytes is accepted, and at 16385 refused."""
    base = counted(1, [("Host", "x")])
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(headers=filler(16384 - base)))
    assert server.next_request() is not None
    exc, _ = request_error(h11_request_bytes(headers=filler(16385 - base)))
    assert (str(exc), exc.status) == ("message head exceeds 16384 bytes", 431)


def test_client_head_limit_is_exact() -> None:
    """By default a response head counted at 16384 bytes is accepted, and at 16385 refused."""
    for size, accepted in [(16384, True), (16385, False)]:
        client_handshake = client()
        headers = upgrade_headers(client_handshake)
        headers += filler(size - counted(0, headers))
        client_handshake.receive_data(h11_response_bytes(client_handshake, 101, headers))
        if accepted:
            assert client_handshake.next_response() is not None
        else:
            with pytest.raises(InvalidMessage) as exc_info:
                client_handshake.next_response()
            assert str(exc_info.value) == "message head exceeds 16384 bytes"


def test_first_lines_at_the_limit() -> None:
    """A request target and a status reason of exactly 8 KiB are accepted."""
    server = ServerHandshake()
    server.receive_data(h11_request_bytes(target="/" + "x" * 8191))
    request = server.next_request()
    assert request is not None
    assert len(request.path) == 8192
    client_handshake = client(max_header_size=65536)
    client_handshake.receive_data(response_head_bytes(client_handshake, b"x" * 8192))
    response = client_handshake.next_response()
    assert response is not None
    assert len(response.reason_phrase) == 8192


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
