"""Incoming data frames assembled into messages: the receive side of ``Protocol``.

Data frames are not buffered whole: their payload is unmasked and handed over as it
arrives, so a text message is validated while it is still coming in (RFC 6455 section
8.1), ``max_size`` is checked on the declared length before the payload is read, and a
message in any number of fragments costs time linear in its size. Small pieces are
joined as they arrive (``append_part``), so a message in one-byte fragments costs
memory about its size, not ~56 bytes per byte; and a message may have at most
``max(max_size // 16, 1024)`` frames (1009 beyond), so that empty fragments cannot keep
one open forever. A compressed message is bounded twice: after inflating, by
``max_size``, and on the wire, by ``max_size`` plus DEFLATE's worst-case overhead (1/8,
and 64 bytes a frame), checked on each frame's declared length before reading it.
Extensions inflate in bounded pieces (``Extension.decode_pieces``), so refusing a
decompression bomb holds about ``max_size`` of output, not twice that. With
``stream_fragments`` on, a message sent in several frames is reported frame by frame
(``TextFragment``/``BinaryFragment``) instead of whole.

``Protocol._parse`` reads the frame headers, handles control frames, and delivers a
whole message in one plain frame by itself (the fast path); every other data frame
comes here. This is a base class rather than a helper object so that the per-frame
calls stay plain method calls on the protocol, with no extra level of indirection.
"""

from __future__ import annotations

import logging

from ._parts import append_part
from .events import BinaryFragment, BinaryMessage, Event, TextFragment, TextMessage
from .exceptions import PayloadTooBig, ProtocolError
from .extensions.base import Extension
from .frames import Opcode, apply_mask
from .utf8 import Utf8Decoder

__all__ = ["MessageAssembler", "frame_limit"]

_BYTES_PER_FRAME = 16  # a message may have max_size // 16 frames ...
_MIN_FRAME_LIMIT = 1024  # ... but at least this many
_WIRE_FRAME_SLACK = 64  # DEFLATE's overhead allowed on the wire per compressed frame


