"""Tests for anyio_ws.core.extensions.permessage_deflate through Protocol, end to end.

The codec and the negotiation are tested on their own in test_permessage_deflate_codec.py
and test_permessage_deflate_negotiation.py. Here a client and a server protocol agree on
the extension in a handshake and exchange compressed messages; the package's re-exports
are checked too.
"""

from __future__ import annotations

import itertools
import random
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyio_ws.core.events import BinaryMessage, Event, TextMessage
from anyio_ws.core.extensions import permessage_deflate
from anyio_ws.core.extensions.base import ClientExtensionFactory, ServerExtensionFactory
from anyio_ws.core.extensions.permessage_deflate import codec, negotiation
from anyio_ws.core.frames import CloseCode, Opcode, PreparedMessage, apply_mask, encode_frame
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.exceptions import PayloadTooBig
from anyio_ws.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)

from .deflate_helpers import RSV1, MiB, deflate, negotiate

MASK = bytes.fromhex("a1b2c3d4")

# ----------------------------------------------------------------------- helpers


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


def failed_with(protocol: Protocol, code: int) -> bool:
    """Whether the protocol failed the connection with ``code``."""
    return (
        protocol.failure is not None
        and protocol.failure.code == code
        and protocol.close_sent is not None
        and protocol.close_sent.code == code
    )


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


def server_deflate(**options: Any) -> Protocol:
    """A server protocol with permessage-deflate configured by hand."""
    return Protocol(Side.SERVER, extensions=[codec.PerMessageDeflate(**options)])


def test_without_context_takeover_a_prepared_message_is_compressed_once() -> None:
    """Alike connections share one compressed frame; every client inflates it."""
    message = PreparedMessage(Opcode.TEXT, b'{"price": 101.5, "symbol": "ACME"}' * 20)
    alike = [server_deflate(local_no_context_takeover=True) for _ in range(3)]
    for protocol in alike:
        protocol.send_text(b"history that a shared frame must not depend on")
        protocol.data_to_send()
        assert protocol.send_prepared(message)
    frames = [protocol.data_to_send()[0] for protocol in alike]
    assert frames[1] is frames[0] and frames[2] is frames[0]
    smaller_window = server_deflate(local_no_context_takeover=True, local_max_window_bits=10)
    assert smaller_window.send_prepared(message)
    assert smaller_window.data_to_send()[0] is not frames[0]  # another kind: its own frame
    client = Protocol(Side.CLIENT, extensions=[codec.PerMessageDeflate()])
    client.receive_data(frames[0])
    assert client.events_received() == [TextMessage(message.payload.decode())]


def test_with_context_takeover_each_connection_compresses_its_own() -> None:
    """A compressor with history (the default) cannot share: send_prepared refuses."""
    protocol = server_deflate()
    assert not protocol.send_prepared(PreparedMessage(Opcode.TEXT, b"x"))
    assert protocol.data_to_send() == []


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


# ---------------------------------------------------------- the package's names


def test_package_reexports_its_modules_names() -> None:
    """The package gives the very objects its modules define, under the names it had."""
    assert permessage_deflate.__all__ == [
        "DEFAULT_MEM_LEVEL",
        "DEFAULT_WINDOW_BITS",
        "ClientPerMessageDeflateFactory",
        "PerMessageDeflate",
        "ServerPerMessageDeflateFactory",
        "enable_client_permessage_deflate",
        "enable_server_permessage_deflate",
    ]
    for name in [*permessage_deflate.__all__, "INFLATE_STEP", "NAME", "RSV1"]:
        module = codec if hasattr(codec, name) else negotiation
        assert getattr(permessage_deflate, name) is getattr(module, name), name
