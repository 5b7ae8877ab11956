"""Tests for anyio_ws.core.extensions.permessage_deflate (RFC 7692)."""

from __future__ import annotations

import itertools
import random
import tracemalloc
import zlib
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.extensions import permessage_deflate as ws_deflate
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode

from anyio_ws.core.events import BinaryMessage, Event, TextMessage
from anyio_ws.core.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)
from anyio_ws.core.extensions.permessage_deflate import INFLATE_STEP
from anyio_ws.core.frames import CloseCode, Opcode, apply_mask, encode_frame
from anyio_ws.core.handshake import ClientHandshake, ServerHandshake
from anyio_ws.core.http import Request
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.core.uri import parse_uri
from anyio_ws.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
)
from anyio_ws.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)

MASK = bytes.fromhex("a1b2c3d4")
RSV1 = 0x40
MiB = 2**20

# ----------------------------------------------------------------------- helpers


def server_factory(**kwargs: Any) -> ServerPerMessageDeflateFactory:
    return ServerPerMessageDeflateFactory(**kwargs)


def negotiate(
    client_factories: Sequence[ClientExtensionFactory],
    server_factories: Sequence[ServerExtensionFactory],
) -> tuple[list[Extension], list[Extension]]:
    """Run a whole opening handshake; return the client's and the server's extensions."""
    client = ClientHandshake(parse_uri("ws://example.com/"), extensions=client_factories)
    server = ServerHandshake(extensions=server_factories)
    server.receive_data(client.data_to_send())
    request = server.next_request()
    assert request is not None
    client.receive_data(server.send_response(server.accept(request)))
    response = client.next_response()
    assert response is not None
    client.process_response(response)
    return client.extensions, server.extensions


def connected(
    client_factory: ClientExtensionFactory | None = None,
    server_factory: ServerExtensionFactory | None = None,
    **kwargs: Any,
) -> tuple[Protocol, Protocol]:
    """A client and a server protocol with what their handshake negotiated."""
    client_factories = enable_client_permessage_deflate(
        None if client_factory is None else [client_factory]
    )
    server_factories = enable_server_permessage_deflate(
        None if server_factory is None else [server_factory]
    )
    client_extensions, server_extensions = negotiate(client_factories, server_factories)
    assert len(client_extensions) == len(server_extensions) == 1
    client = Protocol(
        Side.CLIENT, extensions=client_extensions, mask_source=lambda n: MASK, **kwargs
    )
    server = Protocol(Side.SERVER, extensions=server_extensions, **kwargs)
    return client, server


def wire(protocol: Protocol) -> bytes:
    """Everything ``protocol`` wrote."""
    return b"".join(protocol.data_to_send())


def deliver(sender: Protocol, receiver: Protocol) -> list[Event]:
    """Carry what ``sender`` wrote to ``receiver``; return the events it gives."""
    receiver.receive_data(wire(sender))
    return receiver.events_received()


def split_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Parse frames into (first header byte, unmasked payload); enough for these tests."""
    frames = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        length, pos = second & 0x7F, pos + 2
        if length >= 126:
            size = 2 if length == 126 else 8
            length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
        mask = b""
        if second & 0x80:
            mask, pos = data[pos : pos + 4], pos + 4
        payload = data[pos : pos + length]
        frames.append((first, apply_mask(payload, mask) if mask else payload))
        pos += length
    return frames


def to_server(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked frame, as a client writes it."""
    return encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=MASK)


def deflate(data: bytes) -> bytes:
    """``data`` as a compressed message payload, from a fresh compressor."""
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


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


def failed_with(protocol: Protocol, code: int) -> bool:
    """Whether the protocol failed the connection with ``code``."""
    return (
        protocol.failure is not None
        and protocol.failure.code == code
        and protocol.close_sent is not None
        and protocol.close_sent.code == code
    )


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


# ------------------------------------------------------ the extension on its own


