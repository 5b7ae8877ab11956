"""Tests for anyio_ws.core.handshake: a client and a server handshake together."""

from __future__ import annotations

import pytest

from anyio_ws.core import handshake
from anyio_ws.core.handshake import client as client_module
from anyio_ws.core.handshake import common, server
from anyio_ws.core.handshake.server import ServerHandshake
from anyio_ws.exceptions import InvalidStatus

from .handshake_helpers import (
    FRAME,
    MASKED_FRAME,
    FakeClientFactory,
    FakeServerFactory,
    answer,
    client,
    connect,
)

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


# The package's names.


def test_package_reexports_its_modules_names() -> None:
    """``anyio_ws.core.handshake`` gives the very objects its modules define, as before."""
    assert handshake.__all__ == [
        "GUID",
        "MAX_HEADERS",
        "MAX_LINE_SIZE",
        "MAX_OFFERS",
        "ClientHandshake",
        "ServerHandshake",
        "UnsupportedVersion",
        "accept_key",
        "check_head",
        "generate_key",
        "validate_origins",
    ]
    for module in (common, server, client_module):
        for name in module.__all__:
            if hasattr(handshake, name):
                assert getattr(handshake, name) is getattr(module, name), name
    for name in [*handshake.__all__, "OriginPattern", "SelectSubprotocol", "VERSION"]:
        assert hasattr(handshake, name), name
