"""Tests for anyio_ws.core.extensions.permessage_deflate.negotiation (RFC 7692 section 7).

The factories are driven with parameter lists, as the handshake hands them over; a few
tests run a whole handshake, or negotiate with the ``websockets`` library's factories.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from websockets.extensions import permessage_deflate as ws_deflate

from anyio_ws.core.extensions.base import Extension, ExtensionParameter
from anyio_ws.core.extensions.permessage_deflate.codec import PerMessageDeflate
from anyio_ws.core.extensions.permessage_deflate.negotiation import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)
from anyio_ws.core.handshake import ClientHandshake, ServerHandshake
from anyio_ws.core.http import Request
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
)

from .deflate_helpers import negotiate


def server_factory(**kwargs: Any) -> ServerPerMessageDeflateFactory:
    return ServerPerMessageDeflateFactory(**kwargs)


class Rsv2Extension(Extension):
    """Another extension, giving RSV2 a meaning; its data passes unchanged."""

    name = "x-rsv2"
    reserved_bits = 0x20

    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        return data, 0x20 if first else 0

    def begin_message(self, rsv: int) -> bool:
        return bool(rsv & 0x20)

    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        return data


# ---------------------------------------------------- server factory: negotiation


@pytest.mark.parametrize(
    ("factory", "offer", "answer", "expected"),
    [
        ({}, [], [], (False, False, 15, 15)),
        ({}, [("server_no_context_takeover", None)], [("server_no_context_takeover", None)],
         (False, True, 15, 15)),
        ({}, [("client_no_context_takeover", None)], [("client_no_context_takeover", None)],
         (True, False, 15, 15)),
        ({"server_no_context_takeover": True}, [], [("server_no_context_takeover", None)],
         (False, True, 15, 15)),
        ({"client_no_context_takeover": True}, [], [("client_no_context_takeover", None)],
         (True, False, 15, 15)),
        ({}, [("server_max_window_bits", "10")], [("server_max_window_bits", "10")],
         (False, False, 15, 10)),
        ({"server_max_window_bits": 12}, [], [("server_max_window_bits", "12")],
         (False, False, 15, 12)),
        ({"server_max_window_bits": 12}, [("server_max_window_bits", "9")],
         [("server_max_window_bits", "9")], (False, False, 15, 9)),
        ({"server_max_window_bits": 9}, [("server_max_window_bits", "12")],
         [("server_max_window_bits", "9")], (False, False, 15, 9)),
        ({}, [("server_max_window_bits", "8")], [("server_max_window_bits", "8")],
         (False, False, 15, 8)),
        ({}, [("client_max_window_bits", None)], [], (False, False, 15, 15)),
        ({"client_max_window_bits": 12}, [("client_max_window_bits", None)],
         [("client_max_window_bits", "12")], (False, False, 12, 15)),
        ({}, [("client_max_window_bits", "10")], [("client_max_window_bits", "10")],
         (False, False, 10, 15)),
        ({"client_max_window_bits": 12}, [("client_max_window_bits", "10")],
         [("client_max_window_bits", "10")], (False, False, 10, 15)),
        ({"client_max_window_bits": 9}, [("client_max_window_bits", "10")],
         [("client_max_window_bits", "9")], (False, False, 9, 15)),
        ({"client_max_window_bits": 12}, [], [], (False, False, 15, 15)),
        (
            {"server_max_window_bits": 12, "client_max_window_bits": 12},
            [("server_no_context_takeover", None), ("client_no_context_takeover", None),
             ("server_max_window_bits", "14"), ("client_max_window_bits", None)],
            [("server_no_context_takeover", None), ("client_no_context_takeover", None),
             ("server_max_window_bits", "12"), ("client_max_window_bits", "12")],
            (True, True, 12, 12),
        ),
    ],
)  # fmt: skip
def test_server_accepts(
    factory: dict[str, Any],
    offer: list[ExtensionParameter],
    answer: list[ExtensionParameter],
    expected: tuple[bool, bool, int, int],
) -> None:
    """The server answers each parameter as RFC 7692 section 7.1 asks, within its limits."""
    params, extension = server_factory(**factory).process_request_params(offer, [])
    assert params == answer
    assert isinstance(extension, PerMessageDeflate)
    assert (
        extension.remote_no_context_takeover,
        extension.local_no_context_takeover,
        extension.remote_max_window_bits,
        extension.local_max_window_bits,
    ) == expected


@pytest.mark.parametrize(
    ("offer", "error", "message"),
    [
        ([("server_max_window_bits", "7")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: 7"),
        ([("server_max_window_bits", "16")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: 16"),
        ([("server_max_window_bits", "x")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: x"),
        ([("server_max_window_bits", "010")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: 010"),
        ([("server_max_window_bits", None)], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: None"),
        ([("client_max_window_bits", "7")], InvalidParameterValue,
         "invalid value for parameter client_max_window_bits: 7"),
        ([("client_max_window_bits", "16")], InvalidParameterValue,
         "invalid value for parameter client_max_window_bits: 16"),
        ([("client_max_window_bits", "x")], InvalidParameterValue,
         "invalid value for parameter client_max_window_bits: x"),
        ([("server_no_context_takeover", "1")], InvalidParameterValue,
         "invalid value for parameter server_no_context_takeover: 1"),
        ([("client_no_context_takeover", "on")], InvalidParameterValue,
         "invalid value for parameter client_no_context_takeover: on"),
        ([("server_no_context_takeover", None)] * 2, DuplicateParameter,
         "duplicate parameter: server_no_context_takeover"),
        ([("client_no_context_takeover", None)] * 2, DuplicateParameter,
         "duplicate parameter: client_no_context_takeover"),
        ([("server_max_window_bits", "9"), ("server_max_window_bits", "10")], DuplicateParameter,
         "duplicate parameter: server_max_window_bits"),
        ([("client_max_window_bits", None), ("client_max_window_bits", "9")], DuplicateParameter,
         "duplicate parameter: client_max_window_bits"),
        ([("x-unknown", None)], InvalidParameterName, "invalid parameter name: x-unknown"),
        ([("max_window_bits", "10")], InvalidParameterName,
         "invalid parameter name: max_window_bits"),
    ],
)  # fmt: skip
def test_server_declines_invalid_offer(
    offer: list[ExtensionParameter], error: type[NegotiationError], message: str
) -> None:
    """Invalid values, duplicates and unknown names make the server decline, saying why."""
    with pytest.raises(error) as info:
        server_factory().process_request_params(offer, [])
    assert str(info.value) == message


def test_server_requires_client_max_window_bits() -> None:
    """require_client_max_window_bits declines offers that don't let us cap the client."""
    factory = server_factory(client_max_window_bits=10, require_client_max_window_bits=True)
    with pytest.raises(NegotiationError) as info:
        factory.process_request_params([], [])
    assert str(info.value) == "client_max_window_bits is required"
    params, _ = factory.process_request_params([("client_max_window_bits", None)], [])
    assert params == [("client_max_window_bits", "10")]


