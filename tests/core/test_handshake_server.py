"""Tests for anyio_ws.core.handshake.server: the server side of the opening handshake."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import h11
import pytest

from anyio_ws.core.extensions.base import ServerExtensionFactory
from anyio_ws.core.handshake.common import accept_key
from anyio_ws.core.handshake.server import ServerHandshake, UnsupportedVersion, validate_origins
from anyio_ws.core.http import Headers, Request, Response
from anyio_ws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidOrigin,
    InvalidUpgrade,
    NegotiationError,
)

from .handshake_helpers import (
    ACCEPT,
    FEEDS,
    KEY,
    MASKED_FRAME,
    FakeClientFactory,
    FakeServerFactory,
    RefusingServerFactory,
    client,
    feed,
    h11_request_bytes,
    parse_response,
    request_error,
    valid_request,
    with_headers,
)

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


# Bounds on what a peer sends (issue 13, item 5).


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
