"""The per-message codec of permessage-deflate: what happens to each frame's payload.

A compressed message is one raw DEFLATE stream cut at a sync flush, with the final
``00 00 ff ff`` left out (RFC 7692 section 7.2.1); only its first frame carries RSV1.
``PerMessageDeflate`` compresses outgoing frames and inflates incoming ones, keeping
its compressor and decompressor between messages unless a side gave up context
takeover. The handshake that configures it is in ``negotiation``.

Two things about zlib shape this module:

* zlib refuses a raw DEFLATE compressor with an 8-bit window. Its own answer is to use 9
  bits instead, and that is safe for a peer that asked for 8: zlib never emits distances
  longer than the window minus 262 bytes, i.e. 250 bytes with 9 bits, within the 256
  bytes an 8-bit window covers. So 8 is accepted in negotiation and compressed as 9;
  likewise we inflate with at least 9 bits, in case the peer's zlib did the same.
* ``decompressobj.decompress(data, max_length)`` stops once ``max_length`` bytes are out.
  Inflating in steps of at most ``INFLATE_STEP`` bytes, handed to the protocol one by
  one (``decode_pieces``), a decompression bomb is refused after inflating at most
  ``max_size + 1`` bytes, whatever its declared or compressed length, holding them once:
  one ``decompress(data, max_size + 1)`` call would build its output in blocks and copy
  it into one ``bytes``, so it peaked at twice ``max_size``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

from ...exceptions import PayloadTooBig, ProtocolError
from ...frames import CloseCode
from ..base import Extension

__all__ = [
    "INFLATE_STEP",
    "MAX_WINDOW_BITS",
    "NAME",
    "RSV1",
    "PerMessageDeflate",
    "check_compress_settings",
    "check_window_bits",
]

NAME = "permessage-deflate"
RSV1 = 0x40

MAX_WINDOW_BITS = 15
"""The largest DEFLATE window, and the one a side uses when nothing caps it."""

INFLATE_STEP = 65536
"""Most bytes inflated by one zlib call; the output is handed over in pieces this size."""

_SYNC_TAIL = b"\x00\x00\xff\xff"  # LEN and NLEN of the empty stored block a sync flush ends with
_MIN_ZLIB_WINDOW_BITS = 9
_COMPRESS_SETTINGS = frozenset({"level", "memLevel", "strategy"})


class PerMessageDeflate(Extension):
    """permessage-deflate as negotiated on one connection.

    "Local" is what this side sends, "remote" what it receives. Factories build it from
    the handshake; building one by hand is for tests and for peers agreed out of band.

    Args:
        remote_no_context_takeover: the peer starts a fresh DEFLATE stream for each
            message, so the decompressor is dropped after each one.
        local_no_context_takeover: start a fresh DEFLATE stream for each message sent.
        remote_max_window_bits: the largest window the peer compresses with (8 to 15).
        local_max_window_bits: the largest window to compress with (8 to 15; 8 is
            compressed with 9, which a peer expecting 8 still inflates, see above).
        compress_settings: ``level``, ``memLevel`` or ``strategy`` for
            ``zlib.compressobj`` (``wbits`` is negotiated, a ``zdict`` cannot be).
    """

    name = NAME
    reserved_bits = RSV1

    def __init__(
        self,
        *,
        remote_no_context_takeover: bool = False,
        local_no_context_takeover: bool = False,
        remote_max_window_bits: int = MAX_WINDOW_BITS,
        local_max_window_bits: int = MAX_WINDOW_BITS,
        compress_settings: Mapping[str, int] | None = None,
    ) -> None:
        check_window_bits("remote_max_window_bits", remote_max_window_bits)
        check_window_bits("local_max_window_bits", local_max_window_bits)
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self.remote_max_window_bits = remote_max_window_bits
        self.local_max_window_bits = local_max_window_bits
        self.compress_settings = check_compress_settings(compress_settings)
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.local_max_window_bits})"
        )

    # ----------------------------------------------------------------- sending

    def encode(self, data: bytes, *, first: bool, fin: bool) -> tuple[bytes, int]:
        """Compress one frame of an outgoing message; RSV1 goes on its first frame only.

        Each frame ends with a sync flush, so that the peer can inflate it on arrival;
        the last one without its ``00 00 ff ff`` (section 7.2.1). An empty message
        becomes the single byte ``00`` (section 7.2.3.6).
        """
        compressor = self._compressor
        if compressor is None:
            wbits = max(self.local_max_window_bits, _MIN_ZLIB_WINDOW_BITS)
            settings = self.compress_settings
            compressor = zlib.compressobj(
                settings.get("level", zlib.Z_DEFAULT_COMPRESSION),
                zlib.DEFLATED,
                -wbits,
                settings.get("memLevel", zlib.DEF_MEM_LEVEL),
                settings.get("strategy", zlib.Z_DEFAULT_STRATEGY),
            )
            self._compressor = compressor
        # compress() resets zlib's memory of the last flush, so the sync flush always
        # writes its empty stored block, even for empty data.
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            payload = payload[:-4]
            if self.local_no_context_takeover:
                self._compressor = None
        return payload, RSV1 if first else 0

    def shared_encoding(self) -> tuple[object, ...] | None:
        """Without context takeover, a message compresses the same on every connection
        with the same window and settings: zlib starts afresh and is deterministic."""
        if not self.local_no_context_takeover:
            return None  # the compressor's history is this connection's own
        wbits = max(self.local_max_window_bits, _MIN_ZLIB_WINDOW_BITS)
        return (NAME, wbits, *sorted(self.compress_settings.items()))

    # --------------------------------------------------------------- receiving

    def begin_message(self, rsv: int) -> bool:
        """Claim an incoming message when RSV1 is set on its first frame."""
        return bool(rsv & RSV1)

    def decode(self, data: bytes, *, fin: bool, max_size: int | None) -> bytes:
        """Inflate a chunk of a compressed message, never past ``max_size`` bytes.

        Raises:
            PayloadTooBig: the message inflates to more than ``max_size`` bytes; at
                most ``max_size + 1`` bytes were inflated to find out.
            ProtocolError: the data is not valid DEFLATE (close code 1007).
        """
        return b"".join(self.decode_pieces(data, fin=fin, max_size=max_size))

    def decode_pieces(self, data: bytes, *, fin: bool, max_size: int | None) -> Iterator[bytes]:
        """Inflate as ``decode`` does, in pieces of at most ``INFLATE_STEP`` bytes.

        Each piece is inflated when the previous one has been taken, so the caller holds
        what it kept of the output and one step more, never a second copy of it.
        """
        decompressor = self._decompressor
        if decompressor is None:
            wbits = max(self.remote_max_window_bits, _MIN_ZLIB_WINDOW_BITS)
            decompressor = self._decompressor = zlib.decompressobj(wbits=-wbits)
        budget = max_size
        try:
            for piece in _inflate(decompressor, data, budget):
                if budget is not None:
                    budget -= len(piece)
                yield piece
            if fin:
                yield from _inflate(decompressor, _SYNC_TAIL, budget)
        except zlib.error as exc:
            raise ProtocolError(f"invalid compressed data: {exc}", CloseCode.INVALID_DATA) from exc
        if fin:
            # A stream the peer ended with a final block (section 7.2.3.4) cannot go on:
            # the next message starts a new one.
            if self.remote_no_context_takeover or decompressor.eof:
                self._decompressor = None


def _inflate(decompressor: zlib._Decompress, data: bytes, budget: int | None) -> Iterator[bytes]:
    """Inflate ``data`` in steps of ``INFLATE_STEP`` bytes, refusing more than ``budget``.

    Bytes after a final block are ignored, like the ``00`` that section 7.2.3.4 puts
    there; they are not fed to zlib, which would keep them all in ``unused_data``.
    """
    while not decompressor.eof:
        # One byte more than allowed tells "too big" apart from "exactly the limit".
        step = INFLATE_STEP if budget is None else min(INFLATE_STEP, budget + 1)
        output = decompressor.decompress(data, step)
        if budget is not None:
            budget -= len(output)
            if budget < 0:
                raise PayloadTooBig("decompressed message exceeds the size limit")
        if output:
            yield output
        if len(output) < step:
            return  # zlib stops short of the step only when the input is used up
        data = decompressor.unconsumed_tail


# -------------------------------------------------------------- argument checks


def check_window_bits(name: str, value: object, *, allow_none: bool = False) -> None:
    """Refuse a window size that is not an int from 8 to 15 (or ``None``, if allowed).

    Raises:
        TypeError, ValueError.
    """
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int from 8 to 15, not {value!r}")
    if not 8 <= value <= MAX_WINDOW_BITS:
        raise ValueError(f"{name} must be from 8 to 15, not {value}")


def check_compress_settings(settings: Mapping[str, int] | None) -> dict[str, int]:
    """A copy of ``settings``, which may only name ``level``, ``memLevel``, ``strategy``.

    Raises:
        ValueError: another ``zlib.compressobj`` argument is set.
    """
    settings = dict(settings or {})
    unknown = settings.keys() - _COMPRESS_SETTINGS
    if unknown:
        # wbits is negotiated; zdict cannot be, RFC 7692 has no preset dictionary.
        names = ", ".join(sorted(unknown))
        raise ValueError(f"compress_settings may only set level, memLevel, strategy: {names}")
    return settings