def test_server_declines_when_rsv1_is_taken() -> None:
    """An extension already using RSV1 (a second deflate offer) makes the server decline."""
    _, first = server_factory().process_request_params([], [])
    with pytest.raises(NegotiationError) as info:
        server_factory().process_request_params([], [first])
    assert str(info.value) == "RSV1 is already used by permessage-deflate"


def test_deflate_shares_the_connection_with_an_rsv2_extension() -> None:
    """An extension accepted before that uses another RSV bit does not stop deflate."""
    other = Rsv2Extension()
    _, extension = server_factory().process_request_params([], [other])
    assert isinstance(extension, PerMessageDeflate)
    assert isinstance(
        ClientPerMessageDeflateFactory().process_response_params([], [other]), PerMessageDeflate
    )


def test_server_handshake_skips_a_declined_offer() -> None:
    """The handshake answers the first acceptable one of the client's alternatives."""
    offers = "permessage-deflate; x-bogus, permessage-deflate; client_max_window_bits=10"
    request = ClientHandshake(parse_uri("ws://example.com/")).request
    request.headers["Sec-WebSocket-Extensions"] = offers
    server = ServerHandshake(extensions=[server_factory()])
    response = server.accept(Request(request.path, request.headers))
    assert response.headers["Sec-WebSocket-Extensions"] == (
        "permessage-deflate; client_max_window_bits=10"
    )
    [extension] = server.extensions
    assert isinstance(extension, PerMessageDeflate)
    assert extension.remote_max_window_bits == 10


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"server_max_window_bits": 7}, ValueError,
         "server_max_window_bits must be from 8 to 15, not 7"),
        ({"server_max_window_bits": 16}, ValueError,
         "server_max_window_bits must be from 8 to 15, not 16"),
        ({"server_max_window_bits": "12"}, TypeError,
         "server_max_window_bits must be an int from 8 to 15, not '12'"),
        ({"client_max_window_bits": True}, TypeError,
         "client_max_window_bits must be an int from 8 to 15, not True"),
        ({"client_max_window_bits": 16}, ValueError,
         "client_max_window_bits must be from 8 to 15, not 16"),
        ({"require_client_max_window_bits": True}, ValueError,
         "require_client_max_window_bits needs client_max_window_bits"),
        ({"compress_settings": {"wbits": 9}}, ValueError,
         "compress_settings may only set level, memLevel, strategy: wbits"),
        ({"compress_settings": {"zdict": 1}}, ValueError,
         "compress_settings may only set level, memLevel, strategy: zdict"),
        ({"compress_settings": {"zdict": 1, "level": 1, "wbits": 9}}, ValueError,
         "compress_settings may only set level, memLevel, strategy: wbits, zdict"),
    ],
)  # fmt: skip
def test_server_factory_checks_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Wrong types raise TypeError, values out of range ValueError, naming the argument."""
    with pytest.raises(error) as info:
        server_factory(**kwargs)
    assert str(info.value) == message


# ---------------------------------------------------- client factory: negotiation


@pytest.mark.parametrize(
    ("kwargs", "offer"),
    [
        ({}, [("client_max_window_bits", None)]),
        ({"client_max_window_bits": None}, []),
        ({"client_max_window_bits": 10}, [("client_max_window_bits", "10")]),
        (
            {"server_no_context_takeover": True, "client_no_context_takeover": True,
             "server_max_window_bits": 12, "client_max_window_bits": 8},
            [("server_no_context_takeover", None), ("client_no_context_takeover", None),
             ("server_max_window_bits", "12"), ("client_max_window_bits", "8")],
        ),
    ],
)  # fmt: skip
def test_client_offer(kwargs: dict[str, Any], offer: list[ExtensionParameter]) -> None:
    """The client offers its parameters in the order of RFC 7692 section 7.1."""
    assert ClientPerMessageDeflateFactory(**kwargs).get_request_params() == offer


@pytest.mark.parametrize(
    ("factory", "answer", "expected"),
    [
        ({}, [], (False, False, 15, 15)),
        ({}, [("server_no_context_takeover", None)], (True, False, 15, 15)),
        ({}, [("client_no_context_takeover", None)], (False, True, 15, 15)),
        ({"client_no_context_takeover": True}, [], (False, True, 15, 15)),
        ({"server_no_context_takeover": True}, [("server_no_context_takeover", None)],
         (True, False, 15, 15)),
        ({}, [("server_max_window_bits", "10")], (False, False, 10, 15)),
        ({"server_max_window_bits": 12}, [("server_max_window_bits", "12")],
         (False, False, 12, 15)),
        ({"server_max_window_bits": 12}, [("server_max_window_bits", "8")],
         (False, False, 8, 15)),
        ({}, [("client_max_window_bits", "9")], (False, False, 15, 9)),
        ({"client_max_window_bits": 11}, [], (False, False, 15, 11)),
        ({"client_max_window_bits": 11}, [("client_max_window_bits", "10")],
         (False, False, 15, 10)),
        ({"client_max_window_bits": 11}, [("client_max_window_bits", "11")],
         (False, False, 15, 11)),
        ({"client_max_window_bits": None}, [], (False, False, 15, 15)),
        ({"compress_window_bits": 12}, [], (False, False, 15, 12)),
        ({"compress_window_bits": 12}, [("client_max_window_bits", "15")],
         (False, False, 15, 12)),
        ({"compress_window_bits": 12}, [("client_max_window_bits", "9")],
         (False, False, 15, 9)),
        ({"compress_window_bits": 12, "client_max_window_bits": 10}, [],
         (False, False, 15, 10)),
        ({"compress_window_bits": 12, "client_max_window_bits": None}, [],
         (False, False, 15, 12)),
    ],
)  # fmt: skip
def test_client_accepts(
    factory: dict[str, Any], answer: list[ExtensionParameter], expected: tuple[bool, ...]
) -> None:
    """The client builds the extension that the server's answer describes."""
    extension = ClientPerMessageDeflateFactory(**factory).process_response_params(answer, [])
    assert (
        extension.remote_no_context_takeover,
        extension.local_no_context_takeover,
        extension.remote_max_window_bits,
        extension.local_max_window_bits,
    ) == expected


