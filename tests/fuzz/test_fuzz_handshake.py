"""Property tests of the opening handshake: any request or response is decided, never a crash."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import event, given
from hypothesis import strategies as st

from anyio_ws.core.extensions.permessage_deflate import (
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)
from anyio_ws.core.handshake import ClientHandshake, ServerHandshake
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import InvalidHandshake, InvalidMessage

from .strategies import CUTS, FUZZ, split

KEYS = st.binary(min_size=16, max_size=16).map(lambda raw: base64.b64encode(raw).decode())


def expected_accept(key: str) -> str:
    """Sec-WebSocket-Accept computed here, independently of the library (section 4.2.2)."""
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


def request_bytes(request_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [request_line, *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def valid_headers(key: str) -> list[tuple[str, str]]:
    return [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]


def server_handshake() -> ServerHandshake:
    return ServerHandshake(
        extensions=enable_server_permessage_deflate(None), subprotocols=["chat", "superchat"]
    )


def decide(handshake: ServerHandshake, data: bytes, cuts: list[int]) -> int:
    """Feed ``data`` (then EOF) and return the status the server answers with.

    Whatever happens, the answer must serialize: a rejection is sent, not raised.
    """
    for piece in split(data, cuts):
        handshake.receive_data(piece)
    try:
        request = handshake.next_request()
        if request is None:
            handshake.receive_eof()
            request = handshake.next_request()
        assert request is not None
        response = handshake.accept(request)
    except InvalidHandshake as exc:
        response = handshake.response_for(exc)
    if response.status_code != 101:
        assert response.headers["Connection"] == "close"
    handshake.send_response(response)
    return response.status_code


@FUZZ
@given(
    key=KEYS,
    upgrade=st.sampled_from(["websocket", "WebSocket", "WEBSOCKET", "websocket, h2c"]),
    connection=st.sampled_from(["Upgrade", "upgrade", "keep-alive, Upgrade", "Upgrade,close"]),
    extensions=st.sampled_from(
        [None, "permessage-deflate", "permessage-deflate; client_max_window_bits"]
    ),
    cuts=CUTS,
)
def test_valid_request_with_any_key_is_accepted_with_the_right_accept(
    key: str, upgrade: str, connection: str, extensions: str | None, cuts: list[int]
) -> None:
    """A valid request, any key, any legal spelling, any segmentation: 101, right accept."""
    headers = valid_headers(key)
    headers[1] = ("Upgrade", upgrade)
    headers[2] = ("Connection", connection)
    headers.append(("Sec-WebSocket-Protocol", "superchat, chat"))
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    handshake = server_handshake()
    for piece in split(request_bytes("GET /path?q=1 HTTP/1.1", headers), cuts):
        handshake.receive_data(piece)
    request = handshake.next_request()
    assert request is not None
    response = handshake.accept(request)
    assert response.status_code == 101
    assert response.headers["Sec-WebSocket-Accept"] == expected_accept(key)
    assert handshake.subprotocol == "chat"  # the server's preference wins
    assert len(handshake.extensions) == (extensions is not None)
    assert handshake.send_response(response).startswith(b"HTTP/1.1 101 ")


# Values a mutation may put in a header: legal, hostile, and plain junk (no CR or LF,
# which would be a different request rather than a different value).
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "websocket",
            "Upgrade",
            "13",
            "8, 13",
            "dGhlIHNhbXBsZSBub25jZQ==",
            "permessage-deflate; server_max_window_bits=99",
            "permessage-deflate; client_max_window_bits; client_max_window_bits",
            'permessage-deflate; x="unterminated',
            "chat, , superchat",
            "0",
            "chunked",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)
NAMES = st.sampled_from(
    [
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
        "Origin",
        "Content-Length",
        "Transfer-Encoding",
        "X-Junk",
    ]
)
REQUEST_LINES = st.sampled_from(
    [
        "GET / HTTP/1.1",
        "GET /a/b?c=d HTTP/1.1",
        "GET /%ff HTTP/1.1",
        "GET /chat?x=%00 HTTP/1.1",
        "POST / HTTP/1.1",
        "HEAD / HTTP/1.1",
        "GET / HTTP/1.0",
        "GET / HTTP/2.0",
        "GET  HTTP/1.1",
        "get / HTTP/1.1",
        "GET / http/1.1",
    ]
)
MUTATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("drop"), st.integers(0, 20), st.none()),
        st.tuples(st.just("duplicate"), st.integers(0, 20), st.none()),
        st.tuples(st.just("value"), st.integers(0, 20), VALUES),
        st.tuples(st.just("add"), NAMES, VALUES),
        st.tuples(st.just("rename"), st.integers(0, 20), NAMES),
    ),
    max_size=4,
)


def mutate(headers: list[tuple[str, str]], mutations: list[tuple[str, object, object]]) -> None:
    for operation, where, what in mutations:
        if operation == "add":
            headers.append((str(where), str(what)))
            continue
        if not headers:
            continue
        assert isinstance(where, int)
        index = where % len(headers)
        name, value = headers[index]
        if operation == "drop":
            del headers[index]
        elif operation == "duplicate":
            headers.insert(index, (name, value))
        elif operation == "value":
            headers[index] = (name, str(what))
        else:
            headers[index] = (str(what), value)


@FUZZ
@given(
    key=KEYS,
    request_line=REQUEST_LINES,
    mutations=MUTATIONS,
    # Flips and truncations end in a 400 almost always: a few of them go a long way.
    flips=st.one_of(
        *[st.just([])] * 3, st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 255)))
    ),
    truncate=st.one_of(*[st.none()] * 5, st.integers(0, 2**16)),
    cuts=CUTS,
)
def test_mutated_request_gets_101_or_a_client_error(
    key: str,
    request_line: str,
    mutations: list[tuple[str, object, object]],
    flips: list[tuple[int, int]],
    truncate: int | None,
    cuts: list[int],
) -> None:
    """Any mutation of a valid request gets a 101 or a 4xx (501/505 for HTTP-level
    refusals) as a response that serializes; no other exception escapes."""
    headers = valid_headers(key)
    headers.append(("Sec-WebSocket-Protocol", "chat"))
    headers.append(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))
    mutate(headers, mutations)
    data = bytearray(request_bytes(request_line, headers))
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if truncate is not None:
        del data[truncate % len(data) :]
    status = decide(server_handshake(), bytes(data), cuts)
    event(f"status {status}")
    # 501: a transfer coding h11 does not know (RFC 9112 section 6.1 asks for it);
    # 505: an HTTP version other than 1.1.
    assert status == 101 or 400 <= status < 500 or status in (501, 505)


# ----------------------------------------------------------------- client side


@FUZZ
@given(
    mutations=MUTATIONS,
    status_line=st.sampled_from(
        [
            "HTTP/1.1 101 Switching Protocols",
            "HTTP/1.1 101 ",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 403 Forbidden",
            "HTTP/1.0 101 Switching Protocols",
            "HTTP/1.1 100 Continue",
        ]
    ),
    extensions=st.sampled_from(
        [
            None,
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
            "permessage-deflate; client_max_window_bits",
            "x-unknown",
        ]
    ),
    cuts=CUTS,
)
def test_mutated_response_is_accepted_or_refused_with_invalid_handshake(
    mutations: list[tuple[str, object, object]],
    status_line: str,
    extensions: str | None,
    cuts: list[int],
) -> None:
    """The client checks any response: it accepts it or raises InvalidHandshake, only that."""
    handshake = ClientHandshake(
        parse_uri("ws://example.com/"),
        extensions=enable_client_permessage_deflate(None),
        subprotocols=["chat"],
    )
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", expected_accept(handshake.key)),
    ]
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    mutate(headers, mutations)
    data = ("\r\n".join([status_line, *(f"{n}: {v}" for n, v in headers)]) + "\r\n\r\n").encode(
        "latin-1"
    )
    try:
        for piece in split(data, cuts):
            handshake.receive_data(piece)
        response = handshake.next_response()
        if response is None:
            handshake.receive_eof()
            response = handshake.next_response()
        assert response is not None
        handshake.process_response(response)
    except InvalidMessage:
        event("invalid message")
    except InvalidHandshake as exc:
        event(type(exc).__name__)
    else:
        event("accepted")
        # Only a 101 that carries the one right answer to our key is accepted.
        assert response.status_code == 101
        assert response.headers.get_all("Sec-WebSocket-Accept") == [expected_accept(handshake.key)]
        assert handshake.subprotocol in (None, "chat")