def test_rfc_7692_examples_decode() -> None:
    """The payloads of RFC 7692 section 7.2.3 inflate to "Hello"."""
    extension = PerMessageDeflate()
    decode = extension.decode
    assert decode(bytes.fromhex("f248cdc9c90700"), fin=True, max_size=None) == b"Hello"
    # 7.2.3.2: the second message refers to the first one's window.
    assert decode(bytes.fromhex("f200110000"), fin=True, max_size=None) == b"Hello"
    # 7.2.3.1, fragmented.
    assert decode(bytes.fromhex("f248cd"), fin=False, max_size=None) == b"He"
    assert decode(bytes.fromhex("c9c90700"), fin=True, max_size=None) == b"llo"
    # 7.2.3.3: a stored block; 7.2.3.4: a final block, then a 00 byte.
    assert decode(bytes.fromhex("000500faff48656c6c6f00"), fin=True, max_size=None) == b"Hello"
    assert decode(bytes.fromhex("f348cdc9c9070000"), fin=True, max_size=None) == b"Hello"
    assert decode(bytes.fromhex("f248cdc9c90700"), fin=True, max_size=None) == b"Hello"


def test_rfc_7692_examples_encode() -> None:
    """Our output matches RFC 7692 7.2.3.1, 7.2.3.2 and 7.2.3.6 byte for byte."""
    extension = PerMessageDeflate()
    assert extension.encode(b"Hello", first=True, fin=True) == (
        bytes.fromhex("f248cdc9c90700"),
        RSV1,
    )
    assert extension.encode(b"Hello", first=True, fin=True) == (bytes.fromhex("f200110000"), RSV1)
    assert extension.encode(b"", first=True, fin=True) == (b"\x00", RSV1)


def test_fragments_share_one_stream() -> None:
    """Non-final fragments keep their sync flush tail; only the first one has RSV1."""
    extension = PerMessageDeflate()
    first, rsv_first = extension.encode(b"Hello, ", first=True, fin=False)
    middle, rsv_middle = extension.encode(b"", first=False, fin=False)
    last, rsv_last = extension.encode(b"Hello!", first=False, fin=True)
    assert (rsv_first, rsv_middle, rsv_last) == (RSV1, 0, 0)
    assert first.endswith(b"\x00\x00\xff\xff") and middle.endswith(b"\x00\x00\xff\xff")
    assert not last.endswith(b"\x00\x00\xff\xff")
    inflated = zlib.decompressobj(wbits=-15).decompress(first + middle + last + b"\x00\x00\xff\xff")
    assert inflated == b"Hello, Hello!"


def test_window_of_8_bits_compresses_with_9() -> None:
    """A peer limited to an 8-bit window can still inflate what we send it."""
    extension = PerMessageDeflate(local_max_window_bits=8)
    data = bytes(range(200)) * 50
    payload, _ = extension.encode(data, first=True, fin=True)
    assert len(payload) < len(data) // 5
    strict = zlib.decompressobj(wbits=-8)
    assert strict.decompress(payload + b"\x00\x00\xff\xff") == data


def inflate_in_steps(payload: bytes, wbits: int) -> bytes:
    """Inflate as a peer with a ``wbits`` window must: in small steps, so that zlib can
    only look back into its window, not into a large output buffer of its own."""
    decompressor = zlib.decompressobj(wbits=-wbits)
    data, output = payload + b"\x00\x00\xff\xff", b""
    while data:
        output += decompressor.decompress(data, 512)
        data = decompressor.unconsumed_tail
    return output


def test_client_compresses_within_its_own_window_when_the_server_allows_more() -> None:
    """compress_window_bits bounds the distances we emit, so a 12-bit inflater reads them.

    The message repeats a 6000-byte block: a 15-bit window refers 6000 bytes back to it,
    which a 12-bit inflater (4096 bytes) refuses; within 12 bits, the repeat is not found.
    """
    block = random.Random(7).randbytes(6000)
    data = block * 2
    factory = ClientPerMessageDeflateFactory(compress_window_bits=12)
    extension = factory.process_response_params([("client_max_window_bits", "15")], [])
    assert extension.local_max_window_bits == 12
    payload, _ = extension.encode(data, first=True, fin=True)
    assert len(payload) > len(data) - 100  # the repeat was not found: random bytes stay
    assert inflate_in_steps(payload, 12) == data
    wide, _ = PerMessageDeflate(local_max_window_bits=15).encode(data, first=True, fin=True)
    assert len(wide) < len(block) + 200  # with 15 bits the second block is one match
    with pytest.raises(zlib.error, match="invalid distance too far back"):
        inflate_in_steps(wide, 12)