@pytest.mark.parametrize(
    ("factory", "answer", "error", "message"),
    [
        ({}, [("server_max_window_bits", "16")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: 16"),
        ({}, [("server_max_window_bits", "7")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: 7"),
        ({}, [("server_max_window_bits", "x")], InvalidParameterValue,
         "invalid value for parameter server_max_window_bits: x"),
        ({}, [("client_max_window_bits", None)], InvalidParameterValue,
         "invalid value for parameter client_max_window_bits: None"),
        ({}, [("client_max_window_bits", "16")], InvalidParameterValue,
         "invalid value for parameter client_max_window_bits: 16"),
        ({}, [("server_no_context_takeover", "1")], InvalidParameterValue,
         "invalid value for parameter server_no_context_takeover: 1"),
        ({}, [("server_no_context_takeover", None)] * 2, DuplicateParameter,
         "duplicate parameter: server_no_context_takeover"),
        ({}, [("client_max_window_bits", "9")] * 2, DuplicateParameter,
         "duplicate parameter: client_max_window_bits"),
        ({}, [("x-unknown", None)], InvalidParameterName, "invalid parameter name: x-unknown"),
        ({"server_no_context_takeover": True}, [], NegotiationError,
         "server did not accept server_no_context_takeover"),
        ({"server_max_window_bits": 10}, [], NegotiationError,
         "server did not accept server_max_window_bits"),
        ({"server_max_window_bits": 10}, [("server_max_window_bits", "11")],
         InvalidParameterValue, "invalid value for parameter server_max_window_bits: 11"),
        ({"client_max_window_bits": None}, [("client_max_window_bits", "10")], NegotiationError,
         "server set client_max_window_bits, which was not offered"),
        ({"client_max_window_bits": 10}, [("client_max_window_bits", "11")],
         InvalidParameterValue, "invalid value for parameter client_max_window_bits: 11"),
    ],
)  # fmt: skip
def test_client_refuses_answer(
    factory: dict[str, Any],
    answer: list[ExtensionParameter],
    error: type[NegotiationError],
    message: str,
) -> None:
    """An invalid answer, or one that doesn't match the offer, fails the handshake, saying why."""
    with pytest.raises(error) as info:
        ClientPerMessageDeflateFactory(**factory).process_response_params(answer, [])
    assert str(info.value) == message


def test_client_refuses_a_second_deflate() -> None:
    """A server accepting deflate twice fails the handshake."""
    first = ClientPerMessageDeflateFactory().process_response_params([], [])
    with pytest.raises(NegotiationError) as info:
        ClientPerMessageDeflateFactory().process_response_params([], [first])
    assert str(info.value) == "RSV1 is already used by permessage-deflate"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"client_max_window_bits": 16}, ValueError,
         "client_max_window_bits must be from 8 to 15, not 16"),
        ({"client_max_window_bits": False}, TypeError,
         "client_max_window_bits must be an int from 8 to 15, not False"),
        ({"client_max_window_bits": 9.0}, TypeError,
         "client_max_window_bits must be an int from 8 to 15, not 9.0"),
        ({"server_max_window_bits": 7}, ValueError,
         "server_max_window_bits must be from 8 to 15, not 7"),
        ({"compress_settings": {"wbits": -9}}, ValueError,
         "compress_settings may only set level, memLevel, strategy: wbits"),
        ({"compress_window_bits": 7}, ValueError,
         "compress_window_bits must be from 8 to 15, not 7"),
        ({"compress_window_bits": True}, TypeError,
         "compress_window_bits must be an int from 8 to 15, not True"),
    ],
)  # fmt: skip
def test_client_factory_checks_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Wrong types raise TypeError, values out of range ValueError, naming the argument."""
    with pytest.raises(error) as info:
        ClientPerMessageDeflateFactory(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "ClientPerMessageDeflateFactory(client_max_window_bits)"),
        ({"client_max_window_bits": None}, "ClientPerMessageDeflateFactory()"),
        (
            {"server_no_context_takeover": True, "server_max_window_bits": 10,
             "client_max_window_bits": 9},
            "ClientPerMessageDeflateFactory(server_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=9)",
        ),
    ],
)  # fmt: skip
def test_client_factory_repr_shows_the_offer(kwargs: dict[str, Any], text: str) -> None:
    """The client factory's repr is its offer, as the header would carry it."""
    assert repr(ClientPerMessageDeflateFactory(**kwargs)) == text


