"""Helpers shared by the tests of the protocol and of its message assembler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from anyio_ws.core.events import CloseReceived, Event, PingReceived
from anyio_ws.core.extensions.base import Extension
from anyio_ws.core.frames import Close, Opcode, encode_frame
from anyio_ws.core.protocol import Protocol, Side, State
from anyio_ws.exceptions import ConnectionClosedError

MASK = bytes.fromhex("a1b2c3d4")
"""The mask key of the frames tests send to a server, and of a ``client()``'s frames."""


def fixed_mask(n: int) -> bytes:
    """Mask source that always returns ``MASK``."""
    assert n == 4
    return MASK


class CountingMask:
    """Mask source with a different, predictable key each call."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        key = ((len(self.keys) + 1) * 0x9E3779B1 % 2**32).to_bytes(4, "big")
        self.keys.append(key)
        return key[:n]


def client(**kwargs: Any) -> Protocol:
    """A client protocol whose frames are masked with ``MASK``."""
    kwargs.setdefault("mask_source", fixed_mask)
    return Protocol(Side.CLIENT, **kwargs)


def server(**kwargs: Any) -> Protocol:
    """A server protocol."""
    return Protocol(Side.SERVER, **kwargs)


MAKERS: dict[Side, Callable[..., Protocol]] = {Side.SERVER: server, Side.CLIENT: client}


def frame_to(side: Side, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A frame as the peer of ``side`` writes it: masked towards a server only."""
    mask = MASK if side is Side.SERVER else None
    return encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask)


def header_to(side: Side, first: int, length: int) -> bytes:
    """Just the header (with mask key towards a server) of a frame of ``length`` bytes."""
    frame = frame_to(side, first & 0x0F, b"", fin=bool(first & 0x80), rsv=first & 0x70)
    size = 6 if side is Side.SERVER else 2
    if length < 126:
        return bytes([frame[0], frame[1] | length]) + frame[2:size]
    if length < 2**16:
        return bytes([frame[0], frame[1] | 126]) + length.to_bytes(2, "big") + frame[2:size]
    return bytes([frame[0], frame[1] | 127]) + length.to_bytes(8, "big") + frame[2:size]


def feed_bytewise(protocol: Protocol, data: bytes) -> list[Event]:
    """Feed ``data`` one byte at a time; return all events."""
    events: list[Event] = []
    for i in range(len(data)):
        protocol.receive_data(data[i : i + 1])
        events += protocol.events_received()
    return events


def tr(make: Callable[[], Protocol], data: bytes, expected: Sequence[Event]) -> Protocol:
    """Check ``data`` gives ``expected`` fed whole, byte by byte, and with trailing bytes.

    Returns the protocol fed whole, with its output not yet read.
    """
    protocol = make()
    protocol.receive_data(data)
    assert protocol.events_received() == list(expected)
    assert protocol.failure is None

    bytewise = make()
    assert feed_bytewise(bytewise, data) == list(expected)
    reference = make()
    reference.receive_data(data)
    assert bytewise.data_to_send() == reference.data_to_send()

    trailing = make()
    next_frame = frame_to(trailing.side, Opcode.PING, b"trailing")
    trailing.receive_data(data + next_frame[:3])
    assert trailing.events_received() == list(expected)
    trailing.receive_data(next_frame[3:])
    closed = any(isinstance(event, CloseReceived) for event in expected)
    assert trailing.events_received() == ([] if closed else [PingReceived(b"trailing")])
    return protocol


def peer_of(protocol: Protocol) -> Protocol:
    """A protocol for the other side, without size limit."""
    if protocol.side is Side.SERVER:
        return client(max_size=None)
    return server(max_size=None)


def read_output(protocol: Protocol) -> tuple[list[Event], bool]:
    """Parse what ``protocol`` wrote with a peer: the peer's events, and whether EOF followed."""
    peer = peer_of(protocol)
    eof = False
    for chunk in protocol.data_to_send():
        assert not eof, "bytes written after the half-close"
        if chunk:
            peer.receive_data(chunk)
        else:
            eof = True
    assert peer.failure is None
    return peer.events_received(), eof


def assert_failed(protocol: Protocol, code: int) -> None:
    """``protocol`` failed with ``code``: its close frame (and a server's EOF) are queued."""
    assert protocol.failure is not None
    assert protocol.failure.code == code
    assert protocol.state is State.CLOSING
    events, eof = read_output(protocol)
    assert isinstance(events[-1], CloseReceived)
    assert events[-1].close.code == code
    assert eof is (protocol.side is Side.SERVER)
    assert protocol.close_expected()
    exc = protocol.close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.sent is not None and exc.sent.code == code
    assert exc.__cause__ is protocol.failure


def tr_fail(
    make: Callable[[], Protocol], data: bytes, code: int, before: Sequence[Event] = ()
) -> None:
    """Check ``data`` fails the connection with ``code``, fed in each of the three ways."""
    protocol = make()
    protocol.receive_data(data)
    assert protocol.events_received() == list(before)
    assert_failed(protocol, code)

    bytewise = make()
    assert feed_bytewise(bytewise, data) == list(before)
    assert_failed(bytewise, code)

    trailing = make()
    trailing.receive_data(data + frame_to(trailing.side, Opcode.PING, b"ignored"))
    assert trailing.events_received() == list(before)
    assert_failed(trailing, code)


class Pair:
    """A client and a server protocol wired to each other (h11's ConnectionPair)."""

    def __init__(self, **kwargs: Any) -> None:
        self.masks = CountingMask()
        self.client = Protocol(Side.CLIENT, mask_source=self.masks, **kwargs)
        self.server = Protocol(Side.SERVER, **kwargs)

    def deliver(self, sender: Protocol) -> list[bytes]:
        """Move what ``sender`` wrote to the other side (``b""`` becomes EOF)."""
        receiver = self.server if sender is self.client else self.client
        chunks = sender.data_to_send()
        for chunk in chunks:
            if chunk:
                receiver.receive_data(chunk)
            else:
                receiver.receive_eof()
        return chunks

    def to_server(self) -> list[Event]:
        """Deliver the client's output; return the server's events."""
        self.deliver(self.client)
        return self.server.events_received()

    def to_client(self) -> list[Event]:
        """Deliver the server's output; return the client's events."""
        self.deliver(self.server)
        return self.client.events_received()


RSV2, RSV3 = 0x20, 0x10


class Tagger(Extension):
    """A test extension: applies ``transform`` to incoming chunks and records each call.

    It claims messages with any of ``claims`` set, and ignores ``max_size`` (as a careless
    third-party extension might): the core must enforce the limits itself.
    """

    name = "x-tagger"

    def __init__(
        self,
        bits: int,
        transform: Callable[[bytes], bytes] = bytes,
        *,
        claims: int | None = None,
        send_bits: int = 0,
    ) -> None:
        self.reserved_bits = bits
        self.claims = bits if claims is None else claims
        self.transform = transform
        self.send_bits = send_bits
        self.calls: list[tuple[bytes, bool, int | None]] = []

    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        return data, self.send_bits

    def begin_message(self, rsv: int) -> bool:
        return bool(rsv & self.claims)

    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        self.calls.append((data, fin, max_size))
        return self.transform(data)


def failed_saying(protocol: Protocol, code: int, reason: str) -> None:
    """``protocol`` failed with ``code`` and put ``reason`` in its close frame."""
    assert_failed(protocol, code)
    assert protocol.close_sent == Close(code, reason)