@pytest.mark.parametrize("takeover", [True, False])
def test_idle_memory_depends_on_context_takeover(takeover: bool) -> None:
    """Between messages, zlib state is kept only for a side that takes its context over."""
    tracemalloc.start()
    try:
        extensions = []
        for _ in range(50):
            extension = PerMessageDeflate(
                remote_no_context_takeover=not takeover, local_no_context_takeover=not takeover
            )
            payload, _ = extension.encode(b"Hello" * 20, first=True, fin=True)
            assert extension.decode(payload, fin=True, max_size=None) == b"Hello" * 20
            extensions.append(extension)
        per_extension = tracemalloc.get_traced_memory()[0] / len(extensions)
    finally:
        tracemalloc.stop()
    if takeover:
        assert per_extension > 200_000  # zlib's defaults: ~300 KB, see the module docstring
    else:
        assert per_extension < 2_000


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"remote_max_window_bits": 7}, ValueError,
         "remote_max_window_bits must be from 8 to 15, not 7"),
        ({"local_max_window_bits": 16}, ValueError,
         "local_max_window_bits must be from 8 to 15, not 16"),
        ({"local_max_window_bits": None}, TypeError,
         "local_max_window_bits must be an int from 8 to 15, not None"),
        ({"remote_max_window_bits": "9"}, TypeError,
         "remote_max_window_bits must be an int from 8 to 15, not '9'"),
        ({"compress_settings": {"wbits": 9}}, ValueError,
         "compress_settings may only set level, memLevel, strategy: wbits"),
    ],
)  # fmt: skip
def test_extension_checks_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Window sizes are 8 to 15; wbits cannot be set through compress_settings."""
    with pytest.raises(error) as info:
        PerMessageDeflate(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("rsv", "claimed"), [(0x40, True), (0x60, True), (0x20, False), (0x10, False)]
)
def test_begin_message_claims_rsv1_only(rsv: int, claimed: bool) -> None:
    """Deflate decodes a message whose first frame has RSV1, and leaves others alone."""
    assert PerMessageDeflate().begin_message(rsv) is claimed


def test_compress_settings_apply() -> None:
    """compress_settings reach zlib: level 0 stores the data uncompressed."""
    extension = PerMessageDeflate(compress_settings={"level": 0, "memLevel": 1})
    payload, _ = extension.encode(b"a" * 1000, first=True, fin=True)
    assert len(payload) > 1000


@pytest.mark.parametrize(
    "settings", [{"level": 1}, {"memLevel": 1}, {"strategy": zlib.Z_HUFFMAN_ONLY}], ids=str
)
def test_each_compress_setting_reaches_zlib(settings: dict[str, int]) -> None:
    """level, memLevel and strategy each give the output zlib gives with that setting."""
    data = b"".join(f"{i}:{i * i};".encode() for i in range(2000))

    def compressed(level: int, mem_level: int, strategy: int) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, mem_level, strategy)
        return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]

    defaults = {"level": -1, "memLevel": zlib.DEF_MEM_LEVEL, "strategy": zlib.Z_DEFAULT_STRATEGY}
    expected = compressed(**{"mem_level" if k == "memLevel" else k: v
                             for k, v in (defaults | settings).items()})  # fmt: skip
    assert expected != deflate(data)  # the setting changes zlib's output for this data
    payload, _ = PerMessageDeflate(compress_settings=settings).encode(data, first=True, fin=True)
    assert payload == expected


class CountingDecompressor:
    """zlib's decompressor, counting the bytes it inflates."""

    inflated = 0

    def __init__(self, wbits: int) -> None:
        self._inner = ORIGINAL_DECOMPRESSOBJ(wbits=wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        output = self._inner.decompress(data, max_length)
        CountingDecompressor.inflated += len(output)
        return output

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail


ORIGINAL_DECOMPRESSOBJ = zlib.decompressobj


@pytest.mark.parametrize("max_size", [0, 1000, 100_000])
def test_oversized_message_is_refused_after_max_size_plus_one_bytes(
    max_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message inflating past max_size is refused once max_size + 1 bytes came out, no more."""
    payload = deflate(bytes(1_000_000))
    monkeypatch.setattr(CountingDecompressor, "inflated", 0)
    monkeypatch.setattr(zlib, "decompressobj", CountingDecompressor)
    with pytest.raises(PayloadTooBig) as info:
        PerMessageDeflate().decode(payload, fin=True, max_size=max_size)
    assert str(info.value) == "decompressed message exceeds the size limit"
    assert CountingDecompressor.inflated == max_size + 1


def test_bytes_inflated_from_the_sync_tail_count_against_max_size() -> None:
    """The 00 00 ff ff we append may be data (a peer's stored block); it counts toward max_size."""
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(b"x" * 1000) + compressor.flush(zlib.Z_SYNC_FLUSH)
    payload = body + b"\x00\x04\x00\xfb\xff"  # a stored block of 4 bytes: the tail we append
    message = b"x" * 1000 + b"\x00\x00\xff\xff"
    assert PerMessageDeflate().decode(payload, fin=True, max_size=1004) == message
    with pytest.raises(PayloadTooBig):
        PerMessageDeflate().decode(payload, fin=True, max_size=1003)


@pytest.mark.parametrize("fin", [True, False], ids=["last-fragment", "earlier-fragment"])
def test_decode_respects_budget_exactly(fin: bool) -> None:
    """Exactly max_size bytes pass, one more is refused, on any fragment: an earlier one
    is refused as it arrives, not only when the message ends."""
    payload = deflate(b"x" * 1000)
    assert PerMessageDeflate().decode(payload, fin=fin, max_size=1000) == b"x" * 1000
    with pytest.raises(PayloadTooBig):
        PerMessageDeflate().decode(payload, fin=fin, max_size=999)


def test_decode_refuses_invalid_data() -> None:
    """Data that is not DEFLATE is a ProtocolError with close code 1007."""
    with pytest.raises(ProtocolError) as info:
        PerMessageDeflate().decode(b"\xff\xff\xff", fin=True, max_size=None)
    assert info.value.code == CloseCode.INVALID_DATA
    with pytest.raises(zlib.error) as zlib_info:
        zlib.decompressobj(wbits=-15).decompress(b"\xff\xff\xff")
    assert str(info.value) == f"invalid compressed data: {zlib_info.value}"


# --------------------------------------------------- through Protocol, end to end


@pytest.mark.parametrize(
    ("client_factory", "server_factory_"),
    [
        (None, None),
        (ClientPerMessageDeflateFactory(client_no_context_takeover=True), None),
        (None, ServerPerMessageDeflateFactory(server_no_context_takeover=True)),
        (
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=True, client_no_context_takeover=True
            ),
            ServerPerMessageDeflateFactory(server_max_window_bits=9, client_max_window_bits=8),
        ),
    ],
    ids=["takeover", "client-no-takeover", "server-no-takeover", "no-takeover-small-windows"],
)
def test_round_trip_both_ways(
    client_factory: ClientExtensionFactory | None, server_factory_: ServerExtensionFactory | None
) -> None:
    """Messages sent either way arrive intact, compressed with RSV1 set."""
    client, server = connected(client_factory, server_factory_)
    messages: list[str | bytes] = [
        "hello " * 50,
        b"\x00\x01" * 300,
        "",
        b"",
        "héllo wörld " * 20,
        "hello " * 50,
    ]
    for sender, receiver in [(client, server), (server, client)]:
        for message in messages:
            if isinstance(message, str):
                sender.send_text(message.encode())
            else:
                sender.send_binary(message)
        data = wire(sender)
        frames = split_frames(data)
        assert all(first & RSV1 for first, _ in frames)
        assert len(data) < sum(len(m) for m in messages) // 4
        receiver.receive_data(data)
        events = receiver.events_received()
        assert events == [
            TextMessage(m) if isinstance(m, str) else BinaryMessage(m) for m in messages
        ]
        assert receiver.failure is None


def test_context_takeover_shrinks_repeated_messages() -> None:
    """With context takeover a repeated message costs a few bytes; without, it doesn't."""
    message = b'{"type": "ticker", "symbol": "ABC", "price": 101.25, "volume": 42}'
    sizes = {}
    for takeover in (True, False):
        factory = ServerPerMessageDeflateFactory(server_no_context_takeover=not takeover)
        client, server = connected(server_factory=factory)
        server.send_text(message)
        wire(server)
        server.send_text(message)
        [(_, payload)] = split_frames(wire(server))
        sizes[takeover] = len(payload)
    assert sizes[True] < 10 < sizes[False]


def test_fragmented_message_round_trip() -> None:
    """A message sent in fragments has RSV1 on its first frame only and reassembles."""
    client, server = connected()
    client.send_text(b"caf\xc3", fin=False)
    client.send_continuation(b"\xa9" + "é ".encode() * 100, fin=False)
    client.send_continuation(b"", fin=False)
    client.send_continuation(b"done", fin=True)
    data = wire(client)
    firsts = [first for first, _ in split_frames(data)]
    assert firsts == [Opcode.TEXT | RSV1, Opcode.CONT, Opcode.CONT, 0x80 | Opcode.CONT]
    server.receive_data(data)
    assert server.events_received() == [TextMessage("café" + "é " * 100 + "done")]


def test_uncompressed_message_passes_through() -> None:
    """With deflate negotiated, a message without RSV1 is taken as it is."""
    _, server = connected()
    server.receive_data(to_server(Opcode.BINARY, b"plain"))
    assert server.events_received() == [BinaryMessage(b"plain")]


def test_rsv1_on_continuation_fails() -> None:
    """RSV1 on a continuation frame fails the connection with 1002."""
    _, server = connected()
    payload = deflate(b"Hello")
    server.receive_data(to_server(Opcode.TEXT, payload[:2], fin=False, rsv=RSV1))
    server.receive_data(to_server(Opcode.CONT, payload[2:], rsv=RSV1))
    assert server.events_received() == []
    assert failed_with(server, CloseCode.PROTOCOL_ERROR)
    assert server.state is State.CLOSING


def test_rsv1_without_negotiation_fails() -> None:
    """RSV1 on a connection without deflate fails it with 1002."""
    server = Protocol(Side.SERVER)
    server.receive_data(to_server(Opcode.TEXT, deflate(b"Hello"), rsv=RSV1))
    assert server.events_received() == []
    assert failed_with(server, CloseCode.PROTOCOL_ERROR)


def test_corrupted_data_fails_with_1007() -> None:
    """A compressed message that is not valid DEFLATE fails the connection with 1007."""
    _, server = connected()
    server.receive_data(to_server(Opcode.BINARY, b"\xff" + deflate(b"Hello"), rsv=RSV1))
    assert server.events_received() == []
    assert failed_with(server, CloseCode.INVALID_DATA)


def test_compressed_invalid_utf8_fails_with_1007() -> None:
    """Text is validated after inflating."""
    _, server = connected()
    server.receive_data(to_server(Opcode.TEXT, deflate(b"caf\xc3("), rsv=RSV1))
    assert failed_with(server, CloseCode.INVALID_DATA)


def test_max_size_counts_inflated_bytes() -> None:
    """max_size applies to the inflated message, across fragments."""
    client, server = connected(max_size=1000)
    client.send_binary(b"a" * 600, fin=False)
    client.send_continuation(b"a" * 400, fin=True)
    assert deliver(client, server) == [BinaryMessage(b"a" * 1000)]
    client.send_binary(b"a" * 600, fin=False)
    client.send_continuation(b"a" * 401, fin=True)
    assert deliver(client, server) == []
    assert failed_with(server, CloseCode.MESSAGE_TOO_BIG)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """100 MiB of zeros as one compressed payload (~100 KiB), built 1 MiB at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(100)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH)[:-4])
    return b"".join(parts)


def peak_while_receiving(server: Protocol, bomb: bytes, chunk_size: int | None) -> int:
    """Feed ``bomb`` as one compressed frame (whole, or in reads of ``chunk_size``);
    return the peak memory traced meanwhile."""
    frame = to_server(Opcode.BINARY, bomb, rsv=RSV1)
    size = chunk_size or len(frame)
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    tracemalloc.start()
    try:
        for chunk in chunks:
            server.receive_data(chunk)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("chunk_size", [None, 65536], ids=["whole", "64KiB-reads"])
def test_decompression_bomb_is_refused(bomb: bytes, chunk_size: int | None) -> None:
    """100 MiB of zeros against max_size=1 MiB fails with 1009, with memory kept small."""
    _, server = connected(max_size=MiB)
    peak = peak_while_receiving(server, bomb, chunk_size)
    assert server.events_received() == []
    assert failed_with(server, CloseCode.MESSAGE_TOO_BIG)
    assert isinstance(server.failure, PayloadTooBig)
    assert peak < 4 * MiB


@pytest.mark.parametrize("chunk_size", [None, 65536], ids=["whole", "64KiB-reads"])
def test_decompression_bomb_holds_max_size_once(bomb: bytes, chunk_size: int | None) -> None:
    """Refusing a bomb at max_size=8 MiB peaks near 8 MiB, not twice (output inflated in steps)."""
    _, server = connected(max_size=8 * MiB)
    peak = peak_while_receiving(server, bomb, chunk_size)
    assert failed_with(server, CloseCode.MESSAGE_TOO_BIG)
    assert peak <= 1.2 * 8 * MiB + 2 * MiB


def test_decode_pieces_are_bounded_and_add_up() -> None:
    """decode_pieces hands out at most INFLATE_STEP bytes a piece; decode joins them."""
    data = bytes(range(256)) * 4096  # 1 MiB
    payload = deflate(data)
    pieces = list(PerMessageDeflate().decode_pieces(payload, fin=True, max_size=None))
    assert len(pieces) > 1
    assert max(len(piece) for piece in pieces) <= INFLATE_STEP
    assert b"".join(pieces) == data
    assert PerMessageDeflate().decode(payload, fin=True, max_size=len(data)) == data


def test_compressed_frame_length_is_checked_on_its_header() -> None:
    """A compressed frame declaring 2**62 bytes fails with 1009 before any is read."""
    _, server = connected(max_size=MiB)
    header = to_server(Opcode.BINARY, b"", rsv=RSV1)
    server.receive_data(bytes([header[0], 0x80 | 127]) + (2**62).to_bytes(8, "big") + MASK)
    assert failed_with(server, CloseCode.MESSAGE_TOO_BIG)
    assert isinstance(server.failure, PayloadTooBig)


def test_compressed_wire_size_counts_across_frames() -> None:
    """Frames that inflate to nothing still add up on the wire, and fail with 1009."""
    _, server = connected(max_size=1000)
    empty_block = b"\x00\x00\x00\xff\xff" * 100  # 500 bytes of stored blocks, no output
    data = to_server(Opcode.BINARY, empty_block, fin=False, rsv=RSV1)
    data += to_server(Opcode.CONT, empty_block, fin=False) * 2
    server.receive_data(data)
    assert server.events_received() == []
    assert failed_with(server, CloseCode.MESSAGE_TOO_BIG)


def test_incompressible_message_of_max_size_passes() -> None:
    """Random data of exactly max_size bytes compresses to a bit more; it still passes."""
    data = random.Random(13).randbytes(100_000)
    client, server = connected(max_size=len(data))
    client.send_binary(data)
    frames = split_frames(b"".join(client.data_to_send()))
    assert len(frames[0][1]) > len(data)  # DEFLATE's stored blocks made it longer
    server.receive_data(encode_frame(Opcode.BINARY, frames[0][1], rsv=RSV1, mask=MASK))
    assert server.events_received() == [BinaryMessage(data)]


# ------------------------------------------------------------- property: round trip

MESSAGES = st.lists(
    st.tuples(
        st.one_of(st.text(max_size=300), st.binary(max_size=300)),
        st.lists(st.integers(min_value=0, max_value=300), max_size=4),
    ),
    max_size=8,
)


def fragments(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (clamped, sorted); empty pieces allowed."""
    offsets = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


@settings(max_examples=60, deadline=None)
@given(
    messages=MESSAGES,
    client_takeover=st.booleans(),
    server_takeover=st.booleans(),
    window_bits=st.integers(min_value=8, max_value=15),
    client_to_server=st.booleans(),
)
def test_random_messages_round_trip(
    messages: list[tuple[str | bytes, list[int]]],
    client_takeover: bool,
    server_takeover: bool,
    window_bits: int,
    client_to_server: bool,
) -> None:
    """Any messages, fragmented anyhow, survive compression with any negotiated options."""
    client, server = connected(
        ClientPerMessageDeflateFactory(client_no_context_takeover=not client_takeover),
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=not server_takeover,
            server_max_window_bits=window_bits,
            client_max_window_bits=window_bits,
        ),
        max_size=None,
    )
    sender, receiver = (client, server) if client_to_server else (server, client)
    expected: list[Event] = []
    for message, cuts in messages:
        is_text = isinstance(message, str)
        data = message.encode() if isinstance(message, str) else message
        pieces = fragments(data, cuts)
        send = sender.send_text if is_text else sender.send_binary
        send(pieces[0], fin=len(pieces) == 1)
        for i, piece in enumerate(pieces[1:], start=2):
            sender.send_continuation(piece, fin=i == len(pieces))
        expected.append(TextMessage(message) if isinstance(message, str) else BinaryMessage(data))
    # Byte by byte: every chunk boundary inside compressed frames must be fine too.
    data = wire(sender)
    events = []
    for i in range(0, len(data), 7):
        receiver.receive_data(data[i : i + 7])
        events += receiver.events_received()
    assert receiver.failure is None
    assert events == expected


# ------------------------------------------------------- interop with websockets


def ws_extension(**kwargs: Any) -> ws_deflate.PerMessageDeflate:
    return ws_deflate.PerMessageDeflate(
        kwargs.get("remote_no_context_takeover", False),
        kwargs.get("local_no_context_takeover", False),
        kwargs.get("remote_max_window_bits", 15),
        kwargs.get("local_max_window_bits", 15),
    )


INTEROP_MESSAGES = [
    [b"Hello"],
    [b""],
    [b"Hello, ", b"", b"world! " * 100],
    [bytes(range(256)) * 40],
    [b"Hello"],
    [b"", b""],
]


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_websockets_decodes_ours(no_context_takeover: bool) -> None:
    """Frames we compress are inflated by websockets' permessage-deflate."""
    ours = PerMessageDeflate(local_no_context_takeover=no_context_takeover)
    theirs = ws_extension(remote_no_context_takeover=no_context_takeover)
    for pieces in INTEROP_MESSAGES:
        received = []
        for i, piece in enumerate(pieces):
            first, fin = i == 0, i == len(pieces) - 1
            payload, rsv = ours.encode(piece, first=first, fin=fin)
            opcode = WsOpcode.BINARY if first else WsOpcode.CONT
            frame = WsFrame(opcode, payload, fin=fin, rsv1=bool(rsv & RSV1))
            received.append(bytes(theirs.decode(frame, max_size=None).data))
        assert b"".join(received) == b"".join(pieces)


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_ours_decodes_websockets(no_context_takeover: bool) -> None:
    """Frames websockets compresses are inflated by ours."""
    theirs = ws_extension(local_no_context_takeover=no_context_takeover)
    ours = PerMessageDeflate(remote_no_context_takeover=no_context_takeover)
    for pieces in INTEROP_MESSAGES:
        received = []
        for i, piece in enumerate(pieces):
            first, fin = i == 0, i == len(pieces) - 1
            opcode = WsOpcode.BINARY if first else WsOpcode.CONT
            frame = theirs.encode(WsFrame(opcode, piece, fin=fin))
            assert frame.rsv1 is first
            if first:
                assert ours.begin_message(RSV1 if frame.rsv1 else 0)
            received.append(ours.decode(bytes(frame.data), fin=fin, max_size=MiB))
        assert b"".join(received) == b"".join(pieces)