def test_enable_adds_default_factories_once() -> None:
    """The enable_* helpers add a tuned factory, unless the user passed one."""
    [client_default] = enable_client_permessage_deflate(None)
    [server_default] = enable_server_permessage_deflate([])
    assert isinstance(client_default, ClientPerMessageDeflateFactory)
    assert isinstance(server_default, ServerPerMessageDeflateFactory)
    assert client_default.compress_settings == server_default.compress_settings == {"memLevel": 5}
    assert server_default.server_max_window_bits == server_default.client_max_window_bits == 12
    # The client keeps its own window at 12 bits without asking: the offer stays bare.
    assert client_default.compress_window_bits == 12
    assert client_default.get_request_params() == [("client_max_window_bits", None)]
    mine = ServerPerMessageDeflateFactory(server_no_context_takeover=True)
    assert enable_server_permessage_deflate([mine]) == [mine]
    my_client = ClientPerMessageDeflateFactory(client_no_context_takeover=True)
    assert enable_client_permessage_deflate([my_client]) == [my_client]


def test_factories_hand_their_compress_settings_to_the_extension() -> None:
    """compress_settings given to a factory reach the extension it negotiates."""
    settings = {"level": 1, "memLevel": 2, "strategy": zlib.Z_FILTERED}
    client = ClientPerMessageDeflateFactory(compress_settings=settings)
    assert client.process_response_params([], []).compress_settings == settings
    server = ServerPerMessageDeflateFactory(compress_settings=settings)
    _, extension = server.process_request_params([], [])
    assert extension.compress_settings == settings


