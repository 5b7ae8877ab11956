"""Tests for anyio_ws.core.extensions.permessage_deflate.codec: PerMessageDeflate alone.

Frames are compressed and inflated without a protocol around them: the examples of
RFC 7692 section 7.2.3, the zlib settings, the bound on inflated size, and frames
exchanged with the ``websockets`` library's codec.
"""

from __future__ import annotations

import random
import tracemalloc
import zlib
from typing import Any

import pytest
from websockets.extensions import permessage_deflate as ws_deflate
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode

from anyio_ws.core.extensions.permessage_deflate.codec import INFLATE_STEP, PerMessageDeflate
from anyio_ws.core.extensions.permessage_deflate.negotiation import (
    ClientPerMessageDeflateFactory,
)
from anyio_ws.core.frames import CloseCode
from anyio_ws.exceptions import PayloadTooBig, ProtocolError

from .deflate_helpers import RSV1, MiB, deflate

# ----------------------------------------------------------- encoding and decoding


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
        assert per_extension > 200_000  # zlib's defaults: ~300 KB, see the package docstring
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


def test_decode_pieces_are_bounded_and_add_up() -> None:
    """decode_pieces hands out at most INFLATE_STEP bytes a piece; decode joins them."""
    data = bytes(range(256)) * 4096  # 1 MiB
    payload = deflate(data)
    pieces = list(PerMessageDeflate().decode_pieces(payload, fin=True, max_size=None))
    assert len(pieces) > 1
    assert max(len(piece) for piece in pieces) <= INFLATE_STEP
    assert b"".join(pieces) == data
    assert PerMessageDeflate().decode(payload, fin=True, max_size=len(data)) == data


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