def frame_limit(max_size: int | None) -> int | None:
    """The most frames one incoming message may have with this ``max_size`` (1009 beyond).

    Memory does not depend on it (small fragments are joined as they arrive); it keeps a
    peer from holding a message open forever with empty fragments. ``None``: no limit.
    """
    if max_size is None:
        return None
    return max(max_size // _BYTES_PER_FRAME, _MIN_FRAME_LIMIT)


def _wire_limit(size_limit: int, frames: int) -> int:
    """The most wire bytes ``frames`` compressed frames may take for ``size_limit`` of data.

    DEFLATE expands incompressible data a little (stored blocks, a fixed-Huffman-only
    encoder's 9-bit literals: at most 1/8) and each frame ends with a sync flush.
    """
    return size_limit + size_limit // 8 + _WIRE_FRAME_SLACK * frames


class MessageAssembler:
    """The state and the steps of assembling incoming data frames (``Protocol``'s base).

    ``Protocol.__init__`` sets every attribute, these slots included; the annotations
    below name what the assembler reads of the rest of the protocol.
    """

    __slots__ = (
        "_binary_parts",
        "_frame_fin",
        "_frame_mask",
        "_frame_start_size",
        "_mask_offset",
        "_max_frames",
        "_message_decoders",
        "_message_fragmented",
        "_message_frames",
        "_message_opcode",
        "_message_size",
        "_message_wire_size",
        "_payload_remaining",
        "_text_parts",
        "_utf8",
    )

    # The limits and options of the protocol, and where events go.
    max_size: int | None
    max_fragment_size: int | None
    stream_fragments: bool
    extensions: list[Extension]
    debug: bool
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    _events: list[Event]

    # The frame whose payload is being read, when it did not arrive whole.
    _payload_remaining: int
    _frame_fin: bool
    _frame_mask: bytes
    _mask_offset: int
    _frame_start_size: int  # message bytes before this frame (fragment limit)

    # The message being assembled (opcode is None between messages).
    _max_frames: int | None  # most frames in a message: frame_limit(max_size)
    _message_opcode: int | None
    _text_parts: list[str]
    _binary_parts: list[bytes]
    _message_size: int
    _message_frames: int
    _message_wire_size: int  # compressed messages only
    _message_decoders: list[Extension]
    _message_fragmented: bool  # its first frame had no FIN bit
    _utf8: Utf8Decoder | None  # made on first use: ~1.6 KiB each

    def _start_data_frame(self, first: int, opcode: int, length: int, mask: bytes) -> None:
        """Check fragmentation rules and ``max_size``, then expect ``length`` bytes."""
        if opcode == Opcode.CONT:
            if self._message_opcode is None:
                raise ProtocolError("continuation frame without a message to continue")
            if first & 0x70:
                raise ProtocolError("reserved bits set on a continuation frame")
        else:
            if self._message_opcode is not None:
                raise ProtocolError("new message before the previous one ended")
            self._begin_message(opcode, first & 0x70)
            self._message_fragmented = not first & 0x80
        self._message_frames += 1
        if self._max_frames is not None and self._message_frames > self._max_frames:
            raise PayloadTooBig(f"too many fragments: more than {self._max_frames} in a message")
        if not self._message_decoders:
            # Without decompression the declared length is the size: refuse it unread.
            if self.max_size is not None and self._message_size + length > self.max_size:
                raise PayloadTooBig(f"message of more than {self.max_size} bytes")
            if self.max_fragment_size is not None and length > self.max_fragment_size:
                raise PayloadTooBig(f"frame of more than {self.max_fragment_size} bytes")
        else:
            # Compressed, the size is known once inflated; the wire length is bounded too,
            # or a frame declaring 2**62 bytes that inflate to nothing would never end.
            self._message_wire_size += length
            limit = self.max_size
            if limit is not None and self._message_wire_size > _wire_limit(
                limit, self._message_frames
            ):
                raise PayloadTooBig(f"compressed message of more than {limit} bytes")
            limit = self.max_fragment_size
            if limit is not None and length > _wire_limit(limit, 1):
                raise PayloadTooBig(f"compressed frame of more than {limit} bytes")
        self._frame_start_size = self._message_size
        if self.debug:
            fin = "" if first & 0x80 else " [continued]"
            self.logger.debug("< %s frame [%d bytes]%s", Opcode(opcode).name, length, fin)
        self._frame_fin = bool(first & 0x80)
        self._frame_mask = mask
        self._mask_offset = 0
        self._payload_remaining = length

    def _begin_message(self, opcode: int, rsv: int) -> None:
        self._message_opcode = opcode
        self._message_size = 0
        self._message_frames = 0
        self._message_wire_size = 0
        if not rsv:
            self._message_decoders = []
            return
        # Incoming data undoes what the peer's extensions did, last one first.
        decoders = [ext for ext in reversed(self.extensions) if ext.begin_message(rsv)]
        self._message_decoders = decoders
        if not self._message_decoders:
            raise ProtocolError("reserved bits set but no extension claims the message")

    def _consume_payload(self, chunk: bytes) -> None:
        """Unmask a piece of the current data frame and add it to the message."""
        self._payload_remaining -= len(chunk)
        if self._frame_mask:
            offset = self._mask_offset & 3
            mask = (
                self._frame_mask[offset:] + self._frame_mask[:offset]
                if offset
                else self._frame_mask
            )
            self._mask_offset += len(chunk)
            chunk = apply_mask(chunk, mask)
        frame_done = self._payload_remaining == 0
        last = self._frame_fin and frame_done
        if self._message_decoders:
            self._decode_payload(chunk, last)
        else:
            self._add_payload(chunk, last)
        if frame_done and self._message_fragmented and self.stream_fragments:
            self._end_fragment(last)
        elif last:
            self._end_message()

    def _decode_payload(self, chunk: bytes, last: bool) -> None:
        """Undo the extensions; the last one hands its output over in bounded pieces."""
        decoders = self._message_decoders
        budget = self._decode_budget()
        for extension in decoders[:-1]:
            chunk = extension.decode(chunk, fin=last, max_size=budget)
        for piece in decoders[-1].decode_pieces(chunk, fin=last, max_size=budget):
            self._add_payload(piece, False)
        if last:
            self._add_payload(b"", True)  # a text message may not end mid-character

    def _add_payload(self, chunk: bytes, final: bool) -> None:
        """Check the limits and add a piece of the message (``final``: its last)."""
        self._message_size += len(chunk)
        if self.max_size is not None and self._message_size > self.max_size:
            raise PayloadTooBig(f"message of more than {self.max_size} bytes")
        limit = self.max_fragment_size
        if limit is not None and self._message_size - self._frame_start_size > limit:
            raise PayloadTooBig(f"frame of more than {limit} bytes")
        if self._message_opcode == Opcode.TEXT:
            if self._utf8 is None:
                self._utf8 = Utf8Decoder()
            append_part(self._text_parts, self._utf8.decode(chunk, final))
        else:
            append_part(self._binary_parts, chunk)

    def _decode_budget(self) -> int | None:
        """How many more bytes an extension may inflate before a limit is crossed."""
        budgets = []
        if self.max_size is not None:
            budgets.append(self.max_size - self._message_size)
        if self.max_fragment_size is not None:
            frame_size = self._message_size - self._frame_start_size
            budgets.append(self.max_fragment_size - frame_size)
        return min(budgets) if budgets else None

    def _end_message(self) -> None:
        """Emit the message; the parts are joined once, so fragments cost O(1) each."""
        if self._message_opcode == Opcode.TEXT:
            texts = self._text_parts
            self._events.append(TextMessage(texts[0] if len(texts) == 1 else "".join(texts)))
            self._text_parts = []
        else:
            chunks = self._binary_parts
            self._events.append(BinaryMessage(chunks[0] if len(chunks) == 1 else b"".join(chunks)))
            self._binary_parts = []
        self._message_opcode = None

    def _end_fragment(self, fin: bool) -> None:
        """Emit the frame just completed as one fragment of a message (streaming mode)."""
        if self._message_opcode == Opcode.TEXT:
            texts = self._text_parts
            self._events.append(TextFragment(texts[0] if len(texts) == 1 else "".join(texts), fin))
            self._text_parts = []
        else:
            chunks = self._binary_parts
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._events.append(BinaryFragment(data, fin))
            self._binary_parts = []
        if fin:
            self._message_opcode = None
