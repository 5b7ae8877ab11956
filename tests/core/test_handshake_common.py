"""Tests for anyio_ws.core.handshake.common: the keys, and the bounds both sides apply.

The bounds on a handshake head and on the offers read from it are checked through a
server and a client, as a peer meets them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest

from anyio_ws.core.handshake.common import accept_key, generate_key
from anyio_ws.core.handshake.server import ServerHandshake
from anyio_ws.exceptions import InvalidHeaderValue, InvalidMessage

from .handshake_helpers import (
    ACCEPT,
    KEY,
    FakeClientFactory,
    FakeServerFactory,
    RefusingServerFactory,
    client,
    fixed_key,
    h11_request_bytes,
    h11_response_bytes,
    parse_response,
    request_error,
    response_head_bytes,
    upgrade_headers,
    valid_request,
    with_headers,
)

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