def test_defaults_negotiate_end_to_end() -> None:
    """Default factories agree on 12-bit windows both ways, with context takeover."""
    [client], [server] = negotiate(
        enable_client_permessage_deflate(None), enable_server_permessage_deflate(None)
    )
    assert isinstance(client, PerMessageDeflate)
    assert isinstance(server, PerMessageDeflate)
    assert (client.local_max_window_bits, client.remote_max_window_bits) == (12, 12)
    assert (server.local_max_window_bits, server.remote_max_window_bits) == (12, 12)
    assert not client.local_no_context_takeover and not server.local_no_context_takeover


def test_interop_negotiation_with_websockets() -> None:
    """Our factories and websockets' understand each other's offers and answers."""
    theirs = ws_deflate.ClientPerMessageDeflateFactory(
        server_max_window_bits=11, client_max_window_bits=True, client_no_context_takeover=True
    )
    answer, ours = ServerPerMessageDeflateFactory(client_max_window_bits=10).process_request_params(
        theirs.get_request_params(), []
    )
    their_extension = theirs.process_response_params(answer, [])
    assert their_extension.local_max_window_bits == ours.remote_max_window_bits == 10
    assert their_extension.remote_max_window_bits == ours.local_max_window_bits == 11

    client = ClientPerMessageDeflateFactory(server_no_context_takeover=True)
    their_server = ws_deflate.ServerPerMessageDeflateFactory(client_max_window_bits=9)
    answer, their_extension = their_server.process_request_params(client.get_request_params(), [])
    ours = client.process_response_params(answer, [])
    assert ours.local_max_window_bits == their_extension.remote_max_window_bits == 9
    assert ours.remote_no_context_takeover and their_extension.local_no_context_takeover
