"""Property tests of the permessage-deflate decoder against zlib's own raw DEFLATE."""

from __future__ import annotations

import zlib

from hypothesis import event, given
from hypothesis import strategies as st

from anyio_ws.core.events import BinaryMessage
from anyio_ws.core.extensions.permessage_deflate import PerMessageDeflate
from anyio_ws.core.frames import Opcode, encode_frame
from anyio_ws.core.protocol import Protocol, Side
from anyio_ws.exceptions import PayloadTooBig, ProtocolError

from .strategies import CUTS, FUZZ, split

MASK = b"\x11\x22\x33\x44"
TAIL = b"\x00\x00\xff\xff"

PAYLOADS = st.lists(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(str.encode),
        st.binary(max_size=8).map(lambda b: b * 200),  # repetitive: long back-references
    ),
    min_size=1,
    max_size=5,
)


def compress_messages(
    payloads: list[bytes], *, takeover: bool, wbits: int, level: int, final: bool
) -> list[bytes]:
    """Compress each payload as RFC 7692 section 7.2.1 says, with zlib directly.

    With ``final`` each message ends its DEFLATE stream with a final block instead of a
    sync flush (section 7.2.3.4); the next message then needs a fresh compressor.
    """
    compressed = []
    compressor = None
    for payload in payloads:
        if compressor is None or not takeover or final:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -wbits)
        if final:
            data = compressor.compress(payload) + compressor.flush(zlib.Z_FINISH)
        else:
            data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(TAIL)
            data = data[:-4]
        compressed.append(data)
    return compressed


@FUZZ
@given(
    payloads=PAYLOADS,
    takeover=st.booleans(),
    wbits=st.integers(9, 15),
    level=st.integers(0, 9),
    final=st.booleans(),
    cuts=CUTS,
)
def test_inflate_gives_back_what_zlib_deflated(
    payloads: list[bytes], takeover: bool, wbits: int, level: int, final: bool, cuts: list[int]
) -> None:
    """Messages zlib compressed (any window, level, takeover) inflate to the original."""
    extension = PerMessageDeflate(
        remote_no_context_takeover=not takeover, remote_max_window_bits=wbits
    )
    compressed = compress_messages(
        payloads, takeover=takeover, wbits=wbits, level=level, final=final
    )
    for payload, data in zip(payloads, compressed, strict=True):
        pieces = split(data, cuts)
        out = b"".join(
            extension.decode(piece, fin=i == len(pieces) - 1, max_size=None)
            for i, piece in enumerate(pieces)
        )
        assert out == payload


@FUZZ
@given(
    payloads=PAYLOADS,
    takeover=st.booleans(),
    wbits=st.integers(9, 15),
    cuts=CUTS,
    frame_cuts=st.lists(st.integers(0, 2**16), max_size=3),
)
def test_compressed_messages_in_fragments_reach_the_application(
    payloads: list[bytes], takeover: bool, wbits: int, cuts: list[int], frame_cuts: list[int]
) -> None:
    """Through the protocol: RSV1 on the first frame, fragments, random TCP segments."""
    extension = PerMessageDeflate(
        remote_no_context_takeover=not takeover, remote_max_window_bits=wbits
    )
    protocol = Protocol(Side.SERVER, max_size=None, extensions=[extension])
    compressed = compress_messages(payloads, takeover=takeover, wbits=wbits, level=6, final=False)
    wire = b""
    for data in compressed:
        fragments = split(data, frame_cuts)
        for i, fragment in enumerate(fragments):
            opcode = Opcode.BINARY if i == 0 else Opcode.CONT
            rsv = 0x40 if i == 0 else 0
            fin = i == len(fragments) - 1
            wire += encode_frame(opcode, fragment, fin=fin, rsv=rsv, mask=MASK)
    events = []
    for piece in split(wire, cuts):
        protocol.receive_data(piece)
        events += protocol.events_received()
    assert protocol.failure is None
    assert events == [BinaryMessage(payload) for payload in payloads]


GARBAGE = st.one_of(
    st.binary(max_size=300),
    # Valid DEFLATE with a few bits flipped: gets further into the decoder.
    st.tuples(st.binary(max_size=300), st.lists(st.integers(0, 2**16), max_size=3)).map(
        lambda case: flip(zlib.compressobj(6, zlib.DEFLATED, -15), *case)
    ),
)


def reference_inflate(data: bytes) -> tuple[bytes, bool]:
    """zlib's own inflation of a message's payload (RFC 7692 section 7.2.2), byte by byte.

    Returns what it inflated up to the end or the first error, and whether it was valid.
    """
    stream = data + TAIL
    decompressor = zlib.decompressobj(wbits=-15)
    out = b""
    try:
        for i in range(len(stream)):
            out += decompressor.decompress(stream[i : i + 1])
            if decompressor.eof:  # what follows a final block is ignored
                break
    except zlib.error:
        return out, False
    return out, True


def flip(compressor: zlib._Compress, payload: bytes, positions: list[int]) -> bytes:
    data = bytearray(compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    for position in positions:
        if data:
            data[position % len(data)] ^= 0x5A
    return bytes(data)


@FUZZ
@given(garbage=GARBAGE, max_size=st.sampled_from([None, 64, 4096]))
def test_garbage_raises_only_protocol_error_1007_or_payload_too_big(
    garbage: bytes, max_size: int | None
) -> None:
    """The decoder given garbage inflates it, or raises ProtocolError(1007) / PayloadTooBig,
    as zlib's own inflation of it says."""
    extension = PerMessageDeflate()
    # The decoder stops at max_size: garbage is too big if what precedes its error is.
    reference, valid = reference_inflate(garbage)
    too_big = max_size is not None and len(reference) > max_size
    try:
        out = extension.decode(garbage, fin=True, max_size=max_size)
    except PayloadTooBig:
        event("too big")
        assert too_big
    except ProtocolError as exc:
        event("invalid")
        assert exc.code == 1007
        assert not valid and not too_big
    else:
        event("inflated")
        assert valid and not too_big
        assert out == reference


@FUZZ
@given(garbage=GARBAGE, cuts=CUTS)
def test_garbage_in_a_compressed_message_fails_the_connection_cleanly(
    garbage: bytes, cuts: list[int]
) -> None:
    """An RSV1 message of garbage gives a message, or a close with 1007 (1009 if too big),
    as zlib's own inflation of it says."""
    protocol = Protocol(Side.SERVER, max_size=1000, extensions=[PerMessageDeflate()])
    for piece in split(encode_frame(Opcode.BINARY, garbage, rsv=0x40, mask=MASK), cuts):
        protocol.receive_data(piece)
    events = protocol.events_received()
    reference, valid = reference_inflate(garbage)
    too_big = len(reference) > 1000
    if protocol.failure is None:
        assert valid and not too_big
        assert events == [BinaryMessage(reference)]
    else:
        assert protocol.failure.code == (1009 if too_big else 1007)
        assert too_big or not valid
        assert protocol.data_to_send()[-1] == b""
