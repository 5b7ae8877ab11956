"""Property tests of the frame parser: valid streams round-trip, any bytes fail cleanly."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import event, given
from hypothesis import strategies as st

from anyio_ws.core.events import (
    BinaryFragment,
    BinaryMessage,
    CloseReceived,
    Event,
    PingReceived,
    PongReceived,
    TextFragment,
    TextMessage,
)
from anyio_ws.core.frames import Close, Opcode, encode_frame
from anyio_ws.core.protocol import Protocol, Side

from .strategies import CUTS, FUZZ, feedings, split


@dataclass(frozen=True)
class Sent:
    """One frame of a valid stream, and the event the receiver must report for it."""

    opcode: int
    payload: bytes
    fin: bool
    event: Event | None


MASKS = st.binary(min_size=4, max_size=4)
CONTROL = st.binary(max_size=125)
WIRE_CLOSE_CODES = st.one_of(
    st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]),
    st.integers(3000, 4999),
)
REASONS = st.text(max_size=40).filter(lambda reason: len(reason.encode()) <= 123)


@st.composite
def messages(draw: st.DrawFn) -> list[Sent]:
    """A data message in one or more frames, with control frames between its fragments."""
    text = draw(st.booleans())
    if text:
        # Cut on character boundaries: a fragment's text is then its frame's own.
        whole = draw(st.text(max_size=300))
        cuts = sorted(set(draw(st.lists(st.integers(0, len(whole)), max_size=4))))
        pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    else:
        data = draw(st.binary(max_size=300))
        pieces = split(data, draw(st.lists(st.integers(0, 2**16), max_size=4)))
    frames: list[Sent] = []
    for i, piece in enumerate(pieces):
        fin = i == len(pieces) - 1
        payload = piece.encode() if isinstance(piece, str) else piece
        opcode = Opcode.CONT if i else (Opcode.TEXT if text else Opcode.BINARY)
        event: Event
        if len(pieces) == 1:
            event = TextMessage(whole) if text else BinaryMessage(payload)
        elif text:
            assert isinstance(piece, str)
            event = TextFragment(piece, fin)
        else:
            event = BinaryFragment(payload, fin)
        frames.append(Sent(opcode, payload, fin, event))
        if not fin and draw(st.booleans()):
            frames.append(draw(controls()))
    return frames


@st.composite
def controls(draw: st.DrawFn) -> Sent:
    """A ping or a pong."""
    payload = draw(CONTROL)
    if draw(st.booleans()):
        return Sent(Opcode.PING, payload, True, PingReceived(payload))
    return Sent(Opcode.PONG, payload, True, PongReceived(payload))


@st.composite
def streams(draw: st.DrawFn) -> list[Sent]:
    """A valid stream of frames, ended by a close frame or not."""
    frames: list[Sent] = []
    for item in draw(st.lists(st.one_of(messages(), controls().map(lambda c: [c])), max_size=6)):
        frames.extend(item)
    if draw(st.booleans()):
        close = Close(draw(WIRE_CLOSE_CODES), draw(REASONS))
        frames.append(Sent(Opcode.CLOSE, close.serialize(), True, CloseReceived(close)))
    return frames


def wire(frames: list[Sent], side: Side, masks: list[bytes]) -> bytes:
    """The frames as the peer of ``side`` writes them: masked towards a server only."""
    out = b""
    for i, frame in enumerate(frames):
        mask = masks[i % len(masks)] if side is Side.SERVER else None
        out += encode_frame(frame.opcode, frame.payload, fin=frame.fin, mask=mask)
    return out


def replies(protocol: Protocol) -> list[Event]:
    """What ``protocol`` wrote back, as its peer parses it."""
    peer_side = Side.CLIENT if protocol.side is Side.SERVER else Side.SERVER
    peer = Protocol(peer_side, max_size=None)
    for chunk in protocol.data_to_send():
        if chunk:
            peer.receive_data(chunk)
    assert peer.failure is None
    return peer.events_received()


@FUZZ
@given(
    frames=streams(),
    side=st.sampled_from([Side.SERVER, Side.CLIENT]),
    masks=st.lists(MASKS, min_size=1, max_size=3),
    cuts=CUTS,
)
def test_valid_frames_round_trip_however_they_are_cut(
    frames: list[Sent], side: Side, masks: list[bytes], cuts: list[int]
) -> None:
    """Encoded frames parse back to one event each, fed whole, byte by byte, or in pieces."""
    data = wire(frames, side, masks)
    expected = [frame.event for frame in frames]
    pings = [frame.payload for frame in frames if frame.opcode == Opcode.PING]
    close = next((frame.event for frame in frames if frame.opcode == Opcode.CLOSE), None)
    for how, pieces in feedings(data, cuts).items():
        protocol = Protocol(side, max_size=None, stream_fragments=True)
        events: list[Event] = []
        for piece in pieces:
            protocol.receive_data(piece)
            events += protocol.events_received()
        assert protocol.failure is None, how
        assert events == expected, how
        # Every ping is answered with its payload, and a close frame with its code.
        answers = [PongReceived(payload) for payload in pings]
        if isinstance(close, CloseReceived):
            answers.append(CloseReceived(Close(close.close.code)))
        assert replies(protocol) == answers, how


# ------------------------------------------------------------------ hostile bytes

ANY_FRAME = st.builds(
    lambda opcode, payload, fin, rsv, mask: encode_frame(
        opcode, payload, fin=fin, rsv=rsv, mask=mask
    ),
    st.integers(0, 15),
    st.binary(max_size=200),
    st.booleans(),
    st.sampled_from([0, 0x10, 0x20, 0x40, 0x70]),
    st.one_of(st.none(), MASKS),
)


@st.composite
def hostile_bytes(draw: st.DrawFn, side: Side) -> bytes:
    """Random bytes, random frames, a data frame of random bytes, a stream with bits flipped."""
    kind = draw(st.sampled_from(["random", "frames", "data", "flipped"]))
    if kind == "random":
        return draw(st.binary(max_size=400))
    if kind == "data":  # well framed: only the payload (UTF-8, size) may be wrong
        opcode = draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
        size = draw(st.integers(0, 64))
        payload = draw(st.binary(min_size=size, max_size=size))
        return encode_frame(opcode, payload, mask=draw(MASKS) if side is Side.SERVER else None)
    if kind == "frames":
        return b"".join(draw(st.lists(st.one_of(ANY_FRAME, st.binary(max_size=20)), max_size=8)))
    data = bytearray(wire(draw(streams()), side, [draw(MASKS)]))
    for position in draw(st.lists(st.integers(0, 2**16), max_size=4)) if data else []:
        data[position % len(data)] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@FUZZ
@given(side=st.sampled_from([Side.SERVER, Side.CLIENT]), draw=st.data(), cuts=CUTS)
def test_any_bytes_give_events_or_a_clean_failure(
    side: Side, draw: st.DataObject, cuts: list[int]
) -> None:
    """No input raises: it gives events, or a close frame with 1002, 1007 or 1009."""
    data = draw.draw(hostile_bytes(side))
    protocol = Protocol(side, max_size=32)
    for piece in split(data, cuts):
        protocol.receive_data(piece)
    events = protocol.events_received()
    failure = protocol.failure
    output = protocol.data_to_send()
    # However the bytes were cut, they mean the same: fed whole, the same events and outcome.
    whole = Protocol(side, max_size=32)
    whole.receive_data(data)
    assert whole.events_received() == events
    assert (whole.failure and whole.failure.code) == (failure and failure.code)
    if failure is None:
        event("no failure")
        # All that was written back: a pong for each ping, and the close frame echoed.
        answers: list[Event] = []
        for received in events:
            if isinstance(received, PingReceived):
                answers.append(PongReceived(received.data))
            elif isinstance(received, CloseReceived):
                answers.append(CloseReceived(Close(received.close.code)))
        assert replies_of(side, output) == answers
        return
    event(f"failed with {failure.code}")
    assert failure.code in {1002, 1007, 1009}
    sent = replies_of(side, output)
    assert sent[-1:] == [CloseReceived(Close(failure.code, sent[-1].close.reason))]
    if side is Side.SERVER:
        assert output[-1] == b"", "a server hangs up after failing"
    # Nothing more is parsed or answered once failed.
    protocol.receive_data(encode_frame(Opcode.PING, b"late", mask=b"\0\0\0\0"))
    assert protocol.events_received() == []
    assert protocol.data_to_send() == []


def replies_of(side: Side, output: list[bytes]) -> list[Event]:
    """The frames in ``output`` (written by ``side``) as its peer parses them."""
    peer = Protocol(Side.CLIENT if side is Side.SERVER else Side.SERVER, max_size=None)
    for chunk in output:
        if chunk:
            peer.receive_data(chunk)
    return peer.events_received()
